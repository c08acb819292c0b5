"""Validate populace's post-stratified forecasts on the 2016 US presidential election.

Usage::

    python benchmarks/election2016.py            # NUTS 4x1000 (joint and outcome model): ~35 min on 2 busy cores
    python benchmarks/election2016.py --quick    # NUTS 2x500 (~9 min), written under benchmarks/output/quick/
    python benchmarks/election2016.py --report benchmarks/results/election2016.json   # redraw, no fitting

The population is the 64,600 respondents of the 2016 CCES (``stevedata::TV16``) over state, age
group, sex, college degree and race (3,264 cells); populace gets exact state x race, state x sex
and age x college x race tables and a 1% sample; the two-party vote is seen in a separate poll of
2,000 voters, modelled and post-stratified by state as ``populace forecast`` does, and scored
against the actual results (``dslabs::results_us_election_2016``), the CCES voters' own shares
(``cces``) and what the forecast estimates from all respondents (``estimand``).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import harness
import numpy as np
import pandas as pd
import tasks
from harness import ROOT, say

import populace as pp
from populace import baselines

# ----------------------------------------------------------------------------- settings

# Seeds: the 1% microdata sample, the outcome subsample, and both NUTS fits.
SAMPLE_SEED = 0
OUTCOME_SEED = 1
FIT_SEED = 0
SAMPLE_FRACTION = 0.01
# Respondents with a two-party vote in the outcome subsample.
OUTCOME_N = 2000
# Credible mass of the reported intervals (the contract's default).
PROB = 0.9
# Seed pseudo-count of the IPF baseline (the middle of populace.baselines.PSEUDO_COUNTS).
IPF_PSEUDO_COUNT = 0.5

ATTRIBUTES = ("state", "age", "sex", "college", "race")
AGE_LEVELS = ("18-29", "30-44", "45-64", "65+")
AGE_EDGES = (17, 29, 44, 64, 200)
SEX_LEVELS = ("female", "male")
COLLEGE_LEVELS = ("no", "yes")
RACE_LEVELS = ("white", "black", "hispanic", "other")
RACE_CODES = {"White": "white", "Black": "black", "Hispanic": "hispanic"}  # every other racef: "other"
OUTCOME = "vote"
OUTCOME_LEVELS = ("trump", "clinton")
# Published tables: (attributes,) each, all exact counts.
TABLES = (("state", "race"), ("state", "sex"), ("age", "college", "race"))
# The uncertainty split: forecast_draws(fix=...) and what it isolates.
FIXES = {"both": None, "joint fixed": "joint", "outcome model fixed": "outcome"}

# The page section: <!-- election2016:start --> ... <!-- election2016:end --> (harness.write_section).
SECTION = "election2016"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Mode:
    """What a run does (NUTS settings of the joint and the outcome model) and where it writes."""

    name: str
    draws: int
    chains: int
    out: harness.Outputs


MODES = {
    "full": Mode(name="full", draws=1000, chains=4, out=harness.outputs(False, "election2016.json")),
    "quick": Mode(name="quick", draws=500, chains=2, out=harness.outputs(True, "election2016.json")),
}
FIGURE = "election2016.png"


# ----------------------------------------------------------------------------- data


def load_respondents() -> pd.DataFrame:
    """The CCES 2016 respondents, coarsened to the five attributes plus the vote."""
    raw = tasks._rdata("stevedata", "TV16")
    vote = raw["votetrump"].map({1.0: "trump", 0.0: "clinton"}).fillna("")
    return pd.DataFrame(
        {
            "state": raw["state"].astype(str),
            "age": pd.cut(raw["age"], AGE_EDGES, labels=AGE_LEVELS).astype(str),
            "sex": np.where(raw["female"] == 1, "female", "male"),
            "college": np.where(raw["collegeed"] == 1, "yes", "no"),
            "race": raw["racef"].map(RACE_CODES).fillna("other").astype(str),
            OUTCOME: vote.astype(str),
        }
    )


def actual_results() -> pd.Series:
    """The actual 2016 two-party Trump share by state, ``trump / (trump + clinton)``."""
    raw = tasks._rdata("dslabs", "results_us_election_2016")
    share = raw["trump"] / (raw["trump"] + raw["clinton"])
    return pd.Series(share.to_numpy(), index=raw["state"].astype(str), name="actual").sort_index()


def cces_reference(people: pd.DataFrame) -> pd.Series:
    """The two-party Trump share by state among all CCES respondents who voted for either."""
    voters = people[people[OUTCOME] != ""]
    return (voters[OUTCOME] == "trump").groupby(voters["state"]).mean().rename("cces")


def cces_estimand(people: pd.DataFrame) -> pd.Series:
    """What the forecast estimates, computed from every CCES respondent: the estimand."""
    attrs = list(ATTRIBUTES)
    voters = people[people[OUTCOME] != ""]
    share = (voters[OUTCOME] == "trump").groupby([voters[a] for a in attrs]).mean().rename("share")
    cells = people.groupby(attrs).size().rename("n").to_frame().join(share).reset_index()
    cells["share"] = cells["share"].fillna(cells["state"].map(cces_reference(people)))
    weighted = (cells["share"] * cells["n"]).groupby(cells["state"]).sum()
    return (weighted / cells.groupby("state")["n"].sum()).rename("estimand")


def population(people: pd.DataFrame) -> tasks.Population:
    """The respondents as a benchmark :class:`tasks.Population` (attributes only)."""
    levels = {
        "state": tuple(sorted(people["state"].unique())),
        "age": AGE_LEVELS,
        "sex": SEX_LEVELS,
        "college": COLLEGE_LEVELS,
        "race": RACE_LEVELS,
    }
    attributes = tuple(
        pp.Attribute(name=n, levels=lv, ordered=n == "age", role="geography" if n == "state" else None)
        for n, lv in levels.items()
    )
    return tasks.Population(
        name="cces2016",
        title="respondents of the 2016 Cooperative Congressional Election Study",
        source="stevedata::TV16",
        frame=people[list(ATTRIBUTES)].reset_index(drop=True),
        attributes=attributes,
        two_way=(),
    )


def build_spec(pop: tasks.Population, *, fraction: float, seed: int) -> tuple[pp.Spec, int]:
    """The in-memory spec (the exact tables of :data:`TABLES` plus a weighted sample) and the sample size."""
    spec, _, n = tasks.population_spec(pop, [(names, False) for names in TABLES], fraction, seed, "election2016")
    return spec, n


def outcome_sample(people: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """A simple random sample of ``n`` two-party voters with equal weights."""
    voters = people[people[OUTCOME] != ""].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(voters), size=n, replace=False))
    poll = voters.iloc[rows][[*ATTRIBUTES, OUTCOME]].reset_index(drop=True)
    poll["weight"] = len(voters) / n
    return poll


def write_outcome_spec(folder: pathlib.Path, poll: pd.DataFrame) -> pathlib.Path:
    """Write the poll CSV and its outcome spec (DESIGN.md section 2) into ``folder``."""
    (folder / "poll.csv").write_text(harness.csv_text(poll), encoding="utf-8")
    text = (
        f"outcome: {OUTCOME}\n"
        f"levels: [{', '.join(OUTCOME_LEVELS)}]\n"
        "data: {file: poll.csv, weight: weight}\n"
        f"predictors: [{', '.join(ATTRIBUTES)}]\n"
        "by: [state]\n"
        "simulator: null\n"
    )
    path = folder / "outcome.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- fitting


def fit_outcome_model(
    post: Any, outcome_path: pathlib.Path, *, draws: int, chains: int, seed: int, progress: bool
) -> tuple[Any, Any, Any]:
    """Read the outcome spec and fit its model, exactly as ``populace forecast`` does."""
    from populace.outcomes.model import fit_outcome
    from populace.outcomes.spec import OutcomeSpec, load_outcome_data

    outcome = OutcomeSpec.from_yaml(outcome_path)
    data = load_outcome_data(outcome, post.spec)
    shape = tuple(len(post.spec.attribute(n).levels) for n in data.predictors)
    model = fit_outcome(data, len(outcome.levels), shape, draws=draws, chains=chains, seed=seed, progress=progress)
    return outcome, data, model


def outcome_rhat(model: Any, chains: int) -> float:
    """Largest rank-normalised R-hat over the outcome model's intercepts and effects."""
    import arviz as az

    arrays = [model.alpha, *model.effects]
    worst = 0.0
    for values in arrays:
        grouped = values.reshape(chains, -1, *values.shape[1:])
        rhat = az.rhat(az.convert_to_dataset(grouped[..., None] if grouped.ndim == 2 else grouped))
        worst = max(worst, float(np.nanmax(rhat.to_array().values)))
    return worst


