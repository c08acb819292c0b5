"""What every benchmark script shares: the child-process runner, specs from counts and a sample,
the synthetic log-linear law, machine facts, and the page's marker sections.

A child runs ``module:function`` (a module of ``benchmarks/``) on a JSON request in a fresh
Python process, so that JAX is set up for that run alone and ``peak_mib`` (the child's
``ru_maxrss``, read last) is its own: ``python benchmarks/harness.py --child MODULE:FUNCTION``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import importlib
import json
import math
import os
import pathlib
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:  # run as a script or imported from elsewhere
    sys.path.insert(0, str(HERE))
PAGE = ROOT / "BENCHMARKS.md"
RESULTS = HERE / "results"
FIGURES = HERE / "figures"
QUICK_DIR = HERE / "output" / "quick"
# Mode of every file written (the page, results, figures are meant to be read by anyone).
FILE_MODE = 0o644
VERSION_PACKAGES = ("populace", "jax", "jaxlib", "numpyro", "blackjax", "numpy", "pandas", "ipfn", "humanleague")
# A section a script keeps in the page: <!-- NAME:start --> ... <!-- NAME:end -->.
SECTION_PATTERN = re.compile(r"<!-- ([\w.-]+):start -->.*?<!-- \1:end -->\n?", re.DOTALL)
OOM_SIGNS = ("RESOURCE_EXHAUSTED", "Out of memory", "MemoryError", "std::bad_alloc")


@dataclasses.dataclass(frozen=True)
class Outputs:
    """Where a script writes: its results JSON, its figures folder and the page."""

    results: pathlib.Path
    figures: pathlib.Path
    page: pathlib.Path

    def link(self, figure: str) -> str:
        """The path of ``figures/figure`` as the page links it."""
        return os.path.relpath(self.figures / figure, self.page.parent)


def outputs(quick: bool, results: str) -> Outputs:
    """``results/NAME``, ``figures/`` and BENCHMARKS.md, or all three under ``output/quick/`` (--quick)."""
    if quick:
        return Outputs(QUICK_DIR / results, QUICK_DIR / "figures", QUICK_DIR / "BENCHMARKS.md")
    return Outputs(RESULTS / results, FIGURES, PAGE)


def new_results(**fields: Any) -> dict[str, Any]:
    """A results dict: when it started, on which machine, at which load, and ``fields``."""
    return {"started": now(), "machine": machine_info(), "load": {"start": load()}} | fields


def say(text: str) -> None:
    print(f"[{datetime.datetime.now():%H:%M:%S}] {text}", flush=True)


def now() -> str:
    return f"{datetime.datetime.now():%Y-%m-%d %H:%M}"


def load() -> float:
    return os.getloadavg()[0]


# ----------------------------------------------------------------------------- child processes


def run_child(target: str, request: dict[str, Any], timeout: float, memory_cap_gib: float | None = None) -> dict:
    """Run ``target`` (``module:function``) on ``request`` in a child process; return its dict.

    Adds ``process_seconds`` (the child's wall time). On a non-zero exit or the time limit
    the dict holds ``failed`` (why), ``log_tail`` and ``out_of_memory`` instead.
    """
    with tempfile.TemporaryDirectory(prefix="populace-bench-") as tmp:
        result, log_path = pathlib.Path(tmp) / "result.json", pathlib.Path(tmp) / "log.txt"
        command = [sys.executable, str(HERE / "harness.py"), "--child", target, "--request", json.dumps(request)]
        command += ["--result", str(result)]
        limit = None if memory_cap_gib is None else (lambda: _cap_memory(memory_cap_gib))
        start = time.perf_counter()
        with log_path.open("w") as log:
            try:
                code = subprocess.run(
                    command, stdout=log, stderr=log, timeout=timeout, check=False, preexec_fn=limit
                ).returncode
            except subprocess.TimeoutExpired:
                code = None
        elapsed = time.perf_counter() - start
        if code == 0 and result.is_file():
            return json.loads(result.read_text()) | {"process_seconds": elapsed}
        why = f"stopped at its {timeout / 60:.1f}-min time limit" if code is None else f"exit code {code}"
        tail = " ".join(log_path.read_text(errors="replace").split()[-60:])
        failed = {"failed": why, "log_tail": tail, "process_seconds": elapsed, "out_of_memory": _oom(tail)}
        return failed | {"populace_source": populace_source_digest()}


def _cap_memory(gib: float) -> None:
    cap = int(gib * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def _oom(text: str) -> bool:
    return any(s in text for s in OOM_SIGNS)


def _child(target: str, request: str, result: str) -> int:
    """In the child: the populace source it runs, the function's dict, then the peak memory."""
    module, function = target.split(":")
    source = populace_source_digest()
    row = getattr(importlib.import_module(module), function)(json.loads(request))
    row |= {"populace_source": source, "finished_at": f"{datetime.datetime.now():%H:%M:%S}"}
    row["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    write_atomic(pathlib.Path(result), json.dumps(row, default=float))
    return 0


def _package() -> pathlib.Path:
    import populace

    return pathlib.Path(populace.__file__).resolve().parent


def populace_source_digest() -> str:
    """SHA-256 (first 12 hex digits) of populace's Python source, to tell code versions apart."""
    package, digest = _package(), hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def populace_source_changes(since: float, until: float) -> list[dict[str, str]]:
    """populace source files modified between two times (epoch seconds), oldest first."""
    package = _package()
    changed = [(p.stat().st_mtime, p) for p in package.rglob("*.py") if since <= p.stat().st_mtime <= until]
    return [
        {"file": str(p.relative_to(package.parent)), "at": f"{datetime.datetime.fromtimestamp(t):%H:%M:%S}"}
        for t, p in sorted(changed)
    ]


# ----------------------------------------------------------------------------- specs and laws


def margin(counts: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    """The table of ``counts`` over ``axes``, in that order."""
    table = counts.sum(axis=tuple(b for b in range(counts.ndim) if b not in axes))
    return table.transpose([sorted(axes).index(a) for a in axes])


def csv_text(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, lineterminator="\n")


def make_spec(
    attributes: Sequence[Any],
    tables: Sequence[tuple[Sequence[int], np.ndarray, bool]],
    sample: np.ndarray | None,
    *,
    name: str,
    weight: float | None = None,
) -> Any:
    """An in-memory spec from published tables and a sample of persons.

    ``tables`` holds (axes, counts over those axes, with ``se = sqrt(count)``?); ``sample``
    the flat grid cell of each sampled person (``None``: no microdata), weighted ``weight``
    each (default: the persons the first table counts / the sample size).
    """
    import populace as pp

    marginals = []
    for axes, counts, with_se in tables:
        names = [attributes[a].name for a in axes]
        index = pd.MultiIndex.from_product([attributes[a].levels for a in axes], names=names)
        frame = pd.DataFrame({"count": np.asarray(counts).ravel()}, index=index).reset_index()
        if with_se:
            frame["se"] = np.sqrt(frame["count"]).round(1)
        marginals.append(pp.TableSource(file=f"{'_'.join(names)}.csv", text=csv_text(frame)))
    microdata = None
    if sample is not None:
        shape = tuple(len(a.levels) for a in attributes)
        codes = np.unravel_index(sample, shape)
        frame = pd.DataFrame({a.name: np.asarray(a.levels)[c] for a, c in zip(attributes, codes)})
        frame["weight"] = np.asarray(tables[0][1]).sum() / len(sample) if weight is None else weight
        microdata = pp.Microdata(source=pp.TableSource(file="sample.csv", text=csv_text(frame)), weight="weight")
    return pp.Spec(attributes=tuple(attributes), marginals=marginals, microdata=microdata, name=name)


def loglinear_joint(shape: tuple[int, ...], ordered: Sequence[bool], rng: np.random.Generator) -> np.ndarray:
    """A random log-linear joint: main effects and pairwise interactions on the prior's scales.

    Effects are drawn from populace's prior (half-normal scales; one standard normal per
    cell of a term, cumulated along ordered attributes and centred along every axis, which
    is the prior :func:`populace.models.loglinear.term_basis` gives with fewer
    coordinates), without three-way terms and independently of any tables. Kept cell by
    cell so that the synthetic truths stay those of earlier benchmark runs.
    """
    from populace.models.loglinear import INTERACTION_SCALE, MAIN_SCALE

    eta = np.zeros(shape)
    sigma_main = abs(rng.normal(0.0, MAIN_SCALE))
    tau_2 = abs(rng.normal(0.0, INTERACTION_SCALE))
    n = len(shape)
    for axes in [(a,) for a in range(n)] + [(a, b) for a in range(n) for b in range(a + 1, n)]:
        basis = _centred_cells(tuple(shape[a] for a in axes), tuple(ordered[a] for a in axes))
        scale = sigma_main if len(axes) == 1 else tau_2 * abs(rng.normal())
        effect = np.tensordot(scale * rng.normal(size=basis.shape[0]), basis, axes=1)
        eta = eta + effect.reshape([shape[a] if a in axes else 1 for a in range(n)])
    p = np.exp(eta - eta.max())
    return p / p.sum()


def _centred_cells(shape: tuple[int, ...], ordered: tuple[bool, ...]) -> np.ndarray:
    """One unit vector per cell, cumulated along ordered axes and centred along every axis."""
    n = int(np.prod(shape))
    basis = np.eye(n).reshape((n, *shape))
    for i, is_ordered in enumerate(ordered):
        if is_ordered:
            basis = np.cumsum(basis, axis=i + 1) / np.sqrt(shape[i])
    for i in range(len(shape)):
        basis = basis - basis.mean(axis=i + 1, keepdims=True)
    return basis


def finite_population(
    p: np.ndarray, size: int, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``size`` persons drawn from the joint ``p`` (counts over its grid), and the flat cells of a
    sample of ``fraction`` of them without replacement."""
    counts = rng.multinomial(size, p.ravel()).reshape(p.shape)
    persons = np.repeat(np.arange(counts.size), counts.ravel())
    return counts, rng.choice(persons, size=round(size * fraction), replace=False)


def gradient_cost(inputs: Any) -> dict[str, Any]:
    """Compile seconds and milliseconds per gradient of the log-linear model's log density on ``inputs``.

    JAX must be set up already (``populace.inference.backend.setup_jax``). The gradient
    is timed at 20 points near NumPyro's initial point, one after another.
    """
    import jax
    from jax.flatten_util import ravel_pytree
    from numpyro.infer.util import initialize_model

    from populace.models.loglinear import build_loglinear

    model = build_loglinear(inputs)
    info = initialize_model(jax.random.PRNGKey(0), model.model)
    flat, unravel = ravel_pytree(info.param_info.z)
    grad = jax.jit(jax.grad(lambda x: info.potential_fn(unravel(x))))
    start = time.perf_counter()
    grad(flat).block_until_ready()
    compile_s = time.perf_counter() - start
    points = [flat + 0.1 * jax.random.normal(jax.random.PRNGKey(i), flat.shape) for i in range(20)]
    start = time.perf_counter()
    for x in points:
        grad(x).block_until_ready()
    return {
        "cells": int(np.prod(model.shape)),
        "parameters": int(flat.size),
        "compile_s": compile_s,
        "gradient_ms": (time.perf_counter() - start) / len(points) * 1000,
    }


# ----------------------------------------------------------------------------- machine


def machine_info() -> dict[str, Any]:
    """Cores, CPU, memory, Python and package versions of this machine."""
    from importlib import metadata

    versions = {}
    for name in VERSION_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "nproc": os.cpu_count(),
        "cpu": _proc_field("/proc/cpuinfo", "model name", lambda v: v) or platform.processor() or "unknown",
        "memory_gib": _proc_field("/proc/meminfo", "MemTotal", lambda v: int(v.split()[0]) / 1024**2),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
    }


def _proc_field(path: str, key: str, parse: Callable[[str], Any]) -> Any:
    try:
        for line in pathlib.Path(path).read_text().splitlines():
            if line.startswith(key):
                return parse(line.split(":", 1)[1].strip())
    except OSError:
        pass
    return None


# ----------------------------------------------------------------------------- the page


def fmt(value: Any, spec: str = ".3f") -> str:
    """``value`` formatted by ``spec``, or a dash when missing or not finite."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return format(value, spec)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: pathlib.Path, **kwargs: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, **kwargs)
    os.chmod(path, FILE_MODE)
    pyplot().close(fig)


def write_atomic(path: pathlib.Path, text: str) -> None:
    """Write ``text`` through a temporary file in the same folder and ``os.replace`` (mode FILE_MODE)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def save_json(path: pathlib.Path, results: dict[str, Any], start: float | None = None) -> None:
    """Write results as JSON; with ``start`` (a perf_counter), stamp ``total_seconds`` and ``finished``."""
    if start is not None:
        results["total_seconds"] = time.perf_counter() - start
        results["finished"] = now()
    write_atomic(path, json.dumps(results, indent=1, default=float) + "\n")


def read_json(path: pathlib.Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def marker_sections(text: str) -> dict[str, str]:
    """``NAME`` -> the block from ``<!-- NAME:start -->`` to ``<!-- NAME:end -->`` (final newline)."""
    return {m.group(1): m.group(0).rstrip("\n") + "\n" for m in SECTION_PATTERN.finditer(text)}


def run_or_report(
    argv: list[str] | None,
    description: str,
    results_name: str,
    section: str,
    run: Any,
    render: Any,
) -> int:
    """A one-section benchmark's ``main``: run it (or with ``--report`` reread its results), write its section.

    ``run()`` returns the results dict, saved as ``results/results_name``; ``render(results)``
    the section's text, written between the ``section`` markers of BENCHMARKS.md.
    """
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--report", type=str, default=None, help="redraw from saved results, no fitting")
    args = parser.parse_args(argv)
    out = outputs(False, results_name)
    if args.report:
        data = read_json(pathlib.Path(args.report))
    else:
        data = run()
        save_json(out.results, data)
    write_section(out.page, section, render(data))
    return 0


def write_section(path: pathlib.Path, name: str, body: str) -> None:
    """Put ``body`` between the ``name`` markers of the page: in place if present, else at the end."""
    text = path.read_text(encoding="utf-8") if path.is_file() else "# Benchmarks\n"
    block = f"<!-- {name}:start -->\n{body.strip()}\n<!-- {name}:end -->\n"
    pattern = re.compile(rf"<!-- {re.escape(name)}:start -->.*?<!-- {re.escape(name)}:end -->\n?", re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    write_atomic(path, text)


def write_page(path: pathlib.Path, text: str) -> None:
    """Write the whole page, keeping at its end the marker sections the old page has and ``text`` lacks."""
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    new = marker_sections(text)
    for name, block in marker_sections(old).items():
        if name not in new:
            text = text.rstrip("\n") + "\n\n" + block
    write_atomic(path, text)


def section_main(
    saved: pathlib.Path | None, run: Callable[[], dict], results: pathlib.Path, name: str, render: Callable
) -> int:
    """The end of a section script: run (or read ``saved`` results), save them, write the section."""
    if saved is None:
        data = run()
        save_json(results, data)
    else:
        data = read_json(saved)
    write_section(PAGE, name, render(data))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="run one benchmark function in this process (a child)")
    parser.add_argument("--child", required=True)
    parser.add_argument("--request", required=True)
    parser.add_argument("--result", required=True)
    args = parser.parse_args()
    sys.exit(_child(args.child, args.request, args.result))
