"""Guess column roles from a table, so `planner init` writes a sensible first campaign.yaml.

Every guess is written next to the column as a comment; the user edits the file if a guess
is wrong. Columns that would leak the target (the same quantity in other units, or a label
thresholded from it) are put in ``data.ignore`` with the reason.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from planner.spec import InputSpec
from planner.validation import plain

_ELEMENTS = frozenset(
    """H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se
    Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho
    Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm
    Md No Lr D""".split()
)
_FORMULA = re.compile(r"^(?:[A-Z][a-z]?(?:\d+(?:\.\d+)?|\.\d+)?|[()\[\]](?:\d+(?:\.\d+)?)?)+$")
_TOKEN = re.compile(r"[A-Z][a-z]?")
_SMILES_CHARS = re.compile(r"^[A-Za-z0-9@+\-\[\]()=#$/\\%.:*]+$")
_DOI = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)?10\.\d{4,9}/\S+$", re.IGNORECASE)
_DATE_HINT = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")
_ID_NAME = re.compile(r"^(?:id|idx|index|sample[_ ]?id|row[_ ]?id|no\.?|#)$", re.IGNORECASE)
# Database identifiers ("ICSD ID", "Cif ID", "mp_id", "Liion ID") and bookkeeping columns
# ("Checked", "Ref", "note", "comment", "source"): where a row came from or who looked at it.
_IDENTIFIER_NAME = re.compile(r"(?:^|[\s_\-.])(?:id|ids|identifier|uuid|cas|doi|url)$|^(?:mp|icsd|cod|oqmd|cif)[\s_\-]", re.IGNORECASE)
_BOOKKEEPING_NAME = re.compile(
    r"^(?:checked|verified|ref|refs|reference|references|source|sources|citation|note|notes|comment|comments|"
    r"remark|remarks|author|authors|journal|year|link|url|doi|entered[_ ]?by|checked[_ ]?by)(?:\s*\(.*\))?$",
    re.IGNORECASE,
)
# "<1E-10", "< 0.5", ">1e4", "≤3": a value beyond a detection or measurement limit.
CENSORED = re.compile(r"^\s*(<=?|>=?|≤|≥)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")


def censored_values(series: pd.Series) -> pd.Series:
    """``True`` where a value is written as a limit (``<1E-10``, ``>5``) instead of a number."""
    return series.map(lambda v: isinstance(v, str) and bool(CENSORED.match(v)))


def looks_like_formula(value: str) -> bool:
    """``True`` for strings such as ``Li7La3Zr2O12`` or ``Li1.3Al0.3Ti1.7(PO4)3``."""
    text = re.sub(r"\s+", "", value.strip().strip("'\""))
    if not text or not _FORMULA.match(text):
        return False
    tokens = _TOKEN.findall(text)
    return bool(tokens) and all(t in _ELEMENTS for t in tokens)


def _is_smiles(value: str) -> bool:
    text = value.strip()
    if not text or " " in text or not _SMILES_CHARS.match(text):
        return False
    # Aromatic lower-case atoms, bonds, branches or rings mark SMILES rather than a formula.
    return bool(re.search(r"[cnos]|[=#()]|\d", text)) and not looks_like_formula(text)


@dataclass
class Inference:
    """Result of :func:`infer_columns`."""

    inputs: list[InputSpec] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)
    task: str = "regression"
    task_note: str = ""
    fraction_groups: list[dict] = field(default_factory=list)


_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_UNIT_WORDS = frozenset({"cm", "cm1", "s", "k", "mol", "per", "in", "of", "the", "at", "and", "log", "log10", "ln"})


def _same_quantity_name(column: str, target: str) -> bool:
    """Do two column names name one quantity? ``IC (Bulk)`` / ``Ionic conductivity (S cm-1)``,
    ``cond_bulk`` / ``cond_total``: a shared word of 4+ letters, or one's initials in the other."""
    words_c = [w.lower() for w in _WORD.findall(column) if w.lower() not in _UNIT_WORDS]
    words_t = [w.lower() for w in _WORD.findall(target) if w.lower() not in _UNIT_WORDS]
    if {w for w in words_c if len(w) >= 4} & {w for w in words_t if len(w) >= 4}:
        return True

    def initials(words: list[str]) -> str:
        return "".join(w[0] for w in words)

    return any(len(w) >= 2 and initials(words_t).startswith(w) for w in words_c) or any(
        len(w) >= 2 and initials(words_c).startswith(w) for w in words_t
    )


