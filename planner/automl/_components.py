"""The registry of pipeline components a search-space file may name.

A component is one choice of one pipeline step (an imputer, a selector, a model...).
Each declares the tasks it serves, the parameter names a space file may tune, a
summary label for the leaderboard and a factory that builds the scikit-learn
estimator. Heavy libraries (LightGBM, XGBoost) are imported inside the factories.

To add a component, decorate a factory with :func:`register`; names are unique per step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from planner.exceptions import SpecError

__all__ = ["Component", "BuildContext", "register", "get_component", "components", "STEPS", "TASKS"]

TASKS = ("regression", "classification")
_BOTH = frozenset(TASKS)
_REG = frozenset({"regression"})
_CLF = frozenset({"classification"})

#: Pipeline steps in the order they are applied. ``model`` components are also the
#: base learners of the fusion strategies; ``meta`` are stacking meta-learners.
STEPS = ("outliers", "imputer", "encoder", "scaler", "selector", "model", "meta")


@dataclass(frozen=True)
class BuildContext:
    """What a factory needs besides its own parameters.

    Attributes:
        task: ``"regression"`` or ``"classification"``.
        seed: ``random_state`` given to every randomized estimator.
    """

    task: str
    seed: int = 0


@dataclass(frozen=True)
class Component:
    """One registered choice of one pipeline step.

    Attributes:
        step: The step it belongs to (one of :data:`STEPS`).
        name: Its name in search-space files.
        tasks: Tasks it can serve.
        params: Parameter names a space file may set or tune.
        factory: ``factory(params, context) -> estimator``.
        label: Format string for the leaderboard summary, filled with the parameters.
        family: Model family (models only), e.g. ``"linear"`` or ``"forest"``.
        intrinsic_fusion: Fusion kind a single model already is (a forest is homogeneous).
        supports_sample_weight: Whether AdaBoost can use it as a base learner.
    """

    step: str
    name: str
    tasks: frozenset[str]
    params: frozenset[str]
    factory: Callable[[Mapping[str, Any], BuildContext], Any]
    label: str
    family: str = ""
    intrinsic_fusion: str = "single"
    supports_sample_weight: bool = False

    def build(self, params: Mapping[str, Any], context: BuildContext) -> Any:
        """Build the estimator from this component's own parameters."""
        return self.factory(dict(params), context)

    def summary(self, params: Mapping[str, Any]) -> str:
        """The short leaderboard label, e.g. ``mi-select(30%)``."""
        try:
            return self.label.format(**params)
        except (KeyError, ValueError, IndexError):
            return self.label.split("(")[0]


_REGISTRY: dict[str, dict[str, Component]] = {step: {} for step in STEPS}


def register(
    step: str,
    name: str,
    *,
    tasks: frozenset[str] = _BOTH,
    params: tuple[str, ...] = (),
    label: str | None = None,
    family: str = "",
    intrinsic_fusion: str = "single",
    supports_sample_weight: bool = False,
) -> Callable[[Callable[[dict[str, Any], BuildContext], Any]], Callable[[dict[str, Any], BuildContext], Any]]:
    """Register a component factory under ``step``/``name``.

    Raises:
        SpecError: ``step`` is unknown or ``name`` is already registered for it.
    """
    if step not in _REGISTRY:
        raise SpecError(f"unknown pipeline step {step!r}; steps are {list(STEPS)}")

    def decorator(factory: Callable[[dict[str, Any], BuildContext], Any]) -> Callable[[dict[str, Any], BuildContext], Any]:
        if name in _REGISTRY[step]:
            raise SpecError(f"component {step}/{name} is already registered; pick another name")
        _REGISTRY[step][name] = Component(
            step=step,
            name=name,
            tasks=frozenset(tasks),
            params=frozenset(params),
            factory=factory,
            label=label if label is not None else name,
            family=family,
            intrinsic_fusion=intrinsic_fusion,
            supports_sample_weight=supports_sample_weight,
        )
        return factory

    return decorator


def components(step: str) -> dict[str, Component]:
    """All registered components of ``step`` by name (a copy)."""
    return dict(_REGISTRY[step])


