"""The registry behind the component table: :class:`Component`, :func:`register`, the lookups.

A component is one choice of one pipeline step (an imputer, a selector, a model...).
Each declares the tasks it serves, the parameter names a space file may tune, a
summary label for the leaderboard and a factory that builds the scikit-learn
estimator. The table itself is ``_prep_components`` (cleaning and selection, built from
:mod:`planner.steps`) and ``_model_components`` (models and meta-learners);
``_components`` loads both, and is what the rest of the search imports.

To add a component, decorate a factory with :func:`register`; names are unique per step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from planner.exceptions import SpecError

__all__ = ["Component", "BuildContext", "register", "get_component", "components", "STEPS", "TASKS"]

TASKS = ("regression", "classification")
BOTH = frozenset(TASKS)
REG = frozenset({"regression"})
CLF = frozenset({"classification"})

#: Pipeline steps in the order they are applied. ``model`` components are also the
#: base learners of the fusion strategies; ``meta`` are stacking meta-learners.
STEPS = ("outliers", "imputer", "encoder", "scaler", "selector", "model", "meta")


@dataclass(frozen=True)
class BuildContext:
    """What a factory needs besides its own parameters.

    Attributes:
        task: ``"regression"`` or ``"classification"``.
        seed: ``random_state`` given to every randomized estimator.
    """

    task: str
    seed: int = 0


@dataclass(frozen=True)
class Component:
    """One registered choice of one pipeline step.

    Attributes:
        step: The step it belongs to (one of :data:`STEPS`).
        name: Its name in search-space files.
        tasks: Tasks it can serve.
        params: Parameter names a space file may set or tune.
        factory: ``factory(params, context) -> estimator``.
        label: Format string for the leaderboard summary, filled with the parameters.
        family: Model family (models only), e.g. ``"linear"`` or ``"forest"``.
        intrinsic_fusion: Fusion kind a single model already is (a forest is homogeneous).
        supports_sample_weight: Whether AdaBoost can use it as a base learner.
    """

    step: str
    name: str
    tasks: frozenset[str]
    params: frozenset[str]
    factory: Callable[[Mapping[str, Any], BuildContext], Any]
    label: str
    family: str = ""
    intrinsic_fusion: str = "single"
    supports_sample_weight: bool = False

    def build(self, params: Mapping[str, Any], context: BuildContext) -> Any:
        """Build the estimator from this component's own parameters."""
        return self.factory(dict(params), context)

    def summary(self, params: Mapping[str, Any]) -> str:
        """The short leaderboard label, e.g. ``mi-select(30%)``."""
        try:
            return self.label.format(**params)
        except (KeyError, ValueError, IndexError):
            return self.label.split("(")[0]


_REGISTRY: dict[str, dict[str, Component]] = {step: {} for step in STEPS}


def register(
    step: str,
    name: str,
    *,
    tasks: frozenset[str] = BOTH,
    params: tuple[str, ...] = (),
    label: str | None = None,
    family: str = "",
    intrinsic_fusion: str = "single",
    supports_sample_weight: bool = False,
) -> Callable[[Callable[[dict[str, Any], BuildContext], Any]], Callable[[dict[str, Any], BuildContext], Any]]:
    """Register a component factory under ``step``/``name``.

    Raises:
        SpecError: ``step`` is unknown or ``name`` is already registered for it.
    """
    if step not in _REGISTRY:
        raise SpecError(f"unknown pipeline step {step!r}; steps are {list(STEPS)}")

    def decorator(factory: Callable[[dict[str, Any], BuildContext], Any]) -> Callable[[dict[str, Any], BuildContext], Any]:
        if name in _REGISTRY[step]:
            raise SpecError(f"component {step}/{name} is already registered; pick another name")
        _REGISTRY[step][name] = Component(
            step=step,
            name=name,
            tasks=frozenset(tasks),
            params=frozenset(params),
            factory=factory,
            label=label if label is not None else name,
            family=family,
            intrinsic_fusion=intrinsic_fusion,
            supports_sample_weight=supports_sample_weight,
        )
        return factory

    return decorator


def components(step: str) -> dict[str, Component]:
    """All registered components of ``step`` by name (a copy)."""
    return dict(_REGISTRY[step])


def get_component(step: str, name: str) -> Component:
    """Look up one component.

    Raises:
        SpecError: No such component; the message lists the known names and how to add one.
    """
    try:
        return _REGISTRY[step][name]
    except KeyError:
        known = sorted(_REGISTRY.get(step, {}))
        raise SpecError(
            f"unknown {step} component {name!r}; known {step} components: {known}. "
            "To add one, decorate its factory with planner.automl._components.register"
            f"({step!r}, {name!r}, params=(...))"
        ) from None


# --------------------------------------------------------------------------- helpers


def is_clf(ctx: BuildContext) -> bool:
    return ctx.task == "classification"


def fraction(value: Any) -> float:
    return float(min(1.0, max(1e-6, float(value))))
