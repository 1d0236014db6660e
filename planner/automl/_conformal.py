"""Conformal prediction intervals and sets from a saved model's out-of-fold predictions.

The search cross-validates every pipeline; the out-of-fold (OOF) predictions of the final
model are residuals on rows that model's fold fits never saw. Conformal calibration turns
them into intervals with a finite-sample coverage guarantee under exchangeability (the
"CV" variant of jackknife+/CV+, Barber et al. 2021: the refit model's prediction plus the
conformal quantile of the OOF scores). Where the model states a spread, the score is the
*normalised* residual ``|y - y_hat| / (std + beta)``, so intervals widen where the model is
unsure (crepes' normalised conformal regressor, MAPIE's ``ResidualNormalisedScore``).
Mondrian calibration computes the quantile per group (campaign's group column); a group with
fewer than :data:`MIN_RESIDUALS` residuals falls back to the pooled quantile, and says so.

Classification: LAC prediction sets (``{c : 1 - p_c <= q}``, Sadinle et al. 2019) from the OOF
probabilities, and probabilities recalibrated on the OOF rows (Platt scaling per class, one
against the rest, below 1,000 rows; isotonic above).

Everything is recomputed from the stored OOF table at predict time (it is small), so nothing
but that table has to be versioned.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from planner.exceptions import SpecError

__all__ = [
    "DEFAULT_LEVELS",
    "MIN_RESIDUALS",
    "check_levels",
    "conformal_quantile",
    "level_suffix",
    "RegressionCalibrator",
    "ClassificationCalibrator",
]

DEFAULT_LEVELS = (0.9,)
#: Below this many out-of-fold residuals (pooled, or in one Mondrian group) the interval is
#: written but marked uncalibrated (pooled) or taken from the pooled residuals (group).
MIN_RESIDUALS = 20
#: ``beta = BETA_FRACTION * median(OOF std)`` keeps a near-zero spread from giving a
#: zero-width interval.
BETA_FRACTION = 0.1


def check_levels(levels: float | Iterable[float] | None) -> tuple[float, ...]:
    """Validated interval levels, e.g. ``(0.9,)``.

    Raises:
        SpecError: A level outside (0, 1) or not a number.
    """
    if levels is None:
        return DEFAULT_LEVELS
    values = [levels] if isinstance(levels, int | float) else list(levels)
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or not 0 < v < 1:
            raise SpecError(
                f"interval level {v!r} is not a coverage strictly between 0 and 1; give e.g. --interval 0.9 (90 %)"
            )
        out.append(float(v))
    if not out:
        raise SpecError("no interval level given; give e.g. --interval 0.9")
    return tuple(dict.fromkeys(out))


def level_suffix(level: float, n_levels: int) -> str:
    """Column suffix: none for one level, ``_90`` (``_97.5``) when several are written."""
    if n_levels == 1:
        return ""
    pct = round(level * 100, 6)
    return f"_{int(pct)}" if float(pct).is_integer() else f"_{pct:g}"


def conformal_quantile(scores: np.ndarray, level: float) -> float:
    """The ``ceil((n + 1) * level)``-th smallest score: ``inf`` when ``n`` is too small.

    This is the split-conformal quantile: a new exchangeable score falls at or below it with
    probability at least ``level``.
    """
    s = np.sort(np.asarray(scores, dtype=float)[np.isfinite(scores)])
    k = int(math.ceil((len(s) + 1) * level - 1e-9))  # 0.9 * 60 is 54.000000000000007 in floats
    if k > len(s) or k < 1:
        return math.inf
    return float(s[k - 1])


def _group_keys(groups: Any, n: int) -> np.ndarray | None:
    if groups is None:
        return None
    g = pd.Series(np.asarray(groups, dtype=object)).astype(str).to_numpy()
    if len(g) != n:
        raise SpecError(f"groups has {len(g)} entries for {n} rows; give one group label per row")
    return g


@dataclass(frozen=True)
class RegressionCalibrator:
    """Conformal regression intervals from out-of-fold residuals.

    Attributes:
        residuals: ``y - y_hat`` out of fold, `n`.
        std: The model's OOF spread per row (`n`), or ``None`` (plain residuals).
        groups: Group per OOF row (Mondrian), or ``None``.
        beta: Offset added to the spread in the normalised score.
        notes: Why normalisation or Mondrian was (not) used.
    """

    residuals: np.ndarray
    std: np.ndarray | None = None
    groups: np.ndarray | None = None
    beta: float = 0.0
    notes: tuple[str, ...] = field(default=())
    in_domain: np.ndarray | None = None

    @classmethod
    def from_oof(cls, oof: pd.DataFrame, *, use_groups: bool = True) -> RegressionCalibrator:
        """From an OOF table with ``y_true``, ``prediction`` and optionally ``std``, ``group``."""
        y = pd.to_numeric(oof["y_true"], errors="coerce").to_numpy(float)
        p = pd.to_numeric(oof["prediction"], errors="coerce").to_numpy(float)
        ok = np.isfinite(y) & np.isfinite(p)
        residuals = (y - p)[ok]
        notes: list[str] = []
        std = None
        beta = 0.0
        if "std" in oof:
            s = pd.to_numeric(oof["std"], errors="coerce").to_numpy(float)[ok]
            if np.isfinite(s).all() and (s >= 0).all() and np.median(s) > 0:
                rho = pd.Series(np.abs(residuals)).corr(pd.Series(s), method="spearman")
                b = float(BETA_FRACTION * np.median(s))
                # normalise only where it pays: a spread that tracks the errors gives narrower
                # intervals on the out-of-fold rows at the default level than plain residuals
                plain = conformal_quantile(np.abs(residuals), DEFAULT_LEVELS[0])
                scaled = conformal_quantile(np.abs(residuals) / (s + b), DEFAULT_LEVELS[0]) * float(np.mean(s + b))
                if rho is not None and np.isfinite(rho) and rho > 0 and scaled < plain:
                    std, beta = s, b
                    notes.append(
                        f"normalised by the model's spread (Spearman {rho:.2f} between |residual| and spread; "
                        f"mean out-of-fold 90% width {2 * scaled:.3g} against {2 * plain:.3g} unnormalised)"
                    )
                else:
                    notes.append(
                        f"plain residuals: the model's spread does not track its errors out of fold (Spearman {rho:.2f}; "
                        f"normalised mean 90% width {2 * scaled:.3g} against {2 * plain:.3g})"
                    )
        groups = None
        if use_groups and "group" in oof and oof["group"].notna().any():
            groups = _group_keys(oof["group"].to_numpy()[ok], int(ok.sum()))
        in_domain = None
        if "in_domain" in oof:
            in_domain = oof["in_domain"].astype(str).str.lower().isin(["true", "1", "1.0"]).to_numpy()[ok]
        return cls(residuals=residuals, std=std, groups=groups, beta=beta, notes=tuple(notes), in_domain=in_domain)

    @property
    def n(self) -> int:
        return len(self.residuals)

    @property
    def is_normalised(self) -> bool:
        return self.std is not None

    def _scores(self) -> np.ndarray:
        r = np.abs(self.residuals)
        return r / (self.std + self.beta) if self.std is not None else r

    def quantiles(self, level: float) -> tuple[float, dict[str, float]]:
        """Pooled quantile and per-group quantiles (groups with enough residuals only)."""
        scores = self._scores()
        pooled = conformal_quantile(scores, level)
        per_group: dict[str, float] = {}
        if self.groups is not None:
            for g in np.unique(self.groups):
                mask = self.groups == g
                if mask.sum() >= MIN_RESIDUALS:
                    q = conformal_quantile(scores[mask], level)
                    if math.isfinite(q):
                        per_group[str(g)] = q
        return pooled, per_group

    def intervals(
        self,
        prediction: np.ndarray,
        std: np.ndarray | None,
        level: float,
        *,
        groups: Sequence[Any] | np.ndarray | None = None,
        in_domain: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
        """Lower and upper bounds at ``level`` for predictions (`m`).

        Mondrian on the domain flag: when the out-of-fold rows include :data:`MIN_RESIDUALS`
        inside and outside their fold's applicability domain, rows outside the domain
        (``in_domain`` false) get at least the out-of-domain quantile and rows inside the
        in-domain one; otherwise a note says out-of-domain intervals could not be widened.

        Returns:
            ``(lower, upper, is_calibrated, notes)``; ``is_calibrated`` is per row.
        """
        prediction = np.asarray(prediction, dtype=float)
        m = len(prediction)
        notes: list[str] = []
        scale = np.ones(m)
        if self.std is not None:
            s = np.full(m, np.nan) if std is None else np.asarray(std, dtype=float)
            if not np.isfinite(s).all():  # the model gives no spread for some rows: use the median OOF spread
                s = np.where(np.isfinite(s), s, float(np.median(self.std)))
            scale = s + self.beta
        pooled, per_group = self.quantiles(level)
        calibrated = np.full(m, self.n >= MIN_RESIDUALS and math.isfinite(pooled))
        if not math.isfinite(pooled):
            # too few residuals for a finite conformal quantile: the largest score seen, uncalibrated
            scores = self._scores()
            pooled = float(np.max(scores)) if len(scores) else math.nan
        q = np.full(m, pooled)
        new_keys = _group_keys(groups, m) if self.groups is not None and groups is not None else None
        if new_keys is not None:
            known = np.array([k in per_group for k in new_keys])
            q = np.where(known, [per_group.get(k, pooled) for k in new_keys], pooled)
            fallback = sorted({k for k in new_keys if k not in per_group})
            if fallback:
                seen = set(self.groups.tolist())
                small = [k for k in fallback if k in seen]
                unseen = [k for k in fallback if k not in seen]
                if small:
                    notes.append(f"group(s) {_short(small)} have fewer than {MIN_RESIDUALS} out-of-fold residuals: pooled quantile used")
                if unseen:
                    notes.append(f"group(s) {_short(unseen)} were not in the training data: pooled quantile used")
        if in_domain is not None and self.in_domain is not None:
            outside = ~np.asarray(in_domain, dtype=bool)
            n_out, n_in = int((~self.in_domain).sum()), int(self.in_domain.sum())
            if n_out >= MIN_RESIDUALS and n_in >= MIN_RESIDUALS:
                q_out = conformal_quantile(self._scores()[~self.in_domain], level)
                q_in = conformal_quantile(self._scores()[self.in_domain], level)
                if math.isfinite(q_out) and math.isfinite(q_in):
                    # Mondrian on the domain flag; a group's own quantile stays for in-domain rows
                    is_pooled = q == pooled
                    q = np.where(outside, np.maximum(q, q_out), np.where(is_pooled, q_in, q))
                    if outside.any():
                        notes.append(f"{int(outside.sum())} row(s) outside the applicability domain use the quantile of the {n_out} out-of-fold rows that were outside theirs (at least the in-domain one)")
            elif outside.any():
                notes.append(f"{int(outside.sum())} row(s) outside the applicability domain: only {n_out} out-of-fold rows were outside theirs (fewer than {MIN_RESIDUALS}), so their intervals are not widened")
        half = q * scale
        return prediction - half, prediction + half, calibrated, notes


def _short(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(map(str, items[:limit]))
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


@dataclass(frozen=True)
class ClassificationCalibrator:
    """LAC conformal prediction sets and recalibrated probabilities from OOF probabilities.

    Attributes:
        classes: Class labels in column order.
        proba: OOF probabilities, `n x k`.
        y: True labels of the OOF rows, `n`.
        groups: Mondrian group per OOF row, or ``None``.
    """

    classes: tuple[Any, ...]
    proba: np.ndarray
    y: np.ndarray
    groups: np.ndarray | None = None

    @classmethod
    def from_oof(cls, oof: pd.DataFrame, classes: Sequence[Any], *, use_groups: bool = True) -> ClassificationCalibrator:
        cols = [f"proba_{c}" for c in classes]
        missing = [c for c in cols if c not in oof]
        if missing:
            raise SpecError(f"the out-of-fold table lacks probability column(s) {missing}; run `planner run` again")
        P = oof[cols].to_numpy(dtype=float)
        P = P / np.clip(P.sum(axis=1, keepdims=True), 1e-12, None)
        groups = None
        if use_groups and "group" in oof and oof["group"].notna().any():
            groups = _group_keys(oof["group"].to_numpy(), len(oof))
        return cls(classes=tuple(classes), proba=P, y=oof["y_true"].astype(str).to_numpy(), groups=groups)

    @property
    def n(self) -> int:
        return len(self.y)

    def _scores(self) -> np.ndarray:
        idx = {str(c): j for j, c in enumerate(self.classes)}
        cols = np.array([idx.get(v, -1) for v in self.y])
        p_true = np.where(cols >= 0, self.proba[np.arange(self.n), np.clip(cols, 0, None)], 0.0)
        return 1.0 - p_true

    def sets(self, proba: np.ndarray, level: float, *, groups: Any = None) -> tuple[list[list[Any]], np.ndarray, list[str]]:
        """Prediction sets at ``level``: per row the classes whose score is within the quantile.

        Returns:
            ``(sets, is_calibrated, notes)``.
        """
        proba = np.asarray(proba, dtype=float)
        m = len(proba)
        scores = self._scores()
        pooled = conformal_quantile(scores, level)
        calibrated = np.full(m, self.n >= MIN_RESIDUALS and math.isfinite(pooled))
        if not math.isfinite(pooled):
            pooled = 1.0  # every class: uncalibrated
        q = np.full(m, pooled)
        notes: list[str] = []
        if self.groups is not None and groups is not None:
            keys = _group_keys(groups, m)
            per_group = {}
            for g in np.unique(self.groups):
                mask = self.groups == g
                if mask.sum() >= MIN_RESIDUALS:
                    per_group[str(g)] = conformal_quantile(scores[mask], level)
            q = np.array([per_group.get(k, pooled) if math.isfinite(per_group.get(k, pooled)) else pooled for k in keys])
            fallback = sorted({k for k in keys if k not in per_group})
            if fallback:
                notes.append(f"group(s) {_short(fallback)} have fewer than {MIN_RESIDUALS} out-of-fold rows or were not seen: pooled quantile used")
        members = (1.0 - proba) <= q[:, None] + 1e-12
        sets = [[self.classes[j] for j in np.flatnonzero(row)] for row in members]
        return sets, calibrated, notes

    def calibrated_proba(self, proba: np.ndarray) -> np.ndarray:
        """Probabilities mapped by a per-class calibration fitted on the OOF rows, renormalised.

        Platt scaling (a logistic curve in the log-odds) below 1,000 OOF rows, isotonic above,
        as scikit-learn's calibration guide advises; a class seen fewer than 5 times keeps its
        probability.
        """
        from sklearn.isotonic import IsotonicRegression
        from sklearn.linear_model import LogisticRegression

        proba = np.asarray(proba, dtype=float)
        out = proba.copy()
        for j, c in enumerate(self.classes):
            target = (self.y == str(c)).astype(int)
            if target.sum() < 5 or (1 - target).sum() < 5:
                continue
            p = np.clip(self.proba[:, j], 1e-6, 1 - 1e-6)
            if self.n >= 1000:
                iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p, target)
                out[:, j] = iso.predict(np.clip(proba[:, j], 1e-6, 1 - 1e-6))
            else:
                logit = np.log(p / (1 - p))[:, None]
                lr = LogisticRegression(C=1e6).fit(logit, target)
                x = np.clip(proba[:, j], 1e-6, 1 - 1e-6)
                out[:, j] = lr.predict_proba(np.log(x / (1 - x))[:, None])[:, 1]
        total = out.sum(axis=1, keepdims=True)
        return np.where(total > 0, out / np.where(total > 0, total, 1.0), proba)
