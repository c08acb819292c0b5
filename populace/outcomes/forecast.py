"""Post-stratified forecasts: outcome shares by group, per posterior draw of the joint.

For draw ``s`` the joint ``p_s`` and outcome model draw ``s`` give
``share_s(g, k) = sum_{c in g} p_s(c) P_s(k | c) / sum_{c in g} p_s(c)``, so the
interval carries both the joint's and the outcome model's uncertainty. Fixing either
source (its posterior mean) isolates the other (:func:`forecast_draws` ``fix=``).

:func:`forecast` is the library's entry point (``pp.forecast``), and what ``populace
forecast`` calls: an outcome spec in, a tidy table of shares with intervals out.
"""

from __future__ import annotations

import os
import pathlib
import sys
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from populace.errors import DataError, SpecError
from populace.outcomes.model import OutcomeDraws, evidence_group_axes, fit_outcome
from populace.outcomes.spec import OutcomeSpec, load_evidence, load_lean_predictor, load_outcome_data
from populace.posterior import Posterior
from populace.spec import Spec
from populace.summaries import DEFAULT_CREDIBLE_MASS, interval_table, stacked

# Posterior draws post-stratified at once (bounds memory: draws x kept cells x levels).
DRAW_CHUNK = 200
# Outcome-model sampler defaults (as the joint's, DESIGN.md section 2).
OUTCOME_DRAWS = 1000
OUTCOME_CHAINS = 4
FIXES = (None, "joint", "outcome")


