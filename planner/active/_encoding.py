"""Turn experiment tables (the design space's vocabulary) into model inputs (numbers).

Numeric inputs pass through, categorical inputs are one-hot encoded, and an optional
featurizer (for example composition strings -> descriptors, the same one the AutoML
pipelines use) replaces both. Only numpy and pandas are needed here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from planner.active._specs import MAX_CATEGORICAL_LEVELS, ContinuousDesign, PoolDesign, key_columns
from planner.exceptions import DataValidationError

__all__ = ["InputEncoder", "build_encoder", "row_keys", "POOL_CACHE_BYTES"]

#: Largest encoded pool (bytes) that :meth:`InputEncoder.encode_pool` keeps between calls.
POOL_CACHE_BYTES = 256 * 2**20


def _apply_featurizer(featurizer: Any, frame: pd.DataFrame) -> pd.DataFrame:
    out = featurizer.transform(frame) if hasattr(featurizer, "transform") else featurizer(frame)
    if not isinstance(out, pd.DataFrame):
        arr = np.asarray(out, dtype=float)
        if arr.ndim != 2 or arr.shape[0] != len(frame):
            raise DataValidationError(
                f"the featurizer returned shape {arr.shape} for {len(frame)} rows; it must return one row per input row"
            )
        out = pd.DataFrame(arr, columns=[f"f{i}" for i in range(arr.shape[1])])
    non_numeric = [c for c in out.columns if not pd.api.types.is_numeric_dtype(out[c])]
    if non_numeric:
        raise DataValidationError(
            f"the featurizer returned non-numeric column(s) {non_numeric[:5]}; it must return numbers"
        )
    return out


def _fitted(featurizer: Any, frames: Sequence[pd.DataFrame], inputs: Sequence[str]) -> Any:
    """``featurizer`` itself when it is a plain callable or a fitted transformer; else a clone
    fitted on the inputs of ``frames`` (observations and up to 10,000 candidates: a
    featurizer learns no labels, e.g. which elements occur)."""
    if not hasattr(featurizer, "fit") or not hasattr(featurizer, "transform"):
        return featurizer
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(featurizer)
        return featurizer
    except NotFittedError:
        data = pd.concat([f[list(inputs)] for f in frames], ignore_index=True)
        return clone(featurizer).fit(data)


@dataclass(frozen=True)
class InputEncoder:
    """Maps an input table (``n`` rows) to a float matrix (``n x d``) and back.

    Attributes:
        inputs: Input columns, in the order the design declares them.
        numeric: Numeric inputs that pass through.
        levels: Categorical input -> its levels, one one-hot column each.
        featurizer: Replaces the default encoding when given.
        feature_names: Names of the ``d`` model features.
        lower: Lower normalization bound of each feature, shape ``d``.
        upper: Upper normalization bound of each feature, shape ``d`` (``> lower``).
    """

    inputs: tuple[str, ...]
    numeric: tuple[str, ...]
    levels: dict[str, tuple[Any, ...]]
    featurizer: Any
    feature_names: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray

    @property
    def dim(self) -> int:
        """Number of model features ``d``."""
        return len(self.feature_names)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Encode ``frame`` (``n`` rows holding :attr:`inputs`) as an ``n x d`` float64 array."""
        if self.featurizer is not None:
            out = _apply_featurizer(self.featurizer, frame[list(self.inputs)])
            missing = [c for c in self.feature_names if c not in out.columns]
            if missing:
                raise DataValidationError(f"the featurizer did not return feature(s) {missing[:5]} it returned before")
            arr = out[list(self.feature_names)].to_numpy(dtype=float)
            bad = ~np.isfinite(arr).all(axis=1)
            if bad.any():
                rows = frame.index[bad][:5].tolist()
                raise DataValidationError(
                    f"the featurizer produced missing or infinite descriptors for rows {rows}; "
                    "check those rows' inputs (for example an unknown element in a composition)"
                )
            return arr
        blocks = [frame[list(self.numeric)].to_numpy(dtype=float)] if self.numeric else []
        for name, levels in self.levels.items():
            codes = pd.Categorical(frame[name], categories=list(levels)).codes
            if (codes < 0).any():
                bad = frame.index[codes < 0][:5].tolist()
                values = pd.unique(frame[name][codes < 0])[:5].tolist()
                raise DataValidationError(
                    f"column {name!r} has level(s) {values} (rows {bad}) outside the known levels {list(levels)[:10]}; "
                    "add them to the design's categorical levels"
                )
            onehot = np.zeros((len(frame), len(levels)))
            onehot[np.arange(len(frame)), codes] = 1.0
            blocks.append(onehot)
        return np.hstack(blocks) if blocks else np.zeros((len(frame), 0))

    def decode(self, arr: np.ndarray) -> pd.DataFrame:
        """Invert :meth:`transform` for the default encoding (``n x d`` -> ``n`` rows)."""
        if self.featurizer is not None:
            raise DataValidationError("featurized inputs cannot be decoded back into experiments")
        arr = np.atleast_2d(arr)
        out = {name: arr[:, i] for i, name in enumerate(self.numeric)}
        start = len(self.numeric)
        for name, levels in self.levels.items():
            block = arr[:, start : start + len(levels)]
            out[name] = [levels[j] for j in block.argmax(axis=1)]
            start += len(levels)
        return pd.DataFrame(out)[list(self.inputs)]

    def categorical_slices(self) -> dict[str, slice]:
        """Columns of each one-hot block in the encoded matrix."""
        out, start = {}, len(self.numeric)
        for name, levels in self.levels.items():
            out[name] = slice(start, start + len(levels))
            start += len(levels)
        return out

    def unit(self, arr: np.ndarray) -> np.ndarray:
        """Scale encoded features to the unit cube of the normalization bounds (``n x d``)."""
        return (arr - self.lower) / (self.upper - self.lower)

    def encode_pool(self, design: PoolDesign) -> np.ndarray | None:
        """:meth:`transform` of the pool's usable candidates (``n_valid x d``), kept on the
        design for later calls with the same encoding (the numeric inputs and the levels);
        ``None`` with a featurizer (it may be refitted between calls) or when the matrix
        would exceed ``POOL_CACHE_BYTES`` (then callers encode chunk by chunk)."""
        if self.featurizer is not None:
            return None
        pool = design.valid_candidates
        width = len(self.numeric) + sum(len(v) for v in self.levels.values())
        if len(pool) * width * 8 > POOL_CACHE_BYTES:
            return None
        key = (self.numeric, tuple((k, tuple(v)) for k, v in self.levels.items()))
        cached = design._cache.get("encoded")
        if cached is not None and cached[0] == key:
            return cached[1]
        base = InputEncoder(self.inputs, self.numeric, self.levels, None, (), np.zeros(0), np.zeros(0))
        arr = np.vstack([base.transform(chunk) for chunk in _chunks(pool, design.chunk_size)])
        arr.setflags(write=False)
        design._cache["encoded"] = (key, arr)  # one encoding at a time: memory stays bounded
        return arr


