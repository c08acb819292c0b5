"""Does the LLM plausibility filter help on a real population with empty combinations?

Population: the 1,942 persons of ``openintro/acs12`` with an education value, as a
240-cell joint of age, employment, marital status, education and sex
(:mod:`populace.data.acs12`); populace gets its one-way tables alone, or with a weighted
sample of 1% or 5% of persons. Fits, same inputs and seeds:

- ``no filter``: the plain model;
- ``LLM filter (<model>)``: the default causal-LM scorer, contrastive, pairs;
- ``knowledge scorer``: a scripted scorer that knows a few census facts (nobody under 16
  is employed, married or a graduate; everybody 16+ has an employment status);
- ``wrong scorer``: a scripted scorer that calls the commonest real combinations
  implausible (the robustness check: its weight should shrink toward 0).

Metrics: TVD of the posterior mean against the truth, posterior mass on cells empty in
the truth, 90% coverage of cells with >= 10 persons, and the learned weight. Also the
scorer's throughput (texts per second, uncached) and the cost of a cached re-score.

Run: ``python benchmarks/filter_acs12.py [--quick]``; writes
``benchmarks/results/filter_acs12.json`` and the ``filter-acs12`` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import harness
import numpy as np

from populace.data.acs12 import TEMPLATE, KnowledgeScorer, WrongScorer, acs12_task
from populace.data.inputs import load_inputs
from populace.inference.fit import fit
from populace.llm_filter.build import spec_terms
from populace.metrics import empty_cell_mass, recovery_metrics

RESULTS = harness.RESULTS / "filter_acs12.json"
SECTION = "filter-acs12"
# Sample fractions: 0 is the one-way tables alone (the filter is then the only source of
# interactions); the 'small sample' at 1% and 5%.
FRACTIONS = (0.0, 0.01, 0.05)
SEEDS = (0, 1, 2)
MODELS = ("gemma3-270m", "smollm2")


def metrics(post: Any, truth: np.ndarray) -> dict[str, Any]:
    """TVD, mass on empty cells, coverage and the learned weight of one fit."""
    mean = post.posterior["p"].values.reshape(post.n_samples, -1).mean(axis=0)
    scored = recovery_metrics(post, truth, prob=0.9)
    row = {
        "tvd": scored["tvd"],
        "empty_mass": empty_cell_mass(mean, truth.reshape(-1)),
        "truth_empty_cells": int((truth == 0).sum()),
        "fit_seconds": post.fit_info["fit_seconds"],
        "coverage_90": scored["coverage"],
    }
    if "llm_weight" in post.posterior:
        w = post.posterior["llm_weight"].values.ravel()
        row["weight_mean"] = float(w.mean())
        row["weight_90"] = [float(x) for x in np.quantile(w, [0.05, 0.95])]
    divergent = int(np.asarray(post.sample_stats["diverging"]).sum()) if "diverging" in post.sample_stats else 0
    row["divergences"] = divergent
    return row


def measure_throughput(model: str, template: pathlib.Path, cache: pathlib.Path) -> dict[str, Any]:
    """Score the acs12 spec with a fresh cache (model load included), then again from the cache."""
    block = {"model": model, "template": str(template), "cache": str(cache)}
    task = acs12_task(0.02, 0, llm_filter=block)
    start = time.perf_counter()
    terms, _ = spec_terms(task.spec, load_inputs(task.spec), progress=False)
    first = time.perf_counter() - start
    start = time.perf_counter()
    spec_terms(task.spec, load_inputs(task.spec), progress=False)
    cached = time.perf_counter() - start
    texts = 2 * sum(t.table.size for t in terms)
    harness.say(f"{model}: {texts} texts scored in {first:.1f} s (with model load); cached re-score {cached:.2f} s")
    load = os.getloadavg()[0]
    return {"model": model, "texts": texts, "first_seconds": first, "cached_seconds": cached, "load": load}


def _workspace() -> tuple[pathlib.Path, pathlib.Path]:
    """A fresh folder with the benchmark's template: (template, score cache)."""
    work = pathlib.Path(tempfile.mkdtemp(prefix="populace-filter-"))
    (work / "template.yaml").write_text(TEMPLATE)
    return work / "template.yaml", work / "scores.sqlite"


def remeasure_throughput(models: Sequence[str]) -> dict[str, Any]:
    """The saved results with the scoring throughput measured again (on an idle machine, say)."""
    results = harness.read_json(RESULTS)
    template, cache = _workspace()
    results["throughput"] = [measure_throughput(m, template, cache) for m in models]
    results["throughput_remeasured"] = harness.now()
    return results


