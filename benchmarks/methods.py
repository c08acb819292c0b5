"""The methods compared: populace (one child process per fit) and the point baselines.

Every method gives a *row*: a JSON-ready dict with ``method`` (display name), ``family``
(``populace`` or ``baseline``), the scores of :func:`populace.metrics.point_scores` and,
where there are intervals (populace's posterior, the bootstrap of the baselines that use
the sample), of :func:`populace.metrics.interval_scores`; ``fit_seconds``,
``process_seconds``, ``peak_mib`` (the child's ``ru_maxrss``), diagnostics and ``note``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import pathlib
import subprocess
import sys
import tempfile
import time
from typing import Any

import harness
import numpy as np
from tasks import Task, build_task

from populace import baselines
from populace.data.inputs import Inputs, load_inputs
from populace.metrics import interval_scores, point_scores

# A child fit that takes longer than this is stopped and reported as failed.
FIT_TIMEOUT_S = 1200
# Seed pseudo-count of the ipfn and humanleague rows (the middle of PSEUDO_COUNTS).
PACKAGE_PSEUDO_COUNT = 0.5
# ipfn's stopping rule: relative change of the margins; tight enough to match our IPF.
IPFN_CONVERGENCE = 1e-10
IPFN_MAX_ITERATION = 1000
# Seed of the bootstrap resamples of the baselines (the same resamples for each of them).
BOOTSTRAP_SEED = 0


@dataclasses.dataclass(frozen=True, kw_only=True)
class FitRequest:
    """One populace fit: the task (rebuilt in the child), the inference options, where to save."""

    population: str
    marginal_set: str
    fraction: float
    sample_seed: int
    method: str
    draws: int
    chains: int
    seed: int
    save: str | None = None

    @property
    def label(self) -> str:
        """Display name such as ``populace nuts (4x1000)``."""
        shape = f"{self.chains}x{self.draws}" if self.method == "nuts" else f"{self.chains * self.draws} draws"
        return f"populace {self.method} ({shape})"


def run_populace(request: FitRequest) -> dict[str, Any]:
    """Fit populace in a child process; on failure the row has no scores and ``note`` says why."""
    row = harness.run_child("methods:fit_child", dataclasses.asdict(request), FIT_TIMEOUT_S)
    if "failed" in row:
        note = f"failed: {row['failed']}: {row['log_tail']}"
        return {"method": request.label, "family": "populace", "process_seconds": row["process_seconds"], "note": note}
    return row


def fit_child(fields: dict[str, Any]) -> dict[str, Any]:
    """In the child: build the task, fit populace and score it."""
    from populace.inference.diagnostics import convergence
    from populace.inference.fit import fit

    request = FitRequest(**fields)
    task = build_task(request.population, request.marginal_set, request.fraction, seed=request.sample_seed)
    post = fit(
        task.spec, method=request.method, draws=request.draws, chains=request.chains, seed=request.seed, progress=False
    )
    if request.save:
        post.to_netcdf(request.save)
    draws = post.posterior["p"].values.reshape(post.n_samples, -1)
    row: dict[str, Any] = {"method": request.label, "family": "populace"}
    row |= point_scores(draws.mean(axis=0), task.truth, post.population, task.given_axes)
    row |= interval_scores(draws, task.truth, post.population)
    row["fit_seconds"] = post.fit_info["fit_seconds"]
    checks = {c["name"]: c["value"] for c in convergence(post)}
    if "r_hat" not in checks:  # approximations have no convergence figures
        return row | {"r_hat": None, "ess_bulk": None, "divergences": None, "steps_per_draw": None}
    return row | {
        "r_hat": float(checks["r_hat"]),
        "ess_bulk": float(checks["ess_bulk"]),
        "divergences": int(checks["divergences"]),
        "steps_per_draw": float(np.asarray(post.sample_stats["n_steps"]).mean()),
    }


# ----------------------------------------------------------------------------- baselines


def baseline_rows(
    task: Task, *, seed: int = BOOTSTRAP_SEED, replicates: int = baselines.BOOTSTRAP_REPLICATES
) -> list[dict[str, Any]]:
    """Every point baseline on the task's inputs, scored."""
    inputs = load_inputs(task.spec)
    boot = functools.partial(_bootstrapped, task, inputs, seed=seed, replicates=replicates)
    rows = []
    ipf_rows = [
        boot(f"IPF, sample + {pc:g}", functools.partial(baselines.ipf, pseudo_count=pc))
        for pc in baselines.PSEUDO_COUNTS
    ]
    rows += ipf_rows
    best = min(ipf_rows, key=lambda r: r["tvd"])
    note = f"{best['method']} (picked with the truth); {best['note']}"
    rows.append(best | {"method": "IPF, best pseudo-count", "note": note})
    rows.append(_ipfn_row(task, inputs))
    rows.append(_qisi_row(task, inputs))
    independence = _timed(task, "independence (IPF, flat seed)", baselines.independence, inputs)
    rows.append(independence | {"note": "no interval: it ignores the sample, so a bootstrap cannot move it"})
    rows.append(boot("weighted sample alone", baselines.weighted_sample))
    return rows


