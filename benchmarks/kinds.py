"""Which model kind where both fit: ``loglinear`` against ``decomposable`` on the embedded CPS 1988 example.

The embedded example (``populace/data/cps1988``: men aged 18-70 in the March 1988 CPS,
6 attributes, 512 cells, a 1% weighted sample; region x ethnicity, region x smsa and wage exact,
education x parttime with standard errors) is fitted as shipped with each kind, and
scored against the known full joint (``truth.csv``): TVD of the posterior mean over all
512 cells, 90% coverage of cells with at least 10 persons, fit seconds.

Usage::

    python benchmarks/kinds.py
    python benchmarks/kinds.py --report benchmarks/results/kinds.json
"""

from __future__ import annotations

import sys
import time
from typing import Any

import harness
from harness import say

SECTION = "kinds"
SEED = 0
# (label, model block, inference block) of each fit.
FITS = (
    ("loglinear (NUTS 4x1000)", {"kind": "loglinear"}, {"method": "nuts", "draws": 1000, "chains": 4}),
    ("decomposable, the tree (NUTS 4x1000)", {"kind": "decomposable"}, {"method": "nuts", "draws": 1000, "chains": 4}),
    (
        "decomposable, the tree (bootstrap)",
        {"kind": "decomposable"},
        {"method": "bootstrap", "draws": 1000, "chains": 1},
    ),
    (
        "decomposable, 2 classes (bootstrap)",
        {"kind": "decomposable", "classes": 2},
        {"method": "bootstrap", "draws": 1000, "chains": 1},
    ),
    (
        "decomposable, 4 classes (bootstrap)",
        {"kind": "decomposable", "classes": 4},
        {"method": "bootstrap", "draws": 1000, "chains": 1},
    ),
)


def fit_child(request: dict[str, Any]) -> dict[str, Any]:
    """Child: one fit of the example with the given model and inference blocks, scored against the truth."""
    import dataclasses

    import populace as pp
    from populace.data.examples import example_spec_path, example_truth
    from populace.metrics import interval_metrics, tvd
    from populace.spec import InferenceOptions, ModelOptions

    spec = pp.Spec.from_yaml(example_spec_path())
    model, inference = request["model"], request["inference"]
    spec = dataclasses.replace(
        spec,
        model=ModelOptions(kind=model["kind"], interactions=spec.model.interactions, classes=model.get("classes")),
        inference=InferenceOptions(**inference, seed=SEED),
        text=None,
    )
    truth = example_truth(spec)
    start = time.perf_counter()
    post = pp.fit(spec, progress=False)
    seconds = time.perf_counter() - start
    draws = post.joint(list(spec.names)).values.reshape(post.n_samples, -1)
    report = pp.check(post)
    return {
        "method": request["label"],
        "tvd": tvd(draws.mean(axis=0), truth.ravel()),
        **interval_metrics(draws, truth, post.population),
        "seconds": seconds,
        "check_passed": bool(report.ok),
    }


def run() -> dict[str, Any]:
    results = harness.new_results(rows=[])
    for label, model, inference in FITS:
        say(label)
        results["rows"].append(
            harness.run_child("kinds:fit_child", {"label": label, "model": model, "inference": inference}, 1800)
        )
    results["finished"] = harness.now()
    return results


def render(results: dict[str, Any]) -> str:
    rows = [r for r in results["rows"] if "tvd" in r]
    lines = [
        "## Which model kind where both fit (issue 14)",
        "",
        f"Written by `python benchmarks/kinds.py` on {results.get('finished', '?')} (load average "
        f"{results['load']['start']:.1f} at the start). The embedded CPS 1988 example (6 attributes, 512 cells, "
        "a 1% weighted sample, two exact two-way tables, a two-way table with standard errors, the wage table) "
        "fitted as shipped with each model kind and scored against the known joint: TVD of the posterior mean over all "
        "cells, 90% coverage of the cells with at least 10 persons.",
        "",
        harness.table(
            ["fit", "TVD", "90% coverage", "mean 90% width (shares)", "fit s", "check"],
            [
                [
                    r["method"],
                    f"{r['tvd']:.4f}",
                    f"{r['coverage']:.0%} of {r['cells_scored']}",
                    f"{r['mean_width']:.4f}",
                    f"{r['seconds']:.0f}",
                    "passed" if r["check_passed"] else "failed",
                ]
                for r in rows
            ],
        ),
    ]
    failed = [r for r in results["rows"] if "tvd" not in r]
    if failed:
        lines += ["", f"{len(failed)} fit(s) failed: " + "; ".join(str(r.get("failed")) for r in failed)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return harness.run_or_report(argv, __doc__.splitlines()[0], "kinds.json", SECTION, run, render)


if __name__ == "__main__":
    sys.exit(main())
