"""Structure and log density of the log-linear model."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import populace as pp
from populace.data.inputs import load_inputs
from populace.inference.backend import setup_jax
from populace.models.loglinear import build_loglinear, linear_predictor, term_basis
from populace.models.projection import ipf_numpy, max_margin_error
from populace.models.terms import GEOGRAPHY, MAIN, model_terms


def _spec(tmp_path, rules: str = "", geography: bool = False):
    (tmp_path / "ab.csv").write_text("a,b,count\na1,b1,30\na1,b2,20\na2,b1,10\na2,b2,40\n")
    (tmp_path / "c.csv").write_text("c,count\nc1,50\nc2,30\nc3,20\n")
    (tmp_path / "s.csv").write_text("a,b,c,w\na1,b1,c1,1\na2,b2,c3,2\na1,,c2,1\n")
    role = ", role: geography" if geography else ""
    (tmp_path / "spec.yaml").write_text(
        "attributes:\n"
        f"  a: {{levels: [a1, a2]{role}}}\n"
        "  b: {levels: [b1, b2]}\n"
        "  c: {levels: [c1, c2, c3], ordered: true}\n"
        "  d: {levels: [d1, d2]}\n"
        "marginals:\n  - file: ab.csv\n  - file: c.csv\n"
        "microdata: {file: s.csv, weight: w}\n" + rules
    )
    return pp.Spec.from_yaml(tmp_path / "spec.yaml")


def test_terms_inside_exact_tables_get_no_parameters(tmp_path) -> None:
    spec = _spec(tmp_path)
    terms = model_terms(spec, [(0, 1), (2,)])
    axes = {t.axes for t in terms}
    assert (0, 1) not in axes and (0,) not in axes and (2,) not in axes
    assert (3,) in axes and (0, 2) in axes and (0, 1, 2) in axes  # d's main effect, free pairs, triples
    assert all(t.kind != GEOGRAPHY for t in terms)


def test_geography_adds_area_varying_pairs(tmp_path) -> None:
    spec = dataclasses.replace(_spec(tmp_path, geography=True), model=pp.ModelOptions(interactions=2))
    terms = model_terms(spec, [(0, 1), (2,)])
    geo = {t.axes for t in terms if t.kind == GEOGRAPHY}
    # every pair of the other attributes varies by area a, pooled toward the national pair
    assert geo == {(0, 1, 2), (0, 1, 3), (0, 2, 3)}


def test_term_basis_is_centred_and_smooth_along_ordered_axes() -> None:
    basis = term_basis((3, 4), (False, True))
    assert basis.shape == (2 * 3, 3, 4)  # one coordinate per free direction
    np.testing.assert_allclose(basis.sum(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(basis.sum(axis=2), 0, atol=1e-12)
    # a unit shock at ordered level 1 moves levels 1..3 together (a random walk step)
    effect = basis[0]
    assert effect[0, 1] == pytest.approx(effect[0, 3])
    assert effect[0, 0] != pytest.approx(effect[0, 1])


@pytest.mark.parametrize("ordered", [(False, True), (True, True), (False, False)])
def test_term_basis_gives_the_prior_of_centred_standard_normals(ordered) -> None:
    # The prior on effects is that of i.i.d. standard normals cumulated along ordered axes
    # and then centred along every axis: same covariance, fewer coordinates.
    shape = (3, 4)
    full = np.eye(12).reshape(12, *shape)
    for i, is_ordered in enumerate(ordered):
        if is_ordered:
            full = np.cumsum(full, axis=i + 1) / np.sqrt(shape[i])
    for i in range(len(shape)):
        full = full - full.mean(axis=i + 1, keepdims=True)
    full = full.reshape(12, -1)
    reduced = term_basis(shape, ordered).reshape(-1, 12)
    np.testing.assert_allclose(reduced.T @ reduced, full.T @ full, atol=1e-12)


def test_design_matrix_equals_term_by_term_predictor(tmp_path) -> None:
    setup_jax(1)
    spec = _spec(tmp_path)
    model = build_loglinear(load_inputs(spec))
    assert model.design is not None
    effects = np.random.default_rng(0).normal(size=model.n_effects)
    dense = np.asarray(linear_predictor(model, effects))
    loop = np.asarray(linear_predictor(dataclasses.replace(model, design=None), effects))
    np.testing.assert_allclose(dense, loop, atol=1e-12)


def _trace(model, seed: int):
    from numpyro import handlers

    return handlers.trace(handlers.seed(model.model, seed)).get_trace()


def test_every_prior_draw_meets_exact_tables_and_rules(tmp_path) -> None:
    setup_jax(1)
    rules = "rules:\n  - {a: a2, d: d2}\n"
    spec = _spec(tmp_path, rules=rules)
    inputs = load_inputs(spec)
    model = build_loglinear(inputs)
    for seed in range(5):
        p = np.asarray(_trace(model, seed)["p"]["value"])
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
        np.testing.assert_allclose(p.sum(axis=(2, 3)), np.array([[30, 20], [10, 40]]) / 100, atol=1e-7)
        np.testing.assert_allclose(p.sum(axis=(0, 1, 3)), [0.5, 0.3, 0.2], atol=1e-7)
        assert (p[1, :, :, 1] == 0).all()


def test_microdata_term_is_the_weighted_log_likelihood(tmp_path) -> None:
    setup_jax(1)
    spec = _spec(tmp_path)
    inputs = load_inputs(spec)
    model = build_loglinear(inputs)
    trace = _trace(model, 0)
    p = np.asarray(trace["p"]["value"])
    # rows: (a1,b1,c1) w=1, (a2,b2,c3) w=2, (a1,-,c2) w=1; Kish n_eff = 16/6, weights scaled to it
    scale = (16 / 6) / 4
    expected = scale * (np.log(p[0, 0, 0].sum()) + 2 * np.log(p[1, 1, 2].sum()) + np.log(p[0, :, 1].sum()))
    got = float(trace["microdata"]["fn"].log_prob(trace["microdata"]["value"]))
    assert got == pytest.approx(expected, rel=1e-9)
    assert MAIN in {t.kind for t in model.terms}
    assert model.unrolled_sweeps == 0 and "projection_gap" not in trace
    # with unrolled sweeps, the likelihood is that of the cheaper projection, close to p
    unrolled = dataclasses.replace(model, unrolled_sweeps=5)
    trace = _trace(unrolled, 0)
    p = np.asarray(trace["p"]["value"])
    expected = scale * (np.log(p[0, 0, 0].sum()) + 2 * np.log(p[1, 1, 2].sum()) + np.log(p[0, :, 1].sum()))
    got = float(trace["microdata"]["fn"].log_prob(trace["microdata"]["value"]))
    assert got == pytest.approx(expected, rel=1e-6)
    assert "projection_gap" in trace


def test_recorded_gap_is_the_sampler_projections_miss_and_p_meets_the_tables(tmp_path) -> None:
    import jax.numpy as jnp

    setup_jax(1)
    # tables a x b and b x c overlap on b: IPF needs more than one sweep
    (tmp_path / "bc.csv").write_text("b,c,count\nb1,c1,10\nb1,c2,20\nb1,c3,10\nb2,c1,40\nb2,c2,10\nb2,c3,10\n")
    _spec(tmp_path)
    text = (tmp_path / "spec.yaml").read_text().replace("  - file: c.csv", "  - file: bc.csv")
    (tmp_path / "spec.yaml").write_text(text)
    model = dataclasses.replace(
        build_loglinear(load_inputs(pp.Spec.from_yaml(tmp_path / "spec.yaml"))), unrolled_sweeps=5
    )
    effects = jnp.asarray(np.random.default_rng(0).normal(scale=2.0, size=model.n_effects))
    p, gap, _ = model._joint_from(effects, None, ())
    eta = np.asarray(linear_predictor(model, effects))
    start = np.exp(eta - eta.max())
    unrolled, _ = ipf_numpy(start / start.sum(), list(model.exact), model.unrolled_sweeps)
    # the miss after the sweeps, measured in NumPy (ipf_numpy reports the last sweep's change)
    direct = max_margin_error(unrolled, list(model.exact))
    assert float(gap) == pytest.approx(direct, rel=1e-6)
    assert 1e-9 < float(gap) < 2e-3
    p = np.asarray(p)
    for axes, target in model.exact:
        np.testing.assert_allclose(p.sum(axis=tuple(i for i in range(4) if i not in axes)), target, atol=1e-7)
