"""Data-size-dependent bounds in search-space files: a tiny, safe arithmetic language.

A bound may be a number or a string such as ``"min(30, n_samples // 5)"``. Only the
names in :data:`VARIABLES`, numbers, ``+ - * / // ** %``, unary minus and the
functions in :data:`FUNCTIONS` are allowed; nothing else is evaluated.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping

__all__ = ["VARIABLES", "FUNCTIONS", "check_expression", "evaluate"]

VARIABLES = ("n_samples", "n_features", "n_classes")
FUNCTIONS = {"min": min, "max": max, "sqrt": math.sqrt, "log": math.log, "log2": math.log2, "int": int, "round": round}
# A bound is a hyperparameter value: nothing sensible is longer than this or larger in magnitude.
# The limits keep a file such as ``9 ** 9 ** 9`` from running (or allocating) forever.
MAX_EXPRESSION_CHARS = 200
MAX_MAGNITUDE = 1e15


def _power(a: float, b: float) -> float:
    if a not in (0, 1, -1) and abs(b) * math.log10(abs(a)) > math.log10(MAX_MAGNITUDE):
        raise ValueError(f"{a!r} ** {b!r} is beyond {MAX_MAGNITUDE:.0e}; a bound must be a plausible hyperparameter value")
    return a**b


_BINOPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Pow: _power,
    ast.Mod: lambda a, b: a % b,
}


def _bounded(value: float) -> float:
    try:
        finite = not isinstance(value, complex) and math.isfinite(float(value))
    except OverflowError:
        finite = False
    if not finite or abs(value) > MAX_MAGNITUDE:
        raise ValueError(f"the value {value!r} is beyond {MAX_MAGNITUDE:.0e}; a bound must be a plausible hyperparameter value")
    return value


def _eval(node: ast.AST, env: Mapping[str, float]) -> float:
    if isinstance(node, ast.Expression):
        return _eval(node.body, env)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return _bounded(node.value)
    if isinstance(node, ast.Name):
        if node.id not in env:
            raise ValueError(f"unknown name {node.id!r}; allowed names are {list(VARIABLES)}")
        return env[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        try:
            return _bounded(_BINOPS[type(node.op)](_eval(node.left, env), _eval(node.right, env)))
        except (ZeroDivisionError, OverflowError) as err:
            raise ValueError(f"{ast.unparse(node)!r}: {err}") from err
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval(node.operand, env)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        if node.func.id not in FUNCTIONS:
            raise ValueError(f"unknown function {node.func.id!r}; allowed functions are {sorted(FUNCTIONS)}")
        try:
            return _bounded(FUNCTIONS[node.func.id](*(_eval(arg, env) for arg in node.args)))
        except (TypeError, ValueError, OverflowError) as err:
            raise ValueError(f"{ast.unparse(node)!r}: {err}") from err
    raise ValueError(f"unsupported syntax {ast.unparse(node)!r}; use numbers, {list(VARIABLES)}, + - * / // and {sorted(FUNCTIONS)}")


def evaluate(expression: str | float | int, env: Mapping[str, float]) -> float:
    """Evaluate a bound; numbers pass through.

    Raises:
        ValueError: The expression uses anything outside the allowed language.
    """
    if isinstance(expression, int | float) and not isinstance(expression, bool):
        return expression
    if len(str(expression)) > MAX_EXPRESSION_CHARS:
        raise ValueError(f"expression of {len(str(expression))} characters; a bound is at most {MAX_EXPRESSION_CHARS}")
    try:
        tree = ast.parse(str(expression), mode="eval")
    except SyntaxError as err:
        raise ValueError(f"not an arithmetic expression: {expression!r}") from err
    return _eval(tree, env)


def check_expression(expression: str | float | int) -> None:
    """Validate a bound against a typical data size, raising ``ValueError`` if it is broken."""
    evaluate(expression, {"n_samples": 100, "n_features": 10, "n_classes": 2})
