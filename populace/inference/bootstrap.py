"""The posterior bootstrap: each draw the posterior mode under random weights on the sample's rows.

The weighted likelihood bootstrap (Newton and Raftery, 1994), with the prior kept as a
penalty as in the posterior bootstrap of Fong, Lyddon and Holmes (2019): draw ``b`` is
the minimiser of ``U_b(theta) = -sum_i g_bi log p(x_i | theta) - log p(theta)``, where
``g_bi ~ Gamma(w_i, 1)`` (the sum of ``w_i`` Bayesian-bootstrap weights ``Exp(1)``, one
per person that row ``i`` stands for). The published tables are met in every draw,
because the model's projection meets them for any parameters.

Each draw is found by **one Newton step** from the posterior mode,
``theta_b = mode - H^-1 grad U_b(mode)``, with ``H`` the Hessian at the mode: the mode by
L-BFGS once, the dense Hessian once (a Hessian-vector product per parameter), then a
gradient per draw. A full L-BFGS refit per draw would follow curvature beyond second
order, at hundreds of gradients per draw instead of one.

Why: a latent-class model's posterior is multimodal (class labels swap) and strongly
curved, and NUTS and ADVI took over an hour on adult's 5% sample (BENCHMARKS.md, many
attributes). The bootstrap stays in one labelling, and its spread is the sampling spread
of the estimate (the sandwich covariance), which stays honest about variance when the
model is misspecified, where the Bayesian posterior is too narrow. It cannot widen for
the model's bias: measured on a known 2-class truth its 90% intervals cover 91% of pair
cells, on adult (a real population that no finite class model holds) far fewer
(BENCHMARKS.md).

It needs a model whose ``model`` function takes ``weights`` (one per sample row): the
``decomposable`` kind.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from populace.errors import FitError

# L-BFGS iterations to the posterior mode (adult, 5% sample, 4 classes: 582).
MODE_ITERATIONS = 3000
# Restarts of L-BFGS with an empty memory after a failed line search.
RESTARTS = 20
# Most parameters: the Hessian is dense (one gradient-sized product per parameter).
MAX_PARAMETERS = 5000
# Hessian-vector products and draws' gradients evaluated together (bounds memory).
HESSIAN_BATCH = 16
DRAW_BATCH = 32
# Eigenvalues of the Hessian below this fraction of the largest (in size) are raised to
# it (a direction the data and prior leave flat would otherwise take an unbounded step).
EIGEN_FLOOR = 1e-8


@dataclasses.dataclass(frozen=True, kw_only=True)
class Solution:
    """One L-BFGS run: where it ended, its objective, iterations and whether it converged."""

    x: np.ndarray
    value: float
    iterations: int
    converged: bool


def weighted_potential(model: Any, seed: int) -> tuple[np.ndarray, Any, Any]:
    """The start point, ``unravel`` and a jitted ``(x, weights) -> (value, gradient)`` of the negative log density.

    Raises
    ------
    FitError
        When the model takes no row weights (it has no sample, or its kind does not support it).
    """
    import jax
    from jax.flatten_util import ravel_pytree
    from numpyro.infer.util import initialize_model, potential_energy

    if getattr(model, "weights", None) is None:
        raise FitError(
            "method 'bootstrap' reweights the sample's rows: it needs microdata and the decomposable model kind"
        )
    info = initialize_model(jax.random.PRNGKey(seed), model.model)
    flat, unravel = ravel_pytree(info.param_info.z)

    def potential(x, weights):  # noqa: ANN001, ANN202 - jax arrays
        return potential_energy(model.model, (), {"weights": weights}, unravel(x))

    return np.asarray(flat, dtype=float), unravel, jax.jit(jax.value_and_grad(potential))


def minimise(value_and_grad: Any, start: np.ndarray, weights: Any, iterations: int) -> Solution:
    """L-BFGS (SciPy) on the weighted potential from ``start``; a non-finite point counts as very bad.

    L-BFGS can stop on a failed line search far from the mode: its curvature memory asks
    for a long step into a region where a sampled row's probability underflows (adult, 5%
    sample, the tree: stopped after 15 iterations with a gradient norm of 948). It is then
    restarted from where it stopped with an empty memory, up to :data:`RESTARTS` times,
    while each run still lowers the potential.
    """
    import jax.numpy as jnp
    import scipy.optimize

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = value_and_grad(jnp.asarray(x), weights)
        value, grad = float(value), np.asarray(grad, dtype=float)
        if not np.isfinite(value) or not np.isfinite(grad).all():  # outside where the projection converges
            return 1e12, np.zeros_like(grad)
        return value, grad

    x, value, used = np.asarray(start, dtype=float), np.inf, 0
    for _ in range(RESTARTS + 1):
        result = scipy.optimize.minimize(
            objective, x, jac=True, method="L-BFGS-B", options={"maxiter": max(iterations - used, 1)}
        )
        used += int(result.nit)
        improved = float(result.fun) < value - 1e-9 * max(abs(value), 1.0) if np.isfinite(value) else True
        x, value = result.x, min(value, float(result.fun))
        if result.success or not improved or used >= iterations:
            break
    return Solution(x=x, value=value, iterations=used, converged=bool(result.success))


def hessian(value_and_grad: Any, x: np.ndarray, weights: Any, *, batch: int = HESSIAN_BATCH) -> np.ndarray:
    """The symmetrised Hessian of the weighted potential at ``x``: a Hessian-vector product per parameter."""
    import jax
    import jax.numpy as jnp

    point = jnp.asarray(x)

    def gradient(y):  # noqa: ANN001, ANN202 - jax arrays
        return value_and_grad(y, weights)[1]

    def column(v):  # noqa: ANN001, ANN202 - jax arrays
        return jax.jvp(gradient, (point,), (v,))[1]

    columns = jax.jit(lambda basis: jax.lax.map(column, basis, batch_size=batch))(jnp.eye(point.size))
    h = np.asarray(columns, dtype=float)
    return 0.5 * (h + h.T)


def one_step_draws(
    value_and_grad: Any,
    mode: np.ndarray,
    inverse: np.ndarray,
    row_weights: np.ndarray,
    n: int,
    seed: int,
    measured: np.ndarray | None = None,
) -> np.ndarray:
    """``n`` bootstrap draws by one Newton step from the mode: ``mode - H^-1 grad U_b(mode)``.

    ``U_b`` is the potential with each distinct row's weight ``w_i`` replaced by a
    ``Gamma(w_i, 1)`` draw: the sum of ``w_i`` Bayesian-bootstrap weights ``Exp(1)``, one
    per person the row stands for. ``measured`` marks (1) the coordinates that are a
    published estimate's standardised error (``eps`` of a table with an ``se`` column,
    prior ``Normal(0, 1)``): the estimate is redrawn too, ``Normal(0, 1)`` moving that
    prior's centre, so the draws carry the tables' sampling error as well as the sample's.
    """
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng([seed, n])
    gammas = rng.gamma(np.asarray(row_weights, dtype=float), size=(n, len(row_weights)))
    point = jnp.asarray(mode)
    gradients = jax.jit(lambda g: jax.lax.map(lambda w: value_and_grad(point, w)[1], g, batch_size=DRAW_BATCH))(
        jnp.asarray(gammas)
    )
    gradients = np.asarray(gradients, dtype=float)
    if measured is not None and measured.any():
        gradients = gradients - np.random.default_rng([seed, n, 1]).standard_normal(gradients.shape) * measured
    return np.asarray(mode)[None, :] - gradients @ inverse.T


def measured_coordinates(unravel: Any, size: int) -> np.ndarray:
    """1 at the flat coordinates of every ``eps[...]`` site (a table's standardised error), 0 elsewhere."""
    import jax.numpy as jnp
    from jax.flatten_util import ravel_pytree

    sites = unravel(jnp.zeros(size))
    marks = {k: jnp.full(jnp.shape(v), 1.0 if k.startswith("eps[") else 0.0) for k, v in sites.items()}
    return np.asarray(ravel_pytree(marks)[0], dtype=float)


def inverse_hessian(h: np.ndarray) -> tuple[np.ndarray, float]:
    """``|H|^-1`` and the least eigenvalue of ``H``.

    Each eigenvalue is taken by its size and floored at :data:`EIGEN_FLOOR` times the
    largest: where L-BFGS stopped just off the mode (a direction of negative curvature),
    the step goes down that direction's slope by the curvature's size instead of up it
    without bound (adult, 5% sample, 8 classes: one eigenvalue of -0.65 among 1,000
    parameters, whose floored inverse sent every draw to NaN).

    Examples
    --------
    >>> inverse, least = inverse_hessian(np.diag([4.0, -0.5]))
    >>> np.diag(inverse).tolist(), least
    ([0.25, 2.0], -0.5)
    """
    values, vectors = np.linalg.eigh(h)
    size = np.abs(values)
    floored = np.maximum(size, size.max() * EIGEN_FLOOR)
    return (vectors / floored) @ vectors.T, float(values.min())
