"""The result of a fit: draws of the joint with named dims, diagnostics and the inputs.

A posterior is saved as one NetCDF file (HDF5, via h5netcdf) laid out like an ArviZ
InferenceData: group ``posterior`` holds ``p`` (chain, draw, one dim per attribute) and
the scalar hyperparameters, ``sample_stats`` the sampler diagnostics, and the root
attributes the spec, every input file's text and hash, and package versions. Loading it
executes no code (no pickle) and needs neither JAX nor NumPyro.
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from populace.errors import DataError
from populace.io import atomic_path
from populace.models.base import CLIQUE_PREFIX
from populace.spec import Spec, spec_to_yaml
from populace.summaries import DEFAULT_CREDIBLE_MASS, interval_table, margin

__all__ = ["DEFAULT_CREDIBLE_MASS", "Posterior", "load"]

FORMAT_VERSION = "1"


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for name in ("populace", "numpy", "xarray", "jax", "numpyro", "blackjax", "pandas"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


class Posterior:
    """Posterior draws of the population joint.

    Build one with :func:`populace.fit` or :func:`populace.load`; never fits in the
    constructor.

    Examples
    --------
    >>> _ = post.to_netcdf("posterior.nc")
    >>> post = pp.load("posterior.nc")
    >>> shares = post.joint(["region", "wage"]).mean(("chain", "draw"))
    >>> shares.dims, round(float(shares.sum()), 6)
    (('region', 'wage'), 1.0)
    >>> post.summary(["region"], prob=0.9)["region"].tolist()
    ['northeast', 'midwest', 'south', 'west']
    """

    def __init__(self, *, spec: Spec, posterior: xr.Dataset, sample_stats: xr.Dataset, attrs: dict[str, Any]):
        self.spec = spec
        self.posterior = posterior
        self.sample_stats = sample_stats
        self.attrs = dict(attrs)

    @classmethod
    def from_arrays(
        cls,
        *,
        spec: Spec,
        inputs: Any,
        variables: Mapping[str, tuple[Sequence[str], np.ndarray]],
        coords: Mapping[str, Sequence[Any]] | None = None,
        stats: Mapping[str, np.ndarray] | None = None,
        meta: Mapping[str, Any],
    ) -> Posterior:
        """Assemble a posterior from draws with named dims.

        Parameters
        ----------
        spec
            The fitted spec.
        inputs
            Its checked inputs (:func:`populace.data.load_inputs`), embedded in the file.
        variables
            Name -> (dims, values); dims start with ``chain``, ``draw``. Must hold ``p``
            with one dim per attribute.
        coords
            Labels of dims that are not attributes (attribute dims get the levels).
        stats
            Sampler statistics: (chain, draw) arrays, or 1-d summaries.
        meta
            JSON-ready facts of the fit (method, draws, chains, seed, ...).

        Examples
        --------
        >>> draws = np.random.default_rng(0).dirichlet(np.ones(512), size=(2, 10)).reshape(2, 10, *spec.shape)
        >>> post = Posterior.from_arrays(
        ...     spec=spec, inputs=load_inputs(spec), variables={"p": (("chain", "draw", *spec.names), draws)},
        ...     meta={"method": "synthetic", "draws": 10, "chains": 2, "seed": 0})
        >>> post.n_samples
        20
        """
        factorised = "p" not in variables and "tree" in meta
        if "p" not in variables and not factorised:
            raise ValueError("a posterior needs draws of the joint 'p' (or clique tables and the 'tree' in meta)")
        p_dims, p = variables["p" if not factorised else f"{CLIQUE_PREFIX}0"]
        if not factorised and tuple(p_dims) != ("chain", "draw", *spec.names):
            raise ValueError(f"'p' must have dims (chain, draw, *attributes), got {tuple(p_dims)}")
        all_coords: dict[str, Any] = {a.name: list(a.levels) for a in spec.attributes}
        all_coords["chain"] = np.arange(p.shape[0])
        all_coords["draw"] = np.arange(p.shape[1])
        used = {d for dims, _ in variables.values() for d in dims}
        for name, labels in (coords or {}).items():
            if name in used and name not in all_coords:
                all_coords[name] = list(labels)
        data = {name: (tuple(dims), np.asarray(values)) for name, (dims, values) in variables.items()}
        posterior = xr.Dataset(data, coords={k: v for k, v in all_coords.items() if k in used})
        if not factorised:
            posterior["p"].attrs["long_name"] = "population share of each cell"
        stat_vars = {}
        for name, values in (stats or {}).items():
            values = np.asarray(values)
            if values.ndim == 2:
                stat_vars[name] = (("chain", "draw"), values)
            else:
                stat_vars[name] = ((f"{name}_dim",), values)
        sample_stats = xr.Dataset(stat_vars, coords={"chain": all_coords["chain"], "draw": all_coords["draw"]})
        attrs = {
            "populace_format": FORMAT_VERSION,
            "spec_name": spec.name,
            "spec_yaml": spec_to_yaml(spec),
            "input_files_json": json.dumps(inputs.texts),
            "input_hashes_json": json.dumps(inputs.hashes()),
            "input_in_memory_json": json.dumps(_in_memory(spec)),
            "input_dir": str(spec.base_dir),
            "population": float(inputs.population),
            "versions_json": json.dumps(_versions()),
            "fit_json": json.dumps(meta),
        }
        return cls(spec=spec, posterior=posterior, sample_stats=sample_stats, attrs=attrs)

    # ----------------------------------------------------------------- properties
    @property
    def population(self) -> float:
        """Total persons the shares refer to."""
        return float(self.attrs["population"])

    @property
    def fit_info(self) -> dict[str, Any]:
        """Method, draws, chains, seed, fit time and model terms of the fit."""
        return json.loads(self.attrs["fit_json"])

    @property
    def input_texts(self) -> dict[str, str]:
        """The text of every input file the fit read, keyed by its name in the spec."""
        return json.loads(self.attrs["input_files_json"])

    @property
    def n_samples(self) -> int:
        """Number of posterior draws (chains times draws)."""
        return int(self.posterior.sizes["chain"] * self.posterior.sizes["draw"])

    def changed_inputs(self) -> dict[str, str]:
        """Input files that differ on disk from the copies the fit read.

        Returns
        -------
        dict
            File name to ``"changed"`` or ``"missing"``; empty when every file beside
            the spec still has the hash recorded at fit time. Inputs the spec held as
            text in memory are not files and are not compared.
        """
        import hashlib

        recorded = json.loads(self.attrs.get("input_hashes_json", "{}"))
        in_memory = set(json.loads(self.attrs.get("input_in_memory_json", "[]")))
        folder = pathlib.Path(self.attrs.get("input_dir", "."))
        out = {}
        for name, digest in recorded.items():
            if name in in_memory:  # given as text, never a file: nothing on disk to compare
                continue
            path = folder / name
            if not path.is_file():
                out[name] = "missing"
                continue
            text = path.read_bytes().decode("utf-8-sig", errors="replace")
            if hashlib.sha256(text.encode("utf-8")).hexdigest() != digest:
                out[name] = "changed"
        return out

    def inputs(self) -> Any:
        """Rebuild the checked inputs from the copies embedded in the posterior."""
        from populace.data.inputs import load_inputs

        return load_inputs(self.spec, texts=self.input_texts)

    # ----------------------------------------------------------------- queries
    def joint(self, by: Sequence[str] | None = None) -> xr.DataArray:
        """Draws of the joint share of the ``by`` attributes (default: all).

        Returns
        -------
        xarray.DataArray
            Dims ``(chain, draw, *by)``; each draw sums to 1.

        Examples
        --------
        >>> post.joint(["region"]).dims
        ('chain', 'draw', 'region')
        """
        by = self.spec.check_by(by)
        if "p" in self.posterior:
            return margin(self.posterior["p"], by)
        return self._tree_margin(by)

    @property
    def factorised(self) -> bool:
        """True when the draws are clique tables of a junction tree (the ``decomposable`` kind), not ``p``."""
        return "p" not in self.posterior

    def clique_draws(self) -> tuple[Any, list[np.ndarray]]:
        """A factorised posterior's junction tree and each clique's tables, shape (chains x draws, *clique).

        Returns
        -------
        (populace.models.junction.JunctionTree, list of numpy.ndarray)
        """
        from populace.models.junction import JunctionTree

        tree = JunctionTree.from_dict(self.fit_info["tree"])
        sites = [self.posterior[f"{CLIQUE_PREFIX}{i}"] for i in range(len(tree.cliques))]
        return tree, [s.values.reshape(self.n_samples, *s.shape[2:]) for s in sites]

    def _tree_margin(self, by: list[str]) -> xr.DataArray:
        """Draws of a margin from the clique tables, by belief propagation over the saved tree."""
        from populace.data.inputs import MAX_GRID_CELLS
        from populace.models.belief import marginal_draws

        fit = self.fit_info
        cells = int(np.prod([self.spec.shape[self.spec.names.index(b)] for b in by]))
        if cells > MAX_GRID_CELLS:
            raise DataError(
                f"the joint of {len(by)} attributes has {cells:,} cells, more than {MAX_GRID_CELLS:,}: "
                "ask for the margin of fewer attributes (--by)"
            )
        names = [*self.spec.names, *([fit["latent"]] if fit.get("latent") else [])]
        axes = [names.index(b) for b in by]
        chains, draws = self.posterior.sizes["chain"], self.posterior.sizes["draw"]
        tree, flat = self.clique_draws()
        values = marginal_draws(tree, flat, axes)
        ordered = sorted(axes)
        values = np.transpose(values, [0, *[1 + ordered.index(a) for a in axes]])
        coords = {b: list(self.spec.attributes[self.spec.names.index(b)].levels) for b in by}
        return xr.DataArray(
            values.reshape(chains, draws, *values.shape[1:]),
            dims=("chain", "draw", *by),
            coords={"chain": self.posterior["chain"].values, "draw": self.posterior["draw"].values, **coords},
        )

    def summary(self, by: Sequence[str] | None = None, prob: float = DEFAULT_CREDIBLE_MASS) -> pd.DataFrame:
        """Mean, sd and equal-tailed credible interval of each cell's share.

        Parameters
        ----------
        by
            Attributes of the table (default: all, the full joint).
        prob
            Credible mass of the interval, in (0, 1).

        Returns
        -------
        pandas.DataFrame
            The ``by`` columns (level names, declared order), then ``mean``, ``sd``,
            ``lower``, ``upper``.

        Examples
        --------
        >>> list(post.summary(["region"]).columns)
        ['region', 'mean', 'sd', 'lower', 'upper']
        """
        if not 0 < prob < 1:
            raise DataError(f"prob must be between 0 and 1, got {prob}", value=prob)
        return interval_table(self.joint(by), prob)

    def to_inference_data(self, *, seed: int = 0, predictive: bool = True) -> Any:
        """ArviZ ``InferenceData`` with ``observed_data``, ``posterior_predictive`` and ``log_likelihood``.

        See :func:`populace.idata.to_inference_data`; ``az.loo`` and ``az.plot_ppc`` take it.

        Examples
        --------
        >>> sorted(post.to_inference_data(predictive=False).groups())
        ['log_likelihood', 'observed_data', 'posterior', 'sample_stats']
        """
        from populace.idata import to_inference_data

        return to_inference_data(self, seed=seed, predictive=predictive)

    # ----------------------------------------------------------------- saving
    def to_netcdf(self, path: str | os.PathLike[str]) -> pathlib.Path:
        """Save to one NetCDF file, atomically (a temporary file renamed into place)."""
        path = pathlib.Path(path)
        root = xr.Dataset(attrs=self.attrs)
        tree = xr.DataTree.from_dict({"/": root, "posterior": self.posterior, "sample_stats": self.sample_stats})
        big = [n for n in self.posterior.data_vars if n == "p" or n.startswith(CLIQUE_PREFIX)]
        encoding = {"/posterior": {n: {"zlib": True, "complevel": 4} for n in big}}
        with atomic_path(path) as tmp:
            tree.to_netcdf(tmp, engine="h5netcdf", encoding=encoding)
        return path


def _in_memory(spec: Spec) -> list[str]:
    """Names of the spec's CSV inputs given as text rather than as files."""
    sources = list(spec.marginals) + ([spec.microdata.source] if spec.microdata is not None else [])
    return [s.file for s in sources if s.text is not None]


def load(path: str | os.PathLike[str]) -> Posterior:
    """Load a posterior saved by :meth:`Posterior.to_netcdf`.

    Raises
    ------
    DataError
        When the file is missing or is not a populace posterior.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise DataError("no such posterior file", file=str(path))
    try:
        tree = xr.open_datatree(path, engine="h5netcdf")
        attrs = dict(tree.attrs)
        posterior = tree["posterior"].to_dataset().load()
        sample_stats = tree["sample_stats"].to_dataset().load()
        tree.close()
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"not a readable populace posterior ({type(exc).__name__})", file=str(path)) from None
    if "spec_yaml" not in attrs:
        raise DataError("not a populace posterior (no embedded spec)", file=str(path))
    spec = Spec.from_text(
        attrs["spec_yaml"],
        base_dir=attrs.get("input_dir", "."),
        name=attrs.get("spec_name", "spec"),
        known_kind=False,
    )
    return Posterior(spec=spec, posterior=posterior, sample_stats=sample_stats, attrs=attrs)
