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
_BINOPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Pow: lambda a, b: a**b,
    ast.Mod: lambda a, b: a % b,
}


def _eval(node: ast.AST, env: Mapping[str, float]) -> float:
    if isinstance(node, ast.Expression):
        return _eval(node.body, env)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in env:
            raise ValueError(f"unknown name {node.id!r}; allowed names are {list(VARIABLES)}")
        return env[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return _BINOPS[type(node.op)](_eval(node.left, env), _eval(node.right, env))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval(node.operand, env)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        if node.func.id not in FUNCTIONS:
            raise ValueError(f"unknown function {node.func.id!r}; allowed functions are {sorted(FUNCTIONS)}")
        return FUNCTIONS[node.func.id](*(_eval(arg, env) for arg in node.args))
    raise ValueError(f"unsupported syntax {ast.unparse(node)!r}; use numbers, {list(VARIABLES)}, + - * / // and {sorted(FUNCTIONS)}")


def evaluate(expression: str | float | int, env: Mapping[str, float]) -> float:
    """Evaluate a bound; numbers pass through.

    Raises:
        ValueError: The expression uses anything outside the allowed language.
    """
    if isinstance(expression, int | float) and not isinstance(expression, bool):
        return expression
    try:
        tree = ast.parse(str(expression), mode="eval")
    except SyntaxError as err:
        raise ValueError(f"not an arithmetic expression: {expression!r}") from err
    return _eval(tree, env)


def check_expression(expression: str | float | int) -> None:
    """Validate a bound against a typical data size, raising ``ValueError`` if it is broken."""
    evaluate(expression, {"n_samples": 100, "n_features": 10, "n_classes": 2})
