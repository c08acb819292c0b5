"""The 2016 US presidential election at national scale: a forecast, and a post-election analysis.

Usage::

    python benchmarks/election2016.py            # the default fit (NUTS 4x1000), outcome models 4x1000
    python benchmarks/election2016.py --quick    # NUTS 2x300, written under benchmarks/output/quick/
    python benchmarks/election2016.py --report benchmarks/results/election2016.json   # redraw, no fitting

The pipeline a user runs (``populace.data.election2016.write_case`` writes its files):
the 50-state joint of state x race x sex x age x education (12,000 cells) from the three
ACS state tables (exact) and 5,000 CCES respondents' demographics (college yes/no as
coarse education), fitted by ``populace fit``; then ``populace forecast`` with an outcome
model of the CCES pre-election vote and turnout intent (trump, clinton, other, abstain)
whose levels are set by the state and national poll averages of the last two weeks
(evidence, each source with its shared error), two-party shares by state and nationally. Only what was known
before 8 November 2016 enters the forecast. The post-election analysis models validated
turnout and the post-election vote instead, without polls. Both are scored against the
official results (``results2016.csv``), beside the anchors a forecaster would use.
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
from harness import say

# Seeds: the CCES respondents that are the joint's microdata, and every fit.
SAMPLE_SEED = 0
FIT_SEED = 0
# CCES respondents whose demographics inform the joint (every respondent feeds the outcome model).
SAMPLE_SIZE = 5000
TWO_PARTY = ["trump", "clinton"]
PROB = 0.9
# States used to measure how one gradient's cost grows with the number of areas.
SCALING_STATES = (1, 5, 10, 25, 50)
CHILD_TIMEOUT = 3 * 3600


@dataclasses.dataclass(frozen=True)
class Mode:
    name: str
    draws: int
    chains: int
    out: harness.Outputs


MODES = {
    "full": Mode("full", 1000, 4, harness.outputs(False, "election2016.json")),
    "quick": Mode("quick", 300, 2, harness.outputs(True, "election2016.json")),
}


# ----------------------------------------------------------------------------- children


def fit_joint(request: dict[str, Any]) -> dict[str, Any]:
    """Child: ``populace fit`` on the case's spec, then ``populace check``'s exact-table rows."""
    import populace as pp
    from populace.inference.diagnostics import convergence

    spec = pp.Spec.from_yaml(request["spec"])
    start = time.perf_counter()
    post = pp.fit(spec, draws=request["draws"], chains=request["chains"], seed=FIT_SEED, progress=False)
    seconds = time.perf_counter() - start
    post.to_netcdf(request["out"])
    report = pp.check(post)
    exact = report.checks[report.checks["check"].str.startswith("exact table")]
    stats = post.sample_stats
    return {
        "fit_seconds": seconds,
        "exact_gap_pp": float(exact["value"].max()),
        "exact_ok": bool(exact["ok"].all()),
        "steps_per_draw": float(stats["n_steps"].mean()) if "n_steps" in stats else None,
        "convergence": {c["name"]: c["value"] for c in convergence(post)},
        "check_ok": report.ok,
    }


def forecast(request: dict[str, Any]) -> dict[str, Any]:
    """Child: the outcome models and every forecast table, from a fitted joint."""
    import populace as pp
    from populace.baselines import ipf

    post = pp.load(request["posterior"])
    out: dict[str, Any] = {}
    for name, path in (("forecast", request["forecast"]), ("analysis", request["analysis"])):
        start = time.perf_counter()
        model = pp.outcome_model(post, path, draws=request["draws"], chains=request["chains"], seed=FIT_SEED)
        states = pp.forecast(post, path, by=["state"], model=model, among=TWO_PARTY, prob=PROB)
        national = pp.forecast(post, path, by=[], model=model, among=TWO_PARTY, prob=PROB)
        row = {
            "seconds": time.perf_counter() - start,
            "states": _trump(states).to_dict("list"),
            "national": _trump(national).iloc[0].to_dict(),
        }
        if model.evidence_bias is not None:
            row["poll_bias"] = {
                name: [float(b.mean()), float(b.std())]
                for name, b in zip(model.evidence_names, model.evidence_bias.T, strict=True)
            }
        if model.house_slope is not None:
            row["house_slope"] = [float(model.house_slope.mean()), float(model.house_slope.std())]
        if model.shared_shift is not None:
            # the same fitted model with some of the shared errors (drawn from their priors)
            row["shared_errors"] = {
                f"{int(common)}{int(correlated)}": _trump(
                    pp.forecast(
                        post,
                        path,
                        by=["state"],
                        model=model.with_shared_errors(common=common, correlated=correlated),
                        among=TWO_PARTY,
                        prob=PROB,
                    )
                ).to_dict("list")
                for common in (False, True)
                for correlated in (False, True)
            }
        if name == "forecast":
            frame = point_posterior(post, ipf(post.inputs(), 0.5))
            row["ipf_states"] = _trump(pp.forecast(frame, path, by=["state"], model=model, among=TWO_PARTY)).to_dict(
                "list"
            )
            row["ipf_national"] = float(
                _trump(pp.forecast(frame, path, by=[], model=model, among=TWO_PARTY))["mean"][0]
            )
        out[name] = row
    out["joint"] = joint_against_cces(post)
    return out


def point_posterior(post: Any, joint: np.ndarray) -> Any:
    """A one-draw posterior holding a point estimate of the joint (to post-stratify over it)."""
    from populace.posterior import Posterior

    names = post.spec.names
    return Posterior.from_arrays(
        spec=post.spec,
        inputs=post.inputs(),
        variables={"p": (("chain", "draw", *names), joint[None, None])},
        meta={"method": "ipf", "mcmc": False, "draws": 1, "chains": 1, "seed": 0},
    )


def _trump(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["level"] == "trump"].drop(columns="level").reset_index(drop=True)


def joint_against_cces(post: Any) -> dict[str, Any]:
    """State x race x college shares of the joint (posterior mean) beside the CCES respondents' own."""
    from populace.data import election2016

    joint = post.summary(["state", "race", "education"])
    joint["college"] = np.where(joint["education"].isin(election2016.COARSE_EDUCATION["college"]), "yes", "no")
    ours = joint.groupby(["state", "race", "college"])["mean"].sum()
    people = election2016.cces()
    people["college"] = np.where(people["education"] == "college", "yes", "no")
    theirs = people.groupby(["state", "race", "college"]).size() / len(people)
    both = pd.concat([ours.rename("joint"), theirs.rename("cces")], axis=1).fillna(0.0)
    national = both.groupby(level=["race", "college"]).sum()
    return {
        "cells": len(both),
        "mean_abs_pp": float((both["joint"] - both["cces"]).abs().mean() * 100),
        "tvd": float(0.5 * (both["joint"] - both["cces"]).abs().sum()),
        "national": national.reset_index().to_dict("list"),
    }


