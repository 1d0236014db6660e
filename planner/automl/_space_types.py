"""The value types of a search space: the data context, parameters, component and fusion choices.

:mod:`planner.automl._space` parses files into these and samples pipelines from them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from planner.automl._components import get_component
from planner.automl._expr import evaluate
from planner.automl._gating import alternatives as _alternatives
from planner.automl._gating import size_gate
from planner.automl._gating import ungated as _ungated

__all__ = ["SpaceContext", "ParamSpec", "ComponentChoice", "FusionChoice", "DefaultPicker"]


@dataclass(frozen=True)
class SpaceContext:
    """What the data tell the space: sizes for bounds, and which steps apply.

    Attributes:
        task: ``"regression"`` or ``"classification"``.
        n_samples: Rows handed to the search.
        n_features: Model input columns before encoding.
        n_classes: Distinct labels (classification), else 0.
        has_missing: Whether any feature value is missing (else imputation is fixed, not searched).
        has_categorical: Whether categorical columns exist (else no encoder is searched).
        composition_columns: Formula columns (each gets a ``representation.<column>`` choice).
        molecule_blocks: Molecule blocks (SMILES columns, mixtures), each with its
            ``molecules.<block>`` representation choices.
    """

    task: str
    n_samples: int
    n_features: int
    n_classes: int = 0
    has_missing: bool = True
    has_categorical: bool = True
    composition_columns: tuple[str, ...] = ()
    #: ``(block, representation choices)`` per molecule block (see planner.automl._molecules).
    molecule_blocks: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def env(self) -> dict[str, float]:
        return {"n_samples": self.n_samples, "n_features": self.n_features, "n_classes": self.n_classes}


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: fixed, or an int / float range or a categorical choice.

    Attributes:
        key: Where it sits in the file, for messages.
        kind: ``"fixed"``, ``"int"``, ``"float"`` or ``"categorical"``.
        value: The fixed value (``kind == "fixed"``).
        low: Lower bound, a number or an expression over ``n_samples``/``n_features``/``n_classes``.
        high: Upper bound, same.
        log: Sample on a log scale.
        choices: The categorical choices.
        default: Value of the cheap starting point (enqueued first); ``None`` means the
            geometric or arithmetic midpoint, or the first choice.
    """

    key: str
    kind: str
    value: Any = None
    low: float | str | None = None
    high: float | str | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    default: Any = None

    def bounds(self, ctx: SpaceContext) -> tuple[float, float]:
        """The numeric bounds for this data; ``high`` is raised to ``low`` if data are tiny."""
        low = evaluate(self.low, ctx.env)  # type: ignore[arg-type]
        high = evaluate(self.high, ctx.env)  # type: ignore[arg-type]
        if self.kind == "int":
            low, high = int(math.ceil(low)), int(math.floor(high))
        return low, max(low, high)

    def default_value(self, ctx: SpaceContext) -> Any:
        if self.kind == "fixed":
            return self.value
        if self.kind == "categorical":
            return self.default if self.default is not None else self.choices[0]
        low, high = self.bounds(ctx)
        if self.default is not None:
            value = evaluate(self.default, ctx.env)
        elif self.log:
            value = math.sqrt(low * high)
        else:
            value = (low + high) / 2
        value = min(max(value, low), high)
        return int(round(value)) if self.kind == "int" else float(value)

    def suggest(self, trial: Any, name: str, ctx: SpaceContext) -> Any:
        """Ask ``trial`` for a value named ``name`` (or return the fixed value)."""
        if self.kind == "fixed":
            return self.value
        if isinstance(trial, DefaultPicker):
            return trial.pick(name, self.default_value(ctx))
        if self.kind == "categorical":
            return trial.suggest_categorical(name, list(self.choices))
        low, high = self.bounds(ctx)
        if low == high:
            return low
        if self.kind == "int":
            return trial.suggest_int(name, int(low), int(high), log=self.log)
        return trial.suggest_float(name, float(low), float(high), log=self.log)

    def to_data(self) -> Any:
        if self.kind == "fixed":
            return self.value
        data: dict[str, Any] = {"type": self.kind}
        if self.kind == "categorical":
            data["choices"] = list(self.choices)
        else:
            data.update(low=self.low, high=self.high)
            if self.log:
                data["log"] = True
        if self.default is not None:
            data["default"] = self.default
        return data


