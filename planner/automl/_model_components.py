"""The component table's models (regression, classification, both) and stacking meta-learners.

Heavy libraries (LightGBM, XGBoost) are imported inside the factories. Registered on import
(``_components`` imports this).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from planner.automl._registry import CLF, REG, BuildContext, fraction, is_clf, register

__all__: list[str] = []


# --------------------------------------------------------------------------- models, regression


@register("model", "ridge", tasks=REG, params=("alpha",), family="linear", supports_sample_weight=True)
def _m_ridge(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.linear_model import Ridge

    return Ridge(alpha=float(p.get("alpha", 1.0)))


@register("model", "lasso", tasks=REG, params=("alpha",), family="linear", supports_sample_weight=True)
def _m_lasso(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.linear_model import Lasso

    return Lasso(alpha=float(p.get("alpha", 0.01)), max_iter=10000, random_state=ctx.seed)


@register("model", "elasticnet", tasks=REG, params=("alpha", "l1_ratio"), family="linear", supports_sample_weight=True)
def _m_enet(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.linear_model import ElasticNet

    return ElasticNet(alpha=float(p.get("alpha", 0.01)), l1_ratio=float(p.get("l1_ratio", 0.5)), max_iter=10000, random_state=ctx.seed)


@register("model", "pls", tasks=REG, params=("n_components",), family="linear")
def _m_pls(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import Pipeline

    from planner.steps._selection import PLSTransformer

    # PLSRegression predicts 2-D and cannot shrink n_components to a small fold:
    # the clamped latent projection followed by a linear read-out is the same model.
    return Pipeline([("pls", PLSTransformer(n_components=int(p.get("n_components", 2)))), ("readout", LinearRegression())])


@register("model", "svr", tasks=REG, params=("C", "epsilon", "gamma", "kernel"), family="kernel", supports_sample_weight=True)
def _m_svr(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.svm import SVR

    return SVR(C=float(p.get("C", 1.0)), epsilon=float(p.get("epsilon", 0.1)), gamma=p.get("gamma", "scale"), kernel=p.get("kernel", "rbf"))


@register("model", "kernel_ridge", tasks=REG, params=("alpha", "gamma", "kernel"), family="kernel", supports_sample_weight=True)
def _m_krr(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.kernel_ridge import KernelRidge

    gamma = p.get("gamma")
    return KernelRidge(alpha=float(p.get("alpha", 1.0)), kernel=p.get("kernel", "rbf"), gamma=None if gamma is None else float(gamma))


@register("model", "gp", tasks=REG, params=("nu", "noise"), family="gaussian-process")
def _m_gp(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    kernel = ConstantKernel(1.0) * Matern(length_scale=1.0, nu=float(p.get("nu", 2.5))) + WhiteKernel(
        noise_level=float(p.get("noise", 0.1)), noise_level_bounds=(1e-6, 10.0)
    )
    return GaussianProcessRegressor(kernel=kernel, normalize_y=True, n_restarts_optimizer=0, random_state=ctx.seed)


# --------------------------------------------------------------------------- size-aware kernel models
# Offered only where the size gate removes the exact kernel model (see _gating.ALTERNATIVES).


@register("model", "nystroem_ridge", tasks=REG, params=("n_components", "gamma", "alpha"), label="nystroem_ridge({n_components})", family="kernel")
def _m_nystroem_ridge(p: dict[str, Any], ctx: BuildContext) -> Any:
    from planner.automl._scalable import NystroemRegressor

    return NystroemRegressor(learner="ridge", n_components=int(p.get("n_components", 300)), gamma=float(p.get("gamma", 1.0)), alpha=float(p.get("alpha", 1.0)), random_state=ctx.seed)


@register("model", "nystroem_svr", tasks=REG, params=("n_components", "gamma", "C", "epsilon"), label="nystroem_svr({n_components})", family="kernel")
def _m_nystroem_svr(p: dict[str, Any], ctx: BuildContext) -> Any:
    from planner.automl._scalable import NystroemRegressor

    return NystroemRegressor(
        learner="svr", n_components=int(p.get("n_components", 300)), gamma=float(p.get("gamma", 1.0)), C=float(p.get("C", 1.0)), epsilon=float(p.get("epsilon", 0.1)), random_state=ctx.seed
    )


@register("model", "nystroem_logistic", tasks=CLF, params=("n_components", "gamma", "C"), label="nystroem_logistic({n_components})", family="kernel")
def _m_nystroem_logistic(p: dict[str, Any], ctx: BuildContext) -> Any:
    from planner.automl._scalable import NystroemClassifier

    return NystroemClassifier(n_components=int(p.get("n_components", 300)), gamma=float(p.get("gamma", 1.0)), C=float(p.get("C", 1.0)), random_state=ctx.seed)


@register("model", "subset_gp", tasks=REG, params=("n_subset", "nu", "noise"), label="subset_gp({n_subset})", family="gaussian-process")
def _m_subset_gp(p: dict[str, Any], ctx: BuildContext) -> Any:
    from planner.automl._scalable import SubsetGPRegressor

    return SubsetGPRegressor(n_subset=int(p.get("n_subset", 800)), nu=float(p.get("nu", 2.5)), noise=float(p.get("noise", 0.1)), random_state=ctx.seed)


# --------------------------------------------------------------------------- models, classification


@register("model", "logistic", tasks=CLF, params=("C", "l1_ratio"), family="linear", supports_sample_weight=True)
def _m_logistic(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.linear_model import LogisticRegression

    l1_ratio = float(p.get("l1_ratio", 0.0))
    solver = "lbfgs" if l1_ratio == 0.0 else "saga"
    return LogisticRegression(C=float(p.get("C", 1.0)), l1_ratio=l1_ratio, solver=solver, max_iter=2000, random_state=ctx.seed)


@register("model", "svc", tasks=CLF, params=("C", "gamma", "kernel"), family="kernel", supports_sample_weight=True)
def _m_svc(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import SVC

    # calibrated probabilities, so ROC-AUC, log loss and soft voting work for every classifier
    svc = SVC(C=float(p.get("C", 1.0)), gamma=p.get("gamma", "scale"), kernel=p.get("kernel", "rbf"), random_state=ctx.seed)
    return CalibratedClassifierCV(svc, ensemble=False, cv=3)


@register("model", "naive_bayes", tasks=CLF, params=("var_smoothing",), label="gnb", family="naive-bayes", supports_sample_weight=True)
def _m_gnb(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.naive_bayes import GaussianNB

    return GaussianNB(var_smoothing=float(p.get("var_smoothing", 1e-9)))


@register("model", "tree", params=("max_depth", "min_samples_leaf"), family="tree", supports_sample_weight=True)
def _m_tree(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    cls = DecisionTreeClassifier if is_clf(ctx) else DecisionTreeRegressor
    return cls(max_depth=p.get("max_depth"), min_samples_leaf=int(p.get("min_samples_leaf", 1)), random_state=ctx.seed)


@register("model", "adaboost", tasks=CLF, params=("n_estimators", "learning_rate"), family="boosting", intrinsic_fusion="homogeneous:boosting")
def _m_adaboost(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.ensemble import AdaBoostClassifier

    return AdaBoostClassifier(n_estimators=int(p.get("n_estimators", 50)), learning_rate=float(p.get("learning_rate", 1.0)), random_state=ctx.seed)


@register("model", "gb", tasks=CLF, params=("n_estimators", "learning_rate", "max_depth", "subsample"), family="boosting", intrinsic_fusion="homogeneous:boosting")
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

    cls = KNeighborsClassifier if is_clf(ctx) else KNeighborsRegressor
    return cls(n_neighbors=int(p.get("n_neighbors", 5)), weights=p.get("weights", "uniform"))


def _forest(kind: str) -> Callable[[dict[str, Any], BuildContext], Any]:
    def factory(p: dict[str, Any], ctx: BuildContext) -> Any:
        from sklearn import ensemble

        cls = getattr(ensemble, f"{kind}{'Classifier' if is_clf(ctx) else 'Regressor'}")
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
    return value if isinstance(value, str) else fraction(value)


@register("model", "hgb", params=("learning_rate", "max_leaf_nodes", "min_samples_leaf", "l2_regularization", "max_iter"), family="boosting", intrinsic_fusion="homogeneous:boosting", supports_sample_weight=True)
def _m_hgb(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = HistGradientBoostingClassifier if is_clf(ctx) else HistGradientBoostingRegressor
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
    cls = lightgbm.LGBMClassifier if is_clf(ctx) else lightgbm.LGBMRegressor
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
    from planner.steps._labels import EncodedLabelClassifier

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
    if is_clf(ctx):
        return EncodedLabelClassifier(estimator=xgboost.XGBClassifier(**kwargs))
    return xgboost.XGBRegressor(**kwargs)


@register("model", "mlp", params=("hidden", "layers", "alpha", "learning_rate_init"), family="neural")
def _m_mlp(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    cls = MLPClassifier if is_clf(ctx) else MLPRegressor
    hidden = (int(p.get("hidden", 32)),) * int(p.get("layers", 1))
    return cls(
        hidden_layer_sizes=hidden,
        alpha=float(p.get("alpha", 1e-3)),
        learning_rate_init=float(p.get("learning_rate_init", 1e-3)),
        max_iter=500,
        random_state=ctx.seed,
    )


# --------------------------------------------------------------------------- stacking meta-learners


@register("meta", "ridge", tasks=REG, label="ridge")
def _meta_ridge(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.linear_model import RidgeCV

    return RidgeCV(alphas=(0.01, 0.1, 1.0, 10.0, 100.0))


@register("meta", "nnls", tasks=REG, label="nnls")
def _meta_nnls(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.linear_model import LinearRegression

    # non-negative weights: a convex-ish blend that cannot cancel base learners
    return LinearRegression(positive=True)


@register("meta", "logistic", tasks=CLF, params=("C",), label="logistic")
def _meta_logistic(p: dict[str, Any], ctx: BuildContext) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=float(p.get("C", 1.0)), max_iter=1000)