def gradient_cost(request: dict[str, Any]) -> dict[str, Any]:
    """Child: compile time and milliseconds per gradient of the joint's log density on the first ``n`` states."""
    from populace.inference.backend import setup_jax

    setup_jax(1)
    import populace as pp
    from populace.data import load_inputs

    spec = pp.Spec.from_yaml(pathlib.Path(request["folder"]) / "spec.yaml")
    return harness.gradient_cost(load_inputs(spec))


# ----------------------------------------------------------------------------- the run


def run(mode: Mode) -> dict[str, Any]:
    from populace.data import election2016

    results = harness.new_results(mode=mode.name, draws=mode.draws, chains=mode.chains, sample=SAMPLE_SIZE)
    with tempfile.TemporaryDirectory(prefix="populace-election-") as tmp:
        case = election2016.write_case(pathlib.Path(tmp) / "case", sample=SAMPLE_SIZE, seed=SAMPLE_SEED)
        say(f"joint: NUTS {mode.chains}x{mode.draws} on 12,000 cells")
        request = {"spec": str(case.spec), "out": str(case.folder / "post.nc"), "draws": mode.draws}
        results["fit"] = harness.run_child("election2016:fit_joint", request | {"chains": mode.chains}, CHILD_TIMEOUT)
        say(f"joint: {results['fit'].get('fit_seconds', 0):.0f} s, {results['fit'].get('peak_mib', 0):.0f} MiB")
        request = {
            "posterior": str(case.folder / "post.nc"),
            "forecast": str(case.forecast),
            "analysis": str(case.analysis),
            "draws": mode.draws,
            "chains": mode.chains,
        }
        results["outcomes"] = harness.run_child("election2016:forecast", request, CHILD_TIMEOUT)
        results["scaling"] = []
        for n in SCALING_STATES:
            sub = election2016.write_case(pathlib.Path(tmp) / f"states{n}", sample=SAMPLE_SIZE, seed=SAMPLE_SEED)
            _keep_states(sub.folder, election2016.states()[:n])
            results["scaling"].append(
                harness.run_child("election2016:gradient_cost", {"folder": str(sub.folder)}, 1800)
            )
    results["anchors"] = anchors()
    results["actual"] = election2016.results().set_index("state")["trump"].to_dict()
    results["actual_national"] = election2016.national_result()
    results["swing_error_pp"] = election2016.swing_error() * 100
    results["composition_error"] = election2016.composition_error()
    results["common_error"] = election2016.COMMON_ERROR
    results["poll_average_states"] = election2016.poll_average().set_index("state")["share"].to_dict()
    return results