# ----------------------------------------------------------------------------- forecasts


def state_forecast(post: Any, model: Any, levels: Sequence[str], fix: str | None) -> pd.DataFrame:
    """Trump's two-party share by state: ``mean``, ``sd``, ``lower``, ``upper`` (``forecast_table``)."""
    from populace.outcomes.forecast import forecast_table

    table = forecast_table(post, model, ["state"], levels, prob=PROB, fix=fix)
    table = table[table["level"] == "trump"].set_index("state")
    return table[["mean", "sd", "lower", "upper"]]


def national_forecast(post: Any, model: Any, levels: Sequence[str], fix: str | None = None) -> dict[str, float]:
    """Trump's two-party share over the whole population (weighted by the joint's state sizes)."""
    from populace.outcomes.forecast import forecast_draws

    draws = forecast_draws(post, model, [], fix=fix)[:, list(levels).index("trump")]
    lower, upper = np.quantile(draws, [(1 - PROB) / 2, (1 + PROB) / 2])
    return {"mean": float(draws.mean()), "lower": float(lower), "upper": float(upper)}


def mean_probabilities(model: Any, names: Sequence[str], levels: Sequence[str], chunk: int = 200) -> np.ndarray:
    """The outcome model's posterior-mean P(trump | cell), on the grid of ``names``."""
    if sorted(model.predictors) != sorted(names):
        raise ValueError("the IPF baseline needs every attribute as a predictor")
    k = list(levels).index("trump")
    total = None
    for start in range(0, model.n_samples, chunk):
        part = model.probabilities(np.arange(start, min(start + chunk, model.n_samples)))[..., k].sum(axis=0)
        total = part if total is None else total + part
    mean = total / model.n_samples
    return np.transpose(mean, [list(model.predictors).index(n) for n in names])


