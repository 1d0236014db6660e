"""The report's sections, in the order the reader meets them."""

from __future__ import annotations

from planner.report._next import glossary, next_steps
from planner.report._sections import best_pipeline, interpretation, leaderboard, quality, search, summary, uncertainty
from planner.report._sections_lab import active_learning, backtests

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
