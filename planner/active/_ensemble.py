"""Ensemble surrogates: a random forest, extra trees, bagging, stacking or a bootstrap of any
regressor turned into a posterior (mean and variance over its members).

Also reads the members of the AutoML's refit pipelines (:func:`member_predictions`), so
that the search's best model can serve as the surrogate. Imports torch, BoTorch and
scikit-learn; only imported when a suggestion is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from botorch.models.ensemble import EnsembleModel
from torch import Tensor

from planner.active._surrogates import DTYPE, VAR_FLOOR, BaseSurrogate, Points
from planner.exceptions import DataValidationError, SpecError

__all__ = ["EnsembleSurrogate", "TabulatedEnsembleModel", "fit_ensemble", "member_predictions"]


def _is_pipeline(est: Any) -> bool:
    from sklearn.pipeline import Pipeline

    return isinstance(est, Pipeline)


def _final_step(est: Any) -> tuple[Any, Any]:
    """``(transform_or_None, final_estimator)`` of a pipeline, or ``(None, est)``."""
    if _is_pipeline(est):
        return (est[:-1] if len(est.steps) > 1 else None), est[-1]
    return None, est


def _unwrap(final: Any) -> Any:
    """The model inside a wrapper that does not change predictions: the AutoML's training-row
    outlier filters (``OutlierFiltered*`` with ``estimator_``, as ``planner.automl`` unwraps them)."""
    while type(final).__name__.startswith("OutlierFiltered") and hasattr(final, "estimator_"):
        final = final.estimator_
    return final


def _base_members(estimators: list[Any], Xt: Any) -> list[np.ndarray]:
    """Member tables (``s_b x n``) of base models; point predictions (``1 x n``) for the others."""
    out = []
    for est in estimators:
        if isinstance(est, str):  # "drop"
            continue
        inner_t, inner = _final_step(est)
        members = _members_of(inner, inner_t.transform(Xt) if inner_t is not None else Xt)
        out.append(members if members is not None else np.asarray(est.predict(Xt), dtype=float)[None, :])
    return out


def _members_of(final: Any, Xt: Any) -> np.ndarray | None:
    """Per-member predictions ``s x n`` of a fitted ensemble regressor, else ``None``.

    Forests: one member per tree; bagging: one per bag; stacking and voting: member ``k``
    combines member ``k`` (cyclically) of every base model that is itself an ensemble with the
    point predictions of the others, as the fitted combiner does; a target transformer maps
    each member back to the target's units.
    """
    from scipy import sparse
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.ensemble import (
        BaggingRegressor,
        StackingRegressor,
        VotingRegressor,
    )

    final = _unwrap(final)
    if _is_forest(final):
        arr = Xt.astype(np.float32).tocsr() if sparse.issparse(Xt) else np.ascontiguousarray(Xt, dtype=np.float32)
        if not sparse.issparse(arr) and arr.ndim == 2 and arr.shape[1] == final.n_features_in_:
            # Checked once here, not once per tree (a third of the time on a million candidates).
            return np.stack([tree.predict(arr, check_input=False) for tree in final.estimators_])
        return np.stack([tree.predict(arr) for tree in final.estimators_]).reshape(len(final.estimators_), -1)
    if isinstance(final, BaggingRegressor):
        arr = Xt.tocsr() if sparse.issparse(Xt) else np.asarray(Xt)
        return np.stack(
            [e.predict(arr[:, feats]) for e, feats in zip(final.estimators_, final.estimators_features_, strict=True)]
        )
    if isinstance(final, TransformedTargetRegressor):
        inner_t, inner = _final_step(final.regressor_)
        members = _members_of(inner, inner_t.transform(Xt) if inner_t is not None else Xt)
        if members is None:
            return None
        return np.stack([np.ravel(final.transformer_.inverse_transform(m.reshape(-1, 1))) for m in members])
    if isinstance(final, (StackingRegressor, VotingRegressor)):
        base = _base_members(list(final.estimators_), Xt)
        s = max(b.shape[0] for b in base)
        if s == 1:
            return None  # point predictions only: the caller bootstraps the whole ensemble
        out = []
        for k in range(s):
            row = np.column_stack([b[k % b.shape[0]] for b in base])
            if isinstance(final, VotingRegressor):
                kept = [
                    w
                    for (_, e), w in zip(final.estimators, final.weights or [1.0] * len(final.estimators), strict=True)
                    if e != "drop"
                ]
                out.append(np.average(row, axis=1, weights=kept))
                continue
            if final.passthrough:
                dense = Xt.toarray() if sparse.issparse(Xt) else np.asarray(Xt, dtype=float)
                row = np.hstack([row, dense])
            out.append(final.final_estimator_.predict(row))
        return np.stack(out)
    return None


def member_predictions(estimator: Any, X: Any) -> np.ndarray | None:
    """Per-member predictions ``s x n`` of a fitted ensemble regressor or pipeline.

    Forests give one member per tree, bagging one per bag, stacking one per member of its
    ensemble base models; anything else returns ``None`` (the caller bootstraps it). An
    ensemble of whole pipelines (``planner.automl`` ensemble selection) whose pipelines all
    have members gives combined members: member ``j`` is the weighted sum of each
    pipeline's member ``j mod s_k``, over ``max(s_k)`` members, so the members' mean is the
    ensemble's weighted mean when the sizes divide ``max(s_k)``.
    """
    if hasattr(estimator, "estimators_") and hasattr(estimator, "weights_") and hasattr(estimator, "members"):
        X = estimator._frame(X)
        tables = [member_predictions(e, X) for e in estimator.estimators_]
        if any(t is None for t in tables):
            return None
        size = max(len(t) for t in tables)  # type: ignore[arg-type]
        return sum(w * t[np.arange(size) % len(t)] for w, t in zip(estimator.weights_, tables, strict=True))  # type: ignore[index]
    transform, final = _final_step(estimator)
    Xt = transform.transform(X) if transform is not None else X
    return _members_of(final, Xt)


def _default_forest(kind: str, seed: int) -> Any:
    from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor

    cls = RandomForestRegressor if kind == "rf" else ExtraTreesRegressor
    return cls(n_estimators=100, min_samples_leaf=1, max_features=1.0, random_state=seed, n_jobs=1)


def _is_fitted(est: Any) -> bool:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(est)
    except NotFittedError:
        return False
    return True


#: Pools above this many candidates get a forest prefilter on a subset of the trees.
LARGE_POOL = 50_000
#: Trees of that prefilter.
PREFILTER_MEMBERS = 25


def _is_forest(est: Any) -> bool:
    from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor

    return isinstance(est, (RandomForestRegressor, ExtraTreesRegressor))


def _first_trees(forest: Any, k: int) -> Any:
    """A shallow copy of a fitted forest that holds its first ``k`` trees."""
    import copy

    part = copy.copy(forest)
    part.estimators_ = forest.estimators_[:k]
    return part


@dataclass
class _Member:
    """One output's fitted ensemble: how to get ``s x n`` member predictions for points."""

    estimator: Any
    input_kind: str  # "raw" or "encoded"
    columns: list[str]
    bootstrap: list[Any] | None = None
    sign: float = 1.0  # -1 for an estimator used as given on a "min" target

    def predict(self, points: Points, limit: int | None = None) -> np.ndarray:
        X = self._design_matrix(points)
        if self.bootstrap is not None:
            return np.stack([np.asarray(b.predict(X), dtype=float) for b in self.bootstrap])
        if limit is not None and _is_forest(self.estimator):
            return self.sign * np.asarray(member_predictions(_first_trees(self.estimator, limit), X), dtype=float)
        return self.sign * np.asarray(member_predictions(self.estimator, X), dtype=float)

    def _design_matrix(self, points: Points) -> Any:
        if self.input_kind == "raw":
            return points.frame[self.columns].reset_index(drop=True)
        return pd.DataFrame(points.enc, columns=self.columns)


