"""Fixtures shared by the whole suite; sub-packages chain their own on top of these."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = (REPO_ROOT / ".." / "shared" / "datasets").resolve()


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """The real public datasets beside the project (``../shared/datasets``); CI has them too."""
    if not SHARED_DATASETS.is_dir():
        pytest.fail(f"expected the shared datasets at {SHARED_DATASETS}; clone the project beside shared/")
    return SHARED_DATASETS


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT
