"""SHAP values of a fitted pipeline's model, over the features its preprocessing produces.

The pipeline's preprocessing (imputation, encoding, scaling, selection) runs first; the
model is explained on what it actually sees. Exact and fast explainers are used where they
apply (trees, linear models); anything else gets a permutation explainer over a small
background sample, so explaining a stacked or voting ensemble stays a matter of seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from planner.exceptions import DataValidationError, SpecError

__all__ = ["Explanation", "explain", "METHODS"]

#: Explainers :func:`explain` can be asked for.
METHODS = ("auto", "tree", "linear", "permutation")

# Tree models whose SHAP values TreeExplainer computes on the probability scale.
_PROBABILITY_TREES = ("RandomForestClassifier", "ExtraTreesClassifier", "DecisionTreeClassifier")


@dataclass(frozen=True)
class Explanation:
    """SHAP values of one model output for a sample of rows.

    Attributes:
        values: SHAP values, `n x p`: one row per explained row (index from ``X``), one
            column per feature after preprocessing.
        data: The explained rows in that same feature space, `n x p` (for colouring plots).
        base_value: The model's expected output over the background; for every row,
            ``base_value + values.sum(axis=1)`` is the model's output.
        explainer: ``"tree"``, ``"linear"`` or ``"permutation"``.
        output: What is explained, e.g. ``"prediction"``, ``"probability of class 1"``
            or ``"log-odds of class 1"``.
    """

    values: pd.DataFrame
    data: pd.DataFrame
    base_value: float
    explainer: str
    output: str

    @property
    def feature_names(self) -> list[str]:
        return list(self.values.columns)

    def importance(self) -> pd.Series:
        """Mean absolute SHAP value per feature, largest first."""
        return self.values.abs().mean().sort_values(ascending=False, kind="mergesort")


def _unfitted_error(what: str, err: Exception | None = None) -> SpecError:
    return SpecError(f"explain needs a fitted pipeline; {what}. Fit it first (planner.automl.refit) or load a saved one (planner.automl.load_fitted)")


def _resolve(model: Any, X: pd.DataFrame) -> tuple[Any, pd.DataFrame]:
    """The fitted scikit-learn estimator and ``X`` restricted to (and typed as) its input columns."""
    if hasattr(model, "estimator") and hasattr(model, "spec") and hasattr(model, "_check_columns"):
        # a planner.automl.FittedPipeline: its own check names missing columns and coerces numerics
        return model.estimator, model._check_columns(X)
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return model, X
    missing = [c for c in names if c not in X.columns]
    if missing:
        raise DataValidationError(f"X lacks column(s) {missing} that the pipeline was trained on; give all of {list(names)}")
    return model, X[list(names)]


def _split(estimator: Any) -> tuple[Any | None, Any]:
    """(preprocessing, model) of a ``Pipeline``; (None, estimator) for a bare model."""
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
        return estimator[:-1], estimator.steps[-1][1]
    if isinstance(estimator, Pipeline):
        return None, estimator.steps[-1][1]
    return None, estimator


def _clean_names(names: list[str]) -> list[str]:
    """Drop ColumnTransformer branch prefixes (``num__x`` -> ``x``) when names stay unique."""
    short = [n.split("__", 1)[1] if "__" in n else n for n in names]
    return short if len(set(short)) == len(short) else names


def _feature_names(pre: Any, n_features: int, X: pd.DataFrame) -> list[str]:
    if pre is None:
        names = [str(c) for c in X.columns]
    else:
        try:
            names = [str(n) for n in pre.get_feature_names_out()]
        except Exception:  # noqa: BLE001 - a custom step without names: fall back to the columns step's names
            names = []
            columns = pre.steps[0][1] if hasattr(pre, "steps") else None
            select = pre.steps[-1][1] if hasattr(pre, "steps") and len(pre.steps) > 1 else None
            try:
                names = [str(n) for n in columns.get_feature_names_out()]  # type: ignore[union-attr]
                if select is not None and hasattr(select, "get_support"):
                    names = [n for n, keep in zip(names, select.get_support(), strict=True) if keep]
            except Exception:  # noqa: BLE001
                names = []
    if len(names) != n_features:
        names = [f"feature_{i}" for i in range(n_features)]
    return _clean_names(names)


def _inner(model: Any) -> Any:
    """The model inside planner's training-row outlier filter (it predicts with it unchanged)."""
    if type(model).__name__.startswith("OutlierFiltered") and hasattr(model, "estimator_"):
        return model.estimator_
    return model


def _is_tree(model: Any) -> bool:
    from sklearn import ensemble, tree

    kinds = (
        tree.DecisionTreeRegressor,
        tree.DecisionTreeClassifier,
        ensemble.RandomForestRegressor,
        ensemble.RandomForestClassifier,
        ensemble.ExtraTreesRegressor,
        ensemble.ExtraTreesClassifier,
        ensemble.GradientBoostingRegressor,
        ensemble.GradientBoostingClassifier,
    )
    return isinstance(model, kinds) or type(model).__module__.split(".")[0] in ("lightgbm", "xgboost")


