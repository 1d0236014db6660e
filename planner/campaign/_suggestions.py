"""The log of suggested experiments; a suggestion stays *pending* until it is observed.

Two `planner suggest` calls in a row must not propose the same experiments, so pending
suggestions are handed to the acquisition step as pending points and excluded from pools.
A suggestion becomes *observed* when an observation carries its ``suggestion_id`` or, failing
that, has the same categorical inputs and numeric inputs within ``rel_tol`` of the design range
(a lab seldom hits 0.3512 exactly when 0.35 was asked for).

The link is stored *with the observation* (the ``_fulfils`` meta column of
``observations.csv``), in the same atomic write that stores the row. ``suggestions.csv`` is
written after it, so a process killed between the two writes leaves observations that fulfil
suggestions still marked pending there; every read overlays the links found in the
observations, so the log never shows a fulfilled suggestion as pending, and the next
``observe`` writes the repaired file.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from planner.io import atomic_write_text, keep_zero_padded_codes
from planner.layout import SUGGESTIONS_FILE
from planner.spec import CampaignSpec

SUGGESTION_META = ["_suggestion_id", "_round", "_suggested_at", "_strategy", "_model", "_status", "_observed_obs_id"]
LINK_COLUMN = "suggestion_id"
#: An observation within this share of each numeric input's range fulfils a suggestion.
MATCH_REL_TOL = 0.005
FULFILS_COLUMN = "_fulfils"  # meta column of observations.csv: the suggestion an observation fulfils


class SuggestionLog:
    """``suggestions.csv``: every suggestion ever made, with its status."""

    def __init__(self, directory: str | Path, *, observations: Callable[[], pd.DataFrame] | None = None) -> None:
        self.path = Path(directory) / SUGGESTIONS_FILE
        self._observations = observations

    def read_raw(self) -> pd.DataFrame:
        """``suggestions.csv`` as written, without the links stored with the observations."""
        if not self.path.exists():
            return pd.DataFrame(columns=SUGGESTION_META)
        text = self.path.read_text(encoding="utf-8")  # one read: both parses see the same file
        # only an empty cell is missing: a level such as None, NA or none stays the level it was
        frame = pd.read_csv(
            io.StringIO(text), dtype={"_suggestion_id": str, "_status": str}, float_precision="round_trip",
            keep_default_na=False, na_values=[""],
        )
        return keep_zero_padded_codes(frame, text)

    def read(self) -> pd.DataFrame:
        """Every suggestion, its status reconciled with the observations that fulfil it."""
        return self.reconcile()[0]

    def reconcile(self) -> tuple[pd.DataFrame, int]:
        """The log with pending suggestions that a stored observation fulfils marked observed.

        Returns the frame and how many statuses it changed against the file (0 when the two
        writes of an ``observe`` both landed).
        """
        frame = self.read_raw()
        if self._observations is None or frame.empty:
            return frame, 0
        observed = self._observations()
        if FULFILS_COLUMN not in observed.columns or observed.empty:
            return frame, 0
        links = observed[[FULFILS_COLUMN, "_obs_id"]].dropna(subset=[FULFILS_COLUMN])
        links = links[links[FULFILS_COLUMN].astype(str).str.len() > 0]
        obs_of = dict(zip(links[FULFILS_COLUMN].astype(str), links["_obs_id"], strict=False))
        stale = (frame["_status"] == "pending") & frame["_suggestion_id"].astype(str).isin(obs_of)
        if stale.any():
            frame.loc[stale, "_status"] = "observed"
            frame.loc[stale, "_observed_obs_id"] = frame.loc[stale, "_suggestion_id"].astype(str).map(obs_of)
        return frame, int(stale.sum())

    def repair(self) -> int:
        """Write the reconciled log if it differs from the file (call holding the campaign lock)."""
        frame, changed = self.reconcile()
        if changed:
            self._write(frame)
        return changed

    def _write(self, frame: pd.DataFrame) -> None:
        ordered = SUGGESTION_META + [c for c in frame.columns if c not in SUGGESTION_META]
        buffer = io.StringIO()
        frame[ordered].to_csv(buffer, index=False)
        atomic_write_text(self.path, buffer.getvalue())

    def pending(self) -> pd.DataFrame:
        frame = self.read()
        return frame[frame["_status"] == "pending"].reset_index(drop=True)

    def append(self, table: pd.DataFrame, *, strategy: str, model: str) -> pd.DataFrame:
        """Log new suggestions (call while holding the campaign lock); returns them with ids."""
        existing = self.read()
        n_before = len(existing)
        round_index = int(existing["_round"].max()) + 1 if n_before else 1
        meta = pd.DataFrame(
            {
                "_suggestion_id": [f"S{n_before + k + 1:04d}" for k in range(len(table))],
                "_round": round_index,
                "_suggested_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "_strategy": strategy,
                "_model": model,
                "_status": "pending",
                "_observed_obs_id": np.nan,
            }
        )
        new = pd.concat([meta, table.reset_index(drop=True)], axis=1)
        combined = new if existing.empty else pd.concat([existing, new], ignore_index=True, sort=False)
        self._write(combined)
        return new

    def cancel(self, ids: list[str] | None = None, *, all_pending: bool = False, reason: str = "") -> list[str]:
        """Withdraw pending suggestions (call holding the campaign lock); returns the ids cancelled.

        A cancelled suggestion stays in the log with ``_status`` 'cancelled', the time and the
        reason: withdrawn, never deleted. It is no longer a pending point for ``suggest``.

        Raises:
            CampaignError: an id is unknown or not pending (observed or already cancelled);
                nothing is changed then.
        """
        from planner.exceptions import CampaignError

        frame = self.read()
        if all_pending:
            ids = frame.loc[frame["_status"] == "pending", "_suggestion_id"].astype(str).tolist()
        ids = [str(i).strip() for i in (ids or [])]
        known = dict(zip(frame["_suggestion_id"].astype(str), frame["_status"].astype(str), strict=False))
        unknown = [i for i in ids if i not in known]
        pending = [k for k, v in known.items() if v == "pending"]
        if unknown:
            raise CampaignError(
                f"{self.path}: no suggestion with id {', '.join(map(repr, unknown))}. Pending ids: "
                f"{', '.join(pending) if pending else 'none'} (list them with `planner suggestions DIR --pending`)."
            )
        not_pending = [f"{i} ({known[i]})" for i in ids if known[i] != "pending"]
        if not_pending:
            raise CampaignError(
                f"{self.path}: only pending suggestions can be cancelled; {', '.join(not_pending)} "
                "are not. Nothing was changed."
            )
        if ids:
            hit = frame["_suggestion_id"].astype(str).isin(ids)
            for column in ("_cancelled_at", "_cancel_reason"):  # text (read back as floats when all empty)
                frame[column] = frame[column].astype(object) if column in frame.columns else None
            frame.loc[hit, "_status"] = "cancelled"
            frame.loc[hit, "_cancelled_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            frame.loc[hit, "_cancel_reason"] = reason
            self._write(frame)
        return ids

    def match(
        self,
        observations: pd.DataFrame,
        spec: CampaignSpec,
        *,
        rel_tol: float = MATCH_REL_TOL,
        log: pd.DataFrame | None = None,
    ) -> pd.Series:
        """Which pending suggestion each observation fulfils (index of ``observations`` -> id).

        An explicit ``suggestion_id`` column wins; otherwise the same categorical inputs and
        numeric inputs within ``rel_tol`` of the design range. Each suggestion and each
        observation is used at most once. Nothing is written. ``log``: :meth:`read`'s table when
        the caller has it already.
        """
        frame = self.read() if log is None else log
        pending = frame.index[frame["_status"] == "pending"]
        found = pd.Series(dtype=object)
        if not len(pending) or observations.empty:
            return found
        numeric = [i.name for i in spec.inputs if i.role == "numeric"]
        other = [i.name for i in spec.inputs if i.role != "numeric"]
        spans = input_spans(frame, observations, spec)
        used: dict[object, str] = {}
        for idx in pending:
            suggestion = frame.loc[idx]
            match = None
            if LINK_COLUMN in observations:
                hits = observations.index[observations[LINK_COLUMN].astype(str) == suggestion["_suggestion_id"]]
                match = next((h for h in hits if h not in used), None)
            if match is None:
                close = pd.Series(True, index=observations.index)
                for name in numeric:
                    diff = (pd.to_numeric(observations[name], errors="coerce") - float(suggestion[name])).abs()
                    close &= diff <= rel_tol * spans[name]
                for name in other:
                    close &= observations[name].astype(str) == str(suggestion[name])
                match = next((h for h in observations.index[close] if h not in used), None)
            if match is not None:
                used[match] = str(suggestion["_suggestion_id"])
        return pd.Series(used, dtype=object)


def input_spans(log: pd.DataFrame, observations: pd.DataFrame, spec: CampaignSpec) -> dict[str, float]:
    """Each numeric input's span: the design range where campaign.yaml gives one, else the
    range over the suggestions and the observations (the scale of the near-match tolerance)."""
    spans = {}
    for inp in spec.inputs:
        if inp.role != "numeric":
            continue
        if inp.name in spec.design_space.ranges:
            low, high = spec.design_space.ranges[inp.name]
            spans[inp.name] = high - low
        else:
            values = pd.to_numeric(pd.concat([log[inp.name], observations[inp.name]]), errors="coerce")
            spans[inp.name] = float(values.max() - values.min()) or 1.0
    return spans

