"""Reading user tables with clear errors, and atomic writes that survive a kill."""

from planner.io._atomic import (
    atomic_replace,
    atomic_write_bytes,
    atomic_write_text,
    file_lock,
    new_file_mode,
    storage_failure,
)
from planner.io._export import spreadsheet_safe, write_export_csv
from planner.io._sqlite import enable_sqlite_wal
from planner.io._tables import TableReadInfo, keep_zero_padded_codes, read_table

__all__ = [
    "atomic_replace",
    "atomic_write_bytes",
    "atomic_write_text",
    "enable_sqlite_wal",
    "file_lock",
    "new_file_mode",
    "keep_zero_padded_codes",
    "read_table",
    "spreadsheet_safe",
    "storage_failure",
    "TableReadInfo",
    "write_export_csv",
]
