"""Every converted model goes to a temporary folder (the tiny model lives in tests/conftest.py)."""

from __future__ import annotations

import pathlib

import pytest


@pytest.fixture(autouse=True)
def private_home(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Converted models go to a temporary folder, never the user's cache."""
    monkeypatch.setenv("POPULACE_HOME", str(tmp_path / "populace-home"))
