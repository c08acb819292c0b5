"""How fit time and peak memory grow with the cell grid, on SYNTHETIC attributes; and where the time goes.

Grids of about 100, 1,000, 10,000 and 100,000 cells, a 200,000-person population drawn from the
synthetic log-linear law (``harness.loglinear_joint``), its exact one-way tables and a 1% sample.
Every method is fitted with modest draws, each fit in its own child process (``harness.run_child``,
under an address-space cap), sizes in increasing order; a fit is skipped, with the reason, when the
method's previous size took over 4 minutes, failed, or the measured trend says it would not fit in
what is left of the time budget. Before the fits, the log density of every size is profiled
(``jax.jit`` of ``value_and_grad`` of NumPyro's potential, for the model and cut-down variants) to
split its time between priors, linear predictor, projection and microdata, and the projection alone
is timed against back-propagating through its unrolled sweeps (``ipf_jax``).

Usage::

    python benchmarks/scaling.py                    # ~20 min on 2 cores (the budget)
    python benchmarks/scaling.py --quick            # ~3 min, under benchmarks/output/quick/
    python benchmarks/scaling.py --budget-min 60    # let the slow fits run too
    python benchmarks/scaling.py --report           # rewrite the figure and section from saved results
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import harness
import numpy as np
from harness import HERE, QUICK_DIR, ROOT, say

import populace as pp

SECTION = "scaling"
# Synthetic attributes (name, levels, ordered); a grid is the first k of them.
ATTRIBUTES = (
    ("sex", 2, False),
    ("age", 5, True),
    ("income", 10, True),
    ("region", 10, False),
    ("occupation", 10, False),
    ("industry", 10, False),
)
# Cells -> number of attributes: 2x5x10 = 100, then x10 each.
SIZES = {100: 3, 1_000: 4, 10_000: 5, 100_000: 6}
QUICK_SIZES = (100, 1_000)
POPULATION = 200_000
SAMPLE_FRACTION = 0.01
# The synthetic law, as the page describes it.
LAW = "main effects and pairwise interactions on the prior's scales, `harness.loglinear_joint`"
# (method, draws per chain, chains): the full run, and --quick.
FITS = (("pathfinder", 1000, 1), ("advi", 1000, 1), ("nuts", 300, 2))
QUICK_FITS = (("pathfinder", 200, 1), ("advi", 200, 1), ("nuts", 100, 2))
SEED = 0
# Stop a method at the next size once a fit of it took longer than this (process time).
STOP_AFTER_S = 240.0
BUDGET_MIN, QUICK_BUDGET_MIN = 20.0, 6.0
# Longest a child may run (the fast-fit target at 100,000 cells is 10 minutes).
FIT_TIMEOUT_S = 720
# A fit is started only with at least this much of the budget left (and gets at least this).
MIN_FIT_S = 60.0
PROFILE_TIMEOUT_S = 300
# Address-space cap of every child (virtual memory; JAX alone maps ~3.5 GiB).
MEMORY_CAP_GIB = 12.0
# Targets reported against (issue 3): NUTS 4x1,000 on 1,000 cells (measured by run.py),
# and a fast fit (ADVI or Pathfinder) of 100,000 cells.
NUTS_TARGET_S = 60.0
FAST_TARGET_S = 600.0
FAST_TARGET_CELLS = 100_000
# Timing of one log-density evaluation: at least this many runs, until this many seconds.
PROFILE_MIN_RUNS, PROFILE_MAX_RUNS, PROFILE_SECONDS = 3, 50, 1.5


@dataclasses.dataclass(frozen=True, kw_only=True)
class Mode:
    """What a run covers and where it writes."""

    name: str
    sizes: tuple[int, ...]
    fits: tuple[tuple[str, int, int], ...]
    budget_s: float
    out: harness.Outputs


# ----------------------------------------------------------------------------- synthetic task


def grid(cells: int) -> tuple[pp.Attribute, ...]:
    """The synthetic attributes of the grid with ``cells`` cells."""
    return tuple(
        pp.Attribute(name=name, levels=tuple(f"{name[:3]}{i}" for i in range(k)), ordered=ordered)
        for name, k, ordered in ATTRIBUTES[: SIZES[cells]]
    )


def build_task(cells: int) -> tuple[pp.Spec, np.ndarray]:
    """The synthetic task with ``cells`` cells (exact one-way tables of the population, a 1% sample
    without replacement) and the population's true shares."""
    rng = np.random.default_rng([SEED, cells])
    attributes = grid(cells)
    shape = tuple(len(a.levels) for a in attributes)
    p = harness.loglinear_joint(shape, [a.ordered for a in attributes], rng)
    counts, sample = harness.finite_population(p, POPULATION, SAMPLE_FRACTION, rng)
    tables = [((a,), harness.margin(counts, (a,)), False) for a in range(len(shape))]
    return harness.make_spec(attributes, tables, sample, name=f"scaling-{cells}"), counts / counts.sum()


# ----------------------------------------------------------------------------- child: one fit


def fit_child(request: dict[str, Any]) -> dict[str, Any]:
    """In a child: fit one size with one method and score it."""
    from populace.inference.fit import fit
    from populace.metrics import recovery_metrics, tvd

    spec, truth = build_task(request["cells"])
    post = fit(
        spec,
        method=request["method"],
        draws=request["draws"],
        chains=request["chains"],
        seed=SEED,
        progress=False,
    )
    draws = post.posterior["p"].values.reshape(post.n_samples, -1)
    info = post.fit_info
    row = {
        "fit_seconds": info["fit_seconds"],
        "max_sweeps": info["projection_max_sweeps"],
        "terms": len(info["terms"]),
        "tvd": tvd(draws.mean(axis=0), truth.ravel()),
        "coverage_90": recovery_metrics(post, truth, prob=0.9)["coverage"],
    }
    if request["method"] == "nuts":
        row["steps_per_draw"] = float(np.asarray(post.sample_stats["n_steps"]).mean())
        row["divergences"] = int(np.asarray(post.sample_stats["diverging"]).sum())
    return row


# ----------------------------------------------------------------------------- child: profile


