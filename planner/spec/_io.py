"""Reading and writing ``campaign.yaml`` with messages that name the key, the value and the fix."""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from planner.exceptions import SpecError
from planner.io import atomic_write_text
from planner.io._yaml import load_yaml
from planner.spec._campaign import SPEC_VERSION, CampaignSpec

_FIX_HINTS = {
    "literal_error": "use one of the allowed values",
    "missing": "add it",
    "int_parsing": "write a whole number",
    "float_parsing": "write a number",
    "bool_parsing": "write true or false",
    "too_short": "add entries",
    "greater_than_equal": "use a larger value",
    "greater_than": "use a larger value",
    "string_type": "write text (quote it if YAML reads it as something else)",
    "list_type": "write a YAML list (lines starting with '- ')",
    "dict_type": "write a mapping (key: value lines)",
    "model_type": "write a mapping (key: value lines)",
}


def _unwrap(annotation: Any) -> Any:
    """The model class behind ``X | None``, ``list[X]`` and ``dict[str, X]`` annotations."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            inner = _unwrap(arg)
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                return inner
        return None
    if origin in (list, tuple):
        return _unwrap(typing.get_args(annotation)[0])
    if origin is dict:
        return _unwrap(typing.get_args(annotation)[1])
    return annotation


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: Any = CampaignSpec
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return None
        model = _unwrap(model.model_fields[part].annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _format_errors(err: ValidationError, source: str) -> SpecError:
    lines = []
    for item in err.errors(include_url=False):
        loc = tuple(item["loc"])
        where = _format_loc(loc)
        kind = item["type"]
        if kind == "extra_forbidden":
            parent = _model_at(loc[:-1])
            allowed = sorted(parent.model_fields) if parent else []
            lines.append(
                f"unknown key '{where}'. Remove it or fix its spelling"
                + (f"; allowed keys there: {', '.join(allowed)}" if allowed else "")
            )
            continue
        msg = item["msg"]
        if kind == "value_error":
            msg = msg.removeprefix("Value error, ")
        got = item.get("input")
        got_text = "" if kind == "missing" or isinstance(got, dict) else f" (got {got!r})"
        fix = _FIX_HINTS.get(kind)
        lines.append(f"'{where}': {msg}{got_text}" + (f"; {fix}" if fix else ""))
    return SpecError(f"{source} is not a valid campaign file:\n  - " + "\n  - ".join(lines))


def parse_spec(data: Any, *, source: str = "campaign spec") -> CampaignSpec:
    """Validate a plain mapping (as read from YAML) into a :class:`CampaignSpec`.

    Raises:
        SpecError: naming each offending key, the value found and how to fix it.
    """
    if not isinstance(data, dict):
        raise SpecError(
            f"{source} must be a YAML mapping of keys (version, name, inputs, targets, ...), "
            f"got {type(data).__name__}. Start from a file written by `planner init`."
        )
    version = data.get("version")
    if version is None:
        raise SpecError(f"{source} has no 'version' key. Add `version: {SPEC_VERSION}` as the first line.")
    if not isinstance(version, int) or isinstance(version, bool):
        raise SpecError(f"{source}: 'version' must be a whole number, got {version!r}. Use `version: {SPEC_VERSION}`.")
    if version > SPEC_VERSION:
        raise SpecError(
            f"{source} is campaign format version {version}, written by a newer planner; this one reads "
            f"up to version {SPEC_VERSION}. Upgrade planner (`pip install -U planner`)."
        )
    data = _migrate(dict(data), version, source)
    try:
        return CampaignSpec.model_validate(data)
    except ValidationError as err:
        raise _format_errors(err, source) from err


def _migrate(data: dict[str, Any], version: int, source: str) -> dict[str, Any]:
    """Upgrade older formats step by step; each step is one function ``v -> v + 1``."""
    migrations: dict[int, Any] = {}  # e.g. {1: _v1_to_v2} once version 2 exists
    while version < SPEC_VERSION:
        if version not in migrations:
            raise SpecError(f"{source}: no upgrade path from campaign format version {version}.")
        data = migrations[version](data)
        version += 1
        data["version"] = version
    return data


def load_spec(path: str | Path) -> CampaignSpec:
    """Read and validate a ``campaign.yaml``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as err:
        raise SpecError(f"campaign file not found: {path}") from err
    try:
        data = load_yaml(text, source=str(path))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise SpecError(
            f"{path} is not valid YAML{where}: {problem}. Check indentation (spaces, not tabs) and that "
            "values containing ':' or '#' are quoted."
        ) from err
    return parse_spec(data, source=str(path))


def dump_spec(spec: CampaignSpec) -> dict[str, Any]:
    """The spec as plain data, without keys left at their defaults where that keeps files short."""
    return spec.model_dump(mode="json", exclude_defaults=False)


