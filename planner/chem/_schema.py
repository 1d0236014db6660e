"""Let pydantic models (the campaign spec) hold chem's frozen dataclasses as fields.

A field typed with one of these classes accepts an instance or a mapping (as read from YAML),
validates through the class's own ``__post_init__`` (so the spec and the engines apply the same
rules) and serializes back to a plain mapping. pydantic is imported by pydantic, not here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from planner.exceptions import SpecError


def record_schema(
    cls: type,
    *,
    fields: tuple[str, ...],
    required: tuple[str, ...],
    aliases: Mapping[str, str] | None = None,
    to_mapping: Callable[[Any], dict[str, Any]],
) -> Any:
    """A pydantic-core schema that builds ``cls(**mapping)`` and dumps with ``to_mapping``.

    ``aliases`` maps an accepted input key to its field (e.g. a spelling that saved files use).
    Unknown keys and missing ``required`` keys are errors naming the key.
    """
    from pydantic_core import core_schema

    aliases = dict(aliases or {})

    def validate(value: Any) -> Any:
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise SpecError(f"expected a mapping with keys {list(fields)}, got {type(value).__name__} {value!r}")
        data: dict[str, Any] = {}
        for key, item in value.items():
            name = aliases.get(str(key), str(key))
            if name not in fields:
                raise SpecError(f"unknown key {key!r}; allowed keys are {list(fields)}")
            if name in data:
                raise SpecError(f"{name!r} is given twice (as {key!r} and under another spelling); give it once")
            data[name] = item
        missing = [name for name in required if name not in data]
        if missing:
            raise SpecError(f"missing key(s) {missing}; required keys are {list(required)}")
        return cls(**data)

    return core_schema.no_info_plain_validator_function(
        validate,
        serialization=core_schema.plain_serializer_function_ser_schema(to_mapping, when_used="always"),
    )
