"""The campaign specification: frozen pydantic models, validated at construction.

Vocabulary: *inputs* are the columns that describe a sample (what you can choose in the lab);
*targets* are what you measure. The *design space* says which experiments can be run; the
*search space* (a file in ``search_spaces/``) says which pipelines the AutoML search tunes.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from planner.chem._constraints import LinearConstraint
from planner.chem._fractions import FractionGroup

SPEC_VERSION = 1

Role = Literal["numeric", "categorical", "composition", "smiles", "date"]
Direction = Literal["max", "min"]
Task = Literal["regression", "classification"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class DataSource(_Frozen):
    """One data file. ``path`` is relative to the campaign directory unless absolute."""

    path: str = Field(min_length=1)
    label: str | None = None
    delimiter: str | None = Field(default=None, description="None: detect , ; TAB |")
    rename: dict[str, str] = Field(default_factory=dict, description="column mapping file name -> campaign name")
    units: dict[str, str] = Field(default_factory=dict, description="declared units of columns in this file")

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str | None) -> str | None:
        if value is not None and len(value) != 1:
            raise ValueError(f"delimiter must be a single character such as ',' or ';', got {value!r}")
        return value


class MergeSpec(_Frozen):
    """How rows describing the same material (across sources) are reconciled before training."""

    strategy: Literal["mean", "median", "trust", "drop"] = "median"
    key: str | None = Field(default=None, description="id column; rows with the same id are one entity")
    composition_column: str | None = Field(default=None, description="same normalized formula = same entity")
    condition_columns: list[str] = Field(default_factory=list, description="must also match, e.g. temperature")
    condition_tolerance: float | None = Field(default=None, ge=0)
    trust_order: list[str] = Field(default_factory=list, description="source labels, most trusted first")
    max_spread: float | None = Field(default=None, gt=0, description="drop groups whose values spread more")

    @model_validator(mode="after")
    def _complete(self) -> MergeSpec:
        if self.key is None and self.composition_column is None:
            raise ValueError("set key (an id column) and/or composition_column to say which rows are the same material")
        if self.strategy == "drop" and self.max_spread is None:
            raise ValueError("strategy 'drop' needs max_spread, the largest disagreement tolerated")
        return self


class RelatedTable(_Frozen):
    """A child table (e.g. cycling records per cell) aggregated into per-row features (featuretools)."""

    path: str = Field(min_length=1)
    name: str = Field(default="records", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="used in feature names")
    key: str | None = Field(default=None, description="column of the main table; default: data.id_column")
    child_key: str | None = Field(default=None, description="column of the child table; default: same as key")
    time_column: str | None = Field(default=None, description="orders child rows (cycle number); needed for trend")
    value_columns: list[str] | None = None
    aggregations: list[str] = Field(default_factory=lambda: ["mean", "std", "min", "max", "skew", "trend", "count"])
    windows: list[int] = Field(default_factory=list, description="also aggregate the first N child rows")
    delimiter: str | None = None


class DataSpec(_Frozen):
    sources: list[DataSource] = Field(default_factory=list)
    id_column: str | None = None
    group_column: str | None = Field(default=None, description="rows sharing a group never straddle CV folds")
    ignore: list[str] = Field(default_factory=list, description="columns kept in files but not used")
    merge: MergeSpec | None = Field(default=None, description="reconcile repeated measurements across sources")
    related: list[RelatedTable] = Field(default_factory=list, description="child tables aggregated into features")


class InputSpec(_Frozen):
    name: str = Field(min_length=1)
    role: Role = "numeric"
    unit: str | None = None


class TargetSpec(_Frozen):
    name: str = Field(min_length=1)
    direction: Direction = "max"
    unit: str | None = None
    lower: float | None = Field(default=None, description="values below are physically impossible")
    upper: float | None = None

    @model_validator(mode="after")
    def _bounds_ordered(self) -> TargetSpec:
        if self.lower is not None and self.upper is not None and not self.lower < self.upper:
            raise ValueError(f"lower ({self.lower}) must be below upper ({self.upper})")
        return self


class DesignSpace(_Frozen):
    """Which experiments can be run: a candidate pool file and/or ranges with constraints."""

    pool: str | None = Field(default=None, description="CSV of candidate experiments")
    ranges: dict[str, tuple[float, float]] = Field(default_factory=dict)
    choices: dict[str, list[str]] = Field(default_factory=dict, description="allowed levels of categorical inputs")
    constraints: list[LinearConstraint] = Field(default_factory=list)

    @field_validator("ranges")
    @classmethod
    def _ranges_ordered(cls, value: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        for name, (low, high) in value.items():
            if not (math.isfinite(low) and math.isfinite(high)) or not low < high:
                raise ValueError(f"range of {name!r} must be [low, high] with finite low < high, got [{low}, {high}]")
        return value


class Budget(_Frozen):
    n_trials: int = Field(default=100, ge=1, description="AutoML trials per `planner run`")
    timeout_s: float | None = Field(default=None, gt=0)


class ExecutorSpec(_Frozen):
    kind: Literal["local", "ray"] = "local"
    n_workers: int = Field(default=1, ge=1)
    address: str | None = Field(default=None, description="Ray cluster address, e.g. auto or ray://host:10001")


class CampaignSpec(_Frozen):
    """Everything that defines a campaign; the file ``campaign.yaml`` is its serialized form."""

    version: int = SPEC_VERSION
    name: str = Field(min_length=1)
    description: str = ""
    data: DataSpec = Field(default_factory=DataSpec)
    inputs: list[InputSpec] = Field(min_length=1)
    fraction_groups: list[FractionGroup] = Field(default_factory=list)
    targets: list[TargetSpec] = Field(min_length=1)
    task: Task = "regression"
    design_space: DesignSpace = Field(default_factory=DesignSpace)
    search_space: str = Field(default="default", description="a name in search_spaces/ or a path")
    budget: Budget = Field(default_factory=Budget)
    seed: int = 0
    executor: ExecutorSpec = Field(default_factory=ExecutorSpec)
    storage: str | None = Field(default=None, description="SQLAlchemy URL; None: sqlite file in the campaign")

    @field_validator("version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != SPEC_VERSION:
            raise ValueError(f"this planner reads campaign.yaml version {SPEC_VERSION}, got {value}")
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> CampaignSpec:
        problems: list[str] = []
        input_names = [i.name for i in self.inputs]
        target_names = [t.name for t in self.targets]
        for kind, names in (("input", input_names), ("target", target_names)):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                problems.append(f"{kind} name(s) {dupes} are listed more than once; list each once")
        both = sorted(set(input_names) & set(target_names))
        if both:
            problems.append(f"{both} are both inputs and targets; a column is one or the other")
        roles = {i.name: i.role for i in self.inputs}
        if self.data.id_column and self.data.id_column in set(input_names) | set(target_names):
            problems.append(
                f"data.id_column {self.data.id_column!r} is also an input or target; an id only names rows"
            )
        if self.data.group_column and self.data.group_column in target_names:
            problems.append(f"data.group_column {self.data.group_column!r} is a target; group by an input or id")
        for group in self.fraction_groups:
            missing = [c for c in group.columns if c not in roles]
            if missing:
                problems.append(
                    f"fraction_groups {group.name!r}: column(s) {missing} are not inputs; add them under "
                    f"`inputs:` with role numeric or fix the names (inputs are {input_names})"
                )
            not_numeric = [c for c in group.columns if c in roles and roles[c] != "numeric"]
            if not_numeric:
                problems.append(f"fraction_groups {group.name!r}: column(s) {not_numeric} must have role numeric")
            if group.molecules is not None:
                if len(group.molecules) != len(group.columns):
                    problems.append(
                        f"fraction_groups {group.name!r}: {len(group.columns)} fraction column(s) but "
                        f"{len(group.molecules)} molecule column(s); list one SMILES column per fraction, in the same order"
                    )
                not_smiles = [c for c in group.molecules if roles.get(c) != "smiles"]
                if not_smiles:
                    problems.append(f"fraction_groups {group.name!r}: molecules {not_smiles} must be inputs with role smiles")
        known_columns = set(roles) | {self.data.id_column, self.data.group_column} - {None}
        merge = self.data.merge
        if merge is not None:
            known = set(roles) | {self.data.id_column, self.data.group_column} - {None}
            named = [merge.key, merge.composition_column, *merge.condition_columns]
            unknown = [c for c in named if c is not None and c not in known]
            if unknown:
                problems.append(f"data.merge: column(s) {unknown} are not inputs or the id/group column")
            if merge.composition_column and roles.get(merge.composition_column) != "composition":
                problems.append(f"data.merge.composition_column {merge.composition_column!r} must be an input with role composition")
            labels = {s.label for s in self.data.sources}
            stray = [t for t in merge.trust_order if t not in labels and t != "observations"]
            if stray:
                problems.append(f"data.merge.trust_order: {stray} are not source labels ({sorted(labels - {None})} or 'observations')")
        for table in self.data.related:
            key = table.key or self.data.id_column
            if key is None:
                problems.append(f"data.related {table.path!r}: set `key` (or data.id_column) to join it to the main table")
            elif key not in known_columns:
                problems.append(f"data.related {table.path!r}: key {key!r} is not the id column or an input")
        for source in self.data.sources:
            for column in source.units:
                unit = next((i.unit for i in [*self.inputs, *self.targets] if i.name == column), "missing")
                if unit == "missing":
                    problems.append(f"data.sources {source.path!r}: units given for {column!r}, which is not an input or target")
                elif unit is None:
                    problems.append(
                        f"data.sources {source.path!r}: {column!r} is declared in {source.units[column]!r} but the "
                        f"campaign has no unit for it; set `unit:` on that input/target to convert into"
                    )
        ds = self.design_space
        for name in ds.ranges:
            if name not in roles:
                problems.append(f"design_space.ranges: {name!r} is not an input (inputs are {input_names})")
            elif roles[name] != "numeric":
                problems.append(f"design_space.ranges: {name!r} has role {roles[name]}; ranges need numeric inputs")
        for name in ds.choices:
            if name not in roles:
                problems.append(f"design_space.choices: {name!r} is not an input (inputs are {input_names})")
        for k, constraint in enumerate(ds.constraints):
            unknown = [c for c in constraint.coefficients if c not in roles]
            if unknown:
                problems.append(f"design_space.constraints[{k}]: {unknown} are not inputs")
        if self.task == "classification" and len(self.targets) > 1:
            problems.append("classification campaigns take exactly one target")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # Convenience views -------------------------------------------------------------
    @property
    def input_names(self) -> list[str]:
        return [i.name for i in self.inputs]

    @property
    def target_names(self) -> list[str]:
        return [t.name for t in self.targets]

    def level_columns(self) -> list[str]:
        """Inputs whose values are levels (role ``categorical``): a file's ``none`` or ``-`` there
        is a level such as "no dopant", not a missing value (see :func:`planner.io.read_table`)."""
        return [i.name for i in self.inputs if i.role == "categorical"]

    def input(self, name: str) -> InputSpec:
        for spec in self.inputs:
            if spec.name == name:
                return spec
        raise KeyError(name)