def poststratify(joint: np.ndarray, prob: np.ndarray, axis: int) -> np.ndarray:
    """Share ``sum p * prob / sum p`` within each level of ``axis`` of the grid."""
    others = tuple(a for a in range(joint.ndim) if a != axis)
    num = (joint * prob).sum(axis=others)
    den = joint.sum(axis=others)
    return num / np.where(den > 0, den, 1.0)


def ipf_forecast(spec: pp.Spec, prob: np.ndarray, pseudo_count: float) -> tuple[pd.Series, float]:
    """Baseline (a): the IPF joint (sample + pseudo-count raked to the tables) times ``prob``."""
    from populace.data.inputs import load_inputs

    joint = baselines.ipf(load_inputs(spec), pseudo_count)
    states = spec.attribute("state").levels
    by_state = pd.Series(poststratify(joint, prob, spec.names.index("state")), index=list(states))
    return by_state, float((joint * prob).sum() / joint.sum())


def sample_forecast(poll: pd.DataFrame, states: Sequence[str]) -> tuple[pd.Series, float]:
    """Baseline (b): the weighted Trump share of the poll by state (NaN where a state has none)."""
    trump = (poll[OUTCOME] == "trump").astype(float) * poll["weight"]
    by_state = trump.groupby(poll["state"]).sum() / poll["weight"].groupby(poll["state"]).sum()
    return by_state.reindex(list(states)), float(trump.sum() / poll["weight"].sum())


# ----------------------------------------------------------------------------- scores


def state_scores(
    estimate: pd.Series, reference: pd.Series, lower: pd.Series | None = None, upper: pd.Series | None = None
) -> dict[str, Any]:
    """Per-state errors of an estimate against a reference (states where the estimate exists)."""
    error = (estimate - reference.reindex(estimate.index)).dropna()
    out: dict[str, Any] = {
        "mae": float(error.abs().mean()),
        "rmse": float(np.sqrt((error**2).mean())),
        "bias": float(error.mean()),
        "states": int(error.size),
        "missing": sorted(estimate.index[estimate.isna()].tolist()),
    }
    if lower is not None and upper is not None:
        ref = reference.reindex(lower.index)
        out["coverage"] = float(((ref >= lower) & (ref <= upper)).mean())
        out["width"] = float((upper - lower).mean())
    return out