def time_calls(fn: Callable[[Any], Any], x: Any) -> tuple[float, float, int]:
    """Compile-and-first-call seconds, the fastest of the timed calls, and how many were timed."""
    import jax

    start = time.perf_counter()
    jax.block_until_ready(fn(x))
    first = time.perf_counter() - start
    runs: list[float] = []
    while len(runs) < PROFILE_MIN_RUNS or (sum(runs) < PROFILE_SECONDS and len(runs) < PROFILE_MAX_RUNS):
        start = time.perf_counter()
        jax.block_until_ready(fn(x))
        runs.append(time.perf_counter() - start)
    return first, float(np.min(runs)), len(runs)


def variants(model: Any) -> dict[str, Any]:
    """The model and the cut-down copies whose timings split its cost."""
    return {
        "full": model,
        "one_sweep": dataclasses.replace(model, sweeps=1),
        "no_projection": dataclasses.replace(model, exact=()),
        "priors_only": dataclasses.replace(model, exact=(), patterns=()),
    }


def microdata_fn(model: Any) -> tuple[Callable[[Any], Any], Any]:
    """Jitted ``value_and_grad`` of the microdata term alone, as a function of ``p``, and a ``p``."""
    import jax
    import jax.numpy as jnp

    from populace.models.loglinear import _margin

    def loglik(p):  # noqa: ANN001, ANN202 - jax arrays
        total = 0.0
        for axes, counts in model.patterns:
            m = _margin(p, axes)
            positive = counts > 0
            total = total + jnp.sum(jnp.where(positive, counts * jnp.log(jnp.where(positive, m, 1.0)), 0.0))
        return total

    p = jnp.full(model.shape, 1.0 / np.prod(model.shape))
    return jax.jit(jax.value_and_grad(loglik)), p


def projection_start(model: Any) -> Any:
    """The joint the projection starts from at the profiled point: ``softmax(eta)`` there."""
    import jax
    from numpyro.infer.util import constrain_fn, initialize_model

    if model.se_tables:
        raise ValueError("the projection's start is only found for models with exact tables only")
    info = initialize_model(jax.random.PRNGKey(SEED), model.model)
    free = dataclasses.replace(model, exact=())
    return constrain_fn(free.model, (), {}, info.param_info.z, return_deterministic=True)["p"]


def sweep_changes(start: Any, model: Any) -> list[float]:
    """The largest margin change of each IPF sweep that ``project`` runs from ``start``."""
    import jax
    import jax.numpy as jnp

    from populace.models.projection import PROJECTION_TOL, _ipf_sweep

    targets = [(axes, jnp.asarray(t)) for axes, t in model.exact]
    sweep = jax.jit(lambda q: _ipf_sweep(q, targets))
    q, changes = start, []
    while len(changes) < model.sweeps and (not changes or changes[-1] >= PROJECTION_TOL):
        q, change = sweep(q)
        changes.append(float(change))
    return changes


def projection_fns(model: Any, start: Any, sweeps: int) -> dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]]:
    """The projection alone: jitted ``value_and_grad`` and value of ``sum(log(project(x)))``."""
    import jax
    import jax.numpy as jnp

    from populace.models.projection import ipf_jax, project

    targets = [(axes, jnp.asarray(t)) for axes, t in model.exact]

    def log_sum(q):  # noqa: ANN001, ANN202 - jax arrays
        positive = q > 0
        return jnp.sum(jnp.where(positive, jnp.log(jnp.where(positive, q, 1.0)), 0.0))

    def implicit(x):  # noqa: ANN001, ANN202 - jax arrays
        return log_sum(project(x, targets, max_sweeps=model.sweeps))

    def unrolled(x):  # noqa: ANN001, ANN202 - jax arrays
        return log_sum(ipf_jax(jax.nn.softmax(x.reshape(-1)).reshape(x.shape), targets, sweeps))

    return {
        name: (jax.jit(jax.value_and_grad(f)), jax.jit(f))
        for name, f in (("implicit", implicit), ("unrolled", unrolled))
    }


def gradient_fn(model: Any) -> tuple[Callable[[Any], Any], Callable[[Any], Any], Any]:
    """Jitted ``value_and_grad`` and value of the potential (negative log density), and a start."""
    import jax
    from jax.flatten_util import ravel_pytree
    from numpyro.infer.util import initialize_model

    info = initialize_model(jax.random.PRNGKey(SEED), model.model)
    flat, unravel = ravel_pytree(info.param_info.z)

    def potential(x):  # noqa: ANN001, ANN202 - jax arrays
        return info.potential_fn(unravel(x))

    return jax.jit(jax.value_and_grad(potential)), jax.jit(potential), flat


def profile_child(request: dict[str, Any]) -> dict[str, Any]:
    """In a child: build the model of one size and time its log density and variants."""
    import jax
    import jax.numpy as jnp

    from populace.data.inputs import load_inputs
    from populace.inference.backend import setup_jax
    from populace.models.loglinear import build_loglinear
    from populace.models.projection import PROJECTION_TOL

    setup_jax(1)
    spec, _ = build_task(request["cells"])
    start = time.perf_counter()
    model = build_loglinear(load_inputs(spec))
    build_seconds = time.perf_counter() - start
    p0 = projection_start(model)
    changes = sweep_changes(p0, model)
    out: dict[str, Any] = {
        "build_seconds": build_seconds,
        "n_effects": model.n_effects,
        "terms": len(model.terms),
        "projection_gradient": "implicit",
        "sweeps": len(changes),
        "sweep_changes": changes,
        "max_sweeps": model.sweeps,
        "projection_tol": PROJECTION_TOL,
        "tables": len(model.exact),
        "table_cells": int(sum(t.size for _, t in model.exact)),
        "dense_design": model.design is not None,
        "backend": jax.default_backend(),
        "variants": {},
    }
    out["load"] = os.getloadavg()[0]
    for name, variant in variants(model).items():
        grad, value, x = gradient_fn(variant)
        first, per_call, runs = time_calls(grad, x)
        out["variants"][name] = {"first_call_seconds": first, "grad_ms": per_call * 1000, "runs": runs}
        if name == "full":
            _, forward, _ = time_calls(value, x)
            out["variants"][name]["value_ms"] = forward * 1000
            out["cost"] = _cost_analysis(grad, x)
    grad, p = microdata_fn(model)
    out["variants"]["microdata_alone"] = {"grad_ms": time_calls(grad, p)[1] * 1000}
    out["projection_alone"] = {}
    log_p0 = jnp.log(p0)
    for name, (grad, value) in projection_fns(model, p0, len(changes)).items():
        out["projection_alone"][name] = {
            "grad_ms": time_calls(grad, log_p0)[1] * 1000,
            "value_ms": time_calls(value, log_p0)[1] * 1000,
        }
    out["split"] = split_costs(out["variants"], len(changes))
    return out


