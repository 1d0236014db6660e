"""Molecules (role ``smiles``) and mixtures in a campaign: roles for the engine, canonical
spellings, invalid values, pools, the suggest featurizer, and what ``init`` proposes.

RDKit loads only when a campaign has SMILES inputs (or ``init`` meets a text column).
"""

from __future__ import annotations

import itertools
import re
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

if TYPE_CHECKING:
    from planner.spec import CampaignSpec

_MAX_SHOWN = 5


def mixture_groups(spec: CampaignSpec) -> list[Any]:
    """Fraction groups whose fractions are paired with molecule columns."""
    return [g for g in spec.fraction_groups if g.molecules]


def engine_roles(spec: CampaignSpec, base: dict[str, str]) -> dict[str, str]:
    """The engine's role per input: ``base`` (the plain mapping) with SMILES columns as
    ``smiles`` and the members of each mixture group as ``mixture:<group>:<fraction>`` /
    ``fraction`` (see :mod:`planner.automl._molecules`)."""
    roles = {i.name: ("smiles" if i.role == "smiles" else base[i.role]) for i in spec.inputs}
    for group in mixture_groups(spec):
        for smiles, fraction in zip(group.molecules, group.columns, strict=True):
            roles[smiles] = f"mixture:{group.name}:{fraction}"
            roles[fraction] = "fraction"
    return roles


def smiles_columns(spec: CampaignSpec) -> list[str]:
    return [i.name for i in spec.inputs if i.role == "smiles"]


def _where(lines: list[Any], values: pd.Series, reasons: dict[str, str]) -> str:
    shown = [f"line {line} ({values.loc[line]!r}: {reasons[str(values.loc[line])]})" for line in lines[:_MAX_SHOWN]]
    more = len(lines) - _MAX_SHOWN
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def canonicalize_smiles(frame: pd.DataFrame, spec: CampaignSpec, label: str) -> tuple[pd.DataFrame, list[str], list[str], set[Any]]:
    """Replace every SMILES by RDKit's canonical spelling, so one molecule is one level.

    Returns:
        ``(frame, problems, notes, bad_rows)``: ``problems`` name the file (``label``), the
        lines, the column and RDKit's reason for each value that does not parse.
    """
    columns = [c for c in smiles_columns(spec) if c in frame.columns]
    if not columns:
        return frame, [], [], set()
    from planner.steps._molecules import parse_smiles

    frame = frame.copy()
    problems, notes, bad = [], [], set()
    for column in columns:
        values = frame[column]
        present = values.notna() & (values.astype(str).str.strip() != "")
        parsed = {str(v): parse_smiles(v) for v in pd.unique(values[present])}
        reasons = {k: r for k, (c, r) in parsed.items() if c is None}
        invalid = present & values.astype(str).isin(list(reasons))
        if invalid.any():
            lines = list(frame.index[invalid])
            problems.append(
                f"column {column!r} has invalid SMILES at {_where(lines, values, reasons)}; correct the "
                "SMILES (RDKit must parse it) or remove the row"
            )
            bad.update(lines)
        canon = {k: c for k, (c, _) in parsed.items() if c is not None}
        n_spellings = len({k for k in canon})
        n_molecules = len(set(canon.values()))
        if n_spellings > n_molecules:
            notes.append(f"{label}: {column!r}: {n_spellings} spellings are {n_molecules} molecules (canonical SMILES)")
        frame[column] = values.map(lambda v: canon.get(str(v), v) if pd.notna(v) else v).where(present, None)  # noqa: B023
    return frame, problems, notes, bad


def smiles_log(frame: pd.DataFrame, spec: CampaignSpec, source_column: str = "_source") -> Any:
    """A cleaning log with one ``merged_spellings`` action per molecule written more than one way."""
    from planner.sources import CleaningLog
    from planner.steps._molecules import parse_smiles

    log = CleaningLog()
    for column in smiles_columns(spec):
        if column not in frame.columns:
            continue
        values = frame[column]
        spellings: dict[str, list[str]] = {}
        for value in pd.unique(values.dropna()):
            canon = parse_smiles(value)[0]
            if canon is not None:
                spellings.setdefault(canon, []).append(str(value))
        for canon, written in spellings.items():
            if len(written) < 2:
                continue
            rows = frame.index[values.astype(str).isin(written)]
            labels = [f"{frame.loc[r, source_column]}:{r}" if source_column in frame.columns else str(r) for r in rows]
            log.add(
                "read", "merged_spellings",
                f"{column!r}: {len(written)} spellings of one molecule ({', '.join(map(repr, written))}) read as {canon!r}",
                rows=labels, columns=[column], canonical=canon, spellings=written,
            )
    return log