def weighted_national(by_state: pd.Series, sizes: pd.Series) -> float:
    """A national share from state shares, weighted by ``sizes`` (states with a share only)."""
    keep = by_state.notna()
    w = sizes.reindex(by_state.index)[keep]
    return float((by_state[keep] * w).sum() / w.sum())


def national_row(estimate: float, references: dict[str, float]) -> dict[str, float]:
    """A national estimate and its signed error against each national reference."""
    return {"estimate": estimate} | {f"error_{name}": estimate - ref for name, ref in references.items()}


# ----------------------------------------------------------------------------- the run


def run(mode: Mode, *, progress: bool) -> dict[str, Any]:
    """Build the inputs, fit, forecast, score; return the JSON-ready results."""
    start = time.perf_counter()
    results = harness.new_results(mode=mode.name)
    people = load_respondents()
    pop = population(people)
    spec, sample_size = build_spec(pop, fraction=SAMPLE_FRACTION, seed=SAMPLE_SEED)
    poll = outcome_sample(people, OUTCOME_N, OUTCOME_SEED)
    states = list(spec.attribute("state").levels)
    references = {
        "actual": actual_results().reindex(states),
        "cces": cces_reference(people).reindex(states),
        "estimand": cces_estimand(people).reindex(states),
    }
    sizes = people["state"].value_counts().reindex(states)
    results["config"] = _config(mode, people, pop, sample_size, poll, sizes)
    say(f"{pop.size:,} respondents, {pop.cells:,} cells; sample {sample_size}, poll {len(poll)}")

    say(f"fitting the joint: NUTS {mode.chains}x{mode.draws}")
    post = pp.fit(spec, method="nuts", draws=mode.draws, chains=mode.chains, seed=FIT_SEED, progress=progress)
    from populace.inference.diagnostics import convergence

    checks = {c["name"]: c["value"] for c in convergence(post)}
    steps = float(np.asarray(post.sample_stats["n_steps"]).mean())
    results["joint_fit"] = {
        "seconds": post.fit_info["fit_seconds"],
        "r_hat": checks.get("r_hat"),
        "ess_bulk": checks.get("ess_bulk"),
        "divergences": checks.get("divergences"),
        "steps_per_draw": steps,
        "free_terms": len(post.fit_info["terms"]),
        "target_accept": _target_accept(),
    }
    say(f"  joint: {results['joint_fit']}")

    with tempfile.TemporaryDirectory(prefix="populace-election2016-") as tmp:
        outcome_path = write_outcome_spec(pathlib.Path(tmp), poll)
        t0 = time.perf_counter()
        outcome, data, model = fit_outcome_model(
            post, outcome_path, draws=mode.draws, chains=mode.chains, seed=FIT_SEED, progress=progress
        )
        results["outcome_fit"] = {
            "seconds": time.perf_counter() - t0,
            "rows": data.n_rows,
            "r_hat": outcome_rhat(model, mode.chains),
        }
    say(f"  outcome model: {results['outcome_fit']}")

    t0 = time.perf_counter()
    forecasts = {label: state_forecast(post, model, outcome.levels, fix) for label, fix in FIXES.items()}
    national = {label: national_forecast(post, model, outcome.levels, fix) for label, fix in FIXES.items()}
    results["forecast_seconds"] = time.perf_counter() - t0
    prob = mean_probabilities(model, spec.names, outcome.levels)
    ipf_states, ipf_national = ipf_forecast(spec, prob, IPF_PSEUDO_COUNT)
    poll_states, poll_national = sample_forecast(poll, states)

    main = forecasts["both"]
    results["states"] = _state_rows(states, references, sizes, main, ipf_states, poll_states, poll)
    results["scores"] = {
        name: {
            "populace": state_scores(main["mean"], ref, main["lower"], main["upper"]),
            "ipf": state_scores(ipf_states, ref),
            "poll": state_scores(poll_states, ref),
        }
        for name, ref in references.items()
    }
    nat_refs = {name: weighted_national(ref, sizes) for name, ref in references.items()}
    results["national"] = {
        "references": nat_refs,
        "populace": national_row(national["both"]["mean"], nat_refs)
        | {"lower": national["both"]["lower"], "upper": national["both"]["upper"]},
        "ipf": national_row(ipf_national, nat_refs),
        "poll": national_row(poll_national, nat_refs),
        "poll_state_weighted": national_row(weighted_national(poll_states, sizes), nat_refs),
    }
    results["uncertainty"] = {
        label: {
            "mean_width": float((f["upper"] - f["lower"]).mean()),
            "mean_sd": float(f["sd"].mean()),
            "national_width": national[label]["upper"] - national[label]["lower"],
        }
        for label, f in forecasts.items()
    }
    results["load"]["end"] = harness.load()
    results["total_seconds"] = time.perf_counter() - start
    results["finished"] = harness.now()
    return results


