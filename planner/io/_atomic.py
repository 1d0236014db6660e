"""Atomic file replacement and an advisory lock for a campaign directory."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from planner.exceptions import CampaignError
from planner.layout import OPTUNA_FILE


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_UMASK_LOCK = threading.Lock()


def _process_umask() -> int:
    """The process umask, read without changing it where the kernel says it (Linux >= 4.7)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    with _UMASK_LOCK:  # elsewhere: set and restore at once, under a lock
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The mode :func:`open` would give a new file: ``0o666`` less the umask.

    :func:`tempfile.mkstemp` always creates ``0o600`` files; a file renamed over the real one
    would keep that, and colleagues sharing a lab directory could not read the campaign.
    """
    return 0o666 & ~_process_umask()


@contextlib.contextmanager
def atomic_replace(path: str | os.PathLike[str], *, binary: bool = False,
                   encoding: str = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on a clean exit it replaces ``path`` atomically.

    The file gets the mode a plain :func:`open` would give (umask respected), is flushed and
    fsynced, then :func:`os.replace`-d over ``path`` and the directory is fsynced. A process
    killed at any moment leaves the previous file intact; at worst a stray hidden ``.tmp``
    file remains, which is never read. An exception inside the block leaves ``path`` as it was.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise unwritable(path, err) from err
    try:
        os.fchmod(fd, new_file_mode())
        mode = "wb" if binary else "w"
        kwargs: dict[str, Any] = {} if binary else {"encoding": encoding, "newline": ""}
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        if isinstance(err, OSError) and err.errno in _STORAGE_ERRNOS:
            raise unwritable(path, err) from err
        raise
    _fsync_dir(path.parent)


# Errors of the storage, not of planner: a read-only folder, a full disk or a size limit.
_STORAGE_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EFBIG, errno.EDQUOT}


def unwritable(path: Path, err: OSError) -> CampaignError:
    """A clear error for a write that the file system refused; the old file is untouched."""
    why = {
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EROFS: "the file system is read-only",
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is exhausted",
        errno.EFBIG: "the file would exceed the size limit of this file system or process (File too large)",
    }.get(err.errno or 0, err.strerror or str(err))
    return CampaignError(
        f"cannot write {path}: {why}. Nothing was changed there (the previous file, if any, is intact). "
        "Free space or raise the limit, or make the folder writable (or copy the campaign to a writable "
        "place), then run the command again."
    )


def atomic_write_text(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` so that readers see either the old or the new content
    (see :func:`atomic_replace`)."""
    with atomic_replace(path, encoding=encoding) as handle:
        handle.write(text)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Binary twin of :func:`atomic_write_text`."""
    with atomic_replace(path, binary=True) as handle:
        handle.write(data)


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


def storage_failure(exc: BaseException) -> str | None:
    """A message for a write the file system refused (read-only, full, size limit), else None."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _STORAGE_ERRNOS:
            return str(unwritable(Path(exc.filename or "a campaign file"), exc))
        text = str(exc).lower()
        if "readonly database" in text or "read-only file system" in text:
            return str(unwritable(Path(OPTUNA_FILE), OSError(errno.EROFS, "read-only")))
        if "database or disk is full" in text or "file too large" in text:
            return str(unwritable(Path(OPTUNA_FILE), OSError(errno.ENOSPC, "disk full")))
        exc = exc.__cause__ or exc.__context__
    return None
