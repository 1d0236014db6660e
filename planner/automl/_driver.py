"""The search driver: one object that owns the clock, asks the study, runs trials and tells results.

Three ways to run a trial, one loop each:

* in the driver (no time budget, one worker): live pruning through the study;
* in a :class:`~planner.automl._worker.DeadlineWorker` (a time budget, one worker: the
  local default): a forked worker process the driver kills at the trial's deadline;
* on an executor (``n_workers > 1``, Ray): futures, pruning by a snapshot rule; a trial
  with no result by its limit + :func:`kill_grace_s` (or at the search's end) is stopped
  through ``executor.stop`` (its worker process killed, its Ray task cancelled by force).

Anytime behaviour with a budget: the cheapest default pipelines go first; a trial may use
at most :data:`TRIAL_SHARE_OF_TIME_LEFT` of the time left; the search stops early enough
to refit the best pipeline within the budget (its refit cost is predicted from its folds);
trials start at a lower fidelity - above :data:`FULL_FIDELITY_ROWS` training rows per fold a
quarter of the rows on :data:`LOW_FIDELITY_FOLDS` folds, on smaller tables with repeated CV
the first repeat only - and, as in asynchronous successive halving, the best not yet
promoted of the top third (or less, as the fidelities' cost ratio) of each fidelity is
promoted to the full evaluation. Scores of different fidelities are never ranked together.

Cost-frugal growth on large tables (above :data:`LARGE_TABLE_ROWS` training rows per fold,
FLAML's low-cost start): the enqueued defaults start boosted and bagged trees at the low end
of their size range; a complete single-model trial that is a default, or the best of its
fidelity, is re-run with twice the trees / rounds / leaves (:data:`GROW_PARAMS`, within the
space's bounds) at the same fidelity, and the growth goes on while each step beats its
parent. Only the end of a chain is promoted to full fidelity. Smaller tables search as before.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import time
import warnings
from typing import Any

import numpy as np

from planner.automl._baselines import run_baselines
from planner.automl._evaluate import TrialResult, evaluate_pipeline
from planner.automl._growth import (
    GROW_PARAMS,
    GROWN_FROM_ATTR,
    LARGE_TABLE_ROWS,
    PROMOTED_SHARE_OF_TIME_LEFT,
    SOURCE_GROWN,
    grow,
    grown_params,
    order_by_cost,
    promote_affordable,
)
from planner.automl._keys import (
    BASELINES_ATTR,
    COMPLETE,
    FAILED,
    FAILURE_REASON_ATTR,
    FIDELITY_ATTR,
    FIT_TIME_ATTR,
    FOLD_SCORES_ATTR,
    PIPELINE_ATTR,
    PROMOTED_FROM_ATTR,
    PRUNED,
    SOURCE_ATTR,
    SOURCE_PROMOTED,
    SOURCE_SAMPLER,
    TRAIN_ROWS_ATTR,
    rank_by_fidelity,
)
from planner.automl._pruning import FoldStopRule, fold_thresholds, stop_rule
from planner.exceptions import SpecError

__all__ = [
    "SearchDriver",
    "BASELINES_ATTR",
    "TRIAL_SHARE_OF_TIME_LEFT",
    "FULL_FIDELITY_ROWS",
    "LOW_FIDELITY_ROWS",
    "LARGE_TABLE_ROWS",
    "GROW_PARAMS",
    "SOURCE_GROWN",
    "GROWN_FROM_ATTR",
    "MAX_REFIT_SHARE",
    "MIN_TIMEOUT_S",
    "refit_cost_s",
    "order_by_cost",
    "grown_params",
]

#: With a timeout, one trial may use at most this share of the time left (then it is
#: stopped: pruned by its projected cost after a fold, or killed by the clock).
TRIAL_SHARE_OF_TIME_LEFT = 0.25
#: Successive halving's reduction factor (at least; see :meth:`SearchDriver._promote`).
PROMOTION_ETA = 3
#: Above this many training rows per fold, trials start at a lower fidelity.
FULL_FIDELITY_ROWS = 3_000
#: Training rows per fold of a low-fidelity trial: a quarter of them, within these bounds.
LOW_FIDELITY_ROWS = (1_500, 8_000)
#: Below this budget nothing useful can run (worker start, one fold, a refit).
MIN_TIMEOUT_S = 5.0
#: A trial is not started with less than this many seconds for it.
MIN_TRIAL_S = 1.0
#: Seconds the refit reserve keeps besides the predicted refits: the final stage's own costs
#: (a process for the refit and one for the calibration, the study's copy, the applicability
#: domain, saving the model), 1-3 s on a loaded 2-core machine.
FINAL_OVERHEAD_S = 2.5
#: Trials whose refit cost the reserve covers (the single best, and likely ensemble members).
RESERVE_TOP = 3
#: Refit-time margin: a refit on all rows is predicted from one fold's time x rows ratio x this.
REFIT_MARGIN = 1.5
#: Seconds a trial on an executor may run past its limit before its worker is killed:
#: this plus :data:`KILL_GRACE_SHARE` of the limit (the limit itself is checked between folds).
KILL_GRACE_S = 1.0
KILL_GRACE_SHARE = 0.05
#: A pipeline whose predicted refit needs more than this share of the budget is not kept
#: in the refit reserve: the final refit takes the best one whose refit fits the time left.
MAX_REFIT_SHARE = 0.5
#: Likewise for the best pipeline's calibration (out-of-fold predictions recomputed on all rows).
MAX_CALIBRATION_SHARE = 0.25
def folds_per_repeat(splits: list[tuple[np.ndarray, np.ndarray]], n_rows: int) -> int:
    """Folds of the first repeat: the splits are repeat-major, a repeat's test folds cover every row once."""
    covered = 0
    for i, (_, test) in enumerate(splits):
        covered += len(test)
        if covered >= n_rows:
            return i + 1
    return len(splits)