def _target_accept() -> float | None:
    """NUTS target acceptance populace used (``populace.inference.methods.TARGET_ACCEPT``), if it has one."""
    from populace.inference import methods as fit_module

    return getattr(fit_module, "TARGET_ACCEPT", None)


def _config(
    mode: Mode, people: pd.DataFrame, pop: tasks.Population, sample_size: int, poll: pd.DataFrame, sizes: pd.Series
) -> dict[str, Any]:
    return {
        "draws": mode.draws,
        "chains": mode.chains,
        "sample_seed": SAMPLE_SEED,
        "outcome_seed": OUTCOME_SEED,
        "fit_seed": FIT_SEED,
        "respondents": pop.size,
        "two_party_voters": int((people[OUTCOME] != "").sum()),
        "cells": pop.cells,
        "attributes": ", ".join(f"{a.name} ({len(a.levels)})" for a in pop.attributes),
        "tables": [" x ".join(t) for t in TABLES],
        "sample_size": sample_size,
        "poll_size": len(poll),
        "poll_states": int(poll["state"].nunique()),
        "smallest_state": f"{sizes.idxmin()} ({int(sizes.min())})",
        "ipf_pseudo_count": IPF_PSEUDO_COUNT,
        "prob": PROB,
    }


def _state_rows(
    states: Sequence[str],
    references: dict[str, pd.Series],
    sizes: pd.Series,
    main: pd.DataFrame,
    ipf_states: pd.Series,
    poll_states: pd.Series,
    poll: pd.DataFrame,
) -> list[dict[str, Any]]:
    counts = poll["state"].value_counts()
    rows = []
    for s in states:
        row: dict[str, Any] = {"state": s, "respondents": int(sizes[s]), "poll_n": int(counts.get(s, 0))}
        row |= {name: float(ref[s]) for name, ref in references.items()}
        row |= {k: float(main.loc[s, k]) for k in ("mean", "lower", "upper")}
        row["ipf"] = float(ipf_states[s])
        row["poll"] = None if pd.isna(poll_states[s]) else float(poll_states[s])
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- output


def plot(results: dict[str, Any], path: pathlib.Path) -> None:
    """Forecast with 90% intervals by state against the actual results (PNG)."""
    plt = harness.pyplot()
    rows = sorted(results["states"], key=lambda r: r["actual"])
    y = np.arange(len(rows))
    mean = np.array([r["mean"] for r in rows])
    cfg = results["config"]
    fig, ax = plt.subplots(figsize=(8, 13))
    ax.errorbar(
        mean,
        y,
        xerr=[mean - [r["lower"] for r in rows], np.array([r["upper"] for r in rows]) - mean],
        fmt="o",
        ms=4,
        color="tab:blue",
        capsize=2,
        label=f"populace forecast, {cfg['prob']:.0%} interval",
    )
    ax.plot([r["actual"] for r in rows], y, "D", color="tab:red", ms=5, label="actual result (two-party)")
    ax.plot([r["cces"] for r in rows], y, "o", mfc="none", color="black", ms=5, label="all CCES two-party voters")
    ax.plot([r["estimand"] for r in rows], y, "|", color="black", ms=9, mew=1.5, label="estimand (all respondents)")
    ax.plot([r["ipf"] for r in rows], y, "x", color="tab:green", ms=5, label="IPF joint x outcome model")
    poll = [np.nan if r["poll"] is None else r["poll"] for r in rows]
    ax.plot(poll, y, ".", color="grey", ms=5, label="poll alone (weighted share)")
    ax.axvline(0.5, color="grey", lw=0.6, ls="--")
    ax.set_yticks(y, [f"{r['state']} ({r['poll_n']})" for r in rows], fontsize=7)
    ax.set_ylim(-1, len(rows))
    ax.set_xlim(0, 1)
    ax.set_xlabel("Trump share of the two-party vote")
    ax.set_title(
        f"2016 by state: populace (NUTS {cfg['chains']}x{cfg['draws']}) from CCES tables, a "
        f"{cfg['sample_size']}-person sample\nand a {cfg['poll_size']:,}-voter poll (poll respondents per state "
        "in brackets)",
        fontsize=9,
    )
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.04), ncol=3, fontsize=7)
    fig.tight_layout()
    harness.save_figure(fig, path, dpi=110, bbox_inches="tight")


