"""Post-stratified forecasts: the arithmetic, the uncertainty split, and the command line."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import populace as pp
from populace.outcomes.forecast import forecast_draws, forecast_table
from populace.outcomes.model import OutcomeDraws

pytestmark = pytest.mark.pipeline


def _random_model(post, rng, predictors=("education", "region"), k=3, draws=50) -> OutcomeDraws:
    effects = tuple(rng.normal(size=(draws, len(post.spec.attribute(n).levels), k - 1)) for n in predictors)
    return OutcomeDraws(predictors=predictors, alpha=rng.normal(size=(draws, k - 1)), effects=effects)


def test_forecast_matches_brute_force_post_stratification(small_posterior) -> None:
    post = pp.load(small_posterior)
    rng = np.random.default_rng(0)
    model = _random_model(post, rng)
    got = forecast_draws(post, model, ["wage", "region"])
    p = post.posterior["p"].values.reshape(post.n_samples, *post.spec.shape)
    prob = model.probabilities()  # (draws, education, region, K)
    assert got.shape == (post.n_samples, 4, 4, 3)
    for s in (0, 7, 123):
        ps = p[s].sum(axis=(1, 2, 3))  # region, education, wage
        pr = prob[s % model.n_samples]
        for w in range(4):
            for r in range(4):
                cells = ps[r, :, w]
                expected = (cells[:, None] * pr[:, r, :]).sum(axis=0) / cells.sum()
                np.testing.assert_allclose(got[s, w, r], expected, rtol=1e-10)
    np.testing.assert_allclose(got.sum(axis=-1), 1.0)


def test_fixing_a_source_narrows_the_interval(small_posterior) -> None:
    post = pp.load(small_posterior)
    model = _random_model(post, np.random.default_rng(1))
    levels = ["a", "b", "c"]
    both = forecast_table(post, model, ["region"], levels)
    joint_only = forecast_table(post, model, ["region"], levels, fix="outcome")
    outcome_only = forecast_table(post, model, ["region"], levels, fix="joint")
    assert list(both.columns) == ["region", "level", "mean", "sd", "lower", "upper"]
    assert len(both) == 12 and list(both["level"][:3]) == levels
    assert (joint_only["sd"] < both["sd"]).mean() > 0.9
    assert (outcome_only["sd"] <= both["sd"] * 1.2).all()


def _write_outcome(folder, rows: str, extra: str = "") -> None:
    (folder / "poll.csv").write_text("education,region,choice,wt\n" + rows)
    (folder / "outcome.yaml").write_text(
        "outcome: choice\nlevels: [yes, no]\ndata: {file: poll.csv, weight: wt}\n"
        "predictors: [education, region]\nby: [region]\n" + extra
    )


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "populace.cli", *args], capture_output=True, text=True, timeout=600)


def test_forecast_command_writes_the_contract_columns(small_posterior, tmp_path) -> None:
    rng = np.random.default_rng(2)
    edu = rng.choice(["lt12", "12", "13-15", "16plus"], 300)
    reg = rng.choice(["northeast", "midwest", "south", "west"], 300)
    choice = np.where(rng.random(300) < np.where(edu == "16plus", 0.8, 0.3), "yes", "no")
    rows = "".join(f"{e},{r},{c},1.5\n" for e, r, c in zip(edu, reg, choice))
    _write_outcome(tmp_path, rows)
    out = tmp_path / "f.csv"
    result = _cli(
        "forecast",
        str(small_posterior),
        str(tmp_path / "outcome.yaml"),
        "--out",
        str(out),
        "--draws",
        "200",
        "--chains",
        "2",
        "--quiet",
        "--plot",
        str(tmp_path / "f.png"),
    )
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out)
    assert list(table.columns) == ["region", "level", "mean", "sd", "lower", "upper"]
    assert len(table) == 8
    np.testing.assert_allclose(table.groupby("region")["mean"].sum(), 1.0, atol=1e-9)
    assert ((table["lower"] <= table["mean"]) & (table["mean"] <= table["upper"])).all()
    assert (tmp_path / "f.png").stat().st_size > 1000


@pytest.mark.parametrize(
    ("rows", "extra", "args", "expected"),
    [
        ("12,south,maybe,1\n", "", [], ["poll.csv", "row 1", "'choice'", "maybe"]),
        ("12,south,yes,-1\n", "", [], ["poll.csv", "row 1", "'wt'", "negative"]),
        ("12,south,yes,1\n", "", ["--by", "state"], ["by names unknown attribute", "state"]),
        ("12,south,yes,1\n", "", [], ["age"]),
    ],
)
def test_forecast_bad_input_is_one_line_exit_2(small_posterior, tmp_path, rows, extra, args, expected) -> None:
    _write_outcome(tmp_path, rows, extra)
    if expected == ["age"]:
        text = (tmp_path / "outcome.yaml").read_text().replace("[education, region]", "[education, age]")
        (tmp_path / "outcome.yaml").write_text(text)
    result = _cli("forecast", str(small_posterior), str(tmp_path / "outcome.yaml"), "--quiet", *args)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr
    for piece in expected:
        assert piece in lines[0]


def test_a_repeat_forecast_reuses_the_saved_outcome_fit(small_posterior, tmp_path) -> None:
    import shutil

    from populace.outcomes import saved

    posterior = tmp_path / "posterior.nc"
    shutil.copy(small_posterior, posterior)
    rng = np.random.default_rng(3)
    edu = rng.choice(["lt12", "12", "13-15", "16plus"], 200)
    reg = rng.choice(["northeast", "midwest", "south", "west"], 200)
    choice = np.where(rng.random(200) < np.where(edu == "16plus", 0.8, 0.3), "yes", "no")
    _write_outcome(tmp_path, "".join(f"{e},{r},{c},1.5\n" for e, r, c in zip(edu, reg, choice)))
    args = [str(posterior), str(tmp_path / "outcome.yaml"), "--draws", "100", "--chains", "2"]
    fit_file = tmp_path / "posterior.outcome.outcome.nc"

    first = _cli("forecast", *args, "--out", str(tmp_path / "a.csv"))
    assert first.returncode == 0, first.stderr
    assert fit_file.is_file() and "outcome fit saved" in first.stderr
    model, _ = saved.load_outcome(fit_file)
    assert model.n_samples == 200 and set(model.diagnostics) >= {"r_hat", "ess", "divergences", "fit_seconds"}

    again = _cli("forecast", *args, "--out", str(tmp_path / "b.csv"))
    assert again.returncode == 0, again.stderr
    assert "reusing the outcome fit" in again.stderr
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv"))

    # other settings or other data are another fit
    other = _cli("forecast", *args[:-1], "1", "--out", str(tmp_path / "c.csv"))
    assert other.returncode == 0 and "fitting again" in other.stderr
    (tmp_path / "poll.csv").write_text((tmp_path / "poll.csv").read_text() + "12,south,yes,1\n")
    changed = _cli("forecast", *args, "--out", str(tmp_path / "d.csv"))
    assert changed.returncode == 0 and "fitting again" in changed.stderr

    # check reads the outcome fit: a line per check, exit 1 when one fails
    checked = _cli("check", str(fit_file))
    expected = saved.outcome_checks(saved.load_outcome(fit_file)[0])
    lines = checked.stdout.splitlines()
    assert [line.startswith("ok") for line in lines[:3]] == [ok for _, ok, _ in expected], checked.stdout
    assert checked.returncode == (0 if all(ok for _, ok, _ in expected) else 1)


def test_outcome_checks_fail_with_advice() -> None:
    from populace.outcomes import saved

    bad = OutcomeDraws(
        predictors=(), alpha=np.zeros((10, 1)), effects=(), diagnostics={"r_hat": 1.2, "ess": 30.0, "divergences": 2}
    )
    assert [ok for _, ok, _ in saved.outcome_checks(bad)] == [False, False, False]
    assert len(saved.advice(bad)) == 3 and all("--draws" in line for line in saved.advice(bad))


def test_an_outcome_fit_path_holding_another_file_is_refused_not_overwritten(small_posterior, tmp_path) -> None:
    import shutil

    posterior = tmp_path / "posterior.nc"
    shutil.copy(small_posterior, posterior)
    before = posterior.read_bytes()
    _write_outcome(tmp_path, "12,south,yes,1\n13-15,west,no,1\n")
    for extra in ([], ["--refit"]):
        result = _cli(
            "forecast", str(posterior), str(tmp_path / "outcome.yaml"), "--outcome-fit", str(posterior), *extra
        )
        assert result.returncode == 2, result.stderr
        assert "not a populace outcome fit" in result.stderr and "Traceback" not in result.stderr
    assert posterior.read_bytes() == before
