"""Optional heavy dependencies, imported only when a component needs them."""

from __future__ import annotations

import importlib
from types import ModuleType

from planner.exceptions import OptionalDependencyError

__all__ = ["require"]


def require(module: str, *, install: str | None = None) -> ModuleType:
    """Import ``module`` or raise with the command that installs it.

    Raises:
        OptionalDependencyError: The module is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise OptionalDependencyError(
            f"this pipeline component needs {module!r}, which is not installed; "
            f"install it with: pip install {install or module}"
        ) from err
