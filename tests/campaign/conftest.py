from __future__ import annotations

import pandas as pd
import pytest

from planner.campaign import Campaign
from planner.spec import CampaignSpec, DataSource, DataSpec, DesignSpace, InputSpec, TargetSpec


@pytest.fixture
def lab_csv(tmp_path):
    """A small electrolyte table: id, two fractions, a salt, a temperature and one target."""
    frame = pd.DataFrame(
        {
            "sample_id": [f"S{i:02d}" for i in range(1, 11)],
            "ec_frac": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.25],
            "salt": ["LiPF6", "LiFSI", "LiPF6", "LiTFSI", "LiFSI", "LiPF6", "LiFSI", "LiTFSI", "LiPF6", "LiFSI"],
            "temp_c": [25, 25, 40, 40, 25, 60, 60, 25, 40, 25],
            "lce": [1.1, 1.3, 1.2, 1.8, 1.6, 1.4, 2.0, 1.9, 1.5, 1.35],
        }
    )
    path = tmp_path / "lab.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def campaign(tmp_path, lab_csv) -> Campaign:
    spec = CampaignSpec(
        name="lab",
        data=DataSpec(sources=[DataSource(path=str(lab_csv), label="lab")], id_column="sample_id"),
        inputs=[InputSpec(name="ec_frac"), InputSpec(name="salt", role="categorical"), InputSpec(name="temp_c")],
        targets=[TargetSpec(name="lce", direction="max", lower=0.0)],
        design_space=DesignSpace(ranges={"ec_frac": (0.0, 1.0), "temp_c": (0.0, 80.0)}),
    )
    return Campaign.create(tmp_path / "camp", spec)


def _snapshot(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file() and p.name != ".planner.lock"}


@pytest.fixture
def snapshot():
    """File name -> bytes of everything stored in a campaign directory (lock file excluded)."""
    return _snapshot
