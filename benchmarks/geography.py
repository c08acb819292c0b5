"""Geography at scale, on SYNTHETIC populations with a known truth: fit time, memory, accuracy.

Two cases, each a finite population drawn from a random log-linear law whose area effects
and area x attribute interactions vary by area (``harness.loglinear_joint`` over a grid whose
first attribute is the area, ``role: geography``):

- ``regions9``: 9 regions x sex (2) x age (6) x race (4) x education (3) x income (6) =
  7,776 cells (864 per region); the region x attribute tables and two national tables
  (age x education, race x income) exact; a 2% sample of 500,000 persons.
- ``areas51``: 51 areas x sex (2) x age (5) x income (10) x occupation (10) = 51,000 cells
  (1,000 per area); the area x attribute tables exact; a 1% sample of 1,000,000 persons.

Each fit runs in its own child process (peak memory is its ``ru_maxrss``); one gradient of
the log density is timed on its own, to say where the time goes (steps per draw x cost of a
step). TVD and 90% coverage (cells with enough persons, ``populace.metrics``) are against
the synthetic population; IPF (the best pseudo-count of a few, picked with the truth) is
beside them.

Usage::

    python benchmarks/geography.py            # gradient cost; NUTS 2x1000 on regions9, 4x1000 on areas51 (~1.5 h)
    python benchmarks/geography.py --quick    # regions9 only, NUTS 2x100, under benchmarks/output/quick/
    python benchmarks/geography.py --case areas51   # one case of the full run, merged into its saved results
    python benchmarks/geography.py --case regions9 --unrolled-sweeps 5   # the likelihood on 5 unrolled sweeps
    python benchmarks/geography.py --report benchmarks/results/geography.json
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import sys
from typing import Any

import harness
import numpy as np
from harness import say

SECTION = "geography"
SEED = 0
# name -> (areas, other attributes (name, levels, ordered), national tables (axes), population, sample fraction)
CASES: dict[str, dict[str, Any]] = {
    "regions9": {
        "areas": 9,
        "attributes": (
            ("sex", 2, False),
            ("age", 6, True),
            ("race", 4, False),
            ("education", 3, True),
            ("income", 6, True),
        ),
        "national": ((2, 4), (3, 5)),
        "population": 500_000,
        "fraction": 0.02,
    },
    "areas51": {
        "areas": 51,
        "attributes": (("sex", 2, False), ("age", 5, True), ("income", 10, True), ("occupation", 10, False)),
        "national": (),
        "population": 1_000_000,
        "fraction": 0.01,
    },
}
IPF_PSEUDO = (0.01, 0.1, 0.5, 1.0)
CHILD_TIMEOUT = 2 * 3600


@dataclasses.dataclass(frozen=True)
class Mode:
    name: str
    costs: tuple[str, ...]  # cases whose gradient cost is timed
    fits: tuple[tuple[str, int, int], ...]  # (case, draws per chain, chains)
    out: harness.Outputs
    unrolled: int = 0  # the likelihood on this many unrolled sweeps (LoglinearModel.unrolled_sweeps); 0: default


MODES = {
    "full": Mode(
        "full",
        ("regions9", "areas51"),
        (("regions9", 1000, 2), ("areas51", 1000, 4)),
        harness.outputs(False, "geography.json"),
    ),
    "quick": Mode("quick", ("regions9",), (("regions9", 100, 2),), harness.outputs(True, "geography.json")),
}
# Cores that run chains at once, for the estimate of a fit from its gradient cost.
CORES = 2


def build_case(name: str) -> tuple[Any, np.ndarray]:
    """The case's spec (tables and sample of the synthetic population) and the population's shares."""
    import populace as pp

    case = CASES[name]
    rng = np.random.default_rng([SEED, case["areas"]])
    area = pp.Attribute(name="area", levels=tuple(f"a{i:02d}" for i in range(case["areas"])), role="geography")
    others = tuple(
        pp.Attribute(name=n, levels=tuple(f"{n[:3]}{i}" for i in range(k)), ordered=o) for n, k, o in case["attributes"]
    )
    attributes = (area, *others)
    shape = tuple(len(a.levels) for a in attributes)
    p = harness.loglinear_joint(shape, [a.ordered for a in attributes], rng)
    counts, sample = harness.finite_population(p, case["population"], case["fraction"], rng)
    tables = [((0, a), harness.margin(counts, (0, a)), False) for a in range(1, len(shape))]
    tables += [(axes, harness.margin(counts, axes), False) for axes in case["national"]]
    spec = harness.make_spec(attributes, tables, sample, name=f"geography-{name}")
    return spec, counts / counts.sum()


# ----------------------------------------------------------------------------- children


def fit_child(request: dict[str, Any]) -> dict[str, Any]:
    """Child: the default NUTS fit of one case, scored against the truth."""
    import populace as pp
    from populace.metrics import recovery_metrics, tvd

    if request.get("unrolled_sweeps"):
        import populace.models.loglinear as loglinear

        loglinear.UNROLLED_SWEEPS = request["unrolled_sweeps"]
    spec, truth = build_case(request["case"])
    post = pp.fit(spec, draws=request["draws"], chains=request["chains"], seed=SEED, progress=False)
    stats = post.sample_stats
    draws = post.posterior["p"].values.reshape(post.n_samples, -1)
    import jax

    from populace.inference.diagnostics import convergence
    from populace.inference.methods import chain_method

    return {
        "cells": int(truth.size),
        "start": _start(post.fit_info),
        "chain_method": chain_method(jax.local_device_count(), request["chains"], int(truth.size)),
        "fit_seconds": post.fit_info["fit_seconds"],
        "steps_per_draw": float(np.asarray(stats["n_steps"]).mean()),
        "divergences": int(np.asarray(stats["diverging"]).sum()),
        "convergence": {c["name"]: c["value"] for c in convergence(post)},
        "tvd": tvd(draws.mean(axis=0), truth.ravel()),
        "coverage_90": recovery_metrics(post, truth, prob=0.9)["coverage"],
    }


def _start(info: dict[str, Any]) -> str:
    """How NUTS started and what the likelihood's projection was, for the table."""
    from populace.inference.methods import METHODS

    sweeps = info.get("projection_unrolled_sweeps", 0)
    start = "warm" if getattr(METHODS["nuts"], "warm_start", False) else "default"
    return f"{start}, {f'{sweeps} unrolled sweeps' if sweeps else 'projection to tolerance'}"


