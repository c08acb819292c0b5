"""Simulation-based calibration (SBC) of populace's log-linear model, on SYNTHETIC data.

Every data set is drawn from a known law, so the rank of the true value among the
posterior draws and the coverage of the posterior intervals can be scored cell by cell
(Talts et al. 2018). Laws (``--law``):

- ``prior`` (exact SBC): exact one-way tables of a 100,000-person population are drawn
  first (populace conditions on them), then ``p`` from populace's own prior given them
  (``build_loglinear`` run forward under ``numpyro.handlers.seed``/``trace``), then a 1%
  sample i.i.d. from ``p`` with equal weights: exactly the model's likelihood.
- ``loglinear``: a random log-linear joint on the prior's scales (``harness.loglinear_joint``),
  a finite population of 100,000 drawn from it, its exact one-way tables and a 1% sample
  without replacement; coverage is then a check under a law near the prior.

Every data set is fitted with NUTS 2x500 in this process, one at a time. Writes
``benchmarks/results/calibration.json`` (one entry per law), ``benchmarks/figures/calibration_ranks*.png``
and the ``calibration`` section of BENCHMARKS.md (``--quick``: under ``benchmarks/output/quick/``).

Usage::

    python benchmarks/calibration.py                    # 50 data sets from the prior (~20 min on 2 cores)
    python benchmarks/calibration.py --quick            # 4 data sets (~2 min)
    python benchmarks/calibration.py --law loglinear --datasets 20
    python benchmarks/calibration.py --report           # rewrite the figures and section from saved results
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import sys
import time
from collections.abc import Sequence
from typing import Any

import harness
import numpy as np
from harness import QUICK_DIR, ROOT, say

import populace as pp
from populace.summaries import interval_quantiles

SECTION = "calibration"
LAWS = ("prior", "loglinear")
# Persons in the population the tables count, and the share of them in the sample.
POPULATION = 100_000
SAMPLE_FRACTION = 0.01
# Concentration of the Dirichlet that draws each attribute's level shares: shares of a
# 3-level attribute mostly between 10% and 60%, like real one-way tables.
MARGIN_CONCENTRATION = 5.0
# NUTS draws per chain (and as many warm-up iterations) and chains, per data set.
DRAWS, CHAINS = 500, 2
# Posterior draws kept (evenly spaced) to rank the truth among: 99 gives 100 possible
# ranks, so 20 bins of 5 ranks each (Talts et al. 2018 thin to reduce autocorrelation).
RANK_DRAWS = 99
RANK_BINS = 20
HYPER_BINS = 10
MASSES = (0.5, 0.9)
# Two-sided probability of the band drawn around the uniform expectation of every bin.
BAND_PROB = 0.99
BOOTSTRAP = 2000
# Fewer data sets than this give no verdict on a histogram's shape (bootstrap too rough).
MIN_VERDICT_DATASETS = 10
# A draw that misses an exact table by more than this (share) is counted: ARCHITECTURE.md
# promises 1e-5 and better; the contract's `populace check` limit is 2e-3 on the mean.
MARGIN_GAP_NOTE = 1e-5
# Base seed; data set d of law l uses numpy Generator([SEED, l, d]) and fit seed d.
SEED = 0
DEFAULT_DATASETS, QUICK_DATASETS = 50, 4
# True cell sizes (persons in a population of POPULATION) for the coverage breakdown.
SIZE_EDGES = (0, 100, 1000, np.inf)


def _attribute(name: str, levels: Sequence[str], ordered: bool = False) -> pp.Attribute:
    return pp.Attribute(name=name, levels=tuple(levels), ordered=ordered)


# Two synthetic grids, used alternately: 3 attributes / 24 cells and 4 attributes / 48 cells,
# each with ordered attributes (random-walk effects) and unordered ones.
GRIDS: tuple[tuple[pp.Attribute, ...], ...] = (
    (
        _attribute("sex", ("f", "m")),
        _attribute("age", ("18-29", "30-44", "45-64", "65+"), ordered=True),
        _attribute("region", ("north", "centre", "south")),
    ),
    (
        _attribute("sex", ("f", "m")),
        _attribute("age", ("18-29", "30-44", "45-64", "65+"), ordered=True),
        _attribute("education", ("low", "mid", "high"), ordered=True),
        _attribute("urban", ("no", "yes")),
    ),
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Dataset:
    """One simulated data set: the spec (exact one-way tables and sample), the true cell shares,
    and the true hyperparameters (``tau_2``, ``lam``) where the law has them."""

    index: int
    spec: pp.Spec
    truth: np.ndarray
    hyper: dict[str, np.ndarray]
    sample_size: int


# ----------------------------------------------------------------------------- simulation


def prior_draw(spec: pp.Spec, key_seed: int) -> tuple[np.ndarray, dict[str, np.ndarray], float]:
    """One draw of ``p`` from populace's prior given the spec's exact tables (JAX key ``key_seed``):
    ``p``, the hyperparameters ``tau_2`` and ``lam``, and the largest gap of a margin to its table."""
    import jax
    from numpyro import handlers

    from populace.data.inputs import load_inputs
    from populace.models.loglinear import build_loglinear
    from populace.models.projection import max_margin_error

    model = build_loglinear(load_inputs(spec))
    trace = handlers.trace(handlers.seed(model.model, jax.random.PRNGKey(key_seed))).get_trace()
    p = np.asarray(trace["p"]["value"], dtype=float)
    hyper = {k: np.asarray(trace[k]["value"], dtype=float) for k in ("tau_2", "lam") if k in trace}
    return p / p.sum(), hyper, max_margin_error(p, model.exact)


def simulate(law: str, index: int) -> tuple[Dataset, dict[str, Any]]:
    """Draw data set ``index`` of ``law``; return it and facts about the draw for the results."""
    rng = np.random.default_rng([SEED, LAWS.index(law), index])
    attributes = GRIDS[index % len(GRIDS)]
    shape = tuple(len(a.levels) for a in attributes)
    name = f"sbc-{law}-{index}"
    facts: dict[str, Any] = {"cells": int(np.prod(shape)), "attributes": [a.name for a in attributes]}
    if law == "prior":
        alphas = [np.full(k, MARGIN_CONCENTRATION) for k in shape]
        tables = [((a,), rng.multinomial(POPULATION, rng.dirichlet(alpha)), False) for a, alpha in enumerate(alphas)]
        truth, hyper, gap = prior_draw(harness.make_spec(attributes, tables, None, name=name), key_seed=index)
        cells = rng.choice(truth.size, size=round(POPULATION * SAMPLE_FRACTION), replace=True, p=truth.ravel())
        facts["prior_margin_gap"] = gap
    else:
        p = harness.loglinear_joint(shape, [a.ordered for a in attributes], rng)
        counts, cells = harness.finite_population(p, POPULATION, SAMPLE_FRACTION, rng)
        tables = [((a,), harness.margin(counts, (a,)), False) for a in range(len(shape))]
        truth, hyper = counts / counts.sum(), {}
        facts["empty_cells"] = int((counts == 0).sum())
    spec = harness.make_spec(attributes, tables, cells, name=name)
    return Dataset(index=index, spec=spec, truth=truth, hyper=hyper, sample_size=len(cells)), facts


# ----------------------------------------------------------------------------- scoring


def thin(n_draws: int, keep: int) -> np.ndarray:
    """Indices of ``keep`` draws evenly spaced over ``n_draws`` (chains concatenated)."""
    return np.unique(np.linspace(0, n_draws - 1, keep).round().astype(int))


def ranks_of(draws: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Rank (``0..RANK_DRAWS``) of each true value among the thinned draws (draws, k): how many lie below."""
    kept = draws[thin(len(draws), RANK_DRAWS)]
    return (kept < truth[None, :]).sum(axis=0)