def _cost_analysis(fn: Any, x: Any) -> dict[str, float | None]:
    """XLA's own estimate of floating-point operations and bytes moved per call."""
    try:
        cost = fn.lower(x).compile().cost_analysis()
    except Exception:  # noqa: BLE001 - optional: not every backend reports it
        return {"flops": None, "bytes": None}
    cost = cost[0] if isinstance(cost, list) else cost
    return {"flops": cost.get("flops"), "bytes": cost.get("bytes accessed")}


def split_costs(timed: dict[str, dict[str, float]], sweeps: int) -> dict[str, float]:
    """Milliseconds per gradient evaluation attributed to each part of the model."""
    ms = {k: v["grad_ms"] for k, v in timed.items()}
    out = {
        "total": ms["full"],
        "priors": ms["priors_only"],
        "eta_softmax": ms["no_projection"] - ms["priors_only"] - ms["microdata_alone"],
        "projection": ms["full"] - ms["no_projection"],
        "microdata": ms["microdata_alone"],
    }
    out["per_sweep"] = (ms["full"] - ms["one_sweep"]) / (sweeps - 1) if sweeps > 1 else float("nan")
    return out


# ----------------------------------------------------------------------------- parent: plan


def predict_seconds(
    method_rows: Sequence[dict[str, Any]], cells: int, profiles: dict[int, dict[str, Any]]
) -> float | None:
    """Predicted process seconds of the next fit of a method, from its last measured size."""
    done = [r for r in method_rows if "fit_seconds" in r]
    if not done:
        return None
    last = done[-1]
    now, before = _grad_ms(profiles, cells), _grad_ms(profiles, last["cells"])
    ratio = now / before if now and before else cells / last["cells"]
    return last["process_seconds"] * ratio


def _grad_ms(profiles: dict[int, dict[str, Any]], cells: int) -> float | None:
    return profiles.get(cells, {}).get("variants", {}).get("full", {}).get("grad_ms")


def skip_reason(method_rows: Sequence[dict[str, Any]], predicted: float | None, left: float) -> str | None:
    """Why the next fit of a method is not run, or ``None`` to run it."""
    guess = f"; the measured trend puts this one at ~{predicted / 60:.0f} min" if predicted else ""
    if method_rows:
        last = method_rows[-1]
        if "failed" in last:
            return f"not run: the {last['cells']:,}-cell fit failed ({_failure_text(last)}){guess}"
        if "skipped" in last:
            return f"not run: a smaller size was not run{guess}"
        if last["process_seconds"] > STOP_AFTER_S:
            return (
                f"not run: would take > {STOP_AFTER_S / 60:.0f} min (measured trend): the {last['cells']:,}-cell fit "
                f"took {last['process_seconds'] / 60:.1f} min{guess}"
            )
    if left < MIN_FIT_S:
        return f"not run: the time budget is spent{guess}"
    return None


def fit_plan(
    fits: Sequence[tuple[str, int, int]],
    rows: dict[str, list[dict[str, Any]]],
    cells: int,
    profiles: dict[int, dict[str, Any]],
) -> list[tuple[str, int, int, float | None]]:
    """The fits of one size, quickest predicted first (the first size in the given order)."""
    plan = [(method, draws, chains, predict_seconds(rows[method], cells, profiles)) for method, draws, chains in fits]
    return sorted(plan, key=lambda item: item[3] or 0.0)


def run_fit(method: str, draws: int, chains: int, cells: int, predicted: float | None, left: float) -> dict[str, Any]:
    """Run one fit in a child with a time limit of what is left of the budget (at most FIT_TIMEOUT_S)."""
    say(f"fit: {method} at {cells:,} cells" + (f" (predicted ~{predicted:.0f} s)" if predicted else ""))
    timeout = max(MIN_FIT_S, min(FIT_TIMEOUT_S, left))
    request = {"cells": cells, "method": method, "draws": draws, "chains": chains}
    return harness.run_child("scaling:fit_child", request, timeout, MEMORY_CAP_GIB)


def _profile(cells: int) -> dict[str, Any]:
    say(f"profile: {cells:,} cells")
    profile = harness.run_child("scaling:profile_child", {"cells": cells}, PROFILE_TIMEOUT_S, MEMORY_CAP_GIB)
    say(f"  {_profile_brief(profile)}")
    return profile


def run_mode(mode: Mode, command: str) -> dict[str, Any]:
    """Profile every size, then fit every method size by size (quickest first) within the budget."""
    start = time.perf_counter()
    deadline = start + mode.budget_s
    config = {"sizes": list(mode.sizes), "fits": [list(f) for f in mode.fits], "law": LAW, "population": POPULATION}
    config |= {"sample_fraction": SAMPLE_FRACTION, "seed": SEED, "budget_min": mode.budget_s / 60}
    config |= {"stop_after_s": STOP_AFTER_S, "memory_cap_gib": MEMORY_CAP_GIB}
    grids = {str(c): _grid_text(c) for c in mode.sizes}
    json_path = os.path.relpath(mode.out.results, ROOT)
    results = harness.new_results(mode=mode.name, command=command, json_path=json_path, config=config, grids=grids)
    results |= {"profiles": {}, "fits": []}
    profiles: dict[int, dict[str, Any]] = {}
    for cells in mode.sizes:
        profiles[cells] = results["profiles"][str(cells)] = _profile(cells)
        harness.save_json(mode.out.results, results, start)
    rows: dict[str, list[dict[str, Any]]] = {method: [] for method, *_ in mode.fits}
    for cells in mode.sizes:
        for method, draws, chains, predicted in fit_plan(mode.fits, rows, cells, profiles):
            left = deadline - time.perf_counter()
            row = {"cells": cells, "method": method, "draws": draws, "chains": chains, "predicted_seconds": predicted}
            reason = skip_reason(rows[method], predicted, left)
            row |= {"skipped": reason} if reason else run_fit(method, draws, chains, cells, predicted, left)
            say(f"  {method} {cells:,}: {_fit_brief(row)}")
            rows[method].append(row)
            results["fits"].append(row)
            harness.save_json(mode.out.results, results, start)
    results["load"]["end"] = harness.load()
    harness.save_json(mode.out.results, results, start)
    return results