def _leak_reason(column: pd.Series, target: pd.Series, target_name: str) -> str | None:
    """Why ``column`` would leak ``target`` into the inputs, or ``None``."""
    x = pd.to_numeric(column, errors="coerce")
    y = pd.to_numeric(target, errors="coerce")
    both = x.notna() & y.notna()
    if both.sum() < 8 or x[both].nunique() < 2 or y[both].nunique() < 2:
        return None
    xs, ys = x[both], y[both]

    def separates(binary: pd.Series, other: pd.Series) -> bool:
        low, high = sorted(binary.unique())
        a, b = other[binary == low], other[binary == high]
        return bool(a.max() < b.min() or b.max() < a.min())

    if xs.nunique() == 2 and ys.nunique() > 2:
        if separates(xs, ys):
            return f"a 0/1 label that splits target {target_name!r} at a threshold: derived from it (leak)"
        return None
    if ys.nunique() == 2:
        if separates(ys, xs):
            return (
                f"separates the classes of target {target_name!r} perfectly at a threshold: the label was "
                "derived from it, so using it as an input would leak the answer"
            )
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rho = xs.rank().corr(ys.rank())
    if rho is not None and np.isfinite(rho) and abs(rho) > 0.999:
        return (
            f"ranks identically to target {target_name!r} (Spearman {rho:+.4f}): the same quantity in other "
            "units, so using it as an input would leak the answer"
        )
    if (rho is not None and np.isfinite(rho) and abs(rho) >= 0.97 and both.sum() >= 20
            and _same_quantity_name(str(column.name), target_name)):
        return (
            f"ranks almost identically to target {target_name!r} (Spearman {rho:+.3f} on {int(both.sum())} rows): "
            "most likely the same quantity measured another way (e.g. bulk vs total conductivity), which is "
            "not known before the experiment; move it to inputs only if it is"
        )
    return None


def _group_is_not_an_input(out: Inference, group_column: str) -> None:
    """A CV group is not a property of the sample unless it is featurised (a composition, a molecule).

    Grouped CV keeps every row of a group in one fold, so a group's *label* (an electrolyte's
    name, a batch number) is always unseen in the test fold: as a categorical input it can only
    add noise. A composition or SMILES group is described by its descriptors and stays an input.
    """
    spec_input = next((i for i in out.inputs if i.name == group_column), None)
    if group_column in out.ignore:
        out.ignore.remove(group_column)
    elif spec_input is not None and spec_input.role in ("composition", "smiles"):
        out.notes[group_column] = f"{out.notes.get(group_column, spec_input.role)}; also the CV group (--group)"
        return
    if spec_input is not None:
        out.inputs.remove(spec_input)
    out.notes[group_column] = (
        "the CV group column (--group): rows sharing a value stay in one fold; not an input (its labels are "
        "always unseen in the test fold). Add it under inputs if it is also a property of the sample"
    )


def infer_columns(
    frame: pd.DataFrame,
    *,
    targets: list[str],
    id_column: str | None = None,
    group_column: str | None = None,
    task: str | None = None,
) -> Inference:
    """Assign a role to every column of ``frame`` that is not a target or the id.

    Args:
        frame: the table as read from the user's file.
        targets: target column names (must exist in ``frame``).
        id_column: column naming rows, excluded from inputs.
        group_column: CV grouping column; kept as an input when it is one (e.g. a composition).
        task: ``"regression"``/``"classification"``, or ``None`` to infer from the first target.
    """
    out = Inference()
    frame = frame.dropna(how="all")  # blank lines (read_table drops them too) are not rows
    n_rows = len(frame)
    for name in frame.columns:
        if name in targets or name == id_column:
            continue
        series = frame[name]
        nonnull = series.dropna()
        n_missing = int(series.isna().sum())
        missing_note = f", {n_missing} missing" if n_missing else ""
        if nonnull.empty:
            out.ignore.append(name)
            out.notes[name] = "every value is empty"
            continue
        if n_rows >= 20 and n_missing > 0.9 * n_rows:
            # A handful of values (remarks, a rarely used field) cannot teach a model anything, and
            # such a column's role guessed from a few strings is unreliable.
            out.ignore.append(name)
            out.notes[name] = f"almost empty ({n_missing} of {n_rows} values missing); move it to inputs if it matters"
            continue
        if _BOOKKEEPING_NAME.match(str(name).strip()) or _IDENTIFIER_NAME.search(str(name).strip()):
            out.ignore.append(name)
            kind = "bookkeeping" if _BOOKKEEPING_NAME.match(str(name).strip()) else "an identifier"
            out.notes[name] = (
                f"{kind} by its name (database ids, references, notes): where a row came from, not a property "
                "of the sample; move it to inputs if it really is one"
            )
            continue
        if pd.api.types.infer_dtype(nonnull, skipna=True) == "boolean" and nonnull.nunique() == 2:  # yes/no: 2 levels
            out.inputs.append(InputSpec(name=name, role="categorical"))
            out.notes[name] = f"categorical, 2 levels (True, False){missing_note}"
            continue
        numeric = pd.to_numeric(nonnull, errors="coerce")
        if numeric.notna().all():
            if nonnull.nunique() == 1:
                out.ignore.append(name)
                out.notes[name] = f"constant ({plain(nonnull.iloc[0])!r} in every row): carries no information"
                continue
            is_int = bool((numeric == numeric.round()).all())
            is_row_number = (
                is_int and len(numeric) == n_rows >= 5 and bool((numeric.diff().dropna() == 1).all())
            )
            if is_int and (_ID_NAME.match(str(name)) or is_row_number):
                out.ignore.append(name)
                out.notes[name] = (
                    "an identifier (integer row labels), not a property; use --id to name rows by it"
                    + ("" if numeric.is_unique else f" once its {int(numeric.duplicated().sum())} repeated value(s) are fixed")
                )
                continue
            leak = next(
                (r for t in targets if (r := _leak_reason(series, frame[t], t)) is not None),
                None,
            )
            if leak:
                out.ignore.append(name)
                out.notes[name] = leak
                continue
            out.inputs.append(InputSpec(name=name, role="numeric"))
            out.notes[name] = f"numeric, range {numeric.min():.4g} to {numeric.max():.4g}{missing_note}"
            continue
        text = nonnull.astype(str)
        if text.str.strip().nunique() == 1:
            out.ignore.append(name)
            out.notes[name] = f"constant ({text.iloc[0].strip()!r} in every row): carries no information"
            continue
        share = lambda pred: float(text.map(pred).mean())  # noqa: E731, B023 - used within this iteration
        if share(lambda v: bool(_DOI.match(v.strip()))) > 0.8:
            out.ignore.append(name)
            out.notes[name] = "DOIs or references (where a row came from): provenance, not a property"
            continue
        if _rdkit_smiles(out, name, nonnull, missing_note):
            continue
        if share(looks_like_formula) > 0.8 and text.map(lambda v: len(_TOKEN.findall(v)) >= 2).mean() > 0.5:
            out.inputs.append(InputSpec(name=name, role="composition"))
            bad = int((~text.map(looks_like_formula)).sum())
            extra = f"; {bad} value(s) do not parse" if bad else ""
            out.notes[name] = f"chemical formulas, {nonnull.nunique()} distinct{missing_note}{extra}"
            continue
        if share(lambda v: bool(_DATE_HINT.search(v))) > 0.9:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parsed = pd.to_datetime(text, errors="coerce", format="mixed")
            if parsed.notna().mean() > 0.9:
                out.inputs.append(InputSpec(name=name, role="date"))
                out.notes[name] = f"dates, {parsed.min():%Y-%m-%d} to {parsed.max():%Y-%m-%d}{missing_note}"
                continue
        n_levels = nonnull.nunique()
        if n_rows >= 20 and n_levels > 0.5 * n_rows and name != group_column:
            out.ignore.append(name)
            out.notes[name] = (
                f"free text ({n_levels} distinct values in {n_rows} rows); move it to inputs as categorical "
                "if it matters"
            )
            continue
        out.inputs.append(InputSpec(name=name, role="categorical"))
        levels = ", ".join(map(str, nonnull.value_counts().index[:4]))
        out.notes[name] = f"categorical, {n_levels} levels ({levels}{', ...' if n_levels > 4 else ''}){missing_note}"
        as_number = pd.to_numeric(text.str.strip(), errors="coerce")
        if as_number.notna().mean() >= 0.8:  # numbers with a few cells of text: most likely typos
            odd = as_number.isna()
            typo = (
                f"{name!r} is read as categorical, but {int((~odd).sum())} of {len(text)} values are numbers and line "
                f"{odd[odd].index[0]} holds {text[odd].iloc[0]!r}: if {name!r} is numeric, fix the text cell(s) and "
                "run init again"
            )
            out.notes[name] += f"; {typo}"
            from planner.exceptions import DataQualityWarning

            warnings.warn(typo, DataQualityWarning, stacklevel=2)

    _molecule_followups(out, frame)
    if group_column is not None:
        _group_is_not_an_input(out, group_column)
    for target in targets:
        values = frame[target].dropna()
        # No value yet is a cold start (suggestions begin with a space-filling batch); two or
        # more values that are all the same is most likely the wrong column.
        if len(values) >= 2 and values.astype(str).str.strip().nunique() <= 1:
            from planner.exceptions import DataValidationError

            first_value = values.iloc[0] if len(values) else None
            shown = (
                "no value at all" if first_value is None
                else repr(plain(first_value))
            )
            raise DataValidationError(
                f"target {target!r} takes a single value ({shown}) in every labelled row: there is nothing to "
                "learn or optimise. Check that it is the right column, or add rows where it differs."
            )
    unmeasured = [t for t in targets if frame[t].dropna().empty]
    if task is None and len(unmeasured) == len(targets):
        out.task, out.task_note = "regression", (
            f"a cold start, no value of {', '.join(repr(t) for t in unmeasured)} is measured yet: `planner suggest` "
            "begins with a space-filling batch, `planner run` needs measurements"
        )
    elif task is None:
        name = next(t for t in targets if t not in unmeasured)
        first = frame[name].dropna()
        censored = censored_values(first)
        as_num = pd.to_numeric(first[~censored], errors="coerce")
        if as_num.isna().any():
            out.task, out.task_note = "classification", f"target {name!r} holds text labels"
        elif as_num.nunique() == 2 and not censored.any():
            out.task, out.task_note = "classification", f"target {name!r} takes two values"
        else:
            out.task, out.task_note = "regression", f"target {name!r} is numeric"
            if censored.any():
                examples = ", ".join(repr(v) for v in first[censored].unique()[:3])
                out.task_note += (
                    f"; {int(censored.sum())} value(s) are written as limits ({examples}, e.g. below a detection "
                    "limit): they are left out of training and reported"
                )
            positive = as_num[as_num > 0]
            if len(positive) == len(as_num) and len(positive) >= 3 and positive.max() / positive.min() >= 1e3:
                decades = np.log10(positive.max() / positive.min())
                out.task_note += (
                    f"; it spans {decades:.0f} orders of magnitude ({positive.min():.3g} to {positive.max():.3g}): "
                    f"consider modelling log10({name}) (add it as a column and make it the target)"
                )
    else:
        out.task, out.task_note = task, "given on the command line"
    return out


