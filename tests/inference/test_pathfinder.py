"""Pathfinder scored point by point: recovers a known Gaussian, matches BlackJAX, is reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from populace.inference.backend import setup_jax
from populace.inference.pathfinder import approximate


@pytest.fixture(scope="module")
def jax():  # noqa: ANN201 - the module
    setup_jax(1)
    import jax

    return jax


def _gaussian(jax):  # noqa: ANN001, ANN202 - jax module, functions of jax arrays
    jnp = jax.numpy
    mean = jnp.array([1.0, -2.0, 0.5, 3.0])
    root = jnp.array([[1.0, 0.0, 0.0, 0.0], [0.6, 0.8, 0.0, 0.0], [-0.3, 0.2, 0.5, 0.0], [0.1, -0.4, 0.3, 1.5]])
    cov = root @ root.T
    precision = jnp.linalg.inv(cov)

    def logdensity(x):  # noqa: ANN001, ANN202 - jax arrays
        return -0.5 * (x - mean) @ precision @ (x - mean)

    return logdensity, mean, cov


def _logistic(jax):  # noqa: ANN001, ANN202 - jax module, function of jax arrays
    """Posterior of a 3-coefficient logistic regression on 40 simulated rows (not Gaussian)."""
    jnp = jax.numpy
    rng = np.random.default_rng(1)
    design = jnp.asarray(rng.normal(size=(40, 3)))
    y = jnp.asarray(rng.random(40) < 1 / (1 + np.exp(-np.asarray(design) @ [1.5, -1.0, 0.5])))

    def logdensity(beta):  # noqa: ANN001, ANN202 - jax arrays
        eta = design @ beta
        return jnp.sum(jnp.where(y, -jnp.logaddexp(0.0, -eta), -jnp.logaddexp(0.0, eta))) - 0.5 * beta @ beta

    return logdensity


def test_finds_a_correlated_gaussian_and_bounds_its_log_normaliser(jax) -> None:
    import blackjax

    logdensity, mean, cov = _gaussian(jax)
    state, elbo = approximate(jax.random.PRNGKey(0), logdensity, jax.numpy.zeros(4), maxiter=50)
    assert float(state.elbo) == float(elbo.max())
    # ELBO = log Z - KL(q || target) <= log Z of the unnormalised density. Pathfinder's
    # low-rank covariance is rough after a few L-BFGS steps (here KL ~ 0.3), not exact.
    log_z = 0.5 * float(jax.numpy.linalg.slogdet(2 * np.pi * cov)[1])
    assert 0.0 < log_z - float(state.elbo) < 0.5
    draws, _ = blackjax.vi.pathfinder.sample(jax.random.PRNGKey(1), state, 40_000)
    np.testing.assert_allclose(np.mean(draws, axis=0), mean, atol=0.03)
    assert np.all(np.std(draws, axis=0) > 0.3 * np.sqrt(np.diag(cov)))


def test_matches_blackjax_when_draws_are_scored_in_batches(jax) -> None:
    import blackjax

    logdensity = _logistic(jax)
    key, x0 = jax.random.PRNGKey(3), jax.numpy.zeros(3)
    ours, elbo = approximate(key, logdensity, x0, maxiter=30, batch_size=7)
    theirs, info = blackjax.vi.pathfinder.approximate(key, logdensity, x0, maxiter=30)
    assert np.isfinite(elbo).sum() >= 5  # a real path was scored
    np.testing.assert_allclose(elbo, info.path.elbo, rtol=1e-10)  # -inf (not scored) where BlackJAX has it
    for field in ("elbo", "position", "grad_position", "alpha", "beta", "gamma"):
        np.testing.assert_allclose(getattr(ours, field), getattr(theirs, field), rtol=1e-9, atol=1e-12)


def test_same_key_same_result_other_key_differs(jax) -> None:
    logdensity = _logistic(jax)
    x0 = jax.numpy.zeros(3)
    first = approximate(jax.random.PRNGKey(5), logdensity, x0, maxiter=30, batch_size=50)[1]
    again = approximate(jax.random.PRNGKey(5), logdensity, x0, maxiter=30, batch_size=50)[1]
    other = approximate(jax.random.PRNGKey(6), logdensity, x0, maxiter=30, batch_size=50)[1]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
