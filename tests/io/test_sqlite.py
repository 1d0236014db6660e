"""The Optuna storage's SQLite settings: write-ahead log on local disks during a search, the
rollback journal back when the process ends (planner.io._sqlite)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import optuna

from planner.io._sqlite import close_sqlite_engines, enable_sqlite_wal, is_local_path


def _mode(path) -> str:
    con = sqlite3.connect(path)
    try:
        return con.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        con.close()


def test_a_local_temporary_folder_is_local_and_a_missing_proc_is_not(tmp_path, monkeypatch):
    from planner.io import _sqlite

    assert is_local_path(tmp_path)
    monkeypatch.setattr(_sqlite, "_mounts", lambda: [("/", "nfs4")])  # a network root: defaults kept
    assert not is_local_path(tmp_path)
    monkeypatch.setattr(_sqlite, "_mounts", lambda: [])
    assert not is_local_path(tmp_path)


def test_storage_runs_in_wal_mode_and_goes_back_to_the_rollback_journal(tmp_path):
    db = tmp_path / "optuna.db"
    enable_sqlite_wal()
    storage = optuna.storages.RDBStorage(f"sqlite:///{db}")
    study = optuna.create_study(storage=storage, study_name="s")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    assert _mode(db) == "wal" and (tmp_path / "optuna.db-wal").exists()
    close_sqlite_engines()
    assert _mode(db) == "delete" and not (tmp_path / "optuna.db-wal").exists()
    assert len(optuna.load_study(study_name="s", storage=f"sqlite:///{db}").trials) == 3


def test_a_process_that_ends_leaves_a_readable_rollback_journal_database(tmp_path):
    db = tmp_path / "optuna.db"
    code = (
        "import optuna; from planner.io import enable_sqlite_wal; enable_sqlite_wal(); "
        f"s = optuna.create_study(storage='sqlite:///{db}', study_name='s'); "
        "s.optimize(lambda t: t.suggest_float('x', 0, 1), n_trials=2)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    assert _mode(db) == "delete" and sorted(p.name for p in tmp_path.iterdir()) == ["optuna.db"]
