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


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[pathlib.Path]:
    """Yield a temporary path in the target's folder; rename it onto the target on success.

    Raises
    ------
    DataError
        When the folder does not exist or cannot be written.
    """
    target = pathlib.Path(target)
    folder = target.resolve().parent
    if not folder.is_dir():
        raise DataError("the output folder does not exist", file=str(target))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
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