def update_results(mode: Mode, command: str, profiles: bool, extra: str) -> dict[str, Any]:
    """Rerun the profiles and/or single fits (``"advi:100000,nuts:10000"``) of a saved run and merge
    them in; such a fit has no budget (only FIT_TIMEOUT_S), and its row says so."""
    start = time.perf_counter()
    results = harness.read_json(mode.out.results)
    if profiles:
        for cells in results["config"]["sizes"]:
            results["profiles"][str(cells)] = _profile(cells)
    settings = {method: (draws, chains) for method, draws, chains in results["config"]["fits"]}
    for item in filter(None, (part.strip() for part in extra.split(","))):
        method, _, size = item.partition(":")
        cells, (draws, chains) = int(size.replace("_", "")), settings[method]
        old = [r for r in results["fits"] if (r["method"], r["cells"]) == (method, cells)]
        row = {"cells": cells, "method": method, "draws": draws, "chains": chains}
        row |= {"predicted_seconds": old[0].get("predicted_seconds") if old else None}
        row |= run_fit(method, draws, chains, cells, None, FIT_TIMEOUT_S) | {"run_separately": command}
        say(f"  {method} {cells:,}: {_fit_brief(row)}")
        results["fits"] = [r for r in results["fits"] if (r["method"], r["cells"]) != (method, cells)] + [row]
    update = {"command": command, "when": harness.now(), "seconds": time.perf_counter() - start}
    results.setdefault("updates", []).append(update)
    harness.save_json(mode.out.results, results)
    return results


def _grid_text(cells: int) -> str:
    return " x ".join(f"{a.name} ({len(a.levels)})" for a in grid(cells))


def _profile_brief(p: dict[str, Any]) -> str:
    if "failed" in p:
        return f"failed: {p['failed']}"
    s = p["split"]
    return (
        f"{p['n_effects']:,} effects, {p['sweeps']} sweeps: {s['total']:.2f} ms per gradient "
        f"(eta {s['eta_softmax']:.2f}, projection {s['projection']:.2f}, microdata {s['microdata']:.2f})"
    )


def _fit_brief(row: dict[str, Any]) -> str:
    if "skipped" in row:
        return row["skipped"]
    if "failed" in row:
        return f"failed ({row['failed']}) after {row['process_seconds']:.0f} s: {row['log_tail'][-300:]}"
    return (
        f"fit {row['fit_seconds']:.1f} s, process {row['process_seconds']:.1f} s, {row['peak_mib']:,.0f} MiB, "
        f"TVD {row['tvd']:.3f}, cov90 {row['coverage_90']:.2f}"
    )


# ----------------------------------------------------------------------------- figure


METHOD_COLORS = {"nuts": "tab:blue", "advi": "tab:orange", "pathfinder": "tab:green"}


def plot_scaling(results: dict[str, Any], path: pathlib.Path) -> None:
    """Log-log plots of fit seconds, peak MiB and gradient cost against cells."""
    plt = harness.pyplot()
    fig, (ax_time, ax_mem, ax_grad) = plt.subplots(1, 3, figsize=(16, 4.8))
    for method, *_ in results["config"]["fits"]:
        _plot_method(ax_time, ax_mem, [r for r in results["fits"] if r["method"] == method], method)
    for ax, y, text in (
        (ax_time, FAST_TARGET_S, " 10 min (fast-fit target)"),
        (ax_mem, MEMORY_CAP_GIB * 1024, "address-space cap "),
    ):
        ax.axhline(y, color="gray", ls=":", lw=1)
        ax.text(1.0, y, text, fontsize=7, va="bottom", ha="right", transform=ax.get_yaxis_transform())
    _plot_profile(ax_grad, results["profiles"])
    for ax, label in (
        (ax_time, "fit seconds (compile + fit; x and ^: whole process)"),
        (ax_mem, "peak MiB (child process ru_maxrss)"),
    ):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("cells")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(
        f"populace scaling on synthetic grids (one-way exact tables, {SAMPLE_FRACTION:.0%} sample of "
        f"{POPULATION:,}); x: out of memory, ^: stopped at the time limit, hollow: predicted, not run"
    )
    fig.tight_layout()
    harness.save_figure(fig, path, dpi=110)


def _plot_method(ax_time: Any, ax_mem: Any, rows: Sequence[dict[str, Any]], method: str) -> None:
    """Measured fits (line), failures (x: out of memory; ^: time limit, a lower bound), predictions (hollow)."""
    color = METHOD_COLORS.get(method, "black")
    ran = sorted((r for r in rows if "fit_seconds" in r), key=lambda r: r["cells"])
    label = f"{method} ({_draws_label(rows[0])})" if rows else method
    if ran:
        cells = [r["cells"] for r in ran]
        ax_time.plot(cells, [r["fit_seconds"] for r in ran], "o-", color=color, label=label)
        ax_mem.plot(cells, [r["peak_mib"] for r in ran], "o-", color=color, label=label)
    for r in (r for r in rows if "failed" in r):
        oom = r.get("out_of_memory")
        marker, what = ("x", "out of memory") if oom else ("^", "stopped at its time limit")
        ax_time.plot(r["cells"], r["process_seconds"], marker, ms=9, mew=2, color=color, label=f"{method}: {what}")
        if oom:
            ax_mem.plot(r["cells"], MEMORY_CAP_GIB * 1024, "x", ms=9, mew=2, color=color, label=f"{method}: {what}")
    guessed = [r for r in rows if "skipped" in r and r.get("predicted_seconds")]
    if guessed:
        ax_time.plot(
            [r["cells"] for r in guessed],
            [r["predicted_seconds"] for r in guessed],
            "o",
            mfc="none",
            color=color,
            label=f"{method}: predicted, not run",
        )


