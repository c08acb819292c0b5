"""The methods compared: populace (fitted in a child process) and point baselines.

Every method returns a *row*: a JSON-ready dict with ``method`` (display name),
``family`` (``populace`` or ``baseline``), the point scores of
:func:`metrics.point_scores`, and where they apply the interval scores of
:func:`metrics.interval_scores` (``coverage_90``, ``coverage_50``, ``width_90`` in
persons: populace's posterior intervals, or bootstrap intervals of the baselines that use
the sample), ``fit_seconds``, ``bootstrap_seconds``, ``process_seconds``, ``peak_mib``,
``diagnostics`` and ``note``.

populace is fitted in a fresh Python process per fit, so that JAX is configured for
that fit's chains, one fit cannot slow the next through leftover state, and peak memory
is that of the fit alone: the child reads ``resource.getrusage(RUSAGE_SELF).ru_maxrss``
(peak resident set size of the whole process: interpreter, JAX, data, fit, scoring)
just before it exits.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import hashlib
import io
import json
import pathlib
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np
from tasks import Task, build_task

from populace import baselines
from populace.data.inputs import Inputs, load_inputs
from populace.metrics import interval_scores, point_scores

RUN_SCRIPT = pathlib.Path(__file__).resolve().parent / "run.py"
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
    """One populace fit, as sent to the child process.

    Attributes
    ----------
    population, marginal_set, fraction, sample_seed
        The task (rebuilt in the child; the build is deterministic).
    method, draws, chains, seed
        populace's inference options.
    save
        Where to write the posterior (``None``: not saved).
    """

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


# ----------------------------------------------------------------------------- populace


def run_populace(request: FitRequest) -> dict[str, Any]:
    """Fit populace in a child process and return its row.

    Parameters
    ----------
    request
        The task and the inference options.

    Returns
    -------
    dict
        The row; on failure (non-zero exit, timeout) the scores are missing and
        ``note`` says what went wrong, with the tail of the child's stderr.
    """
    with tempfile.TemporaryDirectory(prefix="populace-bench-") as tmp:
        result_path = pathlib.Path(tmp) / "result.json"
        log_path = pathlib.Path(tmp) / "stderr.log"
        command = [sys.executable, str(RUN_SCRIPT), "--worker", json.dumps(dataclasses.asdict(request))]
        command += ["--result", str(result_path)]
        start = time.perf_counter()
        with log_path.open("w") as log:
            try:
                code = subprocess.run(command, stdout=log, stderr=log, timeout=FIT_TIMEOUT_S, check=False).returncode
            except subprocess.TimeoutExpired:
                code = None
        elapsed = time.perf_counter() - start
        if code != 0 or not result_path.is_file():
            tail = " ".join(log_path.read_text(errors="replace").split()[-40:])
            why = f"timed out after {FIT_TIMEOUT_S} s" if code is None else f"exit code {code}"
            return {
                "method": request.label,
                "family": "populace",
                "process_seconds": elapsed,
                "note": f"failed: {why}: {tail}",
            }
        row = json.loads(result_path.read_text())
    row["process_seconds"] = elapsed
    return row


def fit_and_score(request: FitRequest) -> dict[str, Any]:
    """Build the task, fit populace and score it (runs inside the child process).

    Returns
    -------
    dict
        The row, with NUTS diagnostics, the digest of the populace source it ran
        (read before fitting), when it finished, and ``peak_mib`` read last.
    """
    from populace.inference.diagnostics import convergence
    from populace.inference.fit import fit

    source = populace_source_digest()
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
    row |= _diagnostics(post, convergence(post))
    row["populace_source"] = source
    row["finished_at"] = f"{datetime.datetime.now():%H:%M:%S}"
    row["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return row


def _diagnostics(post: Any, checks: list[dict[str, Any]]) -> dict[str, float | None]:
    """NUTS convergence figures (``None`` for approximations, which have none)."""
    values = {c["name"]: c["value"] for c in checks}
    if "r_hat" not in values:
        return {"r_hat": None, "ess_bulk": None, "divergences": None, "steps_per_draw": None}
    return {
        "r_hat": float(values["r_hat"]),
        "ess_bulk": float(values["ess_bulk"]),
        "divergences": int(values["divergences"]),
        "steps_per_draw": float(np.asarray(post.sample_stats["n_steps"]).mean()),
    }


def populace_source_digest() -> str:
    """SHA-256 (first 12 hex digits) of populace's Python source, to tell code versions apart."""
    import populace

    package = pathlib.Path(populace.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def populace_source_changes(since: float, until: float) -> list[dict[str, str]]:
    """populace source files modified between two times (epoch seconds), oldest first."""
    import populace

    package = pathlib.Path(populace.__file__).resolve().parent
    changed = [(p.stat().st_mtime, p) for p in package.rglob("*.py") if since <= p.stat().st_mtime <= until]
    return [
        {"file": str(p.relative_to(package.parent)), "at": f"{datetime.datetime.fromtimestamp(t):%H:%M:%S}"}
        for t, p in sorted(changed)
    ]


# ----------------------------------------------------------------------------- baselines


def baseline_rows(
    task: Task, *, seed: int = BOOTSTRAP_SEED, replicates: int = baselines.BOOTSTRAP_REPLICATES
) -> list[dict[str, Any]]:
    """Every point baseline on the task's inputs, scored.

    IPF is run with each of :data:`populace.baselines.PSEUDO_COUNTS`, and the best of
    them (chosen with the truth, which a user would not have) is repeated as its own row.
    IPF and the weighted sample get bootstrap intervals (:func:`populace.baselines.bootstrap`),
    scored as populace's are; independence ignores the sample, so it has none.

    Parameters
    ----------
    task
        The task.
    seed
        Seed of the bootstrap resamples.
    replicates
        Bootstrap resamples per method.
    """
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
    """IPF by the ``ipfn`` package, seeded with the sample plus 0.5 per cell.

    Returns
    -------
    numpy.ndarray
        Joint shares over the grid.
    """
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
    """Integer population by humanleague's QISI (quasirandom integer sampling from IPF).

    Seeded with the sample plus 0.5 per cell, constrained by every published table.
    QISI needs integer, mutually consistent tables: tables with ``se`` are taken as
    exact (their counts are integers here).

    Returns
    -------
    (numpy.ndarray or None, str)
        Joint shares of the synthesised population, or ``None`` where QISI does not
        apply; and a note.
    """
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
    """Time ``populace personas POSTERIOR -n N --out FILE`` as a whole process.

    Parameters
    ----------
    posterior
        A saved posterior.
    n
        Personas to draw.
    repeats
        Runs; the median is the figure reported.

    Returns
    -------
    dict
        ``seconds`` (median wall time), ``runs`` (every run), ``command``, ``draws``.
    """
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
