"""Data sources: reading, combining and merging the tables of a campaign, with every change logged.

The first stage of the data flow (sources -> quality -> steps -> search -> suggestions -> report):

* :class:`SourceTable` — one input table with its column mapping (renames, units);
* :func:`combine_sources` — rename, convert units and stack; every row kept (what the quality
  report assesses), with a :class:`CleaningLog`;
* :func:`merge_sources` — also resolve rows describing the same entity (id or normalized
  composition, under the same conditions) by a strategy in :data:`MERGE_STRATEGIES`, with a
  :class:`MergeLog` naming every merged or dropped row;
* :func:`clean_dataset` — the row/column drops that are safe before cross-validation;
* :func:`composition_keys` — the normalized composition per row (also the groups of a GroupKFold);
* :func:`convert_units` — pint conversion with messages naming the column.

Example::

    from planner.sources import SourceTable, combine_sources, merge_sources

    sources = [SourceTable.from_path("lab.csv", units={"conductivity": "mS/cm"}), SourceTable.from_path("lit.csv")]
    combined, log = combine_sources(sources, units={"conductivity": "S/cm"})
    merged, merge_log = merge_sources(sources, composition_column="composition", strategy="median")
"""

from planner.chem._units import convert_units
from planner.sources._clean import clean_dataset
from planner.sources._entities import composition_keys
from planner.sources._log import CleaningAction, CleaningLog, MergeLog
from planner.sources._merge import MERGE_STRATEGIES, merge_sources
from planner.sources._table import SourceTable, combine_sources

__all__ = [
    "MERGE_STRATEGIES",
    "CleaningAction",
    "CleaningLog",
    "MergeLog",
    "SourceTable",
    "clean_dataset",
    "combine_sources",
    "composition_keys",
    "convert_units",
    "merge_sources",
]
