"""The campaign report: one self-contained HTML file and a short Markdown summary.

::

    from planner.report import build_report
    result = build_report("my-campaign")        # my-campaign/reports/report.html + summary.md
    result.html_path, result.markdown_path, result.timings

Built only from what the campaign directory stores (observations, the Optuna study, the refit
model, the quality report, suggestions, backtests); it never runs the search. Importing this
package loads nothing heavy: plotly, optuna and shap load inside :func:`build_report`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from planner.report._build import ReportResult, build_report

__all__ = ["ReportResult", "build_report"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from planner.report import _build

        value = getattr(_build, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'planner.report' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
