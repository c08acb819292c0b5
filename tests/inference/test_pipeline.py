"""End to end with few draws: fit, save, load, query, personas, checks, reproducibility."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import populace as pp
from populace.data.examples import example_spec_path

pytestmark = pytest.mark.pipeline


def test_saved_posterior_round_trips_and_meets_exact_tables(small_posterior) -> None:
    post = pp.load(small_posterior)
    joint = post.joint(["region", "ethnicity"])
    assert joint.dims == ("chain", "draw", "region", "ethnicity")
    table = pd.read_csv(example_spec_path().parent / "region_ethnicity.csv", dtype=str, keep_default_na=False)
    share = table.set_index(["region", "ethnicity"])["count"].astype(float)
    share /= share.sum()
    for (region, ethnicity), value in share.items():
        cell = joint.sel(region=region, ethnicity=ethnicity)
        assert float(abs(cell - value).max()) < 1e-5  # the contract allows 2e-3
    summary = post.summary(["education", "wage"], prob=0.8)
    assert list(summary.columns) == ["education", "wage", "mean", "sd", "lower", "upper"]
    assert summary["mean"].sum() == pytest.approx(1.0)
    assert (summary["lower"] <= summary["mean"]).all() and (summary["mean"] <= summary["upper"]).all()
    assert list(summary["education"][:4]) == ["lt12"] * 4  # declared level order, by-order rows
    info = post.fit_info
    assert info["method"] == "nuts" and info["chains"] == 2 and info["draws"] == 150
    assert set(post.input_texts) == {
        "region_ethnicity.csv",
        "region_smsa.csv",
        "education_parttime.csv",
        "wage.csv",
        "sample.csv",
    }


def test_same_seed_same_posterior_other_seed_differs(small_posterior) -> None:
    spec = pp.Spec.from_yaml(example_spec_path())
    again = pp.fit(spec, draws=150, chains=2, seed=3, progress=False)
    saved = pp.load(small_posterior)
    np.testing.assert_array_equal(again.posterior["p"].values, saved.posterior["p"].values)
    other = pp.fit(spec, draws=150, chains=2, seed=4, progress=False)
    assert not np.array_equal(other.posterior["p"].values, saved.posterior["p"].values)


def test_personas_follow_the_posterior_draws(small_posterior) -> None:
    post = pp.load(small_posterior)
    people = pp.personas(post, n=30_000, seed=2)
    assert list(people.columns[:2]) == ["persona_id", "draw"]
    assert people["draw"].between(0, post.n_samples - 1).all()
    counts = people["draw"].value_counts()
    assert counts.max() - counts.min() <= 1  # every draw used equally often
    share = (people["education"] == "16plus").mean()
    expected = float(post.joint(["education"]).sel(education="16plus").mean())
    assert share == pytest.approx(expected, abs=0.01)
    assert people.equals(pp.personas(post, n=30_000, seed=2))
    described = pp.personas(post, n=3, seed=2, tier="descriptive")
    assert described["description"].str.contains("education: ").all()


def test_check_passes_exact_tables_and_reports_every_input(small_posterior) -> None:
    report = pp.check(pp.load(small_posterior))
    names = " ".join(report.checks["check"])
    for piece in ["region_ethnicity.csv", "education_parttime.csv", "microdata", "divergences", "r_hat"]:
        assert piece in names
    exact = report.checks[report.checks["check"].str.startswith("exact table")]
    assert exact["ok"].all()
    assert (exact["value"] < 1e-3).all()


@pytest.mark.parametrize("method", ["advi", "pathfinder"])
def test_fast_methods_give_valid_joints(method: str) -> None:
    spec = pp.Spec.from_yaml(example_spec_path())
    post = pp.fit(spec, method=method, draws=100, chains=2, seed=0, progress=False)
    p = post.posterior["p"].values
    assert p.shape[:2] == (1, 200)
    np.testing.assert_allclose(p.reshape(200, -1).sum(axis=1), 1.0, atol=1e-9)
    wage = post.joint(["wage"]).mean(("chain", "draw")).values
    np.testing.assert_allclose(wage, np.array([7256, 7052, 6855, 6992]) / 28155, atol=1e-6)
    assert post.summary(["education"])["sd"].gt(0).all()


def test_check_warns_when_an_input_file_changed_since_the_fit(example_dir, tmp_path) -> None:
    spec = pp.Spec.from_yaml(example_dir / "spec.yaml")
    post = pp.fit(spec, method="pathfinder", draws=50, chains=1, seed=0, progress=False)
    path = post.to_netcdf(tmp_path / "post.nc")
    assert pp.load(path).changed_inputs() == {}
    (example_dir / "wage.csv").write_text((example_dir / "wage.csv").read_text() + "\n")
    (example_dir / "sample.csv").unlink()
    loaded = pp.load(path)
    assert loaded.changed_inputs() == {"wage.csv": "changed", "sample.csv": "missing"}
    row = pp.check(loaded).checks.set_index("check").loc["inputs unchanged"]
    assert "wage.csv changed" in row["message"] and "sample.csv missing" in row["message"]
    # the posterior still carries its own inputs, so every check still runs
    assert len(pp.check(loaded).cells) > 0


def test_saved_file_carries_versions_and_input_hashes_and_loads_without_pickle(small_posterior, monkeypatch) -> None:
    import hashlib
    import json
    import pickle

    def forbidden(*args, **kwargs):
        raise AssertionError("loading a posterior must not unpickle anything")

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    post = pp.load(small_posterior)
    versions = json.loads(post.attrs["versions_json"])
    assert {"numpy", "jax", "numpyro", "xarray"} <= set(versions)
    hashes = json.loads(post.attrs["input_hashes_json"])
    wage = (example_spec_path().parent / "wage.csv").read_text(encoding="utf-8-sig")
    assert hashes["wage.csv"] == hashlib.sha256(wage.encode("utf-8")).hexdigest()
    assert len(hashes) == 5
    assert post.summary(["wage"])["mean"].sum() == pytest.approx(1.0)
    with open(small_posterior, "rb") as handle:
        assert handle.read(8) == b"\x89HDF\r\n\x1a\n"  # an HDF5/NetCDF-4 file, not a pickle


def test_sampling_problems_warn_in_fit_and_fail_check(example_dir, capsys) -> None:
    from populace.cli import main

    code = main(
        [
            "fit",
            str(example_dir / "spec.yaml"),
            "--out",
            str(example_dir / "p.nc"),
            "--draws",
            "15",
            "--chains",
            "2",
            "--quiet",
        ]
    )
    assert code == 0
    err = capsys.readouterr().err
    assert "warning: largest R-hat" in err and "run more --draws" in err
    assert main(["check", str(example_dir / "p.nc")]) == 1
    assert "FAIL r_hat" in capsys.readouterr().out


def test_check_fails_when_an_exact_table_is_not_reproduced(small_posterior) -> None:
    post = pp.load(small_posterior)
    p = post.posterior["p"].values.copy()
    p[..., 0, 0, :, :, :, :] *= 1.2  # more northeast/white than the exact table says
    p /= p.sum(axis=tuple(range(2, p.ndim)), keepdims=True)
    post.posterior["p"].values = p
    report = pp.check(post)
    failed = report.checks[~report.checks["ok"]]["check"].tolist()
    assert "exact table region_ethnicity.csv" in failed and not report.ok


def test_inputs_given_as_text_are_not_reported_missing(tmp_path) -> None:
    spec = pp.Spec(
        attributes=[
            pp.Attribute(name="sex", levels=("female", "male")),
            pp.Attribute(name="old", levels=("no", "yes")),
        ],
        marginals=[
            pp.TableSource(file="sex.csv", text="sex,count\nfemale,52\nmale,48\n"),
            pp.TableSource(file="old.csv", text="old,count\nno,70\nyes,30\n"),
        ],
    )
    post = pp.fit(spec, method="pathfinder", draws=50, chains=1, seed=0, progress=False)
    assert post.changed_inputs() == {}
    loaded = pp.load(post.to_netcdf(tmp_path / "post.nc"))
    assert loaded.changed_inputs() == {}
    assert pp.check(loaded).checks.set_index("check").loc["inputs unchanged", "ok"]