def _keep_states(folder: pathlib.Path, keep: Sequence[str]) -> None:
    """Cut a written case down to some states (tables, sample and spec)."""
    import yaml

    for name in ("state_sex_age.csv", "state_race.csv", "state_education.csv", "sample.csv"):
        frame = pd.read_csv(folder / name, keep_default_na=False)
        frame[frame["state"].isin(keep)].to_csv(folder / name, index=False)
    spec = yaml.safe_load((folder / "spec.yaml").read_text())
    spec["attributes"]["state"]["levels"] = list(keep)
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))


def anchors() -> dict[str, dict[str, float]]:
    """What a forecaster would put beside the forecast, scored on the same states."""
    from populace.data import election2016
    from populace.outcomes.spec import DEFAULT_EVIDENCE_ERROR

    actual = election2016.results().set_index("state")["trump"]
    polls = election2016.poll_average().set_index("state")["share"]
    people = election2016.cces()
    two = people[people["vote_pre"].isin(TWO_PARTY)]
    cces = two.groupby("state")["vote_pre"].apply(lambda v: float((v == "trump").mean()))
    hindsight = election2016.national_result() - election2016.national_2012()
    swing = election2016.uniform_swing()
    # the two state-level sources of the forecast averaged with the outcome spec's errors
    # (a poll average: its se and 2 pp own error; the swing: its historical error)
    se = election2016.poll_average().set_index("state")["se"]
    w_polls = 1 / (se**2 + DEFAULT_EVIDENCE_ERROR**2)
    w_swing = 1 / election2016.swing_error() ** 2
    combined = ((w_polls * polls + w_swing * swing.reindex(polls.index)) / (w_polls + w_swing)).dropna()
    out = {
        "poll average, last two weeks": polls,
        "polls and uniform swing, inverse-variance average": combined,
        "uniform swing from 2012 (swing from the polls)": swing,
        "uniform swing from 2012 (actual swing: hindsight)": election2016.uniform_swing(hindsight),
        "unweighted CCES pre-election": cces,
    }
    scores = {name: _scores(series, actual) for name, series in out.items()}
    scores["poll average, last two weeks"]["national"] = float(
        election2016.poll_average(national=True)["share"].iloc[0]
    )
    return scores


