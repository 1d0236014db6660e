"""Files a campaign writes are readable by the colleagues a lab shares its directory with.

Atomic writes go through a temporary file (``mkstemp`` makes it ``0600``); the file renamed
over the real one must get the mode the user's umask gives a plain ``open``, here ``0644``.
"""

from __future__ import annotations

import os
import stat

import numpy as np
import pandas as pd
import pytest

from planner.cli import main


@pytest.fixture
def umask_022():
    saved = os.umask(0o022)
    yield
    os.umask(saved)


@pytest.mark.slow
def test_every_campaign_file_follows_the_umask(tmp_path, umask_022, capsys):
    rng = np.random.default_rng(0)
    n = 24
    frame = pd.DataFrame({"sample_id": [f"s{i}" for i in range(n)], "x1": rng.uniform(0, 1, n),
                          "x2": rng.uniform(0, 1, n), "salt": rng.choice(["LiPF6", "LiFSI"], n)})
    frame["y"] = frame["x1"] * 2 - frame["x2"] + (frame["salt"] == "LiFSI") * 0.3 + rng.normal(0, 0.05, n)
    data = tmp_path / "data.csv"
    frame.iloc[:20].to_csv(data, index=False)
    new = tmp_path / "new.csv"
    frame.iloc[20:].to_csv(new, index=False)
    camp = tmp_path / "camp"

    def cli(*args: object) -> None:
        code = main([str(a) for a in args])
        _, err = capsys.readouterr()
        assert code == 0, err

    cli("init", camp, "--data", data, "--target", "y:max", "--id", "sample_id")
    pool = tmp_path / "pool.csv"
    pd.DataFrame({"x1": rng.uniform(0, 1, 30), "x2": rng.uniform(0, 1, 30),
                  "salt": rng.choice(["LiPF6", "LiFSI"], 30)}).to_csv(pool, index=False)
    yaml_path = camp / "campaign.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("  pool: null", f"  pool: {pool}"))
    cli("observe", camp, new)
    cli("run", camp, "--trials", "2", "--single")
    cli("suggest", camp, "-n", "2")
    cli("quality", camp)
    cli("report", camp)

    written = [p for p in camp.rglob("*") if p.is_file() and p.name != ".planner.lock"]
    names = {p.relative_to(camp).as_posix() for p in written}
    for expected in ("campaign.yaml", "observations.csv", "suggestions.csv", "reports/report.html"):
        assert expected in names, sorted(names)
    assert any(name.startswith("models/") for name in names), sorted(names)
    wrong = {p.relative_to(camp).as_posix(): oct(stat.S_IMODE(p.stat().st_mode))
             for p in written if stat.S_IMODE(p.stat().st_mode) & 0o044 != 0o044}
    assert not wrong, f"not readable by group/others under umask 022: {wrong}"
