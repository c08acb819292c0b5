"""Draw personas from a posterior so that their spread carries its uncertainty.

Persona ``i`` is assigned a posterior draw (every draw used equally often, in a random
order), then a cell is drawn from that draw's joint. A table of personas is therefore a
sample from the posterior predictive distribution of the population, not from one point
estimate.
"""

from __future__ import annotations

import os
import pathlib
import sys
import types

import numpy as np
import pandas as pd

from populace.continuous import sample_numbers, within_bins
from populace.errors import DataError
from populace.io import atomic_path
from populace.posterior import Posterior
from populace.spec import VALUE_SUFFIX

TIERS = ("tabular", "descriptive")


def personas(post: Posterior, n: int, *, seed: int = 0, tier: str = "tabular") -> pd.DataFrame:
    """Draw ``n`` personas.

    Parameters
    ----------
    post
        A fitted or loaded posterior.
    n
        Number of personas.
    seed
        Seed; the same posterior and seed give the same personas.
    tier
        ``tabular`` (attribute columns) or ``descriptive`` (adds a ``description``
        sentence per persona).

    Returns
    -------
    pandas.DataFrame
        ``persona_id``, ``draw`` (flat chain-major draw index), then one categorical
        column per attribute with the declared levels; then, for each continuous
        attribute (``bins``), ``NAME_value``: a number within the persona's bin, drawn
        from the sample's numbers in that bin (uniform over the bin where it has none;
        :mod:`populace.continuous`).

    Examples
    --------
    >>> people = pp.personas(post, n=1_000, seed=1)
    >>> list(people.columns[:3])
    ['persona_id', 'draw', 'region']
    >>> people["draw"].value_counts().unique().tolist()  # 100 posterior draws, 10 personas each
    [10]
    """
    if n < 1:
        raise DataError(f"-n must be at least 1, got {n}", value=n)
    if tier not in TIERS:
        raise DataError(f"--tier must be one of {', '.join(TIERS)}, got '{tier}'", value=tier)
    rng = np.random.default_rng(seed)
    spec = post.spec
    draws = rng.permutation(np.arange(n) % post.n_samples)
    if post.factorised:
        codes = _tree_codes(post, draws, rng)
    else:
        codes = _grid_codes(post, draws, rng)
    frame = pd.DataFrame({"persona_id": np.arange(n, dtype=np.int64), "draw": draws.astype(np.int64)})
    for attr, code in zip(spec.attributes, codes):
        frame[attr.name] = pd.Categorical.from_codes(code, categories=list(attr.levels), ordered=attr.ordered)
    if any(a.continuous for a in spec.attributes):
        numbers = sample_numbers(spec, post.input_texts)
        for attr, code in zip(spec.attributes, codes):
            if attr.continuous:
                frame[f"{attr.name}{VALUE_SUFFIX}"] = within_bins(attr, code, *numbers[attr.name], rng)
    if tier == "descriptive":
        frame["description"] = describe(frame, [a.name for a in spec.attributes])
    return frame


def _grid_codes(post: Posterior, draws: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Each persona's cell, drawn from the joint ``p`` of its posterior draw: one code array per attribute."""
    n = len(draws)
    flat = post.posterior["p"].values.reshape(post.n_samples, -1)
    order = np.argsort(draws, kind="stable")
    cells = np.empty(n, dtype=np.int64)
    u = rng.random(n)
    bounds = np.searchsorted(draws[order], np.arange(post.n_samples + 1))
    for d in range(post.n_samples):
        lo, hi = bounds[d], bounds[d + 1]
        if lo == hi:
            continue
        cdf = np.cumsum(flat[d])
        idx = order[lo:hi]
        cells[idx] = np.minimum(np.searchsorted(cdf, u[idx] * cdf[-1], side="right"), flat.shape[1] - 1)
    return np.unravel_index(cells, post.spec.shape)


def _tree_codes(post: Posterior, draws: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Each persona drawn down the junction tree of its posterior draw (the latent class, then the cliques)."""
    from populace.models.belief import sample

    tree, sites = post.clique_draws()
    # persons in draw order: each search then stays within one draw's tables (2x faster)
    order = np.argsort(draws, kind="stable")
    codes = np.empty((len(draws), len(tree.shape)), dtype=np.int64)
    codes[order] = sample(tree, sites, len(draws), rng, draw=draws[order])
    return tuple(codes[:, a] for a in range(len(post.spec.shape)))


def describe(frame: pd.DataFrame, names: list[str]) -> pd.Series:
    """One plain sentence per persona listing its attributes (the descriptive tier)."""
    parts = [frame[name].astype(str).radd(f"{name}: ") for name in names]
    text = parts[0]
    for part in parts[1:]:
        text = text + "; " + part
    return "A person with " + text + "."


def write_personas(frame: pd.DataFrame, path: str | os.PathLike[str]) -> pathlib.Path:
    """Write personas to ``.parquet`` (default) or ``.csv``, atomically."""
    path = pathlib.Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise DataError("--out must end in .parquet or .csv", file=str(path), value=path.suffix)
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False, engine="pyarrow")
    return path


class _CallableModule(types.ModuleType):
    """Lets ``populace.personas(post, n)`` work although ``populace.personas`` is a module.

    DESIGN.md section 3 makes ``pp.personas(...)`` the API and the layout names the
    module ``personas``; importing a submodule rebinds the package attribute to the
    module, so the module itself forwards calls to :func:`personas`.
    """

    def __call__(self, post: Posterior, n: int, *, seed: int = 0, tier: str = "tabular") -> pd.DataFrame:
        return personas(post, n, seed=seed, tier=tier)


sys.modules[__name__].__class__ = _CallableModule
