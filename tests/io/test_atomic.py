from __future__ import annotations

import multiprocessing as mp

import pytest

from planner.exceptions import CampaignError
from planner.io import atomic_write_text, file_lock


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