def forecast(
    post: Posterior,
    outcome: OutcomeSpec | str | os.PathLike[str],
    *,
    by: Sequence[str] | None = None,
    prob: float = DEFAULT_CREDIBLE_MASS,
    draws: int = OUTCOME_DRAWS,
    chains: int = OUTCOME_CHAINS,
    seed: int = 0,
    fix: str | None = None,
    model: OutcomeDraws | None = None,
    among: Sequence[str] | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Forecast an outcome over the population: shares by group with credible intervals.

    The outcome model (a multilevel multinomial logit on the outcome spec's data, or the
    spec's LLM simulator) is post-stratified over every posterior draw of the joint.

    Parameters
    ----------
    post
        Posterior of the joint.
    outcome
        An :class:`~populace.outcomes.spec.OutcomeSpec` or the path of its YAML file.
    by
        Group attributes (default: the outcome spec's ``by``; empty: the whole population).
    prob
        Credible mass of the intervals.
    draws, chains, seed
        Outcome-model sampler settings (draws per chain), or for a simulator the number
        of posterior draws used and the seed of the personas.
    fix
        ``None``, ``"joint"`` or ``"outcome"``: hold one source of uncertainty at its
        mean (:func:`forecast_draws`); not available with a simulator.
    model
        An outcome model already fitted by :func:`outcome_model` (then ``draws``,
        ``chains`` and ``seed`` are not used).
    among
        Outcome levels to report as shares among themselves (``["trump", "clinton"]``:
        two-party shares), draw by draw.
    progress
        Show progress on stderr.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``level``, then ``mean``, ``sd``, ``lower``, ``upper``.

    Raises
    ------
    DataError
        When ``by`` names an attribute the posterior does not have, or the outcome data
        do not fit the posterior's attributes.

    Examples
    --------
    >>> table = pp.forecast(post, example_outcome, by=["region"], draws=100, chains=1, seed=0)
    >>> list(table.columns)
    ['region', 'level', 'mean', 'sd', 'lower', 'upper']
    """
    if not isinstance(outcome, OutcomeSpec):
        outcome = OutcomeSpec.from_yaml(outcome)
    by = list(outcome.by if by is None else by)
    post.spec.check_by(by)
    if fix not in FIXES:
        raise DataError(f"fix must be one of {', '.join(str(f) for f in FIXES)}, got {fix!r}", value=fix)
    if outcome.simulator is not None:
        if fix is not None or model is not None or among is not None:
            raise DataError("fix, model and among are not available with a simulator", value=fix)
        return _simulated(post, outcome, by, draws=draws, seed=seed, prob=prob, progress=progress)
    if model is None:
        model = outcome_model(post, outcome, draws=draws, chains=chains, seed=seed, progress=progress)
    return forecast_table(post, model, by, outcome.levels, prob=prob, fix=fix, among=among)


def outcome_model(
    post: Posterior,
    outcome: OutcomeSpec | str | os.PathLike[str],
    *,
    draws: int = OUTCOME_DRAWS,
    chains: int = OUTCOME_CHAINS,
    seed: int = 0,
    progress: bool = False,
) -> OutcomeDraws:
    """Fit the outcome spec's model (multilevel multinomial logit, NUTS) on its data.

    Fit it once and pass it to :func:`forecast` (``model=``) to forecast by several
    groupings, or with ``fix=``, without refitting.

    Parameters
    ----------
    post
        Posterior of the joint (its attributes check the outcome data's columns).
    outcome
        An :class:`~populace.outcomes.spec.OutcomeSpec` or the path of its YAML file.
    draws, chains, seed, progress
        Sampler settings (draws per chain).

    Returns
    -------
    OutcomeDraws
        Posterior draws of the outcome model.

    Examples
    --------
    >>> model = pp.outcome_model(post, example_outcome, draws=100, chains=1)
    >>> model.n_samples
    100
    """
    if not isinstance(outcome, OutcomeSpec):
        outcome = OutcomeSpec.from_yaml(outcome)
    if outcome.simulator is not None:
        raise DataError("the outcome spec names a simulator: there is no outcome model to fit", file=outcome.name)
    data = load_outcome_data(outcome, post.spec)
    evidence, joint = load_evidence(outcome, post.spec), None
    if evidence:
        joint = post.joint(list(data.predictors)).mean(("chain", "draw")).values
    if progress:
        print(
            f"populace: outcome model for '{outcome.outcome}' on {data.n_rows:,} rows, predictors "
            f"{', '.join(data.predictors) or '(none)'}"
            + (f"; {sum(len(e.share) for e in evidence)} published shares as evidence" if evidence else ""),
            file=sys.stderr,
        )
    return fit_outcome(
        data,
        len(outcome.levels),
        data.sizes,
        draws=draws,
        chains=chains,
        seed=seed,
        progress=progress,
        evidence=evidence,
        joint=joint,
        correlated=_correlated(outcome, data.predictors, post.spec),
        common=outcome.common_error,
        lean=_lean(outcome, evidence, data.predictors, post.spec),
    )


def _lean(outcome: OutcomeSpec, evidence: Sequence, predictors: Sequence[str], spec: Spec) -> np.ndarray | None:
    """The spec's lean predictor over the evidence's groups, in predictor order (``None``: none)."""
    if outcome.lean_predictor is None or not evidence:
        return None
    groups = tuple(predictors[i] for i in evidence_group_axes(tuple(predictors), tuple(evidence)))
    return load_lean_predictor(outcome, spec, groups)


def _correlated(
    outcome: OutcomeSpec, predictors: Sequence[str], spec: Spec
) -> tuple[int, tuple[int, ...], float] | None:
    """The spec's correlated error as (predictor position, level indices, sd), checked against the posterior."""
    error = outcome.correlated_error
    if error is None:
        return None
    if error.attribute not in predictors:
        raise SpecError(
            f"correlated_error.attribute '{error.attribute}' must be a predictor ({', '.join(predictors)})",
            file=outcome.name,
        )
    levels = spec.attribute(error.attribute).levels
    unknown = [v for v in error.levels if v not in levels]
    if unknown:
        raise SpecError(
            f"correlated_error.levels: '{unknown[0]}' is not a level of '{error.attribute}' ({', '.join(levels)})",
            file=outcome.name,
        )
    return predictors.index(error.attribute), tuple(levels.index(v) for v in error.levels), error.sd


def _among(draws: xr.DataArray, levels: Sequence[str], among: Sequence[str]) -> xr.DataArray:
    """Shares of the ``among`` levels renormalised to sum to one in every draw and group."""
    among = list(among)
    unknown = [a for a in among if a not in levels]
    if unknown or len(among) < 2:
        raise DataError(f"among must name two or more outcome levels ({', '.join(levels)}), got {among}", value=among)
    part = draws.sel(level=among)
    return part / part.sum("level")


def _simulated(
    post: Posterior, outcome: OutcomeSpec, by: list[str], *, draws: int, seed: int, prob: float, progress: bool
) -> pd.DataFrame:
    """Forecast with the outcome spec's LLM simulator: personas per posterior draw, answered by the model."""
    from populace.language_models import resolve_model
    from populace.llm_filter.template import load_template
    from populace.outcomes.llm_simulator import LanguageModelSimulator
    from populace.outcomes.simulator import simulate_forecast

    block = outcome.simulator
    base = pathlib.Path(outcome.base_dir)
    model = resolve_model(block["model"], base)
    template = load_template(base / block["template"]) if block.get("template") else None
    simulator = LanguageModelSimulator(model, block["question"], block["answers"], template)
    used = min(draws, post.n_samples)
    if progress:
        print(f"populace: simulating '{outcome.outcome}' with {model} over {used} posterior draws", file=sys.stderr)
    return simulate_forecast(post, simulator, by, draws=used, seed=seed, prob=prob)


def forecast_draws(post: Posterior, model: OutcomeDraws, by: Sequence[str], *, fix: str | None = None) -> np.ndarray:
    """Outcome shares per draw and group: array (S, *group levels, K).

    Parameters
    ----------
    post
        Posterior of the joint.
    model
        Draws of the outcome model.
    by
        Group attributes (may be empty: the whole population).
    fix
        ``None`` (both sources vary), ``"joint"`` (the joint fixed at its posterior
        mean) or ``"outcome"`` (the outcome model fixed at its mean probabilities).
    """
    return _labelled_draws(post, model, by, fix=fix).values


def _labelled_draws(post: Posterior, model: OutcomeDraws, by: Sequence[str], *, fix: str | None) -> xr.DataArray:
    """:func:`forecast_draws` with named dims ``(sample, *by, level)``."""
    by = list(by)
    post.spec.check_by(by)
    kept = [n for n in post.spec.names if n in (*by, *model.predictors)]
    q = stacked(post.joint(kept))
    q = q.drop_vars([c for c in q.coords if c not in kept])
    if fix == "joint":
        q = xr.broadcast(q.mean("sample"), q)[0]
    n = q.sizes["sample"]
    outcome_dims = ("sample", *model.predictors, "level")
    mean_prob = None
    if fix == "outcome":
        mean_prob = xr.DataArray(model.level_probabilities().mean(axis=0), dims=outcome_dims[1:])
    grouped = [d for d in kept if d not in by]
    out = []
    for start in range(0, n, DRAW_CHUNK):
        stop = min(start + DRAW_CHUNK, n)
        if mean_prob is None:
            prob = xr.DataArray(model.level_probabilities(np.arange(start, stop) % model.n_samples), dims=outcome_dims)
        else:
            prob = mean_prob
        joint = q.isel(sample=slice(start, stop))
        num = (joint * prob).sum(grouped)
        den = joint.sum(grouped)
        out.append((num / den.where(den > 0, 1.0)).transpose("sample", *by, "level"))
    return xr.concat(out, dim="sample")


def forecast_table(
    post: Posterior,
    model: OutcomeDraws,
    by: Sequence[str],
    levels: Sequence[str],
    prob: float = DEFAULT_CREDIBLE_MASS,
    fix: str | None = None,
    among: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The forecast CSV: ``by`` columns, ``level``, then ``mean``, ``sd``, ``lower``, ``upper``.

    ``among`` (levels) reports each of those levels' share among them alone, draw by
    draw (``["trump", "clinton"]``: two-party shares).
    """
    draws = _labelled_draws(post, model, by, fix=fix).assign_coords(level=list(levels))
    if among is not None:
        draws = _among(draws, levels, among)
    for b in by:
        draws = draws.assign_coords({b: list(post.spec.attribute(b).levels)})
    return interval_table(draws, prob)