REFERENCES = {
    "actual": "actual result",
    "cces": "all CCES two-party voters",
    "estimand": "estimand (CCES cells x all respondents)",
}
_METHODS = (("**populace**", "populace"), ("IPF joint x outcome model", "ipf"), ("poll alone", "poll"))


def _pp(value: float | None, digits: int = 1) -> str:
    """A share difference in percentage points."""
    return "–" if value is None else f"{value * 100:+.{digits}f}"


def _pct(value: float | None, digits: int = 1) -> str:
    return harness.fmt(value, f".{digits}%")


def _num(value: float | None, digits: int) -> str:
    return harness.fmt(value, f".{digits}f")


def render(results: dict[str, Any], figure: str) -> str:
    """The markdown section (without its markers), every number read from ``results``."""
    return "\n\n".join(
        [
            "## 2016 presidential election (CCES 2016)",
            _intro(results),
            _headline(results),
            _national_section(results),
            _state_section(results),
            _uncertainty_section(results),
            f"![election2016]({figure})",
            _caveats(results),
        ]
    )


def _intro(results: dict[str, Any]) -> str:
    cfg, fit, out = results["config"], results["joint_fit"], results["outcome_fit"]
    command = "python benchmarks/election2016.py" + (" --quick" if results["mode"] == "quick" else "")
    reduced = "" if (cfg["chains"], cfg["draws"]) == (4, 1000) else " (fewer than the default 4x1000)"
    return (
        f"Written by `{command}` on {results['finished']} (the run took {results['total_seconds'] / 60:.1f} min; "
        f"load average {results['load']['start']:.1f} at the start and {results['load']['end']:.1f} at the end, "
        f"{results['machine']['nproc']} cores shared with other work). Raw results: `{results['json_path']}`.\n\n"
        f"**Population**: the {cfg['respondents']:,} respondents of the 2016 Cooperative Congressional Election "
        f"Study (`stevedata::TV16`, unweighted) over {cfg['attributes']}: {cfg['cells']:,} cells. **Inputs** (what "
        f"populace gets): exact tables {', '.join(cfg['tables'])}, and a {SAMPLE_FRACTION:.0%} simple random "
        f"sample of {cfg['sample_size']} respondents as weighted microdata. **Outcome**: the two-party vote "
        f"(`votetrump`; respondents who voted for neither or did not say are dropped), seen in a separate random "
        f"*poll* of {cfg['poll_size']:,} of the {cfg['two_party_voters']:,} two-party voters ({cfg['poll_states']} "
        f"of 51 states have a poll respondent; smallest state in the CCES: {cfg['smallest_state']}), modelled by "
        f"`populace.outcomes` (multilevel logit on state, age, sex, college and race, main effects) and "
        f"post-stratified by state with `forecast_table`, the code path of `populace forecast`.\n\n"
        f"**Fits**: NUTS {cfg['chains']}x{cfg['draws']}{reduced} for both the joint and the outcome model, seed "
        f"{cfg['fit_seed']}; sample seed {cfg['sample_seed']}, poll seed {cfg['outcome_seed']}. Joint: "
        f"{fit['seconds']:.0f} s, {fit['free_terms']} free terms, largest R-hat {_num(fit['r_hat'], 3)}, smallest "
        f"bulk ESS {_num(fit['ess_bulk'], 0)}, {fit['divergences']} divergent transitions, "
        f"{fit['steps_per_draw']:.0f} leapfrog steps per draw{_accept_text(fit)}. Outcome model: "
        f"{out['seconds']:.0f} s on {out['rows']:,} rows, largest R-hat {out['r_hat']:.3f}. Forecasts (three "
        f"uncertainty settings): {results['forecast_seconds']:.0f} s."
    )