_SECTION_COMMENTS = {
    "version": "campaign file format version (planner migrates older versions)",
    "name": None,
    "description": None,
    "data": "data files, relative to this directory; rows are samples. id_column names rows;\n"
    "group_column keeps related rows (e.g. one composition at several temperatures) in one CV fold.\n"
    "units: {column: unit in this file} converts to the campaign unit (pint syntax, e.g. mS/cm).\n"
    "merge: {strategy: median|mean|trust|drop, key: ID, composition_column: C, condition_columns: [T]}\n"
    "reconciles repeated measurements of one material across sources before training.",
    "inputs": "what describes a sample. role: numeric | categorical | composition (formula string)\n"
    "| smiles (molecules, featurized with RDKit) | date. Move a column to data.ignore to leave it out.",
    "fraction_groups": "input columns that are fractions of one whole and must sum to `total`;\n"
    "molecules: the SMILES column of each fraction (a mixture, featurized order-invariantly)",
    "targets": "what you measure; direction max or min; lower/upper: physically possible range",
    "task": "regression or classification",
    "design_space": "which experiments can be run next: a candidate pool CSV and/or ranges with\n"
    "linear constraints, e.g. {coefficients: {a: 1, b: 1}, op: '==', rhs: 1}",
    "search_space": "AutoML pipeline space: a name in search_spaces/ (default, small_data, fast) or a path",
    "budget": "AutoML budget per `planner run`",
    "seed": "makes trials and suggestions reproducible",
    "executor": "local (default) or ray; address: auto or ray://host:10001 for an existing cluster",
    "storage": "Optuna storage URL; null means sqlite:///<campaign dir>/optuna.db",
}


class _Dumper(yaml.SafeDumper):
    """Short lists of scalars (ranges, column lists) in flow style: ``[0.0, 1.0]``."""


def _represent_list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.Node:
    flow = all(not isinstance(v, (dict, list)) for v in value) and len(value) <= 12
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)


_Dumper.add_representer(list, _represent_list)


def render_campaign_yaml(spec: CampaignSpec, *, notes: dict[str, str] | None = None, header: str = "") -> str:
    """Render the spec as commented YAML a person can read and edit.

    Args:
        spec: the spec to write.
        notes: per-input-column remarks (e.g. how its role was inferred), written as comments.
        header: comment lines put at the top.
    """
    notes = notes or {}
    data = dump_spec(spec)
    out: list[str] = []
    for line in header.strip().splitlines():
        out.append(f"# {line}".rstrip())
    if header:
        out.append("")
    for key, value in data.items():
        comment = _SECTION_COMMENTS.get(key)
        if comment and key not in {"version", "name"}:
            out.append("")
            out.extend(f"# {c}" for c in comment.splitlines())
        if key == "inputs":
            out.append("inputs:")
            for item in value:
                compact = {k: v for k, v in item.items() if v is not None}
                flow = yaml.safe_dump(compact, default_flow_style=True, sort_keys=False, width=10_000).strip()
                note = notes.get(item["name"])
                out.append(f"  - {flow}" + (f"  # {note}" if note else ""))
            continue
        dumped = yaml.dump({key: value}, Dumper=_Dumper, default_flow_style=False, sort_keys=False, width=100).rstrip()
        if key == "targets":  # a guessed bound carries its reason, as an inferred role does
            dumped = _annotate_targets(dumped, notes)
        if key == "version" and comment:
            dumped += f"  # {comment}"
        out.append(dumped)
    group = spec.data.group_column
    if group and notes.get(group) and group not in spec.data.ignore and group not in spec.input_names:
        out.append("")
        out.append(f"# group_column {group}: {notes[group]}")
    ignored_notes = {k: v for k, v in notes.items() if k in spec.data.ignore}
    if ignored_notes:
        out.append("")
        out.append("# why columns are in data.ignore:")
        out.extend(f"#   {k}: {v}" for k, v in ignored_notes.items())
    return "\n".join(out) + "\n"


def _annotate_targets(dumped: str, notes: dict[str, str]) -> str:
    lines, name = [], None
    for line in dumped.splitlines():
        stripped = line.strip()
        if stripped.startswith("- name:"):
            name = stripped.split(":", 1)[1].strip().strip("'\"")
        for bound in ("lower", "upper"):
            note = notes.get(f"{name}.{bound}")
            if note and stripped.startswith(f"{bound}:"):
                line += f"  # {note}"
        lines.append(line)
    return "\n".join(lines)


def write_spec(path: str | Path, spec: CampaignSpec, **render_kwargs: Any) -> None:
    """Write ``campaign.yaml`` atomically, then check it reads back to the same spec."""
    text = render_campaign_yaml(spec, **render_kwargs)
    if parse_spec(yaml.safe_load(text), source=str(path)) != spec:  # pragma: no cover - guards the renderer
        raise SpecError(f"internal error: the rendered {path} does not read back to the same campaign")
    atomic_write_text(path, text)
