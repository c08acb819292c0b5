"""Projection of a joint distribution onto exact margins (iterative proportional fitting).

Inside the model the joint is projected onto the exact tables with a fixed number of
IPF sweeps, run by ``jax.lax.fori_loop`` so that it compiles in seconds and can be
differentiated. :func:`sweeps_needed` picks that number from the tables themselves.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Convergence tolerance of the projection (largest absolute error of a share); the
# contract asks exact tables to be met within 0.2 percentage points (2e-3).
PROJECTION_TOL = 1e-7
# Sweeps added on top of the measured need, as a margin for draws far from the start.
EXTRA_SWEEPS = 3
MAX_SWEEPS = 200
# Log-spread of the random starts that size the projection (stronger than typical
# posterior interactions, so the sweep count holds for draws far from the start).
START_SPREAD = 2.0


def _keep_shape(axes: tuple[int, ...], ndim: int) -> tuple[int, ...]:
    return tuple(a for a in range(ndim) if a not in axes)


def ipf_numpy(
    p: np.ndarray, targets: Sequence[tuple[tuple[int, ...], np.ndarray]], sweeps: int
) -> tuple[np.ndarray, float]:
    """Run ``sweeps`` IPF sweeps in NumPy; return the result and its largest margin error."""
    p = p / p.sum()
    for _ in range(sweeps):
        for axes, target in targets:
            drop = _keep_shape(axes, p.ndim)
            m = p.sum(axis=drop, keepdims=True)
            t = np.expand_dims(target, drop)
            p = p * np.where(m > 0, t / np.where(m > 0, m, 1.0), 0.0)
    return p, max_margin_error(p, targets)


def max_margin_error(p: np.ndarray, targets: Sequence[tuple[tuple[int, ...], np.ndarray]]) -> float:
    """Largest absolute difference between a margin of ``p`` and its target share."""
    err = 0.0
    for axes, target in targets:
        m = p.sum(axis=_keep_shape(axes, p.ndim))
        err = max(err, float(np.abs(m - target).max()))
    return err


def sweeps_needed(
    support: np.ndarray, targets: Sequence[tuple[tuple[int, ...], np.ndarray]], seed: int = 0, trials: int = 4
) -> int:
    """Number of sweeps that brings random log-linear joints within PROJECTION_TOL.

    Starts from the uniform joint on the support and from a few random ones (log-normal
    cell weights with spread ``START_SPREAD``), and returns twice the worst case plus
    ``EXTRA_SWEEPS``: with unit spread and no doubling, single posterior draws with
    strong interactions missed exact tables by up to 0.22 percentage points.
    """
    if not targets:
        return 0
    rng = np.random.default_rng(seed)
    worst = 1
    starts = [support.astype(float)] + [
        support * np.exp(START_SPREAD * rng.normal(size=support.shape)) for _ in range(trials)
    ]
    for start in starts:
        p = start / start.sum()
        for k in range(1, MAX_SWEEPS + 1):
            p, err = ipf_numpy(p, targets, 1)
            if err < PROJECTION_TOL:
                worst = max(worst, k)
                break
        else:
            return MAX_SWEEPS
    return min(2 * worst + EXTRA_SWEEPS, MAX_SWEEPS)


def ipf_jax(p, targets, sweeps: int):  # noqa: ANN001, ANN201 - jax arrays
    """Project ``p`` onto the target margins with ``sweeps`` IPF sweeps (JAX, differentiable)."""
    import jax
    import jax.numpy as jnp

    if not targets or sweeps == 0:
        return p

    def sweep(_, q):
        for axes, target in targets:
            drop = _keep_shape(axes, q.ndim)
            m = q.sum(axis=drop, keepdims=True)
            t = jnp.expand_dims(target, drop)
            positive = m > 0
            q = q * jnp.where(positive, t / jnp.where(positive, m, 1.0), 0.0)
        return q

    return jax.lax.fori_loop(0, sweeps, sweep, p)