def _accept_text(fit: dict[str, Any]) -> str:
    value = fit.get("target_accept")
    return "" if value is None else f" (target acceptance {value:g})"


def _headline(results: dict[str, Any]) -> str:
    nat, refs = results["national"], results["national"]["references"]
    on_actual, on_estimand = results["scores"]["actual"]["populace"], results["scores"]["estimand"]["populace"]
    pop = nat["populace"]
    survey, turnout = refs["cces"] - refs["actual"], refs["estimand"] - refs["cces"]
    return (
        f"**Headline.** National two-party Trump share: populace {_pct(pop['estimate'])} "
        f"({_pct(pop['lower'])} – {_pct(pop['upper'])}), actual {_pct(refs['actual'])} (CCES-size weighted): "
        f"error {_pp(pop['error_actual'])} pp. By state: mean absolute error {on_actual['mae'] * 100:.1f} pp "
        f"against the actual results, and the 90% interval holds the actual result in {on_actual['coverage']:.0%} "
        f"of the 51 states. The national gap decomposes as: the CCES's own two-party voters against the actual "
        f"result {_pp(survey)} pp (the survey, not the method); weighting every respondent, voter or not, by their "
        f"cell's vote {_pp(turnout)} pp (no turnout model); populace against that estimand "
        f"{_pp(pop['error_estimand'])} pp (the recovery itself), with a state MAE of {on_estimand['mae'] * 100:.1f} "
        f"pp and {on_estimand['coverage']:.0%} coverage of the estimand."
    )


def _national_section(results: dict[str, Any]) -> str:
    nat, refs = results["national"], results["national"]["references"]
    header = ["estimate", "share", "90% interval", *(f"error vs {k} (pp)" for k in REFERENCES)]
    rows = [[f"*{label}*", _pct(refs[key]), "", "", "", ""] for key, label in REFERENCES.items()]
    pop = nat["populace"]
    rows.append(
        ["**populace**", _pct(pop["estimate"]), f"{_pct(pop['lower'])} – {_pct(pop['upper'])}"]
        + [_pp(pop[f"error_{k}"]) for k in REFERENCES]
    )
    for name, key in (
        ("IPF joint x outcome model", "ipf"),
        ("poll alone (weighted share)", "poll"),
        ("poll by state, CCES-size weighted", "poll_state_weighted"),
    ):
        rows.append([name, _pct(nat[key]["estimate"]), ""] + [_pp(nat[key][f"error_{k}"]) for k in REFERENCES])
    return (
        "### National two-party Trump share\n\n"
        "Every national share here weights the states by their numbers of CCES respondents (the joint's exact "
        "state margin), the actual results too: the actual row is not the national popular vote, and electoral "
        "votes play no part. The poll alone is the poll's weighted share (its own state mix).\n\n"
        + harness.table(header, rows)
    )


def _state_section(results: dict[str, Any]) -> str:
    sc = results["scores"]
    rows = []
    for ref in REFERENCES:
        for name, key in _METHODS:
            s = sc[ref][key]
            rows.append(
                [
                    name,
                    ref,
                    str(s["states"]),
                    f"{s['mae'] * 100:.1f}",
                    f"{s['rmse'] * 100:.1f}",
                    _pp(s["bias"]),
                    "–" if "coverage" not in s else f"{s['coverage']:.0%}",
                    "–" if "width" not in s else f"{s['width'] * 100:.1f}",
                ]
            )
    missing = sc["actual"]["poll"]["missing"]
    note = f" ({', '.join(missing)})" if missing else " (none here)"
    return (
        "### By state\n\n"
        + harness.table(
            ["estimate", "reference", "states", "MAE (pp)", "RMSE (pp)", "mean error (pp)", "cov 90", "width 90 (pp)"],
            rows,
        )
        + "\n\nReferences: `actual` is the 2016 result, `trump / (trump + clinton)` from "
        "`dslabs::results_us_election_2016`; `cces` the two-party Trump share of all the state's CCES respondents "
        "who voted for either; `estimand` what the forecast estimates, from every CCES respondent: in each cell the "
        "share of its two-party voters, weighted by all of its respondents (a cell with respondents but no "
        "two-party voter takes its state's share). The IPF baseline rakes the 1% sample plus "
        f"{results['config']['ipf_pseudo_count']} per cell onto the same tables and multiplies by the outcome "
        "model's posterior-mean probabilities (a point estimate: no interval). The poll alone has no estimate in "
        f"states without poll respondents{note}; it is scored on the others."
    )


