"""``build_report``: gather the campaign's records, build the sections, write HTML and Markdown atomically.

:func:`write_report` builds from a :class:`~planner.report.ReportInputs` record alone;
:func:`build_report` gathers that record from a campaign first (:func:`~planner.report.gather_inputs`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from planner.exceptions import SpecError
from planner.layout import REPORT_HTML_FILE, REPORT_MARKDOWN_FILE
from planner.report._records import ReportInputs

__all__ = ["ReportResult", "build_report", "write_report", "HTML_FILE", "MARKDOWN_FILE"]

HTML_FILE = REPORT_HTML_FILE
MARKDOWN_FILE = REPORT_MARKDOWN_FILE


@dataclass(frozen=True)
class ReportResult:
    """What :func:`build_report` wrote.

    Attributes:
        html_path: The self-contained HTML report.
        markdown_path: The short Markdown summary (for a lab notebook or a pull request).
        timings: Seconds per step (reading, each section, out-of-fold, SHAP, writing, total).
        n_figures: Plots in the HTML page.
        missing: One line per section part that had no data, as shown in the report.
    """

    html_path: Path
    markdown_path: Path
    timings: dict[str, float] = field(default_factory=dict)
    n_figures: int = 0
    missing: tuple[str, ...] = ()


def _paths(inputs: ReportInputs, out: str | os.PathLike[str] | None) -> tuple[Path, Path]:
    if out is None:
        directory = inputs.paths.reports_dir
        return directory / HTML_FILE, directory / MARKDOWN_FILE
    html_path = Path(out)
    if html_path.suffix.lower() not in (".html", ".htm"):
        raise SpecError(f"--out must name an .html file (e.g. report.html), got {str(out)!r}; the Markdown summary is written beside it")
    return html_path, html_path.with_suffix(".md")


def build_report(
    campaign: Any,
    out: str | os.PathLike[str] | None = None,
    *,
    allow_recompute: bool = True,
    max_shap_samples: int = 200,
    progress: Callable[[str], None] | None = None,
) -> ReportResult:
    """Write the campaign report from what the campaign directory stores.

    Sections: 1 campaign summary, 2 data quality, 3 leaderboard, 4 best pipeline,
    5 search, 6 interpretation (SHAP), 7 uncertainty, 8 active learning, 9 backtests.
    A section whose data is not stored says what is missing and how to get it.

    Args:
        campaign: A loaded :class:`~planner.campaign.Campaign` (``Campaign.load(directory)``),
            or the :class:`ReportInputs` already gathered from one.
        out: Path of the HTML file; the Markdown summary goes beside it with suffix
            ``.md``. Default ``<campaign>/reports/report.html`` and ``reports/summary.md``.
        allow_recompute: When the best trial's out-of-fold predictions are not stored,
            cross-validate that one pipeline again on the study's folds (seconds; the
            search is never re-run). ``False`` leaves the parity and calibration plots out.
        max_shap_samples: Rows explained with SHAP (a seeded sample beyond this).

    Returns:
        The :class:`ReportResult`.

    Raises:
        SpecError: ``out`` is not an ``.html`` path, or ``campaign`` is a path (load it first).
    """
    total = time.perf_counter()
    if isinstance(campaign, ReportInputs):
        inputs, read_s = campaign, 0.0
    else:
        from planner.report._gather import gather_inputs

        inputs = gather_inputs(campaign)
        read_s = time.perf_counter() - total
    result = write_report(inputs, out, allow_recompute=allow_recompute, max_shap_samples=max_shap_samples, progress=progress)
    result.timings["read campaign"] += read_s
    result.timings["total"] = time.perf_counter() - total
    return result


def write_report(
    inputs: ReportInputs,
    out: str | os.PathLike[str] | None = None,
    *,
    allow_recompute: bool = True,
    max_shap_samples: int = 200,
    progress: Callable[[str], None] | None = None,
) -> ReportResult:
    """Write the report of the campaign that ``inputs`` was gathered from (see :func:`build_report`).

    Reads nothing of the campaign beyond ``inputs`` (and the stored models and studies it holds).
    """
    from planner._version import __version__
    from planner.io import atomic_write_text
    from planner.report._context import Context
    from planner.report._figures import family_colors
    from planner.report._html import FigureWriter, page
    from planner.report._order import SECTIONS

    total = time.perf_counter()
    timings: dict[str, float] = {}
    html_path, md_path = _paths(inputs, out)

    start = time.perf_counter()
    families = [f for r in inputs.targets if r.trials is not None and not r.trials.empty for f in r.trials["model_family"]]
    ctx = Context(
        inputs=inputs,
        figures=FigureWriter(),
        allow_recompute=allow_recompute,
        max_shap_samples=max_shap_samples,
        colors=family_colors(families),
        timings=timings,
    )
    timings["read campaign"] = time.perf_counter() - start

    sections = []
    for index, build in enumerate(SECTIONS, start=1):
        if progress is not None:
            progress(f"[{index}/{len(SECTIONS)}] {build.__name__.strip('_').replace('_', ' ')}")
        start = time.perf_counter()
        sections.append(build(ctx))
        timings[f"section {build.__name__}"] = time.perf_counter() - start

    start = time.perf_counter()
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    name, directory = inputs.spec.name, inputs.paths.directory
    document = page(
        title=f"Campaign report: {name}",
        subtitle=[f"{directory} · generated {now} · planner {__version__}", "Built only from what the campaign stores; regenerate it any time with `planner report`."],
        sections=sections,
        figures=ctx.figures,
        footer=f"planner {__version__} · {now} · every figure is interactive (hover, zoom, download as SVG)",
    )
    html_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(html_path, document)
    md_lines = [f"# Campaign report: {name}", "", f"Generated {now} by planner {__version__} from `{directory}`; full report: `{html_path.name}`.", ""]
    for section in sections:
        md_lines += section.markdown
    md_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(md_path, "\n".join(md_lines) + "\n")
    timings["write"] = time.perf_counter() - start
    timings["total"] = time.perf_counter() - total
    missing = tuple(f"{section.title}: {text}" for section in sections for text in section.missing_texts)
    return ReportResult(html_path=html_path, markdown_path=md_path, timings=timings, n_figures=ctx.figures.count, missing=missing)
