"""Runs killed mid-way (SIGKILL) leave the previous output intact and nothing half-written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

import populace as pp

pytestmark = pytest.mark.pipeline

CLI = [sys.executable, "-m", "populace.cli"]


def _kill_after(args: list[str], seconds: float, cwd) -> None:
    proc = subprocess.Popen([*CLI, *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(seconds)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def _visible(folder) -> set[str]:
    return {p.name for p in folder.iterdir() if not p.name.startswith(".")}


@pytest.mark.parametrize("delay", [0.5, 3.0])
def test_killed_personas_run_keeps_the_previous_output(small_posterior, tmp_path, delay) -> None:
    out = tmp_path / "people.parquet"
    done = subprocess.run([*CLI, "personas", str(small_posterior), "-n", "1000", "--out", str(out), "--quiet"])
    assert done.returncode == 0
    before = out.read_bytes()
    _kill_after(["personas", str(small_posterior), "-n", "30000000", "--out", str(out), "--quiet"], delay, tmp_path)
    assert out.read_bytes() == before
    assert _visible(tmp_path) == {"people.parquet"}
    # the next run cleans up whatever the killed one left and succeeds
    done = subprocess.run([*CLI, "personas", str(small_posterior), "-n", "10", "--out", str(out), "--quiet"])
    assert done.returncode == 0 and out.read_bytes() != before
    assert {p.name for p in tmp_path.iterdir()} == {"people.parquet"}


def test_killed_fit_keeps_the_previous_posterior(small_posterior, example_dir) -> None:
    out = example_dir / "post.nc"
    out.write_bytes(small_posterior.read_bytes())
    before = out.read_bytes()
    _kill_after(["fit", "spec.yaml", "--out", "post.nc", "--draws", "2000", "--quiet"], 6.0, example_dir)
    assert out.read_bytes() == before
    assert pp.load(out).n_samples == 300
