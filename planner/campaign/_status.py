"""`planner status`: what a campaign holds, at a glance."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from planner.layout import OPTUNA_FILE, SPEC_FILE, SUGGESTIONS_FILE

if TYPE_CHECKING:
    from planner.campaign._campaign import Campaign


@dataclass
class TargetSummary:
    name: str
    direction: str
    n_labelled: int
    best: float | str | None = None
    best_row: str | None = None
    classes: dict[str, int] | None = None


@dataclass
class CampaignStatus:
    """A snapshot of a campaign; ``to_text()`` is what `planner status` prints."""

    name: str
    directory: str
    task: str
    n_source_rows: int
    n_observed: int
    targets: list[TargetSummary]
    n_trials_complete: int
    n_trials_failed: int
    n_suggestions_pending: int
    last_activity: str | None
    warnings: list[str] = field(default_factory=list)
    models: list[dict[str, Any]] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return self.n_source_rows + self.n_observed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)

    def to_text(self) -> str:
        out = [
            f"campaign      {self.name}  ({self.directory})",
            f"task          {self.task}",
            f"observations  {self.n_rows} ({self.n_source_rows} from data sources, {self.n_observed} observed here)",
        ]
        measured = max((t.n_labelled for t in self.targets), default=self.n_rows)
        if measured < self.n_rows:  # rows listed without a measurement (a cold start's candidates)
            out[-1] += f"; {self.n_rows - measured} not measured yet"
        for t in self.targets:
            if t.classes is not None:
                counts = ", ".join(f"{k}: {v}" for k, v in t.classes.items())
                out.append(f"target        {t.name}: {t.n_labelled} labelled ({counts})")
            elif t.best is None:
                out.append(f"target        {t.name} ({t.direction}): no values yet")
            else:
                out.append(
                    f"target        {t.name} ({t.direction}): best {t.best:.6g} at {t.best_row}; {t.n_labelled} labelled"
                )
        out.append(f"trials        {self.n_trials_complete} complete, {self.n_trials_failed} failed")
        for m in self.models:
            if not m["has_model"]:
                continue
            state = (f"STALE: {m['n_new_observations']} observation(s) arrived after the refit" if m["stale"]
                     else "up to date")
            out.append(f"model         {m['target']}: refit on {m['n_train_rows']} rows, {state}")
        out.append(f"suggestions   {self.n_suggestions_pending} pending")
        out.append(f"last activity {self.last_activity or 'never'}")
        if self.warnings:
            out.append(f"warnings      {len(self.warnings)}")
            out += [f"  - {w}" for w in self.warnings[:20]]
            if len(self.warnings) > 20:
                out.append(f"  ... and {len(self.warnings) - 20} more (see `planner quality`)")
        return "\n".join(out)


def _row_label(row: pd.Series, id_column: str | None) -> str:
    if id_column and pd.notna(row.get(id_column)):
        return f"{id_column}={row[id_column]}"
    if pd.notna(row.get("_obs_id")):
        return f"observation #{int(row['_obs_id'])}"
    return f"{row.get('_source')} line {row.get('_line')}"


def _trial_counts(campaign: Campaign) -> tuple[int, int]:
    """Complete and failed trials over all studies in the campaign storage (0, 0 if none yet)."""
    default_db = campaign.directory / OPTUNA_FILE
    if campaign.spec.storage is None and not default_db.exists():
        return 0, 0
    import optuna  # lazy: only when a storage exists

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    complete = failed = 0
    try:
        storage = optuna.storages.get_storage(campaign.storage_url)
        for summary in optuna.study.get_all_study_summaries(storage, include_best_trial=False):
            study = optuna.load_study(study_name=summary.study_name, storage=storage)
            states = [t.state for t in study.get_trials(deepcopy=False)]
            complete += sum(s == optuna.trial.TrialState.COMPLETE for s in states)
            failed += sum(s == optuna.trial.TrialState.FAIL for s in states)
    except Exception:  # noqa: BLE001 - status must not fail on an unreachable storage
        return 0, 0
    return complete, failed


def _pending_suggestions(campaign: Campaign) -> int:
    return len(campaign.suggestions.pending())


def campaign_status(campaign: Campaign) -> CampaignStatus:
    spec = campaign.spec
    sources = campaign.source_table()
    observed = campaign.observations()
    data = campaign.data()
    targets = []
    for t in spec.targets:
        values = data[t.name] if t.name in data else pd.Series(dtype=float)
        labelled = values.notna()
        summary = TargetSummary(name=t.name, direction=t.direction, n_labelled=int(labelled.sum()))
        if spec.task == "classification":
            summary.classes = {str(k): int(v) for k, v in values[labelled].value_counts().sort_index().items()}
        elif labelled.any():
            numeric = pd.to_numeric(values, errors="coerce")
            idx = numeric.idxmax() if t.direction == "max" else numeric.idxmin()
            summary.best = float(numeric.loc[idx])
            summary.best_row = _row_label(data.loc[idx], spec.data.id_column)
        targets.append(summary)
    complete, failed = _trial_counts(campaign)
    stamps = []
    if len(observed):
        stamps.append(pd.to_datetime(observed["_observed_at"], utc=True).max())
    for name in (SPEC_FILE, OPTUNA_FILE, SUGGESTIONS_FILE):
        p = campaign.directory / name
        if p.exists():
            stamps.append(pd.Timestamp(datetime.fromtimestamp(p.stat().st_mtime, tz=UTC)))
    last = max(stamps).strftime("%Y-%m-%d %H:%M:%S UTC") if stamps else None
    warnings = list(sources.warnings)
    from planner.campaign._freshness import model_freshness

    models = []
    for t in spec.targets:
        fresh = model_freshness(campaign, t.name)
        models.append({"target": t.name, "has_model": fresh.has_model, "n_train_rows": fresh.n_train_rows,
                       "n_new_observations": fresh.n_new_observations, "refit_at": fresh.refit_at,
                       "stale": fresh.is_stale})
        if fresh.is_stale:
            warnings.append(fresh.message(campaign.directory))
    if not spec.design_space.pool and not spec.design_space.ranges:
        warnings.append(
            "no design space declared: `planner suggest` needs design_space.pool (a candidate CSV) or "
            "design_space.ranges in campaign.yaml"
        )
    return CampaignStatus(
        name=spec.name,
        directory=str(campaign.directory),
        task=spec.task,
        n_source_rows=len(sources.frame),
        n_observed=len(observed),
        targets=targets,
        n_trials_complete=complete,
        n_trials_failed=failed,
        n_suggestions_pending=_pending_suggestions(campaign),
        last_activity=last,
        warnings=warnings,
        models=models,
    )
