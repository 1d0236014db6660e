"""The component table's cleaning and selection steps: outliers, imputer, encoder, scaler, selector.

Every factory builds a :mod:`planner.steps` transformer (or a scikit-learn one), fitted per
cross-validation fold inside the pipeline. Each factory imports its step itself, so that reading
a search space does not load scikit-learn. Registered on import (``_components`` imports this).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from planner.automl._registry import REG, BuildContext, fraction, is_clf, register

__all__ = ["wrap_drop_rows"]


# --------------------------------------------------------------------------- data quality
# These wrap planner.steps' leakage-free transformers (fitted per fold inside the pipeline).


@register("outliers", "none", label="")
def _outliers_none(p: dict[str, Any], ctx: BuildContext) -> Any:
    return "passthrough"


@register("outliers", "clip", params=("method", "threshold"), label="{method}-clip")
def _outliers_clip(p: dict[str, Any], ctx: BuildContext) -> Any:
    from planner.steps._outliers import OutlierTransformer

    return OutlierTransformer(method=p.get("method", "robust_zscore"), action="clip", threshold=p.get("threshold"))


@register("outliers", "mask", params=("method", "threshold"), label="{method}-mask")
def _outliers_mask(p: dict[str, Any], ctx: BuildContext) -> Any:
    from planner.steps._outliers import OutlierTransformer

    # outlying cells become NaN and the imputer that follows fills them
    return OutlierTransformer(method=p.get("method", "robust_zscore"), action="mask", threshold=p.get("threshold"))


@register("outliers", "drop_rows", tasks=REG, params=("method", "threshold"), label="{method}-drop-rows")
def _outliers_drop_rows(p: dict[str, Any], ctx: BuildContext) -> Any:
    """Not a column step: :func:`build_pipeline` wraps the model so that training rows with
    an outlying target are dropped in each training fold; predictions still cover every row.
    Regression only: outlying encoded features flag most rows of typical small tables."""
    return "passthrough"


def wrap_drop_rows(model: Any, p: dict[str, Any], ctx: BuildContext) -> Any:
    """Wrap ``model`` in the quality layer's training-row outlier filter."""
    from planner.steps._outliers import OutlierDetector, OutlierFilteredClassifier, OutlierFilteredRegressor

    detector = OutlierDetector(method=p.get("method", "robust_zscore"), threshold=p.get("threshold"), random_state=ctx.seed)
    if is_clf(ctx):
        return OutlierFilteredClassifier(model, detector=detector, on="features")
    return OutlierFilteredRegressor(model, detector=detector, on="target")


# --------------------------------------------------------------------------- imputation


@register("imputer", "median", params=("add_indicator",), label="median-impute")
def _imp_median(p: dict[str, Any], ctx: BuildContext) -> Any:
    from planner.steps._impute import Imputer

    return Imputer(strategy="median", add_indicator=bool(p.get("add_indicator", False)))


@register("imputer", "mean", params=("add_indicator",), label="mean-impute")
def _imp_mean(p: dict[str, Any], ctx: BuildContext) -> Any:
    from planner.steps._impute import Imputer

    return Imputer(strategy="mean", add_indicator=bool(p.get("add_indicator", False)))


@register("imputer", "knn", params=("n_neighbors", "weights"), label="knn-impute(k={n_neighbors})")
def _imp_knn(p: dict[str, Any], ctx: BuildContext) -> Any:
    from planner.steps._impute import Imputer

    return Imputer(strategy="knn", n_neighbors=int(p.get("n_neighbors", 5)), knn_weights=p.get("weights", "uniform"))


@register("imputer", "iterative", params=("max_iter", "estimator"), label="mice-impute({estimator})")
def _imp_iterative(p: dict[str, Any], ctx: BuildContext) -> Any:
    from planner.steps._impute import Imputer

    # MICE-style chained equations
    return Imputer(
        strategy="iterative", estimator=p.get("estimator", "bayesian_ridge"), max_iter=int(p.get("max_iter", 10)), random_state=ctx.seed
    )


# --------------------------------------------------------------------------- categorical encoding


@register("encoder", "onehot", params=("min_frequency",), label="onehot")
def _enc_onehot(p: dict[str, Any], ctx: BuildContext) -> Any:
    from planner.steps._encode import CategoricalEncoder

    return CategoricalEncoder(method="onehot", handle_unknown="ignore", min_frequency=p.get("min_frequency"))


@register("encoder", "ordinal", label="ordinal")
def _enc_ordinal(p: dict[str, Any], ctx: BuildContext) -> Any:
    from planner.steps._encode import CategoricalEncoder

    return CategoricalEncoder(method="ordinal", handle_unknown="ignore", unknown_value=-1)


