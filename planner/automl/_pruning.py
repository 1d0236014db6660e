"""Fold-level pruning: stop a trial whose running mean is among the worst at that fold.

One rule for both executors. In the driver, :func:`make_pruner` gives Optuna a pruner
that applies it through ``trial.report`` / ``trial.should_prune``; for remote workers the
driver snapshots the same thresholds into a picklable
:class:`~planner.automl._evaluate.FoldStopRule`.

The reference population is every earlier trial that reached the fold, completed *or
pruned*: comparing with completed trials only (Optuna's median and percentile pruners)
compares with the survivors, which on small noisy tables pruned most new trials.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["KEEP_PERCENTILE", "N_STARTUP", "FoldStopRule", "fold_thresholds", "stop_rule", "make_pruner"]

#: A trial is stopped when its running mean is worse than this percentile of the earlier
#: trials' at the same fold (60: it is in the worst 40%), as in successive halving:
#: half-evaluated losers free the budget for more candidates.
KEEP_PERCENTILE = 60.0
#: Completed trials needed before anything is pruned.
N_STARTUP = 5


@dataclass(frozen=True)
class FoldStopRule:
    """Picklable form of the rule, for workers that cannot reach the study.

    The driver snapshots, per fold step, a percentile of the earlier trials' running
    means; a trial whose running mean is worse at a step past the warm-up is stopped.

    Attributes:
        thresholds: Threshold running mean per fold step (``None`` where too few trials).
        direction: ``"minimize"`` or ``"maximize"``.
        n_warmup_steps: Steps before which nothing is stopped.
    """

    thresholds: tuple[float | None, ...]
    direction: str
    n_warmup_steps: int = 1

    def __call__(self, step: int, running_mean: float) -> str | None:
        """The reason to stop after fold ``step`` (a sentence), or ``None`` to go on."""
        if step < self.n_warmup_steps or step >= len(self.thresholds) or self.thresholds[step] is None:
            return None
        threshold = self.thresholds[step]
        worse = running_mean > threshold if self.direction == "minimize" else running_mean < threshold  # type: ignore[operator]
        if not worse:
            return None
        side = "above" if self.direction == "minimize" else "below"
        return (
            f"Pruned: mean score {running_mean:.4g} after {step + 1} fold(s) is {side} {threshold:.4g}, "
            f"the {KEEP_PERCENTILE:.0f}th-percentile mark of earlier trials at that fold (in the worst {100 - KEEP_PERCENTILE:.0f}%)"
        )


def fold_thresholds(trials: Iterable[Any], direction: str, *, exclude: int | None = None) -> tuple[float | None, ...]:
    """Per fold step, the running mean a trial must not be worse than (``None``: no rule yet).

    Args:
        trials: Finished trials (``state``, ``number``, ``intermediate_values``).
        direction: ``"minimize"`` or ``"maximize"``.
        exclude: A trial number to leave out (the one being judged).
    """
    per_step: dict[int, list[float]] = {}
    n_complete = 0
    for t in trials:
        if t.number == exclude or t.state.name not in ("COMPLETE", "PRUNED"):
            continue
        n_complete += t.state.name == "COMPLETE"
        for step, value in t.intermediate_values.items():
            per_step.setdefault(step, []).append(value)
    if n_complete < N_STARTUP:
        return ()
    q = KEEP_PERCENTILE if direction == "minimize" else 100.0 - KEEP_PERCENTILE
    n_steps = max(per_step, default=-1) + 1
    return tuple(float(np.percentile(per_step[s], q)) if len(per_step.get(s, ())) >= N_STARTUP else None for s in range(n_steps))


def stop_rule(study: Any, direction: str, n_warmup: int) -> FoldStopRule:
    """Snapshot the rule for a worker that cannot reach the study."""
    return FoldStopRule(thresholds=fold_thresholds(study.get_trials(deepcopy=False), direction), direction=direction, n_warmup_steps=n_warmup)


def make_pruner(n_warmup: int) -> Any:
    """An ``optuna.pruners.BasePruner`` applying the rule to the trial running in the driver."""
    import optuna

    class FoldPercentilePruner(optuna.pruners.BasePruner):
        def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
            step = trial.last_step
            if step is None:
                return False
            direction = "minimize" if study.direction == optuna.study.StudyDirection.MINIMIZE else "maximize"
            thresholds = fold_thresholds(study.get_trials(deepcopy=False), direction, exclude=trial.number)
            rule = FoldStopRule(thresholds=thresholds, direction=direction, n_warmup_steps=n_warmup)
            return rule(step, trial.intermediate_values[step]) is not None

    return FoldPercentilePruner()
