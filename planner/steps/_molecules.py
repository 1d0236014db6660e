"""Molecules (SMILES) as model inputs: parsing, canonical spellings, descriptors, mixtures.

* :func:`canonical_smiles` / :func:`parse_smiles` — RDKit's canonical SMILES of a value (stray
  and non-breaking whitespace removed, fragments of a salt in canonical order), or RDKit's reason
  for refusing it.
* :func:`is_smiles_column` — whether a column holds molecules, decided by parsing its values.
* :class:`MoleculeFeaturizer` — a scikit-learn transformer: RDKit 2D descriptors, folded Morgan
  count fingerprints or one-hot labels of one SMILES column, or of a *mixture* (several SMILES
  columns, each with a fraction column): the fraction-weighted average of its components'
  vectors, which does not depend on the order the components are written in.
* :class:`DescriptorCleaner` — drops constant, mostly missing and highly correlated columns and
  imputes the rest; it learns from data, so it sits inside the pipeline (fitted per CV fold).
* :func:`mixture_grid` — a candidate pool from a list of molecules and a fraction grid.

Featurization is row-wise and cached per canonical SMILES (module-level cache), so a dataset's
molecules are computed once however many CV folds and trials use them. RDKit loads on first use.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from planner.exceptions import DataValidationError, OptionalDependencyError, SpecError

__all__ = [
    "COMPACT_DESCRIPTORS",
    "DescriptorCleaner",
    "MoleculeFeaturizer",
    "canonical_smiles",
    "clear_molecule_cache",
    "group_molecule_importance",
    "is_smiles_column",
    "mixture_grid",
    "parse_smiles",
]

KINDS = ("descriptors", "compact", "morgan", "onehot")
#: A small, physically readable descriptor set (used for the GP surrogate, where ~200 correlated
#: descriptors against tens of observations hurt more than they help).
COMPACT_DESCRIPTORS = (
    "MolWt", "MolLogP", "MolMR", "TPSA", "NumHDonors", "NumHAcceptors", "NumRotatableBonds",
    "FractionCSP3", "RingCount", "NumAromaticRings", "NumHeteroatoms", "HeavyAtomCount",
    "MaxAbsPartialCharge", "LabuteASA",
)
_WHITESPACE = re.compile(r"[\s\u00a0\u2000-\u200b\u202f\u205f\u3000\ufeff]+")
_UNAMBIGUOUS = re.compile(r"[cnosp\[\]()=#@/\\+\-.%]|\d")
_CACHE: dict[tuple[str, str], np.ndarray] = {}
_CANON: dict[str, tuple[str | None, str]] = {}


def _rdkit() -> Any:
    try:
        from rdkit import Chem, RDLogger
    except ImportError as err:  # pragma: no cover - rdkit is a base dependency
        raise OptionalDependencyError("molecule (SMILES) inputs need RDKit: pip install rdkit") from err
    RDLogger.DisableLog("rdApp.*")
    return Chem


def clean_text(value: Any) -> str:
    """The value as text with every kind of whitespace (non-breaking too) removed."""
    return _WHITESPACE.sub("", str(value))


def parse_smiles(value: Any) -> tuple[str | None, str]:
    """``(canonical SMILES, "")`` or ``(None, RDKit's reason)`` for one value (cached)."""
    raw = str(value)
    hit = _CANON.get(raw)
    if hit is not None:
        return hit
    text = clean_text(raw)
    if not text:
        out: tuple[str | None, str] = (None, "empty value")
    else:
        Chem = _rdkit()
        from rdkit import rdBase

        with rdBase.CaptureErrorLog() as capture:
            mol = Chem.MolFromSmiles(text, sanitize=False)
        if mol is None:
            lines = [re.sub(r"^\[[\d:]+\]\s*", "", line) for line in str(capture.messages).splitlines()]
            reason = next((line for line in lines if line.strip()), "RDKit could not parse it")
            out = (None, reason.replace("SMILES Parse Error: ", "SMILES parse error: "))
        else:
            try:
                Chem.SanitizeMol(mol)
                out = (Chem.MolToSmiles(mol), "")
            except Exception as err:  # RDKit raises its own sanitization exception classes
                out = (None, str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__)
    _CANON[raw] = out
    return out


def canonical_smiles(value: Any) -> str | None:
    """RDKit's canonical SMILES of ``value``, or ``None`` when it does not parse."""
    return parse_smiles(value)[0]


def is_smiles_column(values: Iterable[Any], *, min_share: float = 0.9) -> tuple[bool, dict[str, Any]]:
    """Whether distinct ``values`` are molecules, decided by parsing them with RDKit.

    Guards against words and element symbols that happen to parse (``C``, ``CO``, ``I``): at
    least half the distinct values must be unambiguous SMILES (a ring digit, bond, branch,
    bracket, aromatic atom, or three or more atoms).

    Returns:
        ``(is_smiles, info)`` with ``info`` holding ``n_distinct``, ``n_molecules`` (after
        canonicalization), ``invalid`` (``{value: reason}``) and ``merged``
        (``{canonical: [spellings]}`` for molecules written more than one way).
    """
    distinct = [v for v in pd.unique(pd.Series(list(values), dtype=object).dropna()) if str(v).strip()]
    info: dict[str, Any] = {"n_distinct": len(distinct), "n_molecules": 0, "invalid": {}, "merged": {}}
    if not distinct:
        return False, info
    spellings: dict[str, list[str]] = {}
    for value in distinct:
        canon, reason = parse_smiles(value)
        if canon is None:
            info["invalid"][str(value)] = reason
        else:
            spellings.setdefault(canon, []).append(str(value))
    info["n_molecules"] = len(spellings)
    info["merged"] = {k: v for k, v in spellings.items() if len(v) > 1}
    parsed = [v for vs in spellings.values() for v in vs]
    share = len(parsed) / len(distinct)
    unambiguous = [v for v in parsed if _UNAMBIGUOUS.search(clean_text(v)) or _n_atoms(v) >= 3]
    return bool(share >= min_share and len(unambiguous) >= 0.5 * len(parsed)), info


def _n_atoms(value: str) -> int:
    canon = canonical_smiles(value)
    if canon is None:
        return 0
    return int(_rdkit().MolFromSmiles(canon).GetNumHeavyAtoms())


# ----------------------------------------------------------------------------- vectors


def _descriptor_names(kind: str) -> tuple[str, ...]:
    from rdkit.Chem import Descriptors

    if kind == "compact":
        return COMPACT_DESCRIPTORS
    return tuple(name for name, _ in Descriptors._descList)


def _vector(canon: str, kind: str, radius: int, n_bits: int) -> np.ndarray:
    """The feature vector of one canonical SMILES (cached)."""
    key = (f"{kind}:{radius}:{n_bits}", canon)
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    Chem = _rdkit()
    mol = Chem.MolFromSmiles(canon)
    if kind == "morgan":
        from rdkit.Chem import rdFingerprintGenerator

        gen = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
        out = np.asarray(gen.GetCountFingerprintAsNumPy(mol), dtype=float)
    else:
        from rdkit.Chem import Descriptors

        functions = dict(Descriptors._descList)
        values = []
        for name in _descriptor_names(kind):
            try:
                values.append(float(functions[name](mol)))
            except Exception:  # a descriptor RDKit cannot compute for this molecule
                values.append(np.nan)
        out = np.asarray(values, dtype=float)
        out[~np.isfinite(out)] = np.nan
    out.setflags(write=False)
    _CACHE[key] = out
    return out


def clear_molecule_cache() -> None:
    """Forget every cached parse and feature vector (for timing cold featurization)."""
    _CACHE.clear()
    _CANON.clear()


class MoleculeFeaturizer(TransformerMixin, BaseEstimator):
    """Molecule columns -> numeric features (a scikit-learn transformer).

    Args:
        columns: SMILES column(s). One column: that molecule's features. Several columns with
            ``fractions``: one mixture, the fraction-weighted average of its components'
            features (fractions renormalized per row; a component with fraction 0 or no
            molecule contributes nothing), the same whatever order the components are in.
        fractions: Fraction column of each SMILES column (same order), for mixtures.
        kind: ``descriptors`` (RDKit 2D descriptors, ~200), ``compact`` (14 readable ones),
            ``morgan`` (folded Morgan count fingerprint) or ``onehot`` (one column per molecule
            seen in ``fit``: the fraction of that molecule in the mixture).
        radius: Morgan radius.
        n_bits: Morgan fold length.
        name: Prefix of the output names (default: the column, or ``mix`` for a mixture).
        on_error: ``nan`` (invalid SMILES -> missing features) or ``raise``.
    """

    def __init__(
        self,
        *,
        columns: Sequence[str] | str = ("smiles",),
        fractions: Sequence[str] | None = None,
        kind: str = "descriptors",
        radius: int = 2,
        n_bits: int = 1024,
        name: str | None = None,
        on_error: str = "nan",
    ) -> None:
        self.columns = columns
        self.fractions = fractions
        self.kind = kind
        self.radius = radius
        self.n_bits = n_bits
        self.name = name
        self.on_error = on_error

    def _columns(self) -> tuple[list[str], list[str] | None]:
        columns = [self.columns] if isinstance(self.columns, str) else list(self.columns)
        fractions = None if self.fractions is None else list(self.fractions)
        if self.kind not in KINDS:
            raise SpecError(f"MoleculeFeaturizer kind must be one of {list(KINDS)}, got {self.kind!r}")
        if fractions is not None and len(fractions) != len(columns):
            raise SpecError(f"MoleculeFeaturizer: {len(columns)} SMILES column(s) but {len(fractions)} fraction column(s); give one fraction per molecule")
        if fractions is None and len(columns) > 1:
            raise SpecError("MoleculeFeaturizer: several SMILES columns need `fractions` (a mixture); use one featurizer per column otherwise")
        return columns, fractions

    def fit(self, X: pd.DataFrame, y: Any = None) -> MoleculeFeaturizer:
        columns, _ = self._columns()
        frame = self._frame(X, columns)
        prefix = self.name or (columns[0] if len(columns) == 1 else "mix")
        if self.kind == "onehot":
            seen = {c for col in columns for c in map(canonical_smiles, frame[col].dropna()) if c is not None}
            self.levels_ = tuple(sorted(seen))
            self.feature_names_out_ = np.asarray([f"{prefix}={s}" for s in self.levels_], dtype=object)
        elif self.kind == "morgan":
            self.feature_names_out_ = np.asarray([f"{prefix}:morgan{i}" for i in range(int(self.n_bits))], dtype=object)
        else:
            _rdkit()
            self.feature_names_out_ = np.asarray([f"{prefix}:{d}" for d in _descriptor_names(self.kind)], dtype=object)
        self.n_features_in_ = len(columns) + len(self.fractions or ())
        return self

    @staticmethod
    def _frame(X: Any, columns: list[str]) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            arr = np.asarray(X, dtype=object)
            if arr.ndim == 1:
                arr = arr[:, None]
            return pd.DataFrame(arr[:, : len(columns)], columns=columns)
        missing = [c for c in columns if c not in X.columns]
        if missing:
            raise DataValidationError(f"MoleculeFeaturizer: column(s) {missing} are not in the table ({list(X.columns)[:10]})")
        return X

    def _unit(self, value: Any, levels: dict[str, int], width: int, column: str, row: Any) -> np.ndarray | None:
        """The vector of one cell, ``None`` for an empty one, all-NaN for an invalid one."""
        if value is None or (isinstance(value, float) and np.isnan(value)) or not str(value).strip():
            return None
        canon, reason = parse_smiles(value)
        if canon is None:
            if self.on_error == "raise":
                raise DataValidationError(f"column {column!r}, row {row}: {value!r} is not a valid SMILES ({reason}); correct it or remove the row")
            return np.full(width, np.nan)
        if self.kind == "onehot":
            out = np.zeros(width)
            if canon in levels:
                out[levels[canon]] = 1.0
            return out
        return _vector(canon, self.kind, int(self.radius), int(self.n_bits))

    def transform(self, X: Any) -> pd.DataFrame:
        check_is_fitted(self, "feature_names_out_")
        columns, fractions = self._columns()
        frame = self._frame(X, columns + (fractions or []))
        width = len(self.feature_names_out_)
        levels = {s: i for i, s in enumerate(getattr(self, "levels_", ()))}
        out = np.zeros((len(frame), width))
        weight_sum = np.zeros(len(frame))
        for k, column in enumerate(columns):
            if fractions is None:
                weights = np.ones(len(frame))
            else:
                weights = pd.to_numeric(frame[fractions[k]], errors="coerce").to_numpy(dtype=float)
            # one vector per distinct value, then gathered: featurization is cached per molecule
            values = frame[column].to_numpy(dtype=object)
            uniques: dict[Any, np.ndarray | None] = {}
            for i, value in enumerate(values):
                key = value if isinstance(value, str) else repr(value)
                if key not in uniques:
                    uniques[key] = self._unit(value, levels, width, column, frame.index[i])
                vec = uniques[key]
                w = weights[i]
                if vec is None:
                    if fractions is not None and np.isfinite(w) and w > 0:
                        out[i] = np.nan  # a fraction without a molecule
                    continue
                if not np.isfinite(w):
                    out[i] = np.nan
                    continue
                if w == 0:
                    continue
                out[i] += w * vec
                weight_sum[i] += w
        with np.errstate(invalid="ignore", divide="ignore"):
            if self.kind == "onehot" and fractions is not None:
                out = out / np.where(weight_sum > 0, weight_sum, 1.0)[:, None]
            elif self.kind != "onehot":
                out = np.where(weight_sum[:, None] > 0, out / np.where(weight_sum > 0, weight_sum, 1.0)[:, None], np.nan)
        return pd.DataFrame(out, columns=list(self.feature_names_out_), index=getattr(X, "index", None))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "feature_names_out_")
        return np.asarray(self.feature_names_out_, dtype=object)

    def set_output(self, *, transform: Any = None) -> MoleculeFeaturizer:
        return self  # always returns a DataFrame


