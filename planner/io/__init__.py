"""Reading user tables with clear errors, and atomic writes that survive a kill."""

from planner.io._atomic import atomic_write_text, file_lock
from planner.io._tables import TableReadInfo, read_table

__all__ = ["atomic_write_text", "file_lock", "read_table", "TableReadInfo"]
