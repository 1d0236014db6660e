"""``gather_inputs``: read a campaign once into the report's frozen :class:`ReportInputs`.

The only module of :mod:`planner.report` that knows a campaign: it asks the campaign object it
is given for its spec and tables through :class:`~planner.campaign.Campaign`'s public methods,
and names the campaign's files through the layout module. It never imports the campaign
package, so :meth:`Campaign.report` can call the report without an import circle; loading a
campaign from a directory is the caller's step (``Campaign.load``). The sections read the
record, never the campaign.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from planner.exceptions import SpecError
from planner.layout import (
    BACKTESTS_DIR,
    OPTUNA_FILE,
    QUALITY_DIR,
    REPORTS_DIR,
    SPEC_FILE,
    SUGGESTIONS_DIR,
    SUGGESTIONS_FILE,
    latest_study_name,
    model_dir,
)
from planner.report._records import Missing, ReportInputs, ReportPaths, TargetRecords
from planner.report._sources import load_backtests, load_fitted, load_quality, optuna_quiet, trial_table

__all__ = ["gather_inputs"]

def gather_inputs(campaign: Any) -> ReportInputs:
    """Everything the report shows, read once from ``campaign``.

    Args:
        campaign: A loaded :class:`~planner.campaign.Campaign`.

    Raises:
        SpecError: ``campaign`` is a path, not a loaded campaign.
    """
    if isinstance(campaign, str | os.PathLike):
        raise SpecError(
            f"the report reads a loaded campaign, got the path {str(campaign)!r}: pass Campaign.load({str(campaign)!r}) "
            "(or call Campaign.load(path).report(); on the command line `planner report DIR`)"
        )
    directory = Path(campaign.directory)
    return ReportInputs(
        spec=campaign.spec,
        paths=ReportPaths(
            directory=directory,
            spec_file=directory / SPEC_FILE,
            suggestion_rounds=directory / SUGGESTIONS_DIR,
            reports_dir=directory / REPORTS_DIR,
        ),
        sources=campaign.source_table().frame,
        observations=campaign.observations(),
        data=campaign.data(),
        labelled=campaign.labelled_data(),
        targets=tuple(_target(campaign, t) for t in campaign.spec.target_names),
        quality=load_quality(directory / QUALITY_DIR),
        suggestions=_suggestions(campaign),
        backtests=_tuple(load_backtests(directory / BACKTESTS_DIR)),
    )


def _tuple(value: Any) -> Any:
    return value if isinstance(value, Missing) else tuple(value)


def _study(campaign: Any, target: str) -> Any:
    """The study of ``target`` on the newest data version in the campaign's storage, or :class:`Missing`."""
    default = campaign.directory / OPTUNA_FILE
    if campaign.spec.storage is None and not default.is_file():
        return Missing(f"no AutoML search has run yet ({OPTUNA_FILE} does not exist); run `planner run {campaign.directory}`")
    optuna = optuna_quiet()
    try:
        name = latest_study_name(optuna.get_all_study_names(campaign.storage_url), target)
    except Exception as err:  # noqa: BLE001 - an unreadable storage is reported, not fatal
        return Missing(f"the Optuna storage could not be read ({type(err).__name__}: {err})")
    try:
        return optuna.load_study(study_name=name, storage=campaign.storage_url)
    except KeyError:
        return Missing(f"the storage has no study {name!r}; run `planner run {campaign.directory}` for target {target!r}")
    except Exception as err:  # noqa: BLE001 - an unreadable storage is reported, not fatal
        return Missing(f"the Optuna storage could not be read ({type(err).__name__}: {err})")


def _target(campaign: Any, target: str) -> TargetRecords:
    spec = next(t for t in campaign.spec.targets if t.name == target)
    study = _study(campaign, target)
    has_study = not isinstance(study, Missing)
    directory = model_dir(campaign.directory, target)
    return TargetRecords(
        name=target,
        direction=spec.direction,
        unit=spec.unit,
        study=study,
        info=dict(study.user_attrs.get("planner", {})) if has_study else {},
        trials=trial_table(study) if has_study else None,
        fitted=load_fitted(directory, campaign.directory),
        freshness=campaign.model_freshness(target),
        model_dir=directory,
    )


def _suggestions(campaign: Any) -> pd.DataFrame | Missing:
    """The suggestion log (every suggestion with ``_round``, ``_status``, ``<t>_mean``/``<t>_std``...)."""
    if not (campaign.directory / SUGGESTIONS_FILE).is_file():
        return Missing(f"no suggestions yet ({SUGGESTIONS_FILE} does not exist); run `planner suggest {campaign.directory}`")
    frame = campaign.suggestion_log()
    if frame.empty:
        return Missing(f"{SUGGESTIONS_FILE} holds no suggestions")
    if "_round" not in frame.columns:
        frame["_round"] = 1
    if "_status" not in frame.columns:
        frame["_status"] = "pending"
    return frame
