"""The HTML page: one self-contained file (plotly.js inlined once, no network), readable at laptop width."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

_CSS = """
:root { --fg:#1f2933; --muted:#5f6b7a; --line:#d9dee5; --bg:#ffffff; --soft:#f5f7fa; --accent:#2a6fdb;
        --pass:#1b7f3b; --warn:#a86100; --fail:#b42318; }
* { box-sizing: border-box; }
body { margin:0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif;
       color:var(--fg); background:var(--bg); }
header { padding: 20px 28px 12px; border-bottom: 1px solid var(--line); background: var(--soft); }
header h1 { margin: 0 0 4px; font-size: 24px; }
header p { margin: 2px 0; color: var(--muted); }
nav { position: sticky; top: 0; z-index: 5; background: #fff; border-bottom: 1px solid var(--line); padding: 6px 28px;
      display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 14px; }
nav a { color: var(--accent); text-decoration: none; white-space: nowrap; }
main { max-width: 1280px; margin: 0 auto; padding: 8px 28px 40px; }
section { padding-top: 14px; border-bottom: 1px solid var(--line); padding-bottom: 18px; }
h2 { font-size: 20px; margin: 10px 0 8px; }
h3 { font-size: 17px; margin: 18px 0 6px; }
h4 { font-size: 15px; margin: 12px 0 4px; }
p.note { color: var(--muted); font-size: 13.5px; margin: 4px 0; }
p.missing { background: #fff8e6; border-left: 4px solid var(--warn); padding: 8px 12px; margin: 8px 0; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 10px 18px; }
.fig { min-width: 0; border: 1px solid var(--line); border-radius: 6px; padding: 4px; background: #fff; }
.tablewrap { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 13.5px; margin: 6px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th::after { content: " \\2195"; color: #9aa5b1; font-size: 11px; }
table.kv th { width: 220px; }
details { margin: 6px 0; }
summary { cursor: pointer; color: var(--accent); }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12.5px; font-weight: 600; color: #fff; }
.badge.pass { background: var(--pass); } .badge.warn { background: var(--warn); } .badge.fail { background: var(--fail); }
.badge.skipped { background: #8a94a3; }
code { background: var(--soft); padding: 0 4px; border-radius: 3px; font-size: 13px; }
footer { color: var(--muted); font-size: 13px; padding: 16px 28px; }
@media (max-width: 700px) { .grid { grid-template-columns: 1fr; } main, header, nav { padding-left: 12px; padding-right: 12px; } }
"""

# Click a header to sort (numbers by data-v, text otherwise); click again to reverse.
_SORT_JS = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var asc = th.getAttribute('data-dir') !== 'asc';
      table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('data-dir'); });
      th.setAttribute('data-dir', asc ? 'asc' : 'desc');
      function key(r) { var c = r.cells[col]; var v = c.getAttribute('data-v'); return v === null ? c.textContent : parseFloat(v); }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (typeof x === 'number' && typeof y === 'number') {
          if (isNaN(x)) return 1; if (isNaN(y)) return -1; return asc ? x - y : y - x; }
        return asc ? String(x).localeCompare(String(y)) : String(y).localeCompare(String(x));
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def fmt(value: Any, digits: int = 4) -> str:
    """A cell's text: numbers with ``digits`` significant digits, blanks for missing values."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if not math.isfinite(float(value)):
            return ""
        return f"{float(value):.{digits}g}"
    return str(value)


@dataclass
class Section:
    """One numbered section: its HTML blocks, its lines for the Markdown summary, its figures,
    and what it lacks (``missing_texts``: each :meth:`missing` line as plain text, for
    :attr:`ReportResult.missing <planner.report.ReportResult.missing>`)."""

    key: str
    title: str
    blocks: list[str] = field(default_factory=list)
    markdown: list[str] = field(default_factory=list)
    n_figures: int = 0
    missing_texts: list[str] = field(default_factory=list)

    def add(self, *blocks: str) -> None:
        self.blocks.extend(b for b in blocks if b)

    def missing(self, text: str) -> None:
        self.blocks.append(f'<p class="missing">{esc(text)}</p>')
        self.missing_texts.append(text)

    def note(self, text: str) -> None:
        self.blocks.append(f'<p class="note">{esc(text)}</p>')

    def heading(self, text: str, level: int = 3) -> None:
        self.blocks.append(f"<h{level}>{esc(text)}</h{level}>")


class FigureWriter:
    """Collects plotly figures as JSON; the page draws them all once the layout is final.

    Drawing each figure where its ``<div>`` is parsed would size it before the grid around it
    is complete (a first grid cell briefly spans the whole row), so plots render after load.
    """

    def __init__(self) -> None:
        self.specs: list[str] = []

    @property
    def count(self) -> int:
        return len(self.specs)

    def __call__(self, fig: Any, *, height: int = 380) -> str:
        import plotly.io as pio

        div_id = f"fig-{self.count + 1}"
        fig.update_layout(height=height, autosize=True)
        self.specs.append(f'{{"id":"{div_id}","fig":{pio.to_json(fig, validate=False)}}}')
        return f'<div class="fig"><div id="{div_id}" class="plotly-graph-div" style="height:{height}px;width:100%"></div></div>'

    def script(self) -> str:
        config = '{"displaylogo":false,"responsive":true,"toImageButtonOptions":{"format":"svg","scale":1}}'
        # "</" cannot appear inside an inline script; JSON allows "<\/" for "</"
        figures = ",".join(self.specs).replace("</", "<\\/")
        return (
            f"var PLANNER_FIGURES=[{figures}];"
            "window.addEventListener('load',function(){PLANNER_FIGURES.forEach(function(f){"
            f"Plotly.newPlot(f.id,f.fig.data,f.fig.layout,{config});}});}});"
        )


def grid(items: Iterable[str]) -> str:
    items = [i for i in items if i]
    return f'<div class="grid">{"".join(items)}</div>' if items else ""


def badge(status: str) -> str:
    return f'<span class="badge {esc(status)}">{esc(status.upper())}</span>'


def table(
    frame: pd.DataFrame,
    *,
    sortable: bool = False,
    digits: int = 4,
    raw_html: Sequence[str] = (),
    caption: str | None = None,
) -> str:
    """An HTML table of ``frame`` (index dropped); numbers right-aligned and sortable by value."""
    cls = ' class="sortable"' if sortable else ""
    head = "".join(f"<th>{esc(c)}</th>" for c in frame.columns)
    numeric = {c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])}
    body = []
    for row in frame.itertuples(index=False, name=None):
        cells = []
        for col, value in zip(frame.columns, row, strict=True):
            if col in raw_html:
                cells.append(f"<td>{value}</td>")
            elif col in numeric:
                v = float(value) if value is not None and not pd.isna(value) else float("nan")
                cells.append(f'<td class="num" data-v="{v!r}">{esc(fmt(value, digits))}</td>')
            else:
                cells.append(f"<td>{esc(fmt(value, digits))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return f'<div class="tablewrap"><table{cls}>{cap}<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def key_values(items: Mapping[str, str], *, raw: bool = False) -> str:
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{v if raw else esc(v)}</td></tr>" for k, v in items.items())
    return f'<div class="tablewrap"><table class="kv"><tbody>{rows}</tbody></table></div>'


def details(summary: str, inner: str) -> str:
    return f"<details><summary>{esc(summary)}</summary>{inner}</details>"


def page(*, title: str, subtitle: list[str], sections: list[Section], figures: FigureWriter, footer: str) -> str:
    """The whole document, plotly.js inlined so it opens offline."""
    from plotly.offline import get_plotlyjs

    nav = "".join(f'<a href="#{esc(s.key)}">{i}. {esc(s.title)}</a>' for i, s in enumerate(sections, 1))
    body = "".join(
        f'<section id="{esc(s.key)}"><h2>{i}. {esc(s.title)}</h2>{"".join(s.blocks)}</section>' for i, s in enumerate(sections, 1)
    )
    sub = "".join(f"<p>{esc(line)}</p>" for line in subtitle)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}</style>"
        # plotly.js must be defined before the figures' inline scripts run
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
        f"<header><h1>{esc(title)}</h1>{sub}</header><nav>{nav}</nav><main>{body}</main>"
        f"<footer>{esc(footer)}</footer><script>{_SORT_JS}</script><script>{figures.script()}</script></body></html>\n"
    )
