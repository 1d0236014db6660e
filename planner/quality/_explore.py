"""Correlation and exploration: what the data says before any model is trusted.

Functions return plain DataFrames so the quality report can print and save them and the
feature-selection steps can use them:

* :func:`correlation_matrix` — Pearson or Spearman, pairwise-complete.
* :func:`target_correlations` — each feature against a target, with p-values and pair counts
  (small datasets: a correlation over 12 pairs means little, so the count is always shown).
* :func:`correlated_pairs` — feature pairs above a threshold.
* :func:`variance_ranking` — raw and range-normalized variance, near-constant columns.
* :func:`mutual_information_ranking` — scikit-learn's kNN mutual-information estimate.
* :func:`pca_explained_variance` — explained-variance ratio of standardized features.
* :func:`explore` — all of the above in one :class:`Exploration`.

The matching pipeline step, which drops redundant columns inside each training fold, is
:class:`planner.steps.CorrelationFilter`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.exceptions import DataValidationError
from planner.io import atomic_write_text
from planner.validation import check_choice, format_columns, require_columns

__all__ = [
    "Exploration",
    "correlated_pairs",
    "correlation_matrix",
    "explore",
    "mutual_information_ranking",
    "pca_explained_variance",
    "target_correlations",
    "variance_ranking",
]


def _numeric_frame(frame: pd.DataFrame, columns: Sequence[str] | None, *, where: str = "data") -> pd.DataFrame:
    if columns is None:
        cols = [
            c
            for c in frame.columns
            if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
        ]
        cols += [c for c in frame.columns if pd.api.types.is_bool_dtype(frame[c])]
        cols = [c for c in frame.columns if c in set(cols)]
    else:
        cols = require_columns(frame, columns, role="feature", where=where)
        text = [
            c for c in cols if not (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))
        ]
        if text:
            raise DataValidationError(
                f"{where}: column(s) {format_columns(text)} are not numeric; encode them first "
                "(CategoricalEncoder) or leave them out of the exploration."
            )
    return frame[cols].astype(float)


def correlation_matrix(
    frame: pd.DataFrame,
    *,
    method: str = "pearson",
    columns: Sequence[str] | None = None,
    min_periods: int = 3,
) -> pd.DataFrame:
    """``d x d`` correlation matrix over pairwise-complete rows (numeric columns by default).

    Args:
        method: ``"pearson"`` (linear) or ``"spearman"`` (rank, monotonic relations).
        columns: Columns to include; default every numeric column.
        min_periods: Pairs with fewer complete rows get NaN.
    """
    check_choice(method, ("pearson", "spearman"), name="method", owner="correlation_matrix")
    data = _numeric_frame(frame, columns)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return data.corr(method=method, min_periods=min_periods)


def target_correlations(
    frame: pd.DataFrame,
    target: str,
    *,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Pearson and Spearman correlation of each feature with ``target``, with p-values.

    Returns:
        One row per feature (index), columns ``n`` (complete pairs), ``pearson``,
        ``pearson_p``, ``spearman``, ``spearman_p``, sorted by ``|spearman|`` descending.
        Constant features get NaN.
    """
    from scipy import stats

    require_columns(frame, [target], role="target", where="target_correlations")
    y = _numeric_frame(frame, [target])[target]
    data = _numeric_frame(frame, columns)
    data = data.drop(columns=[target], errors="ignore")
    rows = []
    for col in data.columns:
        ok = data[col].notna() & y.notna()
        x, t = data.loc[ok, col].to_numpy(), y[ok].to_numpy()
        rec: dict[str, Any] = {"feature": col, "n": int(ok.sum())}
        if ok.sum() >= 3 and np.ptp(x) > 0 and np.ptp(t) > 0:
            pr = stats.pearsonr(x, t)
            sr = stats.spearmanr(x, t)
            rec.update(
                pearson=float(pr.statistic),
                pearson_p=float(pr.pvalue),
                spearman=float(sr.statistic),
                spearman_p=float(sr.pvalue),
            )
        else:
            rec.update(pearson=np.nan, pearson_p=np.nan, spearman=np.nan, spearman_p=np.nan)
        rows.append(rec)
    out = pd.DataFrame(rows, columns=["feature", "n", "pearson", "pearson_p", "spearman", "spearman_p"]).set_index(
        "feature"
    )
    return out.reindex(out["spearman"].abs().sort_values(ascending=False, na_position="last").index)


