"""Frozen specifications of the active-learning engine: targets, constraints, design spaces.

Everything here is validated at construction and never changes afterwards (make a copy with
:func:`dataclasses.replace` instead). Only numpy and pandas are imported; scipy is imported
on use for the feasibility check of a continuous design.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from planner.chem import LinearConstraint
from planner.exceptions import DataQualityWarning, DataValidationError, SpecError
from planner.validation import plain

__all__ = [
    "Target",
    "OutcomeConstraint",
    "LinearConstraint",
    "PoolDesign",
    "ContinuousDesign",
    "PoolReport",
    "parse_targets",
    "parse_outcome_constraints",
]

Direction = Literal["max", "min"]
_DIRECTIONS = {"max": "max", "maximize": "max", "min": "min", "minimize": "min"}
_OPS = {"<=": "<=", "le": "<=", ">=": ">=", "ge": ">=", "==": "==", "=": "==", "eq": "=="}
#: Largest number of distinct text values a column may have before it must be featurized.
MAX_CATEGORICAL_LEVELS = 64


def level_text(values: pd.Series) -> np.ndarray:
    """Categorical values as text, as they are compared: a whole number as written (``1``, also
    from a column read as floats because of a gap or a ``none``: ``1.0``), everything else ``str``.
    Works on the distinct values (a pool can hold millions of rows)."""
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        # factorize puts True with 1 and False with 0: booleans are told apart as text first
        values = values.map(lambda v: str(v) if isinstance(v, (bool, np.bool_)) else v)
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    distinct = pd.Series(uniques, dtype=object)
    text = distinct.astype(str).to_numpy(dtype=object)
    # numbers only: text such as "07" is a code as written, and a bool is no number
    is_number = distinct.map(lambda v: isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_)))
    numbers = pd.to_numeric(distinct.where(is_number), errors="coerce").to_numpy(dtype=float)
    whole = np.isfinite(numbers) & (numbers == np.round(numbers)) & (np.abs(numbers) < 2**53)
    text[whole] = numbers[whole].astype(np.int64).astype(str)
    return text[codes]


def key_columns(frame: pd.DataFrame, inputs: Sequence[str], categorical: Sequence[str], decimals: int = 9) -> pd.DataFrame:
    """The inputs of ``frame`` as experiments are matched: numeric ones rounded to ``decimals``
    places (values written to a CSV and read back still match; ``-0.0`` is ``0.0``), categorical
    ones as text (:func:`level_text`). One row per row of ``frame``, same index."""
    cols = {}
    for c in inputs:
        if c in categorical:
            cols[c] = level_text(frame[c])
        else:
            cols[c] = np.round(frame[c].to_numpy(dtype=float), decimals) + 0.0
    return pd.DataFrame(cols, index=frame.index)


@dataclass(frozen=True)
class Target:
    """One measured quantity to optimize.

    Attributes:
        name: Column of ``observed_y`` that holds the measurements.
        direction: ``"max"`` or ``"min"``.
    """

    name: str
    direction: Direction = "max"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SpecError(f"a target needs a non-empty column name, got {self.name!r}")
        direction = _DIRECTIONS.get(str(self.direction).lower())
        if direction is None:
            raise SpecError(
                f"target {self.name!r}: direction must be 'max' or 'min', got {self.direction!r}; "
                "write targets=[('capacity', 'max')]"
            )
        object.__setattr__(self, "direction", direction)

    @property
    def sign(self) -> float:
        """``+1`` for ``max`` and ``-1`` for ``min``: internally every objective is maximized."""
        return 1.0 if self.direction == "max" else -1.0


@dataclass(frozen=True)
class OutcomeConstraint:
    """A limit on a measured outcome, e.g. ``temp_rise <= 10``.

    The outcome is modelled by the surrogate like a target and may, but need not, be one.

    Attributes:
        name: Column of ``observed_y``.
        op: ``"<="`` or ``">="``.
        bound: The limit, in the column's units.
    """

    name: str
    op: Literal["<=", ">="]
    bound: float

    def __post_init__(self) -> None:
        op = _OPS.get(str(self.op))
        if op not in ("<=", ">="):
            raise SpecError(
                f"outcome constraint on {self.name!r}: operator must be '<=' or '>=', got {self.op!r}; "
                "write outcome_constraints=[('temp_rise', '<=', 10.0)]"
            )
        try:
            bound = float(self.bound)
        except (TypeError, ValueError) as err:
            raise SpecError(f"outcome constraint on {self.name!r}: bound must be a number, got {self.bound!r}") from err
        if not math.isfinite(bound):
            raise SpecError(f"outcome constraint on {self.name!r}: bound must be finite, got {bound}")
        object.__setattr__(self, "op", op)
        object.__setattr__(self, "bound", bound)


def parse_targets(targets: Any) -> tuple[Target, ...]:
    """Accept ``[("y", "max")]``, ``{"y": "max"}``, ``"y"`` or :class:`Target` objects."""
    if isinstance(targets, (str, Target)):
        targets = [targets]
    if isinstance(targets, Mapping):
        targets = list(targets.items())
    out: list[Target] = []
    for t in targets or ():
        if isinstance(t, Target):
            out.append(t)
        elif isinstance(t, str):
            out.append(Target(t, "max"))
        elif isinstance(t, Sequence) and len(t) == 2:
            out.append(Target(str(t[0]), t[1]))
        else:
            raise SpecError(f"cannot read target {t!r}; write targets=[('capacity', 'max'), ('cost', 'min')]")
    if not out:
        raise SpecError("at least one target is needed; write targets=[('capacity', 'max')]")
    names = [t.name for t in out]
    if len(set(names)) != len(names):
        raise SpecError(f"targets must be distinct, got {names}")
    return tuple(out)


def parse_outcome_constraints(constraints: Any) -> tuple[OutcomeConstraint, ...]:
    """Accept ``[("temp_rise", "<=", 10)]`` or :class:`OutcomeConstraint` objects (or ``None``)."""
    if constraints is None:
        return ()
    if isinstance(constraints, OutcomeConstraint):
        constraints = [constraints]
    out = []
    for c in constraints:
        if isinstance(c, OutcomeConstraint):
            out.append(c)
        elif isinstance(c, Sequence) and not isinstance(c, str) and len(c) == 3:
            out.append(OutcomeConstraint(str(c[0]), c[1], c[2]))
        else:
            raise SpecError(f"cannot read outcome constraint {c!r}; write [('temp_rise', '<=', 10.0)]")
    return tuple(out)


def _is_categorical(series: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series))


@dataclass(frozen=True)
class PoolReport:
    """What validating a candidate pool found; nothing is dropped without being listed here.

    Attributes:
        n_rows: Rows in the candidate table as given.
        n_valid: Rows kept as candidates.
        nan_rows: Index labels of rows with a missing input (first 20).
        n_nan_rows: How many rows had a missing input.
        violating_rows: Index labels of rows that break a linear constraint (first 20).
        n_violating_rows: How many rows break a linear constraint.
        messages: One line per problem, for the campaign's log.
        repeated_rows: Index labels of usable rows whose inputs repeat an earlier usable row's
            (first 20); they are the same experiment, so only the first is a candidate.
        n_repeated_rows: How many such rows.
    """

    n_rows: int
    n_valid: int
    nan_rows: tuple[Any, ...] = ()
    n_nan_rows: int = 0
    violating_rows: tuple[Any, ...] = ()
    n_violating_rows: int = 0
    messages: tuple[str, ...] = ()
    repeated_rows: tuple[Any, ...] = ()
    n_repeated_rows: int = 0


@dataclass(frozen=True, eq=False)
class PoolDesign:
    """A finite design space: a table of candidate experiments.

    Rows with a missing input, or that break one of ``constraints``, are reported in
    :attr:`report` and dropped (``on_invalid="drop"``, with a :class:`DataQualityWarning`)
    or refused (``on_invalid="raise"``). The table must not be modified after construction.

    Attributes:
        candidates: One row per candidate experiment; extra columns are kept but ignored.
        inputs: Input columns; defaults to every column of ``candidates`` but ``id_column``.
        categorical: Columns treated as categorical; defaults to the non-numeric inputs.
        constraints: Linear constraints the candidates must satisfy (checked, not enforced).
        constraint_tol: Absolute tolerance of the constraint check.
        on_invalid: ``"drop"`` or ``"raise"`` for rows with NaNs or constraint violations.
        chunk_size: Candidates scored at a time; bounds memory for large pools.
        id_column: A column of ``candidates`` (not an input) that names each candidate, such
            as the campaign's id column; suggestions then carry it next to ``candidate``.
            Its values must not repeat.
        report: Filled in at construction.
    """

    candidates: pd.DataFrame
    inputs: tuple[str, ...] | None = None
    categorical: tuple[str, ...] | None = None
    constraints: tuple[LinearConstraint, ...] = ()
    constraint_tol: float = 1e-6
    on_invalid: Literal["drop", "raise"] = "drop"
    chunk_size: int = 20_000
    id_column: str | None = None
    report: PoolReport = field(init=False, repr=False)
    _valid_mask: np.ndarray = field(init=False, repr=False)
    #: What later suggestions reuse (the encoded candidates; see :mod:`planner.active._encoding`).
    _cache: dict[str, Any] = field(init=False, repr=False, default_factory=dict)

    def __getstate__(self) -> dict[str, Any]:
        # The cache can hold the whole encoded pool: rebuilt where needed, never shipped.
        return {**self.__dict__, "_cache": {}}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __post_init__(self) -> None:
        if not isinstance(self.candidates, pd.DataFrame):
            raise SpecError(f"PoolDesign needs a pandas DataFrame of candidates, got {type(self.candidates).__name__}")
        if len(self.candidates) == 0:
            raise DataValidationError("the candidate pool is empty; give at least one candidate row")
        if not self.candidates.index.is_unique:
            raise DataValidationError(
                "the candidate pool's index has duplicate labels; call candidates.reset_index(drop=True) first"
            )
        inputs = (
            tuple(self.inputs)
            if self.inputs is not None
            else tuple(c for c in map(str, self.candidates.columns) if c != self.id_column)
        )
        missing = [c for c in inputs if c not in self.candidates.columns]
        if missing:
            raise DataValidationError(
                f"candidate pool lacks input column(s) {missing}; it has {list(self.candidates.columns)}. "
                "Rename the columns so they match the campaign inputs."
            )
        if self.categorical is None:
            categorical = tuple(c for c in inputs if _is_categorical(self.candidates[c]))
        else:
            categorical = tuple(self.categorical)
            unknown = [c for c in categorical if c not in inputs]
            if unknown:
                raise SpecError(f"categorical column(s) {unknown} are not among the inputs {list(inputs)}")
        if self.on_invalid not in ("drop", "raise"):
            raise SpecError(f"on_invalid must be 'drop' or 'raise', got {self.on_invalid!r}")
        if int(self.chunk_size) < 1:
            raise SpecError(f"chunk_size must be a positive integer, got {self.chunk_size!r}")
        constraints = tuple(self.constraints)
        for con in constraints:
            if not isinstance(con, LinearConstraint):
                raise SpecError(f"pool constraints must be LinearConstraint objects, got {con!r}")
            bad = [c for c in con.coefficients if c not in inputs or c in categorical]
            if bad:
                raise SpecError(f"constraint {con.describe()!r} names {bad}, which are not numeric inputs of the pool")
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "categorical", categorical)
        object.__setattr__(self, "constraints", constraints)
        if self.id_column is not None:
            self._check_ids(inputs)
        self._validate_rows()

    def _check_ids(self, inputs: tuple[str, ...]) -> None:
        name = self.id_column
        if name not in self.candidates.columns:
            raise DataValidationError(
                f"candidate pool has no id column {name!r}; it has {list(self.candidates.columns)}. "
                "Add the column or leave id_column out"
            )
        if name in inputs:
            raise SpecError(f"id column {name!r} is also an input; an id names a candidate and is no input")
        ids = self.candidates[name]
        if ids.isna().any():
            rows = self.candidates.index[ids.isna().to_numpy()][:5].tolist()
            raise DataValidationError(
                f"candidate pool: id column {name!r} is empty in row(s) {rows}; give every candidate an id"
            )
        repeated = ids.duplicated(keep=False).to_numpy()
        if repeated.any():
            values = pd.unique(ids[repeated])
            first = values[0]
            rows = self.candidates.index[(ids == first).to_numpy()][:10].tolist()
            raise DataValidationError(
                f"candidate pool: id column {name!r} repeats value(s) {values[:5].tolist()} ({len(values)} in all; "
                f"{first!r} in rows {rows}); every candidate needs its own id. Make the ids unique or remove "
                "the repeated rows"
            )

    def _validate_rows(self) -> None:
        frame = self.candidates
        numeric = [c for c in self.inputs if c not in self.categorical]
        bad_numeric = [c for c in numeric if not pd.api.types.is_numeric_dtype(frame[c])]
        if bad_numeric:
            raise DataValidationError(
                f"pool column(s) {bad_numeric} were declared numeric but hold text; "
                "declare them categorical=... or convert them to numbers"
            )
        nan_mask = frame[list(self.inputs)].isna().any(axis=1).to_numpy()
        if numeric:
            values = frame[numeric].to_numpy(dtype=float)
            nan_mask |= ~np.isfinite(values).all(axis=1)
        viol_mask = np.zeros(len(frame), dtype=bool)
        messages = []
        for con in self.constraints:
            v = con.violation(frame)
            broken = (v > self.constraint_tol) & ~nan_mask
            if broken.any():
                first = frame.index[broken][:5].tolist()
                messages.append(
                    f"{int(broken.sum())} candidate row(s) break {con.describe()!r} by more than "
                    f"{self.constraint_tol:g} (first rows {first}, largest violation {v[broken].max():.3g})"
                )
            viol_mask |= broken
        if nan_mask.any():
            cols = [c for c in self.inputs if frame[c].isna().any()]
            messages.insert(
                0,
                f"{int(nan_mask.sum())} candidate row(s) have a missing or infinite input "
                f"(columns {cols}; first rows {frame.index[nan_mask][:5].tolist()})",
            )
        valid = ~(nan_mask | viol_mask)
        repeat_mask, repeat_message = self._repeats(valid)
        report = PoolReport(
            n_rows=len(frame),
            n_valid=int((valid & ~repeat_mask).sum()),
            nan_rows=tuple(frame.index[nan_mask][:20].tolist()),
            n_nan_rows=int(nan_mask.sum()),
            violating_rows=tuple(frame.index[viol_mask][:20].tolist()),
            n_violating_rows=int(viol_mask.sum()),
            messages=tuple(messages + ([repeat_message] if repeat_message else [])),
            repeated_rows=tuple(frame.index[repeat_mask][:20].tolist()),
            n_repeated_rows=int(repeat_mask.sum()),
        )
        object.__setattr__(self, "report", report)
        object.__setattr__(self, "_valid_mask", valid & ~repeat_mask)
        if messages and self.on_invalid == "raise":
            raise DataValidationError(
                "invalid candidate rows: " + "; ".join(messages) + ". Fix or remove these rows, "
                "or build the pool with on_invalid='drop' to skip them"
            )
        if report.n_valid == 0:
            raise DataValidationError(
                "no candidate in the pool is usable: " + "; ".join(messages) + ". Fix the rows or the constraints."
            )
        if messages:
            warnings.warn(
                "candidate pool: " + "; ".join(messages) + "; these rows are skipped (see PoolDesign.report)",
                DataQualityWarning,
                stacklevel=3,
            )
        if repeat_message:
            warnings.warn(f"candidate pool: {repeat_message}", DataQualityWarning, stacklevel=3)

    def _repeats(self, valid: np.ndarray) -> tuple[np.ndarray, str]:
        """Usable rows whose inputs repeat an earlier usable row's (numeric inputs equal to 9
        decimals, as suggestions and observations are matched), and a line saying so. Such rows
        are one experiment: suggested twice they would fill a batch with a replicate, and one
        measured or pending would leave the other looking new."""
        frame = self.candidates
        rows = np.flatnonzero(valid)
        mask = np.zeros(len(frame), dtype=bool)
        if len(rows) < 2:
            return mask, ""
        keys = key_columns(frame.iloc[rows], self.inputs, self.categorical)
        repeated = keys.duplicated(keep="first").to_numpy()
        if not repeated.any():
            return mask, ""
        mask[rows[repeated]] = True
        first = frame.index[mask].tolist()[0]
        same = keys.eq(keys.loc[first]).all(axis=1).to_numpy()
        original = frame.index[rows[same]].tolist()[0]
        ids = [frame.at[r, self.id_column] for r in (first, original)] if self.id_column is not None else []
        ids = [plain(v) for v in ids]
        named = (
            f" ({self.id_column} {ids[0]!r} = {ids[1]!r})"
            if self.id_column is not None
            else ""
        )
        return mask, (
            f"{int(mask.sum())} candidate row(s) repeat the inputs of an earlier row (first rows "
            f"{frame.index[mask][:5].tolist()}; row {first!r} = row {original!r}{named}); the same experiment is "
            "suggested once, under its first row"
        )

    @property
    def valid_candidates(self) -> pd.DataFrame:
        """The usable candidates (``n_valid`` rows, original index labels kept)."""
        if self.report.n_valid == len(self.candidates):
            return self.candidates
        return self.candidates[self._valid_mask]


@dataclass(frozen=True)
class ContinuousDesign:
    """A continuous (optionally mixed) design space.

    Numeric inputs lie in boxes; linear equalities and inequalities restrict them (for
    example composition fractions that sum to 1, which is optimized on the simplex exactly,
    not by a penalty); categorical inputs take one of a list of levels.

    Attributes:
        bounds: Numeric input -> ``(lower, upper)``.
        constraints: Linear equalities and inequalities over the numeric inputs.
        categorical: Categorical input -> its levels.
        n_discrete: Size of the random feasible sample that seeds the optimizer and stands
            in for the space where a strategy or surrogate needs a finite set (Thompson
            sampling, tree ensembles, greedy baselines).
    """

    bounds: Mapping[str, tuple[float, float]]
    constraints: tuple[LinearConstraint, ...] = ()
    categorical: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    n_discrete: int = 4096

    def __post_init__(self) -> None:
        if not isinstance(self.bounds, Mapping) or not self.bounds:
            raise SpecError("ContinuousDesign needs bounds={name: (lo, hi)} for at least one numeric input")
        bounds: dict[str, tuple[float, float]] = {}
        for name, b in self.bounds.items():
            try:
                lo, hi = (float(b[0]), float(b[1]))
            except (TypeError, ValueError, IndexError) as err:
                raise SpecError(f"bounds of {name!r} must be a pair (lo, hi), got {b!r}") from err
            if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi:
                raise SpecError(f"bounds of {name!r} must be finite with lo < hi, got ({lo}, {hi})")
            bounds[str(name)] = (lo, hi)
        categorical: dict[str, tuple[Any, ...]] = {}
        for name, levels in dict(self.categorical).items():
            levels = tuple(levels)
            if len(levels) < 1 or len(set(levels)) != len(levels):
                raise SpecError(f"categorical input {name!r} needs distinct levels, got {levels!r}")
            if name in bounds:
                raise SpecError(f"{name!r} is both numeric (bounds) and categorical")
            categorical[str(name)] = levels
        constraints = tuple(self.constraints)
        for con in constraints:
            if not isinstance(con, LinearConstraint):
                raise SpecError(f"constraints must be LinearConstraint objects, got {con!r}")
            bad = [c for c in con.coefficients if c not in bounds]
            if bad:
                raise SpecError(
                    f"constraint {con.describe()!r} names {bad}, which have no bounds; numeric inputs are {list(bounds)}"
                )
        object.__setattr__(self, "bounds", bounds)
        object.__setattr__(self, "categorical", categorical)
        object.__setattr__(self, "constraints", constraints)
        if int(self.n_discrete) < 16:
            raise SpecError(f"n_discrete must be at least 16, got {self.n_discrete}")
        self._check_feasible()

    @classmethod
    def simplex(
        cls,
        fractions: Sequence[str],
        *,
        total: float = 1.0,
        bounds: Mapping[str, tuple[float, float]] | None = None,
        extra_bounds: Mapping[str, tuple[float, float]] | None = None,
        constraints: Sequence[LinearConstraint] = (),
        categorical: Mapping[str, Sequence[Any]] | None = None,
        **kwargs: Any,
    ) -> ContinuousDesign:
        """Fractions in ``[0, total]`` that sum to ``total``, plus optional other inputs.

        Args:
            fractions: Names of the composition fractions.
            total: What the fractions sum to.
            bounds: Tighter bounds for some fractions (default ``(0, total)``).
            extra_bounds: Other numeric inputs (temperatures, ...).
            constraints: Further linear constraints.
            categorical: Categorical inputs and their levels.
            **kwargs: Passed on to :class:`ContinuousDesign`.
        """
        fractions = [str(f) for f in fractions]
        if len(fractions) < 2:
            raise SpecError(f"a simplex needs at least two fractions, got {fractions}")
        b = {f: (0.0, float(total)) for f in fractions}
        b.update(dict(bounds or {}))
        b.update(dict(extra_bounds or {}))
        sum_to_total = LinearConstraint({f: 1.0 for f in fractions}, "==", float(total))
        return cls(bounds=b, constraints=(sum_to_total, *constraints), categorical=dict(categorical or {}), **kwargs)

    @property
    def numeric(self) -> tuple[str, ...]:
        """Names of the numeric inputs, in order."""
        return tuple(self.bounds)

    @property
    def inputs(self) -> tuple[str, ...]:
        """All inputs: numeric first, then categorical."""
        return (*self.bounds, *self.categorical)

    def constraint_matrices(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(A_eq, b_eq, A_ub, b_ub)`` over the numeric inputs, with ``A_ub x <= b_ub``."""
        names = self.numeric
        eq_rows, eq_rhs, ub_rows, ub_rhs = [], [], [], []
        for con in self.constraints:
            row = np.array([con.coefficients.get(n, 0.0) for n in names])
            if con.op == "==":
                eq_rows.append(row)
                eq_rhs.append(con.rhs)
            elif con.op == "<=":
                ub_rows.append(row)
                ub_rhs.append(con.rhs)
            else:
                ub_rows.append(-row)
                ub_rhs.append(-con.rhs)
        d = len(names)
        return (
            np.array(eq_rows).reshape(-1, d),
            np.array(eq_rhs, dtype=float),
            np.array(ub_rows).reshape(-1, d),
            np.array(ub_rhs, dtype=float),
        )

    def _check_feasible(self) -> None:
        if not self.constraints:
            return
        from scipy.optimize import linprog

        a_eq, b_eq, a_ub, b_ub = self.constraint_matrices()
        res = linprog(
            c=np.zeros(len(self.bounds)),
            A_ub=a_ub if len(a_ub) else None,
            b_ub=b_ub if len(b_ub) else None,
            A_eq=a_eq if len(a_eq) else None,
            b_eq=b_eq if len(b_eq) else None,
            bounds=list(self.bounds.values()),
            method="highs",
        )
        if res.status == 2:
            described = "; ".join(c.describe() for c in self.constraints)
            raise SpecError(
                f"no point satisfies the design constraints [{described}] within the bounds "
                f"{dict(self.bounds)}; loosen a constraint or widen a bound"
            )

    def violation(self, frame: pd.DataFrame) -> np.ndarray:
        """Largest violation (bounds, constraints, unknown levels) of each row, shape ``n``."""
        v = np.zeros(len(frame))
        for name, (lo, hi) in self.bounds.items():
            x = frame[name].to_numpy(dtype=float)
            v = np.maximum(v, np.maximum(lo - x, 0.0))
            v = np.maximum(v, np.maximum(x - hi, 0.0))
        for con in self.constraints:
            v = np.maximum(v, con.violation(frame))
        for name, levels in self.categorical.items():
            v = np.where(frame[name].isin(levels).to_numpy(), v, np.inf)
        return v

    def why_outside(self, row: pd.Series) -> str:
        """What puts one row outside the design (the first part it breaks), for messages."""
        for name, (lo, hi) in self.bounds.items():
            x = float(row[name])
            if x == x and not lo - 1e-6 <= x <= hi + 1e-6:  # an empty number is imputed, not outside
                return f"{name}={x:g} outside [{lo:g}, {hi:g}]"
        for name, levels in self.categorical.items():
            if row[name] not in levels:
                shown = "empty" if pd.isna(row[name]) else repr(row[name])
                return f"{name} {shown} is not among the levels {list(levels)[:8]}"
        for con in self.constraints:
            broken = float(con.violation(row.to_frame().T)[0])
            if broken > 1e-6:
                return f"{con.describe()!r} broken by {broken:.3g}"
        return "inside"
