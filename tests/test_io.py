"""Atomic output: nothing half-written, the previous file intact, normal permissions."""

from __future__ import annotations

import os
import stat

import pytest

from populace.errors import DataError
from populace.io import atomic_path


def test_success_replaces_the_target_with_normal_permissions(tmp_path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old")
    with atomic_path(target) as tmp:
        tmp.write_text("new")
        assert target.read_text() == "old"  # nothing visible until the rename
    assert target.read_text() == "new"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_failure_keeps_the_previous_output_and_leaves_no_temp_file(tmp_path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed mid-way")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_missing_folder_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        with atomic_path(tmp_path / "nope" / "out.csv"):
            pass