def cost_child(request: dict[str, Any]) -> dict[str, Any]:
    """Child: compile time and milliseconds per gradient of the case's log density; IPF's TVD."""
    from populace.inference.backend import setup_jax

    setup_jax(1)
    from populace.baselines import ipf
    from populace.data import load_inputs
    from populace.metrics import tvd

    spec, truth = build_case(request["case"])
    inputs = load_inputs(spec)
    ipf_tvd = {str(a): tvd(np.asarray(ipf(inputs, a)).ravel(), truth.ravel()) for a in IPF_PSEUDO}
    return harness.gradient_cost(inputs) | {"ipf_tvd": ipf_tvd}


# ----------------------------------------------------------------------------- the run


def run(mode: Mode) -> dict[str, Any]:
    results = harness.new_results(mode=mode.name, cases={}, fits=[])
    for case in mode.costs:
        say(f"{case}: gradient cost and IPF")
        results["cases"][case] = harness.run_child("geography:cost_child", {"case": case}, 1800)
    for case, draws, chains in mode.fits:
        say(f"{case}: NUTS {chains}x{draws}")
        request = {"case": case, "draws": draws, "chains": chains, "unrolled_sweeps": mode.unrolled}
        row = harness.run_child("geography:fit_child", request, CHILD_TIMEOUT)
        results["fits"].append(request | row)
        say(f"{case}: {row.get('fit_seconds', float('nan')):.0f} s" if "failed" not in row else row["failed"])
    results["finished"] = harness.now()
    return results


