"""Accuracy of every plausibility scorer on the labelled set, and its throughput.

The labelled set (``populace/llm_filter/data/plausibility_pairs.csv``, 93 rows grounded
in census facts) compares two persons who share a predicate (``retired``) and differ in
one attribute (``age 70`` against ``age 19``). A scorer is right on a row when it ranks
the plausible person above the implausible one:

- contrastive: by pointwise mutual information, ``log P(a, b) - log P(a) - log P(b)``,
  which is what the filter's pair centring keeps. ``forward`` reads the subject first
  ("is 70 years old. ... is retired."), ``reverse`` the predicate first, ``both`` averages
  the two as the filter does;
- yes/no: by ``log P(yes)`` of the description (both orders averaged), plus the AUC of
  plausible over implausible descriptions pooled over rows.

Run: ``python benchmarks/plausibility.py`` (about 2 minutes; converts the GGUF models once
into ``~/.cache/populace``). Writes ``benchmarks/results/plausibility.json`` and the
``plausibility`` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import pathlib
import sys
import time
from collections.abc import Sequence
from typing import Any

import harness
import numpy as np
import pandas as pd

from populace.language_models import load_language_model
from populace.llm_filter.language_model import LanguageModelScorer
from populace.llm_filter.template import load_template

RESULTS = harness.RESULTS / "plausibility.json"
SECTION = "plausibility"
MODELS = ("smollm2", "gemma3-270m")
MODES = ("contrastive", "yes-no")


def labelled_set() -> tuple[pd.DataFrame, pathlib.Path]:
    """The labelled rows and the path of their prompt template."""
    data = importlib.resources.files("populace.llm_filter") / "data"
    rows = pd.read_csv(str(data / "plausibility_pairs.csv"), dtype=str)
    return rows, pathlib.Path(str(data / "plausibility_template.yaml"))


def combinations(rows: pd.DataFrame) -> list[dict[str, str]]:
    """Every text a row needs: both persons in both orders, and each attribute alone."""
    out: list[dict[str, str]] = []
    for r in rows.itertuples():
        for level in (r.plausible_level, r.implausible_level):
            out.append({r.subject_attribute: level, r.predicate_attribute: r.predicate_level})
            out.append({r.predicate_attribute: r.predicate_level, r.subject_attribute: level})
            out.append({r.subject_attribute: level})
        out.append({r.predicate_attribute: r.predicate_level})
    return out


def _key(combination: dict[str, str]) -> str:
    return json.dumps(list(combination.items()))


def evaluate(rows: pd.DataFrame, scores: dict[str, float], mode: str) -> dict[str, Any]:
    """Accuracy (forward, reverse, both) and, for yes/no, the pooled AUC."""
    right = {"forward": [], "reverse": [], "both": []}
    plausible, implausible = [], []
    for r in rows.itertuples():
        pred = {r.predicate_attribute: r.predicate_level}
        per = {}
        for tag, level in (("p", r.plausible_level), ("i", r.implausible_level)):
            subject = {r.subject_attribute: level}
            forward = scores[_key(subject | pred)]
            reverse = scores[_key(pred | subject)]
            if mode == "contrastive":
                alone = scores[_key(subject)] + scores[_key(pred)]
                forward, reverse = forward - alone, reverse - alone
            per[tag] = (forward, reverse, 0.5 * (forward + reverse))
        for k, name in enumerate(("forward", "reverse", "both")):
            right[name].append(per["p"][k] > per["i"][k])
        plausible.append(per["p"][2])
        implausible.append(per["i"][2])
    out: dict[str, Any] = {f"accuracy_{k}": float(np.mean(v)) for k, v in right.items()}
    out["correct_both"] = int(np.sum(right["both"]))
    out["auc"] = _auc(np.array(plausible), np.array(implausible))
    out["wrong_ids"] = [int(i) for i, ok in zip(rows["id"], right["both"]) if not ok]
    return out


def _auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(a plausible description outscores an implausible one), ties counting half."""
    diff = positive[:, None] - negative[None, :]
    return float(np.mean(diff > 0) + 0.5 * np.mean(diff == 0))


def run(models: Sequence[str], modes: Sequence[str]) -> dict[str, Any]:
    """Score the labelled set with every model and mode."""
    rows, template_path = labelled_set()
    template = load_template(template_path)
    combos = combinations(rows)
    unique = list({_key(c): c for c in combos}.values())
    results: dict[str, Any] = {"rows": len(rows), "texts": len(unique), "template": template.key, "scorers": []}
    for name in models:
        start = time.perf_counter()
        loaded = load_language_model(name)
        load_s = time.perf_counter() - start
        for mode in modes:
            scorer = LanguageModelScorer(loaded, template, mode)
            start = time.perf_counter()
            values = scorer.score(unique)
            seconds = time.perf_counter() - start
            scores = {_key(c): float(v) for c, v in zip(unique, values)}
            row = {"model": name, "mode": mode, "load_seconds": load_s, "per_second": len(unique) / seconds}
            row |= evaluate(rows, scores, mode)
            harness.say(
                f"{name} {mode}: accuracy {row['accuracy_both']:.2f} (forward {row['accuracy_forward']:.2f}, "
                f"reverse {row['accuracy_reverse']:.2f}), AUC {row['auc']:.2f}, {row['per_second']:.0f} texts/s"
            )
            results["scorers"].append(row)
    results["machine"] = harness.machine_info()
    return results


def render(results: dict[str, Any]) -> str:
    """The markdown section."""
    lines = [
        "## LLM plausibility scorers on the labelled set",
        "",
        f"{results['rows']} labelled rows (`populace/llm_filter/data/plausibility_pairs.csv`), each a plausible and "
        "an implausible person sharing a predicate, grounded in a census fact (ACS, CPS, BLS and others; the "
        "figures were written from memory and are rounded, the directions are not in doubt). A scorer is right "
        "when it ranks the plausible person higher. Contrastive scores are compared by pointwise mutual "
        "information (what the filter's pair centring keeps); `forward` puts the differing attribute first, "
        "`reverse` the shared one, `both` averages the two orders, as the filter does. The AUC pools all rows "
        f"(plausible vs implausible descriptions, both orders averaged). Template `{results['template']}`; "
        f"{results['texts']} texts per scorer. Run: `python benchmarks/plausibility.py`.",
        "",
        "| model | mode | accuracy (both orders) | forward | reverse | AUC | texts / s | load s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results["scorers"]:
        lines.append(
            f"| {r['model']} | {r['mode']} | {r['accuracy_both']:.2f} ({r['correct_both']}/{results['rows']}) | "
            f"{r['accuracy_forward']:.2f} | {r['accuracy_reverse']:.2f} | {r['auc']:.2f} | {r['per_second']:.0f} | "
            f"{r['load_seconds']:.1f} |"
        )
    best = max(results["scorers"], key=lambda r: r["accuracy_both"])
    lines += [
        "",
        f"Best: {best['model']} {best['mode']} ({best['accuracy_both']:.2f}); the default scorer of `llm_filter` is "
        "`causal-lm` with `model: gemma3-270m` and `mode: contrastive`. Load times include converting the GGUF file "
        "the first time (later loads read the converted copy). Rows the best scorer gets wrong: "
        f"{', '.join(map(str, best['wrong_ids'])) or 'none'}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run, save the results and write the BENCHMARKS.md section."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--report", type=pathlib.Path, help="rewrite the section from a saved results JSON")
    args = parser.parse_args(argv)
    return harness.section_main(args.report, lambda: run(args.models, MODES), RESULTS, SECTION, render)


if __name__ == "__main__":
    sys.exit(main())