def correlated_pairs(
    frame: pd.DataFrame,
    *,
    threshold: float = 0.9,
    method: str = "pearson",
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Feature pairs with ``|r| >= threshold``: columns ``a``, ``b``, ``r``; sorted by ``|r|``."""
    corr = correlation_matrix(frame, method=method, columns=columns)
    cols = list(corr.columns)
    values = corr.to_numpy()
    i, j = np.triu_indices(len(cols), k=1)
    r = values[i, j]
    keep = np.abs(np.nan_to_num(r)) >= threshold
    out = pd.DataFrame(
        {"a": np.asarray(cols, dtype=object)[i[keep]], "b": np.asarray(cols, dtype=object)[j[keep]], "r": r[keep]}
    )
    return out.reindex(out["r"].abs().sort_values(ascending=False).index).reset_index(drop=True)


def variance_ranking(frame: pd.DataFrame, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Variance per numeric column, raw and after min-max scaling (comparable across units).

    Returns:
        Index = column; ``variance``, ``normalized_variance`` (of the column scaled to
        [0, 1]), ``n_unique``, ``is_constant``; sorted by ``normalized_variance`` descending.
    """
    data = _numeric_frame(frame, columns)
    rng = data.max() - data.min()
    scaled = (data - data.min()) / rng.where(rng > 0)
    out = pd.DataFrame(
        {
            "variance": data.var(ddof=1),
            "normalized_variance": scaled.var(ddof=1).fillna(0.0),
            "n_unique": data.nunique(dropna=True),
        }
    )
    out["is_constant"] = out["n_unique"] <= 1
    return out.sort_values("normalized_variance", ascending=False)


def _infer_task(y: pd.Series) -> str:
    if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        return "classification"
    values = y.dropna().unique()
    if len(values) <= 2 or (len(values) <= 10 and np.allclose(values, np.round(values)) and len(y) > 5 * len(values)):
        return "classification"
    return "regression"


def mutual_information_ranking(
    frame: pd.DataFrame,
    target: str,
    *,
    columns: Sequence[str] | None = None,
    task: str = "auto",
    n_neighbors: int = 3,
    random_state: int = 0,
) -> pd.DataFrame:
    """Mutual information between each feature and ``target`` (kNN estimator, in nats).

    Rows with a missing target are left out; missing feature values are filled with the
    column median for the estimate only (the count of filled cells is returned).

    Returns:
        Index = feature; ``mutual_information``, ``n_filled``; sorted descending.
    """
    from sklearn.feature_selection import mutual_info_classif, mutual_info_regression

    check_choice(task, ("auto", "regression", "classification"), name="task", owner="mutual_information_ranking")
    require_columns(frame, [target], role="target", where="mutual_information_ranking")
    y = frame[target]
    keep = y.notna()
    task = _infer_task(y) if task == "auto" else task
    data = _numeric_frame(frame, columns).drop(columns=[target], errors="ignore").loc[keep]
    data = data.loc[:, data.notna().any()]
    if data.shape[1] == 0 or keep.sum() < n_neighbors + 2:
        return pd.DataFrame(columns=["mutual_information", "n_filled"])
    n_filled = data.isna().sum()
    filled = data.fillna(data.median())
    discrete = np.array(
        [np.allclose(filled[c], np.round(filled[c])) and filled[c].nunique() <= 10 for c in filled.columns]
    )
    if task == "classification":
        mi = mutual_info_classif(
            filled, y[keep].astype(str), discrete_features=discrete, n_neighbors=n_neighbors, random_state=random_state
        )
    else:
        mi = mutual_info_regression(
            filled,
            y[keep].astype(float),
            discrete_features=discrete,
            n_neighbors=n_neighbors,
            random_state=random_state,
        )
    out = pd.DataFrame({"mutual_information": mi, "n_filled": n_filled.to_numpy()}, index=filled.columns)
    return out.sort_values("mutual_information", ascending=False)


def pca_explained_variance(
    frame: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    standardize: bool = True,
    n_components: int | None = None,
) -> pd.DataFrame:
    """Explained-variance ratio of principal components of the (standardized) numeric columns.

    Constant columns are left out; missing values are filled with the column median.

    Returns:
        One row per component: ``component`` (1-based), ``explained_variance_ratio``,
        ``cumulative``. How many components reach 90 % tells how many independent directions
        the features really span.
    """
    from sklearn.decomposition import PCA

    data = _numeric_frame(frame, columns)
    data = data.loc[:, data.nunique(dropna=True) > 1]
    if data.shape[1] == 0 or data.shape[0] < 2:
        return pd.DataFrame(columns=["component", "explained_variance_ratio", "cumulative"])
    filled = data.fillna(data.median())
    values = filled.to_numpy()
    if standardize:
        values = (values - values.mean(axis=0)) / values.std(axis=0, ddof=0)
    k = min(values.shape) if n_components is None else min(n_components, *values.shape)
    pca = PCA(n_components=k).fit(values)
    ratio = pca.explained_variance_ratio_
    return pd.DataFrame(
        {"component": np.arange(1, len(ratio) + 1), "explained_variance_ratio": ratio, "cumulative": np.cumsum(ratio)}
    )


@dataclass
class Exploration:
    """Everything :func:`explore` computed; every table is a DataFrame."""

    pearson: pd.DataFrame
    spearman: pd.DataFrame
    target_correlations: dict[str, pd.DataFrame] = field(default_factory=dict)
    mutual_information: dict[str, pd.DataFrame] = field(default_factory=dict)
    variance: pd.DataFrame = field(default_factory=pd.DataFrame)
    pca: pd.DataFrame = field(default_factory=pd.DataFrame)
    correlated_pairs: pd.DataFrame = field(default_factory=pd.DataFrame)

    def n_components_for(self, share: float = 0.9) -> int | None:
        """Components needed to explain ``share`` of the variance (``None`` if no PCA)."""
        if self.pca.empty:
            return None
        return int(np.searchsorted(self.pca["cumulative"].to_numpy(), share - 1e-12) + 1)

    def to_text(self, top: int = 5) -> str:
        lines = []
        if not self.pca.empty:
            lines.append(
                f"PCA: {len(self.pca)} components; {self.n_components_for(0.9)} explain 90% of the variance "
                f"(first component {self.pca['explained_variance_ratio'].iloc[0]:.0%})."
            )
        if not self.correlated_pairs.empty:
            lines.append(f"Highly correlated feature pairs (|r| >= 0.9): {len(self.correlated_pairs)}")
            for rec in self.correlated_pairs.head(top).itertuples():
                lines.append(f"  {rec.a} ~ {rec.b}: r = {rec.r:+.3f}")
        constant = self.variance.index[self.variance["is_constant"]].tolist() if not self.variance.empty else []
        if constant:
            lines.append(f"Constant columns: {format_columns(constant)}")
        for target, table in self.target_correlations.items():
            lines.append(f"Strongest Spearman correlations with {target!r}:")
            for name, rec in table.head(top).iterrows():
                lines.append(
                    f"  {name}: rho = {rec['spearman']:+.3f} (p = {rec['spearman_p']:.2g}, n = {int(rec['n'])})"
                )
        for target, table in self.mutual_information.items():
            if not table.empty:
                best = ", ".join(f"{n} ({v:.3f})" for n, v in table["mutual_information"].head(top).items())
                lines.append(f"Top mutual information with {target!r}: {best}")
        return "\n".join(lines)

    def save(self, directory: str | Path) -> list[Path]:
        """Write every table as CSV into ``directory``; returns the paths written."""
        directory = Path(directory)
        written = []
        tables: dict[str, pd.DataFrame] = {
            "correlation_pearson.csv": self.pearson,
            "correlation_spearman.csv": self.spearman,
            "variance.csv": self.variance,
            "pca_explained_variance.csv": self.pca,
            "correlated_pairs.csv": self.correlated_pairs,
        }
        for target, table in self.target_correlations.items():
            tables[f"target_correlations_{_safe_name(target)}.csv"] = table
        for target, table in self.mutual_information.items():
            tables[f"mutual_information_{_safe_name(target)}.csv"] = table
        for name, table in tables.items():
            path = directory / name
            atomic_write_text(path, table.to_csv(index=not isinstance(table.index, pd.RangeIndex)))
            written.append(path)
        return written


def _safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(name))


