"""Outlier detection on targets and features, as scikit-learn estimators.

Three ways to act on outliers, each safe inside cross-validation:

* :class:`OutlierDetector` — an sklearn outlier detector (``predict`` gives ``+1`` inlier,
  ``-1`` outlier) with four methods: the IQR rule, the z-score, the robust (median/MAD)
  z-score and IsolationForest.
* :class:`OutlierTransformer` — a pipeline step that keeps every row and either *clips*
  values to the fences learned on the training fold, sets outlying cells to NaN (*mask*, for a
  downstream imputer), or *flags* rows with an extra ``is_outlier`` column.
* :class:`OutlierFilteredRegressor` / :class:`OutlierFilteredClassifier` — meta-estimators for
  the *drop-in-training-only* mode. A transformer cannot drop rows (``transform`` must keep
  the row count), so the wrapper drops flagged rows from the training fold in ``fit`` and
  predicts on **all** rows. Rows are never dropped at prediction time.

How the univariate methods score a cell (``threshold`` t, training-fold statistics):

=================  ==============================================  =========
method             outlyingness of x                                default t
=================  ==============================================  =========
``iqr``            ``max(x - Q3, Q1 - x) / IQR``                    1.5
``zscore``         ``|x - mean| / std``                             3.0
``robust_zscore``  ``0.6745 |x - median| / MAD`` (Iglewicz-Hoaglin)  3.5
=================  ==============================================  =========

A cell is an outlier when its outlyingness exceeds t, so every univariate method is a pair of
fences per column (``lower_``, ``upper_``). A row's outlyingness is its largest cell's. When the
MAD is zero (many tied values, common in small materials datasets) the robust z-score falls back
to ``1.2533 * mean absolute deviation``; a column that was constant in training flags any
different value. Missing cells are never outliers and stay missing.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    OutlierMixin,
    RegressorMixin,
    TransformerMixin,
    clone,
)
from sklearn.utils import _safe_indexing
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from planner.exceptions import DataQualityWarning, DataValidationError, SpecError
from planner.validation import call_quietly, check_choice

__all__ = [
    "OUTLIER_METHODS",
    "OutlierDetector",
    "OutlierFilteredClassifier",
    "OutlierFilteredRegressor",
    "OutlierTransformer",
]

OUTLIER_METHODS = ("iqr", "zscore", "robust_zscore", "isolation_forest")
_UNIVARIATE = ("iqr", "zscore", "robust_zscore")
_DEFAULT_THRESHOLD = {"iqr": 1.5, "zscore": 3.0, "robust_zscore": 3.5}
# 0.6745 = Phi^-1(0.75): makes MAD a consistent estimate of sigma for normal data.
_MAD_FACTOR = 0.6745
# sqrt(pi/2): the same consistency constant for the mean absolute deviation.
_MEANAD_FACTOR = 1.2533


def _check_common_params(est: Any, owner: str) -> None:
    check_choice(est.method, OUTLIER_METHODS, name="method", owner=owner)
    if est.threshold is not None:
        if est.method == "isolation_forest":
            raise SpecError(
                f"{owner}: threshold={est.threshold!r} has no meaning for method='isolation_forest'; "
                "use contamination=<fraction in (0, 0.5]> to set how many rows are flagged."
            )
        if not isinstance(est.threshold, (int, float, np.number)) or not est.threshold > 0:
            raise SpecError(f"{owner}: threshold must be a positive number, got {est.threshold!r}.")
    if not isinstance(est.min_unique, (int, np.integer)) or isinstance(est.min_unique, bool) or est.min_unique < 1:
        raise SpecError(f"{owner}: min_unique must be a positive integer, got {est.min_unique!r}.")
    if not (
        est.contamination == "auto"
        or (isinstance(est.contamination, (int, float, np.number)) and 0 < est.contamination <= 0.5)
    ):
        raise SpecError(f"{owner}: contamination must be 'auto' or a fraction in (0, 0.5], got {est.contamination!r}.")


class OutlierDetector(OutlierMixin, BaseEstimator):
    """Flag outlying rows with the IQR rule, z-score, robust z-score or IsolationForest.

    Follows scikit-learn's outlier-detector API: ``predict`` returns ``+1`` for inliers and
    ``-1`` for outliers; ``score_samples`` is higher for more normal rows and
    ``decision_function = score_samples - offset_`` is negative for outliers.

    Args:
        method: ``"iqr"``, ``"zscore"``, ``"robust_zscore"`` or ``"isolation_forest"``.
        threshold: Outlyingness above which a cell is an outlier (univariate methods only);
            ``None`` uses the method's textbook default (1.5 IQR, 3 sigma, 3.5 robust z).
        contamination: ``"auto"`` uses ``threshold`` (or IsolationForest's own offset); a
            fraction in ``(0, 0.5]`` instead flags that share of the training rows (the
            threshold is then the matching quantile of the training outlyingness).
        min_unique: Univariate methods leave columns with fewer distinct training values
            alone (default 3: binary indicators and one-hot columns are never "outliers").
        n_estimators: Trees for ``isolation_forest``.
        random_state: Seed for ``isolation_forest``.

    Attributes:
        skipped_columns_: Indices of columns left alone because of ``min_unique``.
        lower_, upper_: ``(n_features,)`` fences per column (univariate methods).
        center_, scale_: ``(n_features,)`` the location and scale statistics behind the fences.
        threshold_: The outlyingness threshold in use (univariate methods).
        offset_: ``-threshold_`` for univariate methods; IsolationForest's offset otherwise.
        forest_: The fitted ``IsolationForest`` (``isolation_forest`` only).
        n_outliers_: Number of training rows flagged.
    """

    def __init__(
        self,
        *,
        method: str = "robust_zscore",
        threshold: float | None = None,
        contamination: float | str = "auto",
        min_unique: int = 3,
        n_estimators: int = 100,
        random_state: int | None = None,
    ) -> None:
        self.method = method
        self.threshold = threshold
        self.contamination = contamination
        self.min_unique = min_unique
        self.n_estimators = n_estimators
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    @property
    def is_univariate(self) -> bool:
        return self.method in _UNIVARIATE

    def fit(self, X: Any, y: Any = None) -> OutlierDetector:
        """Learn the fences (or the forest) from the training rows ``X`` (``n x d``)."""
        _check_common_params(self, type(self).__name__)
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64)
        if self.is_univariate:
            self._fit_univariate(X)
        else:
            self._fit_forest(X)
        self.n_outliers_ = int(np.sum(self.predict(X) == -1))
        return self

    def _fit_univariate(self, X: np.ndarray) -> None:
        method = self.method

        def stats() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
            if method == "iqr":
                q1, q3 = np.nanpercentile(X, [25, 75], axis=0)
                return q1, q3, (q1 + q3) / 2, q3 - q1
            if method == "zscore":
                mean = np.nanmean(X, axis=0)
                n = np.sum(~np.isnan(X), axis=0)
                std = np.where(n > 1, np.nanstd(X, axis=0, ddof=1), 0.0)
                return mean, mean, mean, std
            median = np.nanmedian(X, axis=0)
            mad = np.nanmedian(np.abs(X - median), axis=0) / _MAD_FACTOR
            mean_ad = _MEANAD_FACTOR * np.nanmean(np.abs(X - median), axis=0)
            scale = np.where(mad > 0, mad, mean_ad)
            return median, median, median, scale

        low_anchor, high_anchor, center, scale = call_quietly(stats)
        # All-missing training columns have no statistics, and in columns with very few distinct
        # values (0/1 indicators, one-hot columns) "outlier" means nothing: never flag either.
        n_unique = np.array([np.unique(col[~np.isnan(col)]).size for col in X.T], dtype=int)
        self.skipped_columns_ = np.flatnonzero(~np.isnan(center) & (n_unique < self.min_unique))
        empty = np.isnan(center) | (n_unique < self.min_unique)
        self.empty_columns_ = np.flatnonzero(empty)
        self.center_ = np.where(empty, 0.0, center)
        self.scale_ = np.where(empty | np.isnan(scale), 0.0, scale)
        self._low_anchor = np.where(empty, -np.inf, low_anchor)
        self._high_anchor = np.where(empty, np.inf, high_anchor)
        self._empty = empty

        if self.contamination == "auto":
            self.threshold_ = float(self.threshold if self.threshold is not None else _DEFAULT_THRESHOLD[method])
        else:
            row_scores = self._row_outlyingness(X)
            finite = row_scores[np.isfinite(row_scores)]
            base = np.quantile(finite, 1.0 - float(self.contamination)) if finite.size else 0.0
            self.threshold_ = float(base)
        self.offset_ = -self.threshold_
        with np.errstate(invalid="ignore"):
            self.lower_ = np.where(empty, -np.inf, self._low_anchor - self.threshold_ * self.scale_)
            self.upper_ = np.where(empty, np.inf, self._high_anchor + self.threshold_ * self.scale_)

    def _fit_forest(self, X: np.ndarray) -> None:
        from sklearn.ensemble import IsolationForest

        # IsolationForest needs complete rows; fill gaps with the training medians (recorded).
        medians = call_quietly(np.nanmedian, X, axis=0)
        self.fill_values_ = np.where(np.isnan(medians), 0.0, medians)
        self.forest_ = IsolationForest(
            n_estimators=self.n_estimators,
            contamination=self.contamination,
            random_state=self.random_state,
        ).fit(self._fill(X))
        self.offset_ = float(self.forest_.offset_)

    def _fill(self, X: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(X), self.fill_values_, X)

    def _validate(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "offset_")
        return validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)

    def _cell_outlyingness_array(self, X: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.method == "iqr":
                # The IQR rule is asymmetric: distance beyond the nearer quartile, in IQR units.
                dist = np.maximum(np.maximum(X - self._high_anchor, self._low_anchor - X), 0.0)
            else:
                dist = np.abs(X - self.center_)
            has_scale = self.scale_ > 0
            score = np.where(has_scale, dist / np.where(has_scale, self.scale_, 1.0), np.inf)
            # Zero scale (a constant training column): any departure is infinitely outlying.
            score = np.where(dist > 0, score, 0.0)
        return np.where(np.isnan(X) | self._empty, 0.0, score)

    def _row_outlyingness(self, X: np.ndarray) -> np.ndarray:
        if X.shape[1] == 0:
            return np.zeros(X.shape[0])
        return self._cell_outlyingness_array(X).max(axis=1)

    def cell_outlyingness(self, X: Any) -> np.ndarray:
        """``n x d`` outlyingness of each cell (univariate methods); NaN cells score 0."""
        X = self._validate(X)
        self._require_univariate("cell_outlyingness")
        return self._cell_outlyingness_array(X)

    def cell_mask(self, X: Any) -> np.ndarray:
        """``n x d`` boolean mask of outlying cells (univariate methods)."""
        X = self._validate(X)
        self._require_univariate("cell_mask")
        return self._cell_outlyingness_array(X) > self.threshold_

    def _require_univariate(self, what: str) -> None:
        if not self.is_univariate:
            raise SpecError(
                f"{type(self).__name__}.{what} needs per-column fences, but method='isolation_forest' "
                "scores whole rows. Use a univariate method ('iqr', 'zscore', 'robust_zscore') or predict()."
            )

    def score_samples(self, X: Any) -> np.ndarray:
        """``(n,)`` normality score: higher is more normal (minus the row outlyingness)."""
        X = self._validate(X)
        if self.is_univariate:
            return -self._row_outlyingness(X)
        return self.forest_.score_samples(self._fill(X))

    def decision_function(self, X: Any) -> np.ndarray:
        """``(n,)`` ``score_samples - offset_``; negative means outlier."""
        return self.score_samples(X) - self.offset_

    def predict(self, X: Any) -> np.ndarray:
        """``(n,)`` ``+1`` for inliers, ``-1`` for outliers."""
        decision = self.decision_function(X)
        return np.where(decision >= 0, 1, -1).astype(int)

    def outlier_mask(self, X: Any) -> np.ndarray:
        """``(n,)`` boolean, True for outlying rows."""
        return self.predict(X) == -1


class OutlierTransformer(TransformerMixin, BaseEstimator):
    """Handle outlying feature values inside a pipeline without dropping rows.

    Fences are learned on the training fold only (``fit``) and applied to any data
    (``transform``), so the step is leakage-free inside cross-validation.

    Args:
        method: See :class:`OutlierDetector`.
        action: ``"clip"`` — clip values to the training fences (winsorizing);
            ``"mask"`` — set outlying cells to NaN so a later imputer fills them;
            ``"flag"`` — keep values and append an ``is_outlier`` column (1.0 for outlying rows).
            ``"clip"`` and ``"mask"`` need a univariate method.
        threshold, contamination, min_unique, n_estimators, random_state: See
            :class:`OutlierDetector`.

    Attributes:
        detector_: The fitted :class:`OutlierDetector`.
        n_flagged_: ``(n_features,)`` outlying training cells per column (univariate) or
            ``(1,)`` outlying training rows (isolation forest).
    """

    def __init__(
        self,
        *,
        method: str = "robust_zscore",
        action: str = "clip",
        threshold: float | None = None,
        contamination: float | str = "auto",
        min_unique: int = 3,
        n_estimators: int = 100,
        random_state: int | None = None,
    ) -> None:
        self.method = method
        self.action = action
        self.threshold = threshold
        self.contamination = contamination
        self.min_unique = min_unique
        self.n_estimators = n_estimators
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def fit(self, X: Any, y: Any = None) -> OutlierTransformer:
        owner = type(self).__name__
        check_choice(self.action, ("clip", "mask", "flag"), name="action", owner=owner)
        _check_common_params(self, owner)
        if self.action in ("clip", "mask") and self.method not in _UNIVARIATE:
            raise SpecError(
                f"{owner}: action={self.action!r} needs per-column fences, but method='isolation_forest' "
                "scores whole rows. Use action='flag' with isolation_forest, or a univariate method "
                "('iqr', 'zscore', 'robust_zscore')."
            )
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64)
        self.detector_ = OutlierDetector(
            method=self.method,
            threshold=self.threshold,
            contamination=self.contamination,
            min_unique=self.min_unique,
            n_estimators=self.n_estimators,
            random_state=self.random_state,
        ).fit(X)
        if self.detector_.is_univariate:
            cells = self.detector_._cell_outlyingness_array(X) > self.detector_.threshold_
            self.n_flagged_ = cells.sum(axis=0)
        else:
            self.n_flagged_ = np.array([self.detector_.n_outliers_])
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "detector_")
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        det = self.detector_
        if self.action == "clip":
            return np.clip(X, det.lower_, det.upper_)
        if self.action == "mask":
            out = X.copy()
            out[det._cell_outlyingness_array(X) > det.threshold_] = np.nan
            return out
        flag = (det.decision_function(X) < 0).astype(np.float64)
        return np.column_stack([X, flag])

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        from sklearn.utils.validation import _check_feature_names_in

        check_is_fitted(self, "detector_")
        names = list(_check_feature_names_in(self, input_features))
        if self.action == "flag":
            names.append("is_outlier")
        return np.asarray(names, dtype=object)


class _OutlierFilteredBase(MetaEstimatorMixin, BaseEstimator):
    """Shared fit logic: detect outliers in the training fold, drop them, fit the estimator."""

    _allowed_on: tuple[str, ...] = ("target", "features", "both")

    def __init__(
        self,
        estimator: Any,
        *,
        detector: Any = None,
        on: str = "target",
        min_keep_fraction: float = 0.5,
    ) -> None:
        self.estimator = estimator
        self.detector = detector
        self.on = on
        self.min_keep_fraction = min_keep_fraction

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = clone(self.estimator).__sklearn_tags__()
        tags.input_tags.allow_nan = inner.input_tags.allow_nan
        tags.input_tags.sparse = False
        return tags

    def _make_detector(self) -> Any:
        return clone(self.detector) if self.detector is not None else OutlierDetector(method="robust_zscore")

    def fit(self, X: Any, y: Any, **fit_params: Any) -> _OutlierFilteredBase:
        """Fit the wrapped estimator on the training rows the detector does not flag.

        Args:
            X: ``n x d`` training features.
            y: ``(n,)`` training target.
            **fit_params: Passed to the estimator's ``fit``; per-row arrays (e.g.
                ``sample_weight``) are subset to the kept rows.

        Returns:
            self. ``inlier_mask_`` (``(n,)`` bool) and ``n_outliers_`` record what was dropped.
        """
        owner = type(self).__name__
        check_choice(self.on, self._allowed_on, name="on", owner=owner)
        if not (isinstance(self.min_keep_fraction, (int, float)) and 0 <= self.min_keep_fraction <= 1):
            raise SpecError(f"{owner}: min_keep_fraction must be in [0, 1], got {self.min_keep_fraction!r}.")
        X_checked, y_checked = validate_data(
            self,
            X,
            y,
            ensure_all_finite=False,
            dtype=None,
            y_numeric=isinstance(self, RegressorMixin),
            skip_check_array=False,
        )
        n = len(y_checked)
        keep = np.ones(n, dtype=bool)
        self.detectors_: dict[str, Any] = {}
        if self.on in ("target", "both"):
            det = self._make_detector().fit(np.asarray(y_checked, dtype=float).reshape(-1, 1))
            keep &= det.predict(np.asarray(y_checked, dtype=float).reshape(-1, 1)) == 1
            self.detectors_["target"] = det
        if self.on in ("features", "both"):
            try:
                X_num = np.asarray(X_checked, dtype=float)
            except ValueError as err:
                raise DataValidationError(
                    f"{owner}: on={self.on!r} needs numeric features, but X holds text or other "
                    "non-numeric values. Encode categorical columns first (CategoricalEncoder) and "
                    "wrap the whole pipeline, or use on='target'."
                ) from err
            det = self._make_detector().fit(X_num)
            keep &= det.predict(X_num) == 1
            self.detectors_["features"] = det
        self.filter_skipped_ = False
        if keep.sum() < max(1, int(np.ceil(self.min_keep_fraction * n))):
            warnings.warn(
                f"{owner}: the detector flagged {int((~keep).sum())} of {n} training rows, which would "
                f"leave fewer than min_keep_fraction={self.min_keep_fraction} of them; no rows were "
                "dropped. Use a looser detector (higher threshold) or a different method.",
                DataQualityWarning,
                stacklevel=2,
            )
            keep[:] = True
            self.filter_skipped_ = True
        self.inlier_mask_ = keep
        self.n_outliers_ = int((~keep).sum())
        idx = np.flatnonzero(keep)
        sub_params = {
            key: (_safe_indexing(value, idx) if _is_row_array(value, n) else value) for key, value in fit_params.items()
        }
        X_fit = _safe_indexing(X, idx) if hasattr(X, "iloc") else _safe_indexing(X_checked, idx)
        y_fit = _safe_indexing(y_checked, idx)
        self.estimator_ = clone(self.estimator).fit(X_fit, y_fit, **sub_params)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predict for **every** row of ``X`` (nothing is dropped at prediction time)."""
        check_is_fitted(self, "estimator_")
        validate_data(self, X, reset=False, ensure_all_finite=False, dtype=None)
        return self.estimator_.predict(X)


