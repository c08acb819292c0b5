"""Pathfinder with memory that does not grow with the path: score one path point at a time.

Pathfinder (Zhang et al. 2022, Algorithm 1) runs L-BFGS, builds a Gaussian at every point
of its path from the inverse-Hessian estimate, estimates each Gaussian's ELBO with a few
draws, and keeps the Gaussian with the largest. ``blackjax.vi.pathfinder.approximate``
estimates all ``maxiter + 1`` ELBOs in one vmapped batch, so every intermediate of the log
density exists ``(maxiter + 1) * num_samples`` times (3 GiB per array at 10,000 cells).

:func:`approximate` runs the same algorithm from BlackJAX's own pieces (its L-BFGS path,
inverse-Hessian factors and Gaussian draws, with the same random keys), but scores the
path points in sequence (``jax.lax.map``), each point's draws in batches of at most
``batch_size``, and skips the points after L-BFGS stopped (BlackJAX gives them an ELBO of
``-inf``). Peak memory is one batch of draws, whatever the path length; the chosen
Gaussian is BlackJAX's up to rounding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Draws per path point for the ELBO estimate: BlackJAX's default ``num_samples``, kept so
# that results match what ``blackjax.vi.pathfinder.approximate`` gave before.
ELBO_DRAWS = 200
# L-BFGS settings: BlackJAX's defaults for Pathfinder (history size, gradient and relative
# objective tolerances, line-search steps).
LBFGS_HISTORY = 10
LBFGS_GTOL = 1e-8
LBFGS_FTOL = 1e-5
LBFGS_MAXLS = 1000
# Most draws x cells whose log density is evaluated in one vmapped batch (2e6: 16 MB per
# float64 intermediate; all 200 draws of a point at once up to 10,000 cells, 20 at a time
# at 100,000).
ELBO_BATCH_CELLS = 2_000_000


def elbo_batch_size(cells: int) -> int:
    """Draws of one path point scored in one vmapped batch on a grid of ``cells`` cells.

    Parameters
    ----------
    cells
        Cells of the grid: every intermediate of the log density is about this large.

    Returns
    -------
    int
        ``ELBO_BATCH_CELLS // cells``, between 1 and :data:`ELBO_DRAWS`.

    Examples
    --------
    >>> elbo_batch_size(10_000), elbo_batch_size(100_000), elbo_batch_size(10**8)
    (200, 20, 1)
    """
    return max(1, min(ELBO_DRAWS, ELBO_BATCH_CELLS // cells))


def approximate(
    key: Any,
    logdensity: Callable[[Any], Any],
    x0: Any,
    *,
    maxiter: int,
    num_draws: int = ELBO_DRAWS,
    batch_size: int | None = None,
) -> tuple[Any, Any]:
    """Run Pathfinder and return the Gaussian with the largest ELBO along the L-BFGS path.

    Parameters
    ----------
    key
        JAX random key for the ELBO draws (split into one key per path point, as BlackJAX
        does).
    logdensity
        Unnormalised log density of a flat parameter vector.
    x0
        Flat starting point of L-BFGS.
    maxiter
        Most L-BFGS iterations; the path has ``maxiter + 1`` points.
    num_draws
        Draws per path point with which its ELBO is estimated.
    batch_size
        Most draws whose log density is evaluated in one vmapped batch (``None``: all
        ``num_draws`` of a point at once). Bounds peak memory.

    Returns
    -------
    (blackjax.vi.pathfinder.PathfinderState, jax.Array)
        The chosen Gaussian (``elbo``, ``position``, ``grad_position``, ``alpha``,
        ``beta``, ``gamma``; draw from it with ``blackjax.vi.pathfinder.sample``), and the
        ELBO estimate of every path point (``-inf`` where not scored or not finite).

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> logdensity = lambda x: -0.5 * jnp.sum(x**2)
    >>> state, elbo = approximate(jax.random.PRNGKey(0), logdensity, jnp.ones(3), maxiter=20)
    >>> bool(jnp.allclose(state.position, 0.0, atol=1e-3)) and elbo.shape == (21,)
    True
    """
    import jax

    return jax.jit(_approximate, static_argnums=(1, 3, 4, 5))(key, logdensity, x0, maxiter, num_draws, batch_size)


def _approximate(
    key: Any, logdensity: Callable[[Any], Any], x0: Any, maxiter: int, num_draws: int, batch_size: int | None
) -> tuple[Any, Any]:
    import jax
    import jax.numpy as jnp
    from blackjax.optimizers.lbfgs import minimize_lbfgs
    from blackjax.vi.pathfinder import PathfinderState

    (_, status), path = minimize_lbfgs(
        lambda x: -logdensity(x),
        x0,
        maxiter=maxiter,
        maxcor=LBFGS_HISTORY,
        gtol=LBFGS_GTOL,
        ftol=LBFGS_FTOL,
        maxls=LBFGS_MAXLS,
    )
    factors = _factor_fn(path)

    def score(i, point_key):  # noqa: ANN001, ANN202 - jax arrays
        return _point_elbo(logdensity, path, factors(i), i, point_key, num_draws, batch_size)

    def skip(i, point_key):  # noqa: ANN001, ANN202 - jax arrays
        return jnp.asarray(-jnp.inf, dtype=path.f.dtype)

    points = jnp.arange(maxiter + 1)
    # BlackJAX scores points 0 .. iter_num - 1; later rows repeat the last L-BFGS state.
    elbo = jax.lax.map(
        lambda args: jax.lax.cond(args[0] < status.iter_num, score, skip, *args),
        (points, jax.random.split(key, maxiter + 1)),
    )
    elbo = jnp.where(jnp.isfinite(elbo), elbo, -jnp.inf)
    best = jnp.argmax(elbo)
    beta, gamma = factors(best)
    state = PathfinderState(elbo[best], path.x[best], path.g[best], path.alpha[best], beta, gamma)
    return state, elbo


def _factor_fn(path: Any) -> Callable[[Any], tuple[Any, Any]]:
    """Inverse-Hessian factors ``(beta, gamma)`` of path point ``i`` (Zhang et al., eq. II.2).

    Built from the last :data:`LBFGS_HISTORY` position and gradient updates up to point
    ``i`` that L-BFGS accepted (rejected ones are zero), zero-padded at the start.
    """
    import jax
    import jax.numpy as jnp
    from blackjax.optimizers.lbfgs import lbfgs_inverse_hessian_factors

    accepted = path.update_mask[1:]
    pad = ((LBFGS_HISTORY, 0), (0, 0))
    s = jnp.pad(jnp.where(accepted, jnp.diff(path.x, axis=0), 0.0), pad)
    z = jnp.pad(jnp.where(accepted, jnp.diff(path.g, axis=0), 0.0), pad)
    dim = path.x.shape[1]

    def factors(i):  # noqa: ANN001, ANN202 - jax arrays
        window_s = jax.lax.dynamic_slice(s, (i, 0), (LBFGS_HISTORY, dim))
        window_z = jax.lax.dynamic_slice(z, (i, 0), (LBFGS_HISTORY, dim))
        return lbfgs_inverse_hessian_factors(window_s.T, window_z.T, path.alpha[i])

    return factors


def _point_elbo(
    logdensity: Callable[[Any], Any],
    path: Any,
    factors: tuple[Any, Any],
    i: Any,
    key: Any,
    num_draws: int,
    batch_size: int | None,
) -> Any:
    """ELBO estimate of the Gaussian at path point ``i``: mean of ``log p - log q`` over draws."""
    import jax
    from blackjax.optimizers.lbfgs import bfgs_sample

    beta, gamma = factors
    draws, logq = bfgs_sample(key, num_draws, path.x[i], path.g[i], path.alpha[i], beta, gamma)
    logp = jax.lax.map(logdensity, draws, batch_size=min(batch_size or num_draws, num_draws))
    return (logp - logq).mean()