def explore(
    frame: pd.DataFrame,
    *,
    target_columns: Sequence[str] = (),
    feature_columns: Sequence[str] | None = None,
    task: str = "auto",
    correlation_threshold: float = 0.9,
    random_state: int = 0,
) -> Exploration:
    """Correlations, rankings and PCA of the numeric features (and their relation to the targets)."""
    targets = require_columns(frame, list(target_columns), role="target", where="explore")
    if feature_columns is None:
        features = [c for c in _numeric_frame(frame, None).columns if c not in targets]
    else:
        features = require_columns(frame, feature_columns, role="feature", where="explore")
        features = [c for c in _numeric_frame(frame, None).columns if c in set(features)]
    feats = frame[features]
    result = Exploration(
        pearson=correlation_matrix(feats, method="pearson"),
        spearman=correlation_matrix(feats, method="spearman"),
        variance=variance_ranking(feats),
        pca=pca_explained_variance(feats),
        correlated_pairs=correlated_pairs(feats, threshold=correlation_threshold),
    )
    for target in targets:
        sub = frame[features + [target]]
        if pd.api.types.is_numeric_dtype(frame[target]):
            result.target_correlations[target] = target_correlations(sub, target, columns=features)
        result.mutual_information[target] = mutual_information_ranking(
            sub, target, columns=features, task=task, random_state=random_state
        )
    return result
