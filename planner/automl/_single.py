"""Turn the spec of one pipeline (the flat parameter dict of a trial) into a scikit-learn estimator.

Ensembles of whole pipelines are built in :mod:`planner.automl._ensemble_model` from these;
:func:`planner.automl.build_pipeline` dispatches between the two.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planner.automl._components import BuildContext, get_component, wrap_drop_rows
from planner.automl._rowfeatures import composition_featurizer
from planner.exceptions import SpecError

__all__ = ["build_single_pipeline", "own_params"]

_COLUMN_STEPS = ("outliers", "imputer", "scaler")
#: Outlier handlers that act on training rows (wrapping the model), not on columns.
_ROW_OUTLIER_STEPS = ("drop_rows",)


def own_params(params: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """Parameters stored under ``<prefix>.<name>``, without the prefix."""
    start = prefix + "."
    return {k[len(start) :]: v for k, v in params.items() if k.startswith(start) and "." not in k[len(start) :]}


def _component(params: Mapping[str, Any], step: str, name: str, prefix: str, ctx: BuildContext) -> Any:
    """Build component ``name`` of ``step`` from the parameters stored under ``<prefix>.<name>``."""
    component = get_component(step, name)
    if ctx.task not in component.tasks:
        raise SpecError(f"{step} component {name!r} does not serve task {ctx.task!r}; pick one that does")
    return component.build(own_params(params, f"{prefix}.{name}"), ctx)


def _fusion_params(params: Mapping[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in own_params(params, kind).items() if k not in ("base", "bases", "meta")}


def _build_model(params: Mapping[str, Any], ctx: BuildContext) -> Any:
    from sklearn import ensemble
    from sklearn.model_selection import KFold, StratifiedKFold

    is_clf = ctx.task == "classification"
    kind = params.get("fusion", "single")
    if kind == "single":
        return _component(params, "model", params["model"], "model", ctx)
    fp = _fusion_params(params, kind)
    if kind == "bagging":
        cls = ensemble.BaggingClassifier if is_clf else ensemble.BaggingRegressor
        return cls(
            estimator=_component(params, "model", params["bagging.base"], "bagging.base", ctx),
            n_estimators=int(fp.get("n_estimators", 10)),
            max_samples=float(fp.get("max_samples", 1.0)),
            max_features=float(fp.get("max_features", 1.0)),
            random_state=ctx.seed,
            n_jobs=1,
        )
    if kind == "boosting":
        cls = ensemble.AdaBoostClassifier if is_clf else ensemble.AdaBoostRegressor
        return cls(
            estimator=_component(params, "model", params["boosting.base"], "boosting.base", ctx),
            n_estimators=int(fp.get("n_estimators", 50)),
            learning_rate=float(fp.get("learning_rate", 1.0)),
            random_state=ctx.seed,
        )
    if kind in ("stacking", "voting"):
        names = str(params[f"{kind}.bases"]).split("+")
        estimators = [(name, _component(params, "model", name, f"{kind}.base", ctx)) for name in names]
        if kind == "voting":
            if is_clf:
                return ensemble.VotingClassifier(estimators, voting="soft", n_jobs=1)
            return ensemble.VotingRegressor(estimators, n_jobs=1)
        folds = int(fp.get("cv", 3))
        cv = StratifiedKFold(folds, shuffle=True, random_state=ctx.seed) if is_clf else KFold(folds, shuffle=True, random_state=ctx.seed)
        meta = _component(params, "meta", params["stacking.meta"], "stacking.meta", ctx)
        cls = ensemble.StackingClassifier if is_clf else ensemble.StackingRegressor
        return cls(estimators, final_estimator=meta, cv=cv, n_jobs=1)
    raise SpecError(f"unknown fusion kind {kind!r}; use single, bagging, boosting, stacking or voting")


def build_single_pipeline(
    params: Mapping[str, Any],
    *,
    task: str,
    column_roles: Mapping[str, str],
    seed: int = 0,
) -> Any:
    """Build the unfitted scikit-learn ``Pipeline`` a pipeline spec describes.

    Numeric columns go through outlier handling, imputation and scaling; categorical
    columns through most-frequent imputation and the encoder; then feature selection
    and the model (possibly a bagging / boosting / stacking / voting ensemble). Every
    data-dependent step is inside the pipeline, so cross-validation refits it per fold.

    Args:
        params: A pipeline spec, as returned by :meth:`SearchSpace.suggest` or stored in
            a trial's ``params`` user attribute.
        task: ``"regression"`` or ``"classification"``.
        column_roles: Role per used column (``numeric`` / ``categorical``); other roles
            are left out of the pipeline.
        seed: ``random_state`` for every randomized step.

    Returns:
        An unfitted ``sklearn.pipeline.Pipeline`` taking a DataFrame with those columns.

    Raises:
        SpecError: The spec names an unknown component or one of the other task.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline

    ctx = BuildContext(task=task, seed=int(seed))
    numeric = [c for c, r in column_roles.items() if r == "numeric"]
    categorical = [c for c, r in column_roles.items() if r == "categorical"]
    compositions = [c for c, r in column_roles.items() if r == "composition"]
    drops_rows = params.get("outliers") in _ROW_OUTLIER_STEPS

    def numeric_steps(outliers: bool) -> list[tuple[str, Any]]:
        steps = [(s, _component(params, s, params[s], s, ctx)) for s in _COLUMN_STEPS if s in params and (outliers or s != "outliers")]
        return steps or [("identity", "passthrough")]

    branches = []
    if numeric:
        branches.append(("num", Pipeline(numeric_steps(not drops_rows)), numeric))
    if categorical:
        encoder = _component(params, "encoder", params["encoder"], "encoder", ctx) if "encoder" in params else get_component("encoder", "onehot").build({}, ctx)
        # pandas output keeps column names, so the encoder's notes name the real columns
        cat = Pipeline([("impute", SimpleImputer(strategy="most_frequent").set_output(transform="pandas")), ("encoder", encoder)])
        branches.append(("cat", cat, categorical))
    for col in compositions:
        # row-wise representations (no learned state, looked up); the numeric steps follow them
        featurize = composition_featurizer(col, params.get(f"representation.{col}"))
        branches.append((f"comp_{col}", Pipeline([("featurize", featurize), *numeric_steps(False)]), [col]))
    if any(r == "smiles" or r.startswith("mixture:") for r in column_roles.values()):
        from planner.automl._molecules import molecule_blocks, molecule_branch

        for block, (smiles, fractions) in molecule_blocks(column_roles).items():
            representation = str(params.get(f"molecules.{block}", "descriptors"))
            branches.append(molecule_branch(block, smiles, fractions, representation, numeric_steps(False)))
    columns = ColumnTransformer(branches, remainder="drop", sparse_threshold=0.0)
    selector = _component(params, "selector", params["selector"], "selector", ctx) if "selector" in params else "passthrough"
    model = _build_model(params, ctx)
    if drops_rows:
        model = wrap_drop_rows(model, own_params(params, f"outliers.{params['outliers']}"), ctx)
    return Pipeline([("columns", columns), ("select", selector), ("model", model)])