def _draws_label(row: dict[str, Any]) -> str:
    return f"{row['chains']}x{row['draws']}" if row["method"] == "nuts" else f"{row['draws'] * row['chains']} draws"


def _plot_profile(ax: Any, profiles: dict[str, dict[str, Any]]) -> None:
    good = {int(c): p for c, p in profiles.items() if "split" in p}
    cells = sorted(good)
    for key, label, style in (
        ("total", "whole log density + gradient", "o-"),
        ("eta_softmax", "linear predictor eta + softmax", "s--"),
        ("projection", "projection (sweeps and gradient)", "^--"),
        ("microdata", "microdata likelihood", "v--"),
    ):
        values = [max(good[c]["split"][key], 1e-3) for c in cells]
        ax.plot(cells, values, style, label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("cells")
    ax.set_ylabel("ms per value_and_grad evaluation")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("log density profile (jit, 1 device)", fontsize=10)


# ----------------------------------------------------------------------------- markdown


def _fmt(value: Any, digits: int = 1) -> str:
    return harness.fmt(value, f",.{digits}f")


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _failure_text(row: dict[str, Any]) -> str:
    what = "out of memory under the cap" if row.get("out_of_memory") else row["failed"]
    return f"failed after {row['process_seconds'] / 60:.1f} min: {what}"


def _row_notes(r: dict[str, Any]) -> str:
    if "skipped" in r:
        return r["skipped"]
    notes = [] if "fit_seconds" in r else [_failure_text(r)]
    if r["method"] == "nuts" and "steps_per_draw" in r:
        notes.append(f"{r['steps_per_draw']:.0f} steps/draw, {r['divergences']} div.")
    if r.get("run_separately"):
        notes.append(f"run separately, without the budget: `{r['run_separately']}`")
    if r.get("predicted_seconds"):
        notes.append(f"the trend had predicted {_minutes(r['predicted_seconds'])}")
    return "; ".join(notes)


def fits_table(results: dict[str, Any]) -> str:
    """One row per (size, method): times, memory, accuracy, or why it was not run."""
    rows = [
        [
            f"{r['cells']:,}",
            f"{r['method']} {_draws_label(r)}",
            _fmt(r.get("fit_seconds")),
            _fmt(r.get("process_seconds")),
            _fmt(r.get("peak_mib"), 0),
            harness.fmt(r.get("tvd")),
            harness.fmt(r.get("coverage_90"), ".0%"),
            _row_notes(r),
        ]
        for cells in results["config"]["sizes"]
        for r in results["fits"]
        if r["cells"] == cells
    ]
    return harness.table(["cells", "method", "fit s", "process s", "peak MiB", "TVD", "cov 90", "notes"], rows)


def _profiles(results: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """The profiles that succeeded, by cells."""
    return {int(c): p for c, p in results["profiles"].items() if "split" in p}


def profile_table(results: dict[str, Any]) -> str:
    """Per size: model size and the milliseconds of each part of one gradient evaluation."""
    header = ["cells", "effects", "sweeps run", "eta path", "value+grad ms", "value ms", "eta + softmax ms"]
    header += ["projection ms", "per sweep ms", "microdata ms", "compile s", "GFLOP / GB per grad"]
    rows = []
    for cells in results["config"]["sizes"]:
        p = results["profiles"].get(str(cells), {})
        if "split" not in p:
            rows.append([f"{cells:,}", f"profile failed: {p.get('failed', 'not run')}"] + [""] * 10)
            continue
        s, full, cost = p["split"], p["variants"]["full"], p.get("cost", {})
        flops = "–" if cost.get("flops") is None else f"{cost['flops'] / 1e9:.2f} / {cost['bytes'] / 1e9:.2f}"
        rows.append(
            [
                f"{cells:,}",
                f"{p['n_effects']:,}",
                str(p["sweeps"]),
                "dense matmul" if p["dense_design"] else "term by term",
                f"{s['total']:.2f}",
                f"{full['value_ms']:.2f}",
                f"{s['eta_softmax']:.2f}",
                f"{s['projection']:.2f}",
                _fmt(s["per_sweep"], 3),
                f"{s['microdata']:.2f}",
                f"{full['first_call_seconds']:.1f}",
                flops,
            ]
        )
    return harness.table(header, rows)


def projection_table(results: dict[str, Any]) -> str:
    """Per size: the projection alone, forward and with its gradient, implicit against unrolled."""
    rows = []
    for cells in results["config"]["sizes"]:
        p = results["profiles"].get(str(cells), {})
        if p.get("projection_alone"):
            ours, unrolled = p["projection_alone"]["implicit"], p["projection_alone"]["unrolled"]
            rows.append(
                [
                    f"{cells:,}",
                    f"{p['sweeps']} x {p['tables']}",
                    f"{p['table_cells']:,}",
                    f"{ours['value_ms']:.2f}",
                    f"{ours['grad_ms']:.2f}",
                    f"{unrolled['grad_ms']:.2f}",
                    f"{unrolled['grad_ms'] / ours['grad_ms']:.1f}x",
                ]
            )
    if not rows:
        return ""
    header = ["cells", "sweeps x tables", "table cells", "forward ms", "value+grad ms, `project` (implicit)"]
    header += ["value+grad ms, the same sweeps unrolled (`ipf_jax`)", "unrolled / implicit"]
    return harness.table(header, rows) + (
        "\n\nThe projection alone: `sum(log(project(x)))` at the profiled point's log weights `x`, with its sweeps "
        "counted there. *table cells* is the size of the linear system the implicit gradient solves (the cells "
        "of all exact tables); the unrolled gradient back-propagates through every sweep instead."
    )


def targets_text(results: dict[str, Any]) -> str:
    """The two speed targets, with the numbers that meet or miss them."""
    target = f"- 1,000-cell NUTS 4x1,000 fit under {NUTS_TARGET_S:.0f} s"
    try:
        saved = harness.read_json(HERE / "results-full.json")
        seconds, when = saved["speed"]["fit"]["fit_seconds"], saved["speed"]["fit"].get("note") or saved["finished"]
        verdict = "met" if seconds < NUTS_TARGET_S else "**missed**"
        lines = [
            f"{target}: {verdict}: {seconds:.1f} s (`benchmarks/run.py`, real CPS1988 grid, Speed table above; {when})."
        ]
    except (OSError, KeyError, TypeError, ValueError):
        lines = [f"{target}: measured by `run.py --full` (not found)."]
    nuts = _fit_row(results, "nuts", 1_000)
    if nuts and "fit_seconds" in nuts:
        lines.append(
            f"  Here, on the synthetic 1,000-cell grid, NUTS {_draws_label(nuts)} took {nuts['fit_seconds']:.0f} s."
        )
    target = f"- {FAST_TARGET_CELLS:,}-cell fast fit under {FAST_TARGET_S / 60:.0f} min"
    fast = [r for r in results["fits"] if r["cells"] == FAST_TARGET_CELLS and r["method"] in ("advi", "pathfinder")]
    lines += [] if fast else [f"{target}: size not in this run."]
    for r in fast:
        if "fit_seconds" in r:
            verdict = "met" if r["fit_seconds"] < FAST_TARGET_S else "**missed**"
            text = f"{verdict}: {r['fit_seconds'] / 60:.1f} min fit ({r['process_seconds'] / 60:.1f} min process)"
        else:
            text = "**not met**: " + (r.get("skipped") or _failure_text(r))
        lines.append(f"{target}, {r['method']}: {text}.")
    return "\n".join(lines)


def where_time_goes(results: dict[str, Any]) -> str:
    """Plain words on the profile at the largest size profiled, against the smallest."""
    good = _profiles(results)
    if not good:
        return "No profile succeeded."
    cells, small = max(good), min(good)
    p = good[cells]
    s, full, moved = p["split"], p["variants"]["full"], p.get("cost", {}).get("bytes")
    share = {k: s[k] / s["total"] for k in ("eta_softmax", "projection", "microdata", "priors")}
    per_cell = {c: good[c]["split"]["total"] * 1e6 / c for c in (small, cells)}
    bandwidth = (
        f"; XLA counts {moved / 1e9:.2f} GB moved per gradient, {moved / (s['total'] / 1000) / 1e9:.1f} GB/s"
        if moved
        else ""
    )
    further = (p["sweeps"] - 1) * s["per_sweep"] if p["sweeps"] > 1 else float("nan")
    projection = f"projection {share['projection']:.0%}"
    if further > 0 and s["projection"] - further > 0:
        projection += (
            f" ({further:.2f} ms for the {p['sweeps'] - 1} sweeps after the first, {s['per_sweep']:.3f} ms each; "
            f"{s['projection'] - further:.2f} ms for the first sweep and the implicit gradient)"
        )
    text = (
        f"At {cells:,} cells ({p['n_effects']:,} effects, {p['tables']} exact tables; the projection ran {p['sweeps']} "
        f"sweeps at the profiled point) one evaluation of the log density and its gradient takes {s['total']:.1f} ms "
        f"({per_cell[cells]:.0f} ns per cell; the value alone {full['value_ms']:.1f} ms{bandwidth}). By difference of "
        f"variants: {projection}, eta construction and softmax {share['eta_softmax']:.0%}, microdata likelihood "
        f"{share['microdata']:.0%}, priors {share['priors']:.0%}."
    )
    if small != cells:
        total = good[small]["split"]["total"]
        text += f" At {small:,} cells the same evaluation takes {total:.2f} ms ({per_cell[small]:.0f} ns per cell)."
    return text


def _fit_row(results: dict[str, Any], method: str, cells: int) -> dict[str, Any] | None:
    return next((r for r in results["fits"] if r["method"] == method and r["cells"] == cells), None)


def pathfinder_batch_gib(cells: int, *, whole_path: bool = False) -> float:
    """GiB of one float64 intermediate of the log density in one batch of Pathfinder's ELBO draws
    (``whole_path``: BlackJAX's ``approximate``, which scores every path point's draws at once)."""
    from populace.inference.methods import PATHFINDER_MAXITER
    from populace.inference.pathfinder import ELBO_DRAWS, elbo_batch_size

    draws = (PATHFINDER_MAXITER + 1) * ELBO_DRAWS if whole_path else elbo_batch_size(cells)
    return draws * cells * 8 / 2**30


def _projection_remedy(cells: int, p: dict[str, Any]) -> str:
    ours, unrolled = p["projection_alone"]["implicit"], p["projection_alone"]["unrolled"]
    sweeps, tables, tol = p["sweeps"], p["tables"], p["projection_tol"]
    ratio = unrolled["grad_ms"] / ours["grad_ms"]
    compare = f"{ratio:.1f}x as long" if ratio > 1.2 else "about as long"
    if ratio < 1 / 1.2:
        compare = f"{1 / ratio:.1f}x less: at so few sweeps back-propagation costs less than the table-cell solve"
    text = (
        f"- **The projection.** At {cells:,} cells the projection alone (`project`: {sweeps} sweeps over {tables} "
        f"tables until no margin moves by {tol:g}, then for the gradient one Cholesky solve over the "
        f"{p['table_cells']:,} table cells) takes {ours['value_ms']:.2f} ms forward and {ours['grad_ms']:.2f} ms "
        f"with its gradient; back-propagating through the same {sweeps} sweeps unrolled (`ipf_jax`) takes "
        f"{unrolled['grad_ms']:.2f} ms, {compare}. In the whole log density the projection is "
        f"{p['split']['projection'] / p['split']['total']:.0%} of a gradient."
    )
    backward = ours["grad_ms"] - ours["value_ms"]
    if ours["value_ms"] < backward:
        return text + (
            f" Most of the projection alone is its reverse pass ({backward / ours['grad_ms']:.0%}): `project` builds "
            f"the table-cell system with one segment sum over all {cells:,} cells per pair of tables "
            f"({tables * (tables + 1) // 2} for {tables} tables) before solving for {p['table_cells']:,} unknowns."
        )
    text += f" Most of the projection alone is its forward sweeps ({ours['value_ms'] / ours['grad_ms']:.0%})"
    looser = next((k + 1 for k, change in enumerate(p.get("sweep_changes", [])) if change < 100 * tol), None)
    if looser and looser < sweeps:
        text += (
            f"; by the largest margin change of each sweep, a 100x looser tolerance ({100 * tol:g}) would "
            f"have stopped after {looser} sweeps instead of {sweeps}"
        )
    return text + "."


def remedies(results: dict[str, Any]) -> str:
    """Where the time and memory of the large fits go, and what would cut them, from the measurements."""
    from populace.inference.methods import ADVI_STEPS, FULL_RANK_LIMIT, PATHFINDER_MAXITER
    from populace.inference.pathfinder import ELBO_DRAWS, elbo_batch_size

    items, good = [], _profiles(results)
    if good:
        cells, p = max(good), good[max(good)]
        if p.get("projection_alone"):
            items.append(_projection_remedy(cells, p))
        if not p["dense_design"]:
            items.append(
                f"- **The linear predictor.** Above `DESIGN_LIMIT` eta is built term by term, each term a dense "
                f"(effects x cells-of-the-term) basis: {p['split']['eta_softmax']:.1f} ms of "
                f"{p['split']['total']:.1f} ms at {cells:,} cells. Applying the centring and the cumulation axis by "
                "axis (the basis is a Kronecker product of per-axis maps) would cost O(n x levels) instead of O(n^2) "
                "for a term over n cells."
            )
    pathfinder = [r for r in results["fits"] if r["method"] == "pathfinder"]
    if pathfinder:
        text = (
            "- **Pathfinder's memory.** `populace.inference.pathfinder` scores the path points one at a time "
            "(`lax.map`, skipping those after L-BFGS stopped) and each point's draws in batches of `elbo_batch_size` "
            f"({elbo_batch_size(10_000)} at 10,000 cells, {elbo_batch_size(100_000)} at 100,000): "
            f"{pathfinder_batch_gib(10_000) * 1024:.0f} MiB per float64 intermediate of the log density at 10,000 "
            f"cells and {pathfinder_batch_gib(100_000) * 1024:.0f} MiB at 100,000, whatever the path length. "
            f"BlackJAX's `approximate` scores all {PATHFINDER_MAXITER + 1} path points x {ELBO_DRAWS} draws in one "
            f"batch: {pathfinder_batch_gib(10_000, whole_path=True):.1f} GiB and "
            f"{pathfinder_batch_gib(100_000, whole_path=True):.0f} GiB per array. The posterior draws are pushed "
            "through the model in chunks of `DRAW_CHUNK`, as ADVI's are."
        )
        text += "".join(
            f" Here the Pathfinder fit at {r['cells']:,} cells ran out of memory under the cap."
            for r in pathfinder
            if r.get("out_of_memory")
        )
        ran = [r for r in pathfinder if "peak_mib" in r]
        if ran:
            r = max(ran, key=lambda row: row["cells"])
            text += f" The largest Pathfinder fit that ran here, at {r['cells']:,} cells, peaked at "
            text += f"{r['peak_mib']:,.0f} MiB."
        items.append(text)
    advi, nuts = _fit_row(results, "advi", 1_000), _fit_row(results, "nuts", 1_000)
    if advi and nuts and "fit_seconds" in advi and "fit_seconds" in nuts:
        text = (
            f"- **ADVI's fixed {ADVI_STEPS:,} steps.** ADVI runs {ADVI_STEPS:,} Adam steps at every size, with a "
            f"full-rank guide up to {FULL_RANK_LIMIT:,} parameters: at 1,000 cells it took "
            f"{advi['fit_seconds']:.0f} s against {nuts['fit_seconds']:.0f} s for NUTS {_draws_label(nuts)}. "
            "Stopping on ELBO convergence, and a low-rank guide earlier, would bound it."
        )
        r = max((r for r in results["fits"] if r["method"] == "advi" and "fit_seconds" in r), key=lambda r: r["cells"])
        grad = good.get(r["cells"], {}).get("variants", {}).get("full", {}).get("grad_ms")
        if grad:
            per_step = r["fit_seconds"] / ADVI_STEPS * 1000
            text += (
                f" At {r['cells']:,} cells ADVI spent {per_step:.0f} ms per step (fit time / steps, compile and draws "
                f"included) against {grad:.1f} ms for one gradient of the model timed alone"
            ) + (
                ": most of a step is outside the log density (the guide, the ELBO bookkeeping, the compile, the "
                "draws and the other work on the machine; not profiled further)."
                if per_step > 2 * grad
                else ": a step costs about what the log density's gradient does."
            )
        items.append(text)
    backends = {p.get("backend") for p in good.values()}
    if "gpu" not in backends:
        where = " (the profiles ran on the CPU)" if backends == {"cpu"} else ""
        items.append(
            "- **Hardware.** Every part is a pass of elementwise work and reductions over the cell array, which "
            f"is what a GPU does well; not measured here{where}."
        )
    return "\n".join(items)


def _intro(results: dict[str, Any]) -> str:
    cfg, load = results["config"], results["load"]
    fits = ", ".join(f"{m} {c}x{d}" if m == "nuts" else f"{m} {c * d} draws" for m, d, c in cfg["fits"])
    grids = "; ".join(f"{int(c):,}: {g}" for c, g in results["grids"].items())
    text = (
        f"Written by `{results['command']}` on {results['finished']} ({results['total_seconds'] / 60:.1f} min; "
        f"load average {load['start']:.1f} at the start, {load.get('end', float('nan')):.1f} at the end, on a "
        f"shared {results['machine']['nproc']}-core machine); raw results in `{results['json_path']}`. "
        f"**Attributes and population are synthetic**: a random log-linear joint ({cfg['law']}), a population "
        f"of {cfg['population']:,} drawn from it, its exact one-way tables and a {cfg['sample_fraction']:.0%} sample "
        f"without replacement. Grids: {grids}. Fits: {fits}, seed {cfg['seed']}, each in its own child process "
        f"(address space capped at {cfg['memory_cap_gib']:.0f} GiB), one at a time, sizes in increasing order; a "
        f"method stops once a fit took more than {cfg['stop_after_s'] / 60:.0f} min, and a fit is skipped when the "
        "measured trend (previous fit time x ratio of gradient costs) exceeds what is left of the "
        f"{cfg['budget_min']:.0f}-min budget. TVD and 90% coverage (cells with >= 10 persons) against the "
        "synthetic population are a sanity check only. fit s is populace's `fit_seconds` (compile included); "
        "process s the whole child; peak MiB its `ru_maxrss`."
    )
    updates = results.get("updates", [])
    if updates:
        done = "; ".join(f"`{u['command']}` on {u['when']} ({u['seconds'] / 60:.1f} min)" for u in updates)
        text += f" Later runs merged into these results: {done}."
        what = (
            ["`--profiles` replaced every profile below"] if any("--profiles" in u["command"] for u in updates) else []
        )
        what += (
            ["`--extra` ran the rows marked *run separately*"]
            if any(r.get("run_separately") for r in results["fits"])
            else []
        )
        text += f" {'; '.join(what)}." if what else ""
    measured = [*results["profiles"].values(), *(r for r in results["fits"] if "skipped" not in r)]
    versions = {m["populace_source"] for m in measured if m.get("populace_source")}
    if len(versions) > 1:
        text += f" The profiles and fits ran {len(versions)} versions of populace's source (digests in the JSON)."
    return text


def _profile_intro() -> str:
    from populace.models.projection import MAX_SWEEPS, PROJECTION_TOL

    return (
        "`jax.jit(jax.value_and_grad(potential_fn))` from `numpyro.infer.util.initialize_model`, timed per "
        "evaluation at its initial point on one device, for the model and for copies made with "
        "`dataclasses.replace`: `exact=()` (no projection), `sweeps=1` (the projection capped at one sweep; its "
        "implicit gradient is the same solve), and `exact=(), patterns=()` (priors only: nothing uses `p` any "
        "more, so XLA drops the joint). The microdata term is timed on its own, as a function of `p` (a variant "
        "without it would not time the joint at all), and eta + softmax is the no-projection variant minus priors "
        "and microdata. The projection runs IPF sweeps until no margin moves by "
        f"{PROJECTION_TOL:g} (at most {MAX_SWEEPS}): *sweeps run* counts them at the profiled point (the same "
        "sweeps one at a time), and *per sweep* is the forward cost of one, (full - one sweep) / (sweeps run - 1). "
        f"Timings are the fastest of up to {PROFILE_MAX_RUNS} calls (other work on the machine only adds time). "
        "Compile s is the first call of the full gradient; GFLOP / GB are XLA's cost analysis of it."
    )


def render(results: dict[str, Any], figure: str) -> str:
    """The scaling section of BENCHMARKS.md (without markers)."""
    parts = ["## Scaling: fit time and memory against cells (synthetic grids)", _intro(results)]
    parts += ["### Targets\n\n" + targets_text(results), "### Fits\n\n" + fits_table(results)]
    parts += [f"![scaling]({figure})", "### Where the time goes\n\n" + _profile_intro(), profile_table(results)]
    parts += [where_time_goes(results), projection_table(results), "### What would fix it\n\n" + remedies(results)]
    return "\n\n".join(parts)


# ----------------------------------------------------------------------------- entry


def write_outputs(results: dict[str, Any], mode: Mode) -> None:
    """Draw the figure and write the page's scaling section."""
    plot_scaling(results, mode.out.figures / "scaling.png")
    harness.write_section(mode.out.page, SECTION, render(results, mode.out.link("scaling.png")))


def make_mode(quick: bool, budget_min: float | None) -> Mode:
    """The full or quick mode, with an optional budget in minutes."""
    sizes, fits, budget = (QUICK_SIZES, QUICK_FITS, QUICK_BUDGET_MIN) if quick else (tuple(SIZES), FITS, BUDGET_MIN)
    out = harness.outputs(quick, "scaling.json")
    return Mode(
        name="quick" if quick else "full", sizes=sizes, fits=fits, budget_s=(budget_min or budget) * 60, out=out
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the scaling study (or update or rewrite it); return an exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES}, fewer draws, under {QUICK_DIR}")
    parser.add_argument("--budget-min", type=float, help=f"time budget in minutes (default {BUDGET_MIN:g})")
    parser.add_argument("--report", action="store_true", help="rewrite the figure and section from saved results")
    parser.add_argument("--profiles", action="store_true", help="rerun the profiles into the saved results")
    parser.add_argument(
        "--extra", default="", help="METHOD:CELLS[,...]: run these fits (no budget) into the saved results"
    )
    args = parser.parse_args(argv)
    mode = make_mode(args.quick, args.budget_min)
    if args.report:
        write_outputs(harness.read_json(mode.out.results), mode)
        return 0
    if args.profiles or args.extra:
        command = " ".join(["python benchmarks/scaling.py", *sys.argv[1:]]) if argv is None else "scaling.main"
        write_outputs(update_results(mode, command, args.profiles, args.extra), mode)
        return 0
    command = "python benchmarks/scaling.py" + (" --quick" if args.quick else "")
    command += f" --budget-min {args.budget_min:g}" if args.budget_min else ""
    say(f"scaling ({mode.name}): sizes {', '.join(f'{c:,}' for c in mode.sizes)}; budget {mode.budget_s / 60:.0f} min")
    results = run_mode(mode, command)
    write_outputs(results, mode)
    say(f"done in {results['total_seconds'] / 60:.1f} min; wrote {mode.out.results} and {mode.out.page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
