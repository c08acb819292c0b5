"""Point estimates a user would try on the same inputs: IPF (raking) and independence.

These are the baselines every accuracy claim of populace is measured against
(benchmarks/, the demo). They use the same checked :class:`~populace.data.inputs.Inputs`.
:func:`bootstrap` gives those that use the sample a spread, by resampling its rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from populace.data.inputs import Inputs, take_rows
from populace.models.projection import MAX_SWEEPS, ipf_numpy

# Pseudo-counts a user would add to every cell of the seed to fill sampling zeros.
PSEUDO_COUNTS = (1.0, 0.5, 0.1, 0.01)
# Bootstrap replicates: a trade of time for precision. The 5% and 95% quantiles of 200
# replicates rest on about 10 replicates in each tail, so a 90% interval's ends carry
# Monte Carlo noise; Efron and Tibshirani (1993) advise 1,000 or more for percentile
# intervals where that noise matters.
BOOTSTRAP_REPLICATES = 200


def table_targets(inputs: Inputs) -> list[tuple[tuple[int, ...], np.ndarray]]:
    """Every marginal table as target shares (tables with ``se`` taken at face value)."""
    return [(t.axes, t.counts / t.total) for t in inputs.tables]


def sample_seed(inputs: Inputs) -> np.ndarray:
    """Weighted counts of the complete rows of the microdata over the full grid."""
    seed = np.zeros(inputs.spec.shape)
    if inputs.sample is None:
        return seed
    full = tuple(range(len(inputs.spec.shape)))
    for axes, counts in inputs.sample.patterns:
        if axes == full:
            seed += counts
    return seed


def ipf(inputs: Inputs, pseudo_count: float, sweeps: int = MAX_SWEEPS) -> np.ndarray:
    """IPF of the sample seed plus ``pseudo_count`` per possible cell onto every table.

    Returns
    -------
    numpy.ndarray
        Joint shares over the grid (sums to 1).
    """
    seed = (sample_seed(inputs) + pseudo_count) * inputs.support
    if not inputs.tables:
        return seed / seed.sum()
    p, _ = ipf_numpy(seed / seed.sum(), table_targets(inputs), sweeps)
    return p


def independence(inputs: Inputs, sweeps: int = MAX_SWEEPS) -> np.ndarray:
    """IPF from a flat seed: the maximum-entropy joint that meets every table."""
    return ipf(inputs, pseudo_count=1.0, sweeps=sweeps) if inputs.sample is None else _flat(inputs, sweeps)


def _flat(inputs: Inputs, sweeps: int) -> np.ndarray:
    seed = inputs.support.astype(float)
    if not inputs.tables:
        return seed / seed.sum()
    p, _ = ipf_numpy(seed / seed.sum(), table_targets(inputs), sweeps)
    return p


def weighted_sample(inputs: Inputs) -> np.ndarray:
    """The raw weighted sample (complete rows) as joint shares."""
    seed = sample_seed(inputs)
    return seed / seed.sum() if seed.sum() > 0 else seed


def resample(inputs: Inputs, rng: np.random.Generator) -> Inputs:
    """The inputs with the sample's rows drawn again with replacement; tables kept as published.

    Parameters
    ----------
    inputs
        Inputs with a sample, as read by :func:`~populace.data.inputs.load_inputs`.
    rng
        Source of the draw.

    Returns
    -------
    Inputs
        As many rows as the sample has, each with its weight (see
        :func:`~populace.data.inputs.take_rows`); the published tables are the
        population's margins, so they stay fixed.

    Raises
    ------
    ValueError
        When the inputs have no sample.
    """
    if inputs.sample is None:
        raise ValueError("the inputs have no sample to resample")
    rows = rng.integers(inputs.sample.n_rows, size=inputs.sample.n_rows)
    return dataclasses.replace(inputs, sample=take_rows(inputs.sample, rows, inputs.spec))


def bootstrap(
    estimator: Callable[[Inputs], np.ndarray],
    inputs: Inputs,
    *,
    seed: int | np.random.Generator,
    replicates: int = BOOTSTRAP_REPLICATES,
) -> np.ndarray:
    """Rerun a point estimator on bootstrap resamples of the sample (:func:`resample`).

    The equal-tailed quantiles of the replicates, cell by cell, are percentile intervals
    (Efron and Tibshirani 1993, ch. 13): they show how much the estimate moves with the
    sample drawn. :func:`independence` ignores the sample, so it has no such spread.

    Parameters
    ----------
    estimator
        Inputs -> joint shares over the grid, such as ``lambda i: ipf(i, 0.5)``.
    inputs
        Inputs with a sample.
    seed
        Seed (or Generator) of the resampling.
    replicates
        Number of resamples.

    Returns
    -------
    numpy.ndarray
        Shape ``(replicates, *grid shape)``: one estimate per resample.

    Examples
    --------
    >>> inputs = load_inputs(spec)
    >>> reps = bootstrap(lambda i: ipf(i, 0.5), inputs, seed=0, replicates=20)
    >>> reps.shape
    (20, 4, 2, 2, 2, 4, 4)
    >>> lower, upper = np.quantile(reps, [0.05, 0.95], axis=0)
    >>> bool((upper - lower).max() > 0.005)  # cells move with the sample drawn...
    True
    >>> float(np.ptp(reps.sum(axis=(1, 2, 3, 4, 5)), axis=0).max()) < 1e-9  # ...the exact wage table never
    True
    """
    rng = np.random.default_rng(seed)
    return np.stack([estimator(resample(inputs, rng)) for _ in range(replicates)])
