"""Progress on stderr: bars on a terminal only, plain lines in logs and pipes."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from populace.data.examples import example_spec_path
from populace.progress import bars


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bars_only_on_a_terminal_and_only_when_asked() -> None:
    assert bars(True, _Terminal()) is True
    assert bars(False, _Terminal()) is False
    assert bars(True, io.StringIO()) is False


@pytest.mark.pipeline
def test_a_logged_fit_writes_plain_lines(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "populace.cli", "fit", str(example_spec_path()), "--out", str(tmp_path / "p.nc")]
        + ["--draws", "30", "--chains", "1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr and "\x1b[" not in result.stderr
    lines = result.stderr.splitlines()
    assert any(line.startswith("populace: fitted in") and "compiling" in line for line in lines)
    assert all(line.startswith("populace") for line in lines), lines
