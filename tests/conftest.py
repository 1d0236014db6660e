"""Fixtures shared by the whole suite; sub-packages chain their own on top of these.

The real public datasets live outside the project, in ``../shared/datasets`` beside the clone (CI has
them). A clone without them still passes: every test that needs them skips with one line saying how to
point the suite at a copy (``PLANNER_DATASETS=/path/to/shared/datasets``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")

REPO_ROOT = Path(__file__).resolve().parents[1]
DATASETS_ENV = "PLANNER_DATASETS"


def shared_datasets_dir() -> Path:
    """Where the shared datasets are looked for: ``$PLANNER_DATASETS``, else ``../shared/datasets``."""
    configured = os.environ.get(DATASETS_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    return (REPO_ROOT / ".." / "shared" / "datasets").resolve()


SHARED_DATASETS = shared_datasets_dir()


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """The real public datasets; skips (not fails) when they are absent, as in a user's fresh clone."""
    if not SHARED_DATASETS.is_dir():
        if os.environ.get(DATASETS_ENV):
            # An explicit setting that points nowhere is a mistake, not a choice to skip.
            pytest.fail(f"{DATASETS_ENV}={os.environ[DATASETS_ENV]!r} is not a directory; "
                        "point it at a copy of shared/datasets or unset it")
        pytest.skip(f"needs the shared datasets, not found at {SHARED_DATASETS}; "
                    f"set {DATASETS_ENV}=/path/to/shared/datasets to run it")
    return SHARED_DATASETS


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT
