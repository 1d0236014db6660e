"""Linear constraints over numeric inputs, shared by the campaign spec and the active-learning engine."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from planner.chem._schema import record_schema
from planner.exceptions import SpecError

__all__ = ["LINEAR_OPERATORS", "LinearConstraint"]

#: Accepted spellings of a comparison -> the canonical one stored in :attr:`LinearConstraint.op`.
LINEAR_OPERATORS = {"<=": "<=", "le": "<=", ">=": ">=", "ge": ">=", "==": "==", "=": "==", "eq": "=="}


@dataclass(frozen=True)
class LinearConstraint:
    """A linear equality or inequality over numeric inputs: ``sum_i c_i x_i  op  rhs``.

    Example: ``LinearConstraint({"ni": 1, "fe": 1, "co": 1}, "==", 1.0)`` (fractions sum to 1).
    In ``campaign.yaml``: ``{coefficients: {ni: 1, fe: 1, co: 1}, op: '==', rhs: 1}``; files
    saved before the two constraint classes became this one spell ``op`` as ``operator``, which
    is still read.

    Attributes:
        coefficients: Column name -> coefficient.
        op: ``"=="``, ``"<="`` or ``">="``.
        rhs: Right-hand side.
    """

    coefficients: Mapping[str, float]
    op: Literal["==", "<=", ">="] = "=="
    rhs: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.coefficients, Mapping) or not self.coefficients:
            raise SpecError(
                f"a linear constraint needs a non-empty mapping column -> coefficient, got {self.coefficients!r}"
            )
        op = LINEAR_OPERATORS.get(str(self.op))
        if op is None:
            raise SpecError(f"linear constraint {self.coefficients!r}: op must be '==', '<=' or '>=', got {self.op!r}")
        coefs = {}
        for name, value in self.coefficients.items():
            try:
                coefs[str(name)] = float(value)
            except (TypeError, ValueError) as err:
                raise SpecError(f"linear constraint: coefficient of {name!r} must be a number, got {value!r}") from err
        try:
            rhs = float(self.rhs)
        except (TypeError, ValueError) as err:
            raise SpecError(f"linear constraint {coefs!r}: rhs must be a number, got {self.rhs!r}") from err
        object.__setattr__(self, "coefficients", dict(coefs))
        object.__setattr__(self, "op", op)
        object.__setattr__(self, "rhs", rhs)

    def describe(self) -> str:
        """A readable form such as ``ni + fe + co == 1``."""
        terms = " + ".join(name if c == 1 else f"{c:g}*{name}" for name, c in self.coefficients.items())
        return f"{terms} {self.op} {self.rhs:g}"

    def residual(self, frame: Any) -> np.ndarray:
        """``lhs - rhs`` for every row of ``frame`` (a DataFrame), shape ``n``."""
        lhs = np.zeros(len(frame))
        for name, c in self.coefficients.items():
            lhs = lhs + c * frame[name].to_numpy(dtype=float)
        return lhs - self.rhs

    def violation(self, frame: Any) -> np.ndarray:
        """Non-negative amount by which each row breaks the constraint, shape ``n``."""
        r = self.residual(frame)
        if self.op == "==":
            return np.abs(r)
        if self.op == "<=":
            return np.maximum(r, 0.0)
        return np.maximum(-r, 0.0)

    def to_dict(self) -> dict[str, Any]:
        """The ``campaign.yaml`` form: ``{coefficients, op, rhs}``."""
        return {"coefficients": dict(self.coefficients), "op": self.op, "rhs": self.rhs}

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        return record_schema(
            cls,
            fields=("coefficients", "op", "rhs"),
            required=("coefficients", "op", "rhs"),
            aliases={"operator": "op"},
            to_mapping=cls.to_dict,
        )