def low_fidelity_rows(train_rows: int) -> int | None:
    """Training rows per fold of a low-fidelity trial (``None``: the table is small, all rows)."""
    if train_rows <= FULL_FIDELITY_ROWS:
        return None
    low, high = LOW_FIDELITY_ROWS
    return int(min(high, max(low, train_rows // 4)))


#: Folds a low-fidelity trial runs (of the planned ones).
LOW_FIDELITY_FOLDS = 2
def refit_cost_s(frozen: Any, n_rows: int) -> float:
    """Predicted seconds to refit a trial's pipeline on ``n_rows`` rows (from its folds)."""
    attrs = frozen.user_attrs
    folds = len([s for s in attrs.get(FOLD_SCORES_ATTR) or [] if s is not None])
    return predicted_refit_s(attrs.get(FIT_TIME_ATTR), folds, attrs.get(TRAIN_ROWS_ATTR), n_rows)


def predicted_refit_s(fit_time_s: float | None, n_folds: int | None, train_rows: float | None, n_rows: int) -> float:
    """Seconds to refit on ``n_rows`` rows, from ``fit_time_s`` spent on ``n_folds`` folds of
    ``train_rows`` training rows each (a trial's or a baseline's record)."""
    per_fold = float(fit_time_s or 0.0) / max(1, int(n_folds or 1))
    rows = float(train_rows or n_rows * 0.8)
    return per_fold * max(1.0, n_rows / max(rows, 1.0)) * REFIT_MARGIN


def calibration_cost_s(frozen: Any, n_rows: int, n_folds: int) -> float:
    """Predicted seconds to recompute a trial's out-of-fold predictions on all rows (one repeat
    of ``n_folds`` folds), what the final model's calibrated intervals need when the search did
    not store them (a model with its own spread, a low-fidelity trial); ``0`` past the limit at
    which the calibration does not recompute them."""
    from planner.automl._calibrate import MAX_RECOMPUTE_S

    cost = refit_cost_s(frozen, n_rows) / REFIT_MARGIN * n_folds * 0.8
    return cost if cost <= MAX_RECOMPUTE_S else 0.0


def kill_grace_s(limit: float) -> float:
    """Seconds past a trial's limit before it is stopped by force."""
    return KILL_GRACE_S + KILL_GRACE_SHARE * limit


def stop_future(executor: Any, future: Any) -> None:
    """Stop one call on an executor: ``executor.stop`` kills its worker; else cancel (and abandon) it."""
    stop = getattr(executor, "stop", None)
    try:
        stop(future) if stop is not None else future.cancel()
    except Exception:  # noqa: BLE001 - the executor is already shut down
        future.cancel()


def _warm_imports() -> None:
    """Import scikit-learn's common pieces once in the driver, so every forked worker has them."""
    import importlib

    for name in ("sklearn.pipeline", "sklearn.compose", "sklearn.impute", "sklearn.preprocessing", "sklearn.linear_model", "sklearn.ensemble", "sklearn.model_selection", "sklearn.metrics"):
        importlib.import_module(name)


class SearchDriver:
    """Runs one search call: owns the clock and the trials in flight.

    Args:
        study: The Optuna study (ask/tell).
        space: The :class:`~planner.automl.SearchSpace`.
        ctx: The :class:`~planner.automl._space.SpaceContext` of the data.
        X: Features, `n x d` (prepared).
        y: Target, `n`.
        splits: The CV splits every trial shares.
        objective: The objective :class:`~planner.automl._metrics.Metric`.
        seed: Seed of the sampler and the estimators.
        n_trials: Trials to start in this call (``None``: until the clock stops it).
        timeout_s: Seconds for the whole call, including the refit reserve.
        reserve_refit: Stop early enough to refit the best pipeline inside ``timeout_s``.
        n_workers: Trials at once.
        executor: ``None`` (local), or an object with ``submit``.
        eval_kwargs: Passed to every :func:`~planner.automl.evaluate_pipeline` call.
        make_sampler: ``make_sampler(n_existing) -> sampler`` (reproducible on resume).
        callbacks: Called with ``(study, frozen_trial)`` after each trial.
        bar: A tqdm bar or ``None``.
        started: ``time.monotonic()`` when the call began (the clock counts data preparation).
    """

    #: Fewer seconds than this left: no trial (and no baseline) starts.
    min_trial_s = MIN_TRIAL_S

    def __init__(
        self,
        *,
        study: Any,
        space: Any,
        ctx: Any,
        X: Any,
        y: np.ndarray,
        splits: list[tuple[np.ndarray, np.ndarray]],
        objective: Any,
        seed: int,
        n_trials: int | None,
        timeout_s: float | None,
        reserve_refit: bool,
        n_workers: int,
        executor: Any,
        eval_kwargs: dict[str, Any],
        make_sampler: Any,
        callbacks: Any = (),
        bar: Any = None,
        started: float | None = None,
    ) -> None:
        self.study, self.space, self.ctx = study, space, ctx
        self.X, self.y, self.splits, self.objective = X, y, splits, objective
        self.seed, self.n_trials, self.n_workers, self.executor = seed, n_trials, n_workers, executor
        self.eval_kwargs, self.make_sampler, self.callbacks, self.bar = eval_kwargs, make_sampler, tuple(callbacks), bar
        self.started = time.monotonic() if started is None else started
        self.deadline = None if timeout_s is None else self.started + float(timeout_s)
        self.timeout_s = timeout_s
        self.reserve_refit = reserve_refit
        self.n_started = 0
        self.in_flight: dict[Any, tuple[Any, dict[str, Any]]] = {}
        self.n_warmup = max(1, len(splits) // 3)
        self.train_rows = int(np.mean([len(tr) for tr, _ in splits]))
        self.low_rows = low_fidelity_rows(self.train_rows)
        per_repeat = folds_per_repeat(splits, len(y))
        self.per_repeat = per_repeat
        if self.low_rows is not None:
            self.low_folds = LOW_FIDELITY_FOLDS if len(splits) > LOW_FIDELITY_FOLDS else None
        else:
            # small tables: the first repeat of the repeated CV first, every repeat when promoted
            self.low_folds = per_repeat if per_repeat < len(splits) else None
        self.large = self.train_rows > LARGE_TABLE_ROWS
        self.worker: Any = None

    # ------------------------------------------------------------------ clock

    def _best_full(self, k: int | None = 1) -> list[Any]:
        """The ``k`` best complete trials (all with ``None``), ranked as the final refit ranks them."""
        from optuna.trial import TrialState

        sign = 1.0 if self.objective.direction == "minimize" else -1.0
        done = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        # the order fit_final chooses in: full fidelity first, unless a low-fidelity trial clearly beats it
        return rank_by_fidelity([t for t in done if t.value is not None], sign)[:k]

    def reserve_s(self) -> float:
        """Seconds kept back for the final stage: refitting the best pipelines (the single best
        and likely ensemble members) and recomputing the best one's out-of-fold predictions for
        its calibrated intervals, each predicted from its folds, plus :data:`FINAL_OVERHEAD_S`."""
        if not self.reserve_refit:
            return 0.0
        ranked = self._best_full(None)
        if self.timeout_s is not None:
            # a refit that needs most of the budget is not reserved for: the best cheaper one is
            # (fit_final refits the best trial whose refit fits the time left)
            ranked = [t for t in ranked if refit_cost_s(t, len(self.y)) <= MAX_REFIT_SHARE * float(self.timeout_s)]
        # a large table keeps no out-of-fold predictions (MAX_OOF_VALUES), so no ensemble: the best alone
        best = ranked[: 1 if self.large else RESERVE_TOP]
        costs = [refit_cost_s(t, len(self.y)) for t in best]
        calibration = calibration_cost_s(best[0], len(self.y), self.per_repeat) if best else 0.0
        if self.timeout_s is not None and calibration > MAX_CALIBRATION_SHARE * float(self.timeout_s):
            # a calibration that needs more than a quarter of the budget is not reserved for: the
            # search goes on and the model says its intervals are uncalibrated
            calibration = 0.0
        return FINAL_OVERHEAD_S + sum(costs) + calibration

    def time_left(self) -> float | None:
        """Seconds the search may still use (``None``: no clock)."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - self.reserve_s() - time.monotonic())

    def has_complete(self) -> bool:
        from optuna.trial import TrialState

        return bool(self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))

    def trial_limit(self, trial: Any = None) -> float | None:
        """Hard seconds for the next trial: the time left, and a share of it once a trial
        completed (on a large table, a promoted trial may use :data:`PROMOTED_SHARE_OF_TIME_LEFT`)
        - but never less than :data:`MIN_TRIAL_S` while that much is left, so the last seconds
        still run cheap trials instead of ending the search early."""
        left = self.time_left()
        if left is None:
            return None
        if not self.has_complete():
            return left
        promoted = self.large and trial is not None and trial.user_attrs.get(SOURCE_ATTR) == SOURCE_PROMOTED
        share = PROMOTED_SHARE_OF_TIME_LEFT if promoted else TRIAL_SHARE_OF_TIME_LEFT
        return max(share * left, min(left, MIN_TRIAL_S))

    def budget_left(self) -> bool:
        if self.n_trials is not None and self.n_started >= self.n_trials:
            return False
        left = self.time_left()
        return left is None or left >= MIN_TRIAL_S

    # ------------------------------------------------------------------ study

    def ask(self) -> tuple[Any, dict[str, Any]]:
        from optuna.trial import TrialState

        self.study.sampler = self.make_sampler(len(self.study.get_trials(deepcopy=False)))
        trial = self.study.ask()
        trial.set_user_attr(SOURCE_ATTR, trial.user_attrs.get(SOURCE_ATTR, SOURCE_SAMPLER))
        try:
            params = self.space.suggest(trial, self.ctx)
        except ValueError as err:
            self.study.tell(trial, state=TrialState.FAIL)
            raise SpecError(f"{self.space.source}: the space cannot be sampled in study {self.study.study_name!r} ({err}); start a new study") from err
        self.n_started += 1
        return trial, params

    def _fidelity_kwargs(self, trial: Any | None) -> dict[str, Any]:
        """``max_train_rows`` / ``max_folds`` of a trial: low fidelity unless promoted (or a small table)."""
        if (self.low_rows is None and self.low_folds is None) or (trial is not None and trial.user_attrs.get(SOURCE_ATTR) == SOURCE_PROMOTED):
            return {"max_train_rows": None, "max_folds": None}
        return {"max_train_rows": self.low_rows, "max_folds": self.low_folds}

    def _fidelity(self, kw: dict[str, Any]) -> float:
        rows = 1.0 if kw["max_train_rows"] is None else min(1.0, kw["max_train_rows"] / self.train_rows)
        folds = 1.0 if kw["max_folds"] is None else min(1.0, kw["max_folds"] / len(self.splits))
        return rows * folds

    def _n_folds(self, kw: dict[str, Any]) -> int:
        return len(self.splits) if kw["max_folds"] is None else min(len(self.splits), kw["max_folds"])

    def tell(self, trial: Any, result: TrialResult, *, report: bool) -> Any:
        from optuna.trial import TrialState

        for key, value in result.user_attrs().items():
            trial.set_user_attr(key, value)
        kw = self._fidelity_kwargs(trial)
        trial.set_user_attr(TRAIN_ROWS_ATTR, int(kw["max_train_rows"] or self.train_rows))
        if report:
            for step, value in enumerate(result.running_means()):
                trial.report(float(value), step)
        if result.status == COMPLETE:
            frozen = self.study.tell(trial, result.value)
        elif result.status == PRUNED:
            frozen = self.study.tell(trial, state=TrialState.PRUNED)
        else:
            frozen = self.study.tell(trial, state=TrialState.FAIL)
        if not self.large:
            self._promote(frozen)
        elif not self._grow(frozen) and not self.study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            # the low-cost starts and their growth ran: the best affordable one goes to full fidelity
            self._promote_affordable()
        self._finished(frozen)
        return frozen

    def _promote(self, frozen: Any) -> None:
        """Asynchronous successive halving (ASHA): when a low-fidelity trial completes, the best
        not yet promoted of the top ``1/eta`` of its fidelity (the best one always) is re-run
        at full fidelity. ``eta`` is at least :data:`PROMOTION_ETA` and at least the cost ratio
        of the two fidelities, so promotions cost about what the low-fidelity trials do."""
        from optuna.trial import TrialState

        fidelity = float(frozen.user_attrs.get(FIDELITY_ATTR, 1.0))
        if frozen.state != TrialState.COMPLETE or fidelity >= 1.0:
            return
        sign = 1.0 if self.objective.direction == "minimize" else -1.0
        trials = self.study.get_trials(deepcopy=False)
        low = sorted((t for t in trials if t.state == TrialState.COMPLETE and float(t.user_attrs.get(FIDELITY_ATTR, 1.0)) < 1.0), key=lambda t: (sign * t.value, t.number))
        promoted = {int(n) for t in trials if (n := t.user_attrs.get(PROMOTED_FROM_ATTR)) is not None}  # run, running or queued
        seen = {repr(sorted(trials[n].params.items())) for n in promoted if n < len(trials)}  # a repeat is not promoted again
        eta = max(PROMOTION_ETA, round(1.0 / max(fidelity, 1e-3)))
        for t in low[: max(1, len(low) // eta)]:
            if t.number not in promoted and repr(sorted(t.params.items())) not in seen:
                self.study.enqueue_trial(dict(t.params), user_attrs={SOURCE_ATTR: SOURCE_PROMOTED, PROMOTED_FROM_ATTR: t.number})
                return

    def _grow(self, frozen: Any) -> bool:
        return grow(self, frozen)

    def _promote_affordable(self) -> None:
        promote_affordable(self)

    def _finished(self, frozen: Any) -> None:
        if self.bar is not None:
            self.bar.update(1)
            try:
                best = self.study.best_trial
                self.bar.set_postfix_str(f"best {self.objective.name}={best.value:.4g} [{best.user_attrs.get(PIPELINE_ATTR, '?')}] #{best.number}")
            except ValueError:
                pass
        for callback in self.callbacks:
            callback(self.study, frozen)

    # ------------------------------------------------------------------ loops

    def run(self) -> None:
        """Run trials until the trial count or the clock says stop."""
        from planner.automl._worker import DeadlineWorker, fork_available

        if self.executor is not None:
            self._run_on_executor()
        elif self.deadline is not None and fork_available():
            _warm_imports()
            self.worker = DeadlineWorker(self.X, self.y)
            try:
                self._run_in_worker()
            finally:
                self.worker.close()
        else:
            self._run_in_driver()
        if self.deadline is not None and self.n_started == 0 and not self.has_complete():
            spent = time.monotonic() - self.started
            raise SpecError(
                f"a time budget of {self.timeout_s:g} s is too small for this table ({len(self.y)} rows): preparing the data "
                f"took {spent:.1f} s and left no time for one trial. Give --timeout {int(math.ceil(3 * spent + 10))} or more"
            )

    def _run_in_driver(self) -> None:
        direction = self.objective.direction
        while self.budget_left():
            trial, params = self.ask()

            def on_fold(step: int, value: float, trial: Any = trial) -> str | None:
                trial.report(value, step)
                rule = FoldStopRule(fold_thresholds(self.study.get_trials(deepcopy=False), direction, exclude=trial.number), direction, self.n_warmup)
                return rule(step, value)

            self.in_flight[None] = (trial, params)
            limit = self.trial_limit(trial)
            result = evaluate_pipeline(params, self.X, self.y, on_fold=on_fold, time_limit_s=limit, max_trial_s=limit, **self._fidelity_kwargs(trial), **self.eval_kwargs)
            del self.in_flight[None]
            self.tell(trial, result, report=False)
            if self.has_complete() and self.budget_left():
                run_baselines(self)
        if self.has_complete():
            run_baselines(self)

    def _run_in_worker(self) -> None:
        while self.budget_left():
            trial, params = self.ask()
            first = not self.has_complete()
            limit = self.trial_limit(trial)
            # the first trial is only stopped by the clock: its first fold pays one-off costs
            projected_cap = None if first else limit
            fid = self._fidelity_kwargs(trial)
            rule = stop_rule(self.study, self.objective.direction, self.n_warmup)
            self.in_flight[None] = (trial, params)
            kwargs = {k: v for k, v in self.eval_kwargs.items() if k != "metric"}
            result = self.worker.evaluate(
                params,
                limit_s=limit,
                rule=rule,
                on_fold=lambda step, value, trial=trial: trial.report(value, step),
                metric=self.objective.name,
                n_folds=self._n_folds(fid),
                fidelity=self._fidelity(fid),
                max_trial_s=projected_cap,
                **fid,
                **kwargs,
            )
            del self.in_flight[None]
            frozen = self.tell(trial, result, report=False)
            if first and result.status != COMPLETE and (result.failure_reason or "").startswith("TimeBudget") and not self.has_complete():
                raise SpecError(self._too_small(frozen, result))
            if self.has_complete() and self.budget_left():
                run_baselines(self)
        if self.has_complete():
            run_baselines(self)

    def _too_small(self, frozen: Any, result: TrialResult) -> str:
        done = len(result.fold_scores)
        per_fold = result.fit_time_s / max(done, 0.5)
        smallest = math.ceil((per_fold * (len(self.splits) + 1.25 * REFIT_MARGIN) + 3.0) * 1.2)
        return (
            f"a time budget of {self.timeout_s:g} s is too small for this table ({len(self.y)} rows): the cheapest pipeline "
            f"({frozen.user_attrs.get(PIPELINE_ATTR, '?')}) finished {done} of {len(self.splits)} folds in {result.fit_time_s:.1f} s, so one trial "
            f"and its refit need about {smallest} s. Give --timeout {smallest} or more (or fewer CV folds in the search space's cv section)"
        )

    def _run_on_executor(self) -> None:
        put = getattr(self.executor, "put", None) or (lambda obj: obj)
        X_shared, y_shared = put(self.X), put(self.y)
        hard: dict[Any, tuple[float, float, float]] = {}  # future -> (hard deadline, its limit in s, submitted at)
        try:
            while self.budget_left() or self.in_flight:
                while self.budget_left() and len(self.in_flight) < self.n_workers:
                    trial, params = self.ask()
                    rule = stop_rule(self.study, self.objective.direction, self.n_warmup)
                    limit = self.trial_limit(trial)
                    future = self.executor.submit(evaluate_pipeline, params, X_shared, y_shared, on_fold=rule, time_limit_s=limit, max_trial_s=limit, **self._fidelity_kwargs(trial), **self.eval_kwargs)
                    self.in_flight[future] = (trial, params)
                    if limit is not None:
                        now = time.monotonic()
                        hard[future] = (now + limit + kill_grace_s(limit), limit, now)
                # the search's own end (its deadline less the refit reserve) stops every trial still running
                end_all = self._hard_end()
                wait_s = None if not hard else max(0.0, min([h[0] for h in hard.values()] + [end_all]) - time.monotonic())
                done, _ = cf.wait([f for f in self.in_flight if f is not None], timeout=wait_s, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    trial, params = self.in_flight.pop(future)
                    hard.pop(future, None)
                    try:
                        result = future.result()
                    except Exception as err:  # noqa: BLE001 - a worker crash (after the executor's retries) is this trial's failure
                        from planner.executors import describe_failure

                        result = TrialResult(params=params, status=FAILED, metric=self.objective.name, value=None, fold_scores=(), n_folds=len(self.splits), failure_reason=f"worker error: {describe_failure(err)}")
                    self.tell(trial, result, report=True)
                now = time.monotonic()
                end_all = self._hard_end()
                for future in [f for f, h in hard.items() if min(h[0], end_all) <= now and f in self.in_flight and not f.done()]:
                    _, limit, submitted = hard.pop(future)
                    self._stop_late(future, min(limit, max(0.0, end_all - submitted)), now - submitted)
        finally:
            for future in list(self.in_flight):  # an error above: nothing may keep running
                if future is not None and not future.done():
                    stop_future(self.executor, future)

    def _hard_end(self) -> float:
        """When every trial still running is stopped: the deadline less the refit reserve (``inf``: no clock)."""
        return math.inf if self.deadline is None else self.deadline - self.reserve_s()

    def _stop_late(self, future: Any, limit: float, elapsed: float) -> None:
        """Stop a trial past its hard deadline (its worker is killed) and tell the study it was pruned."""
        trial, params = self.in_flight.pop(future)
        stop_future(self.executor, future)
        fid = self._fidelity_kwargs(trial)
        reason = (
            f"TimeBudget: stopped at its deadline of {limit:.1f} s after {elapsed:.1f} s without a result "
            "(still inside a fold, or waiting for a worker to start); its worker process was killed"
        )
        result = TrialResult(params=dict(params), status=PRUNED, metric=self.objective.name, value=None, fold_scores=(), n_folds=self._n_folds(fid), fit_time_s=elapsed, failure_reason=reason, fidelity=self._fidelity(fid))
        self.tell(trial, result, report=False)

    def abort(self) -> None:
        """Close the trials in flight as failed (interrupted) and stop the worker."""
        from optuna.trial import TrialState

        if self.worker is not None:
            self.worker.kill()
        for future, (trial, _) in self.in_flight.items():
            if future is not None:
                future.cancel()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                trial.set_user_attr(FAILURE_REASON_ATTR, "interrupted: the search stopped before this trial finished")
                self.study.tell(trial, state=TrialState.FAIL)
        self.in_flight.clear()
