"""`populace check` on posteriors built without a sampler (tests/fakes.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

import populace as pp
from populace.data.inputs import load_inputs
from populace.inference.checks import EXACT_TOLERANCE_PP, check
from tests.fakes import KNOWN_JOINT, fake_example_posterior, fake_known_posterior, posterior_from_draws

EXACT = ["exact table region_ethnicity.csv", "exact table region_smsa.csv", "exact table wage.csv"]


@pytest.fixture(scope="module")
def report(fake_posterior):
    return check(fake_posterior, seed=0)


def _rows(report) -> pd.DataFrame:
    return report.checks.set_index("check")


def test_exact_tables_met_by_every_draw_pass(report) -> None:
    rows = _rows(report)
    assert [c for c in rows.index if c.startswith("exact table")] == EXACT
    assert rows.loc[EXACT, "ok"].all()
    assert rows.loc[EXACT, "value"].max() < 1e-9  # projected to round-off, in pp


def test_every_input_gets_a_row(report) -> None:
    rows = _rows(report)
    assert rows.loc["se table education_parttime.csv", "ok"]
    assert 0 <= rows.loc["se table education_parttime.csv", "value"] <= 8
    micro = [c for c in rows.index if c.startswith("microdata [")]
    assert len(micro) == 2  # complete rows and rows with wage missing
    assert all(0 <= rows.loc[c, "value"] <= 1 for c in micro)
    assert {"divergences", "r_hat", "ess_bulk", "inputs unchanged"} <= set(rows.index)
    assert rows.loc["divergences", "value"] == 0 and rows.loc["divergences", "ok"]


def test_cells_hold_observed_and_posterior_shares(report, fake_posterior) -> None:
    cells = report.cells
    assert list(cells.columns) == ["table", "cell", "observed", "mean", "lower", "upper"]
    wage = cells[cells["table"] == "wage.csv"]
    assert wage["cell"].tolist() == ["wage=q1", "wage=q2", "wage=q3", "wage=q4"]
    table = next(t for t in load_inputs(fake_posterior.spec).tables if t.source == "wage.csv")
    np.testing.assert_allclose(wage["observed"], table.counts / table.total)
    np.testing.assert_allclose(wage["mean"], fake_posterior.summary(["wage"])["mean"])
    assert (cells["lower"] <= cells["mean"] + 1e-12).all() and (cells["mean"] <= cells["upper"] + 1e-12).all()
    se = cells[cells["table"] == "education_parttime.csv"]
    assert len(se) == 8 and (se["lower"] < se["upper"]).all()


def _shift_wage(post, draw: tuple[int, int], points: float):
    """A copy of ``post`` with ``points`` pp of one draw's mass moved from wage q1 to q2."""
    p = post.posterior["p"].values.copy()
    one = p[draw]  # view: (region, ethnicity, smsa, parttime, education, wage)
    d = points / 100
    q1, q2 = one[..., 0].sum(), one[..., 1].sum()
    one[..., 0] *= 1 - d / q1
    one[..., 1] *= 1 + d / q2
    return posterior_from_draws(post.spec, post.inputs(), p)


def test_a_draw_missing_an_exact_table_by_more_than_the_limit_fails(fake_posterior) -> None:
    bad = check(_shift_wage(fake_posterior, (1, 17), 0.3))
    rows = _rows(bad)
    failing = set(rows.index[~rows["ok"]])
    assert "exact table wage.csv" in failing
    assert not failing & {"exact table region_ethnicity.csv", "exact table region_smsa.csv"}
    assert rows.loc["exact table wage.csv", "value"] == pytest.approx(0.3, abs=1e-9)
    assert not bad.ok
    assert "FAIL exact table wage.csv" in bad.text() and bad.text().endswith("check: FAILED")


def test_a_gap_under_the_limit_passes(fake_posterior) -> None:
    assert EXACT_TOLERANCE_PP == 0.2
    rows = _rows(check(_shift_wage(fake_posterior, (0, 3), 0.15)))
    assert rows.loc["exact table wage.csv", "ok"]
    assert rows.loc["exact table wage.csv", "value"] == pytest.approx(0.15, abs=1e-9)


