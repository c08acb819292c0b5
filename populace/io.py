"""Atomic output: write to a temporary file beside the target, then rename.

A run killed mid-way leaves the previous output intact and no half-written file.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import tempfile
from collections.abc import Iterator

from populace.errors import DataError

PART_SUFFIX = ".part"


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[pathlib.Path]:
    """Yield a temporary path in the target's folder; rename it onto the target on success.

    Raises
    ------
    DataError
        When the folder does not exist or cannot be written.

    Examples
    --------
    >>> with atomic_path("out.txt") as tmp:
    ...     _ = tmp.write_text("done")
    >>> pathlib.Path("out.txt").read_text()
    'done'
    """
    target = pathlib.Path(target)
    folder = target.resolve().parent
    if not folder.is_dir():
        raise DataError("the output folder does not exist", file=str(target))
    _remove_stale_parts(folder, target.name)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=PART_SUFFIX, dir=folder)
    except OSError as exc:
        raise DataError(f"cannot write here: {exc.strerror}", file=str(target)) from None
    os.close(fd)
    tmp_path = pathlib.Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes the file private (0600); give it the usual permissions instead
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, target)
    except OSError as exc:
        tmp_path.unlink(missing_ok=True)
        raise DataError(f"cannot write the output: {exc.strerror or exc}", file=str(target)) from None
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove_stale_parts(folder: pathlib.Path, name: str) -> None:
    """Delete temporary files of ``name`` left by processes that no longer run (killed)."""
    for part in folder.glob(f".{glob_escape(name)}.*{PART_SUFFIX}"):
        pid_text = part.name[len(name) + 2 :].split(".", 1)[0]
        if pid_text.isdigit() and not _alive(int(pid_text)):
            part.unlink(missing_ok=True)


def glob_escape(text: str) -> str:
    """Escape glob metacharacters in a file name."""
    import glob

    return glob.escape(text)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