def _bootstrapped(
    task: Task, inputs: Inputs, name: str, estimator: Any, *, seed: int, replicates: int
) -> dict[str, Any]:
    """A baseline's row with the scores of its bootstrap intervals."""
    row = _timed(task, name, estimator, inputs)
    start = time.perf_counter()
    draws = baselines.bootstrap(estimator, inputs, seed=seed, replicates=replicates)
    row |= interval_scores(draws, task.truth, inputs.population)
    row["bootstrap_seconds"] = time.perf_counter() - start
    row["note"] = f"intervals: bootstrap, B={replicates}, seed {seed} ({row['bootstrap_seconds']:.1f} s)"
    return row


def _timed(task: Task, name: str, estimator: Any, *args: Any) -> dict[str, Any]:
    start = time.perf_counter()
    estimate = estimator(*args)
    seconds = time.perf_counter() - start
    row = {"method": name, "family": "baseline", "fit_seconds": seconds}
    return row | point_scores(estimate, task.truth, _population(task), task.given_axes)


def _population(task: Task) -> float:
    return float(task.population.size)


def _package_seed(inputs: Inputs) -> np.ndarray:
    return baselines.sample_seed(inputs) + PACKAGE_PSEUDO_COUNT


def ipfn_estimate(inputs: Inputs) -> np.ndarray:
    """Joint shares by the ``ipfn`` package's IPF, seeded with the sample plus 0.5 per cell."""
    from ipfn import ipfn

    seed = _package_seed(inputs)
    targets = [t.counts for t in inputs.tables]
    dimensions = [list(t.axes) for t in inputs.tables]
    with contextlib.redirect_stdout(io.StringIO()):  # ipfn prints its convergence status
        fitted = ipfn.ipfn(
            seed, targets, dimensions, convergence_rate=IPFN_CONVERGENCE, max_iteration=IPFN_MAX_ITERATION
        ).iteration()
    return fitted / fitted.sum()


def _ipfn_row(task: Task, inputs: Inputs) -> dict[str, Any]:
    row = _timed(task, f"ipfn package, sample + {PACKAGE_PSEUDO_COUNT:g}", ipfn_estimate, inputs)
    ours = baselines.ipf(inputs, PACKAGE_PSEUDO_COUNT)
    gap = float(np.abs(ipfn_estimate(inputs) - ours).max() * _population(task))
    row["note"] = f"largest cell gap to populace's IPF + {PACKAGE_PSEUDO_COUNT:g}: {gap:.1e} persons"
    return row


def qisi_estimate(inputs: Inputs) -> tuple[np.ndarray | None, str]:
    """Joint shares of an integer population by humanleague's QISI (seed: sample + 0.5 per cell;
    ``se`` tables taken as exact), or ``None`` where QISI does not apply; and a note."""
    import humanleague

    counts = [t.counts for t in inputs.tables]
    if not counts or any(not np.allclose(c, np.round(c)) for c in counts):
        return None, "skipped: QISI needs integer tables"
    indices = [np.asarray(t.axes, dtype=np.int64) for t in inputs.tables]
    marginals = [np.round(c).astype(np.int64) for c in counts]
    try:
        population, stats = humanleague.qisi(_package_seed(inputs), indices, marginals)
    except (RuntimeError, ValueError) as exc:
        return None, f"skipped: humanleague refused the inputs ({exc})"
    if not stats.get("conv", False):
        return None, "skipped: QISI did not converge"
    population = np.asarray(population, dtype=float)
    return population / population.sum(), f"integer population of {int(population.sum()):,} persons"


def _qisi_row(task: Task, inputs: Inputs) -> dict[str, Any]:
    name = f"humanleague QISI, sample + {PACKAGE_PSEUDO_COUNT:g}"
    start = time.perf_counter()
    estimate, note = qisi_estimate(inputs)
    seconds = time.perf_counter() - start
    if estimate is None:
        return {"method": name, "family": "baseline", "note": note}
    row = {"method": name, "family": "baseline", "fit_seconds": seconds, "note": note}
    return row | point_scores(estimate, task.truth, _population(task), task.given_axes)


# ----------------------------------------------------------------------------- personas


def time_personas(posterior: pathlib.Path, n: int, repeats: int) -> dict[str, Any]:
    """Wall time of ``populace personas POSTERIOR -n N --out FILE``: the median of ``repeats`` runs."""
    executable = pathlib.Path(sys.executable).with_name("populace")
    runs = []
    with tempfile.TemporaryDirectory(prefix="populace-personas-") as tmp:
        out = pathlib.Path(tmp) / "x.parquet"
        command = [str(executable), "personas", str(posterior), "-n", str(n), "--out", str(out)]
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            runs.append(time.perf_counter() - start)
    return {
        "seconds": float(np.median(runs)),
        "runs": runs,
        "command": f"populace personas post.nc -n {n} --out x.parquet",
    }