@dataclass
class EnsembleSurrogate(BaseSurrogate):
    """An ensemble regressor turned into a posterior: mean and variance over its members.

    Joint draws are whole members (one tree predicts every point), which is what BoTorch's
    ``EnsemblePosterior`` assumes; batch acquisition with pending points therefore works
    unchanged.

    Attributes:
        members: One fitted ensemble per output.
        n_members: Ensemble size ``s`` after aligning the outputs.
    """

    members: list[_Member] = field(default_factory=list)
    n_members: int = 0
    refit: Any = None  # (Points, Y) -> EnsembleSurrogate with the same estimators
    train: tuple[Points, np.ndarray] | None = None
    prefilter_members: int | None = None  # members of the prefilter (None: all), see prepare_prefilter

    def prepare_prefilter(self, n_candidates: int) -> str | None:
        """On pools above ``LARGE_POOL`` candidates the prefilter's moments come from the first
        ``PREFILTER_MEMBERS`` members of a forest (a random subset: each tree is trained on its
        own bootstrap) and the shortlist is scored with every member; the note says so."""
        self.prefilter_members = None
        if n_candidates <= LARGE_POOL or self.n_members <= PREFILTER_MEMBERS:
            return None
        if not all(m.bootstrap is None and _is_forest(m.estimator) for m in self.members):
            return None
        self.prefilter_members = PREFILTER_MEMBERS
        return (
            f"the prefilter ranked the {n_candidates} candidates with {PREFILTER_MEMBERS} of the forest's "
            f"{self.n_members} trees; the shortlist was scored with every tree"
        )

    def prefilter_moments(self, points: Points) -> tuple[np.ndarray, np.ndarray]:
        return self._moments(self.member_table(points, limit=self.prefilter_members))

    def member_table(self, points: Points, limit: int | None = None) -> np.ndarray:
        """Member predictions, ``s x n x m`` (larger is better); ``limit``: the first members only
        (forests without a bootstrap, see :meth:`prepare_prefilter`)."""
        s = self.n_members if limit is None else min(limit, self.n_members)
        if len(points) == 0:
            return np.zeros((s, 0, self.n_outputs))
        preds = []
        for member in self.members:
            p = member.predict(points, limit=limit)
            reps = -(-s // p.shape[0])
            preds.append(np.tile(p, (reps, 1))[:s])
        return np.stack(preds, axis=-1)

    def moments(self, points: Points) -> tuple[np.ndarray, np.ndarray]:
        return self._moments(self.member_table(points))

    def _moments(self, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance over a member table's members (variance floored)."""
        var = table.var(axis=0, ddof=1) if table.shape[0] > 1 else np.zeros(table.shape[1:])
        return table.mean(axis=0), np.maximum(var, VAR_FLOOR * self.y_std**2)

    def botorch_model(self, points: Points) -> tuple[Any, Tensor]:
        table = torch.as_tensor(self.member_table(points), dtype=DTYPE)
        return TabulatedEnsembleModel(table), torch.arange(len(points), dtype=DTYPE).unsqueeze(-1)

    def joint_samples(self, points: Points, n_samples: int) -> np.ndarray:
        table = self.member_table(points)
        idx = torch.randint(self.n_members, (n_samples,)).numpy()
        return table[idx]

    def held_out_residuals(self, n_folds: int = 5) -> np.ndarray:
        """Residuals of ``n_folds``-fold cross-validation refits, over their ensemble spread."""
        points, Y = self.train
        return self.cross_validated_residuals(self.refit, points, Y, n_folds)


class TabulatedEnsembleModel(EnsembleModel):
    """An ensemble whose member predictions were computed beforehand for a fixed set of
    points; the model's single input is the point's position in that set.

    Args:
        table: Member predictions, ``s x N x m``.
    """

    def __init__(self, table: Tensor) -> None:
        super().__init__()
        self.table = table
        self._num_outputs = table.shape[-1]

    def forward(self, X: Tensor) -> Tensor:
        """``batch x q x 1`` positions -> ``batch x s x q x m`` member predictions."""
        idx = X[..., 0].round().long()
        return self.table[:, idx, :].movedim(0, -3)


def _input_kind(est: Any, inputs: list[str], features: list[str]) -> tuple[str, list[str]]:
    names = getattr(est, "feature_names_in_", None)
    if names is not None:
        names = [str(n) for n in names]
        if set(names) <= set(inputs):
            return "raw", names
        if set(names) <= set(features):
            return "encoded", names
        raise DataValidationError(
            f"the surrogate estimator was fitted on columns {names[:8]}, which are neither the inputs "
            f"{inputs[:8]} nor the encoded features; refit it on the campaign inputs"
        )
    if _is_pipeline(est):
        return "raw", list(inputs)
    return "encoded", list(features)


def fit_ensemble(
    estimator: Any,
    observed: Points,
    Y: np.ndarray,
    *,
    inputs: list[str],
    features: list[str],
    refit: bool = True,
    signs: np.ndarray | None = None,
    n_bootstrap: int = 16,
    seed: int = 0,
) -> EnsembleSurrogate:
    """Turn a scikit-learn regressor (or one per output) into an ensemble posterior.

    Args:
        estimator: ``"rf"``/``"et"`` (a random forest / extra trees on the encoded inputs), a
            scikit-learn regressor or pipeline (fitted or not), or a dict output index -> one.
            Pipelines predict from the raw input table (so they can featurize it themselves);
            bare estimators from the encoded features unless fitted on the raw columns.
        observed: The observed points.
        Y: Outputs (larger is better), ``n x m``.
        inputs: Input column names.
        features: Encoded feature names.
        refit: Refit a clone on ``observed``/``Y`` (default). With ``False`` a fitted estimator
            is used as given: it predicts the outputs in the data's units, and ``signs``
            orients them.
        signs: ``+1``/``-1`` per output (``-1`` for targets to minimize); only used with
            ``refit=False``.
        n_bootstrap: Ensemble size for estimators that are no forest/bagging/stacking.
        seed: Seeds the default forests and the bootstrap.

    Raises:
        SpecError: ``estimator`` is neither a known name nor a regressor.
    """
    from sklearn.base import clone, is_regressor

    m = Y.shape[1]
    per_output = estimator if isinstance(estimator, dict) else {j: estimator for j in range(m)}
    rng = np.random.default_rng(seed)
    members: list[_Member] = []
    notes: list[str] = []
    names = []
    for j in range(m):
        est = per_output.get(j, per_output.get(str(j)))
        if isinstance(est, str):
            if est not in ("rf", "et"):
                raise SpecError(
                    f"unknown surrogate {est!r}; use 'gp', 'gp-additive', 'rf', 'et', 'auto', 'robust', 'portfolio' "
                    "or a scikit-learn regressor"
                )
            est = _default_forest(est, seed + j)
        if est is None or not hasattr(est, "predict") or not (is_regressor(est) or _is_pipeline(est)):
            raise SpecError(
                f"surrogate must be 'gp', 'rf', 'et' or a scikit-learn regressor/pipeline, got {type(est).__name__}"
            )
        fitted = _is_fitted(est)
        kind, cols = _input_kind(est, inputs, features)
        member = _Member(est, kind, cols)
        X = member._design_matrix(observed)
        y = Y[:, j]
        if refit or not fitted:
            est = clone(est)
            unseeded = {k: seed + j for k, v in est.get_params().items() if k.endswith("random_state") and v is None}
            est.set_params(**unseeded)
            est.fit(X, y)
            member.estimator = est
        elif signs is not None:
            member.sign = float(signs[j])
        if member_predictions(est, X.iloc[:1]) is None:
            boot = []
            for _ in range(n_bootstrap):
                idx = rng.integers(0, len(y), len(y))
                b = clone(est).fit(X.iloc[idx], y[idx])
                boot.append(b)
            member.bootstrap = boot
            notes.append(
                f"{type(_unwrap(_final_step(est)[1])).__name__} has no members to read a spread from; "
                f"used a bootstrap ensemble of {n_bootstrap} refits"
            )
        members.append(member)
        names.append(type(_unwrap(_final_step(est)[1])).__name__)
    probe = Points(observed.frame.iloc[:1], observed.enc[:1])
    n_members = max(mb.predict(probe).shape[0] for mb in members)

    def refit_on(points: Points, Y_part: np.ndarray) -> EnsembleSurrogate:
        templates = {j: mb.estimator for j, mb in enumerate(members)}
        return fit_ensemble(
            templates, points, Y_part, inputs=inputs, features=features, n_bootstrap=n_bootstrap, seed=seed
        )

    y_std = Y.std(axis=0)
    return EnsembleSurrogate(
        name=f"ensemble ({', '.join(dict.fromkeys(names))}; {n_members} members)",
        n_outputs=m,
        y_mean=Y.mean(axis=0),
        y_std=np.where(y_std > 0, y_std, 1.0),
        notes=list(dict.fromkeys(notes)),
        members=members,
        n_members=n_members,
        refit=refit_on,
        train=(observed, Y),
    )
