"""``assess``: run the registered checks over a table and return a :class:`QualityReport`."""

from __future__ import annotations

import datetime as _dt
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from planner.exceptions import SpecError
from planner.quality._checks import run_checks
from planner.quality._data import QualityData, as_numeric, numeric_share
from planner.quality._report import QualityReport
from planner.quality._spec import QualitySpec
from planner.sources._log import CleaningLog

__all__ = ["assess"]


def assess(
    frame: pd.DataFrame,
    spec: QualitySpec | None = None,
    *,
    logs: Sequence[CleaningLog] = (),
    dataset_name: str = "data",
    **settings: Any,
) -> QualityReport:
    """Check a table against the six characteristics of high-quality data.

    Args:
        frame: The table to assess; for several sources, the stacked table from
            :func:`~planner.sources.combine_sources` (so disagreements are visible), with the
            merge's log in ``logs``.
        spec: What to check (:class:`QualitySpec`); default ``QualitySpec()``.
        logs: Cleaning logs (e.g. the :class:`~planner.sources.MergeLog`) to include.
        dataset_name: Name printed in the report and in messages.
        **settings: :class:`QualitySpec` fields, for callers without a spec (they build one,
            or change the given one); e.g. ``assess(frame, target_columns=["y"])``.

    Returns:
        A :class:`QualityReport`.

    Raises:
        DataValidationError: A named column is not in the table; or ``spec.strict`` and a check failed.
        SpecError: Invalid settings (an unknown key names the closest field; bad unit names
            are reported, not raised).
    """
    if spec is None:
        spec = QualitySpec.from_dict(settings, where="assess")
    elif not isinstance(spec, QualitySpec):
        raise SpecError(f"assess: spec must be a QualitySpec, got {type(spec).__name__}; or pass settings as keywords.")
    elif settings:
        spec = spec.replace(**settings)
    data = QualityData(frame, spec, dataset_name=dataset_name)
    checks = run_checks(data, spec)
    actions = CleaningLog()
    action_summary: list[str] = []
    for log in logs:
        if not isinstance(log, CleaningLog):
            raise SpecError(f"assess: logs must be CleaningLog/MergeLog objects, got {type(log).__name__}.")
        actions.extend(log)
        action_summary += log.summary_lines()
    exploration = _explore(data.frame, data.targets, data.features, spec.task) if spec.explore else None
    report = QualityReport(
        dataset=dataset_name,
        n_rows=len(data.frame),
        n_columns=data.frame.shape[1],
        checks=checks,
        actions=actions,
        action_summary=action_summary,
        exploration=exploration,
        settings=_settings(spec, data),
        created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    )
    if spec.strict:
        report.raise_for_failures()
    return report


def _settings(spec: QualitySpec, data: QualityData) -> dict[str, Any]:
    """The settings as the report records them (resolved column lists, plain containers)."""
    tolerance = spec.condition_tolerance
    consistency = spec.consistency_tolerance
    return {
        "id_column": spec.id_column,
        "target_columns": data.targets,
        "feature_columns": data.features,
        "group_column": spec.group_column,
        "composition_column": spec.composition_column,
        "condition_columns": data.conditions,
        "condition_tolerance": dict(tolerance) if isinstance(tolerance, Mapping) else tolerance,
        "source_column": spec.source_column,
        "bounds": {k: list(v) for k, v in spec.bounds.items()},
        "units": dict(spec.units),
        "non_negative_columns": list(spec.non_negative_columns),
        "allowed_values": {k: list(v) for k, v in spec.allowed_values.items()},
        "rules": dict(spec.rules),
        "consistency_rules": dict(spec.consistency_rules),
        "consistency_tolerance": dict(consistency) if isinstance(consistency, Mapping) else consistency,
        "date_column": spec.date_column,
        "max_age_days": spec.max_age_days,
        "missing_threshold": spec.missing_threshold,
        "row_missing_threshold": spec.row_missing_threshold,
        "outlier_method": spec.outlier_method,
        "outlier_threshold": spec.outlier_threshold,
    }


def _explore(frame: pd.DataFrame, targets: list[str], features: list[str], task: str) -> Any:
    from planner.quality._explore import explore as run

    numeric_targets = [t for t in targets if numeric_share(frame[t]) >= 0.8]
    data = frame.copy()
    for col in features + numeric_targets:
        if numeric_share(data[col]) >= 0.8:
            data[col] = as_numeric(data[col])
    numeric_features = [c for c in features if pd.api.types.is_numeric_dtype(data[c])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run(data, target_columns=numeric_targets, feature_columns=numeric_features, task=task)