@register("encoder", "target", label="target-encode")
def _enc_target(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.preprocessing import TargetEncoder

    return TargetEncoder(target_type="continuous" if not is_clf(ctx) else "auto")


# --------------------------------------------------------------------------- scaling


@register("scaler", "none", label="")
def _scale_none(p: dict[str, Any], ctx: BuildContext) -> Any:
    return "passthrough"


def _scaler(method: str) -> Callable[[dict[str, Any], BuildContext], Any]:
    def factory(p: dict[str, Any], ctx: BuildContext) -> Any:
        from planner.steps._scale import FeatureScaler

        return FeatureScaler(method=method)

    return factory


for _method in ("standard", "robust", "minmax", "quantile", "power"):
    register("scaler", _method, label=f"{_method}-scale")(_scaler(_method))


# --------------------------------------------------------------------------- feature selection


def _score_func(kind: str, ctx: BuildContext) -> Any:
    from functools import partial

    from sklearn import feature_selection as fs

    if kind == "f":
        return fs.f_classif if is_clf(ctx) else fs.f_regression
    mi = fs.mutual_info_classif if is_clf(ctx) else fs.mutual_info_regression
    return partial(mi, random_state=ctx.seed)


def _linear_probe(ctx: BuildContext) -> Any:
    from sklearn.linear_model import Ridge, RidgeClassifier

    # closed-form ridge: wrappers refit the probe hundreds of times per fold
    return RidgeClassifier(alpha=1.0) if is_clf(ctx) else Ridge(alpha=1.0)


def _tree_probe(ctx: BuildContext, n_estimators: int = 100) -> Any:
    from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

    cls = ExtraTreesClassifier if is_clf(ctx) else ExtraTreesRegressor
    return cls(n_estimators=n_estimators, random_state=ctx.seed, n_jobs=1)


def _wrapper_probe(kind: str, ctx: BuildContext) -> Any:
    return _tree_probe(ctx, 50) if kind == "tree" else _linear_probe(ctx)


def _inner_cv(ctx: BuildContext, n_splits: int = 3) -> Any:
    from sklearn.model_selection import KFold, StratifiedKFold

    cls = StratifiedKFold if is_clf(ctx) else KFold
    return cls(n_splits=n_splits, shuffle=True, random_state=ctx.seed)


@register("selector", "none", label="")
def _sel_none(p: dict[str, Any], ctx: BuildContext) -> Any:
    return "passthrough"


@register("selector", "variance", params=("threshold",), label="variance-filter({threshold:.3g})")
def _sel_variance(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.feature_selection import VarianceThreshold

    return VarianceThreshold(threshold=float(p.get("threshold", 0.0)))


@register("selector", "correlation", params=("method", "threshold"), label="{method}-corr-filter({threshold:.2f})")
def _sel_correlation(p: dict[str, Any], ctx: BuildContext) -> Any:
    from planner.steps._selection import CorrelationFilter

    return CorrelationFilter(method=p.get("method", "pearson"), threshold=float(p.get("threshold", 0.95)))


@register("selector", "kbest_f", params=("fraction",), label="f-select({fraction:.0%})")
def _sel_kbest_f(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.feature_selection import SelectPercentile

    return SelectPercentile(_score_func("f", ctx), percentile=100 * fraction(p.get("fraction", 0.5)))


@register("selector", "kbest_mi", params=("fraction",), label="mi-select({fraction:.0%})")
def _sel_kbest_mi(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.feature_selection import SelectPercentile

    return SelectPercentile(_score_func("mi", ctx), percentile=100 * fraction(p.get("fraction", 0.5)))


@register("selector", "rfe", params=("fraction", "estimator"), label="rfe-{estimator}({fraction:.0%})")
def _sel_rfe(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.feature_selection import RFE

    return RFE(_wrapper_probe(p.get("estimator", "linear"), ctx), n_features_to_select=fraction(p.get("fraction", 0.5)))


@register("selector", "rfecv", params=("estimator",), label="rfecv-{estimator}")
def _sel_rfecv(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.feature_selection import RFECV

    return RFECV(_wrapper_probe(p.get("estimator", "linear"), ctx), cv=_inner_cv(ctx), n_jobs=1)


@register("selector", "sfs", params=("fraction",), label="sfs({fraction:.0%})")
def _sel_sfs(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.feature_selection import SequentialFeatureSelector

    return SequentialFeatureSelector(
        _linear_probe(ctx), n_features_to_select=fraction(p.get("fraction", 0.5)), direction="forward", cv=_inner_cv(ctx)
    )


@register("selector", "lasso", params=("alpha",), label="l1-select({alpha:.3g})")
def _sel_lasso(p: dict[str, Any], ctx: BuildContext) -> Any:
    from planner.steps._selection import L1Selector

    return L1Selector(alpha=float(p.get("alpha", 0.01)), classification=is_clf(ctx), random_state=ctx.seed)


@register("selector", "tree", params=("threshold",), label="tree-select({threshold})")
def _sel_tree(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.feature_selection import SelectFromModel

    return SelectFromModel(_tree_probe(ctx), threshold=p.get("threshold", "median"))


@register(
    "selector",
    "hybrid",
    params=("filter", "filter_fraction", "fraction", "estimator"),
    label="hybrid[{filter}-select({filter_fraction:.0%}) > rfe-{estimator}({fraction:.0%})]",
)
def _sel_hybrid(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.feature_selection import RFE, SelectPercentile
    from sklearn.pipeline import Pipeline

    filter_step = SelectPercentile(_score_func(p.get("filter", "f"), ctx), percentile=100 * fraction(p.get("filter_fraction", 0.5)))
    wrapper = RFE(_wrapper_probe(p.get("estimator", "linear"), ctx), n_features_to_select=fraction(p.get("fraction", 0.5)))
    return Pipeline([("filter", filter_step), ("wrapper", wrapper)])


@register("selector", "pca", params=("variance",), label="pca({variance:.0%} var)")
def _sel_pca(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.decomposition import PCA

    return PCA(n_components=min(0.9999, float(p.get("variance", 0.95))), svd_solver="full", random_state=ctx.seed)


@register("selector", "pls", tasks=REG, params=("n_components",), label="pls({n_components})")
def _sel_pls(p: dict[str, Any], ctx: BuildContext) -> Any:
    from planner.steps._selection import PLSTransformer

    return PLSTransformer(n_components=int(p.get("n_components", 2)))