@dataclass(frozen=True)
class ComponentChoice:
    """A component offered at one step, with its parameter specs."""

    step: str
    name: str
    params: tuple[tuple[str, ParamSpec], ...] = ()

    @property
    def component(self) -> Any:
        return get_component(self.step, self.name)

    def supports(self, task: str) -> bool:
        return task in self.component.tasks

    def suggest(self, trial: Any, prefix: str, ctx: SpaceContext, out: dict[str, Any]) -> None:
        for pname, spec in self.params:
            out[f"{prefix}.{self.name}.{pname}"] = spec.suggest(trial, f"{prefix}.{self.name}.{pname}", ctx)


@dataclass(frozen=True)
class FusionChoice:
    """One fusion strategy with its base learners (and meta-learners for stacking)."""

    kind: str
    bases: tuple[ComponentChoice, ...]
    metas: tuple[ComponentChoice, ...] = ()
    n_base: tuple[int, int] = (2, 2)
    params: tuple[tuple[str, ParamSpec], ...] = ()

    def bases_for(self, task: str, n_samples: int | None = None) -> list[ComponentChoice]:
        bases = [b for b in self.bases if b.supports(task)]
        if self.kind == "boosting" and task == "classification":
            bases = [b for b in bases if b.component.supports_sample_weight]
        return with_alternatives(bases, n_samples, task)

    def combos(self, task: str, n_samples: int | None = None) -> list[str]:
        """Base-learner sets of a heterogeneous fusion, as ``"a+b+c"`` strings."""
        names = [b.name for b in self.bases_for(task, n_samples)]
        low, high = self.n_base
        out = []
        for size in range(low, min(high, len(names)) + 1):
            out.extend("+".join(c) for c in itertools.combinations(names, size))
        return out

    def available(self, task: str, n_samples: int | None = None) -> bool:
        if self.kind in ("stacking", "voting"):
            has_meta = self.kind == "voting" or any(m.supports(task) for m in self.metas)
            return bool(self.combos(task, n_samples)) and has_meta
        return bool(self.bases_for(task, n_samples))


def with_alternatives(choices: list[ComponentChoice], n_samples: int | None, task: str) -> list[ComponentChoice]:
    """The choices that suit the data size, each gated one replaced in place by its size-aware stand-in.

    Identical to the space's choices when nothing is gated (see planner.automl._gating.ALTERNATIVES).
    """
    subs: dict[int, ComponentChoice] = {}
    for i, name, ranges in _alternatives(choices, n_samples):
        params = tuple((p, ParamSpec(key=f"alternative.{name}.{p}", **spec)) for p, spec in ranges.items())
        alt = ComponentChoice(step=choices[i].step, name=name, params=params)
        if alt.supports(task):
            subs[i] = alt
    if not subs:
        return _ungated(choices, n_samples)
    return [subs.get(i, c) for i, c in enumerate(choices) if i in subs or size_gate(c.step, c.name, n_samples) is None]


class DefaultPicker:
    """Stands in for an Optuna trial to read a space's cheap default configuration."""

    def __init__(self, overrides: Mapping[str, Any]) -> None:
        self.overrides = dict(overrides)
        self.params: dict[str, Any] = {}

    def pick(self, name: str, default: Any) -> Any:
        value = self.overrides.get(name, default)
        self.params[name] = value
        return value

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        value = self.overrides.get(name, choices[0])
        if value not in choices:
            raise KeyError(name)
        self.params[name] = value
        return value
