"""The report's sections, in the order the reader meets them."""

from __future__ import annotations

from planner.report._next import glossary, next_steps
from planner.report._sections import best_pipeline, leaderboard, quality, search, summary
from planner.report._sections_lab import active_learning, backtests
from planner.report._sections_model import interpretation, uncertainty

SECTIONS = (
    next_steps,
    summary,
    quality,
    leaderboard,
    best_pipeline,
    search,
    interpretation,
    uncertainty,
    active_learning,
    backtests,
    glossary,
)
