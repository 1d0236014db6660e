"""Read a user's CSV/TSV into a DataFrame, turning every parser failure into a clear error."""

from __future__ import annotations

import csv
import io
import os
import re
import warnings
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from planner.exceptions import DataQualityWarning, DataValidationError

_CANDIDATE_DELIMITERS = [",", ";", "\t", "|"]
_DELIMITER_NAMES = {",": "comma ','", ";": "semicolon ';'", "\t": "tab", "|": "pipe '|'"}
# Extra spellings of "missing" seen in lab spreadsheets, on top of pandas' defaults.
_EXTRA_NA = ["N/A", "n/a", "NA", "na", "NaN", "nan", "null", "NULL", "None", "none", "#N/A", "-", "--", "?"]
# Of those, the spellings that in a text column name a level ("no dopant", "no second
# solvent") rather than a missing value; in a numeric column they stay missing.
_LEVEL_TOKENS = frozenset({"none", "None", "NONE", "-", "--"})


@dataclass(frozen=True)
class TableReadInfo:
    """What :func:`read_table` had to decide or drop to read a file."""

    path: str
    delimiter: str
    encoding: str
    had_bom: bool
    n_empty_rows_dropped: int
    dropped_empty_columns: tuple[str, ...] = field(default_factory=tuple)

    def notes(self) -> list[str]:
        out = []
        if self.n_empty_rows_dropped:
            out.append(f"{self.path}: ignored {self.n_empty_rows_dropped} completely empty row(s)")
        if self.dropped_empty_columns:
            out.append(f"{self.path}: ignored empty unnamed column(s) {list(self.dropped_empty_columns)}")
        if self.encoding != "utf-8":
            out.append(f"{self.path}: not valid UTF-8, read as {self.encoding}")
        return out


_WIDE_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def _decode(raw: bytes, path: Path) -> tuple[str, str, bool]:
    for bom, encoding in _WIDE_BOMS:  # Excel's "Unicode text" and PowerShell write UTF-16 with a BOM
        if raw.startswith(bom):
            try:
                return raw.decode(encoding), encoding, True
            except UnicodeDecodeError as err:
                raise DataValidationError(
                    f"{path}: starts with a {encoding.upper()} byte-order mark but is not valid {encoding.upper()} "
                    f"text (byte offset {err.start}). Re-save it with the encoding 'CSV UTF-8'."
                ) from err
    had_bom = raw.startswith(b"\xef\xbb\xbf")
    try:
        return raw.decode("utf-8-sig"), "utf-8", had_bom
    except UnicodeDecodeError as err:
        warnings.warn(
            f"{path}: not valid UTF-8 (byte {raw[err.start]:#04x} at offset {err.start}); read it as "
            "Windows-1252/Latin-1 instead. Save the file as UTF-8 to silence this warning.",
            DataQualityWarning,
            stacklevel=3,
        )
        return raw.decode("cp1252", errors="replace"), "cp1252", False


def _sniff_delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters="".join(_CANDIDATE_DELIMITERS)).delimiter
    except csv.Error:
        header = text.splitlines()[0] if text.strip() else ""
        counts = {d: header.count(d) for d in _CANDIDATE_DELIMITERS}
        best = max(counts, key=counts.__getitem__)
        return best if counts[best] > 0 else ","


def _keep_text_levels(frame: pd.DataFrame, text: str, sep: str, levels: Collection[str] = ()) -> pd.DataFrame:
    """Put back the cells of text columns that spell a level such as ``none`` or ``-``.

    The NA spellings make ``none`` missing everywhere; in a column that also holds other text
    (a dopant, a second solvent), or one the caller names in ``levels`` (declared categorical),
    it is a level. Numeric columns, and columns with no other text, keep it missing.
    """
    text_cols = [c for c in frame.columns if frame[c].dtype == object or c in levels]
    if not text_cols:
        return frame
    raw = pd.read_csv(
        io.StringIO(text),
        sep=sep,
        skipinitialspace=True,
        dtype=str,
        keep_default_na=False,
        na_values=[""],
        index_col=False,
        usecols=text_cols,
        engine="c",
    )
    for c in text_cols:
        restore = frame[c].isna().to_numpy() & raw[c].isin(_LEVEL_TOKENS).to_numpy()
        if restore.any():
            if frame[c].dtype != object:  # a declared level column of number codes (or nothing else)
                numbers = frame[c]
                column = numbers.astype(object)
                whole = numbers.notna() & np.isfinite(numbers) & (numbers == numbers.round())
                column[whole] = [int(v) for v in numbers[whole]]  # 1, as written, not 1.0 (the gap made floats)
                frame[c] = column
            frame.loc[restore, c] = raw[c].to_numpy()[restore]
    return frame