def fill_empty_components(frame: pd.DataFrame | None, spec: CampaignSpec) -> pd.DataFrame | None:
    """An empty molecule slot of a mixture (fraction 0: a single solvent written in a binary
    table) is a real experiment, not a missing input: it becomes ``""``, which the featurizer
    reads as "no component" and the active-learning checks do not count as missing."""
    if frame is None or not len(frame) or not mixture_groups(spec):
        return frame
    frame = frame.copy()
    for group in mixture_groups(spec):
        for smiles, fraction in zip(group.molecules, group.columns, strict=True):
            if smiles not in frame.columns or fraction not in frame.columns:
                continue
            empty = frame[smiles].isna() & (pd.to_numeric(frame[fraction], errors="coerce") == 0)
            frame[smiles] = frame[smiles].astype(object).where(~empty, "")
    return frame


def clean_pool(pool: pd.DataFrame, spec: CampaignSpec, label: str) -> tuple[pd.DataFrame, list[str]]:
    """Canonical SMILES in a candidate pool; rows with an invalid molecule or a formula that does
    not parse are left out and reported (file, line, column, the reason) while the others go on."""
    pool, report = _without_bad_formulas(pool, spec, label)
    if not smiles_columns(spec):
        return pool, report
    frame, problems, notes, bad = canonicalize_smiles(pool, spec, label)
    report += [f"{label}: {p}; {len(bad)} row(s) left out of the pool" for p in problems] + notes
    frame = fill_empty_components(frame, spec)
    # left out by blanking their molecules (the pool's own check skips rows with a missing
    # input), so candidate numbers keep matching the file's rows
    frame.loc[sorted(bad), smiles_columns(spec)] = None
    return frame, report


def unparsed_formulas(values: pd.Series, where: str, column: str) -> dict[Any, str]:
    """``{formula: why}`` for the formulas among ``values`` that do not parse, each distinct
    formula parsed once (pools and data repeat them)."""
    from planner.chem import parse_formulas

    distinct = pd.Series(values.dropna().unique())
    _, errors = parse_formulas(distinct, where=where, column=column, on_error="ignore")
    return {distinct[k]: reason for k, reason in errors.items()}


def _without_bad_formulas(frame: pd.DataFrame, spec: CampaignSpec, label: str) -> tuple[pd.DataFrame, list[str]]:
    """``frame`` with the composition cells that do not parse blanked (a row with a missing input
    is left out of a pool, imputed among observations), and what was blanked, by file line."""
    report = []
    for name in [i.name for i in spec.inputs if i.role == "composition"]:
        values = frame[name]
        why = unparsed_formulas(values, label, name)
        if why:
            bad = values.isin(list(why))
            lines = values.index[bad.to_numpy()]
            shown = "; ".join(f"line {line}: {why[values.loc[line]]}" for line in lines[:_MAX_SHOWN])
            frame = frame.copy()
            frame.loc[bad, name] = None
            report.append(
                f"{label}: composition input {name!r} does not parse at {shown}; {len(lines)} row(s) left out"
            )
    return frame, report


def suggest_featurizer(spec: CampaignSpec, surrogate: Any = "gp") -> Any:
    """The featurizer of the GP / forest surrogates for a campaign with molecules or compositions, or ``None``.

    For the GP (``surrogate="gp"`` or ``"gp-additive"``, the default): each mixture group becomes its fraction-weighted Morgan
    count fingerprint (order-invariant), each other SMILES column its own fingerprint, and the
    GP uses the MinMax (Tanimoto-on-counts) kernel on them (:mod:`planner.active._molecular_kernel`;
    other numeric inputs enter through a product with a Matern kernel). BTZ backtests
    (benchmarks/molecules, chosen on development seeds, confirmed on 20 paired seeds): final
    best higher than the one-hot GP (p = 0.043), top-1% missed on 1 seed instead of 8.
    ``surrogate="portfolio"`` gets these too (its forest part reads the same counts).
    For other surrogates (forests, ``auto``, ``robust``): fraction-weighted compact RDKit
    descriptors beside the fraction of each molecule (fraction-weighted one-hot). Numeric
    inputs pass through; other text inputs are one-hot encoded. Both depend on the molecule
    only, so new molecules in a pool are featurized, not refused.

    Compositions (role ``composition``, formulas) become their atomic fractions over the elements
    of the observations and the pool (:class:`planner.steps.ElementFractionFeaturizer`, one
    column per element, ``<input>:frac_<El>``, and ``frac_other`` for elements only in pool rows
    outside the 10,000 the featurizer is fitted on), for every surrogate: a formula is a point of the
    composition simplex, so the GP's distances follow the chemistry (``Li7La3Zr2O12`` is close to
    ``Li6.5La3Zr1.5Ta0.5O12``), where one-hot levels would make every pair of compounds equally
    far apart and would refuse pools of more than 64 formulas.
    """
    compositions = [i.name for i in spec.inputs if i.role == "composition"]
    if not smiles_columns(spec) and not compositions:
        return None
    # The portfolio's GP part needs the GP's features and kernel; its forest reads the same counts.
    gp = isinstance(surrogate, str) and surrogate.lower() in ("gp", "gp-additive", "portfolio")
    return CampaignMoleculeFeaturizer(
        numeric=[i.name for i in spec.inputs if i.role == "numeric"],
        smiles=smiles_columns(spec),
        categorical=[i.name for i in spec.inputs if i.role == "categorical"],
        mixtures=[(g.name, list(g.molecules), list(g.columns)) for g in mixture_groups(spec)],
        kind="morgan" if gp else "compact+onehot",
        gp_kernel="minmax" if gp and smiles_columns(spec) else None,
        compositions=compositions,
    )


