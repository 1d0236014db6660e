"""Is a target's saved model up to date with the campaign's observations?

`planner run` refits each target's final model on the rows it had then, and writes
``models/<target>/trained_on.json`` beside it: how many rows it was refit on and the last
observation id it saw. Observations are append-only, so every labelled observation with a
larger id arrived after the refit. ``status``, ``predict`` and the report say so (a model refit on
12 rows is not the model of a 24-row campaign), and ``run`` re-scores the best pipelines on the
current data before it refits (see :mod:`planner.campaign._automl`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from planner.layout import MODEL_SPEC_FILE, TRAINED_ON_FILE, model_dir

if TYPE_CHECKING:
    from planner.campaign._campaign import Campaign

@dataclass(frozen=True)
class ModelFreshness:
    """What a target's saved model was refit on, and what arrived since."""

    target: str
    has_model: bool
    n_train_rows: int | None = None
    n_new_observations: int = 0
    refit_at: str | None = None

    @property
    def is_stale(self) -> bool:
        return self.has_model and self.n_new_observations > 0

    def message(self, directory: Any = "DIR") -> str:
        if not self.has_model:
            return f"no saved model for {self.target!r} yet: run `planner run {directory}`"
        if not self.is_stale:
            return f"model for {self.target!r} is up to date (refit on {self.n_train_rows} rows)"
        return (
            f"the model for {self.target!r} was refit on {self.n_train_rows} rows"
            + (f" at {self.refit_at}" if self.refit_at else "")
            + f"; {self.n_new_observations} labelled observation(s) arrived since and are not in it. Run "
            f"`planner run {directory}` to re-score the best pipelines on the current data and refit."
        )


def record_training(directory: Path, target: str, n_train_rows: int, observed: pd.DataFrame) -> None:
    """Write ``trained_on.json`` in campaign ``directory`` for ``target``'s model just refit on
    ``n_train_rows`` rows, when ``observed`` were the campaign's observations."""
    from planner.io import atomic_write_text

    max_id = int(pd.to_numeric(observed["_obs_id"]).max()) if len(observed) else 0
    record = {
        "version": 1,
        "target": target,
        "n_train_rows": int(n_train_rows),
        "max_obs_id": max_id,
        "refit_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    atomic_write_text(model_dir(directory, target) / TRAINED_ON_FILE, json.dumps(record, indent=2) + "\n")


def model_freshness(campaign: Campaign, target: str) -> ModelFreshness:
    """Compare ``target``'s saved model with the observations stored now."""
    directory = model_dir(campaign.directory, target)
    if not (directory / MODEL_SPEC_FILE).is_file():
        return ModelFreshness(target=target, has_model=False)
    observed = campaign.observations()
    labelled = observed[observed[target].notna()] if target in observed.columns and len(observed) else observed.iloc[:0]
    record_path = directory / TRAINED_ON_FILE
    if record_path.is_file():
        record = json.loads(record_path.read_text(encoding="utf-8"))
        ids = pd.to_numeric(labelled["_obs_id"], errors="coerce") if len(labelled) else pd.Series(dtype=float)
        n_new = int((ids > int(record.get("max_obs_id", 0))).sum())
        return ModelFreshness(target=target, has_model=True, n_train_rows=record.get("n_train_rows"),
                              n_new_observations=n_new, refit_at=record.get("refit_at"))
    # A model saved before trained_on.json existed: compare row counts.
    spec = json.loads((directory / MODEL_SPEC_FILE).read_text(encoding="utf-8"))
    n_train = spec.get("n_train_rows")
    data = campaign.labelled_data()
    n_now = int(data[target].notna().sum()) if target in data.columns else 0
    n_new = max(0, n_now - int(n_train)) if n_train is not None else 0
    return ModelFreshness(target=target, has_model=True, n_train_rows=n_train, n_new_observations=n_new,
                          refit_at=spec.get("created"))