def covered(draws: np.ndarray, truth: np.ndarray, mass: float) -> np.ndarray:
    """Whether each truth lies in the equal-tailed ``mass`` interval of its draws."""
    lower, upper = np.quantile(draws, interval_quantiles(mass), axis=0)
    return (truth >= lower) & (truth <= upper)


def score_fit(post: Any, data: Dataset) -> dict[str, Any]:
    """Ranks and interval coverage of every cell (and the hyperparameters) of one fit."""
    from populace.inference.diagnostics import convergence
    from populace.metrics import tvd

    draws = post.posterior["p"].values.reshape(post.n_samples, -1)
    truth = data.truth.ravel()
    row: dict[str, Any] = {
        "truth": truth.tolist(),
        "ranks": ranks_of(draws, truth).tolist(),
        "tvd": tvd(draws.mean(axis=0), truth),
        "fit_seconds": post.fit_info["fit_seconds"],
        "sweeps": post.fit_info["projection_max_sweeps"],
    }
    for mass in MASSES:
        row[f"covered_{round(mass * 100)}"] = covered(draws, truth, mass).astype(int).tolist()
    for name, value in data.hyper.items():
        samples = post.posterior[name].values.reshape(post.n_samples, -1)
        row[f"{name}_ranks"] = ranks_of(samples, np.atleast_1d(value)).tolist()
    row |= margin_gaps(post.posterior["p"].values.reshape(post.n_samples, *data.truth.shape), data.spec)
    checks = {c["name"]: c["value"] for c in convergence(post)}
    row["divergences"] = int(checks.get("divergences") or 0)
    row["r_hat"] = checks.get("r_hat")
    row["ess_bulk"] = checks.get("ess_bulk")
    row["steps_per_draw"] = float(np.asarray(post.sample_stats["n_steps"]).mean())
    return row


def margin_gaps(draws: np.ndarray, spec: pp.Spec) -> dict[str, float]:
    """Largest and median, over posterior draws, of the largest gap to an exact table (shares)."""
    from populace.data.inputs import load_inputs
    from populace.models.projection import max_margin_error

    exact = [(t.axes, t.counts / t.total) for t in load_inputs(spec).tables if t.exact]
    gaps = np.array([max_margin_error(d, exact) for d in draws])
    return {"margin_gap_max": float(gaps.max()), "margin_gap_median": float(np.median(gaps))}


def run_dataset(law: str, index: int) -> dict[str, Any]:
    """Simulate, fit and score one data set (in this process)."""
    import jax

    from populace.inference.fit import fit

    start = time.perf_counter()
    data, facts = simulate(law, index)
    row: dict[str, Any] = {"index": index, "sample_size": data.sample_size} | facts
    try:
        post = fit(data.spec, method="nuts", draws=DRAWS, chains=CHAINS, seed=index, progress=False)
    except pp.FitError as exc:
        row["note"] = f"fit failed: {exc}"
    else:
        row |= score_fit(post, data)
    jax.clear_caches()  # each fit compiles its own model; do not let 50 of them pile up
    row["wall_seconds"] = time.perf_counter() - start
    return row


# ----------------------------------------------------------------------------- summaries


def _scored(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if "ranks" in r]


def ratio_with_se(numerators: np.ndarray, denominators: np.ndarray) -> tuple[float, float]:
    """Pooled ratio sum(y)/sum(m) and its standard error with data sets as clusters."""
    y, m = np.asarray(numerators, float), np.asarray(denominators, float)
    ratio = y.sum() / m.sum()
    d = len(y)
    if d < 2:
        return float(ratio), float("nan")
    se = np.sqrt(d / (d - 1) * np.sum((y - ratio * m) ** 2)) / m.sum()
    return float(ratio), float(se)


def coverage_summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Coverage of each mass pooled over cells, its cluster SE, and its spread over data sets."""
    out: dict[str, Any] = {}
    for mass in MASSES:
        key = f"covered_{round(mass * 100)}"
        hits = np.array([sum(r[key]) for r in rows], float)
        cells = np.array([len(r[key]) for r in rows], float)
        pooled, se = ratio_with_se(hits, cells)
        per_set = hits / cells
        out[key] = {
            "nominal": mass,
            "pooled": pooled,
            "se": se,
            "cells": int(cells.sum()),
            "per_dataset_quantiles": dict(zip(("min", "q10", "median", "q90", "max"), _quantiles(per_set))),
            "per_dataset_mean": float(per_set.mean()),
        }
    return out


def _quantiles(values: np.ndarray) -> list[float]:
    return [float(v) for v in np.quantile(values, [0.0, 0.1, 0.5, 0.9, 1.0])]


def coverage_by_size(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Coverage by the true size of the cell (descriptive: conditions on the truth)."""
    truth = np.concatenate([r["truth"] for r in rows]) * POPULATION
    out = []
    for low, high in zip(SIZE_EDGES[:-1], SIZE_EDGES[1:]):
        pick = (truth >= low) & (truth < high)
        item: dict[str, Any] = {"low": low, "high": None if np.isinf(high) else high, "cells": int(pick.sum())}
        for mass in MASSES:
            key = f"covered_{round(mass * 100)}"
            hits = np.concatenate([r[key] for r in rows])
            item[key] = float(hits[pick].mean()) if pick.any() else None
        out.append(item)
    return out


def histogram(ranks: Sequence[np.ndarray], bins: int) -> dict[str, Any]:
    """Rank histogram pooled over data sets (ranks per data set), with a binomial band (as if every
    rank were independent) and that band widened by the design effect (data sets as clusters)."""
    from scipy import stats

    width = (RANK_DRAWS + 1) // bins
    per_set = np.array([np.bincount(np.asarray(r) // width, minlength=bins) for r in ranks], float)
    sizes = per_set.sum(axis=1)
    counts = per_set.sum(axis=0)
    total = counts.sum()
    expected = total / bins
    z = stats.norm.ppf((1 + BAND_PROB) / 2)
    band = stats.binom.ppf([(1 - BAND_PROB) / 2, (1 + BAND_PROB) / 2], total, 1 / bins)
    binom_var = total * (1 / bins) * (1 - 1 / bins)
    d = len(ranks)
    cluster_var = d / max(d - 1, 1) * ((per_set - sizes[:, None] / bins) ** 2).sum(axis=0)
    deff = float(max(cluster_var.mean() / binom_var, 1.0))
    half = z * np.sqrt(binom_var * deff)
    clustered = [max(expected - half, 0.0), expected + half]
    out = {
        "bins": bins,
        "counts": counts.tolist(),
        "expected": float(expected),
        "band": [float(b) for b in band],
        "outside_band": int(((counts < band[0]) | (counts > band[1])).sum()),
        "design_effect": deff,
        "band_clustered": [float(b) for b in clustered],
        "outside_band_clustered": int(((counts < clustered[0]) | (counts > clustered[1])).sum()),
    }
    return out | normalised_rank_stats(ranks) | {"datasets": d}


def normalised_rank_stats(ranks: Sequence[np.ndarray]) -> dict[str, Any]:
    """Mean and SD of rank / RANK_DRAWS (uniform: 0.5 and ~0.29), with 95% bootstrap intervals over data sets."""
    rng = np.random.default_rng(SEED)
    u = [np.asarray(r, float) / RANK_DRAWS for r in ranks]
    values = np.arange(RANK_DRAWS + 1) / RANK_DRAWS
    boot_mean, boot_sd = [], []
    for _ in range(BOOTSTRAP):
        pick = np.concatenate([u[i] for i in rng.integers(0, len(u), len(u))])
        boot_mean.append(pick.mean())
        boot_sd.append(pick.std())
    pooled = np.concatenate(u)
    return {
        "u_mean": float(pooled.mean()),
        "u_mean_ci": [float(x) for x in np.quantile(boot_mean, [0.025, 0.975])],
        "u_sd": float(pooled.std()),
        "u_sd_ci": [float(x) for x in np.quantile(boot_sd, [0.025, 0.975])],
        "u_sd_uniform": float(values.std()),
    }


def hyper_summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Rank histograms of ``tau_2`` (one per data set: independent) and of every ``lam``."""
    from scipy import stats

    out: dict[str, Any] = {}
    for name, bins in (("tau_2", HYPER_BINS), ("lam", HYPER_BINS)):
        ranks = [np.asarray(r[f"{name}_ranks"]) for r in rows if f"{name}_ranks" in r]
        if not ranks:
            continue
        item = histogram(ranks, bins)
        observed = np.asarray(item["counts"])
        item["chi2_p"] = float(stats.chisquare(observed).pvalue)
        item["n"] = int(observed.sum())
        item["lowest_bin_p"] = float(stats.binom.sf(observed[0] - 1, item["n"], 1 / bins))
        out[name] = item
    if "tau_2" in out:
        ranks = [r["tau_2_ranks"][0] for r in rows]
        result = stats.spearmanr(ranks, [r["divergences"] for r in rows])
        out["tau_2"]["divergence_spearman"] = [float(result.statistic), float(result.pvalue)]
    return out


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Everything the report shows, from the per-data-set rows."""
    scored = _scored(rows)
    if not scored:
        return {"datasets": len(rows), "scored": 0}
    r_hats = [r["r_hat"] for r in scored if r.get("r_hat") is not None]
    return {
        "datasets": len(rows),
        "scored": len(scored),
        "cells": int(sum(len(r["ranks"]) for r in scored)),
        "coverage": coverage_summary(scored),
        "coverage_by_size": coverage_by_size(scored),
        "ranks": histogram([np.asarray(r["ranks"]) for r in scored], RANK_BINS),
        "hyper": hyper_summary(scored),
        "divergences": {
            "total": int(sum(r["divergences"] for r in scored)),
            "datasets_with": int(sum(r["divergences"] > 0 for r in scored)),
        },
        "r_hat_max": max(r_hats) if r_hats else None,
        "ess_bulk_min": min(r["ess_bulk"] for r in scored if r.get("ess_bulk") is not None),
        "fit_seconds_median": float(np.median([r["fit_seconds"] for r in scored])),
        "tvd_median": float(np.median([r["tvd"] for r in scored])),
        "steps_per_draw_median": float(np.median([r["steps_per_draw"] for r in scored])),
        "failed": [r.get("note") for r in rows if "ranks" not in r],
    } | _gap_summary(scored)


def _gap_summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    gaps = [r["margin_gap_max"] for r in rows if "margin_gap_max" in r]
    if not gaps:
        return {}
    return {
        "margin_gap": {
            "recorded": len(gaps),
            "max": max(gaps),
            "median_of_max": float(np.median(gaps)),
            "over_1e-5": int(sum(g > MARGIN_GAP_NOTE for g in gaps)),
        }
    }


# ----------------------------------------------------------------------------- figure


def plot_ranks(result: dict[str, Any], path: pathlib.Path) -> None:
    """Rank histograms of one law's results: every cell share pooled, and ``tau_2`` where the law has it."""
    plt = harness.pyplot()
    summary = result["summary"]
    panels = [("cell shares, pooled over data sets", summary["ranks"], True)]
    if "tau_2" in summary.get("hyper", {}):
        panels.append(("tau_2 (pairwise global scale), one per data set", summary["hyper"]["tau_2"], False))
    fig, axes = plt.subplots(1, len(panels), figsize=(max(6.5 * len(panels), 8.0), 4.8), squeeze=False)
    for ax, (title, hist, clustered) in zip(axes[0], panels):
        _rank_panel(ax, hist, title, clustered)
    fig.suptitle(
        f"SBC rank histograms, law '{result['config']['law']}' (synthetic truth)\n"
        f"{summary['scored']} data sets, {RANK_DRAWS} thinned draws each",
        fontsize=11,
    )
    fig.tight_layout()
    harness.save_figure(fig, path, dpi=110)


def _rank_panel(ax: Any, hist: dict[str, Any], title: str, clustered: bool) -> None:
    bins = hist["bins"]
    edges = np.arange(bins + 1) * (RANK_DRAWS + 1) / bins
    ax.bar(
        edges[:-1], hist["counts"], width=np.diff(edges), align="edge", color="tab:blue", edgecolor="white", zorder=1
    )
    bands = [(hist["band"], "tab:green", "99% band if ranks were independent")]
    if clustered:
        bands.append(
            (hist["band_clustered"], "tab:red", f"99% band, data sets as clusters (x{hist['design_effect']:.1f} var.)")
        )
    for i, ((low, high), color, label) in enumerate(bands):
        if i == 0:
            ax.axhspan(low, high, color=color, alpha=0.18, zorder=2)
        ax.axhline(low, color=color, lw=1.2, ls="-" if i == 0 else ":", zorder=3, label=label)
        ax.axhline(high, color=color, lw=1.2, ls="-" if i == 0 else ":", zorder=3)
    ax.axhline(hist["expected"], color="black", lw=1.2, ls="--", zorder=3, label="uniform expectation")
    top = max(max(hist["counts"]), max(b[0][1] for b in bands))
    ax.set_ylim(0, top * 1.08)
    ax.set_xlim(0, RANK_DRAWS + 1)
    ax.set_xlabel(f"rank of the truth among {RANK_DRAWS} posterior draws ({bins} bins)")
    ax.set_ylabel("count")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)


# ----------------------------------------------------------------------------- markdown


def _pct(value: float | None, digits: int = 1) -> str:
    return harness.fmt(value, f".{digits}%")


def rank_verdict(hist: dict[str, Any]) -> str:
    """Plain words on a rank histogram: uniform, U-shaped, humped or skewed."""
    if hist.get("datasets", 0) < MIN_VERDICT_DATASETS:
        return f"too few data sets ({hist.get('datasets', 0)}) to judge the shape"
    low, high = hist["u_mean_ci"]
    sd_low, sd_high = hist["u_sd_ci"]
    uniform_sd = hist["u_sd_uniform"]
    words = []
    if not low <= 0.5 <= high:
        side = "above" if low > 0.5 else "below"
        words.append(f"skewed: the truth tends to lie {side} the posterior (mean normalised rank {hist['u_mean']:.3f})")
    if sd_low > uniform_sd:
        words.append("U-shaped: intervals too narrow (overconfident)")
    elif sd_high < uniform_sd:
        words.append("humped: intervals too wide (underconfident)")
    if not words:
        return (
            f"consistent with uniform: mean normalised rank {hist['u_mean']:.3f} (95% CI {low:.3f}-{high:.3f}, "
            f"uniform 0.5), SD {hist['u_sd']:.3f} (CI {sd_low:.3f}-{sd_high:.3f}, uniform {uniform_sd:.3f})"
        )
    return (
        "; ".join(words) + f" (mean {hist['u_mean']:.3f}, CI {low:.3f}-{high:.3f}; SD {hist['u_sd']:.3f}, "
        f"CI {sd_low:.3f}-{sd_high:.3f}, uniform {uniform_sd:.3f})"
    )


def _law_text(law: str) -> str:
    n = f"{POPULATION:,}"
    if law == "prior":
        return (
            f"**Law `prior` (exact SBC).** Per data set: one-way tables of a {n}-person population with "
            f"Dirichlet({MARGIN_CONCENTRATION:g}) level shares; one draw of `p` from populace's own prior *given those "
            "tables* (`build_loglinear(load_inputs(spec))` run forward under `numpyro.handlers.seed`/`trace`, "
            f"projection included); a {SAMPLE_FRACTION:.0%} sample ({round(POPULATION * SAMPLE_FRACTION):,} "
            "persons, equal weights) drawn i.i.d. from `p`. Exact tables are inputs populace conditions on, so this "
            "draws from the model's joint law, and equal weights make the microdata term exactly its likelihood: "
            "ranks must be uniform and intervals cover at their nominal rate; a departure points at the inference "
            "(sampler, projection, likelihood code), not at the model."
        )
    return (
        "**Law `loglinear` (calibration under a realistic law, not exact SBC).** A random log-linear joint with "
        "main effects and pairwise interactions on the prior's scales (`harness.loglinear_joint`), a finite "
        f"{n}-person population drawn from it, its exact one-way tables and a {SAMPLE_FRACTION:.0%} sample without "
        "replacement; the truth is the population's shares. Nominal coverage is expected only approximately."
    )


def _hyper_lines(summary: dict[str, Any]) -> list[str]:
    lines = []
    for name, label in (("tau_2", "`tau_2`, one rank per data set (independent)"), ("lam", "`lam`, every term")):
        if h := summary.get("hyper", {}).get(name):
            lines.append(
                f"- {label}: {h['n']} ranks in {h['bins']} bins, chi-square p = {h['chi2_p']:.2f}"
                + (" (terms of one data set are not independent)" if name == "lam" else "")
                + f"; lowest bin {h['counts'][0]:.0f} against {h['expected']:.0f} expected (binomial tail p = "
                f"{h['lowest_bin_p']:.3f}, one bin of {h['bins']} picked after the fact); {rank_verdict(h)}."
            )
    if "divergence_spearman" in summary.get("hyper", {}).get("tau_2", {}):
        rho, p = summary["hyper"]["tau_2"]["divergence_spearman"]
        lines.append(
            f"- Divergences against the rank of the true `tau_2`: Spearman {rho:.2f} (p = {p:.2f}); negative would "
            "mean the divergent fits are those whose true `tau_2` lies low in its posterior (a funnel at small scales)."
        )
    return lines


def law_section(result: dict[str, Any], figure: str) -> str:
    """Markdown for one law's run."""
    s, cfg, load = result["summary"], result["config"], result["load"]
    if not s.get("scored"):
        return f"### Law `{cfg['law']}`\n\nNo data set could be scored: {s}"
    coverage = harness.table(
        [
            "interval",
            "nominal",
            "pooled over cells (± 2 SE, data sets as clusters)",
            "per data set: min / 10% / median / 90% / max",
        ],
        [
            [
                f"{c['nominal']:.0%} central",
                f"{c['nominal']:.0%}",
                f"{_pct(c['pooled'])} ± {_pct(2 * c['se'])}",
                " / ".join(_pct(c["per_dataset_quantiles"][k], 0) for k in ("min", "q10", "median", "q90", "max")),
            ]
            for c in (s["coverage"]["covered_50"], s["coverage"]["covered_90"])
        ],
    )
    sizes = harness.table(
        [f"true cell size (persons of {POPULATION:,})", "cells", "cov 50", "cov 90"],
        [
            [
                f"{b['low']:,.0f}+" if b["high"] is None else f"{b['low']:,.0f}-{b['high']:,.0f}",
                f"{b['cells']:,}",
                _pct(b["covered_50"]),
                _pct(b["covered_90"]),
            ]
            for b in s["coverage_by_size"]
        ],
    )
    r, div = s["ranks"], s["divergences"]
    notes = f" {len(s['failed'])} data sets failed: {'; '.join(s['failed'])}." if s["failed"] else ""
    if empty := sum(row.get("empty_cells", 0) for row in result["rows"] if "ranks" in row):
        notes += (
            f" {empty} cells are empty in their finite population (true share 0): no draw lies below 0, so they "
            "all have rank 0 and lie outside every central interval, which accounts for much of the lowest rank bin "
            "and of the low coverage of the smallest cells."
        )
    if g := s.get("margin_gap"):
        notes += (
            f" Exact tables in the posterior draws: the largest gap of any draw to an exact one-way table was "
            f"{g['max']:.1e} (share; median over data sets of their largest gap {g['median_of_max']:.1e}); "
            f"{g['over_1e-5']} of {g['recorded']} data sets had a draw off by more than {MARGIN_GAP_NOTE:g}."
        )
    hyper = _hyper_lines(s)
    return "\n\n".join(
        [
            f"### Law `{cfg['law']}`: {s['scored']} data sets, {s['cells']:,} cells",
            f"`{cfg['command']}` on {result['finished']}: {result['total_seconds'] / 60:.1f} min "
            f"(load average {load['start']:.1f} at the start, {load['end']:.1f} at the end). "
            f"NUTS {CHAINS}x{DRAWS} per data set: median fit {s['fit_seconds_median']:.0f} s, "
            f"{s['steps_per_draw_median']:.0f} steps per draw; largest R-hat {s['r_hat_max']:.3f}, smallest bulk "
            f"ESS {s['ess_bulk_min']:.0f}; {div['total']} divergent transitions in {div['datasets_with']} of "
            f"{s['scored']} fits. Median TVD of the posterior mean {s['tvd_median']:.3f}.{notes}",
            coverage,
            f"Rank histogram of every cell share ({RANK_BINS} bins of {(RANK_DRAWS + 1) // RANK_BINS} ranks, "
            f"expected {r['expected']:.0f} per bin): {r['outside_band']} of {RANK_BINS} bins outside the 99% "
            f"binomial band, {r['outside_band_clustered']} outside the band widened by the design effect "
            f"{r['design_effect']:.1f} (cells of one data set share one posterior); {rank_verdict(r)}.",
            *(["Hyperparameters:\n" + "\n".join(hyper)] if hyper else []),
            "Coverage by the true size of the cell (descriptive: calibration holds on average over the truth, not "
            "for cells picked by their true size):\n\n" + sizes,
            f"![SBC rank histograms, law {cfg['law']}]({figure})",
        ]
    )


def render(results: dict[str, Any], paths: harness.Outputs) -> str:
    """The calibration section of BENCHMARKS.md (without markers), for every law run."""
    grids = " and ".join(
        f"{int(np.prod([len(a.levels) for a in g]))} cells ({' x '.join(a.name for a in g)})" for g in GRIDS
    )
    parts = [
        "## Calibration: simulation-based, synthetic truth",
        f"Written by `benchmarks/calibration.py`; raw results in `{os.path.relpath(paths.results, ROOT)}`. **The "
        "truth here is synthetic**, drawn from a known law, so the rank of each true cell share among the posterior "
        "draws and the coverage of central 50% and 90% intervals are scored on every cell (Talts et al. 2018; no "
        f"minimum cell size). Data sets alternate between {grids}, with exact one-way tables and a "
        f"{SAMPLE_FRACTION:.0%} sample, fitted with NUTS {CHAINS}x{DRAWS}; ranks use {RANK_DRAWS} draws evenly "
        f"spaced over the {CHAINS * DRAWS}, intervals all {CHAINS * DRAWS}.",
    ]
    for law in (law for law in LAWS if law in results["laws"]):
        parts += [_law_text(law), law_section(results["laws"][law], paths.link(_figure_name(law)))]
    parts.append(
        "Reading the numbers: the SE of pooled coverage treats data sets, not cells, as independent (cells of one "
        "posterior are correlated and sum to 1); the binomial band of the rank histogram assumes independent ranks, "
        "the wider band uses the between-data-set variance of the bin counts. Seeds: data set d of law l uses "
        f"`numpy.random.default_rng([{SEED}, l, d])`, prior draws `jax.random.PRNGKey(d)`, fit seed d."
    )
    return "\n\n".join(parts)


def _figure_name(law: str) -> str:
    return "calibration_ranks.png" if law == "prior" else f"calibration_ranks_{law}.png"


# ----------------------------------------------------------------------------- entry


def _load_results(path: pathlib.Path) -> dict[str, Any]:
    return harness.read_json(path) if path.is_file() else {"laws": {}}


def run(law: str, datasets: int, paths: harness.Outputs, command: str) -> dict[str, Any]:
    """Fit ``datasets`` data sets of ``law`` one after the other, saving after each; return all laws' results."""
    from populace.inference.backend import setup_jax

    setup_jax(CHAINS)  # before anything imports jax: one host device per chain
    results = _load_results(paths.results)
    start = time.perf_counter()
    config = {"law": law, "datasets": datasets, "draws": DRAWS, "chains": CHAINS, "rank_draws": RANK_DRAWS}
    config |= {"population": POPULATION, "sample_fraction": SAMPLE_FRACTION, "seed": SEED, "command": command}
    result = harness.new_results(config=config, rows=[])
    results["laws"][law] = result
    for index in range(datasets):
        row = run_dataset(law, index)
        result["rows"].append(row)
        say(_brief(law, row, datasets))
        result["total_seconds"] = time.perf_counter() - start
        result["finished"] = harness.now()
        harness.save_json(paths.results, results)
    result["load"]["end"] = harness.load()
    result["summary"] = summarise(result["rows"])
    harness.save_json(paths.results, results)
    return results


def _brief(law: str, row: dict[str, Any], total: int) -> str:
    head = f"{law} {row['index'] + 1}/{total} ({row['cells']} cells)"
    if "ranks" not in row:
        return f"{head}: {row.get('note')}"
    return (
        f"{head}: cov50 {np.mean(row['covered_50']):.2f}, cov90 {np.mean(row['covered_90']):.2f}, "
        f"TVD {row['tvd']:.3f}, {row['divergences']} div., R-hat {row['r_hat']:.3f}, "
        f"fit {row['fit_seconds']:.0f} s, wall {row['wall_seconds']:.0f} s"
    )


def write_outputs(results: dict[str, Any], paths: harness.Outputs) -> None:
    """Summarise each law's rows, draw its rank figure and write the page's calibration section."""
    for law, result in results["laws"].items():
        result["summary"] = summarise(result["rows"])
        if result["summary"].get("scored"):
            plot_ranks(result, paths.figures / _figure_name(law))
    harness.write_section(paths.page, SECTION, render(results, paths))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the calibration study (or rewrite its outputs); return an exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_DATASETS} data sets, written under {QUICK_DIR}")
    parser.add_argument("--datasets", type=int, help=f"data sets to fit (default {DEFAULT_DATASETS})")
    parser.add_argument("--law", choices=LAWS, default="prior", help="how the truth is drawn (default: prior)")
    parser.add_argument("--report", action="store_true", help="rewrite the figure and section from saved results")
    args = parser.parse_args(argv)
    paths = harness.outputs(args.quick, "calibration.json")
    if args.report:
        write_outputs(_load_results(paths.results), paths)
        return 0
    datasets = args.datasets or (QUICK_DATASETS if args.quick else DEFAULT_DATASETS)
    command = "python benchmarks/calibration.py" + (" --quick" if args.quick else "")
    command += f" --datasets {datasets}" if args.datasets else ""
    command += f" --law {args.law}" if args.law != "prior" else ""
    say(f"calibration: law {args.law}, {datasets} data sets, NUTS {CHAINS}x{DRAWS} each (synthetic truth)")
    results = run(args.law, datasets, paths, command)
    write_outputs(results, paths)
    summary = results["laws"][args.law]["summary"]
    if summary.get("scored"):
        c = summary["coverage"]
        say(f"coverage 50% {c['covered_50']['pooled']:.3f}, 90% {c['covered_90']['pooled']:.3f}")
    return 0 if summary.get("scored") else 1


if __name__ == "__main__":
    sys.exit(main())
