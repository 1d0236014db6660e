"""The one stateful object: a campaign directory with its spec, data and results."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.campaign._create import parse_target, spec_from_csv
from planner.campaign._observe import ObserveReport, observe_table
from planner.campaign._records import BacktestRun, SuggestionBatch
from planner.campaign._status import CampaignStatus, campaign_status
from planner.campaign._store import META_COLUMNS, ObservationStore
from planner.campaign._suggestions import SuggestionLog
from planner.campaign._validate import CheckedTable, campaign_columns, check_table
from planner.exceptions import CampaignError, CampaignExistsError, CampaignNotFoundError, DataValidationError, SpecError
from planner.io import read_table
from planner.layout import QUALITY_DIR, SPEC_FILE, default_storage_url, has_model
from planner.spec import CampaignSpec
from planner.spec._io import load_spec, write_spec


class Campaign:
    """A campaign directory: ``campaign.yaml`` (the frozen spec) plus everything it accumulates.

    The spec never changes behind the user's back; state (observations, trials, suggestions)
    lives in files beside it. Construct with :meth:`load`, :meth:`create` or :meth:`from_csv`.
    """

    def __init__(self, directory: str | Path, spec: CampaignSpec) -> None:
        self.directory = Path(directory)
        self.spec = spec
        self.store = ObservationStore(self.directory)
        self.suggestions = SuggestionLog(self.directory, observations=self.store.read_links)
        self._sources: CheckedTable | None = None

    # Construction ------------------------------------------------------------------
    @classmethod
    def load(cls, directory: str | Path) -> Campaign:
        """Open an existing campaign.

        Raises:
            CampaignNotFoundError: no ``campaign.yaml`` in ``directory``.
            SpecError: the file is not a valid campaign.
        """
        directory = Path(directory)
        spec_path = directory / SPEC_FILE
        if not spec_path.is_file():
            hint = (
                f"{directory} does not exist"
                if not directory.exists()
                else f"{directory} has no {SPEC_FILE}"
            )
            raise CampaignNotFoundError(
                f"no campaign at {directory}: {hint}. Create one with `planner init {directory} --data FILE "
                "--target NAME:max`."
            )
        return cls(directory, load_spec(spec_path))

    @classmethod
    def create(
        cls,
        directory: str | Path,
        spec: CampaignSpec,
        *,
        notes: dict[str, str] | None = None,
        header: str = "",
        force: bool = False,
    ) -> Campaign:
        """Write a new campaign directory with ``spec`` (checked against its data sources first)."""
        directory = Path(directory)
        spec_path = directory / SPEC_FILE
        if spec_path.exists() and not force:
            raise CampaignExistsError(
                f"{spec_path} already exists; a campaign is never overwritten by accident. Choose another "
                "directory, or pass --force (Python: force=True) to rewrite campaign.yaml; its observations, "
                "trials and suggestions are kept."
            )
        campaign = cls(directory, spec)
        campaign.source_table()  # validate sources before writing anything
        directory.mkdir(parents=True, exist_ok=True)
        write_spec(spec_path, spec, notes=notes, header=header)
        return campaign

    @classmethod
    def from_csv(
        cls,
        directory: str | Path,
        data: str | Path,
        targets: list[str] | list[tuple[str, str]],
        *,
        id_column: str | None = None,
        group_column: str | None = None,
        task: str | None = None,
        name: str | None = None,
        label: str | None = None,
        delimiter: str | None = None,
        search_space: str | None = None,
        seed: int = 0,
        force: bool = False,
    ) -> Campaign:
        """Create a campaign from one CSV, inferring column roles (what `planner init` does)."""
        directory = Path(directory)
        spec, notes, header = spec_from_csv(
            directory, data, targets, id_column=id_column, group_column=group_column, task=task, name=name,
            label=label, delimiter=delimiter, search_space=search_space, seed=seed,
        )
        return cls.create(directory, spec, notes=notes, header=header, force=force)

    # Data ----------------------------------------------------------------------------
    @property
    def storage_url(self) -> str:
        return self.spec.storage or default_storage_url(self.directory)

    def _resolve(self, path: str) -> Path:
        p = Path(path)
        # normpath, not resolve: the campaign directory may not exist yet during `create`.
        return p if p.is_absolute() else Path(os.path.normpath(self.directory.absolute() / p))

    def source_table(self) -> CheckedTable:
        """The campaign's data sources, validated and stacked (cached)."""
        if self._sources is not None:
            return self._sources
        frames, warns, notes, left_out, censored = [], [], [], [], []
        for src in self.spec.data.sources:
            path = self._resolve(src.path)
            levels = self.spec.level_columns()
            levels += [raw for raw, name in src.rename.items() if name in levels]
            frame, info = read_table(
                path, delimiter=src.delimiter, what=f"data source {src.label or src.path}", levels=levels
            )
            unknown = [c for c in src.rename if c not in frame.columns]
            if unknown:
                raise DataValidationError(
                    f"{src.path}: `rename` names column(s) {unknown} that the file does not have "
                    f"(it has {list(frame.columns)}). Fix the mapping in campaign.yaml."
                )
            frame = frame.rename(columns=src.rename)
            for column, unit in src.units.items():
                frame, note = self._convert_units(frame, column, unit, str(src.path))
                notes.append(note)
            checked = check_table(frame, self.spec, label=str(src.path), mode="source")
            part = checked.frame.copy()
            part.insert(0, "_line", part.index)
            part.insert(0, "_file", str(src.path))
            part.insert(0, "_source", src.label or Path(src.path).stem)
            offset = sum(len(f) for f in frames)
            censored += [offset + int(k) for k in np.flatnonzero(part.index.isin(checked.censored))]
            frames.append(part.reset_index(drop=True))
            warns += checked.warnings
            left_out += checked.left_out
            notes += checked.notes + info.notes()
        columns = ["_source", "_file", "_line", *campaign_columns(self.spec)]
        table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
        self._sources = CheckedTable(frame=table, warnings=warns, notes=notes, left_out=left_out, censored=censored)
        return self._sources

    def _convert_units(self, frame: pd.DataFrame, column: str, unit: str, label: str) -> tuple[pd.DataFrame, str]:
        from planner.sources import convert_units

        target_unit = next(i.unit for i in [*self.spec.inputs, *self.spec.targets] if i.name == column)
        if column not in frame.columns:
            raise DataValidationError(f"{label}: units are declared for column {column!r}, which the file does not have.")
        values = pd.to_numeric(frame[column], errors="coerce")
        frame = frame.copy()
        frame[column] = convert_units(values, unit, target_unit, where=label, column=column)
        return frame, f"{label}: converted {column!r} from {unit} to {target_unit}"

    def observations(self) -> pd.DataFrame:
        """Measurements added with :meth:`observe` (with their meta columns)."""
        return self.store.read()

    def data(self) -> pd.DataFrame:
        """All rows: data sources first, then observations; meta columns start with ``_``."""
        sources = self.source_table().frame
        observed = self.observations()
        if observed.empty:
            return sources.copy()
        if sources.empty:
            return observed.copy()
        return pd.concat([sources, observed], ignore_index=True, sort=False)

    def labelled_data(self) -> pd.DataFrame:
        """Rows with at least one target value: what models are trained on.

        With ``data.merge`` in the spec, repeated measurements of one material are reconciled
        first (see :meth:`merged_data`).
        """
        if self.spec.data.merge is not None:
            return self.merged_data()[0]
        frame = self.data()
        return frame[frame[self.spec.target_names].notna().any(axis=1)].reset_index(drop=True)

    def merged_data(self) -> tuple[pd.DataFrame, Any]:
        """Labelled rows with repeated measurements reconciled per ``data.merge``; and the merge log."""
        from planner.sources import merge_sources

        merge = self.spec.data.merge
        if merge is None:
            raise CampaignError("this campaign has no data.merge section; add one to campaign.yaml to merge sources.")
        frame = self.data()
        frame = frame[frame[self.spec.target_names].notna().any(axis=1)].copy()
        frame["_source"] = frame["_source"].fillna("observations")
        keep = [c for c in frame.columns if not c.startswith("_")] + ["_source"]
        merged, log = merge_sources(
            frame[keep],
            key=merge.key,
            composition_column=merge.composition_column,
            condition_columns=list(merge.condition_columns),
            condition_tolerance=merge.condition_tolerance,
            value_columns=self.spec.target_names,
            strategy=merge.strategy,
            trust_order=list(merge.trust_order) or None,
            max_spread=merge.max_spread,
            source_column="_source",
            count_column="_n_merged",
        )
        return merged.reset_index(drop=True), log

    def training_data(self, target: str) -> Any:
        """What the search fits for ``target``: ``X`` (inputs, related-table features), ``y``,
        CV ``groups`` and ``column_roles``, over the labelled rows with a ``target`` value."""
        from planner.campaign._automl import training_data

        return training_data(self.spec, self.labelled_data(), target, self._resolve)

    # Observations ---------------------------------------------------------------------
    def observe(
        self,
        table: str | Path | pd.DataFrame,
        *,
        source: str | None = None,
        allow_extra: bool = False,
        skip_invalid: bool = False,
        delimiter: str | None = None,
    ) -> ObserveReport:
        """Add new measurements. Re-adding rows already stored (or in a data source) is a no-op.

        Args:
            table: a CSV path or a DataFrame with the campaign's columns.
            source: a label kept with every row (default: the file's name, or "api").
            allow_extra: drop columns the campaign does not know instead of failing.
            skip_invalid: store the valid rows and report the invalid ones instead of failing.

        Raises:
            DataValidationError: the table breaks a rule; nothing is stored.
        """
        return observe_table(
            table, spec=self.spec, store=self.store, suggestions=self.suggestions, stored_rows=self.data,
            source=source, allow_extra=allow_extra, skip_invalid=skip_invalid, delimiter=delimiter,
            censored_rows=lambda: self.source_table().censored,  # the first rows of self.data()
        )

    # Quality -------------------------------------------------------------------------
    def assess_quality(self, *, save: bool = True) -> Any:
        """Assess every source and observation as stored (before any merge), what `planner quality` does.

        The report covers accuracy, consistency, validity, completeness, timeliness and
        uniqueness; with ``save`` it is written under ``quality/`` (JSON, text, CSV tables).

        Returns:
            :class:`planner.quality.QualityReport` (``to_text()``, ``to_dict()``, ``raise_for_failures()``).
        """
        from planner.campaign._quality import quality_report

        return quality_report(
            self.spec,
            source_paths=[self._resolve(s.path) for s in self.spec.data.sources],
            observed=self.observations(),
            merge_log=lambda: self.merged_data()[1],
            save_to=self.directory / QUALITY_DIR if save else None,
        )

    # Search ----------------------------------------------------------------------------
    def search(
        self,
        *,
        targets: list[str] | None = None,
        n_trials: int | None = None,
        timeout_s: float | None = None,
        executor: str | None = None,
        n_workers: int | None = None,
        metric: str | None = None,
        address: str | None = None,
        ensemble: bool = True,
        nested: bool = False,
        on_trial: Callable[[Any], None] | None = None,
        started_at: float | None = None,
    ) -> dict[str, Any]:
        """Run (or continue) the AutoML search per target and save each final model (`planner run`).

        Each trial is one whole pipeline scored by repeated cross-validation and stored in the
        campaign's Optuna storage; the final model (the selected ensemble, or with
        ``ensemble=False`` the best pipeline) is refit on all rows under ``models/<target>/``.
        Budgets default to campaign.yaml's ``budget``; ``timeout_s`` covers the whole call
        (counted from ``started_at``, a :func:`time.monotonic` reading, when given).
        ``on_trial(event)`` is called after every trial with a :class:`TrialEvent` (target,
        number, state, value, std, pipeline, failure reason, best value so far).

        With ``nested=True`` nothing is saved: the whole search is repeated inside each outer
        fold of a nested CV, an honest estimate of what the search delivers (it runs locally;
        ``executor``, ``n_workers``, ``address``, ``on_trial`` and ``started_at`` do not apply).

        Returns:
            ``{target: optuna.Study}``, or with ``nested`` ``{target: NestedCVResult}``.
        """
        from planner.campaign._automl import nested_automl, run_automl, search_budget

        if executor is not None and executor not in {"local", "ray"}:
            raise SpecError(f"executor must be local or ray, got {executor!r}")
        if nested:
            return nested_automl(self, targets=targets, n_trials=n_trials, timeout_s=timeout_s, metric=metric,
                                 ensemble=ensemble)
        return run_automl(
            self, targets=targets, n_trials=n_trials, timeout_s=search_budget(timeout_s, started_at),
            executor=executor, n_workers=n_workers, metric=metric, on_trial=on_trial, address=address, ensemble=ensemble,
        )

    def study(self, target: str) -> Any:
        """The Optuna study of ``target`` on the current data version.

        Raises:
            CampaignError: no search has run for ``target`` yet.
        """
        from planner.campaign._automl import load_study

        return load_study(self, target)

    def leaderboard(self, target: str, *, top: int | None = 10, include_failed: bool = False) -> pd.DataFrame:
        """The pipelines tried for ``target``, ranked by their CV metric (mean and std over folds)."""
        from planner.automl import leaderboard

        return leaderboard(self.study(target), top=top, include_failed=include_failed)

    def baselines(self, target: str) -> pd.DataFrame:
        """The baselines (a dummy and a random forest) scored on the same folds as ``target``'s trials."""
        from planner.automl import baselines

        return baselines(self.study(target))

    def model_info(self, target: str) -> dict[str, Any] | None:
        """The rebuild spec (``pipeline.json``) of ``target``'s saved final model, or ``None``."""
        from planner.layout import MODEL_SPEC_FILE, model_dir

        path = model_dir(self.directory, target) / MODEL_SPEC_FILE
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def predict(
        self,
        table: str | Path | pd.DataFrame,
        *,
        targets: list[str] | None = None,
        interval: float | list[float] | None = None,
    ) -> pd.DataFrame:
        """Predict rows (a CSV path or a frame with the input columns) with each target's saved model.

        Per target: ``<t>_prediction``, ``<t>_std``, conformal ``<t>_lower``/``<t>_upper`` at
        ``interval`` (default 0.9; several levels give suffixed columns), the applicability-domain
        and range flags and a note. ``out.attrs["notes"]`` has notes about each model.
        """
        from planner.campaign._automl import predict_table

        return predict_table(self, table, targets=targets, interval=interval)

    # Suggestions ------------------------------------------------------------------------
    def suggest(
        self,
        n: int = 5,
        *,
        strategy: str | None = None,
        surrogate: str = "gp-additive",  # planner.active.DEFAULT_SURROGATE
        beta: float = 2.0,
        outcome_constraints: list[str] | None = None,
        calibration: float | None = None,
        floor: str = "values",
    ) -> Any:
        """Propose ``n`` experiments by Bayesian active learning and log them as pending (`planner suggest`).

        Returns:
            :class:`SuggestionBatch`: ``table`` (one row per suggestion with ``_suggestion_id``,
            inputs, ``<t>_mean``/``<t>_std``/``<t>_lower``/``<t>_upper``, acquisition value,
            reason) and ``metadata``; it unpacks as ``table, metadata``.
        """
        from planner.campaign._active import suggest_experiments

        table, metadata = suggest_experiments(
            self, n=n, strategy=strategy, surrogate=surrogate, beta=beta, outcome_constraints=outcome_constraints,
            calibration=calibration, floor=floor,
        )
        return SuggestionBatch(table=table, metadata=metadata)

    # Suggestions ------------------------------------------------------------------------
    def suggestion_log(self, *, pending_only: bool = False) -> pd.DataFrame:
        """Every suggestion made (or only the pending ones), with its status and round."""
        frame = self.suggestions.read()
        if pending_only:
            frame = frame[frame["_status"] == "pending"]
        return frame.reset_index(drop=True)

    def cancel(self, ids: list[str] | None = None, *, all_pending: bool = False, reason: str = "") -> list[str]:
        """Withdraw pending suggestions (recorded as 'cancelled' with time and reason, never deleted).

        Returns:
            The ids cancelled.

        Raises:
            CampaignError: an id is unknown or not pending; nothing changes then.
        """
        if not ids and not all_pending:
            raise CampaignError("name the suggestions to cancel (ids such as S0003) or cancel all pending ones.")
        with self.store.lock():
            self.suggestions.repair()
            return self.suggestions.cancel(ids, all_pending=all_pending, reason=reason)

    # Backtests ---------------------------------------------------------------------------
    def backtest(
        self,
        strategies: list[str] | tuple[str, ...] | None = None,
        *,
        n_seeds: int = 20,
        n_initial: int = 2,
        batch_size: int = 1,
        budget: int | None = None,
        pool: str | Path | None = None,
        executor: str | None = None,
        n_jobs: int | None = None,
        address: str | None = None,
    ) -> Any:
        """Replay acquisition strategies on a fully labelled pool (`planner backtest`).

        ``pool`` is a CSV with inputs and targets (default: the campaign's labelled rows). The
        default arms are random sampling, a greedy random forest, the plain-Matern GP
        (``qlognei``; ``qlognehvi`` with several targets) and ``suggest``'s default, the GP with
        the additive kernel (``qlognei@gp-additive``). The result is saved under ``backtests/<run id>/`` and shown by :meth:`report`.

        Returns:
            :class:`BacktestRun`: ``result`` (a :class:`planner.active.BacktestResult`) and
            ``directory``; it unpacks as ``result, directory``.
        """
        from planner.campaign._active import backtest_campaign

        result, directory = backtest_campaign(
            self, strategies=list(strategies or []), n_seeds=n_seeds, n_initial=n_initial, batch_size=batch_size,
            budget=budget, executor=executor, n_jobs=n_jobs, pool=str(pool) if pool else None, address=address,
        )
        return BacktestRun(result=result, directory=directory)

    # Report ------------------------------------------------------------------------------
    def report(
        self,
        out: str | Path | None = None,
        *,
        allow_recompute: bool = True,
        progress: Callable[[str], None] | None = None,
    ) -> Any:
        """Write the self-contained HTML report and its Markdown summary (`planner report`).

        Built only from what the campaign stores; default ``reports/report.html``.

        Returns:
            :class:`planner.report.ReportResult` (``html_path``, ``markdown_path``, ``n_figures``, ``missing``).
        """
        from planner.report import build_report

        return build_report(self, out, allow_recompute=allow_recompute, progress=progress)

    # Models ----------------------------------------------------------------------------
    def explain(self, target: str | None = None, *, max_samples: int = 200, seed: int = 0) -> Any:
        """SHAP values of ``target``'s saved best pipeline on the campaign's labelled rows.

        Returns:
            :class:`planner.explain.Explanation` (``values`` and ``data`` as DataFrames over the
            model's features, ``base_value``, ``importance()``).
        """
        from planner.automl import load_fitted
        from planner.explain import explain
        from planner.layout import model_dir

        target = target or self.spec.target_names[0]
        directory = model_dir(self.directory, target)
        if not has_model(self.directory, target):
            raise CampaignError(
                f"no saved model for target {target!r}; run `planner run {self.directory}` first."
            )
        data = self.training_data(target)
        return explain(load_fitted(directory), data.X, max_samples=max_samples, seed=seed)

    # Status ----------------------------------------------------------------------------
    def model_freshness(self, target: str) -> Any:
        """Whether ``target``'s saved model was refit on the observations stored now (a :class:`ModelFreshness`)."""
        from planner.campaign._freshness import model_freshness

        return model_freshness(self, target)

    def status(self) -> CampaignStatus:
        """A snapshot: observations, best values, trials, pending suggestions, warnings."""
        return campaign_status(self)


__all__ = ["Campaign", "ObserveReport", "parse_target", "SPEC_FILE", "META_COLUMNS", "CampaignStatus"]
