from __future__ import annotations

import multiprocessing as mp
import os
import stat

import pytest

from planner.exceptions import CampaignError
from planner.io import atomic_replace, atomic_write_bytes, atomic_write_text, file_lock, new_file_mode


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    target = tmp_path / "f.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def _hold(path, ready, release):
    with file_lock(path):
        ready.set()
        release.wait(10)


def test_lock_excludes_other_processes(tmp_path):
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold, args=(tmp_path / "lock", ready, release))
    proc.start()
    try:
        assert ready.wait(20)
        with pytest.raises(CampaignError, match="another planner process"):
            with file_lock(tmp_path / "lock", timeout_s=0.3):
                pass
    finally:
        release.set()
        proc.join(10)
    with file_lock(tmp_path / "lock", timeout_s=1):
        pass


@pytest.fixture
def umask():
    """Set the process umask for one test and restore it after."""
    saved = os.umask(0o022)
    os.umask(saved)

    def _set(mask: int) -> None:
        os.umask(mask)

    yield _set
    os.umask(saved)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077], ids=["022", "002", "077"])
def test_atomic_writes_respect_the_umask(tmp_path, umask, mask):
    umask(mask)
    assert new_file_mode() == 0o666 & ~mask
    atomic_write_text(tmp_path / "t.csv", "a,b\n")
    atomic_write_bytes(tmp_path / "b.bin", b"\x00\x01")
    with atomic_replace(tmp_path / "s.txt") as handle:
        handle.write("streamed")
    for name in ("t.csv", "b.bin", "s.txt"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~mask, name
    # Replacing an existing file gives the new file the umask's mode too (not the old 0600).
    (tmp_path / "t.csv").chmod(0o600)
    atomic_write_text(tmp_path / "t.csv", "c,d\n")
    assert stat.S_IMODE((tmp_path / "t.csv").stat().st_mode) == 0o666 & ~mask


def test_a_failed_write_keeps_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "f.txt"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_replace(target) as handle:
            handle.write("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]
