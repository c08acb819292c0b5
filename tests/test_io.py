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


def test_stale_parts_of_killed_runs_are_removed_but_live_ones_kept(tmp_path) -> None:
    target = tmp_path / "out.csv"
    dead = tmp_path / ".out.csv.999999999.abc.part"  # no such process
    live = tmp_path / f".out.csv.{os.getpid()}.xyz.part"
    dead.write_text("half")
    live.write_text("in flight")
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert not dead.exists() and live.exists()


def test_full_disk_and_unwritable_folder_are_clear_errors(tmp_path, monkeypatch) -> None:
    import errno
    import tempfile

    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(DataError, match="No space left on device"):
        with atomic_path(target) as tmp:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))
    assert target.read_text() == "old"

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(DataError, match="cannot write here: Permission denied"):
        with atomic_path(target):
            pass