def test_write_puts_checks_cells_and_plot_in_the_folder(report, tmp_path) -> None:
    folder = report.write(tmp_path / "out" / "check")
    assert sorted(p.name for p in folder.iterdir()) == ["cells.csv", "checks.csv", "ppc.png"]
    checks = pd.read_csv(folder / "checks.csv")
    assert checks["check"].tolist() == report.checks["check"].tolist()
    assert checks["ok"].tolist() == report.checks["ok"].tolist()
    cells = pd.read_csv(folder / "cells.csv")
    np.testing.assert_allclose(cells["mean"], report.cells["mean"])
    image = imread(folder / "ppc.png")
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert image[..., :3].std() > 0  # not a blank canvas


def test_converged_chains_pass_and_disagreeing_chains_fail() -> None:
    good = _rows(check(fake_known_posterior(chains=2, draws=1000, seed=1)))
    assert good.loc["r_hat", "ok"] and good.loc["r_hat", "value"] < 1.01
    assert good.loc["ess_bulk", "value"] > 1000  # independent draws
    # chain 1 centred on another joint with the same (exact) sex margin
    other = KNOWN_JOINT[:, ::-1]
    first = fake_known_posterior(chains=1, draws=200, seed=2)
    second = fake_known_posterior(chains=1, draws=200, seed=3, centre=other)
    p = np.concatenate([first.posterior["p"].values, second.posterior["p"].values])
    split = check(posterior_from_draws(first.spec, first.inputs(), p))
    rows = _rows(split)
    assert rows.loc["exact table sex.csv", "ok"]
    assert not rows.loc["r_hat", "ok"] and rows.loc["r_hat", "value"] > 1.5
    assert not split.ok


def test_divergences_fail_the_check(known_posterior) -> None:
    p = known_posterior.posterior["p"].values
    post = pp.Posterior.from_arrays(
        spec=known_posterior.spec,
        inputs=known_posterior.inputs(),
        variables={"p": (("chain", "draw", "sex", "age"), p)},
        stats={"diverging": np.arange(p.shape[0] * p.shape[1]).reshape(p.shape[:2]) % 40 == 0},
        meta={"method": "nuts", "mcmc": True, "draws": p.shape[1], "chains": p.shape[0], "seed": 0},
    )
    rows = _rows(check(post))
    assert rows.loc["divergences", "value"] == 5 and not rows.loc["divergences", "ok"]


def test_an_approximation_has_no_chains_to_compare(known_posterior) -> None:
    p = known_posterior.posterior["p"].values.reshape(1, -1, 2, 3)
    post = pp.Posterior.from_arrays(
        spec=known_posterior.spec,
        inputs=known_posterior.inputs(),
        variables={"p": (("chain", "draw", "sex", "age"), p)},
        meta={"method": "advi", "mcmc": False, "draws": p.shape[1], "chains": 1, "seed": 0},
    )
    rows = _rows(check(post))
    assert "r_hat" not in rows.index and "divergences" not in rows.index
    assert rows.loc["convergence", "ok"] and "approximation" in rows.loc["convergence", "message"]


def test_changed_input_files_are_reported_not_failed(example_dir) -> None:
    post = fake_example_posterior(chains=1, draws=5, spec=pp.Spec.from_yaml(example_dir / "spec.yaml"))
    with open(example_dir / "wage.csv", "a") as handle:
        handle.write("\n")
    (example_dir / "region_smsa.csv").unlink()
    rows = _rows(check(post))
    message = rows.loc["inputs unchanged", "message"]
    assert rows.loc["inputs unchanged", "ok"] and rows.loc["inputs unchanged", "value"] == 2
    assert "wage.csv changed" in message and "region_smsa.csv missing" in message
    assert rows.loc[EXACT, "ok"].all()  # the checks use the copies embedded in the posterior