def _uncertainty_section(results: dict[str, Any]) -> str:
    rows = [
        [label, f"{u['mean_width'] * 100:.1f}", f"{u['mean_sd'] * 100:.2f}", f"{u['national_width'] * 100:.1f}"]
        for label, u in results["uncertainty"].items()
    ]
    return (
        "### Where the uncertainty comes from\n\n"
        "Mean over states of the 90% interval's width and of the posterior sd of the state forecast "
        "(`forecast_draws(fix=...)`): both sources varying; the joint fixed at its posterior mean (outcome-model "
        "uncertainty only); the outcome model fixed at its posterior-mean probabilities (joint uncertainty only).\n\n"
        + harness.table(["setting", "mean width 90 (pp)", "mean sd (pp)", "national width 90 (pp)"], rows)
    )


def _caveats(results: dict[str, Any]) -> str:
    cfg = results["config"]
    return (
        "**Reading these numbers.** CCES respondents are not the electorate: the vote is self-reported, non-voters "
        "are part of the population (the forecast gives every respondent of a cell the vote of the cell's "
        "two-party voters: there is no turnout model), and the survey's weights are not used. A gap to the actual "
        "results is therefore expected even for a perfect recovery, and the interval, which carries the "
        f"uncertainty of the joint and of the outcome model given a {cfg['poll_size']:,}-voter poll and a "
        f"{cfg['sample_size']}-person sample, does not cover the survey's bias: its coverage of the actual results "
        "is not a calibration test. The `estimand` rows are the test of the method; the outcome model has main "
        "effects only (no state x race interaction, for example), which is one reason its coverage there can fall "
        "short of 90%."
    )


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="NUTS 2x500, outputs under benchmarks/output/quick/")
    parser.add_argument("--draws", type=int, help="override the mode's NUTS draws (and warm-up) per chain")
    parser.add_argument("--chains", type=int, help="override the mode's NUTS chains")
    parser.add_argument("--report", type=pathlib.Path, help="redraw the figure and section from a saved results JSON")
    parser.add_argument("--quiet", action="store_true", help="no sampler progress bars")
    return parser.parse_args(argv)


def write_outputs(results: dict[str, Any], mode: Mode) -> None:
    """Draw the figure and put the markdown section into the mode's page."""
    plot(results, mode.out.figures / FIGURE)
    harness.write_section(mode.out.page, SECTION, render(results, mode.out.link(FIGURE)))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the validation and write its JSON, figure and markdown section."""
    args = parse(argv)
    if args.report:
        results = harness.read_json(args.report)
        write_outputs(results, MODES[results["mode"]])
        return 0
    mode = MODES["quick" if args.quick else "full"]
    mode = dataclasses.replace(mode, draws=args.draws or mode.draws, chains=args.chains or mode.chains)
    say(f"election2016, {mode.name}: NUTS {mode.chains}x{mode.draws}")
    results = run(mode, progress=not args.quiet)
    results["json_path"] = os.path.relpath(mode.out.results, ROOT)
    harness.save_json(mode.out.results, results)
    write_outputs(results, mode)
    nat, s = results["national"]["populace"], results["scores"]["actual"]["populace"]
    say(
        f"national error {nat['error_actual'] * 100:+.1f} pp, state MAE {s['mae'] * 100:.1f} pp, 90% coverage "
        f"{s['coverage']:.0%}; wrote {mode.out.results} and {mode.out.page}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