_CODE = re.compile(r"^[+-]?0\d")
#: A cell that starts with a zero followed by a digit, right after a line start or a delimiter.
_PADDED_CELL = re.compile(r"(?:^|[,;\t|])\s*\"?[+-]?0\d", re.MULTILINE)


def keep_zero_padded_codes(frame: pd.DataFrame, text: str, sep: str = ",") -> pd.DataFrame:
    """Columns read as integers whose cells are written with leading zeros (``001``, ``0042``)
    are codes - sample or batch ids - not quantities: they are kept as the text written, so
    that ``002`` stays ``002`` in the suggestions, the observations and the report.

    ``text`` is the text the frame was parsed from; it is parsed again, for the integer
    columns only, when a cell could be zero-padded at all."""
    ints = [
        c for c in frame.columns
        if pd.api.types.is_integer_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
        and not str(c).startswith("_")  # planner's own columns (``_obs_id``, ``_round``) are numbers
    ]
    if not ints or frame.empty or not _PADDED_CELL.search(text):
        return frame
    raw = pd.read_csv(
        io.StringIO(text), sep=sep, skipinitialspace=True, dtype=str, keep_default_na=False, na_values=[""],
        index_col=False, usecols=ints, engine="c",
    )
    for c in ints:
        values = raw[c].str.strip()
        if values.str.match(_CODE).any():
            frame[c] = values.to_numpy()
    return frame


