"""Posterior queries and saving on posteriors built without a sampler (tests/fakes.py)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import xarray as xr

import populace as pp
from populace.data.inputs import load_inputs
from populace.posterior import Posterior
from tests.fakes import KNOWN_JOINT, example_spec, posterior_from_draws


def test_joint_has_sample_dims_then_attributes_with_declared_levels(fake_posterior) -> None:
    joint = fake_posterior.joint()
    spec = fake_posterior.spec
    assert joint.dims == ("chain", "draw", *spec.names)
    assert joint.shape == (2, 50, *spec.shape)
    for attr in spec.attributes:
        assert list(joint.coords[attr.name].values) == list(attr.levels)
    assert fake_posterior.n_samples == 100


@pytest.mark.parametrize("by", [None, ["region"], ["wage", "region"], ["education", "smsa", "ethnicity"]])
def test_every_draw_of_a_joint_sums_to_one(fake_posterior, by) -> None:
    totals = fake_posterior.joint(by).sum([d for d in fake_posterior.joint(by).dims if d not in ("chain", "draw")])
    np.testing.assert_allclose(totals.values, 1.0, rtol=1e-12)


def test_margin_follows_the_requested_order_not_the_declared_one(fake_posterior) -> None:
    names = fake_posterior.spec.names
    joint = fake_posterior.joint(["wage", "region"])
    assert joint.dims == ("chain", "draw", "wage", "region")
    p = fake_posterior.posterior["p"].values
    drop = tuple(2 + i for i, n in enumerate(names) if n not in ("wage", "region"))
    expected = p.sum(axis=drop).swapaxes(2, 3)  # (chain, draw, region, wage) -> wage first
    np.testing.assert_allclose(joint.values, expected, rtol=1e-12)
    assert list(joint.coords["wage"].values) == ["q1", "q2", "q3", "q4"]


@pytest.mark.parametrize("by", [["income"], ["region", "region"]])
def test_joint_refuses_unknown_or_repeated_attributes(fake_posterior, by) -> None:
    with pytest.raises(pp.DataError):
        fake_posterior.joint(by)


def test_summary_columns_and_rows_in_declared_order(fake_posterior) -> None:
    table = fake_posterior.summary(["region", "wage"])
    assert list(table.columns) == ["region", "wage", "mean", "sd", "lower", "upper"]
    spec = fake_posterior.spec
    expected = list(itertools.product(spec.attribute("region").levels, spec.attribute("wage").levels))
    assert list(zip(table["region"], table["wage"])) == expected


def test_summary_numbers_are_the_draws_mean_sd_and_quantiles(fake_posterior) -> None:
    table = fake_posterior.summary(["education"], prob=0.8)
    draws = fake_posterior.joint(["education"]).values.reshape(100, -1)
    np.testing.assert_allclose(table["mean"], draws.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(table["sd"], draws.std(axis=0, ddof=1), rtol=1e-12)
    lower, upper = np.quantile(draws, [0.1, 0.9], axis=0)
    np.testing.assert_allclose(table["lower"], lower, rtol=1e-12)
    np.testing.assert_allclose(table["upper"], upper, rtol=1e-12)


def test_intervals_hold_the_mean_and_widen_with_the_mass(fake_posterior) -> None:
    narrow = fake_posterior.summary(prob=0.5)
    wide = fake_posterior.summary(prob=0.95)
    for table in (narrow, wide):
        assert (table["lower"] <= table["mean"]).all() and (table["mean"] <= table["upper"]).all()
    assert (wide["lower"] <= narrow["lower"]).all() and (narrow["upper"] <= wide["upper"]).all()
    assert ((wide["upper"] - wide["lower"]) > (narrow["upper"] - narrow["lower"])).mean() > 0.9


def test_exact_margin_has_no_spread(fake_posterior) -> None:
    # wage.csv is an exact table: every draw meets it, so its interval is a point
    table = fake_posterior.summary(["wage"])
    inputs = load_inputs(fake_posterior.spec)
    wage = next(t for t in inputs.tables if t.source == "wage.csv")
    np.testing.assert_allclose(table["mean"], wage.counts / wage.total, atol=1e-12)
    assert table["sd"].max() < 1e-12


@pytest.mark.parametrize("prob", [0.0, 1.0, -0.1, 1.5])
def test_summary_refuses_a_mass_outside_zero_one(fake_posterior, prob) -> None:
    with pytest.raises(pp.DataError, match="prob"):
        fake_posterior.summary(["region"], prob=prob)


def test_known_joint_is_recovered_within_monte_carlo_error(known_posterior) -> None:
    table = known_posterior.summary()
    truth = KNOWN_JOINT.ravel()
    se = table["sd"].to_numpy() / np.sqrt(known_posterior.n_samples)
    assert (np.abs(table["mean"].to_numpy() - truth) < 5 * se).all()
    assert ((table["lower"] < truth) & (truth < table["upper"])).all()
    np.testing.assert_allclose(known_posterior.summary(["age"])["mean"], KNOWN_JOINT.sum(axis=0), atol=0.01)


def test_from_arrays_refuses_draws_without_the_joint_or_with_wrong_dims() -> None:
    spec = example_spec()
    inputs = load_inputs(spec)
    p = np.full((1, 2, *spec.shape), 1 / 512)
    meta = {"method": "nuts", "draws": 2, "chains": 1, "seed": 0}
    with pytest.raises(ValueError, match="'p'"):
        Posterior.from_arrays(spec=spec, inputs=inputs, variables={"q": (("chain", "draw"), p)}, meta=meta)
    reversed_dims = ("chain", "draw", *reversed(spec.names))
    with pytest.raises(ValueError, match="dims"):
        Posterior.from_arrays(spec=spec, inputs=inputs, variables={"p": (reversed_dims, p)}, meta=meta)


def test_save_and_load_round_trip(fake_posterior, tmp_path) -> None:
    path = fake_posterior.to_netcdf(tmp_path / "post.nc")
    assert path.is_file() and not list(tmp_path.glob("*.tmp*"))
    back = pp.load(path)
    xr.testing.assert_identical(back.posterior["p"], fake_posterior.posterior["p"])
    np.testing.assert_array_equal(back.sample_stats["diverging"], fake_posterior.sample_stats["diverging"])
    assert back.spec.names == fake_posterior.spec.names
    assert [a.levels for a in back.spec.attributes] == [a.levels for a in fake_posterior.spec.attributes]
    assert back.fit_info == fake_posterior.fit_info
    assert back.population == fake_posterior.population
    assert back.input_texts == fake_posterior.input_texts
    assert back.changed_inputs() == {}
    assert back.summary(["region", "smsa"]).equals(fake_posterior.summary(["region", "smsa"]))
    rebuilt = back.inputs()
    for a, b in zip(rebuilt.tables, load_inputs(fake_posterior.spec).tables):
        np.testing.assert_array_equal(a.counts, b.counts)


def test_in_memory_spec_round_trips_and_reports_no_missing_files(known_posterior, tmp_path) -> None:
    back = pp.load(known_posterior.to_netcdf(tmp_path / "known.nc"))
    assert back.changed_inputs() == {}
    np.testing.assert_array_equal(back.inputs().tables[0].counts, [520.0, 480.0])
    np.testing.assert_allclose(back.summary(["sex"])["mean"], [0.52, 0.48], atol=1e-12)


def test_load_refuses_missing_and_foreign_files(tmp_path) -> None:
    with pytest.raises(pp.DataError, match="no such posterior"):
        pp.load(tmp_path / "absent.nc")
    text = tmp_path / "notes.nc"
    text.write_text("not a posterior")
    with pytest.raises(pp.DataError, match="not a readable"):
        pp.load(text)
    foreign = tmp_path / "foreign.nc"
    root = xr.DataTree.from_dict(
        {"/": xr.Dataset(), "posterior": xr.Dataset({"x": ("a", [1.0])}), "sample_stats": xr.Dataset()}
    )
    root.to_netcdf(foreign, engine="h5netcdf")
    with pytest.raises(pp.DataError, match="no embedded spec"):
        pp.load(foreign)


def test_divergences_are_kept_per_chain_and_draw() -> None:
    spec = example_spec()
    inputs = load_inputs(spec)
    p = np.broadcast_to(np.full(spec.shape, 1 / 512), (2, 3, *spec.shape)).copy()
    post = posterior_from_draws(spec, inputs, p)
    assert post.sample_stats["diverging"].dims == ("chain", "draw")
    assert post.sample_stats["diverging"].shape == (2, 3)
