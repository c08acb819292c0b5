"""How a recovered joint is scored against the truth.

Point scores apply to any estimate of the joint (shares over the grid). Intervals are
scored from draws of the joint (populace's posterior draws, or bootstrap replicates of a
baseline) by :func:`populace.demo.interval_metrics`, as ``populace demo`` scores them:
equal-tailed intervals, on cells holding at least :data:`populace.demo.MIN_CELL_PERSONS`
persons.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from populace.baselines import tvd
from populace.demo import interval_metrics

# Credible masses scored: the contract's default 90% interval, and 50% as a second
# point on the calibration curve.
INTERVAL_MASSES = (0.9, 0.5)
# Issue 3's calibration criterion: 90% intervals should cover 85-95% of the cells scored.
COVERAGE_TARGET = (0.85, 0.95)


def srmse(estimate: np.ndarray, truth: np.ndarray, population: float) -> float:
    """Standardised root mean square error on counts over all cells.

    ``sqrt(mean((E - T)^2)) / mean(T)`` with ``E`` and ``T`` in persons, the usual
    score of population synthesis (e.g. Lovelace et al. 2015, Ye et al. 2009).

    Parameters
    ----------
    estimate, truth
        Joint shares over the same grid.
    population
        Persons in the population (the shares are scaled to counts with it).

    Returns
    -------
    float
        0 for a perfect recovery; around 1 when the errors are as large as the average cell.
    """
    e = np.asarray(estimate, dtype=float).ravel() * population
    t = np.asarray(truth, dtype=float).ravel() * population
    return float(np.sqrt(np.mean((e - t) ** 2)) / np.mean(t))


def unpublished_pairs(ndim: int, given_axes: Sequence[tuple[int, ...]]) -> list[tuple[int, int]]:
    """Pairs of attributes whose two-way table is not implied by a published table."""
    return [pair for pair in itertools.combinations(range(ndim), 2) if not any(set(pair) <= set(g) for g in given_axes)]


def unpublished_pair_tvd(estimate: np.ndarray, truth: np.ndarray, given_axes: Sequence[tuple[int, ...]]) -> float:
    """Mean TVD over the two-way tables that were not published (``nan`` if none).

    Parameters
    ----------
    estimate, truth
        Joint shares over the same grid (arrays with one axis per attribute).
    given_axes
        Axes of each published table.
    """
    pairs = unpublished_pairs(truth.ndim, given_axes)
    if not pairs:
        return float("nan")
    scores = [tvd(_pair_margin(estimate, pair), _pair_margin(truth, pair)) for pair in pairs]
    return float(np.mean(scores))


def _pair_margin(p: np.ndarray, pair: tuple[int, int]) -> np.ndarray:
    return p.sum(axis=tuple(a for a in range(p.ndim) if a not in pair))


def empty_cell_mass(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Share of the estimate placed on cells that hold nobody in the truth."""
    return float(np.asarray(estimate)[np.asarray(truth) == 0].sum())


def point_scores(
    estimate: np.ndarray, truth: np.ndarray, population: float, given_axes: Sequence[tuple[int, ...]]
) -> dict[str, float]:
    """Every point score of an estimate of the joint.

    Returns
    -------
    dict
        ``tvd``, ``srmse``, ``pair_tvd`` (mean over unpublished two-way tables) and
        ``empty_mass``.
    """
    estimate = np.asarray(estimate, dtype=float).reshape(truth.shape)
    return {
        "tvd": tvd(estimate, truth),
        "srmse": srmse(estimate, truth, population),
        "pair_tvd": unpublished_pair_tvd(estimate, truth, given_axes),
        "empty_mass": empty_cell_mass(estimate, truth),
    }


def interval_scores(draws: np.ndarray, truth: np.ndarray, population: float) -> dict[str, float]:
    """Coverage and width of the intervals of every mass in :data:`INTERVAL_MASSES`.

    Parameters
    ----------
    draws
        Draws of the joint shares, shape ``(n, *grid)``: posterior draws or bootstrap replicates.
    truth
        True joint shares over the grid.
    population
        Persons in the population (widths are given in persons).

    Returns
    -------
    dict
        ``coverage_90``, ``width_90``, ``coverage_50``, ``width_50`` and ``cells_scored``.
    """
    row: dict[str, float] = {}
    for mass in INTERVAL_MASSES:
        scored = interval_metrics(draws, truth, population, prob=mass)
        row[f"coverage_{round(mass * 100)}"] = scored["coverage"]
        row[f"width_{round(mass * 100)}"] = scored["mean_width"] * population
        row["cells_scored"] = scored["cells_scored"]
    return row
