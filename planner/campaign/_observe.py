"""The campaign's observation stage: validate new measurements, de-duplicate, store, link suggestions.

Takes records (the spec, the observation store, the suggestion log and the rows already stored),
never a Campaign; :meth:`planner.campaign.Campaign.observe` gathers them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.campaign._store import ObservationStore
from planner.campaign._suggestions import LINK_COLUMN, MATCH_REL_TOL, SuggestionLog, input_spans
from planner.campaign._validate import campaign_columns, check_table, id_text, row_hashes
from planner.exceptions import DataQualityWarning, DataValidationError, DesignSpaceWarning
from planner.io import read_table
from planner.spec import CampaignSpec


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


def observe_table(
    table: str | Path | pd.DataFrame,
    *,
    spec: CampaignSpec,
    store: ObservationStore,
    suggestions: SuggestionLog,
    stored_rows: Callable[[], pd.DataFrame],
    source: str | None = None,
    allow_extra: bool = False,
    skip_invalid: bool = False,
    delimiter: str | None = None,
    censored_rows: Callable[[], list[int]] | None = None,
) -> ObserveReport:
    """Add new measurements to ``store``; re-adding rows already stored (``stored_rows()``, read
    under the store's lock: data sources and observations) is a no-op. ``censored_rows()``: the
    positions among ``stored_rows()`` of rows measured as a limit (they count as measured ids).

    Raises:
        DataValidationError: the table breaks a rule; nothing is stored.
    """
    if isinstance(table, pd.DataFrame):
        frame, file_label, file_path = table.copy(), "observations (DataFrame)", None
        frame.index = pd.RangeIndex(2, 2 + len(frame), name="line")
    else:
        frame, _info = read_table(table, delimiter=delimiter, what="observations file", levels=spec.level_columns())
        file_label, file_path = str(table), str(table)
    links = frame.pop(LINK_COLUMN).astype(str) if LINK_COLUMN in frame.columns else None
    frame, links = inputs_from_suggestions(
        frame, links, spec, suggestions.read(), file_label, _stored_with_ids(stored_rows(), spec)
    )
    checked = check_table(
        frame, spec, label=file_label, mode="observation", allow_extra=allow_extra, skip_invalid=skip_invalid
    )
    new = checked.frame
    key_cols = campaign_columns(spec)
    hashes = row_hashes(new, key_cols)
    with store.lock():
        stored = stored_rows()
        stored_hashes = row_hashes(stored, key_cols)
        is_dup = hashes.isin(set(stored_hashes)) | hashes.duplicated(keep="first")
        id_col = spec.data.id_column
        if id_col and len(stored):
            # A stored row without any target value is a candidate not measured yet (a cold
            # start's pool is its data file): measuring it adds a row, it changes nothing stored.
            measured = stored[spec.target_names].notna().any(axis=1)
            if censored_rows is not None:  # measured as a limit ('<0.5'): measured, not trained on
                limits = [k for k in censored_rows() if k < len(measured)]
                measured.iloc[limits] = True
            known_ids = set(id_text(stored.loc[measured, id_col]).dropna())
            ids = id_text(new[id_col]).fillna("")
            differ = _listed_inputs_differ(new, ids, stored[~measured], spec, file_label)
            if differ:
                checked.warnings.append(differ)
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
        suggestions.repair()  # finish what a killed observe left half-written
        log = suggestions.read() if len(to_add) else None
        if links is not None and len(to_add):
            check_links(links.loc[to_add.index], to_add, log, spec, file_label)
        n_linked = 0
        if len(to_add):
            candidates = to_add.copy()
            if links is not None:
                candidates[LINK_COLUMN] = links.loc[to_add.index]
            fulfils = suggestions.match(candidates, spec, log=log).reindex(to_add.index).fillna("")
            added = to_add.assign(_row_hash=hashes[~is_dup].to_numpy())
            # One atomic write stores the rows with the suggestions they fulfil; the
            # suggestion log follows (a kill in between is reconciled on every read).
            store.append(
                added,
                source=source or (Path(file_path).stem if file_path else "api"),
                file=file_path,
                lines=to_add.index,
                fulfils=fulfils.astype(str).tolist(),
            )
            n_linked = suggestions.repair()
    for message in checked.warnings:
        if "design space" in message or "design_space" in message:
            warnings.warn(message, DesignSpaceWarning, stacklevel=3)
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


def _listed_inputs_differ(
    new: pd.DataFrame, ids: pd.Series, listed: pd.DataFrame, spec: CampaignSpec, file_label: str
) -> str | None:
    """A warning when new rows carry the id of a listed, unmeasured row (a cold start's
    candidate) with other inputs: the experiment run may not be the one listed."""
    id_col = spec.data.id_column
    if listed.empty:
        return None
    first = listed.assign(_key=id_text(listed[id_col])).dropna(subset=["_key"]).drop_duplicates("_key").set_index("_key")
    differ = []
    for line, ident in ids[ids.isin(set(first.index))].items():
        cols = []
        for c in spec.input_names:
            a, b = first.at[ident, c], new.at[line, c]
            if pd.isna(a) and pd.isna(b):
                continue
            same = (
                abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(a)))
                if pd.api.types.is_number(a) and pd.api.types.is_number(b) and not pd.isna(a) and not pd.isna(b)
                else str(a).strip() == str(b).strip()
            )
            if not same:
                cols.append(f"{c} {b!r} where the listed row has {a!r}")
        if cols:
            differ.append(f"line {line} ({id_col} {ident!r}: {', '.join(cols[:3])})")
    if not differ:
        return None
    return (
        f"{file_label}: {len(differ)} row(s) carry the {id_col} of a listed candidate but other inputs: "
        f"{'; '.join(differ[:3])}. They are stored as written; fix the file if the listed experiment was run"
    )


def _stored_with_ids(stored: pd.DataFrame, spec: CampaignSpec) -> pd.DataFrame | None:
    """Stored rows that carry an id: data-source rows listed but not measured (a cold start's
    candidates) and measured rows (so that a results file observed twice is found again)."""
    id_col = spec.data.id_column
    if stored.empty or id_col is None or id_col not in stored.columns:
        return None
    return stored[stored[id_col].notna()]


def inputs_from_suggestions(
    frame: pd.DataFrame,
    links: pd.Series | None,
    spec: CampaignSpec,
    log: pd.DataFrame,
    file_label: str,
    stored: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.Series | None]:
    """Inputs a results file leaves out - a whole column, or a row's empty cells - taken from the
    experiment each row names: the suggestion of its ``suggestion_id``; else, by the campaign's id
    column, a pending suggestion with that id or a ``stored`` row with it (a data-source row not
    measured yet, e.g. a cold start's candidate; or one measured, so that observing a file twice
    is a no-op). Ids compare as written (:func:`id_text`). Returns the completed frame and the
    links (suggestions found by id where the file gave none).

    Raises:
        DataValidationError: the file lacks an input column and a row names no such experiment
            (the line and the fix).
    """
    id_col = spec.data.id_column
    wanted = spec.input_names + ([id_col] if id_col else [])
    sources = [c for c in log.columns] + (list(stored.columns) if stored is not None else [])
    fillable = [c for c in wanted if c in sources]
    absent = [c for c in fillable if c not in frame.columns]
    if not absent and not any(frame[c].isna().any() for c in fillable):
        return frame, links
    by_id = id_col is not None and id_col in frame.columns and id_col in sources
    if links is None and not by_id:
        return frame, links  # check_table names the missing columns
    known = log.set_index(log["_suggestion_id"].astype(str))
    suggestion_ids = set(known.index)
    found = pd.Series("", index=frame.index, dtype=object)
    if links is not None:
        given = links.str.strip()
        found = given.where(given.isin(suggestion_ids), "")
    if by_id:
        row_ids = id_text(frame[id_col])
        if id_col in log.columns:
            pending = log[(log["_status"] == "pending") & log[id_col].notna()]
            named = dict(zip(id_text(pending[id_col]), pending["_suggestion_id"].astype(str), strict=False))
            found = found.where(found != "", row_ids.map(named).fillna(""))
        if stored is not None and (found == "").any():
            # only the stored rows this file names (a cold start's data source can hold millions)
            keys = id_text(stored[id_col])
            rows = stored[keys.isin(set(row_ids[found == ""])).to_numpy()]
            rows = rows.set_axis(["stored:" + k for k in id_text(rows[id_col])], axis=0)
            rows = rows[~rows.index.duplicated()]
            if len(rows):
                known = pd.concat([known, rows], sort=False) if len(known) else rows
                as_stored = "stored:" + row_ids
                found = found.where((found != "") | ~as_stored.isin(set(rows.index)), as_stored)
    unknown = found == ""
    if absent and unknown.any():
        line = unknown[unknown].index[0]
        how = (f"a suggestion_id of this campaign or the {id_col} of a pending suggestion or stored row" if by_id
               else "a suggestion_id of this campaign")
        named_here = links.loc[line].strip() if links is not None else ""
        said = f"its suggestion_id {named_here!r} is none of this campaign's" if named_here not in ("", "nan") else "it names none"
        raise DataValidationError(
            f"{file_label}: line {line}: the file has no column(s) {[c for c in absent if c != id_col]}, so each row "
            f"needs {how} to take them from; {said} ({int(unknown.sum())} such row(s)). Add the columns, or fix "
            "the ids. Nothing was stored."
        )
    frame = frame.copy()
    for c in absent:  # numbers stay numbers; anything else (text, booleans) starts as empty objects
        frame[c] = pd.Series(np.nan, index=frame.index, dtype=float if known[c].dtype.kind in "fiu" else object)
    for c in fillable:
        take = (~unknown & frame[c].isna()).to_numpy()
        if take.any():
            if frame[c].dtype != known[c].dtype:
                frame[c] = frame[c].astype(object)
            frame.loc[take, c] = known.loc[found[take].to_numpy(), c].to_numpy()
    suggested = found.where(found.isin(suggestion_ids), "")  # a stored row is no suggestion to link
    links_out = suggested.where(suggested != "", links.str.strip() if links is not None else "")
    return frame, links_out.astype(str)


def check_links(links: pd.Series, rows: pd.DataFrame, log: pd.DataFrame, spec: CampaignSpec, file_label: str) -> None:
    """The ``suggestion_id`` cells of new rows name pending suggestions of this campaign.

    An unknown id, or one already observed or cancelled, is an error (nothing is stored): it
    would otherwise be ignored and the row matched by its inputs, or link nothing. A row whose
    inputs differ from the suggestion it names (beyond the near-match tolerance) is linked as
    the file says - the lab knows which experiment it ran - with a warning naming the inputs.

    Raises:
        DataValidationError: naming the line, the id and the fix.
    """
    given = links.astype(str).str.strip()
    given = given[~given.isin(["", "nan", "None", "NaN"])]
    if given.empty:
        return
    status = dict(zip(log["_suggestion_id"].astype(str), log["_status"].astype(str), strict=False))
    for line, ident in given.items():
        if ident not in status:
            known = f"{min(status)} .. {max(status)}" if status else "none yet"
            raise DataValidationError(
                f"{file_label}: line {line}: suggestion_id {ident!r} is not a suggestion of this campaign (its "
                f"suggestions: {known}). Fix the id or leave the cell empty. Nothing was stored."
            )
        if status[ident] != "pending":
            raise DataValidationError(
                f"{file_label}: line {line}: suggestion_id {ident!r} is already {status[ident]}; a suggestion is "
                "observed once. Fix the id, or leave the cell empty for a replicate. Nothing was stored."
            )
    suggested = log.set_index(log["_suggestion_id"].astype(str))
    spans = input_spans(log, rows, spec)
    differ = []
    for line, ident in given.items():
        diffs = []
        for inp in spec.inputs:
            if inp.name not in rows.columns or inp.name not in suggested.columns or pd.isna(rows.at[line, inp.name]):
                continue  # an input the row leaves empty does not contradict the id
            want, got = suggested.at[ident, inp.name], rows.at[line, inp.name]
            if inp.role == "numeric":
                a, b = pd.to_numeric(pd.Series([want, got]), errors="coerce")
                if not abs(a - b) <= MATCH_REL_TOL * spans[inp.name]:
                    diffs.append(f"{inp.name} {b:g} where {ident} has {a:g}")
            elif str(want) != str(got):
                diffs.append(f"{inp.name} {str(got)!r} where {ident} has {str(want)!r}")
        if diffs:
            differ.append(f"line {line}: " + ", ".join(diffs[:3]))
    if differ:
        warnings.warn(
            f"{file_label}: {len(differ)} row(s) name a suggestion made at other inputs ("
            + "; ".join(differ[:3])
            + f"; beyond {MATCH_REL_TOL:.1%} of each input's range); they are linked as the file says, since an "
            "explicit suggestion_id wins (the rows are stored as they are; check the ids of the next file before observing it)",
            DataQualityWarning,
            stacklevel=4,
        )