class DescriptorCleaner(TransformerMixin, BaseEstimator):
    """Drop constant, mostly missing and highly correlated columns; impute the rest by the median.

    Everything is learned in ``fit``, so inside a pipeline it is refitted on each CV fold.

    Args:
        max_missing: Drop columns missing in more than this share of rows.
        max_correlation: Of two columns correlated beyond this (absolute Pearson), keep the first.
    """

    def __init__(self, *, max_missing: float = 0.2, max_correlation: float = 0.95) -> None:
        self.max_missing = max_missing
        self.max_correlation = max_correlation

    def fit(self, X: Any, y: Any = None) -> DescriptorCleaner:
        frame = pd.DataFrame(X).apply(pd.to_numeric, errors="coerce")
        names = np.asarray([str(c) for c in frame.columns], dtype=object)
        arr = frame.to_numpy(dtype=float)
        arr[~np.isfinite(arr)] = np.nan
        missing = np.isnan(arr).mean(axis=0) if len(arr) else np.ones(arr.shape[1])
        with np.errstate(invalid="ignore"):
            spread = np.nanmax(arr, axis=0) - np.nanmin(arr, axis=0) if len(arr) else np.zeros(arr.shape[1])
        keep = (missing <= self.max_missing) & (np.nan_to_num(spread, nan=0.0) > 0)
        idx = np.flatnonzero(keep)
        medians = np.nanmedian(arr[:, idx], axis=0) if len(idx) else np.zeros(0)
        filled = np.where(np.isnan(arr[:, idx]), medians, arr[:, idx])
        chosen: list[int] = []
        if len(idx) > 1 and self.max_correlation < 1:
            std = filled.std(axis=0)
            z = (filled - filled.mean(axis=0)) / np.where(std > 0, std, 1.0)
            corr = np.abs(z.T @ z) / max(len(z), 1)
            for j in range(len(idx)):
                if all(corr[j, k] <= self.max_correlation for k in chosen):
                    chosen.append(j)
        else:
            chosen = list(range(len(idx)))
        self.keep_ = idx[chosen]
        self.medians_ = medians[chosen]
        self.n_features_in_ = arr.shape[1]
        self.feature_names_in_ = names
        self.feature_names_out_ = names[self.keep_]
        return self

    def transform(self, X: Any) -> pd.DataFrame:
        check_is_fitted(self, "keep_")
        frame = pd.DataFrame(X).apply(pd.to_numeric, errors="coerce")
        arr = frame.to_numpy(dtype=float)[:, self.keep_]
        arr[~np.isfinite(arr)] = np.nan
        arr = np.where(np.isnan(arr), self.medians_, arr)
        return pd.DataFrame(arr, columns=list(self.feature_names_out_), index=getattr(X, "index", None))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "keep_")
        return np.asarray(self.feature_names_out_, dtype=object)

    def set_output(self, *, transform: Any = None) -> DescriptorCleaner:
        return self


