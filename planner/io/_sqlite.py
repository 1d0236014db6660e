"""SQLite settings for the Optuna storage: write-ahead logging on local disks.

Every Optuna write is its own transaction (a trial's parameters and result attributes are some
40 commits), and SQLite's default rollback journal syncs the disk several times per commit: on
an ordinary disk that is 10-20 ms a commit, about half a second a trial, more than a small
table's trial costs to compute. In write-ahead-log mode with ``synchronous=NORMAL`` a commit
appends to the log without a sync; the database stays consistent when a process is killed at
any point (SQLite's guarantee for WAL), and only the last commits can be lost when the whole
machine loses power. Readers (``planner status``, the report) no longer wait on a writer.

WAL needs shared memory between the processes that open the file, which network file systems
do not provide, so it is switched on only where the file lies on a local file system; elsewhere
SQLite's defaults are kept.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

__all__ = ["enable_sqlite_wal", "close_sqlite_engines", "is_local_path"]

#: File systems known to be local (``/proc/mounts`` types); anything else keeps SQLite's defaults.
LOCAL_FILESYSTEMS = frozenset({"ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "tmpfs", "overlay", "f2fs", "jfs", "reiserfs", "apfs", "hfs", "ufs"})

_registered = False
_engines: Any = None  # weakref.WeakSet of the SQLite engines seen, closed at exit


def _mounts() -> list[tuple[str, str]]:
    try:
        text = Path("/proc/mounts").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            out.append((parts[1].replace("\\040", " "), parts[2]))
    return out


def is_local_path(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` lies on a local file system (the longest mount point above it, from
    ``/proc/mounts``); ``False`` when that cannot be told (no ``/proc``, e.g. macOS)."""
    real = os.path.realpath(path)
    best, fstype = "", None
    for mount, kind in _mounts():
        prefix = mount.rstrip("/") + "/"
        if (real == mount or real.startswith(prefix) or mount == "/") and len(mount) >= len(best):
            best, fstype = mount, kind
    return fstype in LOCAL_FILESYSTEMS


def _database_file(connection: sqlite3.Connection) -> str | None:
    for _, name, file in connection.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return file or None
    return None


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    file = _database_file(dbapi_connection)
    if file is None or not is_local_path(Path(file).parent):
        return
    try:
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.DatabaseError:  # e.g. locked by a writer that predates WAL: defaults, as before
        pass


def _on_engine_connect(connection: Any) -> None:
    if connection.engine.dialect.name == "sqlite" and _engines is not None:
        _engines.add(connection.engine)


def close_sqlite_engines() -> None:
    """Close the pooled connections of every SQLite engine seen and put their databases back in
    rollback-journal mode (the log folded in, no ``-wal``/``-shm`` files left), so the file can
    be read later from a read-only copy; run at exit. A database another process still has open
    stays in WAL mode until that one ends."""
    for engine in list(_engines or ()):
        try:
            path = engine.url.database
            engine.dispose()
            if path and path != ":memory:" and Path(path).is_file():
                con = sqlite3.connect(path, timeout=1.0)
                try:
                    con.execute("PRAGMA journal_mode=DELETE")
                finally:
                    con.close()
        except Exception:  # noqa: BLE001,S110 - at exit: a database in use elsewhere keeps its log, nothing is lost
            pass


def enable_sqlite_wal() -> None:
    """From now on, every SQLite database SQLAlchemy opens in this process on a local disk runs
    in write-ahead-log mode with ``synchronous=NORMAL`` (idempotent; other databases untouched).
    Their connections are closed at exit (:func:`close_sqlite_engines`)."""
    global _registered, _engines
    if _registered:
        return
    import atexit
    import weakref

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    _engines = weakref.WeakSet()
    event.listen(Engine, "connect", _on_connect)
    event.listen(Engine, "engine_connect", _on_engine_connect)
    atexit.register(close_sqlite_engines)
    _registered = True