def _rdkit_smiles(out: Inference, name: str, nonnull: pd.Series, missing_note: str) -> bool:
    """Role ``smiles`` when RDKit parses (nearly) every distinct value: decided by parsing, not by
    characters, so labels (``undoped``, ``sr``) and space groups (``P -1``) stay categorical."""
    text = nonnull.astype(str)
    if not (text.map(_is_smiles_candidate).mean() > 0.8):
        return False
    from planner.steps._molecules import is_smiles_column

    ok, info = is_smiles_column(nonnull)
    if not ok:
        return False
    out.inputs.append(InputSpec(name=name, role="smiles"))
    merged = info["merged"]
    extra = ""
    if merged:
        extra = f"; {sum(len(v) for v in merged.values())} spellings read as {len(merged)} molecules (canonical SMILES)"
    if info["invalid"]:
        bad = ", ".join(f"{k!r} ({v})" for k, v in list(info["invalid"].items())[:3])
        extra += f"; {len(info['invalid'])} value(s) do not parse: {bad}"
    out.notes[name] = f"SMILES (molecules, RDKit-parsed), {info['n_molecules']} molecules{missing_note}{extra}"
    return True


def _is_smiles_candidate(value: str) -> bool:
    """Cheap pre-filter before RDKit: no inner blanks, only SMILES characters (stray and
    non-breaking whitespace at the ends is allowed; canonicalization removes it)."""
    text = value.strip().strip("\u00a0\ufeff")
    return bool(text) and not re.search(r"\s", text) and bool(_SMILES_CHARS.match(text))


