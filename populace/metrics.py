"""How a recovered joint is scored against a known truth: point scores and interval scores.

One place for the scores the demo, the tests and the benchmarks report. Point scores
apply to any estimate of the joint (shares over the grid). Intervals are scored from
draws of the joint (posterior draws, or bootstrap replicates of a point baseline), as
equal-tailed intervals on the cells holding at least :data:`MIN_CELL_PERSONS` persons.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from populace.summaries import DEFAULT_CREDIBLE_MASS, interval_quantiles

# Coverage is scored on cells holding at least this many persons: an interval's coverage
# of a near-empty cell says little (issue 3's criterion).
MIN_CELL_PERSONS = 10
# Credible masses the benchmarks score: the contract's 90% interval, and 50% as a second
# point on the calibration curve.
INTERVAL_MASSES = (0.9, 0.5)
# Issue 3's calibration criterion: 90% intervals should cover 85-95% of the cells scored.
COVERAGE_TARGET = (0.85, 0.95)


def tvd(p: np.ndarray, q: np.ndarray) -> float:
    """Total variation distance between two joints given as shares.

    Examples
    --------
    >>> tvd(np.array([0.5, 0.5]), np.array([0.75, 0.25]))
    0.25
    """
    return 0.5 * float(np.abs(np.asarray(p, dtype=float) - np.asarray(q, dtype=float)).sum())


def srmse(estimate: np.ndarray, truth: np.ndarray, population: float) -> float:
    """Standardised root mean square error on counts over all cells.

    ``sqrt(mean((E - T)^2)) / mean(T)`` with ``E`` and ``T`` in persons, the usual score
    of population synthesis (Lovelace et al. 2015; Ye et al. 2009): 0 for a perfect
    recovery, around 1 when the errors are as large as the average cell.

    Examples
    --------
    >>> srmse(np.array([0.5, 0.5]), np.array([0.5, 0.5]), 100.0)
    0.0
    """
    e = np.asarray(estimate, dtype=float).ravel() * population
    t = np.asarray(truth, dtype=float).ravel() * population
    return float(np.sqrt(np.mean((e - t) ** 2)) / np.mean(t))


def empty_cell_mass(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Share of the estimate placed on cells that hold nobody in the truth.

    Examples
    --------
    >>> empty_cell_mass(np.array([0.75, 0.25]), np.array([1.0, 0.0]))
    0.25
    """
    return float(np.asarray(estimate)[np.asarray(truth) == 0].sum())


def unpublished_pairs(ndim: int, given_axes: Sequence[tuple[int, ...]]) -> list[tuple[int, int]]:
    """Pairs of attributes whose two-way table is not implied by a published table.

    Examples
    --------
    >>> unpublished_pairs(3, [(0, 1)])
    [(0, 2), (1, 2)]
    """
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

    def pair_margin(p: np.ndarray, pair: tuple[int, int]) -> np.ndarray:
        return p.sum(axis=tuple(a for a in range(p.ndim) if a not in pair))

    return float(np.mean([tvd(pair_margin(estimate, pr), pair_margin(truth, pr)) for pr in pairs]))


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


def interval_metrics(
    draws: np.ndarray, truth: np.ndarray, population: float, prob: float = DEFAULT_CREDIBLE_MASS
) -> dict[str, float]:
    """Coverage and width of equal-tailed intervals from draws of the joint, against a known joint.

    Scored on the cells holding at least :data:`MIN_CELL_PERSONS` persons in the truth.

    Parameters
    ----------
    draws
        Draws of the joint shares, shape ``(n, *grid)`` or ``(n, cells)``: posterior
        draws, or bootstrap replicates of a point estimate.
    truth
        True joint shares over the grid.
    population
        Persons in the population.
    prob
        Mass of each interval.

    Returns
    -------
    dict
        ``coverage`` (share of scored cells whose interval holds the truth),
        ``cells_scored``, and ``mean_width`` (mean interval width in shares).

    Examples
    --------
    >>> draws = np.random.default_rng(0).dirichlet([20.0, 20.0], size=1000)
    >>> interval_metrics(draws, np.array([0.5, 0.5]), 100.0)["coverage"]
    1.0
    """
    draws = np.asarray(draws, dtype=float).reshape(len(draws), -1)
    lower, upper = np.quantile(draws, interval_quantiles(prob), axis=0)
    t = np.asarray(truth, dtype=float).ravel()
    big = t * population >= MIN_CELL_PERSONS
    covered = (t >= lower) & (t <= upper)
    return {
        "coverage": float(covered[big].mean()),
        "cells_scored": int(big.sum()),
        "mean_width": float((upper - lower)[big].mean()),
    }


def interval_scores(draws: np.ndarray, truth: np.ndarray, population: float) -> dict[str, float]:
    """Coverage and width (in persons) of the intervals of every mass in :data:`INTERVAL_MASSES`.

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


def recovery_metrics(post: Any, truth: np.ndarray, prob: float = DEFAULT_CREDIBLE_MASS) -> dict[str, float]:
    """TVD of a posterior's mean joint and its interval scores (:func:`interval_metrics`) against a truth.

    Parameters
    ----------
    post
        A :class:`populace.Posterior`.
    truth
        True joint shares over the spec's grid.
    prob
        Mass of each interval.
    """
    draws = post.posterior["p"].values.reshape(post.n_samples, -1)
    scores = {"tvd": tvd(draws.mean(axis=0), np.asarray(truth).ravel())}
    return scores | interval_metrics(draws, truth, post.population, prob)
