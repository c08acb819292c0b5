"""The inference methods, one object each, in one map read by the spec, ``fit`` and the CLI.

A method is anything with a ``name``, a one-line ``summary``, an ``mcmc`` flag (whether
chains can be compared: R-hat and divergences apply) and ``run(model, *, draws, chains,
seed, progress) -> Draws``. ``model`` is a built :class:`populace.models.base.Model`:
a method only calls its NumPyro ``model`` function and returns the sites it
``recorded``. Add one with :func:`register_method`.

Methods
-------
nuts
    NumPyro's No-U-Turn sampler, one chain per host device, in parallel (vectorised on
    one device above :data:`PARALLEL_CELL_LIMIT` cells). The default: calibrated
    intervals (BENCHMARKS.md).
advi
    Full-rank Gaussian variational inference (NumPyro SVI). On the benchmark tasks its
    intervals were close to nominal but it was not faster than NUTS (BENCHMARKS.md);
    its cost grows more slowly with the number of cells. Mean-field ADVI covered 59% of
    cells at 90% in the prototype (DESIGN.md section 5), so it is not offered.
pathfinder
    Pathfinder (quasi-Newton path, best Gaussian along it) from BlackJAX's pieces, its path
    scored one point at a time so memory does not grow with the path
    (:mod:`populace.inference.pathfinder`). The quickest; a rough first look: its
    intervals are too narrow (41-89% coverage at 90%).
bootstrap
    The posterior bootstrap (:mod:`populace.inference.bootstrap`): each draw the posterior
    mode under random weights on the sample's rows, by one Newton step from the mode.
    For the ``decomposable`` kind with a sample, where NUTS is too slow for latent classes.

Examples
--------
>>> sorted(METHODS)
['advi', 'bootstrap', 'nuts', 'pathfinder']
>>> METHODS["nuts"].mcmc, METHODS["advi"].mcmc
(True, False)
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any, Protocol

import numpy as np

from populace.errors import FitError
from populace.inference.backend import setup_jax
from populace.progress import bars

# NUTS target acceptance. At NumPyro's default 0.8, tasks with larger samples (n_eff
# 1,400-2,500) left 2-7 divergences; 0.9 cut the worst case (CPS 1988, 5% sample) from 7
# to 1 and 0.95 to 0 at 25% more leapfrog steps. A dense mass matrix was far slower.
TARGET_ACCEPT = 0.9
# Variational fits: optimiser steps and learning rate (Adam), measured to converge on the
# 512-cell example (the ELBO changes by < 0.1% over the last 1,000 steps).
ADVI_STEPS = 6000
ADVI_LEARNING_RATE = 0.01
# Above this many parameters the full-rank guide is replaced by a low-rank one.
FULL_RANK_LIMIT = 1500
PATHFINDER_MAXITER = 200
# Largest grid whose NUTS chains run one per host device. Above it they run vectorised on
# one device: with one device per chain, XLA's CPU runtime (jax 0.10.2) never finished
# on grids of 32,000 cells and more (the synthetic 51-area benchmark cut to 32 or 35
# areas of 1,000 cells; every worker thread idle, the result never ready; 29,000 cells
# ran in 62 s), also with multi-threaded Eigen off; four devices did not finish either.
PARALLEL_CELL_LIMIT = 25_000
# Posterior draws generated per batch by the variational methods (bounds peak memory).
DRAW_CHUNK = 250


@dataclasses.dataclass(frozen=True, kw_only=True)
class Draws:
    """What a method returns: recorded sites and sampler statistics, arrays shaped (chain, draw, ...).

    Attributes
    ----------
    samples
        Every site the model records (``p`` and the rest of ``model.recorded``).
    stats
        Sampler statistics: (chain, draw) arrays, or 1-d summaries such as an ELBO trace.
    """

    samples: dict[str, np.ndarray]
    stats: dict[str, np.ndarray]


class InferenceMethod(Protocol):
    """One inference method (see the module docstring)."""

    name: str
    summary: str
    mcmc: bool

    def run(self, model: Any, *, draws: int, chains: int, seed: int, progress: bool) -> Draws:
        """Fit ``model`` and return ``chains x draws`` draws of its recorded sites."""


def _grouped(samples: dict[str, Any], chains: int, draws: int) -> dict[str, np.ndarray]:
    return {k: np.asarray(v).reshape((chains, draws) + np.shape(v)[1:]) for k, v in samples.items()}


def model_cells(model: Any) -> int:
    """Cells a model's arrays span: its ``cells`` when it says (a factorised kind), else its grid's."""
    cells = getattr(model, "cells", None)
    return int(cells) if cells is not None else int(np.prod(model.shape))


def chain_method(devices: int, chains: int, cells: int) -> str:
    """How NumPyro runs the chains: ``parallel`` (one per host device) or ``vectorized`` (all on one).

    Examples
    --------
    >>> chain_method(4, 4, 1_000), chain_method(2, 4, 1_000), chain_method(4, 4, 51_000)
    ('parallel', 'vectorized', 'vectorized')
    """
    return "parallel" if devices >= chains and cells <= PARALLEL_CELL_LIMIT else "vectorized"


@dataclasses.dataclass(frozen=True)
class NUTS:
    """NumPyro's NUTS, ``chains`` chains of ``draws`` warm-up and ``draws`` kept draws, in parallel.

    With ``warm_start`` the chains start around the posterior mode with a diagonal mass
    matrix from the L-BFGS path that found it (:mod:`.warm_start`). Not the default: it
    cut warm-up steps on the 9-region benchmark, but a fresh-clone test run of a small
    coarse-answer fit (2 x 300) from it ended with a divergence, R-hat 1.012 and a share
    0.047 off, where the default start passes.
    """

    name: str = "nuts"
    summary: str = "No-U-Turn sampler (NumPyro), chains in parallel: calibrated intervals"
    mcmc: bool = True
    target_accept: float = TARGET_ACCEPT
    warm_start: bool = False

    def run(self, model: Any, *, draws: int, chains: int, seed: int, progress: bool) -> Draws:
        """Sample with NUTS; statistics: divergences, leapfrog steps, acceptance, energy."""
        devices = setup_jax(chains)
        import jax
        import jax.numpy as jnp
        from numpyro.infer import MCMC, NUTS

        from populace.inference.warm_start import warm_start

        start = warm_start(model.model, seed, chains) if self.warm_start else None
        kernel = NUTS(
            model.model,
            target_accept_prob=self.target_accept,
            inverse_mass_matrix=None if start is None else jnp.asarray(start.inverse_mass),
        )
        mcmc = MCMC(
            kernel,
            num_warmup=draws,
            num_samples=draws,
            num_chains=chains,
            chain_method=chain_method(devices, chains, model_cells(model)),
            progress_bar=bars(progress),
        )
        init = None
        if start is not None:
            init = start.positions if chains > 1 else {k: v[0] for k, v in start.positions.items()}
        mcmc.run(
            jax.random.PRNGKey(seed), init_params=init, extra_fields=("diverging", "num_steps", "accept_prob", "energy")
        )
        kept = set(model.recorded)
        samples = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items() if k in kept}
        extra = mcmc.get_extra_fields(group_by_chain=True)
        stats = {
            "diverging": np.asarray(extra["diverging"]).astype(bool),
            "n_steps": np.asarray(extra["num_steps"]).astype(np.int64),
            "acceptance_rate": np.asarray(extra["accept_prob"]),
            "energy": np.asarray(extra["energy"]),
        }
        return Draws(samples=samples, stats=stats)


@dataclasses.dataclass(frozen=True)
class ADVI:
    """Full-rank (low-rank above :data:`FULL_RANK_LIMIT` parameters) Gaussian ADVI, one chain of ``chains x draws``."""

    name: str = "advi"
    summary: str = "full-rank Gaussian variational inference (NumPyro SVI)"
    mcmc: bool = False
    steps: int = ADVI_STEPS
    learning_rate: float = ADVI_LEARNING_RATE

    def run(self, model: Any, *, draws: int, chains: int, seed: int, progress: bool) -> Draws:
        """Fit the guide, then draw from it in chunks; statistics: the last 1,000 ELBO losses."""
        setup_jax(1)
        import jax
        from numpyro.infer import SVI, Predictive, Trace_ELBO, autoguide
        from numpyro.infer.util import initialize_model
        from numpyro.optim import Adam

        key_init, key_fit, key_draw = jax.random.split(jax.random.PRNGKey(seed), 3)
        n_params = sum(int(np.size(v)) for v in initialize_model(key_init, model.model).param_info.z.values())
        guide_class = (
            autoguide.AutoMultivariateNormal if n_params <= FULL_RANK_LIMIT else autoguide.AutoLowRankMultivariateNormal
        )
        guide = guide_class(model.model)
        svi = SVI(model.model, guide, Adam(self.learning_rate), Trace_ELBO())
        result = svi.run(key_fit, self.steps, progress_bar=bars(progress))
        losses = np.asarray(result.losses)
        if not np.isfinite(losses[-1]):
            raise FitError("ADVI diverged (the ELBO is not finite); try method 'nuts'")
        total = draws * chains
        # Drawn in chunks: a vmapped full-rank guide copies its scale matrix per draw (4,000
        # draws of a 900-parameter guide peaked at 15 GB in one batch).
        predictive = Predictive(
            model.model, guide=guide, params=result.params, num_samples=DRAW_CHUNK, return_sites=list(model.recorded)
        )
        draw = jax.jit(predictive)
        chunks = [
            {k: np.asarray(v) for k, v in draw(jax.random.fold_in(key_draw, i)).items()}
            for i in range(-(-total // DRAW_CHUNK))
        ]
        samples = {k: np.concatenate([c[k] for c in chunks])[:total] for k in chunks[0]}
        stats = {"elbo_loss_tail": losses[-min(1000, len(losses)) :].astype(float)}
        return Draws(samples=_grouped(samples, 1, total), stats=stats)


@dataclasses.dataclass(frozen=True)
class Pathfinder:
    """Pathfinder (:mod:`populace.inference.pathfinder`), one chain of ``chains x draws``."""

    name: str = "pathfinder"
    summary: str = "Pathfinder (BlackJAX pieces): quickest, intervals too narrow"
    mcmc: bool = False
    maxiter: int = PATHFINDER_MAXITER

    def run(self, model: Any, *, draws: int, chains: int, seed: int, progress: bool) -> Draws:
        """Run the L-BFGS path, keep the best Gaussian, draw from it; statistics: its ELBO."""
        setup_jax(1)
        import blackjax
        import jax
        from jax.flatten_util import ravel_pytree
        from numpyro.infer.util import initialize_model

        from populace.inference.pathfinder import approximate, elbo_batch_size

        key_init, key_fit, key_draw = jax.random.split(jax.random.PRNGKey(seed), 3)
        info = initialize_model(key_init, model.model)
        flat0, unravel = ravel_pytree(info.param_info.z)

        def logdensity(x):  # noqa: ANN001, ANN202 - jax arrays
            return -info.potential_fn(unravel(x))

        batch = elbo_batch_size(model_cells(model))
        state, _ = approximate(key_fit, logdensity, flat0, maxiter=self.maxiter, batch_size=batch)
        total = draws * chains
        flat, _ = blackjax.vi.pathfinder.sample(key_draw, state, total)
        samples = _constrained_draws(model, unravel, flat)
        return Draws(samples=_grouped(samples, 1, total), stats={"elbo": np.asarray([float(state.elbo)])})


@dataclasses.dataclass(frozen=True)
class Bootstrap:
    """The posterior bootstrap (:mod:`populace.inference.bootstrap`), one chain of ``chains x draws``."""

    name: str = "bootstrap"
    summary: str = "posterior bootstrap: the mode under random row weights (decomposable kind, with a sample)"
    mcmc: bool = False

    def run(self, model: Any, *, draws: int, chains: int, seed: int, progress: bool) -> Draws:
        """Mode, Hessian, a Newton step per draw; statistics: the mode's iterations, the Hessian's least eigenvalue."""
        setup_jax(1)
        import jax.numpy as jnp

        from populace.inference.bootstrap import (
            MAX_PARAMETERS,
            MODE_ITERATIONS,
            hessian,
            inverse_hessian,
            measured_coordinates,
            minimise,
            one_step_draws,
            weighted_potential,
        )

        start, unravel, value_and_grad = weighted_potential(model, seed)
        if start.size > MAX_PARAMETERS:
            raise FitError(
                f"method 'bootstrap' takes at most {MAX_PARAMETERS:,} parameters (its Hessian is dense); "
                f"this model has {start.size:,}: use method 'nuts' or 'advi'"
            )
        weights = np.asarray(model.weights, dtype=float)
        _note(progress, f"posterior mode by L-BFGS ({start.size} parameters)")
        mode = minimise(value_and_grad, start, jnp.asarray(weights), MODE_ITERATIONS)
        if not mode.converged:
            raise FitError(
                f"method 'bootstrap': L-BFGS did not reach the posterior mode in {mode.iterations} iterations; "
                "try another seed or method 'nuts'"
            )
        _note(progress, f"mode after {mode.iterations} iterations; Hessian")
        inverse, least = inverse_hessian(hessian(value_and_grad, mode.x, jnp.asarray(weights)))
        total = draws * chains
        _note(progress, f"{total} bootstrap draws")
        measured = measured_coordinates(unravel, start.size)
        flat = one_step_draws(value_and_grad, mode.x, inverse, weights, total, seed, measured)
        samples = _constrained_draws(model, unravel, jnp.asarray(flat))
        stats = {
            "mode_iterations": np.asarray([mode.iterations]),
            "mode_potential": np.asarray([mode.value]),
            "hessian_least_eigenvalue": np.asarray([least]),
        }
        return Draws(samples=_grouped(samples, 1, total), stats=stats)


def _note(progress: bool, text: str) -> None:
    if progress:
        print(f"populace: bootstrap: {text}", file=sys.stderr, flush=True)


def _constrained_draws(model: Any, unravel: Any, flat: Any) -> dict[str, np.ndarray]:
    """The recorded sites of flat unconstrained draws, DRAW_CHUNK at a time."""
    import jax
    from numpyro.infer.util import constrain_fn

    kept = set(model.recorded)

    def one(x):  # noqa: ANN001, ANN202 - jax arrays
        sites = constrain_fn(model.model, (), {}, unravel(x), return_deterministic=True)
        return {k: v for k, v in sites.items() if k in kept}

    draws = jax.jit(lambda xs: jax.lax.map(one, xs, batch_size=min(DRAW_CHUNK, xs.shape[0])))(flat)
    return {k: np.asarray(v) for k, v in draws.items()}


METHODS: dict[str, InferenceMethod] = {m.name: m for m in (NUTS(), ADVI(), Pathfinder(), Bootstrap())}


def register_method(method: InferenceMethod) -> None:
    """Add (or replace) an inference method under ``method.name``; the spec, ``fit`` and the CLI then accept it."""
    METHODS[method.name] = method


def method_names() -> tuple[str, ...]:
    """Names of every inference method, the default first."""
    return tuple(METHODS)
