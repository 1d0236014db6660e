"""The pipeline components a search-space file may name: the registry and its whole table.

Importing this module registers every component: cleaning and selection steps
(:mod:`planner.automl._prep_components`, built from :mod:`planner.steps`) and models and
meta-learners (:mod:`planner.automl._model_components`). The registry itself is
:mod:`planner.automl._registry`.

To add a component, decorate a factory with :func:`register`; names are unique per step.
"""

from __future__ import annotations

from planner.automl import _model_components, _prep_components
from planner.automl._prep_components import wrap_drop_rows
from planner.automl._registry import STEPS, TASKS, BuildContext, Component, components, get_component, register

__all__ = ["Component", "BuildContext", "register", "get_component", "components", "wrap_drop_rows", "STEPS", "TASKS"]

#: The modules whose import fills the registry (one per half of the table).
TABLES = (_prep_components, _model_components)