def _molecule_followups(out: Inference, frame: pd.DataFrame) -> None:
    """Name columns of molecules go to ignore; fraction columns summing to a constant become a
    fraction group (paired with molecule columns when they pair)."""
    smiles = [i.name for i in out.inputs if i.role == "smiles"]
    if smiles:
        from planner.campaign._molecules import alias_of

        for spec in [i for i in out.inputs if i.role == "categorical"]:
            alias = alias_of(frame, spec.name, smiles)
            if alias is not None:
                other, conflicts = alias
                out.inputs.remove(spec)
                out.ignore.append(spec.name)
                out.notes[spec.name] = f"names the molecules of {other!r} (one name per molecule): the SMILES carry the same information"
                if conflicts:
                    out.notes[spec.name] += "; check the source: " + "; ".join(
                        f"{k!r} is written as {len(v)} different molecules ({', '.join(v)})" for k, v in conflicts.items()
                    )
    numeric = [i.name for i in out.inputs if i.role == "numeric"]
    if len(numeric) < 2:
        return
    from planner.campaign._molecules import propose_fraction_groups

    for k, group in enumerate(propose_fraction_groups(frame, numeric, smiles)):
        stems = [re.sub(r"[\W\d_]*(?:vol|mol|mass|wt|weight|volume)?_?(?:frac(?:tion)?|ratio|share)$", "", c, flags=re.IGNORECASE) for c in group["columns"]]
        stem = re.sub(r"\d+$", "", stems[0]).strip("_ ").lower()
        group["name"] = (stem or "fractions") + ("" if k == 0 else str(k + 1))
        out.fraction_groups.append(group)
        paired = f", paired with molecules {group['molecules']}" if group["molecules"] else ""
        for column in group["columns"]:
            out.notes[column] += f"; fraction group {group['name']!r} (sums to {group['total']:g}{paired})"


#: Target names whose quantity cannot be negative: (pattern, what it is). A log-scale name
#: (log_cond, log10 sigma) is excluded: its values are negative by nature.
_NON_NEGATIVE = (
    (re.compile(r"band[ _-]?gap|(^|[_ ])e_?g($|[_ ])|(^|[_ ])gap($|[_ ])", re.IGNORECASE), "a band gap"),
    (re.compile(r"capacity|mah", re.IGNORECASE), "a capacity"),
    (re.compile(r"conductivit|(^|[_ ])cond($|[_ ])|(^|[_ ])sigma($|[_ ])", re.IGNORECASE), "a conductivity"),
    (re.compile(r"(temp|temperature|^t)[_ ]?(\(k\)|k|in[_ ]k|kelvin)$|kelvin", re.IGNORECASE), "a temperature in K"),
)
_LOG = re.compile(r"(^|[_ ])(log|log10|ln)([_ ]|$)|^log", re.IGNORECASE)


def guess_target_bounds(frame: pd.DataFrame, targets: list[str]) -> dict[str, tuple[float, str]]:
    """Targets whose name and data make a lower bound of 0 obvious: ``{name: (0.0, why)}``.

    Only numeric targets whose every value is >= 0 and whose name says band gap, capacity,
    conductivity (not on a log scale) or a temperature in K. `planner init` writes the bound
    with the reason as a comment, like the column roles; predictions and suggestions are then
    clipped to it (and say so).
    """
    out: dict[str, tuple[float, str]] = {}
    for name in targets:
        if name not in frame or _LOG.search(name):
            continue
        values = pd.to_numeric(frame[name], errors="coerce").dropna()
        if values.empty or len(values) < 0.9 * frame[name].notna().sum() or (values < 0).any():
            continue
        for pattern, what in _NON_NEGATIVE:
            if pattern.search(name):
                out[name] = (0.0, f"guessed: the name says {what}, which cannot be negative, and all {len(values)} values are >= 0; predictions are clipped to it - delete if wrong")
                break
    return out
