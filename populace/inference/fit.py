"""Fit a spec: build the model, run the chosen inference method, return a Posterior.

Methods
-------
nuts
    NumPyro's No-U-Turn sampler, one chain per host device, in parallel. The default:
    calibrated intervals (BENCHMARKS.md).
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
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from populace.data.inputs import load_inputs
from populace.errors import FitError
from populace.inference.backend import setup_jax
from populace.models.loglinear import LoglinearModel, build_loglinear
from populace.posterior import Posterior
from populace.spec import Spec

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
# Posterior draws generated per batch by the variational methods (bounds peak memory).
DRAW_CHUNK = 250
# Without microdata nothing in the likelihood speaks to the filter's weight (exact tables
# are met whatever it is): it keeps its prior, and a wrong scorer cannot be overruled
# (benchmarks/filter_acs12.py, tables only: the wrong scorer raised TVD by 28%).
UNIDENTIFIED_WEIGHT = (
    "the spec has no microdata, so the data cannot weigh the LLM filter: its weight keeps its prior "
    "and the scorer's judgement is taken on trust"
)
# Scalar hyperparameters kept in the posterior file for diagnostics.
HYPER_NAMES = ("sigma_main", "tau_2", "tau_geo", "lam", "llm_weight")


def fit(
    spec: Spec,
    *,
    method: str | None = None,
    draws: int | None = None,
    chains: int | None = None,
    seed: int | None = None,
    scorer: object | None = None,
    progress: bool = True,
) -> Posterior:
    """Fit the spec's model and return its posterior.

    Parameters
    ----------
    spec
        What to fit. Its ``inference`` block gives the defaults.
    method, draws, chains, seed
        Override the spec's inference options.
    scorer
        A plausibility scorer (:class:`populace.llm_filter.PlausibilityScorer`) to use
        instead of the one the spec's ``llm_filter`` block names; giving one turns the
        filter on.
    progress
        Show progress on stderr.

    Returns
    -------
    Posterior
        Draws of the joint with named dims, diagnostics, and the inputs.

    Examples
    --------
    >>> import populace as pp
    >>> spec = pp.Spec.from_yaml("spec.yaml")  # doctest: +SKIP
    >>> post = pp.fit(spec, draws=500, seed=1)  # doctest: +SKIP
    >>> post.summary(["age", "sex"])  # doctest: +SKIP
    """
    spec = spec.with_inference(method=method, draws=draws, chains=chains, seed=seed)
    options = spec.inference
    inputs = load_inputs(spec)
    terms, filter_meta = (), None
    if spec.llm_filter is not None or scorer is not None:
        from populace.llm_filter.build import spec_terms

        terms, filter_options = spec_terms(spec, inputs, scorer, progress=progress)
        filter_meta = {
            "scorer": filter_options.scorer if scorer is None else type(scorer).__name__,
            "weights": filter_options.weights,
            "order": filter_options.order,
            "terms": {t.label: t.table.tolist() for t in terms},
        }
        _say(progress, f"populace: plausibility filter: {len(terms)} scored terms ({filter_options.weights} weight)")
        if terms and inputs.sample is None:
            _say(True, f"populace: warning: {UNIDENTIFIED_WEIGHT}")
    model = build_loglinear(inputs, plausibility=terms, weights=filter_meta["weights"] if filter_meta else "single")
    _say(
        progress,
        f"populace: {int(np.prod(spec.shape)):,} cells, {len(model.terms)} free terms, "
        f"{len(model.exact) + len(model.se_tables)} tables to meet; fitting with {options.method}",
    )
    start = time.perf_counter()
    runner = {"nuts": _run_nuts, "advi": _run_advi, "pathfinder": _run_pathfinder}[options.method]
    samples, stats = runner(model, options.draws, options.chains, options.seed, progress)
    elapsed = time.perf_counter() - start
    p = np.asarray(samples.pop("p"))
    if not np.isfinite(p).all():
        raise FitError(f"{options.method} produced non-finite draws of the joint; try another seed or method")
    hyper = {k: np.asarray(v) for k, v in samples.items() if k in HYPER_NAMES}
    meta = {
        "method": options.method,
        "draws": options.draws,
        "chains": options.chains,
        "seed": options.seed,
        "fit_seconds": round(elapsed, 3),
        "projection_max_sweeps": model.sweeps,
        "terms": list(model.term_names),
        "local_scale_terms": list(model.local_scale_names),
        "llm_filter": filter_meta,
        "llm_weight_names": list(model.weight_names),
    }
    post = Posterior.from_arrays(spec=spec, inputs=inputs, p=p, hyper=hyper, stats=stats, meta=meta)
    _say(progress, f"populace: fitted in {elapsed:.1f} s")
    for warning in post.warnings():
        _say(True, f"populace: warning: {warning}")
    return post


def _say(on: bool, text: str) -> None:
    if on:
        print(text, file=sys.stderr, flush=True)


def _grouped(samples: dict[str, Any], chains: int, draws: int) -> dict[str, np.ndarray]:
    return {k: np.asarray(v).reshape((chains, draws) + np.shape(v)[1:]) for k, v in samples.items()}


def _run_nuts(
    model: LoglinearModel, draws: int, chains: int, seed: int, progress: bool
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    devices = setup_jax(chains)
    import jax
    from numpyro.infer import MCMC, NUTS

    chain_method = "parallel" if devices >= chains else "vectorized"
    mcmc = MCMC(
        NUTS(model.model, target_accept_prob=TARGET_ACCEPT),
        num_warmup=draws,
        num_samples=draws,
        num_chains=chains,
        chain_method=chain_method,
        progress_bar=progress,
    )
    mcmc.run(jax.random.PRNGKey(seed), extra_fields=("diverging", "num_steps", "accept_prob", "energy"))
    samples = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
    extra = mcmc.get_extra_fields(group_by_chain=True)
    stats = {
        "diverging": np.asarray(extra["diverging"]).astype(bool),
        "n_steps": np.asarray(extra["num_steps"]).astype(np.int64),
        "acceptance_rate": np.asarray(extra["accept_prob"]),
        "energy": np.asarray(extra["energy"]),
    }
    return samples, stats


def _run_advi(
    model: LoglinearModel, draws: int, chains: int, seed: int, progress: bool
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
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
    svi = SVI(model.model, guide, Adam(ADVI_LEARNING_RATE), Trace_ELBO())
    result = svi.run(key_fit, ADVI_STEPS, progress_bar=progress)
    losses = np.asarray(result.losses)
    if not np.isfinite(losses[-1]):
        raise FitError("ADVI diverged (the ELBO is not finite); try --method nuts")
    total = draws * chains
    # Drawn in chunks: a vmapped full-rank guide copies its scale matrix per draw (4,000
    # draws of a 900-parameter guide peaked at 15 GB in one batch).
    predictive = Predictive(
        model.model, guide=guide, params=result.params, num_samples=DRAW_CHUNK, return_sites=["p", *HYPER_NAMES]
    )
    draw = jax.jit(predictive)
    chunks = [
        {k: np.asarray(v) for k, v in draw(jax.random.fold_in(key_draw, i)).items()}
        for i in range(-(-total // DRAW_CHUNK))
    ]
    samples = {k: np.concatenate([c[k] for c in chunks])[:total] for k in chunks[0]}
    stats = {"elbo_loss_tail": losses[-min(1000, len(losses)) :].astype(float)}
    return _grouped(samples, 1, total), stats


def _run_pathfinder(
    model: LoglinearModel, draws: int, chains: int, seed: int, progress: bool
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
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

    batch = elbo_batch_size(int(np.prod(model.shape)))
    state, _ = approximate(key_fit, logdensity, flat0, maxiter=PATHFINDER_MAXITER, batch_size=batch)
    total = draws * chains
    flat, _ = blackjax.vi.pathfinder.sample(key_draw, state, total)
    samples = _constrained_draws(model, unravel, flat)
    stats = {"elbo": np.asarray([float(state.elbo)])}
    return _grouped(samples, 1, total), stats


def _constrained_draws(model: LoglinearModel, unravel: Any, flat: Any) -> dict[str, np.ndarray]:
    """The joint ``p`` and the hyperparameters of flat unconstrained draws, DRAW_CHUNK at a time."""
    import jax
    from numpyro.infer.util import constrain_fn

    def one(x):  # noqa: ANN001, ANN202 - jax arrays
        sites = constrain_fn(model.model, (), {}, unravel(x), return_deterministic=True)
        return {k: v for k, v in sites.items() if k == "p" or k in HYPER_NAMES}

    draws = jax.jit(lambda xs: jax.lax.map(one, xs, batch_size=min(DRAW_CHUNK, xs.shape[0])))(flat)
    return {k: np.asarray(v) for k, v in draws.items()}