def render(results: dict[str, Any]) -> str:
    lines = [
        "## Geography at scale (synthetic populations)",
        "",
        f"Written by `python benchmarks/geography.py{' --quick' if results['mode'] == 'quick' else ''}` on "
        f"{results['finished']} (load average {results['load']['start']:.1f} at the start). **Synthetic**: a "
        "finite population drawn from a random log-linear law with area effects and area x attribute "
        "interactions (`harness.loglinear_joint`, the area first, `role: geography`); TVD and 90% coverage "
        "(cells with enough persons) against that population.",
        "",
    ]
    for name, case in CASES.items():
        if name not in results["cases"]:
            continue
        cost = results["cases"][name]
        names = " x ".join(f"{n} ({k})" for n, k, _ in case["attributes"])
        national = ", ".join(" x ".join(case["attributes"][a - 1][0] for a in axes) for axes in case["national"])
        lines.append(
            f"- **{name}**: {case['areas']} areas x {names} = {cost.get('cells', 0):,} cells; the area x "
            f"attribute tables exact{', national tables ' + national + ' exact' if national else ''}; a "
            f"{case['fraction']:.0%} sample of {case['population']:,} persons. "
            + (
                f"{cost['parameters']:,} parameters, one gradient {cost['gradient_ms']:.1f} ms (compile "
                f"{cost['compile_s']:.1f} s); best IPF TVD {min(cost['ipf_tvd'].values()):.3f}."
                if "failed" not in cost
                else f"Cost child failed: {cost['failed']}."
            )
        )
    lines += [
        "",
        "Targets (issue 13): NUTS on regions9 in under 2 min (DESIGN.md's prototype: 2x1000 in 29 s, 31 steps "
        "per draw); 51 areas x about 1,000 cells in under 30 min.",
        "",
        "A row that says *warm* started NUTS at the posterior mode (L-BFGS, a diagonal mass matrix from its "
        "path, chains drawn around the mode: `populace/inference/warm_start.py`, not the default); a row "
        "with *unrolled sweeps* took the microdata likelihood on a few IPF sweeps differentiated by unrolling "
        "(`--unrolled-sweeps`; the recorded joint is still projected to tolerance): an option, not the default, "
        "because where a sample disagrees with the tables the sampler can drift to effects that a few sweeps "
        "leave off the tables (ARCHITECTURE.md, the model in brief).",
        "",
        "| case | cells | NUTS | start, likelihood's projection | fit s | peak MiB | steps per draw | "
        "divergences | R-hat | TVD | best IPF TVD | 90% coverage |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["fits"]:
        cost = results["cases"].get(row["case"], {})
        best_ipf = min(cost["ipf_tvd"].values()) if "ipf_tvd" in cost else float("nan")
        if "failed" in row:
            lines.append(
                f"| {row['case']} | – | {row['chains']}x{row['draws']} | failed after "
                f"{row['process_seconds']:.0f} s: {row['failed']} | | | | | | | | |"
            )
            continue
        lines.append(
            f"| {row['case']}{' (rerun ' + row['rerun'] + ')' if 'rerun' in row else ''} | {row['cells']:,} | "
            f"{row['chains']}x{row['draws']}{_vectorised(row)} | "
            f"{row.get('start', 'default, projection to tolerance')} | {row['fit_seconds']:.0f} | "
            f"{row['peak_mib']:,.0f} | {row['steps_per_draw']:.0f} | "
            f"{row['divergences']} | {row['convergence'].get('r_hat', float('nan')):.3f} | {row['tvd']:.3f} | "
            f"{best_ipf:.3f} | {row['coverage_90']:.0%} |"
        )
    lines += ["", *_where_time_goes(results)]
    return "\n".join(lines)


def _vectorised(row: dict[str, Any]) -> str:
    """A note when the chains ran vectorised on one device rather than one per core."""
    vectorised = row.get("chain_method") == "vectorized" or row.get("devices", row["chains"]) < row["chains"]
    return " (vectorised)" if vectorised else ""


def _where_time_goes(results: dict[str, Any]) -> list[str]:
    """NUTS time = (warm-up + draws) x chains x steps per draw x one gradient / cores, per case.

    Only fits with the default projection: the gradient cost is the default's.
    """
    fitted = [r for r in results["fits"] if "failed" not in r and not r.get("unrolled_sweeps")]
    if not fitted:
        return []
    steps = fitted[-1]["steps_per_draw"]
    fit = fitted[-1]
    cost = results["cases"].get(fit["case"], {})
    check = ""
    if "gradient_ms" in cost:
        guess = 2 * fit["draws"] * fit["chains"] * steps * cost["gradient_ms"] / 1000 / CORES
        check = (
            f" On {fit['case']} the {fit['chains']}x{fit['draws']} fit took {fit['fit_seconds']:.0f} s against "
            f"{guess:.0f} s estimated this way ({fit['fit_seconds'] / guess:.1f}x)"
            + (
                ": the estimates are lower bounds (chains share the cores, and warm-up takes more steps)."
                if fit["fit_seconds"] > guess
                else " (a gradient at the posterior costs less than at the start, where it is measured)."
            )
        )
    lines = [
        "Where the time goes: a NUTS fit costs (warm-up + draws) x chains x leapfrog steps per draw x one "
        f"gradient, over the {CORES} cores that run chains at once. The table puts the measured gradient "
        "beside the steps per draw measured on each fitted case (a case not fitted borrows those of "
        f"{fitted[-1]['case']}); the times are **estimates** from those two numbers, not measurements." + check,
        "",
        "| case | ms per gradient | steps per draw | NUTS 2x1000 (est.) | NUTS 4x1000, the default (est.) |",
        "|---|---|---|---|---|",
    ]
    own = {r["case"]: r["steps_per_draw"] for r in fitted}
    for name, cost in results["cases"].items():
        if "failed" in cost:
            continue
        case_steps = own.get(name, steps)
        per_draw = case_steps * cost["gradient_ms"] / 1000

        def minutes(chains: int, per_draw: float = per_draw) -> str:
            return f"{2000 * chains * per_draw / CORES / 60:.0f} min"

        label = f"{case_steps:.0f}" + ("" if name in own else f" (those of {fitted[-1]['case']})")
        lines.append(f"| {name} | {cost['gradient_ms']:.1f} | {label} | {minutes(2)} | {minutes(4)} |")
    return lines


def _rerun_case(case: str, unrolled: int = 0) -> dict[str, Any]:
    """The full run's cost and fit of one case, replacing that case's rows in the saved full results.

    With ``unrolled``, only the fit, beside the default's row (the default's gradient cost stays).
    """
    full = MODES["full"]
    fits = tuple(f for f in full.fits if f[0] == case)
    mode = dataclasses.replace(full, costs=() if unrolled else (case,), fits=fits, unrolled=unrolled)
    fresh = run(mode)
    if not full.out.results.exists():
        return fresh
    saved = harness.read_json(full.out.results)
    saved["cases"].update(fresh["cases"])
    rerun = [dict(row, rerun=fresh["finished"]) for row in fresh["fits"]]
    same = (case, unrolled)
    saved["fits"] = [row for row in saved["fits"] if (row["case"], row.get("unrolled_sweeps", 0)) != same] + rerun
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=str, default=None, help="redraw from saved results, no fitting")
    # --case reruns part of the full run, so it cannot go with --quick
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--quick", action="store_true")
    which.add_argument("--case", choices=list(CASES), help="rerun one case of the full run, merged into its results")
    parser.add_argument(
        "--unrolled-sweeps",
        type=int,
        default=0,
        help="with --case: fit with the likelihood on this many unrolled IPF sweeps (an option, not the default)",
    )
    args = parser.parse_args(argv)
    if args.unrolled_sweeps and not args.case:
        parser.error("--unrolled-sweeps goes with --case")
    mode = MODES["quick" if args.quick else "full"]
    if args.report:
        data = harness.read_json(pathlib.Path(args.report))
    elif args.case:
        data = _rerun_case(args.case, args.unrolled_sweeps)
        harness.save_json(mode.out.results, data)
    else:
        data = run(mode)
        harness.save_json(mode.out.results, data)
    harness.write_section(mode.out.page, SECTION, render(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
