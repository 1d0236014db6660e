"""Molecule columns in AutoML pipelines: which blocks exist, and the branch that featurizes each.

Column roles (from the campaign layer):

* ``smiles`` - a SMILES column featurized on its own (one *block*, named after the column);
* ``mixture:<group>:<fraction column>`` - a SMILES column that is one component of mixture
  ``<group>``, weighted by ``<fraction column>``; all components of a group form one block;
* ``fraction`` - a fraction column consumed by its mixture block (not a plain numeric feature,
  which would make the model depend on the order the components are written in).

The representation of each block is a search choice ``molecules.<block>`` among
``MOLECULE_REPRESENTATIONS`` (or the space file's top-level ``molecules:`` list).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from planner.exceptions import SpecError

__all__ = ["MOLECULE_REPRESENTATIONS", "is_molecule_role", "molecule_blocks", "molecule_branch", "representation_choices"]

#: ``descriptors``: RDKit 2D descriptors, cleaned per fold; ``morgan``: folded Morgan count
#: fingerprint (radius 2, 1024 bits); ``onehot``: one column per molecule (its fraction in a mixture).
MOLECULE_REPRESENTATIONS = ("descriptors", "morgan", "onehot")


def is_molecule_role(role: str) -> bool:
    return role in ("smiles", "fraction") or role.startswith("mixture:")


def molecule_blocks(column_roles: Mapping[str, str]) -> dict[str, tuple[list[str], list[str] | None]]:
    """``{block: (smiles columns, fraction columns or None)}`` in column order.

    Raises:
        SpecError: A ``mixture:`` role is malformed or names a fraction column that is not in
            the table with role ``fraction``.
    """
    blocks: dict[str, tuple[list[str], list[str] | None]] = {}
    for column, role in column_roles.items():
        if role == "smiles":
            blocks[column] = ([column], None)
        elif role.startswith("mixture:"):
            parts = role.split(":", 2)
            if len(parts) != 3 or not parts[1] or not parts[2]:
                raise SpecError(f"column {column!r}: role {role!r} must read mixture:<group>:<fraction column>")
            _, group, fraction = parts
            if column_roles.get(fraction) != "fraction":
                raise SpecError(f"column {column!r}: its fraction column {fraction!r} must be in the table with role 'fraction'")
            smiles, fractions = blocks.setdefault(group, ([], []))
            smiles.append(column)
            assert fractions is not None
            fractions.append(fraction)
    return blocks


def representation_choices(space_data: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The representations a space offers: its ``molecules:`` list, else all of them."""
    listed = (space_data or {}).get("molecules")
    if listed is None:
        return MOLECULE_REPRESENTATIONS
    return tuple(str(x) for x in listed)


def check_representations(value: Any, source: str) -> None:
    """Validate a space file's ``molecules:`` entry."""
    if not isinstance(value, list) or not value or any(v not in MOLECULE_REPRESENTATIONS for v in value):
        raise SpecError(f"{source}: key 'molecules': expected a non-empty list among {list(MOLECULE_REPRESENTATIONS)}, got {value!r}. Fix: e.g. molecules: [descriptors, onehot]")


def molecule_branch(block: str, columns: Sequence[str], fractions: Sequence[str] | None, representation: str, numeric_steps: list[tuple[str, Any]]) -> tuple[str, Any, list[str]]:
    """The ``ColumnTransformer`` branch of one block: featurize -> clean -> numeric steps.

    Featurization is row-wise and cached per molecule; the cleaner (constant, missing and
    correlated descriptors) learns from data, so it is refitted inside every CV fold.
    """
    from sklearn.pipeline import Pipeline

    from planner.steps._molecules import DescriptorCleaner, MoleculeFeaturizer

    if representation not in MOLECULE_REPRESENTATIONS:
        raise SpecError(f"molecules.{block}: unknown representation {representation!r}; use one of {list(MOLECULE_REPRESENTATIONS)}")
    featurizer = MoleculeFeaturizer(columns=list(columns), fractions=list(fractions) if fractions else None, kind=representation, name=block)
    steps: list[tuple[str, Any]] = [("featurize", featurizer), ("clean", DescriptorCleaner(max_correlation=0.95 if representation == "descriptors" else 1.0))]
    return (f"mol_{block}", Pipeline([*steps, *numeric_steps]), [*columns, *(fractions or [])])
