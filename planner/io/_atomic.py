"""Atomic file replacement and an advisory lock for a campaign directory."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from planner.exceptions import CampaignError


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` so that readers see either the old or the new content.

    The text goes to a temporary file in the same directory, is flushed and fsynced, and
    then replaces ``path`` with :func:`os.replace` (atomic on POSIX). A process killed at
    any moment leaves the previous file intact; at worst a stray ``.tmp`` file remains,
    which is never read.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str], *, timeout_s: float = 30.0) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (created if missing).

    The lock dies with the process, so a killed writer never leaves the campaign locked.

    Raises:
        CampaignError: if another process holds the lock for longer than ``timeout_s``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115 - closed in finally
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() > deadline:
                    raise CampaignError(
                        f"another planner process has held {path} for more than {timeout_s:.0f} s. "
                        "Wait for it to finish (e.g. a running `planner observe`), then try again."
                    ) from err
                time.sleep(0.05)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()
