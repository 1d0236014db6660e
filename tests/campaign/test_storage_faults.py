"""The file system says no: a size limit, a read-only folder, an absurd cell.

Each case runs the real CLI in a real process and must end with exit 2 and one paragraph
naming the file and the fix, never an internal error, and leave what is stored unchanged.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from planner.cli import main


def _planner(*args, preexec_fn=None):
    return subprocess.run([sys.executable, "-m", "planner.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300, preexec_fn=preexec_fn)


@pytest.fixture
def camp(tmp_path, capsys):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"sample_id": [f"s{i}" for i in range(20)], "x1": rng.uniform(0, 1, 20), "y": rng.normal(size=20)})
    frame.to_csv(tmp_path / "data.csv", index=False)
    assert main(["init", str(tmp_path / "camp"), "--data", str(tmp_path / "data.csv"), "--target", "y:max",
                 "--id", "sample_id"]) == 0
    new = pd.DataFrame({"sample_id": [f"n{i}" for i in range(300)], "x1": rng.uniform(0, 1, 300), "y": 1.0})
    new.to_csv(tmp_path / "new.csv", index=False)
    capsys.readouterr()
    return tmp_path / "camp"


def _files(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file() and p.name != ".planner.lock"}


def test_file_too_large(camp, tmp_path):
    def limit():  # what `ulimit -f` does; SIGXFSZ ignored so the write fails with EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    before = _files(camp)
    done = _planner("observe", camp, tmp_path / "new.csv", preexec_fn=limit)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: cannot write ") and "observations.csv" in done.stderr
    assert "File too large" in done.stderr and "internal error" not in done.stderr
    assert _files(camp) == before
    assert not [p for p in camp.iterdir() if p.name.endswith(".tmp")]


@contextlib.contextmanager
def _read_only(directory):
    """``directory`` read-only for this root-or-not process: a read-only bind mount, or chmod."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        try:
            yield
        finally:
            directory.chmod(0o755)
        return
    mounted = subprocess.run(["mount", "--bind", str(directory), str(directory)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"running as root without permission to bind-mount ({mounted.stderr.decode().strip()}); "
                    "a read-only folder cannot be made here")
    try:
        remount = subprocess.run(["mount", "-o", "remount,ro,bind", str(directory)], capture_output=True)
        if remount.returncode != 0:
            pytest.skip(f"cannot remount read-only: {remount.stderr.decode().strip()}")
        yield
    finally:
        subprocess.run(["umount", str(directory)], capture_output=True)


@pytest.mark.skipif(shutil.which("mount") is None and os.geteuid() == 0, reason="no mount command")
def test_read_only_campaign(camp, tmp_path):
    before = _files(camp)
    with _read_only(camp):
        done = _planner("observe", camp, tmp_path / "new.csv")
        status = _planner("status", camp)
    assert done.returncode == 2, done.stderr
    assert "cannot write" in done.stderr and "make the folder writable" in done.stderr, done.stderr
    assert "internal error" not in done.stderr
    assert status.returncode == 0, status.stderr  # reading a read-only campaign still works
    assert _files(camp) == before


def test_a_cell_beyond_the_csv_field_limit(camp, tmp_path, capsys):
    path = tmp_path / "huge.csv"
    path.write_text("sample_id,x1,y\nbig," + "9" * 140_000 + ",1.0\n")
    before = _files(camp)
    code = main(["observe", str(camp), str(path)])
    err = capsys.readouterr().err
    assert code == 2 and "huge.csv, line 2: a cell is longer than 131,072 characters" in err, err
    assert _files(camp) == before