def _chunks(frame: pd.DataFrame, size: int) -> Iterable[pd.DataFrame]:
    for start in range(0, len(frame), size):
        yield frame.iloc[start : start + size]


def build_encoder(
    design: PoolDesign | ContinuousDesign,
    frames: Sequence[pd.DataFrame],
    *,
    featurizer: Any = None,
) -> InputEncoder:
    """Build the encoder for ``design`` and the extra tables ``frames`` (observed, pending).

    Levels are the union over the design and ``frames``; normalization bounds span the design
    (the box of a continuous design, a chunked min/max over a pool) and ``frames``.

    Raises:
        DataValidationError: A text column has too many levels to one-hot encode, or the
            featurizer returns something unusable.
    """
    inputs = tuple(design.inputs)
    frames = [f for f in frames if f is not None and len(f)]
    if isinstance(design, ContinuousDesign):
        numeric = design.numeric
        levels = {name: tuple(lv) for name, lv in design.categorical.items()}
        for name in levels:
            extra = [v for f in frames for v in pd.unique(f[name]) if v not in levels[name] and pd.notna(v)]
            levels[name] = levels[name] + tuple(dict.fromkeys(extra))
        pool = None
    else:
        numeric = tuple(c for c in inputs if c not in design.categorical)
        pool = design.valid_candidates
        levels = {}
        if featurizer is None:
            for name in design.categorical:
                seen = pd.unique(pd.concat([pool[name], *(f[name] for f in frames)], ignore_index=True).dropna())
                if len(seen) > MAX_CATEGORICAL_LEVELS:
                    raise DataValidationError(
                        f"column {name!r} has {len(seen)} distinct text values, too many to one-hot encode "
                        f"(limit {MAX_CATEGORICAL_LEVELS}); pass featurizer=... that turns it into numeric "
                        "descriptors (for compositions: the planner.steps featurizer the AutoML pipelines use)"
                    )
                levels[name] = tuple(sorted(seen, key=str))
    if featurizer is not None:
        if pool is None and not frames:
            raise DataValidationError("a featurizer needs at least one candidate or observation to learn its columns")
        featurizer = _fitted(
            featurizer,
            [*frames, *([pool.sample(min(len(pool), 10_000), random_state=0)] if pool is not None else [])],
            inputs,
        )
        sample = (pool if pool is not None else frames[0]).iloc[:2]
        names = tuple(map(str, _apply_featurizer(featurizer, sample[list(inputs)]).columns))
    else:
        names = numeric + tuple(f"{n}={lv}" for n, lv_ in levels.items() for lv in lv_)
    proto = InputEncoder(inputs, numeric, levels, featurizer, names, np.zeros(len(names)), np.ones(len(names)))
    lower = np.full(len(names), np.inf)
    upper = np.full(len(names), -np.inf)
    sources: list[pd.DataFrame] = list(frames)
    if isinstance(design, ContinuousDesign) and featurizer is None:
        for i, name in enumerate(numeric):
            lower[i], upper[i] = design.bounds[name]
    elif pool is not None:
        encoded = proto.encode_pool(design)
        if encoded is not None:  # the same numbers as chunk by chunk below, kept with the encoding
            cached = design._cache.get("range")
            if cached is None or cached[0] is not encoded:
                cached = (encoded, encoded.min(axis=0), encoded.max(axis=0))
                design._cache["range"] = cached
            lower, upper = cached[1].copy(), cached[2].copy()
        else:
            sources = [*_chunks(pool, design.chunk_size), *frames]
    for frame in sources:
        arr = proto.transform(frame)
        if len(arr):
            lower = np.minimum(lower, arr.min(axis=0))
            upper = np.maximum(upper, arr.max(axis=0))
    if featurizer is None:
        # One-hot features always span [0, 1], whatever levels happen to be present.
        for sl in proto.categorical_slices().values():
            lower[sl], upper[sl] = 0.0, 1.0
    lower = np.where(np.isfinite(lower), lower, 0.0)
    upper = np.where(np.isfinite(upper), upper, 1.0)
    flat = upper - lower <= 1e-12 * np.maximum(1.0, np.abs(lower))
    upper = np.where(flat, lower + 1.0, upper)
    return InputEncoder(inputs, numeric, levels, featurizer, names, lower, upper)


def row_keys(
    frame: pd.DataFrame, inputs: Sequence[str], categorical: Sequence[str], decimals: int = 9
) -> pd.MultiIndex:
    """Hashable keys of rows for matching experiments across tables (see :func:`key_columns`)."""
    return pd.MultiIndex.from_frame(key_columns(frame, inputs, categorical, decimals))