_BIT = re.compile(r"^(?:\w+__)?(?P<block>.+):morgan\d+$")


def group_molecule_importance(importance: pd.Series) -> pd.Series | None:
    """Importance per molecule-level feature: the bits of each Morgan fingerprint summed into one
    entry (``<block>: Morgan fingerprint (n bits)``), descriptors and other features as they are.
    ``None`` when there are no fingerprint bits to group."""
    blocks = importance.index.map(lambda n: (m.group("block") if (m := _BIT.match(str(n))) else None))
    if all(b is None for b in blocks):
        return None
    counts = pd.Series([b for b in blocks if b is not None]).value_counts()
    keys = [f"{b}: Morgan fingerprint ({counts[b]} bits)" if b is not None else str(n) for n, b in zip(importance.index, blocks, strict=True)]
    return importance.groupby(keys).sum().sort_values(ascending=False, kind="mergesort")


def mixture_grid(
    molecules: Mapping[str, str] | Sequence[str],
    *,
    smiles_columns: Sequence[str],
    fraction_columns: Sequence[str],
    step: float = 0.1,
    total: float = 1.0,
    name_columns: Sequence[str] | None = None,
    include_pure: bool = True,
) -> tuple[pd.DataFrame, list[str]]:
    """A candidate pool: every unordered choice of distinct molecules x a fraction grid.

    Fractions run over multiples of ``step`` and sum to ``total`` on every row (the fraction
    group's constraint). Rows that only reorder the components of another row are left out.

    Args:
        molecules: ``{name: smiles}`` or a list of SMILES.
        smiles_columns: The mixture's SMILES columns, one per component slot.
        fraction_columns: The matching fraction columns.
        step: Grid step of the fractions (``total / step`` must be a whole number).
        total: What the fractions sum to.
        name_columns: Optional label column per slot (filled with the molecule names).
        include_pure: Also list single molecules (one slot at ``total``, the others empty).

    Returns:
        ``(pool, problems)``: the table, and one line per molecule left out because its SMILES
        is invalid (named with RDKit's reason); the other molecules go on.
    """
    if len(smiles_columns) != len(fraction_columns) or len(smiles_columns) < 1:
        raise SpecError("mixture_grid: give one fraction column per SMILES column")
    n_steps = total / step
    if step <= 0 or abs(n_steps - round(n_steps)) > 1e-9:
        raise SpecError(f"mixture_grid: total / step must be a whole number, got {total} / {step}")
    n_steps = int(round(n_steps))
    items = list(molecules.items()) if isinstance(molecules, Mapping) else [(s, s) for s in molecules]
    problems, valid = [], []
    for k, (name, smiles) in enumerate(items):
        canon, reason = parse_smiles(smiles)
        if canon is None:
            problems.append(f"molecule {k} ({name!r}): {smiles!r} is not a valid SMILES ({reason}); left out")
        else:
            valid.append((str(name), canon))
    slots = len(smiles_columns)
    rows = []
    for n_used in range(1 if include_pure else 2, slots + 1):
        for combo in itertools.combinations(valid, n_used):
            for parts in _compositions(n_steps, n_used):
                row: dict[str, Any] = {}
                for j in range(slots):
                    used = j < n_used
                    row[smiles_columns[j]] = combo[j][1] if used else None
                    row[fraction_columns[j]] = round(parts[j] * step, 12) if used else 0.0
                    if name_columns:
                        row[name_columns[j]] = combo[j][0] if used else None
                rows.append(row)
    columns = [c for j in range(slots) for c in ([name_columns[j]] if name_columns else []) + [smiles_columns[j], fraction_columns[j]]]
    return pd.DataFrame(rows, columns=columns), problems


def _compositions(n: int, k: int) -> Iterable[tuple[int, ...]]:
    """Positive integer k-tuples summing to n."""
    for cuts in itertools.combinations(range(1, n), k - 1):
        bounds = (0, *cuts, n)
        yield tuple(bounds[i + 1] - bounds[i] for i in range(k))