def _is_row_array(value: Any, n: int) -> bool:
    return hasattr(value, "__len__") and not isinstance(value, (str, dict)) and len(value) == n


def _estimator_has(attr: str):
    def check(self: Any) -> bool:
        if hasattr(self, "estimator_"):
            return hasattr(self.estimator_, attr)
        return hasattr(self.estimator, attr)

    return check


class OutlierFilteredRegressor(RegressorMixin, _OutlierFilteredBase):
    """Drop outlying **training** rows, then fit ``estimator``; predict on all rows.

    This is the *drop-in-training-only* mode as something a pipeline can hold: put the whole
    preprocessing + model pipeline inside, or wrap only the model. Inside cross-validation each
    fold's detector sees only that fold's training rows, so nothing leaks, and the test fold is
    never filtered (a model must predict every candidate).

    Example::

        model = OutlierFilteredRegressor(
            make_pipeline(Imputer(), LGBMRegressor()),
            detector=OutlierDetector(method="iqr"),
            on="target",
        )
        cross_val_score(model, X, y, cv=GroupKFold(5), groups=groups)

    Args:
        estimator: Any scikit-learn regressor (or pipeline ending in one); cloned in ``fit``.
        detector: An outlier detector with ``fit``/``predict`` (``-1`` = outlier); cloned.
            ``None`` uses ``OutlierDetector(method="robust_zscore")``.
        on: Detect outliers in the ``"target"``, the ``"features"``, or ``"both"``.
        min_keep_fraction: If filtering would keep fewer than this share of the training rows,
            nothing is dropped and a :class:`~planner.exceptions.DataQualityWarning` says so.

    Attributes:
        estimator_: The fitted clone of ``estimator``.
        detectors_: ``{"target": ..., "features": ...}`` the fitted detectors used.
        inlier_mask_: ``(n_train,)`` True for training rows that were kept.
        n_outliers_: Training rows dropped.
        filter_skipped_: True if ``min_keep_fraction`` stopped the filtering.
    """


class OutlierFilteredClassifier(ClassifierMixin, _OutlierFilteredBase):
    """Classification version of :class:`OutlierFilteredRegressor`.

    Outliers of a class label are not defined, so ``on`` must be ``"features"`` (the default).
    """

    _allowed_on = ("features",)

    def __init__(
        self,
        estimator: Any,
        *,
        detector: Any = None,
        on: str = "features",
        min_keep_fraction: float = 0.5,
    ) -> None:
        super().__init__(estimator, detector=detector, on=on, min_keep_fraction=min_keep_fraction)

    def fit(self, X: Any, y: Any, **fit_params: Any) -> OutlierFilteredClassifier:
        if self.on in ("target", "both"):
            raise SpecError(
                f"OutlierFilteredClassifier: on={self.on!r} is not possible for class labels; "
                "use on='features' (outliers in the inputs)."
            )
        super().fit(X, y, **fit_params)
        self.classes_ = self.estimator_.classes_
        return self

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        validate_data(self, X, reset=False, ensure_all_finite=False, dtype=None)
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        validate_data(self, X, reset=False, ensure_all_finite=False, dtype=None)
        return self.estimator_.decision_function(X)
