"""A posterior as ArviZ ``InferenceData``: observed data, posterior predictive, pointwise log likelihood.

:func:`to_inference_data` adds to the saved groups (``posterior``, ``sample_stats``):

- ``observed_data``: every published table (``table_<attributes>``, counts) and the
  sample's weighted counts, one variable per set of attributes its rows report
  (``sample_<attributes>``; rows with a coarse answer get ``sample_coarse_<attributes>``
  over levels then sets);
- ``posterior_predictive``: the same variables replicated per draw: a table with ``se``
  as its latent count plus Gaussian error, an exact table as the joint's margin times the
  population (the projection meets it, so its spread is nil), the sample's counts as a
  multinomial of their (rounded) total over the draw's margin;
- ``log_likelihood``: ``sample``, one value per kept sample row (dim ``person``, labelled
  by the row's number in the file): its scaled weight times the log of the draw's share
  of what it reports, missing answers summed out and a coarse answer summed over its
  set. The values add up to the model's microdata log likelihood, so ``az.loo`` and
  ``az.compare`` can compare specs fitted to the same sample (with and without a table,
  with and without the filter).

They are built from the draws and the embedded inputs when asked, not stored: the
pointwise log likelihood holds chains x draws x rows numbers (4,000 draws of a
5,000-row sample: 160 MB).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from populace.errors import DataError


def to_inference_data(post: Any, *, seed: int = 0, predictive: bool = True) -> Any:
    """The posterior with ``observed_data``, ``posterior_predictive`` and ``log_likelihood`` groups.

    Parameters
    ----------
    post
        A :class:`populace.Posterior`.
    seed
        Seed of the posterior predictive draws.
    predictive
        False: leave out ``posterior_predictive`` (the other groups need no random draws).

    Returns
    -------
    arviz.InferenceData

    Examples
    --------
    >>> import arviz as az
    >>> idata = to_inference_data(post, seed=0)
    >>> sorted(idata.groups())
    ['log_likelihood', 'observed_data', 'posterior', 'posterior_predictive', 'sample_stats']
    >>> idata.log_likelihood["sample"].dims
    ('chain', 'draw', 'person')
    """
    import arviz as az

    inputs = post.inputs()
    observed = observed_data(post, inputs)
    groups: dict[str, xr.Dataset] = {
        "posterior": post.posterior,
        "sample_stats": post.sample_stats,
        "observed_data": observed,
    }
    if inputs.sample is not None:
        groups["log_likelihood"] = xr.Dataset({"sample": pointwise_log_likelihood(post, inputs)})
    if predictive:
        groups["posterior_predictive"] = posterior_predictive(post, inputs, np.random.default_rng(seed))
    return az.InferenceData(**groups)


def _table_name(prefix: str, names: list[str], taken: set[str]) -> str:
    name = f"{prefix}_{'_'.join(names)}"
    k = 2
    while name in taken:
        name, k = f"{prefix}_{'_'.join(names)}_{k}", k + 1
    taken.add(name)
    return name


def _levels(spec: Any, axis: int, coarse: bool) -> list[str]:
    attribute = spec.attributes[axis]
    return [*attribute.levels, *attribute.coarse_names] if coarse else list(attribute.levels)


def _dim(spec: Any, axis: int, coarse: bool) -> str:
    """A coarse pattern's axis runs over levels then sets: a dim of its own."""
    return f"{spec.names[axis]}_or_set" if coarse and spec.attributes[axis].coarse else spec.names[axis]


def _row_groups(spec: Any, sample: Any) -> list[tuple[str, tuple[int, ...], bool, np.ndarray]]:
    """The sample's rows grouped as the likelihood groups them (:func:`populace.data.inputs.row_groups`).

    Returns ``(variable name, axes, coarse, row indices)`` per group, in a fixed order.
    """
    from populace.data.inputs import row_groups

    out, taken = [], set()
    for axes, coarse, rows in row_groups(sample.row_cells, spec.shape):
        prefix = "sample_coarse" if coarse else "sample"
        out.append((_table_name(prefix, [spec.names[a] for a in axes], taken), axes, coarse, rows))
    return out