def read_table(
    path: str | os.PathLike[str],
    *,
    delimiter: str | None = None,
    what: str = "data file",
    levels: Collection[str] = (),
) -> tuple[pd.DataFrame, TableReadInfo]:
    """Read a delimited text table written by a person or a spreadsheet program.

    A UTF-8 byte-order mark is accepted, the delimiter is detected when not given, fully
    empty rows and empty unnamed columns are dropped (and reported in the returned info),
    and column names are stripped of surrounding whitespace.

    Missing values: empty cells and the usual spellings (``NA``, ``n/a``, ``null``, ``?``, ...).
    ``none``, ``-`` and ``--`` are missing in numeric columns but a level in text columns
    (a column holding other text too), so that a pool can say "no dopant". Whole numbers
    written with leading zeros (``007``) make their column text: they are codes, not amounts.

    Args:
        path: the file to read.
        delimiter: the field separator; ``None`` detects one of ``, ; TAB |``.
        what: how to name the file in error messages (e.g. ``"observations file"``).
        levels: columns known to hold levels (a campaign's categorical inputs): ``none``, ``-``
            and ``--`` are levels there even when the column holds nothing else.

    Returns:
        The table, and a :class:`TableReadInfo` describing the decisions taken.

    Raises:
        DataValidationError: the file is missing, empty, not a delimited table, uses
            another delimiter than the one given, has ragged rows or repeated column names.
    """
    path = Path(path)
    if not path.exists():
        raise DataValidationError(
            f"{what} not found: {path} (resolved to {path.resolve()}). Check the path; relative "
            "paths are resolved from the current directory on the command line and from the "
            "campaign directory inside campaign.yaml."
        )
    if path.is_dir():
        raise DataValidationError(f"{what} {path} is a directory; give the path of a CSV file inside it.")
    if path.suffix.lower() in {".xlsx", ".xls", ".xlsm", ".ods"}:
        raise DataValidationError(
            f"{what} {path} is a spreadsheet workbook; planner reads delimited text. Export the sheet "
            "as CSV (File > Save As > CSV UTF-8) and pass the .csv file."
        )
    raw = path.read_bytes()
    if not raw.strip(b"\xef\xbb\xbf \t\r\n"):
        raise DataValidationError(
            f"{what} {path} is empty. Expected a header line with column names followed by one row per sample."
        )
    if b"\x00" in raw[:4096] and not raw.startswith(tuple(bom for bom, _ in _WIDE_BOMS)):
        head = raw[:4096]
        wide = head[1::2].count(0) > 0.4 * len(head[1::2]) or head[0::2].count(0) > 0.4 * len(head[0::2])
        if wide:
            raise DataValidationError(
                f"{what} {path}: the encoding looks like UTF-16 without a byte-order mark (every other byte is "
                "NUL), which cannot be read reliably. Re-save it with the encoding 'CSV UTF-8' (or UTF-16 with "
                "a byte-order mark)."
            )
        raise DataValidationError(
            f"{what} {path} looks binary (it contains NUL bytes): not a CSV text file in a known encoding. "
            "Export it as CSV with the encoding UTF-8."
        )
    text, encoding, had_bom = _decode(raw, path)
    chosen = delimiter if delimiter is not None else _sniff_delimiter(text)
    header_line = text.splitlines()[0]
    reader = csv.reader(io.StringIO(text), delimiter=chosen)
    try:
        n_header = len(next(csv.reader([header_line], delimiter=chosen)))
        # pandas silently turns the first column into the index when rows have one field too
        # many, so rows longer than the header are found here first.
        for row in reader:
            if len(row) > n_header and any(field.strip() for field in row[n_header:]):
                raise DataValidationError(
                    f"{what} {path}, line {reader.line_num}: has {len(row)} fields but the header has {n_header} "
                    f"(delimiter: {_DELIMITER_NAMES.get(chosen, repr(chosen))}). Quote values that contain "
                    "the delimiter, or remove the extra fields."
                )
    except csv.Error as err:
        line = max(reader.line_num, 1)
        if "field larger than field limit" in str(err):
            limit = csv.field_size_limit()
            raise DataValidationError(
                f"{what} {path}, line {line}: a cell is longer than {limit:,} characters. Table cells hold "
                "numbers, names, formulas or SMILES; a cell this long is usually an unclosed quote (\") that "
                "swallowed the rest of the file, or a text blob that belongs in a separate file. Close the quote "
                "or shorten the cell."
            ) from err
        raise DataValidationError(
            f"{what} {path}, line {line}: not readable as delimited text ({err}). Check the quoting on that line."
        ) from err
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=chosen,
            skipinitialspace=True,
            na_values=_EXTRA_NA,
            keep_default_na=True,
            dtype=None,
            index_col=False,
            float_precision="round_trip",
            engine="c",
        )
    except pd.errors.ParserError as err:
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(err))
        if match:
            n_expected, line, n_seen = match.groups()
            raise DataValidationError(
                f"{what} {path}, line {line}: has {n_seen} fields but the header has {n_expected} "
                f"(delimiter: {_DELIMITER_NAMES.get(chosen, repr(chosen))}). Quote values that contain "
                "the delimiter, or remove the extra fields."
            ) from err
        raise DataValidationError(f"{what} {path} could not be parsed as a delimited table: {err}") from err
    except pd.errors.EmptyDataError as err:
        raise DataValidationError(f"{what} {path} has no columns. Add a header line with column names.") from err
    frame = _keep_text_levels(frame, text, chosen, levels)
    frame = keep_zero_padded_codes(frame, text, chosen)

    if frame.shape[1] == 1:
        others = [d for d in _CANDIDATE_DELIMITERS if d != chosen and d in header_line]
        if others:
            found = _DELIMITER_NAMES[others[0]]
            raise DataValidationError(
                f"{what} {path}: read with delimiter {_DELIMITER_NAMES.get(chosen, repr(chosen))} it has a "
                f"single column {header_line[:60]!r}, but the header contains the {found}. The file uses "
                f"another delimiter: set `delimiter: {others[0]!r}` for this source in campaign.yaml "
                f"(or pass --delimiter {others[0]!r}), or leave the delimiter out to detect it."
            )
        unusual = [d for d in (":", "~", "^", "!", "#", " ") if len([f for f in header_line.split(d) if f.strip()]) >= 2]
        if unusual:
            d = unusual[0]
            shown = "a space" if d == " " else repr(d)
            raise DataValidationError(
                f"{what} {path}: the header {header_line[:60]!r} is one single column for the delimiters planner "
                f"detects (comma, semicolon, tab, pipe); it seems to be split by {shown}. Pass --delimiter {d!r} "
                f"(or set `delimiter: {d!r}` for this source in campaign.yaml), or save the file as a comma-"
                "separated CSV."
            )

    raw_names = next(csv.reader([header_line], delimiter=chosen))
    names = [n.strip() for n in raw_names]
    seen: dict[str, int] = {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
    repeated = sorted(n for n, c in seen.items() if c > 1 and n)
    if repeated:
        raise DataValidationError(
            f"{what} {path}: column name(s) {repeated} appear more than once in the header. "
            "Give every column a unique name."
        )
    frame.columns = [str(c).strip() for c in frame.columns]

    dropped_cols = tuple(
        c for c in frame.columns if (c.startswith("Unnamed:") or c == "") and frame[c].isna().all()
    )
    if dropped_cols:
        frame = frame.drop(columns=list(dropped_cols))
    empty_rows = frame.isna().all(axis=1)
    n_empty = int(empty_rows.sum())
    if n_empty:
        # Keep the original line numbers in the index so errors can name lines in the file.
        frame = frame.loc[~empty_rows]
    if frame.empty:
        raise DataValidationError(
            f"{what} {path} has a header ({', '.join(names[:8])}{', ...' if len(names) > 8 else ''}) "
            "but no data rows."
        )
    # Index = line number in the file (header is line 1), so messages can point at lines.
    frame.index = pd.Index(frame.index.to_numpy() + 2, name="line")
    info = TableReadInfo(
        path=str(path),
        delimiter=chosen,
        encoding=encoding,
        had_bom=had_bom,
        n_empty_rows_dropped=n_empty,
        dropped_empty_columns=dropped_cols,
    )
    return frame, info
