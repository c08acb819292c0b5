"""Point estimates a user would try on the same inputs: IPF (raking) and independence.

These are the baselines every accuracy claim of populace is measured against
(benchmarks/, the demo). They use the same checked :class:`~populace.data.inputs.Inputs`.
"""

from __future__ import annotations

import numpy as np

from populace.data.inputs import Inputs
from populace.models.projection import MAX_SWEEPS, ipf_numpy

# Pseudo-counts a user would add to every cell of the seed to fill sampling zeros.
PSEUDO_COUNTS = (1.0, 0.5, 0.1, 0.01)


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


def tvd(p: np.ndarray, q: np.ndarray) -> float:
    """Total variation distance between two joints (shares)."""
    return 0.5 * float(np.abs(np.asarray(p) - np.asarray(q)).sum())
