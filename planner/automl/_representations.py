"""Row-wise representations of text columns (chemical formulas now; molecules can join).

A *representation* turns one cell (a formula string) into a fixed vector of numbers
without looking at any other row or at the target: no learned state. So the engine
computes it once per dataset (:func:`precompute`), keeps it in a per-process table
keyed by the cell's text (optionally saved with the campaign, :func:`load_cache` /
:func:`save_cache`), and every fold of every trial only looks rows up.

Which representation a pipeline uses is a search choice, one per column:
``representation.<column>`` in a pipeline spec (``magpie``, ``fractions``, ``orbital``
or a ``+``-joined combination such as ``magpie+fractions``). Families are registered per
column role with :func:`register_representation`; a role ``smiles`` (molecules) can
register its own families the same way.

Families for ``composition`` columns:

* ``fractions``: atomic fraction of each element Z = 1..103 (``frac_<El>``).
* ``magpie``: matminer's Magpie statistics of 22 elemental properties (132 numbers).
* ``orbital``: matminer's ``Stoichiometry`` (number of elements and the 2, 3, 5, 7, 10
  p-norms of the fractions), ``ValenceOrbital`` (mean s/p/d/f valence electrons and their
  shares) and the ionic-character part of ``IonProperty`` (max and mean ionic character
  from Pauling electronegativities; the oxidation-state guess is left out).
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.exceptions import OptionalDependencyError, SpecError

__all__ = [
    "DEFAULT_REPRESENTATION",
    "register_representation",
    "register_parser",
    "representation_names",
    "check_representation",
    "precompute",
    "parse_problems",
    "load_cache",
    "save_cache",
    "lookup",
]

#: What a composition column becomes when a spec names no representation (older studies).
DEFAULT_REPRESENTATION = {"composition": "magpie"}
_N_ELEMENTS = 103

Family = Callable[[list[Any]], tuple[list[str], np.ndarray]]
_FAMILIES: dict[str, dict[str, Family]] = {}
#: (role, family) -> {cell text: vector}; filled by :func:`precompute`, read by every fold.
_TABLES: dict[tuple[str, str], dict[str, np.ndarray]] = {}
_NAMES: dict[tuple[str, str], list[str]] = {}


def register_representation(role: str, name: str) -> Callable[[Family], Family]:
    """Register ``fn(parsed_cells) -> (names, n x k matrix)`` as representation ``name`` of ``role`` columns.

    ``parsed_cells`` holds, per row, what the role's parser made of the cell (``None`` when
    it did not parse; that row must come back as NaN).

    Raises:
        SpecError: The name is taken for that role or contains ``+``.
    """

    def decorator(fn: Family) -> Family:
        families = _FAMILIES.setdefault(role, {})
        if name in families or "+" in name:
            raise SpecError(f"representation {role}/{name} is already registered or contains '+'; pick another name")
        families[name] = fn
        return fn

    return decorator


def representation_names(role: str) -> list[str]:
    """Families registered for ``role`` columns."""
    return sorted(_FAMILIES.get(role, {}))


def check_representation(role: str, representation: str) -> tuple[str, ...]:
    """The families of a (possibly ``+``-joined) representation.

    Raises:
        SpecError: A family is not registered for ``role``.
    """
    parts = tuple(p for p in str(representation).split("+") if p)
    known = _FAMILIES.get(role, {})
    bad = [p for p in parts if p not in known]
    if not parts or bad:
        raise SpecError(
            f"unknown representation {representation!r} for {role} columns; use one of {sorted(known)} "
            "or a '+'-joined combination (e.g. magpie+fractions)"
        )
    return parts


# ------------------------------------------------------------------------------ composition


_SIMPLE = re.compile(r"(?:[A-Z][a-z]?(?:\d+(?:\.\d+)?|\.\d+)?)+")
_TOKEN = re.compile(r"([A-Z][a-z]?)(\d+(?:\.\d+)?|\.\d+)?")


@lru_cache(maxsize=1)
def _atomic_numbers() -> dict[str, int]:
    from pymatgen.core.periodic_table import Element

    return {el.symbol: el.Z for el in Element}


def _parse_simple(text: str) -> tuple[tuple[int, ...], tuple[float, ...]] | None:
    """``Fe2O3``, ``Pt1 C1``, ``Li0.5CoO2``: element symbols with optional amounts, no brackets.

    The same result pymatgen gives (amounts summed per element), tens of times faster on
    large tables; anything else (brackets, charges, unknown symbols) returns ``None`` and goes
    to pymatgen's parser.
    """
    text = "".join(text.split())
    if not text or not _SIMPLE.fullmatch(text):
        return None
    numbers = _atomic_numbers()
    amounts: dict[int, float] = {}
    for symbol, amount in _TOKEN.findall(text):
        z = numbers.get(symbol)
        if z is None or z > 118:
            return None
        amounts[z] = amounts.get(z, 0.0) + (float(amount) if amount else 1.0)
    if not amounts or any(a <= 0 for a in amounts.values()):
        return None
    return tuple(amounts), tuple(amounts.values())


def _parse(values: Sequence[Any]) -> tuple[list[Any], dict[int, str]]:
    try:
        from planner.chem import parse_formulas
    except ImportError as err:  # pragma: no cover - pymatgen is a core dependency
        raise OptionalDependencyError("composition columns need pymatgen and matminer; install the project's requirements") from err
    values = list(values)
    parsed: list[Any] = [_parse_simple(v) if isinstance(v, str) else None for v in values]
    rest = [i for i, p in enumerate(parsed) if p is None]
    errors: dict[int, str] = {}
    if rest:
        slow, slow_errors = parse_formulas(pd.Series([values[i] for i in rest], dtype=object), on_error="ignore")
        for j, i in enumerate(rest):
            parsed[i] = slow[j]
        errors = {rest[j]: reason for j, reason in slow_errors.items()}
    return parsed, errors


def _weights(parsed: list[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from planner.steps._composition import _flatten

    return _flatten(parsed)


@register_representation("composition", "fractions")
def _fractions(parsed: list[Any]) -> tuple[list[str], np.ndarray]:
    from pymatgen.core.periodic_table import Element

    out = np.zeros((len(parsed), _N_ELEMENTS))
    rows, zs, w = _weights(parsed)
    keep = zs <= _N_ELEMENTS
    np.add.at(out, (rows[keep], zs[keep] - 1), w[keep])
    out[[p is None for p in parsed]] = np.nan
    return [f"frac_{Element.from_Z(z).symbol}" for z in range(1, _N_ELEMENTS + 1)], out


@register_representation("composition", "magpie")
def _magpie(parsed: list[Any]) -> tuple[list[str], np.ndarray]:
    from planner.steps._composition import MAGPIE_PROPERTIES, MAGPIE_STATS, magpie_statistics

    names = [f"magpie_{stat}_{prop}" for prop in MAGPIE_PROPERTIES for stat in MAGPIE_STATS]
    return names, magpie_statistics(parsed, MAGPIE_PROPERTIES, MAGPIE_STATS)


@register_representation("composition", "orbital")
def _orbital(parsed: list[Any]) -> tuple[list[str], np.ndarray]:
    from planner.steps._composition import element_property_table

    n = len(parsed)
    rows, zs, w = _weights(parsed)
    out = np.full((n, 16), np.nan)
    good = np.array([p is not None for p in parsed], dtype=bool)
    if not good.any():
        return _ORBITAL_NAMES, out
    n_comp = np.bincount(rows, minlength=n).astype(float)
    norms = [np.bincount(rows, weights=w**p, minlength=n) ** (1.0 / p) for p in (2, 3, 5, 7, 10)]
    valence = element_property_table(("NsValence", "NpValence", "NdValence", "NfValence"))[zs]
    avg = np.stack([np.bincount(rows, weights=w * valence[:, j], minlength=n) for j in range(4)], axis=1)
    total = avg.sum(axis=1, keepdims=True)
    frac = np.divide(avg, total, out=np.zeros_like(avg), where=total > 0)
    chi = element_property_table(("Electronegativity",))[:, 0]
    max_ionic = np.zeros(n)
    avg_ionic = np.zeros(n)
    bounds = np.searchsorted(rows, np.arange(n + 1))  # rows is sorted: row i is rows[bounds[i]:bounds[i + 1]]
    for i in np.flatnonzero(good):
        sel = slice(bounds[i], bounds[i + 1])
        x, c = w[sel], chi[zs[sel]]
        ionic = 1.0 - np.exp(-0.25 * (c[:, None] - c[None, :]) ** 2)
        max_ionic[i] = ionic.max()
        avg_ionic[i] = float(x @ ionic @ x)
    out[good] = np.column_stack([n_comp, *norms, avg, frac, max_ionic, avg_ionic])[good]
    return _ORBITAL_NAMES, out


_ORBITAL_NAMES = (
    ["stoich_n_elements", *(f"stoich_{p}_norm" for p in (2, 3, 5, 7, 10))]
    + [f"orbital_avg_{o}_valence" for o in "spdf"]
    + [f"orbital_frac_{o}_valence" for o in "spdf"]
    + ["ion_max_ionic_char", "ion_avg_ionic_char"]
)

_PARSERS: dict[str, Callable[[Sequence[Any]], tuple[list[Any], dict[int, str]]]] = {"composition": _parse}


def register_parser(role: str, parser: Callable[[Sequence[Any]], tuple[list[Any], dict[int, str]]]) -> None:
    """Declare how cells of ``role`` columns are parsed: ``parser(texts) -> (parsed or None per
    text, {index: reason})``; the role's families (:func:`register_representation`) get the
    parsed cells. This is how a molecule role (``smiles``) joins next to ``composition``.

    Raises:
        SpecError: ``role`` already has a parser.
    """
    if role in _PARSERS:
        raise SpecError(f"column role {role!r} already has a parser; pick another role name")
    _PARSERS[role] = parser


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def precompute(values: Sequence[Any], role: str, families: Sequence[str]) -> None:
    """Fill the per-process table for every distinct cell of ``values`` and every family."""
    distinct = sorted({v for v in values if isinstance(v, str)})
    for family in families:
        key = (role, family)
        table = _TABLES.setdefault(key, {})
        todo = [v for v in distinct if v not in table]
        if not todo:
            continue
        parsed, _ = _PARSERS[role](todo)
        names, matrix = _FAMILIES[role][family](parsed)
        _NAMES[key] = list(names)
        for v, row in zip(todo, np.asarray(matrix, dtype=float), strict=True):
            table[v] = row


def lookup(values: Sequence[Any], role: str, family: str) -> tuple[list[str], np.ndarray]:
    key = (role, family)
    precompute(values, role, [family])
    if key not in _NAMES:  # no parseable text at all: names from an empty call
        _NAMES[key] = list(_FAMILIES[role][family]([])[0])
    table, names = _TABLES[key], _NAMES[key]
    nan_row = np.full(len(names), np.nan)
    return names, np.vstack([table.get(v, nan_row) if isinstance(v, str) else nan_row for v in values]) if len(values) else np.empty((0, len(names)))


def parse_problems(values: pd.Series, role: str = "composition") -> dict[Any, str]:
    """``{row label: "'value': reason"}`` for the cells of ``values`` that do not parse."""
    labels = list(values.index)
    distinct = sorted({v for v in values.to_numpy(dtype=object) if isinstance(v, str)})
    _, errors = _PARSERS[role](distinct) if distinct else ([], {})
    bad_text = {distinct[i]: reason for i, reason in errors.items()}
    out: dict[Any, str] = {}
    for label, v in zip(labels, values.to_numpy(dtype=object), strict=True):
        if not isinstance(v, str):
            out[label] = f"{v!r}: the cell is empty"
        elif v in bad_text:
            out[label] = bad_text[v]
    return out


# ------------------------------------------------------------------------------ disk cache


def _cache_file(directory: Path, role: str, family: str, distinct: list[str]) -> Path:
    digest = hashlib.sha256("\n".join(distinct).encode()).hexdigest()[:16]
    return directory / f"{role}-{family}-{digest}.npz"


def load_cache(directory: str | Path, values: Sequence[Any], role: str, families: Sequence[str]) -> list[str]:
    """Read saved tables for these cells into the per-process table; returns the families found."""
    directory = Path(directory)
    distinct = sorted({v for v in values if isinstance(v, str)})
    found = []
    for family in families:
        path = _cache_file(directory, role, family, distinct)
        if not path.is_file():
            continue
        try:
            with np.load(path, allow_pickle=False) as npz:
                keys, matrix, names = list(npz["keys"]), npz["matrix"], list(npz["names"])
        except (OSError, ValueError, KeyError):
            continue  # a damaged cache is recomputed, never trusted
        _TABLES.setdefault((role, family), {}).update(zip(keys, matrix, strict=True))
        _NAMES[(role, family)] = names
        found.append(family)
    return found


def save_cache(directory: str | Path, values: Sequence[Any], role: str, families: Sequence[str]) -> None:
    """Write the tables of these cells (atomic: temporary file, then ``os.replace``)."""
    import os
    import tempfile

    from planner.io import new_file_mode

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    distinct = sorted({v for v in values if isinstance(v, str)})
    for family in families:
        table = _TABLES.get((role, family), {})
        if not distinct or any(v not in table for v in distinct):
            continue
        path = _cache_file(directory, role, family, distinct)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".npz", dir=directory)
        os.fchmod(fd, new_file_mode())  # mkstemp gives 0o600; the campaign's files follow the umask
        os.close(fd)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            np.savez(tmp, keys=np.asarray(distinct, dtype=str), matrix=np.vstack([table[v] for v in distinct]), names=np.asarray(_NAMES[(role, family)], dtype=str))
        os.replace(tmp, path)
