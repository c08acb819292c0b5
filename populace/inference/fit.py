"""Fit a spec: build its model kind, run its inference method, return a Posterior.

``fit`` dispatches through two maps and knows nothing of either side's internals: the
model kinds (:func:`populace.models.base.model_builder`, keyed by ``model.kind``) and the
inference methods (:data:`populace.inference.methods.METHODS`, keyed by
``inference.method``).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from populace.data.inputs import load_inputs
from populace.errors import FitError, SpecError
from populace.inference.compile_time import compile_clock
from populace.inference.diagnostics import fit_warnings
from populace.inference.methods import METHODS
from populace.models.base import (
    CLIQUE_PREFIX,
    GRID_FREE_KINDS,
    JOINT,
    check_model,
    is_factorised,
    model_builder,
    posterior_variables,
)
from populace.posterior import Posterior
from populace.spec import Spec

# Without microdata nothing in the likelihood speaks to the filter's weight (exact tables
# are met whatever it is): it keeps its prior, and a wrong scorer cannot be overruled
# (benchmarks/filter_acs12.py, tables only: the wrong scorer raised TVD by 28%).
UNIDENTIFIED_WEIGHT = (
    "the spec has no microdata, so the data cannot weigh the LLM filter: its weight keeps its prior "
    "and the scorer's judgement is taken on trust"
)

UNCONSTRAINED = (
    "attribute '{name}' is in no table and in no sampled person's answers: only the prior sets its shares; "
    "add a table or a sample column that holds it, or drop it"
)


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
        What to fit. Its ``model`` block chooses the model kind, its ``inference`` block
        gives the defaults.
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
    >>> post = pp.fit(pp.Spec.from_yaml(example_spec), draws=20, chains=1, seed=1, progress=False)
    >>> post.joint(["region"]).sizes["draw"]
    20
    """
    spec = spec.with_inference(method=method, draws=draws, chains=chains, seed=seed)
    options = spec.inference
    inputs = load_inputs(spec)
    terms, filter_meta = (), None
    if (spec.llm_filter is not None or scorer is not None) and spec.model.kind in GRID_FREE_KINDS:
        raise SpecError(f"{spec.name}: the model kind '{spec.model.kind}' does not take the LLM filter yet")
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
    for name in inputs.unconstrained:
        _say(True, f"populace: warning: {spec.name}: {UNCONSTRAINED.format(name=name)}")
    build = model_builder(spec.model.kind)
    model = build(inputs, filter_terms=terms, filter_weights=filter_meta["weights"] if filter_meta else "single")
    check_model(model, spec.names, spec.shape)
    runner = METHODS[options.method]
    _say(progress, f"populace: {spec.model.kind} model: {model.describe()}; fitting with {runner.name}")
    start = time.perf_counter()
    with compile_clock() as compiling:
        result = runner.run(model, draws=options.draws, chains=options.chains, seed=options.seed, progress=progress)
    elapsed = time.perf_counter() - start
    compile_seconds = min(compiling.seconds, elapsed)
    joint_sites = (
        [JOINT] if not is_factorised(model.recorded) else [s for s in model.recorded if s.startswith(CLIQUE_PREFIX)]
    )
    if any(s not in result.samples or not np.isfinite(result.samples[s]).all() for s in joint_sites):
        raise FitError(f"{runner.name} produced non-finite draws of the joint; try another seed or method")
    meta = {
        "kind": spec.model.kind,
        "method": runner.name,
        "mcmc": runner.mcmc,
        "draws": options.draws,
        "chains": options.chains,
        "seed": options.seed,
        "fit_seconds": round(elapsed, 3),
        # JAX's tracing, lowering and compiling (or loading from the persistent cache)
        # within the fit, and the rest: sampling or optimising.
        "compile_seconds": round(compile_seconds, 3),
        "sampling_seconds": round(elapsed - compile_seconds, 3),
        **model.fit_meta(),
        "llm_filter": filter_meta,
    }
    post = Posterior.from_arrays(
        spec=spec,
        inputs=inputs,
        variables=posterior_variables(model, result.samples),
        coords=model.coords(),
        stats=result.stats,
        meta=meta,
    )
    _say(
        progress,
        f"populace: fitted in {elapsed:.1f} s ({compile_seconds:.1f} s compiling, "
        f"{elapsed - compile_seconds:.1f} s {'sampling' if runner.mcmc else 'fitting'})",
    )
    for warning in fit_warnings(post):
        _say(True, f"populace: warning: {warning}")
    return post


def _say(on: bool, text: str) -> None:
    if on:
        print(text, file=sys.stderr, flush=True)
