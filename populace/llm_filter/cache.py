"""A persistent cache of plausibility scores (SQLite), keyed by model, template and combination.

Scoring with a language model is slow; the cache makes a second fit free. It is built to
survive faults: every batch is one transaction (a process killed mid-way loses at most
the batch in flight), WAL journaling and a busy timeout let several processes fill it at
once, and a file that is not a sound SQLite database is set aside (renamed) and rebuilt,
never trusted.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import pathlib
import sqlite3
import sys
import time
from collections.abc import Iterable, Iterator, Mapping

from populace.errors import DataError

SCHEMA_VERSION = "1"
# Seconds a writer waits for another process's transaction before giving up.
BUSY_TIMEOUT_S = 60.0


def combination_key(combination: Mapping[str, str]) -> str:
    """Canonical text of a combination: JSON with sorted attribute names."""
    return json.dumps(dict(sorted(combination.items())), ensure_ascii=False, separators=(",", ":"))


@contextlib.contextmanager
def open_cache(path: str | pathlib.Path) -> Iterator[ScoreCache]:
    """Open (creating or rebuilding as needed) the cache at ``path``.

    Examples
    --------
    >>> with open_cache(".populace-cache.sqlite") as cache:
    ...     cache.put("smollm2", "v1", {combination_key({"age": "18-29"}): -1.2})
    >>> with open_cache(".populace-cache.sqlite") as cache:  # a later run finds the score
    ...     cache.get("smollm2", "v1", [combination_key({"age": "18-29"}), combination_key({"age": "70+"})])
    {'{"age":"18-29"}': -1.2}
    """
    path = pathlib.Path(path)
    connection = _connect(path)
    try:
        yield ScoreCache(connection=connection, path=path)
    finally:
        connection.close()


class ScoreCache:
    """Reads and writes scores through an open connection (see :func:`open_cache`)."""

    def __init__(self, *, connection: sqlite3.Connection, path: pathlib.Path) -> None:
        self._db = connection
        self.path = path

    def get(self, model: str, template: str, keys: Iterable[str]) -> dict[str, float]:
        """Cached scores of the given combination keys (missing keys are left out)."""
        keys = list(keys)
        out: dict[str, float] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT combination, score FROM scores WHERE model=? AND template=? AND combination IN ({marks})",
                (model, template, *chunk),
            )
            out.update({k: float(v) for k, v in rows})
        return out

    def put(self, model: str, template: str, scores: Mapping[str, float]) -> None:
        """Store a batch of scores in one transaction.

        Raises
        ------
        DataError
            When a score is positive or not finite (a scorer's bug, not a cache entry).
        """
        for key, value in scores.items():
            if not math.isfinite(value) or value > 0:
                raise DataError(
                    f"scorer returned {value} for {key}; scores must be finite and <= 0", file=str(self.path)
                )
        rows = [(model, template, k, float(v)) for k, v in scores.items()]
        with _transaction(self._db):
            self._db.executemany(
                "INSERT OR REPLACE INTO scores(model, template, combination, score) VALUES (?, ?, ?, ?)", rows
            )

    def count(self, model: str | None = None) -> int:
        """Number of cached scores (of one model, or all)."""
        if model is None:
            return int(self._db.execute("SELECT COUNT(*) FROM scores").fetchone()[0])
        return int(self._db.execute("SELECT COUNT(*) FROM scores WHERE model=?", (model,)).fetchone()[0])


def _connect(path: pathlib.Path) -> sqlite3.Connection:
    if path.exists():
        connection = _open_existing(path)
        if connection is not None:
            return connection
        aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        path.replace(aside)
        for suffix in ("-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        print(
            f"populace: warning: {path} was not a sound score cache; moved it to {aside.name} and started a new one",
            file=sys.stderr,
        )
    try:
        _create(path)
        connection = _open(path)
        _initialise(connection)
    except sqlite3.Error as exc:
        raise DataError(f"cannot open the score cache: {exc}", file=str(path)) from None
    except OSError as exc:
        raise DataError(f"cannot create the score cache: {exc.strerror or exc}", file=str(path)) from None
    return connection


def _create(path: pathlib.Path) -> None:
    """Put a complete, initialised cache at ``path`` unless a file is there already.

    The database is built under a temporary name and linked into place, so another
    process never sees a half-written file (which it would take for a corrupt one and
    set aside while this process was still writing to it).
    """
    if path.exists():
        return
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        connection = _open(part)
        try:
            _initialise(connection)
        finally:
            connection.close()
        try:
            os.link(part, path)  # fails when another process got there first: use theirs
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links: a plain rename, if still free
            if not path.exists():
                os.replace(part, path)
    finally:
        for suffix in ("", "-wal", "-shm"):
            part.with_name(part.name + suffix).unlink(missing_ok=True)


def _open_existing(path: pathlib.Path) -> sqlite3.Connection | None:
    """Open a cache file; None when it is not a sound cache of this schema.

    A sound database without tables is one another process is creating right now: it is
    initialised here, not set aside. A lock held by another process is waited for (the
    busy timeout), never mistaken for corruption.
    """
    try:
        connection = _open(path)
        if connection.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            connection.close()
            return None
        _initialise(connection)
        version = connection.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise DataError(f"the score cache stayed locked for {BUSY_TIMEOUT_S:.0f} s", file=str(path)) from None
        return None
    except sqlite3.DatabaseError:
        return None
    if version is None or version[0] != SCHEMA_VERSION:
        connection.close()
        return None
    return connection


def _initialise(connection: sqlite3.Connection) -> None:
    with _transaction(connection):
        connection.execute(
            "CREATE TABLE IF NOT EXISTS scores(model TEXT NOT NULL, template TEXT NOT NULL, "
            "combination TEXT NOT NULL, score REAL NOT NULL, PRIMARY KEY(model, template, combination))"
        )
        connection.execute("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        connection.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,))


@contextlib.contextmanager
def _transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """One write transaction, taking the write lock up front so writers queue, not fail."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _open(path: pathlib.Path) -> sqlite3.Connection:
    # autocommit mode: transactions are explicit (see _transaction)
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection
