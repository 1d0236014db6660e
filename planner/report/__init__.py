"""The campaign report: one self-contained HTML file and a short Markdown summary.

::

    from planner.campaign import Campaign
    from planner.report import build_report
    result = build_report(Campaign.load("my-campaign"))   # my-campaign/reports/report.html + summary.md
    result.html_path, result.markdown_path, result.timings

    # or in two steps: read the campaign once into a frozen record, then write from it
    from planner.report import gather_inputs, write_report
    inputs = gather_inputs(campaign)             # ReportInputs: spec, frames, studies, models, paths
    write_report(inputs, "lab/report.html")

The report takes a loaded campaign (or the record), never a path: it does not import the
campaign package, so that ``Campaign.report`` can call it.

Built only from what the campaign directory stores (observations, the Optuna study, the refit
model, the quality report, suggestions, backtests); it never runs the search. Importing this
package loads nothing heavy: plotly, optuna and shap load inside :func:`build_report`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from planner.report._build import ReportResult, build_report, write_report
    from planner.report._gather import gather_inputs
    from planner.report._records import BacktestRun, Missing, ReportInputs, ReportPaths, TargetRecords

__all__ = [
    "ReportResult",
    "build_report",
    "write_report",
    "gather_inputs",
    "ReportInputs",
    "ReportPaths",
    "TargetRecords",
    "BacktestRun",
    "Missing",
]

_WHERE = {
    "ReportResult": "_build",
    "build_report": "_build",
    "write_report": "_build",
    "gather_inputs": "_gather",
    "ReportInputs": "_records",
    "ReportPaths": "_records",
    "TargetRecords": "_records",
    "BacktestRun": "_records",
    "Missing": "_records",
}


def __getattr__(name: str) -> Any:
    # Plain imports (not importlib) so that the architecture test sees what this package loads.
    if name in _WHERE:
        from planner.report import _build, _gather, _records

        value = getattr({"_build": _build, "_gather": _gather, "_records": _records}[_WHERE[name]], name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'planner.report' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
