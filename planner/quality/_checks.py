"""The checks of the quality report, registered in one list, in report order.

Each check is a small function ``check(data, spec) -> QualityCheck | None``: it reads the
table from a :class:`~planner.quality.QualityData` and its settings from the
:class:`~planner.quality.QualitySpec`, and returns its finding (``None`` when it does not apply
and has nothing to report, e.g. the target check without targets). A check that does not apply
but should be visible returns a ``skipped`` finding with the reason. To add a check, write the
function beside its characteristic's others and list it here.
"""

from __future__ import annotations

from collections.abc import Callable

from planner.quality._accuracy import check_bounds, check_non_numeric, check_outliers, check_units
from planner.quality._completeness import (
    check_column_missingness,
    check_row_missingness,
    check_target_missing,
    check_uninformative_columns,
)
from planner.quality._consistency import (
    check_attribute_agreement,
    check_entity_agreement,
    check_id_reuse,
    check_relations,
)
from planner.quality._data import QualityData
from planner.quality._report import CHARACTERISTICS, QualityCheck
from planner.quality._spec import QualitySpec
from planner.quality._timeliness import (
    check_date_coverage,
    check_date_format,
    check_future_dates,
    check_stale_dates,
)
from planner.quality._uniqueness import check_duplicate_entities, check_duplicate_ids, check_exact_duplicates
from planner.quality._validity import (
    check_allowed_values,
    check_formulas,
    check_fraction_groups,
    check_non_negative,
    check_rules,
)

__all__ = ["CHECKS", "Check", "run_checks"]

#: A check: ``(data, spec) -> finding``, or ``None`` when it has nothing to report.
Check = Callable[[QualityData, QualitySpec], QualityCheck | None]

#: Every check, grouped by characteristic in :data:`CHARACTERISTICS` order.
CHECKS: tuple[Check, ...] = (
    # accuracy
    check_non_numeric,
    check_bounds,
    check_units,
    check_outliers,
    # consistency
    check_entity_agreement,
    check_attribute_agreement,
    check_id_reuse,
    check_relations,
    # validity
    check_fraction_groups,
    check_non_negative,
    check_allowed_values,
    check_formulas,
    check_rules,
    # completeness
    check_column_missingness,
    check_row_missingness,
    check_target_missing,
    check_uninformative_columns,
    # timeliness
    check_date_format,
    check_future_dates,
    check_stale_dates,
    check_date_coverage,
    # uniqueness
    check_exact_duplicates,
    check_duplicate_ids,
    check_duplicate_entities,
)


def run_checks(data: QualityData, spec: QualitySpec, checks: tuple[Check, ...] = CHECKS) -> list[QualityCheck]:
    """Run ``checks`` in order; the findings sorted (stably) by characteristic."""
    findings = [found for check in checks if (found := check(data, spec)) is not None]
    order = {ch: i for i, ch in enumerate(CHARACTERISTICS)}
    findings.sort(key=lambda c: order[c.characteristic])
    return findings
