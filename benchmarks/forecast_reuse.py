"""A repeat ``populace forecast`` reuses the saved outcome fit: time of the first and the second call.

The embedded CPS 1988 example is fitted once (``populace fit``, NUTS 2x500); the outcome is
a **synthetic** poll of 2,000 persons over its education and region (a yes/no answer whose
rate rises with education, as in the tests), because the timing, not the answer, is
measured. ``populace forecast`` runs twice with its defaults (outcome model NUTS 4x1000),
each in its own process, as a user would; the first fits and saves the outcome model
beside the posterior, the second finds the saved fit and skips the fit. ``populace
check`` then reads the saved fit.

Usage::

    python benchmarks/forecast_reuse.py
    python benchmarks/forecast_reuse.py --report benchmarks/results/forecast_reuse.json
"""

from __future__ import annotations

import pathlib
import subprocess
import sys
import tempfile
import time
from typing import Any

import harness
import numpy as np
from harness import say

SECTION = "forecast-reuse"
SEED = 0
POLL_ROWS = 2000


def _cli(*args: str) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "populace.cli", *args], capture_output=True, text=True, timeout=3600)
    return time.perf_counter() - start, done


def _write_poll(folder: pathlib.Path) -> pathlib.Path:
    rng = np.random.default_rng(SEED)
    education = rng.choice(["lt12", "12", "13-15", "16plus"], POLL_ROWS)
    region = rng.choice(["northeast", "midwest", "south", "west"], POLL_ROWS)
    rate = np.select([education == "16plus", education == "13-15"], [0.7, 0.5], 0.3)
    answer = np.where(rng.random(POLL_ROWS) < rate, "yes", "no")
    rows = "".join(f"{e},{r},{a}\n" for e, r, a in zip(education, region, answer))
    (folder / "poll.csv").write_text("education,region,answer\n" + rows)
    path = folder / "outcome.yaml"
    path.write_text("outcome: answer\nlevels: [yes, no]\ndata: {file: poll.csv}\nby: [region]\n")
    return path


def run() -> dict[str, Any]:
    from populace.data.examples import example_spec_path

    results = harness.new_results(calls=[])
    with tempfile.TemporaryDirectory(prefix="populace-forecast-reuse-") as tmp:
        folder = pathlib.Path(tmp)
        posterior = folder / "posterior.nc"
        say("fit the example (NUTS 2x500)")
        seconds, done = _cli(
            "fit", str(example_spec_path()), "--out", str(posterior), "--draws", "500", "--chains", "2", "--quiet"
        )
        if done.returncode != 0:
            raise SystemExit(done.stderr)
        results["joint_fit_seconds"] = seconds
        outcome = _write_poll(folder)
        for call in ("first", "second"):
            say(f"forecast, {call} call")
            seconds, done = _cli("forecast", str(posterior), str(outcome), "--out", str(folder / f"{call}.csv"))
            results["calls"].append(
                {
                    "call": call,
                    "seconds": seconds,
                    "returncode": done.returncode,
                    "reused": "reusing the outcome fit" in done.stderr,
                    "saved": "outcome fit saved" in done.stderr,
                }
            )
        same = (folder / "first.csv").read_text() == (folder / "second.csv").read_text()
        results["same_table"] = same
        fit_file = folder / "posterior.outcome.outcome.nc"
        _, checked = _cli("check", str(fit_file))
        results["check_returncode"] = checked.returncode
        results["check_lines"] = checked.stdout.splitlines()[:3]
    results["finished"] = harness.now()
    return results


def render(results: dict[str, Any]) -> str:
    calls = {c["call"]: c for c in results["calls"]}
    first, second = calls["first"], calls["second"]
    return "\n".join(
        [
            "## A repeat forecast reuses the saved outcome fit (issue 17)",
            "",
            f"Written by `python benchmarks/forecast_reuse.py` on {results['finished']} (load average "
            f"{results['load']['start']:.1f} at the start). The embedded CPS 1988 example fitted once (NUTS 2x500, "
            f"{results['joint_fit_seconds']:.0f} s); the outcome a **synthetic** yes/no poll of {POLL_ROWS:,} persons "
            "over education and region (the timing is measured, not the answer); `populace forecast` with its "
            "defaults (outcome model NUTS 4x1000), twice, each call a new process as a user runs it.",
            "",
            harness.table(
                ["call", "seconds, whole process", "outcome model"],
                [
                    [
                        "first",
                        f"{first['seconds']:.1f}",
                        "fitted and saved" if first["saved"] else f"not saved (exit {first['returncode']})",
                    ],
                    [
                        "second",
                        f"{second['seconds']:.1f}",
                        "reused" if second["reused"] else f"fitted again (exit {second['returncode']})",
                    ],
                ],
            ),
            "",
            f"The two tables are {'identical' if results['same_table'] else 'different'}. `populace check` on the "
            f"saved fit exited {results['check_returncode']}: " + "; ".join(results["check_lines"]) + ".",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    return harness.run_or_report(argv, __doc__.splitlines()[0], "forecast_reuse.json", SECTION, run, render)


if __name__ == "__main__":
    sys.exit(main())
