"""The projection onto exact margins: NumPy and JAX agree, margins are met, gradients flow."""

from __future__ import annotations

import numpy as np
import pytest

from populace.inference.backend import setup_jax
from populace.models.projection import PROJECTION_TOL, ipf_jax, ipf_numpy, max_margin_error


def _targets(truth: np.ndarray, sets: list[tuple[int, ...]]) -> list[tuple[tuple[int, ...], np.ndarray]]:
    out = []
    for axes in sets:
        drop = tuple(a for a in range(truth.ndim) if a not in axes)
        out.append((axes, truth.sum(axis=drop)))
    return out


@pytest.fixture
def problem() -> tuple[np.ndarray, list]:
    rng = np.random.default_rng(0)
    truth = rng.dirichlet(np.ones(3 * 4 * 2 * 3)).reshape(3, 4, 2, 3)
    # a cycle (0,1)-(1,2)-(0,2) makes the set non-decomposable: IPF needs several sweeps
    return truth, _targets(truth, [(0, 1), (1, 2), (0, 2), (3,)])


def test_numpy_ipf_meets_a_non_decomposable_set(problem) -> None:
    truth, targets = problem
    rng = np.random.default_rng(5)
    start = np.exp(rng.normal(size=truth.shape))
    p, err = ipf_numpy(start, targets, 100)
    assert err < 10 * PROJECTION_TOL
    assert abs(p.sum() - 1) < 1e-9
    # one sweep is not enough for this non-decomposable set
    assert ipf_numpy(start, targets, 1)[1] > 1e-4


def test_projection_keeps_the_odds_ratios_the_margins_leave_free(problem) -> None:
    truth, targets = problem
    rng = np.random.default_rng(2)
    start = rng.dirichlet(np.ones(truth.size)).reshape(truth.shape)
    p, _ = ipf_numpy(start, _targets(truth, [(0,), (1,), (2,), (3,)]), 50)

    # IPF scales rows and columns: every 2x2 odds ratio of the start is preserved
    def odds(x: np.ndarray) -> float:
        return x[0, 0, 0, 0] * x[1, 1, 0, 0] / (x[0, 1, 0, 0] * x[1, 0, 0, 0])

    assert odds(p) == pytest.approx(odds(start), rel=1e-9)


def test_jax_projection_matches_numpy_and_is_differentiable(problem) -> None:
    setup_jax(1)
    import jax
    import jax.numpy as jnp

    truth, targets = problem
    rng = np.random.default_rng(3)
    start = rng.dirichlet(np.ones(truth.size)).reshape(truth.shape)
    expected, _ = ipf_numpy(start, targets, 7)
    got = ipf_jax(jnp.asarray(start), [(a, jnp.asarray(t)) for a, t in targets], 7)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-10, atol=1e-14)

    def loss(logits):
        q = jax.nn.softmax(logits.ravel()).reshape(truth.shape)
        return jnp.sum(jnp.log(ipf_jax(q, [(a, jnp.asarray(t)) for a, t in targets], 7)) * truth)

    grad = jax.grad(loss)(jnp.asarray(np.log(start)))
    assert np.isfinite(np.asarray(grad)).all()
    assert float(jnp.abs(grad).max()) > 0


def test_zero_targets_stay_zero_without_nan() -> None:
    truth = np.array([[0.3, 0.2], [0.5, 0.0]])
    targets = _targets(truth, [(0, 1)])
    p, err = ipf_numpy(np.full((2, 2), 0.25), targets, 3)
    assert err < 1e-12
    assert p[1, 1] == 0.0
    assert max_margin_error(p, targets) < 1e-12


@pytest.mark.parametrize(
    "sets",
    [
        [(0, 1), (1, 2), (0, 2), (3,)],  # no attribute in every table: one block
        [(0, 1), (0, 2), (0, 1, 3)],  # attribute 0 in every table (an area): 3 blocks, tables overlapping on 1
    ],
)
def test_project_meets_margins_and_its_implicit_gradient_matches_unrolled_ipf(problem, sets) -> None:
    setup_jax(1)
    import jax
    import jax.numpy as jnp

    from populace.models.projection import project

    truth, _ = problem
    truth = truth.copy()
    truth[0, 0] = 0.0  # a structural zero: -inf weights that must stay zero
    truth /= truth.sum()
    support = truth > 0
    rng = np.random.default_rng(4)
    x = jnp.asarray(np.where(support, rng.normal(size=truth.shape), -np.inf))
    shares = [jnp.asarray(t) for _, t in _targets(truth, sets)]
    weight = jnp.asarray(rng.normal(size=truth.shape))

    def loss(project_fn, logits, targets):  # noqa: ANN001, ANN202
        p = project_fn(logits, list(zip(sets, targets)))
        return jnp.sum(jnp.where(support, jnp.log(jnp.where(support, p, 1.0)), 0.0) * weight) + jnp.sum(p**2)

    def unrolled(logits, targets):  # noqa: ANN001, ANN202
        q = ipf_jax(jax.nn.softmax(logits.reshape(-1)).reshape(truth.shape), targets, 300)
        return q / q.sum()

    p = np.asarray(project(x, list(zip(sets, shares))))
    assert max_margin_error(p, _targets(truth, sets)) < 10 * PROJECTION_TOL
    assert np.all(p[~support] == 0.0)
    ours = jax.grad(lambda a, b: loss(project, a, b), argnums=(0, 1))(x, shares)
    reference = jax.grad(lambda a, b: loss(unrolled, a, b), argnums=(0, 1))(x, shares)
    np.testing.assert_allclose(np.where(support, ours[0], 0), np.where(support, reference[0], 0), atol=1e-4)
    # target gradients are defined up to directions that break consistency: compare
    # them along a consistent change of the targets (the margins of a nearby joint)
    nearby = truth * np.exp(0.05 * rng.normal(size=truth.shape))
    pairs = zip(_targets(truth, sets), _targets(nearby / nearby.sum(), sets))
    change = [jnp.asarray(b - a) for (_, a), (_, b) in pairs]
    along = [sum(float(jnp.sum(g * d)) for g, d in zip(grads[1], change)) for grads in (ours, reference)]
    assert along[0] == pytest.approx(along[1], rel=1e-4)
    assert abs(along[0]) > 1e-3