def get_component(step: str, name: str) -> Component:
    """Look up one component.

    Raises:
        SpecError: No such component; the message lists the known names and how to add one.
    """
    try:
        return _REGISTRY[step][name]
    except KeyError:
        known = sorted(_REGISTRY.get(step, {}))
        raise SpecError(
            f"unknown {step} component {name!r}; known {step} components: {known}. "
            "To add one, decorate its factory with planner.automl._components.register"
            f"({step!r}, {name!r}, params=(...))"
        ) from None


# --------------------------------------------------------------------------- helpers


def _is_clf(ctx: BuildContext) -> bool:
    return ctx.task == "classification"


def _fraction(value: Any) -> float:
    return float(min(1.0, max(1e-6, float(value))))


# --------------------------------------------------------------------------- data quality
# These wrap planner.quality's leakage-free transformers (fitted per fold inside the pipeline).


def _quality(name: str) -> Any:
    import importlib

    import planner.quality as quality

    if hasattr(quality, name):
        return getattr(quality, name)
    module = {"OutlierTransformer": "_outliers", "OutlierFilteredRegressor": "_outliers", "OutlierFilteredClassifier": "_outliers",
              "OutlierDetector": "_outliers", "Imputer": "_impute", "CategoricalEncoder": "_encode", "FeatureScaler": "_encode"}[name]
    return getattr(importlib.import_module(f"planner.quality.{module}"), name)


@register("outliers", "none", label="")
def _outliers_none(p: dict[str, Any], ctx: BuildContext) -> Any:
    return "passthrough"


@register("outliers", "clip", params=("method", "threshold"), label="{method}-clip")
def _outliers_clip(p: dict[str, Any], ctx: BuildContext) -> Any:
    return _quality("OutlierTransformer")(method=p.get("method", "robust_zscore"), action="clip", threshold=p.get("threshold"))


@register("outliers", "mask", params=("method", "threshold"), label="{method}-mask")
def _outliers_mask(p: dict[str, Any], ctx: BuildContext) -> Any:
    # outlying cells become NaN and the imputer that follows fills them
    return _quality("OutlierTransformer")(method=p.get("method", "robust_zscore"), action="mask", threshold=p.get("threshold"))


@register("outliers", "drop_rows", tasks=_REG, params=("method", "threshold"), label="{method}-drop-rows")
def _outliers_drop_rows(p: dict[str, Any], ctx: BuildContext) -> Any:
    """Not a column step: :func:`build_pipeline` wraps the model so that training rows with
    an outlying target are dropped in each training fold; predictions still cover every row.
    Regression only: outlying encoded features flag most rows of typical small tables."""
    return "passthrough"


def wrap_drop_rows(model: Any, p: dict[str, Any], ctx: BuildContext) -> Any:
    """Wrap ``model`` in the quality layer's training-row outlier filter."""
    detector = _quality("OutlierDetector")(method=p.get("method", "robust_zscore"), threshold=p.get("threshold"), random_state=ctx.seed)
    if _is_clf(ctx):
        return _quality("OutlierFilteredClassifier")(model, detector=detector, on="features")
    return _quality("OutlierFilteredRegressor")(model, detector=detector, on="target")


# --------------------------------------------------------------------------- imputation


@register("imputer", "median", params=("add_indicator",), label="median-impute")
def _imp_median(p: dict[str, Any], ctx: BuildContext) -> Any:
    return _quality("Imputer")(strategy="median", add_indicator=bool(p.get("add_indicator", False)))


@register("imputer", "mean", params=("add_indicator",), label="mean-impute")
def _imp_mean(p: dict[str, Any], ctx: BuildContext) -> Any:
    return _quality("Imputer")(strategy="mean", add_indicator=bool(p.get("add_indicator", False)))


@register("imputer", "knn", params=("n_neighbors", "weights"), label="knn-impute(k={n_neighbors})")
def _imp_knn(p: dict[str, Any], ctx: BuildContext) -> Any:
    return _quality("Imputer")(strategy="knn", n_neighbors=int(p.get("n_neighbors", 5)), knn_weights=p.get("weights", "uniform"))


@register("imputer", "iterative", params=("max_iter", "estimator"), label="mice-impute({estimator})")
def _imp_iterative(p: dict[str, Any], ctx: BuildContext) -> Any:
    # MICE-style chained equations
    return _quality("Imputer")(
        strategy="iterative", estimator=p.get("estimator", "bayesian_ridge"), max_iter=int(p.get("max_iter", 10)), random_state=ctx.seed
    )