def _scores(estimate: pd.Series, actual: pd.Series, lower: pd.Series | None = None, upper: pd.Series | None = None):
    estimate = estimate.reindex(actual.index)
    err = estimate - actual
    row = {
        "states": int(err.notna().sum()),
        "mae_pp": float(err.abs().mean() * 100),
        "bias_pp": float(err.mean() * 100),
    }
    if lower is not None:
        inside = (actual >= lower.reindex(actual.index)) & (actual <= upper.reindex(actual.index))
        row["coverage"] = float(inside.mean())
        row["width_pp"] = float((upper - lower).mean() * 100)
    return row


# ----------------------------------------------------------------------------- the page


def render(results: dict[str, Any], figure: str) -> str:
    actual = pd.Series(results["actual"])
    fit, out = results["fit"], results["outcomes"]
    lines = [
        "## The 2016 election at national scale",
        "",
        f"Written by `python benchmarks/election2016.py{' --quick' if results['mode'] == 'quick' else ''}` on "
        f"{results['finished']} ({results['total_seconds'] / 60:.1f} min; load average "
        f"{results['load']['start']:.1f} at the start). Data and what a forecast may use: "
        "`populace/data/us2016/README.md`.",
        "",
    ]
    if "failed" in fit or "failed" in out:
        failure = fit.get("failed") or out.get("failed")
        return "\n".join([*lines, f"**The run failed:** {failure}. {fit.get('log_tail', out.get('log_tail', ''))}"])
    conv = fit["convergence"]
    lines += [
        f"**The joint.** 50 states x 4 races x 2 sexes x 6 ages x 5 education levels = 12,000 cells; the three ACS "
        f"state tables exact, {results['sample']:,} CCES respondents as microdata (college yes/no as coarse "
        f"education). Default `populace fit` (NUTS {results['chains']}x{results['draws']}): "
        f"**{fit['fit_seconds'] / 60:.1f} min**, peak memory **{fit['peak_mib'] / 1024:.1f} GiB**, "
        f"{fit['steps_per_draw']:.0f} leapfrog steps per draw, {conv.get('divergences', 0)} divergences, largest "
        f"R-hat {conv.get('r_hat', float('nan')):.3f}, smallest bulk ESS {conv.get('ess_bulk', float('nan')):.0f}. "
        f"Exact tables met in every draw: largest gap {fit['exact_gap_pp']:.1g} pp "
        f"({'ok' if fit['exact_ok'] else 'FAILED'}).",
        "",
        "| states | cells | parameters | compile s | ms per gradient |",
        "|---|---|---|---|---|",
    ]
    for row in results["scaling"]:
        if "failed" in row:
            continue
        lines.append(
            f"| {row['cells'] // 240} | {row['cells']:,} | {row['parameters']:,} | {row['compile_s']:.1f} | "
            f"{row['gradient_ms']:.2f} |"
        )
    joint = out["joint"]
    lines += [
        "",
        f"State x race x college shares of the joint against the CCES respondents' own (unweighted): mean absolute "
        f"difference {joint['mean_abs_pp']:.2f} pp over {joint['cells']} cells, TVD {joint['tvd']:.3f} (the CCES is "
        "not a probability sample: it over-represents college graduates, which the ACS tables correct).",
        "",
    ]
    lines += [
        "**Vote and turnout are an outcome model over the joint, not attributes of it.** The census tables are of "
        "all adults and never cross vote; the polls are toplines among likely voters, not counts of adults; and a "
        "vote x turnout grid would multiply the joint's 12,000 cells by eight. So the joint stays demographic, and "
        "a multilevel logit of the CCES pre-election intent (trump, clinton, other, abstain: turnout enters as "
        "abstaining) on state, race, sex, age and college is post-stratified over it draw by draw. Three sources "
        "of published shares enter that model as evidence (`evidence:` in the outcome spec): the state poll "
        "averages, on each state's two-party share, with one error shared by all states (prior sd 2 pp) and each "
        "state's own error (sd 2 pp); the national poll average of the same two weeks, on the national "
        "two-party share, with its own shared error (prior sd 1 pp; its own error 0.5 pp); and 2012's result "
        "moved by the state polls' swing since 2012 (uniform swing), shared error prior sd 10 pp (its level is the "
        "state polls': it adds their pattern's complement, not a second reading of their level), each state's own "
        f"error {results.get('swing_error_pp', float('nan')):.1f} pp: the root mean square of states' deviations "
        "from a uniform swing in 2000-2012 (`election2016.swing_error`). The national average tells how far the "
        "state polls together sit from the national polls; the previous election holds states where the polls "
        "are few or compressed toward 50%. All three and the survey also share errors that none of them can "
        "reveal, so they are drawn from their priors after the fit, not learned: a common error (`common_error:`, "
        f"sd {results.get('common_error', float('nan')) * 100:.0f} pp: the national polls' root mean square miss "
        "in 2004-2012) and a correlated error (`correlated_error:`): each state misses by gamma x (its share of "
        "adults without college - the nation's), gamma ~ Normal(0, "
        f"{results.get('composition_error', float('nan')):.2f}), "
        "the root mean square slope of states' deviations from a uniform swing on that share in 2000-2012 "
        "(`election2016.composition_error`): polls and survey can miss along the composition by as much as "
        "elections moved along it. (Sampled inside the model, the slope was learned from the small differences "
        "between the survey's and the polls' terms, 0.86 +- 0.13 in the last run, which tilted the forecast "
        "against states without college: state MAE 5.74, coverage 20%.)" + " The CCES gets a house effect (its "
        "lean relative to the polls, national and by state, pooled), so the polls set each state's level and the "
        "survey the differences between groups within it. Pooled toward zero, those leans by state are "
        "shrunk, and a survey whose states differ less than the truth pulls the states toward each other: "
        "the outcome spec's `lean_predictor:` (2012's two-party log odds by state, `election2016.lean_2012`) "
        "pools them toward a learned slope along last election's partisanship instead"
        + _lean_note(results, actual)
        + ".",
        "",
    ]
    lines += _forecast_table(results, actual)
    lines += [
        "",
        f"The forecast's outcome model (NUTS {results['chains']}x{results['draws']} on every CCES respondent, "
        f"with the three evidence sources) took {out['forecast']['seconds'] / 60:.1f} min, the post-election "
        f"analysis's {out['analysis']['seconds'] / 60:.1f} min; peak memory of both with every forecast table "
        f"{out.get('peak_mib', float('nan')) / 1024:.1f} GiB.",
    ]
    lines += ["", f"![election2016]({figure})", ""]
    return "\n".join(lines)


