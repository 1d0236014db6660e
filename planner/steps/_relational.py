"""Per-entity features from a related child table, by featuretools' deep feature synthesis.

A campaign's main table has one row per entity (a cell, a material); a *child table* has many
rows per entity (cycling records with cycle number, capacity, voltage, temperature; or
measurements of one composition at several temperatures). :func:`relational_features` and the
pipeline step :class:`RelationalFeaturizer` aggregate the child rows of each entity into
columns of the main table: mean, std, min, max, skew, count, and the **trend** (least-squares
slope against the time column, e.g. capacity fade per cycle), also over **early windows**
such as the first 100 cycles of each entity.

Details that matter:

* Logical types are declared explicitly for every column handed to woodwork (keys
  ``Categorical``, values ``Double``, the time column ``Double`` or ``Datetime``); left to
  itself woodwork guesses, e.g., integer ids as datetimes.
* featuretools' built-in ``Trend`` needs a *datetime* time index; for a numeric time column
  (cycle number, temperature) a numeric-trend primitive is used instead, so ``TREND`` is the
  slope per unit of that column (per cycle, per kelvin).
* Keys are matched as text (``7`` and ``"7"`` and ``7.0`` match). Child rows whose key has no
  parent are ignored with a :class:`~planner.exceptions.DataQualityWarning`; parents with no
  child rows get NaN aggregates (and ``COUNT`` 0) with a warning; if *no* key matches, a
  :class:`~planner.exceptions.DataValidationError` says which columns were compared.
* Each entity's features use only that entity's child rows, so computing them is free of
  leakage across cross-validation folds. The transformer defines the feature set in ``fit``
  (from the schema, not the values) and computes the same columns for any rows later.

featuretools and woodwork are imported on first use.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from planner.exceptions import DataQualityWarning, DataValidationError, OptionalDependencyError, SpecError
from planner.validation import check_choice, format_columns, format_values, require_columns

__all__ = ["AGGREGATIONS", "RelationalFeaturizer", "relational_features"]

#: Aggregations available by name. ``trend`` is the least-squares slope against the time column.
AGGREGATIONS = ("mean", "std", "min", "max", "skew", "trend", "count", "median", "first", "last", "sum")
_NUMERIC_ONLY = {"mean", "std", "min", "max", "skew", "median", "sum", "trend"}
_ROW_ID = "__planner_row__"


def _featuretools() -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # woodwork's pkg_resources deprecation notice
            import featuretools as ft
    except ImportError as err:  # pragma: no cover - featuretools is a core dependency
        raise OptionalDependencyError(
            "Relational features need featuretools: pip install 'featuretools==1.31.0'"
        ) from err
    return ft


@lru_cache(maxsize=1)
def _numeric_trend() -> type:
    """A featuretools aggregation: slope of ``y`` against a *numeric* time index."""
    from featuretools.primitives import AggregationPrimitive
    from woodwork.column_schema import ColumnSchema

    class NumericTrend(AggregationPrimitive):
        """Least-squares slope of a numeric column against a numeric time index."""

        name = "trend"
        input_types = [ColumnSchema(semantic_tags={"numeric"}), ColumnSchema(semantic_tags={"time_index"})]
        return_type = ColumnSchema(semantic_tags={"numeric"})
        stack_on_self = False

        def get_function(self):
            def slope(y: pd.Series, x: pd.Series) -> float:
                yv = np.asarray(y, dtype=float)
                xv = np.asarray(x, dtype=float)
                ok = ~(np.isnan(yv) | np.isnan(xv))
                if ok.sum() < 2 or np.ptp(xv[ok]) == 0:
                    return np.nan
                xc = xv[ok] - xv[ok].mean()
                return float(np.dot(xc, yv[ok] - yv[ok].mean()) / np.dot(xc, xc))

            return slope

    return NumericTrend


def _key_text(series: pd.Series) -> pd.Series:
    """Keys as text, with integer-valued numbers written without a decimal point."""
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series.astype(float)
        integral = values.dropna().eq(np.round(values.dropna())).all()
        if integral:
            return values.astype("Int64").astype(str).where(values.notna(), None)
        return values.astype(str).where(values.notna(), None)
    return series.astype(object).where(series.notna(), None).map(lambda v: None if v is None else str(v).strip())


class _Plan:
    """The resolved configuration shared by fit and transform."""

    def __init__(
        self,
        child: pd.DataFrame,
        *,
        child_key: str,
        time_column: str | None,
        value_columns: Sequence[str] | None,
        categorical_columns: Sequence[str],
        aggregations: Sequence[str],
        windows: Sequence[int],
        logical_types: Mapping[str, str] | None,
        child_name: str,
    ) -> None:
        where = "child table"
        if not isinstance(child, pd.DataFrame):
            raise DataValidationError(f"{where}: expected a pandas DataFrame, got {type(child).__name__}.")
        require_columns(child, [child_key], role="child key", where=where)
        if time_column is not None:
            require_columns(child, [time_column], role="time", where=where)
        for agg in aggregations:
            check_choice(agg, AGGREGATIONS, name="aggregations", owner="relational features")
        if "trend" in aggregations and time_column is None:
            raise SpecError(
                "relational features: aggregation 'trend' needs a time column (the slope is taken against it); "
                "set time_column (e.g. 'cycle'), or remove 'trend'."
            )
        for n in windows:
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
                raise SpecError(f"relational features: windows must be positive integers (first N rows), got {n!r}.")
        if not child_name.isidentifier():
            raise SpecError(f"relational features: child_name must be a simple name like 'cycles', got {child_name!r}.")
        skip = {child_key} | ({time_column} if time_column else set())
        cats = require_columns(child, list(categorical_columns), role="categorical", where=where)
        if value_columns is None:
            values = [
                c
                for c in child.columns
                if c not in skip
                and c not in cats
                and pd.api.types.is_numeric_dtype(child[c])
                and not pd.api.types.is_bool_dtype(child[c])
            ]
        else:
            values = require_columns(child, value_columns, role="value", where=where)
            bad = [c for c in values if not pd.api.types.is_numeric_dtype(child[c])]
            if bad:
                raise DataValidationError(
                    f"{where}: value column(s) {format_columns(bad)} are not numeric; list text columns under "
                    "categorical_columns instead."
                )
        self.time_kind = None
        if time_column is not None:
            t = child[time_column]
            if pd.api.types.is_datetime64_any_dtype(t):
                self.time_kind = "Datetime"
            elif pd.api.types.is_numeric_dtype(t):
                self.time_kind = "Double"
            else:
                raise DataValidationError(
                    f"{where}: time column {time_column!r} must be numbers (cycle number, hours) or datetimes, "
                    f"got values like {format_values(t.dropna().head(3))}."
                )
        self.child = child
        self.child_key = child_key
        self.time_column = time_column
        self.values = values
        self.cats = cats
        self.aggregations = list(aggregations)
        self.windows = [int(n) for n in windows]
        self.logical_types = dict(logical_types or {})
        self.child_name = child_name

    def child_logical_types(self) -> dict[str, str]:
        types = {self.child_key: "Categorical", _ROW_ID: "Integer"}
        types.update({c: "Double" for c in self.values})
        types.update({c: "Categorical" for c in self.cats})
        if self.time_column:
            types[self.time_column] = self.time_kind
        types.update(self.logical_types)
        return types

    def dataframe_names(self) -> list[str]:
        return [self.child_name] + [f"{self.child_name}_first{n}" for n in self.windows]


def _build_entityset(plan: _Plan, parent_keys: pd.Index, child_keys: pd.Series) -> Any:
    ft = _featuretools()
    es = ft.EntitySet(id="planner")
    parent = pd.DataFrame({"__key__": parent_keys.astype(str)})
    es.add_dataframe(
        dataframe_name="parent", dataframe=parent, index="__key__", logical_types={"__key__": "Categorical"}
    )
    columns = [plan.child_key] + ([plan.time_column] if plan.time_column else []) + plan.values + plan.cats
    child = plan.child[list(dict.fromkeys(columns))].copy()
    child[plan.child_key] = child_keys
    child = child[child[plan.child_key].isin(set(parent["__key__"]))]
    order_cols = [plan.child_key] + ([plan.time_column] if plan.time_column else [])
    child["__pos__"] = np.arange(len(child))
    child = child.sort_values(order_cols + ["__pos__"], kind="stable").drop(columns="__pos__")
    child[_ROW_ID] = np.arange(len(child))
    types = plan.child_logical_types()
    frames = {plan.child_name: child}
    rank = child.groupby(plan.child_key, sort=False).cumcount() + 1
    for n in plan.windows:
        frames[f"{plan.child_name}_first{n}"] = child.loc[rank <= n].copy()
    for name, frame in frames.items():
        es.add_dataframe(
            dataframe_name=name,
            dataframe=frame.reset_index(drop=True),
            index=_ROW_ID,
            time_index=plan.time_column,
            logical_types={c: t for c, t in types.items() if c in frame.columns},
        )
        es.add_relationship("parent", "__key__", name, plan.child_key)
    return es


def _primitives(plan: _Plan) -> list[Any]:
    out: list[Any] = []
    for agg in plan.aggregations:
        if agg == "trend":
            out.append(_numeric_trend() if plan.time_kind == "Double" else "trend")
        else:
            out.append(agg)
    if plan.cats:
        out += ["num_unique", "mode"]
    return out


def _feature_definitions(plan: _Plan, es: Any) -> list[Any]:
    ft = _featuretools()
    ignore = {plan.child_key}
    primitive_options: dict[Any, Any] = {}
    if plan.time_column:
        # The time column is an input of trend only; its mean or skew is not a feature of the entity.
        time_ignored = {name: [plan.time_column] for name in plan.dataframe_names()}
        for agg in _primitives(plan):
            if agg not in ("trend", "count") and not (isinstance(agg, type)):
                primitive_options[agg] = {"ignore_columns": time_ignored}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # UnusedPrimitiveWarning, pandas FutureWarnings inside featuretools
        features = ft.dfs(
            entityset=es,
            target_dataframe_name="parent",
            agg_primitives=_primitives(plan),
            trans_primitives=[],
            max_depth=1,
            features_only=True,
            primitive_options=primitive_options or None,
            ignore_columns={name: sorted(ignore) for name in plan.dataframe_names()},
        )
    kept = []
    for feature in features:
        bases = [b.get_name() for b in getattr(feature, "base_features", [])]
        if plan.time_column and bases and bases[0] == plan.time_column:
            continue  # e.g. TREND(cycles.cycle, cycle), which is 1 by construction
        kept.append(feature)
    return kept


def _compute(plan: _Plan, keys: pd.Series, *, where: str, warn_orphans: bool) -> tuple[pd.DataFrame, list[str]]:
    """Feature matrix indexed by the unique parent keys (text)."""
    ft = _featuretools()
    child_keys = _key_text(plan.child[plan.child_key])
    parent_keys = pd.Index(keys.dropna().unique())
    _check_keys(plan, parent_keys, child_keys, where=where, warn_orphans=warn_orphans)
    es = _build_entityset(plan, parent_keys, child_keys)
    features = _feature_definitions(plan, es)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        matrix = ft.calculate_feature_matrix(features, entityset=es)
    matrix.index = matrix.index.astype(str)
    for col in matrix.columns:
        # Woodwork returns nullable/categorical dtypes; hand back plain float or object columns.
        if pd.api.types.is_numeric_dtype(matrix[col]) or pd.api.types.is_bool_dtype(matrix[col]):
            matrix[col] = matrix[col].astype(float)
        else:
            matrix[col] = matrix[col].astype(object).where(matrix[col].notna(), None)
    return matrix, [f.get_name() for f in features]


def _check_keys(plan: _Plan, parent_keys: pd.Index, child_keys: pd.Series, *, where: str, warn_orphans: bool) -> None:
    present = child_keys.dropna()
    if child_keys.isna().any() and warn_orphans:
        warnings.warn(
            f"{where}: {int(child_keys.isna().sum())} child row(s) have an empty {plan.child_key!r} and are ignored.",
            DataQualityWarning,
            stacklevel=4,
        )
    parent_set = set(parent_keys)
    matched = present.isin(parent_set)
    if len(present) and not matched.any():
        raise DataValidationError(
            f"{where}: no child key in {plan.child_key!r} matches a parent key (child keys like "
            f"{format_values(present.unique()[:4])}; parent keys like {format_values(list(parent_keys[:4]))}). "
            "Check parent_key/child_key name the same identifier in both tables."
        )
    orphans = present[~matched]
    if len(orphans) and warn_orphans:
        warnings.warn(
            f"{where}: {len(orphans)} child row(s) have keys with no parent row ({format_values(orphans.unique())}); "
            "they are ignored.",
            DataQualityWarning,
            stacklevel=4,
        )
    childless = [k for k in parent_keys if k not in set(present)]
    if childless:
        warnings.warn(
            f"{where}: {len(childless)} parent row key(s) have no child rows ({format_values(childless)}); their "
            "aggregates are NaN (COUNT 0).",
            DataQualityWarning,
            stacklevel=4,
        )


def relational_features(
    parent: pd.DataFrame,
    child: pd.DataFrame,
    *,
    parent_key: str,
    child_key: str | None = None,
    time_column: str | None = None,
    value_columns: Sequence[str] | None = None,
    categorical_columns: Sequence[str] = (),
    aggregations: Sequence[str] = ("mean", "std", "min", "max", "skew", "trend", "count"),
    windows: Sequence[int] = (),
    logical_types: Mapping[str, str] | None = None,
    child_name: str = "records",
) -> pd.DataFrame:
    """Aggregate each parent row's child rows into feature columns.

    Args:
        parent: Main table, one row per entity (duplicated keys get identical features).
        child: Child table, many rows per entity.
        parent_key: Key column in ``parent``.
        child_key: Key column in ``child`` (default: same name as ``parent_key``).
        time_column: Orders child rows (cycle number, time); required for ``trend`` and
            defines "first N" in ``windows``.
        value_columns: Numeric child columns to aggregate (default: all numeric but key/time).
        categorical_columns: Text child columns (aggregated by number of unique values and mode).
        aggregations: Names from :data:`AGGREGATIONS`.
        windows: Also aggregate over each entity's first N child rows (by ``time_column``),
            e.g. ``(100,)`` gives ``MEAN(records_first100.capacity)``.
        logical_types: Override woodwork logical types of child columns.
        child_name: Name of the child table in feature names, e.g. ``"cycles"``.

    Returns:
        DataFrame aligned with ``parent`` (same index), one column per feature, named the
        featuretools way: ``MEAN(cycles.capacity)``, ``TREND(cycles.capacity, cycle)``.

    Raises:
        DataValidationError: Missing key/time/value columns, or keys that never match.
        SpecError: Unknown aggregation, ``trend`` without a time column, bad windows.
    """
    where = "relational features"
    if not isinstance(parent, pd.DataFrame):
        raise DataValidationError(f"{where}: parent must be a pandas DataFrame, got {type(parent).__name__}.")
    require_columns(parent, [parent_key], role="parent key", where="parent table")
    plan = _Plan(
        child,
        child_key=child_key or parent_key,
        time_column=time_column,
        value_columns=value_columns,
        categorical_columns=categorical_columns,
        aggregations=aggregations,
        windows=windows,
        logical_types=logical_types,
        child_name=child_name,
    )
    keys = _key_text(parent[parent_key])
    matrix, names = _compute(plan, keys, where=where, warn_orphans=True)
    out = matrix.reindex(keys.to_numpy())[names]
    out.index = parent.index
    return out


class RelationalFeaturizer(TransformerMixin, BaseEstimator):
    """Pipeline step: append aggregates of a child table to each row of the main table.

    ``X`` must be a DataFrame with the ``parent_key`` column. The child table is a parameter
    (it is looked up, never fitted on). The feature list is fixed in ``fit``; ``transform``
    computes the same columns for any rows, NaN for entities without child rows.

    Args:
        child: The child table.
        parent_key, child_key, time_column, value_columns, categorical_columns, aggregations,
            windows, logical_types, child_name: See :func:`relational_features`.
        drop_key: Drop ``parent_key`` from the output (ids are not features).
        passthrough: Keep the other columns of ``X`` before the new features.

    Attributes:
        feature_names_: Names of the synthesized features.
    """

    def __init__(
        self,
        *,
        child: pd.DataFrame | None = None,
        parent_key: str = "id",
        child_key: str | None = None,
        time_column: str | None = None,
        value_columns: Sequence[str] | None = None,
        categorical_columns: Sequence[str] = (),
        aggregations: Sequence[str] = ("mean", "std", "min", "max", "skew", "trend", "count"),
        windows: Sequence[int] = (),
        logical_types: Mapping[str, str] | None = None,
        child_name: str = "records",
        drop_key: bool = True,
        passthrough: bool = True,
    ) -> None:
        self.child = child
        self.parent_key = parent_key
        self.child_key = child_key
        self.time_column = time_column
        self.value_columns = value_columns
        self.categorical_columns = categorical_columns
        self.aggregations = aggregations
        self.windows = windows
        self.logical_types = logical_types
        self.child_name = child_name
        self.drop_key = drop_key
        self.passthrough = passthrough

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        return tags

    def _plan(self) -> _Plan:
        if self.child is None:
            raise SpecError("RelationalFeaturizer: child=None; pass the child table (a DataFrame).")
        return _Plan(
            self.child,
            child_key=self.child_key or self.parent_key,
            time_column=self.time_column,
            value_columns=self.value_columns,
            categorical_columns=self.categorical_columns,
            aggregations=self.aggregations,
            windows=self.windows,
            logical_types=self.logical_types,
            child_name=self.child_name,
        )

    def _frame(self, X: Any, reset: bool) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise DataValidationError(
                f"RelationalFeaturizer needs a DataFrame with the key column {self.parent_key!r}; got {type(X).__name__}."
            )
        validate_data(self, X, reset=reset, skip_check_array=True)
        require_columns(X, [self.parent_key], role="parent key", where="RelationalFeaturizer")
        return X

    def fit(self, X: Any, y: Any = None) -> RelationalFeaturizer:
        frame = self._frame(X, reset=True)
        plan = self._plan()
        keys = _key_text(frame[self.parent_key])
        # Inside CV each fold holds a subset of the entities, so child rows of other entities are
        # expected here and not warned about; only keys matching nothing at all are an error.
        _, names = _compute(plan, keys, where="RelationalFeaturizer (training rows)", warn_orphans=False)
        self.feature_names_ = names
        return self

    def transform(self, X: Any) -> pd.DataFrame:
        """``X`` (minus the key if ``drop_key``) followed by the synthesized features."""
        check_is_fitted(self, "feature_names_")
        frame = self._frame(X, reset=False)
        keys = _key_text(frame[self.parent_key])
        matrix, _ = _compute(self._plan(), keys, where="RelationalFeaturizer", warn_orphans=False)
        feats = matrix.reindex(keys.to_numpy()).reindex(columns=self.feature_names_)
        feats.index = frame.index
        if not self.passthrough:
            return feats
        rest = frame.drop(columns=[self.parent_key]) if self.drop_key else frame
        return pd.concat([rest, feats], axis=1)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "feature_names_")
        names = list(self.feature_names_)
        if self.passthrough:
            rest = [c for c in self.feature_names_in_ if not (self.drop_key and c == self.parent_key)]
            names = rest + names
        return np.asarray(names, dtype=object)
