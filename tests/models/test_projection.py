"""The projection onto exact margins: NumPy and JAX agree, margins are met, gradients flow."""

from __future__ import annotations

import numpy as np
import pytest

from populace.inference.backend import setup_jax
from populace.models.projection import PROJECTION_TOL, ipf_jax, ipf_numpy, max_margin_error, sweeps_needed


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


def test_sweeps_needed_brings_random_joints_within_tolerance(problem) -> None:
    truth, targets = problem
    support = np.ones(truth.shape, dtype=bool)
    sweeps = sweeps_needed(support, targets, seed=1)
    rng = np.random.default_rng(5)
    start = np.exp(rng.normal(size=truth.shape))
    p, err = ipf_numpy(start, targets, sweeps)
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