def _is_linear(model: Any) -> bool:
    from sklearn.base import is_classifier

    if not type(model).__module__.startswith("sklearn.linear_model"):
        return False
    coef = getattr(model, "coef_", None)
    if coef is None:
        return False
    # LinearExplainer handles one output: regression or binary classification
    return np.ndim(coef) == 1 or np.shape(coef)[0] == 1 or not is_classifier(model)


def _pick(values: Any, base: Any, k: int) -> tuple[np.ndarray, float]:
    """SHAP values and base value of output ``k`` from an explainer's raw result."""
    arr = np.asarray(values, dtype=float)
    base_arr = np.atleast_1d(np.asarray(base, dtype=float))
    if arr.ndim == 3:
        return arr[:, :, k], float(base_arr[k] if base_arr.size > k else base_arr[0])
    return arr, float(base_arr.ravel()[0])


def _permutation_shap(
    f: Any, Zs: np.ndarray, bg: np.ndarray, rng: np.random.Generator, *, max_rows_per_call: int = 200_000
) -> tuple[np.ndarray, float]:
    """Permutation SHAP values of ``f`` (`m x p` -> `m`) for rows ``Zs`` against background ``bg``.

    One random feature order per row, walked forwards and backwards (an antithetic pair, as
    ``shap.PermutationExplainer`` does): each feature's value is the mean change of ``f``,
    averaged over the background, when it switches from background to the row's value.
    Along a walk the changes add up to ``f(x) - mean(f(bg))`` exactly. Unlike shap's
    explainer, which calls the model once per row, all masked rows of a chunk of rows go
    to the model in one call: ensembles with a fixed per-call cost stay fast.

    Returns:
        SHAP values `n x p` and the base value ``mean(f(bg))``.
    """
    n, p = Zs.shape
    n_bg = len(bg)
    base = float(np.mean(f(bg)))
    out = np.zeros((n, p))
    chunk = max(1, max_rows_per_call // ((p + 1) * n_bg * 2))
    for start in range(0, n, chunk):
        rows = Zs[start : start + chunk]
        m = len(rows)
        orders = np.array([rng.permutation(p) for _ in range(m)])
        for order in (orders, orders[:, ::-1]):
            # masks[i, s, j]: feature j comes from the row after s steps of row i's walk
            rank = np.empty_like(order)
            np.put_along_axis(rank, order, np.arange(p)[None, :].repeat(m, 0), axis=1)
            masks = rank[:, None, :] < np.arange(p + 1)[None, :, None]
            data = np.where(masks[:, :, None, :], rows[:, None, None, :], bg[None, None, :, :])
            preds = np.asarray(f(data.reshape(-1, p)), dtype=float).reshape(m, p + 1, n_bg).mean(axis=2)
            steps = np.diff(preds, axis=1)  # m x p: change at step s, caused by feature order[:, s]
            np.put_along_axis(out[start : start + m], order, np.take_along_axis(out[start : start + m], order, axis=1) + steps, axis=1)
    return out / 2, base


def explain(
    model: Any,
    X: pd.DataFrame,
    *,
    max_samples: int = 200,
    background: int = 50,
    seed: int = 0,
    class_index: int | None = None,
    method: str = "auto",
) -> Explanation:
    """SHAP values of a fitted pipeline for (a sample of) the rows of ``X``.

    The preprocessing steps transform ``X``; the model is explained on the result. With
    ``method="auto"``: tree models (forests, gradient boosting, LightGBM, XGBoost) get
    ``shap.TreeExplainer`` (exact, fast); linear models ``shap.LinearExplainer``; every other
    model (kernels, GPs, stacks, votes, bagging) a permutation explainer over ``background``
    rows, which costs about ``max_samples x background x (2p + 1)`` model evaluations.

    Args:
        model: A ``planner.automl.FittedPipeline`` or a fitted scikit-learn estimator
            (a ``Pipeline`` whose last step is the model, or a bare model).
        X: Rows to explain, `n x d`, with the pipeline's input columns.
        max_samples: Explain at most this many rows (a seeded random sample beyond it).
        background: Rows of ``X`` used as the background distribution (linear and
            permutation explainers).
        seed: Seed for both samples and the permutations.
        class_index: Classification: which class's output to explain (index into
            ``classes_``); default the last one (the positive class of a binary task).
        method: ``"auto"``, or force ``"tree"``, ``"linear"`` or ``"permutation"``.

    Returns:
        The :class:`Explanation`.

    Raises:
        SpecError: Bad arguments, an unfitted pipeline, or a method that does not apply.
        DataValidationError: ``X`` lacks the pipeline's input columns or has no rows.
    """
    import shap
    from sklearn.base import is_classifier
    from sklearn.exceptions import NotFittedError

    if method not in METHODS:
        raise SpecError(f"method must be one of {list(METHODS)}, got {method!r}")
    for name, value in (("max_samples", max_samples), ("background", background)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SpecError(f"{name} must be an integer >= 1, got {value!r}; e.g. {name}=100")
    if not isinstance(X, pd.DataFrame):
        raise DataValidationError(f"X must be a pandas DataFrame with the pipeline's input columns, got {type(X).__name__}")
    if len(X) == 0:
        raise DataValidationError("X has no rows; give at least one row to explain")

    estimator, Xc = _resolve(model, X)
    pre, final = _split(estimator)
    try:
        if pre is None and not all(pd.api.types.is_numeric_dtype(t) for t in Xc.dtypes):
            # a model taking the raw, mixed-type columns (an ensemble of whole pipelines):
            # the permutation explainer only swaps values, so categories stay as they are
            Z = Xc.to_numpy(dtype=object)
        else:
            Z = np.asarray(pre.transform(Xc) if pre is not None else Xc, dtype=float)
    except NotFittedError as err:
        raise _unfitted_error("its preprocessing is not fitted") from err
    if Z.ndim != 2:
        raise DataValidationError(f"the preprocessing produced an array of shape {Z.shape}; expected rows x features")
    names = _feature_names(pre, Z.shape[1], Xc)
    rng = np.random.default_rng(seed)
    rows = np.arange(len(Z)) if len(Z) <= max_samples else np.sort(rng.choice(len(Z), size=max_samples, replace=False))
    bg = Z if len(Z) <= background else Z[np.sort(rng.choice(len(Z), size=background, replace=False))]
    Zs = Z[rows]

    is_clf = is_classifier(final) or hasattr(final, "classes_")
    if is_clf and not hasattr(final, "classes_"):
        raise _unfitted_error("its model has no classes_")
    classes = list(getattr(final, "classes_", []))
    if is_clf:
        k = len(classes) - 1 if class_index is None else class_index
        if not isinstance(k, int) or not 0 <= k < len(classes):
            raise SpecError(f"class_index must be in 0..{len(classes) - 1} (classes {classes}), got {class_index!r}")
        label = classes[k]
    inner = _inner(final)
    chosen = method
    if chosen == "auto":
        chosen = "tree" if _is_tree(inner) else "linear" if _is_linear(inner) else "permutation"
    if chosen == "tree" and not _is_tree(inner):
        raise SpecError(f"method='tree' needs a tree model; this pipeline's model is {type(inner).__name__}. Use method='auto'")
    if chosen == "linear" and not _is_linear(inner):
        raise SpecError(f"method='linear' needs a linear model with one output; this pipeline's model is {type(inner).__name__}. Use method='auto'")

    try:
        if chosen == "tree":
            explainer = shap.TreeExplainer(inner)
            raw = explainer.shap_values(Zs, check_additivity=False)
            values, base = _pick(raw, explainer.expected_value, k if is_clf else 0)
            if is_clf and np.asarray(raw).ndim == 2 and k == 0 and len(classes) == 2:
                values, base = -values, -base  # a binary margin model explains class 1; class 0 is its negative
            scale = "probability" if type(inner).__name__ in _PROBABILITY_TREES else "log-odds"
            output = f"{scale} of class {label}" if is_clf else "prediction"
        elif chosen == "linear":
            explainer = shap.LinearExplainer(inner, shap.maskers.Independent(bg, max_samples=len(bg)))
            result = explainer(Zs)
            values, base = _pick(result.values, result.base_values, 0)
            if is_clf and k == 0:
                values, base = -values, -base
            output = f"log-odds of class {label}" if is_clf else "prediction"
        else:
            if is_clf:
                if not hasattr(final, "predict_proba"):
                    raise SpecError(f"explaining a classifier needs predict_proba; {type(final).__name__} has none")

                def f(data: np.ndarray) -> np.ndarray:
                    return final.predict_proba(data)[:, k]

                output = f"probability of class {label}"
            else:

                def f(data: np.ndarray) -> np.ndarray:
                    return np.asarray(final.predict(data), dtype=float)

                output = "prediction"
            values, base = _permutation_shap(f, Zs, bg, rng)
    except NotFittedError as err:
        raise _unfitted_error(f"its model {type(inner).__name__} is not fitted") from err
    index = Xc.index[rows]
    return Explanation(
        values=pd.DataFrame(values, index=index, columns=names),
        data=pd.DataFrame(Zs, index=index, columns=names) if Zs.dtype != object else Xc.iloc[rows].set_axis(names, axis=1),
        base_value=float(base),
        explainer=chosen,
        output=output,
    )