class CampaignMoleculeFeaturizer(TransformerMixin, BaseEstimator):
    """Inputs table -> numbers for the active-learning surrogates (a scikit-learn transformer;
    learns only one-hot levels of plain categorical inputs and the elements of compositions,
    from unlabelled rows)."""

    def __init__(self, *, numeric: list[str], smiles: list[str], categorical: list[str], mixtures: list[tuple[str, list[str], list[str]]], kind: str = "compact", gp_kernel: str | None = None, compositions: list[str] | tuple[str, ...] = ()) -> None:
        self.numeric = numeric
        self.smiles = smiles
        self.categorical = categorical
        self.mixtures = mixtures
        self.kind = kind
        self.gp_kernel = gp_kernel  # None: the default GP; else a planner.active._molecular_kernel kernel
        self.compositions = compositions

    def fit_gp(self, X: np.ndarray, Y: np.ndarray, encoder: Any, outputs: list[str], kernel: str = "matern") -> Any:
        """The GP surrogate on these features (a GP surrogate in suggest calls this): the engine's
        GP with ``kernel`` (``"additive"`` for ``surrogate="gp-additive"``) on numeric features
        and compositions, the molecular kernel where there are fingerprints."""
        if self.gp_kernel is None:
            from planner.active._gp import fit_gp

            return fit_gp(X, Y, encoder.lower, encoder.upper, outputs, kernel=kernel)
        from planner.active._molecular_kernel import fit_molecular_gp

        return fit_molecular_gp(X, Y, encoder.lower, encoder.upper, encoder.feature_names, kernel=self.gp_kernel, output_names=outputs)

    def _parts(self) -> list[Any]:
        from planner.steps._molecules import MoleculeFeaturizer

        in_mixture = {c for _, s, f in self.mixtures for c in [*s, *f]}
        parts = []
        for kind in self.kind.split("+"):  # e.g. "compact+onehot": descriptors beside molecule identities
            parts += [MoleculeFeaturizer(columns=s, fractions=f, kind=kind, name=name) for name, s, f in self.mixtures]
            parts += [MoleculeFeaturizer(columns=c, kind=kind, name=c) for c in self.smiles if c not in in_mixture]
        return parts

    def fit(self, X: pd.DataFrame, y: Any = None) -> CampaignMoleculeFeaturizer:
        self.parts_ = [p.fit(X) for p in self._parts()]
        # a descriptor RDKit cannot compute for one molecule (rare: charges of odd ions) is
        # filled with its median over the rows seen here (inputs only, no labels)
        self.medians_ = [p.transform(X).median() for p in self.parts_]
        self.levels_ = {c: sorted(map(str, pd.unique(X[c].dropna()))) for c in self.categorical}
        from planner.steps import ElementFractionFeaturizer

        self.compositions_ = [
            ElementFractionFeaturizer(composition_column=c, passthrough=False).fit(X[[c]].dropna())
            for c in self.compositions
        ]
        in_mixture = {c for _, _, f in self.mixtures for c in f}
        self.passthrough_ = [c for c in self.numeric if c not in in_mixture]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        blocks = [X[self.passthrough_].apply(pd.to_numeric, errors="coerce").reset_index(drop=True)]
        for part, medians in zip(self.parts_, self.medians_, strict=True):
            block = part.transform(X).reset_index(drop=True)
            partial = block.isna().any(axis=1) & block.notna().any(axis=1)
            block.loc[partial] = block.loc[partial].fillna(medians)
            blocks.append(block)
        for column, levels in self.levels_.items():
            values = X[column].astype(str).to_numpy()
            blocks.append(pd.DataFrame({f"{column}={lv}": (values == lv).astype(float) for lv in levels}))
        for column, part in zip(self.compositions, self.compositions_, strict=True):
            # elements not in the rows seen in fit (a large pool is sampled) share frac_other
            block = part.transform(X[[column]]).reset_index(drop=True)
            blocks.append(block.set_axis([f"{column}:{name}" for name in block.columns], axis=1))
        return pd.concat(blocks, axis=1)


