"""Simulator-based forecasts agree with exact post-stratification of the same probabilities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import populace as pp
from populace.outcomes.forecast import forecast_table
from populace.outcomes.model import OutcomeDraws
from populace.outcomes.simulator import LogitSimulator, simulate_forecast

pytestmark = pytest.mark.pipeline

EDU = {"lt12": [0.0, -1.0], "12": [0.0, 0.0], "13-15": [0.0, 0.5], "16plus": [0.0, 1.5]}
REGION = {"northeast": [0.0, 0.3], "midwest": [0.0, 0.0], "south": [0.0, -0.4], "west": [0.0, 0.2]}


def test_simulator_forecast_matches_exact_post_stratification(small_posterior) -> None:
    post = pp.load(small_posterior)
    sim = LogitSimulator(("no", "yes"), [0.0, -0.2], {"education": EDU, "region": REGION})
    calls = []

    def counted(batch: pd.DataFrame) -> np.ndarray:
        calls.append(len(batch))
        return sim(batch)

    counted.levels = sim.levels
    table = simulate_forecast(post, counted, ["region"], per_draw=400, seed=0)
    # the same law as an outcome model with one (fixed) draw: exact post-stratification
    edu = np.array([EDU[lv][1] for lv in post.spec.attribute("education").levels])[None, :, None]
    reg = np.array([REGION[lv][1] for lv in post.spec.attribute("region").levels])[None, :, None]
    exact = forecast_table(
        post,
        OutcomeDraws(predictors=("education", "region"), alpha=np.array([[-0.2]]), effects=(edu, reg)),
        ["region"],
        ["no", "yes"],
    )
    merged = table.merge(exact, on=["region", "level"], suffixes=("_sim", "_exact"))
    assert len(merged) == 8
    np.testing.assert_allclose(merged["mean_sim"], merged["mean_exact"], atol=0.01)
    assert (merged["sd_sim"] > merged["sd_exact"]).all()  # persona sampling adds noise
    assert sum(calls) <= 512  # each distinct combination simulated once, across all draws


def test_a_broken_simulator_is_refused(small_posterior) -> None:
    post = pp.load(small_posterior)

    def bad(batch: pd.DataFrame) -> np.ndarray:
        return np.full((len(batch), 2), np.nan)

    bad.levels = ("a", "b")
    with pytest.raises(pp.DataError, match="invalid values"):
        simulate_forecast(post, bad, ["region"], per_draw=5, draws=10)
