"""Append-only storage of observations inside a campaign directory.

One CSV file, ``observations.csv``, replaced atomically on every append (write a temporary
file, fsync, :func:`os.replace`), under an advisory lock. A process killed at any moment
leaves either the old or the new file, never a torn one. Rows are never edited or removed.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from planner.io import atomic_write_text, file_lock, keep_zero_padded_codes
from planner.layout import LOCK_FILE, OBSERVATIONS_FILE

# ``_fulfils``: the suggestion an observation fulfils, stored in the same atomic write as the row
# (see planner.campaign._suggestions); empty for observations no suggestion asked for.
META_COLUMNS = ["_obs_id", "_batch", "_observed_at", "_source", "_file", "_line", "_row_hash", "_fulfils"]


class ObservationStore:
    """The campaign's own measurements (``observations.csv``)."""

    FILE = OBSERVATIONS_FILE
    LOCK = LOCK_FILE

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / self.FILE

    def lock(self, timeout_s: float = 30.0):  # noqa: ANN201 - context manager
        return file_lock(self.directory / self.LOCK, timeout_s=timeout_s)

    def read(self) -> pd.DataFrame:
        """All stored observations, oldest first (an empty frame before the first)."""
        if not self.path.exists():
            return pd.DataFrame(columns=META_COLUMNS)
        text = self.path.read_text(encoding="utf-8")  # one read: both parses see the same file
        frame = pd.read_csv(
            io.StringIO(text),
            dtype={"_batch": str, "_source": str, "_file": str, "_row_hash": str, "_fulfils": str},
            float_precision="round_trip",
            keep_default_na=False,
            na_values=[""],
        )
        return keep_zero_padded_codes(frame, text)

    def read_links(self) -> pd.DataFrame:
        """Only ``_obs_id`` and ``_fulfils`` (the suggestion each observation fulfils): what the
        suggestion log needs on every read, without parsing every measured column."""
        if not self.path.exists():
            return pd.DataFrame(columns=["_obs_id", "_fulfils"])
        return pd.read_csv(
            self.path,
            usecols=lambda c: c in ("_obs_id", "_fulfils"),
            dtype={"_fulfils": str},
            keep_default_na=False,
            na_values=[""],
        )

    def append(
        self,
        rows: pd.DataFrame,
        *,
        source: str,
        file: str | None,
        lines: pd.Index | None = None,
        fulfils: list[str] | None = None,
    ) -> pd.DataFrame:
        """Add ``rows`` (already validated and de-duplicated); returns them with their meta columns.

        Must be called while holding :meth:`lock`.
        """
        existing = self.read()
        now = datetime.now(UTC)
        start = int(existing["_obs_id"].max()) + 1 if len(existing) else 1
        new = rows.reset_index(drop=True).copy()
        meta = pd.DataFrame(
            {
                "_obs_id": range(start, start + len(new)),
                "_batch": now.strftime("%Y%m%dT%H%M%S%fZ"),
                "_observed_at": now.isoformat(timespec="seconds"),
                "_source": source,
                "_file": file or "",
                "_line": list(lines) if lines is not None else [""] * len(new),
            }
        )
        meta["_fulfils"] = list(fulfils) if fulfils is not None else [""] * len(new)
        new = pd.concat([meta, new], axis=1)
        combined = new if existing.empty else pd.concat([existing, new], ignore_index=True, sort=False)
        if "_fulfils" not in combined.columns:  # pragma: no cover - new rows always carry it
            combined["_fulfils"] = ""
        combined["_fulfils"] = combined["_fulfils"].fillna("")
        ordered = META_COLUMNS + [c for c in combined.columns if c not in META_COLUMNS]
        buffer = io.StringIO()
        combined[ordered].to_csv(buffer, index=False)
        atomic_write_text(self.path, buffer.getvalue())
        return new