# ------------------------------------------------------------------------------- init


def alias_of(frame: pd.DataFrame, column: str, smiles: list[str]) -> tuple[str, dict[str, list[str]]] | None:
    """The SMILES column that ``column`` merely names, or ``None``.

    A name column names a SMILES column when each molecule has one name and (nearly: at least
    90% of names) each name one molecule. Returns ``(smiles column, conflicts)`` with
    ``conflicts`` = ``{name: [molecules]}`` for names written with more than one molecule (a
    data-entry error worth checking).
    """
    from planner.steps._molecules import canonical_smiles

    names = frame[column]
    for other in smiles:
        both = names.notna() & frame[other].notna()
        if both.sum() < 2 or (names.notna() != frame[other].notna()).mean() > 0.02:
            continue
        pairs = pd.DataFrame({"name": names[both].astype(str).str.strip(), "mol": frame[other][both].map(canonical_smiles)}).dropna()
        per_name = pairs.groupby("name")["mol"].unique()
        if pairs.groupby("mol")["name"].nunique().max() != 1 or (per_name.map(len) > 1).mean() > 0.1:
            continue
        return other, {k: sorted(v) for k, v in per_name.items() if len(v) > 1}
    return None


def propose_fraction_groups(frame: pd.DataFrame, numeric: list[str], smiles: list[str], *, tolerance: float = 1e-3) -> list[dict[str, Any]]:
    """Sets of numeric columns whose rows sum to one constant (minimal sets, disjoint), each with
    the SMILES column of each fraction when every fraction pairs with one.

    A fraction pairs with a SMILES column that is empty exactly where the fraction is 0 (or
    never empty); among those, the one sharing the fraction's number (``Solvent2_volFraction``
    and ``SMILES2``) or its position.
    """
    candidates = []
    for column in numeric:
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.isna().mean() > 0.05 or values.nunique() < 2 or values.min() < 0:
            continue
        candidates.append(column)
    candidates = candidates[:16]
    groups: list[dict[str, Any]] = []
    used: set[str] = set()
    for size in range(2, min(6, len(candidates)) + 1):
        for combo in itertools.combinations([c for c in candidates if c not in used], size):
            if used & set(combo):
                continue
            part = frame[list(combo)].apply(pd.to_numeric, errors="coerce").dropna()
            if len(part) < 3:
                continue
            total = part.sum(axis=1)
            level = float(total.median())
            if level <= 0 or float((total - level).abs().max()) > tolerance * max(1.0, abs(level)):
                continue
            if any(part[c].max() > level + tolerance for c in combo):
                continue
            groups.append({"columns": list(combo), "total": round(level, 6), "molecules": _pair(frame, list(combo), smiles)})
            used.update(combo)
    return groups


def _digits(name: str) -> tuple[str, ...]:
    return tuple(re.findall(r"\d+", name))


def _pair(frame: pd.DataFrame, fractions: list[str], smiles: list[str]) -> list[str] | None:
    if len(smiles) < len(fractions):
        return None
    out: list[str] = []
    for k, fraction in enumerate(fractions):
        values = pd.to_numeric(frame[fraction], errors="coerce").fillna(0.0).to_numpy()
        fits = []
        for other in smiles:
            if other in out:
                continue
            empty = frame[other].isna().to_numpy() | (frame[other].astype(str).str.strip() == "").to_numpy()
            # a fraction > 0 needs a molecule; an empty molecule needs fraction 0
            if np.mean(empty & (values > 0)) > 0.01:
                continue
            score = (2 if _digits(fraction) and _digits(fraction) == _digits(other) else 0) + (1 if smiles.index(other) == k else 0)
            fits.append((score, other))
        if not fits:
            return None
        out.append(max(fits, key=lambda t: t[0])[1])
    return out
