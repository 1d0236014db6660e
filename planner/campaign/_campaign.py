"""The one stateful object: a campaign directory with its spec, data and results."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from planner.campaign._infer import infer_columns
from planner.campaign._layout import SPEC_FILE
from planner.campaign._status import CampaignStatus, campaign_status
from planner.campaign._store import META_COLUMNS, ObservationStore
from planner.campaign._suggestions import LINK_COLUMN, SuggestionLog
from planner.campaign._validate import CheckedTable, campaign_columns, check_table, row_hashes
from planner.exceptions import (
    CampaignError,
    CampaignExistsError,
    CampaignNotFoundError,
    DataValidationError,
    DesignSpaceWarning,
    SpecError,
)
from planner.io import read_table
from planner.spec import CampaignSpec, DataSource, DataSpec, TargetSpec
from planner.spec._io import load_spec, write_spec



@dataclass
class ObserveReport:
    """What :meth:`Campaign.observe` did."""

    n_read: int
    n_added: int
    n_duplicates: int
    duplicate_lines: list[Any] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    n_suggestions_fulfilled: int = 0

    def to_text(self) -> str:
        lines = [f"read {self.n_read} row(s): added {self.n_added}, skipped {self.n_duplicates} already stored"]
        if self.n_suggestions_fulfilled:
            lines.append(f"  {self.n_suggestions_fulfilled} pending suggestion(s) now observed")
        if self.duplicate_lines:
            shown = ", ".join(map(str, self.duplicate_lines[:10]))
            lines.append(f"  duplicates (lines): {shown}{' ...' if len(self.duplicate_lines) > 10 else ''}")
        lines += [f"  rejected: {r}" for r in self.rejected]
        lines += [f"  warning: {w}" for w in self.warnings]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def parse_target(text: str) -> tuple[str, str]:
    """Parse ``name:max`` / ``name:min`` as given on the command line."""
    name, sep, direction = text.rpartition(":")
    if not sep or not name or direction.strip().lower() not in {"max", "min"}:
        raise SpecError(
            f"target {text!r} must be written NAME:max or NAME:min (e.g. log_cond:max), "
            "saying whether larger or smaller values are better."
        )
    return name.strip(), direction.strip().lower()


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
        parsed = [parse_target(t) if isinstance(t, str) else t for t in targets]
        frame, info = read_table(data, delimiter=delimiter)
        target_names = [n for n, _ in parsed]
        for column, what in [(n, "target") for n in target_names] + [(id_column, "--id"), (group_column, "--group")]:
            if column is not None and column not in frame.columns:
                raise DataValidationError(
                    f"{data}: {what} column {column!r} is not in the file; its columns are {list(frame.columns)}."
                )
        inference = infer_columns(
            frame, targets=target_names, id_column=id_column, group_column=group_column, task=task
        )
        if not inference.inputs:
            raise DataValidationError(
                f"{data}: no usable input columns besides the target(s); columns ignored: "
                + "; ".join(f"{k} ({v})" for k, v in inference.notes.items())
            )
        from planner.campaign._infer import guess_target_bounds

        bounds = guess_target_bounds(frame, target_names) if inference.task == "regression" else {}
        notes = dict(inference.notes) | {f"{n}.lower": why for n, (_, why) in bounds.items()}
        rel = os.path.relpath(Path(data).resolve(), directory.resolve())
        n_rows = len(frame)
        spec = CampaignSpec(
            name=name or directory.resolve().name,
            description=f"created by `planner init` from {Path(data).name}",
            data=DataSpec(
                sources=[DataSource(path=rel, label=label or Path(data).stem, delimiter=info.delimiter)],
                id_column=id_column,
                group_column=group_column,
                ignore=inference.ignore,
            ),
            inputs=inference.inputs,
            fraction_groups=inference.fraction_groups,
            targets=[TargetSpec(name=n, direction=d, lower=bounds[n][0] if n in bounds else None) for n, d in parsed],
            task=inference.task,
            search_space=search_space or ("small_data" if n_rows < 300 else "default"),
            seed=seed,
        )
        header = (
            f"planner campaign, created {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC from {data}\n"
            f"({n_rows} rows, {len(frame.columns)} columns). Column roles were inferred; check them.\n"
            f"task: {inference.task} ({inference.task_note})"
        )
        return cls.create(directory, spec, notes=notes, header=header, force=force)

    # Data ----------------------------------------------------------------------------
    @property
    def storage_url(self) -> str:
        return self.spec.storage or f"sqlite:///{(self.directory / 'optuna.db').resolve()}"

    def _resolve(self, path: str) -> Path:
        p = Path(path)
        # normpath, not resolve: the campaign directory may not exist yet during `create`.
        return p if p.is_absolute() else Path(os.path.normpath(self.directory.absolute() / p))

    def source_table(self) -> CheckedTable:
        """The campaign's data sources, validated and stacked (cached)."""
        if self._sources is not None:
            return self._sources
        frames, warns, notes = [], [], []
        for src in self.spec.data.sources:
            path = self._resolve(src.path)
            frame, info = read_table(path, delimiter=src.delimiter, what=f"data source {src.label or src.path}")
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
            frames.append(part.reset_index(drop=True))
            warns += checked.warnings
            notes += checked.notes + info.notes()
        columns = ["_source", "_file", "_line", *campaign_columns(self.spec)]
        table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
        self._sources = CheckedTable(frame=table, warnings=warns, notes=notes)
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
        if isinstance(table, pd.DataFrame):
            frame, file_label, file_path = table.copy(), "observations (DataFrame)", None
            frame.index = pd.RangeIndex(2, 2 + len(frame), name="line")
        else:
            frame, _info = read_table(table, delimiter=delimiter, what="observations file")
            file_label, file_path = str(table), str(table)
        links = frame.pop(LINK_COLUMN).astype(str) if LINK_COLUMN in frame.columns else None
        checked = check_table(
            frame, self.spec, label=file_label, mode="observation", allow_extra=allow_extra, skip_invalid=skip_invalid
        )
        new = checked.frame
        key_cols = campaign_columns(self.spec)
        hashes = row_hashes(new, key_cols)
        with self.store.lock():
            stored = self.data()
            stored_hashes = row_hashes(stored, key_cols)
            is_dup = hashes.isin(set(stored_hashes)) | hashes.duplicated(keep="first")
            id_col = self.spec.data.id_column
            if id_col and len(stored):
                known_ids = set(stored[id_col].astype(str).str.strip())
                ids = new[id_col].astype(str).str.strip()
                conflict = ids.isin(list(known_ids)) & ~is_dup
                if conflict.any():
                    shown = ", ".join(
                        f"line {line}: id {ident!r}" for line, ident in list(ids[conflict].items())[:5]
                    )
                    raise DataValidationError(
                        f"{file_label}: id(s) already stored with different values ({shown}). Stored rows are "
                        "never changed: give a new measurement a new id (a replicate too), or fix the file. "
                        "Nothing was stored."
                    )
            to_add = new[~is_dup]
            self.suggestions.repair()  # finish what a killed observe left half-written
            n_linked = 0
            if len(to_add):
                candidates = to_add.copy()
                if links is not None:
                    candidates[LINK_COLUMN] = links.loc[to_add.index]
                fulfils = self.suggestions.match(candidates, self.spec).reindex(to_add.index).fillna("")
                added = to_add.assign(_row_hash=hashes[~is_dup].to_numpy())
                # One atomic write stores the rows with the suggestions they fulfil; the
                # suggestion log follows (a kill in between is reconciled on every read).
                self.store.append(
                    added,
                    source=source or (Path(file_path).stem if file_path else "api"),
                    file=file_path,
                    lines=to_add.index,
                    fulfils=fulfils.astype(str).tolist(),
                )
                n_linked = self.suggestions.repair()
        for message in checked.warnings:
            category = DesignSpaceWarning if "design space" in message or "design_space" in message else UserWarning
            if category is DesignSpaceWarning:
                warnings.warn(message, DesignSpaceWarning, stacklevel=2)
        return ObserveReport(
            n_read=len(frame),
            n_added=int((~is_dup).sum()),
            n_duplicates=int(is_dup.sum()),
            duplicate_lines=list(new.index[is_dup]),
            n_suggestions_fulfilled=n_linked,
            warnings=checked.warnings,
            notes=checked.notes,
            rejected=checked.rejected,
        )

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

    # Models ----------------------------------------------------------------------------
    def explain(self, target: str | None = None, *, max_samples: int = 200, seed: int = 0) -> Any:
        """SHAP values of ``target``'s saved best pipeline on the campaign's labelled rows.

        Returns:
            :class:`planner.explain.Explanation` (``values`` and ``data`` as DataFrames over the
            model's features, ``base_value``, ``importance()``).
        """
        from planner.automl import load_fitted
        from planner.campaign._automl import training_data
        from planner.campaign._layout import model_dir
        from planner.explain import explain

        target = target or self.spec.target_names[0]
        directory = model_dir(self.directory, target)
        if not (directory / "pipeline.json").exists():
            raise CampaignError(
                f"no saved model for target {target!r}; run `planner run {self.directory}` first."
            )
        data = training_data(self, target)
        return explain(load_fitted(directory), data.X, max_samples=max_samples, seed=seed)

    # Status ----------------------------------------------------------------------------
    def status(self) -> CampaignStatus:
        """A snapshot: observations, best values, trials, pending suggestions, warnings."""
        return campaign_status(self)


__all__ = ["Campaign", "ObserveReport", "parse_target", "SPEC_FILE", "META_COLUMNS"]