# --------------------------------------------------------------------------- categorical encoding


@register("encoder", "onehot", params=("min_frequency",), label="onehot")
def _enc_onehot(p: dict[str, Any], ctx: BuildContext) -> Any:
    return _quality("CategoricalEncoder")(method="onehot", handle_unknown="ignore", min_frequency=p.get("min_frequency"))


@register("encoder", "ordinal", label="ordinal")
def _enc_ordinal(p: dict[str, Any], ctx: BuildContext) -> Any:
    return _quality("CategoricalEncoder")(method="ordinal", handle_unknown="ignore", unknown_value=-1)


@register("encoder", "target", label="target-encode")
def _enc_target(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.preprocessing import TargetEncoder

    return TargetEncoder(target_type="continuous" if not _is_clf(ctx) else "auto")


# --------------------------------------------------------------------------- scaling


@register("scaler", "none", label="")
def _scale_none(p: dict[str, Any], ctx: BuildContext) -> Any:
    return "passthrough"


def _scaler(method: str) -> Callable[[dict[str, Any], BuildContext], Any]:
    def factory(p: dict[str, Any], ctx: BuildContext) -> Any:
        return _quality("FeatureScaler")(method=method)

    return factory


for _method in ("standard", "robust", "minmax", "quantile", "power"):
    register("scaler", _method, label=f"{_method}-scale")(_scaler(_method))


# --------------------------------------------------------------------------- feature selection


def _score_func(kind: str, ctx: BuildContext) -> Any:
    from functools import partial

    from sklearn import feature_selection as fs

    if kind == "f":
        return fs.f_classif if _is_clf(ctx) else fs.f_regression
    mi = fs.mutual_info_classif if _is_clf(ctx) else fs.mutual_info_regression
    return partial(mi, random_state=ctx.seed)


def _linear_probe(ctx: BuildContext) -> Any:
    from sklearn.linear_model import Ridge, RidgeClassifier

    # closed-form ridge: wrappers refit the probe hundreds of times per fold
    return RidgeClassifier(alpha=1.0) if _is_clf(ctx) else Ridge(alpha=1.0)


def _tree_probe(ctx: BuildContext, n_estimators: int = 100) -> Any:
    from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

    cls = ExtraTreesClassifier if _is_clf(ctx) else ExtraTreesRegressor
    return cls(n_estimators=n_estimators, random_state=ctx.seed, n_jobs=1)


def _wrapper_probe(kind: str, ctx: BuildContext) -> Any:
    return _tree_probe(ctx, 50) if kind == "tree" else _linear_probe(ctx)


def _inner_cv(ctx: BuildContext, n_splits: int = 3) -> Any:
    from sklearn.model_selection import KFold, StratifiedKFold

    cls = StratifiedKFold if _is_clf(ctx) else KFold
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
    from planner.automl._transformers import CorrelationFilter

    return CorrelationFilter(method=p.get("method", "pearson"), threshold=float(p.get("threshold", 0.95)))


@register("selector", "kbest_f", params=("fraction",), label="f-select({fraction:.0%})")
def _sel_kbest_f(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.feature_selection import SelectPercentile

    return SelectPercentile(_score_func("f", ctx), percentile=100 * _fraction(p.get("fraction", 0.5)))


@register("selector", "kbest_mi", params=("fraction",), label="mi-select({fraction:.0%})")
def _sel_kbest_mi(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.feature_selection import SelectPercentile

    return SelectPercentile(_score_func("mi", ctx), percentile=100 * _fraction(p.get("fraction", 0.5)))


@register("selector", "rfe", params=("fraction", "estimator"), label="rfe-{estimator}({fraction:.0%})")
def _sel_rfe(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.feature_selection import RFE

    return RFE(_wrapper_probe(p.get("estimator", "linear"), ctx), n_features_to_select=_fraction(p.get("fraction", 0.5)))


@register("selector", "rfecv", params=("estimator",), label="rfecv-{estimator}")
def _sel_rfecv(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.feature_selection import RFECV

    return RFECV(_wrapper_probe(p.get("estimator", "linear"), ctx), cv=_inner_cv(ctx), n_jobs=1)


@register("selector", "sfs", params=("fraction",), label="sfs({fraction:.0%})")
def _sel_sfs(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.feature_selection import SequentialFeatureSelector

    return SequentialFeatureSelector(
        _linear_probe(ctx), n_features_to_select=_fraction(p.get("fraction", 0.5)), direction="forward", cv=_inner_cv(ctx)
    )


@register("selector", "lasso", params=("alpha",), label="l1-select({alpha:.3g})")
def _sel_lasso(p: dict[str, Any], ctx: BuildContext) -> Any:
    from planner.automl._transformers import L1Selector

    return L1Selector(alpha=float(p.get("alpha", 0.01)), classification=_is_clf(ctx), random_state=ctx.seed)


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

    filter_step = SelectPercentile(_score_func(p.get("filter", "f"), ctx), percentile=100 * _fraction(p.get("filter_fraction", 0.5)))
    wrapper = RFE(_wrapper_probe(p.get("estimator", "linear"), ctx), n_features_to_select=_fraction(p.get("fraction", 0.5)))
    return Pipeline([("filter", filter_step), ("wrapper", wrapper)])


@register("selector", "pca", params=("variance",), label="pca({variance:.0%} var)")
def _sel_pca(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.decomposition import PCA

    return PCA(n_components=min(0.9999, float(p.get("variance", 0.95))), svd_solver="full", random_state=ctx.seed)


@register("selector", "pls", tasks=_REG, params=("n_components",), label="pls({n_components})")
def _sel_pls(p: dict[str, Any], ctx: BuildContext) -> Any:
    from planner.automl._transformers import PLSTransformer

    return PLSTransformer(n_components=int(p.get("n_components", 2)))


# --------------------------------------------------------------------------- models, regression


@register("model", "ridge", tasks=_REG, params=("alpha",), family="linear", supports_sample_weight=True)
def _m_ridge(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.linear_model import Ridge

    return Ridge(alpha=float(p.get("alpha", 1.0)))


@register("model", "lasso", tasks=_REG, params=("alpha",), family="linear", supports_sample_weight=True)
def _m_lasso(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.linear_model import Lasso

    return Lasso(alpha=float(p.get("alpha", 0.01)), max_iter=10000, random_state=ctx.seed)


@register("model", "elasticnet", tasks=_REG, params=("alpha", "l1_ratio"), family="linear", supports_sample_weight=True)
def _m_enet(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.linear_model import ElasticNet

    return ElasticNet(alpha=float(p.get("alpha", 0.01)), l1_ratio=float(p.get("l1_ratio", 0.5)), max_iter=10000, random_state=ctx.seed)


@register("model", "pls", tasks=_REG, params=("n_components",), family="linear")
def _m_pls(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import Pipeline

    from planner.automl._transformers import PLSTransformer

    # PLSRegression predicts 2-D and cannot shrink n_components to a small fold:
    # the clamped latent projection followed by a linear read-out is the same model.
    return Pipeline([("pls", PLSTransformer(n_components=int(p.get("n_components", 2)))), ("readout", LinearRegression())])


@register("model", "svr", tasks=_REG, params=("C", "epsilon", "gamma", "kernel"), family="kernel", supports_sample_weight=True)
def _m_svr(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.svm import SVR

    return SVR(C=float(p.get("C", 1.0)), epsilon=float(p.get("epsilon", 0.1)), gamma=p.get("gamma", "scale"), kernel=p.get("kernel", "rbf"))


@register("model", "kernel_ridge", tasks=_REG, params=("alpha", "gamma", "kernel"), family="kernel", supports_sample_weight=True)
def _m_krr(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.kernel_ridge import KernelRidge

    gamma = p.get("gamma")
    return KernelRidge(alpha=float(p.get("alpha", 1.0)), kernel=p.get("kernel", "rbf"), gamma=None if gamma is None else float(gamma))


@register("model", "gp", tasks=_REG, params=("nu", "noise"), family="gaussian-process")
def _m_gp(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    kernel = ConstantKernel(1.0) * Matern(length_scale=1.0, nu=float(p.get("nu", 2.5))) + WhiteKernel(
        noise_level=float(p.get("noise", 0.1)), noise_level_bounds=(1e-6, 10.0)
    )
    return GaussianProcessRegressor(kernel=kernel, normalize_y=True, n_restarts_optimizer=0, random_state=ctx.seed)


# --------------------------------------------------------------------------- models, classification


@register("model", "logistic", tasks=_CLF, params=("C", "l1_ratio"), family="linear", supports_sample_weight=True)
def _m_logistic(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.linear_model import LogisticRegression

    l1_ratio = float(p.get("l1_ratio", 0.0))
    solver = "lbfgs" if l1_ratio == 0.0 else "saga"
    return LogisticRegression(C=float(p.get("C", 1.0)), l1_ratio=l1_ratio, solver=solver, max_iter=2000, random_state=ctx.seed)


@register("model", "svc", tasks=_CLF, params=("C", "gamma", "kernel"), family="kernel", supports_sample_weight=True)
def _m_svc(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import SVC

    # calibrated probabilities, so ROC-AUC, log loss and soft voting work for every classifier
    svc = SVC(C=float(p.get("C", 1.0)), gamma=p.get("gamma", "scale"), kernel=p.get("kernel", "rbf"), random_state=ctx.seed)
    return CalibratedClassifierCV(svc, ensemble=False, cv=3)


@register("model", "naive_bayes", tasks=_CLF, params=("var_smoothing",), label="gnb", family="naive-bayes", supports_sample_weight=True)
def _m_gnb(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.naive_bayes import GaussianNB

    return GaussianNB(var_smoothing=float(p.get("var_smoothing", 1e-9)))


@register("model", "tree", params=("max_depth", "min_samples_leaf"), family="tree", supports_sample_weight=True)
def _m_tree(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    cls = DecisionTreeClassifier if _is_clf(ctx) else DecisionTreeRegressor
    return cls(max_depth=p.get("max_depth"), min_samples_leaf=int(p.get("min_samples_leaf", 1)), random_state=ctx.seed)


@register("model", "adaboost", tasks=_CLF, params=("n_estimators", "learning_rate"), family="boosting", intrinsic_fusion="homogeneous:boosting")
def _m_adaboost(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.ensemble import AdaBoostClassifier

    return AdaBoostClassifier(n_estimators=int(p.get("n_estimators", 50)), learning_rate=float(p.get("learning_rate", 1.0)), random_state=ctx.seed)


@register("model", "gb", tasks=_CLF, params=("n_estimators", "learning_rate", "max_depth", "subsample"), family="boosting", intrinsic_fusion="homogeneous:boosting")
def _m_gb(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.ensemble import GradientBoostingClassifier

    return GradientBoostingClassifier(
        n_estimators=int(p.get("n_estimators", 100)),
        learning_rate=float(p.get("learning_rate", 0.1)),
        max_depth=int(p.get("max_depth", 3)),
        subsample=float(p.get("subsample", 1.0)),
        random_state=ctx.seed,
    )


# --------------------------------------------------------------------------- models, both tasks


@register("model", "knn", params=("n_neighbors", "weights"), family="neighbors")
def _m_knn(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    cls = KNeighborsClassifier if _is_clf(ctx) else KNeighborsRegressor
    return cls(n_neighbors=int(p.get("n_neighbors", 5)), weights=p.get("weights", "uniform"))


def _forest(kind: str) -> Callable[[dict[str, Any], BuildContext], Any]:
    def factory(p: dict[str, Any], ctx: BuildContext) -> Any:
        from sklearn import ensemble

        cls = getattr(ensemble, f"{kind}{'Classifier' if _is_clf(ctx) else 'Regressor'}")
        return cls(
            n_estimators=int(p.get("n_estimators", 100)),
            max_features=_max_features(p.get("max_features", 1.0)),
            min_samples_leaf=int(p.get("min_samples_leaf", 1)),
            max_depth=p.get("max_depth"),
            random_state=ctx.seed,
            n_jobs=1,
        )

    return factory


for _name, _kind in (("rf", "RandomForest"), ("et", "ExtraTrees")):
    register(
        "model",
        _name,
        params=("n_estimators", "max_features", "min_samples_leaf", "max_depth"),
        family="forest",
        intrinsic_fusion="homogeneous:forest",
        supports_sample_weight=True,
    )(_forest(_kind))


def _max_features(value: Any) -> Any:
    return value if isinstance(value, str) else _fraction(value)


@register("model", "hgb", params=("learning_rate", "max_leaf_nodes", "min_samples_leaf", "l2_regularization", "max_iter"), family="boosting", intrinsic_fusion="homogeneous:boosting", supports_sample_weight=True)
def _m_hgb(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = HistGradientBoostingClassifier if _is_clf(ctx) else HistGradientBoostingRegressor
    return cls(
        learning_rate=float(p.get("learning_rate", 0.1)),
        max_leaf_nodes=int(p.get("max_leaf_nodes", 31)),
        min_samples_leaf=int(p.get("min_samples_leaf", 20)),
        l2_regularization=float(p.get("l2_regularization", 0.0)),
        max_iter=int(p.get("max_iter", 100)),
        early_stopping=False,
        random_state=ctx.seed,
    )


@register("model", "lgbm", params=("n_estimators", "learning_rate", "num_leaves", "min_child_samples", "subsample", "colsample_bytree", "reg_lambda"), family="boosting", intrinsic_fusion="homogeneous:boosting", supports_sample_weight=True)
def _m_lgbm(p: dict[str, Any], ctx: BuildContext) -> Any:
    from planner.automl._deps import require

    lightgbm = require("lightgbm")
    cls = lightgbm.LGBMClassifier if _is_clf(ctx) else lightgbm.LGBMRegressor
    return cls(
        n_estimators=int(p.get("n_estimators", 100)),
        learning_rate=float(p.get("learning_rate", 0.1)),
        num_leaves=int(p.get("num_leaves", 15)),
        min_child_samples=int(p.get("min_child_samples", 5)),
        subsample=float(p.get("subsample", 1.0)),
        subsample_freq=1,
        colsample_bytree=float(p.get("colsample_bytree", 1.0)),
        reg_lambda=float(p.get("reg_lambda", 0.0)),
        random_state=ctx.seed,
        n_jobs=1,
        verbose=-1,
    )


@register("model", "xgb", params=("n_estimators", "learning_rate", "max_depth", "subsample", "colsample_bytree", "reg_lambda", "min_child_weight"), family="boosting", intrinsic_fusion="homogeneous:boosting", supports_sample_weight=True)
def _m_xgb(p: dict[str, Any], ctx: BuildContext) -> Any:
    from planner.automl._deps import require

    xgboost = require("xgboost", install="xgboost-cpu")
    kwargs = dict(
        n_estimators=int(p.get("n_estimators", 100)),
        learning_rate=float(p.get("learning_rate", 0.1)),
        max_depth=int(p.get("max_depth", 4)),
        subsample=float(p.get("subsample", 1.0)),
        colsample_bytree=float(p.get("colsample_bytree", 1.0)),
        reg_lambda=float(p.get("reg_lambda", 1.0)),
        min_child_weight=float(p.get("min_child_weight", 1.0)),
        random_state=ctx.seed,
        n_jobs=1,
        tree_method="hist",
        verbosity=0,
    )
    if _is_clf(ctx):
        from planner.automl._transformers import EncodedLabelClassifier

        return EncodedLabelClassifier(estimator=xgboost.XGBClassifier(**kwargs))
    return xgboost.XGBRegressor(**kwargs)


@register("model", "mlp", params=("hidden", "layers", "alpha", "learning_rate_init"), family="neural")
def _m_mlp(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    cls = MLPClassifier if _is_clf(ctx) else MLPRegressor
    hidden = (int(p.get("hidden", 32)),) * int(p.get("layers", 1))
    return cls(
        hidden_layer_sizes=hidden,
        alpha=float(p.get("alpha", 1e-3)),
        learning_rate_init=float(p.get("learning_rate_init", 1e-3)),
        max_iter=500,
        random_state=ctx.seed,
    )


# --------------------------------------------------------------------------- stacking meta-learners


@register("meta", "ridge", tasks=_REG, label="ridge")
def _meta_ridge(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.linear_model import RidgeCV

    return RidgeCV(alphas=(0.01, 0.1, 1.0, 10.0, 100.0))


@register("meta", "nnls", tasks=_REG, label="nnls")
def _meta_nnls(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.linear_model import LinearRegression

    # non-negative weights: a convex-ish blend that cannot cancel base learners
    return LinearRegression(positive=True)


@register("meta", "logistic", tasks=_CLF, params=("C",), label="logistic")
def _meta_logistic(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=float(p.get("C", 1.0)), max_iter=1000)
