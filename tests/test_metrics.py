"""Interval scores of ``populace demo`` and the benchmark: which cells count, and widths."""

from __future__ import annotations

import types

import numpy as np
import pytest
from scipy import stats

from populace.metrics import MIN_CELL_PERSONS, interval_metrics, recovery_metrics


def test_interval_metrics_scores_only_cells_with_enough_persons():
    rng = np.random.default_rng(0)
    population = 1000
    truth = np.array([0.6, 0.39, (MIN_CELL_PERSONS - 1) / population])
    truth[1] -= truth[2]
    draws = rng.normal(truth, 0.01, size=(4000, 3))
    draws[:, 2] += 0.5  # the small cell's interval misses the truth, but it is not scored
    scored = interval_metrics(draws, truth, population, prob=0.9)
    assert scored["cells_scored"] == 2
    assert scored["coverage"] == 1.0
    assert scored["mean_width"] == pytest.approx(2 * stats.norm.ppf(0.95) * 0.01, rel=0.05)


def test_recovery_metrics_scores_posterior_draws_as_interval_metrics_does():
    rng = np.random.default_rng(1)
    truth = rng.dirichlet(np.ones(8)).reshape(2, 2, 2)
    draws = rng.dirichlet(200 * truth.ravel(), size=(2, 50)).reshape(2, 50, 2, 2, 2)
    post = types.SimpleNamespace(posterior={"p": types.SimpleNamespace(values=draws)}, n_samples=100, population=5000.0)
    flat = draws.reshape(100, -1)
    lower, upper = np.quantile(flat, [0.25, 0.75], axis=0)
    big = truth.ravel() * 5000 >= MIN_CELL_PERSONS
    covered = (truth.ravel() >= lower) & (truth.ravel() <= upper)
    scored = recovery_metrics(post, truth, prob=0.5)
    assert scored["coverage"] == covered[big].mean()
    assert scored["mean_width"] == (upper - lower)[big].mean()
    assert scored == {"tvd": scored["tvd"]} | interval_metrics(flat, truth, 5000.0, prob=0.5)