def _margin_draws(post: Any, axes: tuple[int, ...], coarse: bool) -> np.ndarray:
    """Draws of the joint's margin over ``axes``, (chains x draws, *cells); coarse axes extended by their sets."""
    from populace.data.inputs import extend

    spec = post.spec
    margin = post.joint([spec.names[a] for a in axes]).values
    margin = margin.reshape(-1, *margin.shape[2:])
    return extend(margin, axes, spec, offset=1) if coarse else margin


def _coords(spec: Any, axes: tuple[int, ...], coarse: bool) -> dict[str, list[str]]:
    return {_dim(spec, a, coarse): _levels(spec, a, coarse and bool(spec.attributes[a].coarse)) for a in axes}


def observed_data(post: Any, inputs: Any) -> xr.Dataset:
    """The published tables and the sample's weighted counts, with named dims (see the module)."""
    spec, data, taken = post.spec, {}, set()
    for table in inputs.tables:
        dims = [spec.names[a] for a in table.axes]
        name = _table_name("table", dims, taken)
        data[name] = xr.DataArray(table.counts, dims=dims, coords=_coords(spec, table.axes, False))
    if inputs.sample is not None:
        weights = inputs.sample.scaled_weights
        for name, axes, coarse, rows in _row_groups(spec, inputs.sample):
            coords = _coords(spec, axes, coarse)
            counts = np.zeros([len(v) for v in coords.values()])
            np.add.at(counts, tuple(inputs.sample.row_cells[rows][:, a] for a in axes), weights[rows])
            data[name] = xr.DataArray(counts, dims=list(coords), coords=coords)
    return xr.Dataset(data)


def posterior_predictive(post: Any, inputs: Any, rng: np.random.Generator) -> xr.Dataset:
    """Replicated tables and sample counts per draw (see the module)."""
    spec = post.spec
    chains, draws = post.posterior.sizes["chain"], post.posterior.sizes["draw"]
    lead = {"chain": post.posterior["chain"].values, "draw": post.posterior["draw"].values}
    data, taken = {}, set()
    for table in inputs.tables:
        dims = [spec.names[a] for a in table.axes]
        name = _table_name("table", dims, taken)
        expected = post.population * post.joint(dims).values
        if table.se is not None:
            expected = expected + table.se * rng.standard_normal(expected.shape)
        data[name] = xr.DataArray(
            expected, dims=("chain", "draw", *dims), coords={**lead, **_coords(spec, table.axes, False)}
        )
    if inputs.sample is not None:
        weights = inputs.sample.scaled_weights
        for name, axes, coarse, rows in _row_groups(spec, inputs.sample):
            coords = _coords(spec, axes, coarse)
            margin = _margin_draws(post, axes, coarse)
            flat = margin.reshape(margin.shape[0], -1)
            flat = np.clip(flat, 0.0, None) / np.clip(flat, 0.0, None).sum(axis=1, keepdims=True)
            total = int(round(float(weights[rows].sum())))
            counts = rng.multinomial(total, flat).reshape(chains, draws, *margin.shape[1:])
            data[name] = xr.DataArray(counts, dims=("chain", "draw", *coords), coords={**lead, **coords})
    return xr.Dataset(data)


def pointwise_log_likelihood(post: Any, inputs: Any) -> xr.DataArray:
    """Each kept sample row's weighted log share per draw, dims ``(chain, draw, person)``.

    Raises
    ------
    DataError
        When the spec has no sample.
    """
    sample = inputs.sample
    if sample is None:
        raise DataError(f"{post.spec.name}: no sample, so no pointwise log likelihood")
    spec = post.spec
    chains, draws = post.posterior.sizes["chain"], post.posterior.sizes["draw"]
    weights = sample.scaled_weights
    out = np.empty((chains * draws, sample.n_rows))
    for _, axes, coarse, rows in _row_groups(spec, sample):
        margin = _margin_draws(post, axes, coarse)
        index = tuple(sample.row_cells[rows][:, a] for a in axes)
        share = margin[(slice(None), *index)]
        with np.errstate(divide="ignore"):
            out[:, rows] = weights[rows] * np.log(share)
    return xr.DataArray(
        out.reshape(chains, draws, sample.n_rows),
        dims=("chain", "draw", "person"),
        coords={
            "chain": post.posterior["chain"].values,
            "draw": post.posterior["draw"].values,
            "person": np.asarray(sample.row_numbers),
        },
        attrs={"description": "scaled weight x log share of what the row reports, per draw"},
    )