def run(quick: bool, models: Sequence[str]) -> dict[str, Any]:
    """Every fit of every fraction and seed."""
    fractions, seeds = ((0.0, 0.02), (0,)) if quick else (FRACTIONS, SEEDS)
    draws, chains = (300, 2) if quick else (1000, 4)
    template, cache = _workspace()
    results: dict[str, Any] = {"draws": draws, "chains": chains, "rows": []}
    results["throughput"] = [measure_throughput(model, template, cache) for model in models]
    for fraction in fractions:
        for seed in seeds:
            variants: list[tuple[str, dict[str, str] | None, object | None]] = [("no filter", None, None)]
            variants += [
                (f"LLM filter ({m})", {"model": m, "template": str(template), "cache": str(cache)}, None)
                for m in models
            ]
            variants += [("knowledge scorer", None, KnowledgeScorer()), ("wrong scorer", None, WrongScorer())]
            for label, block, scorer in variants:
                task = acs12_task(fraction, seed, llm_filter=block)
                post = fit(task.spec, draws=draws, chains=chains, seed=seed, scorer=scorer, progress=False)
                row = {"method": label, "fraction": fraction, "seed": seed, "sample_size": task.sample_size}
                row |= metrics(post, task.truth)
                results["rows"].append(row)
                harness.say(
                    f"{fraction:.0%} seed {seed} {label}: TVD {row['tvd']:.3f}, empty mass {row['empty_mass']:.3f}, "
                    f"cov90 {row['coverage_90']:.2f}, weight {row.get('weight_mean', float('nan')):.2f}"
                )
    results["machine"] = harness.machine_info()
    return results


def render(results: dict[str, Any]) -> str:
    """The markdown section: means over seeds per fraction and method."""
    rows = results["rows"]
    methods = list(dict.fromkeys(r["method"] for r in rows))
    fractions = sorted({r["fraction"] for r in rows})
    seeds = sorted({r["seed"] for r in rows})
    lines = [
        "## LLM filter on acs12 (a real population with empty combinations)",
        "",
        "Population: the 1,942 persons of `openintro/acs12` with an education value, as a 240-cell joint of age "
        f"(5), employment (4, `not_asked` under 16), marital status, education (3) and sex; "
        f"{rows[0]['truth_empty_cells']} cells are empty. Inputs: the five one-way tables (exact), alone or with a "
        f"weighted sample. NUTS {results['chains']}x{results['draws']}; means over seeds {', '.join(map(str, seeds))} "
        "(of the sample and the fit). "
        "`empty mass`: posterior mean share on cells empty in the truth. The knowledge and wrong scorers are "
        "scripted (`populace/data/acs12.py`); the LLM filter uses the benchmark's template (`acs12-v2` in "
        "`populace/data/acs12.py`), which describes each level by its census meaning (`not_asked`: 'This person is "
        "under 16, so the survey did not ask about work.'). Run: `python benchmarks/filter_acs12.py`.",
        "",
        "| sample | method | TVD | vs no filter | empty mass | 90% coverage | weight (mean, 90% interval) | fit s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for fraction in fractions:
        base = np.mean([r["tvd"] for r in rows if r["fraction"] == fraction and r["method"] == "no filter"])
        for method in methods:
            group = [r for r in rows if r["fraction"] == fraction and r["method"] == method]
            if not group:
                continue
            tvd = np.mean([r["tvd"] for r in group])
            weight = "-"
            if "weight_mean" in group[0]:
                lo = np.mean([r["weight_90"][0] for r in group])
                hi = np.mean([r["weight_90"][1] for r in group])
                weight = f"{np.mean([r['weight_mean'] for r in group]):.2f} ({lo:.2f}-{hi:.2f})"
            lines.append(
                f"| {_sample_label(fraction, group[0]['sample_size'])} | {method} | {tvd:.3f} | "
                f"{tvd / base - 1:+.1%} | "
                f"{np.mean([r['empty_mass'] for r in group]):.3f} | "
                f"{np.mean([r['coverage_90'] for r in group]):.2f} | {weight} | "
                f"{np.mean([r['fit_seconds'] for r in group]):.0f} |"
            )
    when = results.get("throughput_remeasured")
    lines += [
        "",
        "`fit s` is the fit alone (scores come from the cache: a cached re-fit costs what the fit costs). "
        "Scoring cost of the LLM filter on this spec (10 attribute pairs, both orders"
        + (f"; re-measured alone on {when}, `filter_acs12.py --throughput`" if when else "")
        + "):",
        "",
    ]
    lines += [
        "| model | texts | first score, incl. model load (s) | texts / s | cached re-score (s) | load average |",
        "|---|---|---|---|---|---|",
    ]
    for t in results["throughput"]:
        load = f"{t['load']:.1f}" if "load" in t else "–"
        lines.append(
            f"| {t['model']} | {t['texts']} | {t['first_seconds']:.1f} | {t['texts'] / t['first_seconds']:.1f} | "
            f"{t['cached_seconds']:.2f} | {load} |"
        )
    return "\n".join(lines) + "\n"


def _sample_label(fraction: float, size: int) -> str:
    return "none (tables only)" if fraction == 0 else f"{fraction:.0%} (n={size})"


def main(argv: Sequence[str] | None = None) -> int:
    """Run, save the results and write the BENCHMARKS.md section."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one fraction and seed, NUTS 2x300")
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--report", type=pathlib.Path, help="rewrite the section from a saved results JSON")
    parser.add_argument(
        "--throughput", action="store_true", help="re-measure only the scoring throughput into the saved results"
    )
    args = parser.parse_args(argv)
    if args.throughput:
        return harness.section_main(None, lambda: remeasure_throughput(args.models), RESULTS, SECTION, render)
    return harness.section_main(args.report, lambda: run(args.quick, args.models), RESULTS, SECTION, render)


if __name__ == "__main__":
    sys.exit(main())