def _lean_note(results: dict[str, Any], actual: pd.Series) -> str:
    """The survey's lean slope and how spread out the state forecasts are against the results."""
    part = results["outcomes"]["forecast"]
    states = pd.DataFrame(part["states"]).set_index("state")["mean"]
    polls = results.get("poll_average_states") or {}
    note = ""
    if "house_slope" in part:
        slope = part["house_slope"]
        note += f" (slope {slope[0]:+.2f}, sd {slope[1]:.2f}, per sd of the predictor, on the log odds)"
    note += f". The results' slope on the state forecasts is {_spread(states, actual):.2f}"
    note += " (1: the forecasts are as spread out as the results)"
    if polls:
        note += f", on the state poll averages {_spread(pd.Series(polls), actual):.2f}"
    return note


def _spread(forecast: pd.Series, actual: pd.Series) -> float:
    """Slope of the actual results on a forecast across states (above 1: the forecast is compressed)."""
    both = forecast.index.intersection(actual.index)
    x, y = forecast[both].to_numpy(), actual[both].to_numpy()
    return float(np.polyfit(x - x.mean(), y - y.mean(), 1)[0])


def _forecast_table(results: dict[str, Any], actual: pd.Series) -> list[str]:
    out = results["outcomes"]
    nat_actual = results["actual_national"]
    rows = []
    for name, label in (
        ("forecast", "**populace forecast** (before election day)"),
        ("analysis", "post-election analysis"),
    ):
        part = out[name]
        states = pd.DataFrame(part["states"]).set_index("state")
        s = _scores(states["mean"], actual, states["lower"], states["upper"])
        nat = part["national"]
        rows.append(
            f"| {label} | {nat['mean'] * 100:.1f} [{nat['lower'] * 100:.1f}, {nat['upper'] * 100:.1f}] | "
            f"{(nat['mean'] - nat_actual) * 100:+.1f} | {s['mae_pp']:.2f} | {s['bias_pp']:+.2f} | {s['coverage']:.0%} |"
        )
    ipf = pd.DataFrame(out["forecast"]["ipf_states"]).set_index("state")
    s = _scores(ipf["mean"], actual)
    rows.append(
        f"| IPF frame x the same outcome model | {out['forecast']['ipf_national'] * 100:.1f} | "
        f"{(out['forecast']['ipf_national'] - nat_actual) * 100:+.1f} | {s['mae_pp']:.2f} | {s['bias_pp']:+.2f} | – |"
    )
    for name, s in results["anchors"].items():
        national = (
            f"{s['national'] * 100:.1f} (national polls) | {(s['national'] - nat_actual) * 100:+.1f}"
            if "national" in s
            else "– | –"
        )
        rows.append(f"| {name} | {national} | {s['mae_pp']:.2f} | {s['bias_pp']:+.2f} | – |")
    bias = out["forecast"].get("poll_bias") or {}
    note = (
        " The model's shared poll errors came out at "
        + ", ".join(f"{name} {b[0] * 100:+.1f} pp (sd {b[1] * 100:.1f})" for name, b in bias.items())
        + " (prior sd 2 for the state polls, 1 for the national polls, 10 for the swing)."
        if bias
        else ""
    )
    shared = out["forecast"].get("shared_errors") or {}
    if shared:
        rows.append("")
        rows.append(
            "The same fitted model with some of the shared errors (they are not learned, so the means barely move "
            "and the intervals show what each adds):"
        )
        rows.append("")
        rows.append("| common error | correlated error | state MAE pp | mean 90% width pp | 90% coverage |")
        rows.append("|---|---|---|---|---|")
        for key, part in shared.items():
            states = pd.DataFrame(part).set_index("state")
            s = _scores(states["mean"], actual, states["lower"], states["upper"])
            rows.append(
                f"| {'yes' if key[0] == '1' else 'no'} | {'yes' if key[1] == '1' else 'no'} | {s['mae_pp']:.2f} | "
                f"{s['width_pp']:.1f} | {s['coverage']:.0%} |"
            )
    return [
        f"Two-party Trump share, scored against the official result (national {nat_actual:.1%}; targets: national "
        "within 1.5 pp, state MAE at most 3.0 pp, 85% of states inside their 90% intervals)." + note,
        "",
        "| method | national % [90%] | national error pp | state MAE pp | state bias pp | 90% coverage |",
        "|---|---|---|---|---|---|",
        *rows,
    ]


def plot(results: dict[str, Any], path: pathlib.Path) -> None:
    from populace.plots import state_map

    states = pd.DataFrame(results["outcomes"]["forecast"]["states"])
    states["level"] = "trump"
    state_map(states, "trump", path, actual=pd.Series(results["actual"]))
    os.chmod(path, harness.FILE_MODE)


def write_outputs(results: dict[str, Any], mode: Mode) -> None:
    figure = mode.out.figures / "election2016.png"
    if "failed" not in results["outcomes"]:
        plot(results, figure)
    harness.write_section(mode.out.page, "election2016", render(results, mode.out.link("election2016.png")))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--report", type=pathlib.Path, help="results JSON to render without fitting")
    args = parser.parse_args(argv)
    if args.report:
        # Rendered into BENCHMARKS.md whatever the mode: the section's first line says which.
        results = harness.read_json(args.report)
        write_outputs(results, MODES["full"])
        return 0
    mode = MODES["quick" if args.quick else "full"]
    start = time.perf_counter()
    results = run(mode)
    harness.save_json(mode.out.results, results, start)
    write_outputs(results, mode)
    say(f"wrote {mode.out.results} and {mode.out.page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
