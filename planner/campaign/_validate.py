"""Check a table (a data source or a file of new observations) against the campaign spec."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from planner.exceptions import DataValidationError
from planner.spec import CampaignSpec
from planner.validation import plain

_MAX_EXAMPLES = 5
# No measured quantity reaches 1e50 in any unit system people use (carrier densities, the largest
# common values, are ~1e23 per cm3); such a number is a typo or a sentinel (1e308, 9.99e99).
# Squared inside a scaler or a kernel it overflows to inf and every trial fails, so it is refused
# at the door.
ABSURD_MAGNITUDE = 1e50


def _examples(lines: pd.Index, values: pd.Series | None = None) -> str:
    shown = []
    for line in list(lines)[:_MAX_EXAMPLES]:
        value = values.loc[line] if values is not None else None
        value = plain(value)
        shown.append(f"line {line}" + (f" ({value!r})" if values is not None else ""))
    more = len(lines) - _MAX_EXAMPLES
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _absurd_message(kind: str, name: str, lines: pd.Index, values: pd.Series) -> str:
    return (
        f"{kind} {name!r} has a magnitude of {ABSURD_MAGNITUDE:.0e} or more at {_examples(lines, values)}, "
        "which no measurement reaches: a typo or a placeholder for 'unknown'. Leave the cell empty if the "
        "value is unknown; if the quantity really is that large, store it in larger units or as its log10"
    )


@dataclass
class CheckedTable:
    """A table that passed the checks, in campaign columns, indexed by line number in its file."""

    frame: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    #: Rows kept but not trained on, and why (values written as limits); also in ``warnings``.
    left_out: list[str] = field(default_factory=list)
    #: Index labels (file lines; positions in a campaign's stacked sources) of the rows whose
    #: target is written as a limit: measured, so never suggested again, though not trained on.
    censored: list[Any] = field(default_factory=list)


def suggestion_columns(spec: CampaignSpec) -> set[str]:
    """The columns `planner suggest` adds to the inputs (predictions, intervals, flags, reason),
    which a results file made from its ``--out`` table may still carry."""
    per_output = ("mean", "std", "lower", "upper", "p_not_failed", "out_of_range", "clipped")
    return {
        "candidate", "acquisition", "distance_to_nearest_observed", "reason", "model", "p_feasible",
        "in_domain", "domain_reason",
    } | {f"{t}_{suffix}" for t in spec.target_names for suffix in per_output}


def id_text(values: pd.Series) -> pd.Series:
    """Ids and levels as written, to compare: whole numbers without ``.0`` (a column with a gap reads as
    floats), text stripped; empty cells stay empty."""
    from planner.active._specs import level_text

    return pd.Series(level_text(values), index=values.index).str.strip().where(values.notna())


def campaign_columns(spec: CampaignSpec) -> list[str]:
    cols: list[str] = []
    for name in [spec.data.id_column, *spec.input_names, spec.data.group_column, *spec.target_names]:
        if name and name not in cols:
            cols.append(name)
    return cols


def row_hashes(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """A stable content hash per row over ``columns``.

    Numbers are compared at 12 significant digits (so ``0.1`` and ``0.10``, or a value that went
    through a CSV round trip, hash alike); text is stripped; missing values hash as empty.
    """
    if frame.empty:
        return pd.Series([], index=frame.index, dtype=str)
    canon_columns = []
    for name in columns:
        column = frame[name]
        numbers = pd.to_numeric(column, errors="coerce")
        text = column.astype(str).str.strip().where(column.notna(), "")
        formatted = pd.Series(np.char.mod("%.12g", numbers.to_numpy(dtype=float)), index=frame.index)
        canon_columns.append(formatted.where(numbers.notna(), text).astype(str))
    joined = canon_columns[0].str.cat(canon_columns[1:], sep="\x1f") if len(canon_columns) > 1 else canon_columns[0]
    return pd.Series(
        [hashlib.sha1(v.encode()).hexdigest()[:16] for v in joined], index=frame.index, dtype=str
    )


def check_table(
    frame: pd.DataFrame,
    spec: CampaignSpec,
    *,
    label: str,
    mode: Literal["source", "observation"],
    allow_extra: bool = False,
    skip_invalid: bool = False,
    rename: dict[str, str] | None = None,
) -> CheckedTable:
    """Validate ``frame`` and return it restricted to the campaign's columns.

    Sources (historical data) are checked leniently: unlabelled rows and stray text in numeric
    inputs are kept and reported. Observations (new measurements) are checked strictly:
    unknown columns, unusable target values and non-numeric inputs are errors, unless
    ``skip_invalid`` moves the offending rows aside (they are reported in ``rejected``).

    Raises:
        DataValidationError: naming the file, the lines and columns, and the fix.
    """
    out = CheckedTable(frame=frame)
    if rename:
        unknown = [c for c in rename if c not in frame.columns]
        if unknown:
            raise DataValidationError(
                f"{label}: `rename` names column(s) {unknown} that the file does not have "
                f"(it has {list(frame.columns)}). Fix the mapping in campaign.yaml."
            )
        frame = frame.rename(columns=rename)
    required = campaign_columns(spec)
    group = spec.data.group_column
    if mode == "observation" and group and group not in frame.columns and group not in spec.input_names:
        # A new measurement need not know its CV group (a reference, a batch): each such row is
        # then a group of its own (see planner.campaign._automl.training_data).
        frame = frame.assign(**{group: np.nan})
        out.notes.append(f"{label}: no {group!r} column (the CV group); each new row is its own group")
    missing = [c for c in required if c not in frame.columns]
    missing_targets = [c for c in missing if c in spec.target_names]
    if missing_targets and mode == "observation" and len(missing_targets) == len(spec.target_names):
        raise DataValidationError(
            f"{label}: the target column(s) {missing_targets} are missing, so there is no measured value to "
            f"store (the file has {list(frame.columns)}). Add a column named {missing_targets[0]!r} with the "
            "measured values" + (f"; the other missing column(s) {[c for c in missing if c not in missing_targets]} too."
                                 if len(missing) > len(missing_targets) else ".")
        )
    if missing:
        raise DataValidationError(
            f"{label}: missing column(s) {missing}; the campaign needs {required} and the file has "
            f"{list(frame.columns)}. "
            + ("Rename the columns in the file, or map them with `rename:` under this source in campaign.yaml."
               if mode == "source" else
               "Add the columns (or rename them), or give each row's suggestion_id: the inputs are then taken "
               "from the suggestion.")
        )
    extra = [c for c in frame.columns if c not in required and c not in spec.data.ignore]
    if extra and mode == "observation":
        # a suggestions file (`suggest --out`) with the measured values filled in
        ours = [c for c in extra if c in suggestion_columns(spec)]
        if ours:
            out.notes.append(f"{label}: ignored the columns of planner's suggestions table: {ours}")
            extra = [c for c in extra if c not in ours]
    if extra:
        if mode == "observation" and not allow_extra:
            raise DataValidationError(
                f"{label}: unknown column(s) {extra}; the campaign's columns are {required}. Remove or "
                "rename them, add them to the campaign (inputs or data.ignore in campaign.yaml), or pass "
                "--allow-extra to drop them."
            )
        out.notes.append(f"{label}: ignored column(s) not in the campaign: {extra}")
    frame = frame[required].copy()

    problems: list[str] = []
    bad_rows: set[object] = set()
    n_target_missing = pd.Series(0, index=frame.index)

    censored_rows: set[object] = set()
    if spec.task == "regression":
        from planner.campaign._infer import censored_values

        for target in spec.targets:
            raw = frame[target.name]
            censored = censored_values(raw)
            if censored.any():
                lines = frame.index[censored]
                if mode == "observation":
                    problems.append(
                        f"target {target.name!r} is written as a limit at {_examples(lines, raw)} (e.g. below a "
                        "detection limit); planner keeps such values only in data sources for now, where they "
                        "are left out of training. Store a measured value, or leave the cell empty and keep the "
                        "limit in a note column"
                    )
                    bad_rows.update(lines)
                else:
                    out.warnings.append(
                        f"{label}: {int(censored.sum())} value(s) of target {target.name!r} are written as limits "
                        f"({_examples(lines, raw)}): censored measurements, e.g. below a detection limit. Rule: "
                        "they are left out of training (their value is only known to lie beyond the limit)"
                    )
                    out.left_out.append(
                        f"{label}: {int(censored.sum())} value(s) of target {target.name!r} written as limits "
                        f"({_examples(lines, raw)}) are left out of the model"
                    )
                censored_rows.update(lines)
                raw = raw.where(~censored)
                frame[target.name] = raw
            values = pd.to_numeric(raw, errors="coerce")
            non_numeric = raw.notna() & values.isna()
            if non_numeric.any():
                lines = frame.index[non_numeric]
                problems.append(
                    f"target {target.name!r} must be numeric but has text at {_examples(lines, raw)}; "
                    "fix or remove these values"
                )
                bad_rows.update(lines)
            infinite = np.isinf(values.fillna(0.0))
            if infinite.any():
                lines = frame.index[infinite]
                problems.append(f"target {target.name!r} is infinite at {_examples(lines)}; use a finite number")
                bad_rows.update(lines)
            absurd = ~infinite & (values.abs() >= ABSURD_MAGNITUDE)
            if absurd.any():
                lines = frame.index[absurd]
                problems.append(_absurd_message("target", target.name, lines, values))
                bad_rows.update(lines)
                infinite = infinite | absurd
            outside = pd.Series(False, index=frame.index)
            if target.lower is not None:
                outside |= values < target.lower
            if target.upper is not None:
                outside |= values > target.upper
            if outside.any():
                lines = frame.index[outside]
                msg = (
                    f"target {target.name!r} outside its declared range [{target.lower}, {target.upper}] at "
                    f"{_examples(lines, values)}"
                )
                if mode == "observation":
                    problems.append(msg + "; correct the values or widen lower/upper in campaign.yaml")
                    bad_rows.update(lines)
                else:
                    out.warnings.append(f"{label}: {msg}")
            frame[target.name] = values.where(~non_numeric & ~infinite)
            n_target_missing += values.isna().astype(int)
    else:
        for target in spec.targets:
            labels = frame[target.name]
            numeric = pd.to_numeric(labels, errors="coerce")
            # 0/1 labels read as floats (a column with blanks) are class names "0"/"1", not "0.0".
            if labels.notna().any() and numeric[labels.notna()].notna().all() and (numeric.dropna() % 1 == 0).all():
                frame[target.name] = numeric.astype("Int64")
            n_target_missing += frame[target.name].isna().astype(int)

    unlabelled = n_target_missing == len(spec.targets)
    # Rows already flagged for bad target values are reported for that, not again as unlabelled.
    blank = unlabelled & ~frame.index.isin(list(bad_rows)) & ~frame.index.isin(list(censored_rows))
    if blank.any():
        lines = frame.index[blank]
        names = spec.target_names
        if mode == "observation":
            problems.append(f"no value for target(s) {names} at {_examples(lines)}; an observation needs a measured value")
            bad_rows.update(lines)
        else:
            out.warnings.append(
                f"{label}: {int(blank.sum())} row(s) have no value for target(s) {names} "
                f"({_examples(lines)}); kept as unlabelled, not used for training"
            )

    for spec_input in spec.inputs:
        if spec_input.role != "numeric":
            continue
        raw = frame[spec_input.name]
        values = pd.to_numeric(raw, errors="coerce")
        non_numeric = raw.notna() & values.isna()
        if non_numeric.any():
            lines = frame.index[non_numeric]
            msg = f"numeric input {spec_input.name!r} has text at {_examples(lines, raw)}"
            if mode == "observation":
                problems.append(msg + "; write numbers (leave a cell empty if the value is unknown)")
                bad_rows.update(lines)
            else:
                out.warnings.append(f"{label}: {msg}; treated as missing")
        infinite = np.isinf(values.fillna(0.0))
        if infinite.any():
            lines = frame.index[infinite]
            problems.append(f"numeric input {spec_input.name!r} is infinite at {_examples(lines)}")
            bad_rows.update(lines)
        absurd = ~infinite & (values.abs() >= ABSURD_MAGNITUDE)
        if absurd.any():
            lines = frame.index[absurd]
            msg = _absurd_message("numeric input", spec_input.name, lines, values)
            if mode == "observation":
                problems.append(msg)
                bad_rows.update(lines)
            else:
                out.warnings.append(f"{label}: {msg}; treated as missing")
            infinite = infinite | absurd
        frame[spec_input.name] = values.where(~infinite)

    _check_compositions(frame, spec, label, mode, problems, bad_rows, out)
    if mode == "observation":
        # New measurements must honour a declared fraction group (sources are only warned about).
        for message, lines in _fraction_group_violations(frame, spec):
            problems.append(message + "; correct the fractions or fix the group in campaign.yaml")
            bad_rows.update(lines)
    if any(i.role == "smiles" for i in spec.inputs):
        from planner.campaign._molecules import canonicalize_smiles

        frame, smiles_problems, smiles_notes, smiles_bad = canonicalize_smiles(frame, spec, label)
        problems += smiles_problems
        out.notes += smiles_notes
        bad_rows.update(smiles_bad)

    id_col = spec.data.id_column
    if id_col:
        ids = frame[id_col]
        no_id = ids.isna()
        if no_id.any():
            problems.append(f"id column {id_col!r} is empty at {_examples(frame.index[no_id])}; give every row an id")
            bad_rows.update(frame.index[no_id])
        dup = ids.notna() & ids.astype(str).str.strip().duplicated(keep=False)
        if dup.any():
            groups = (
                frame[dup].groupby(ids[dup].astype(str).str.strip()).apply(lambda g: list(g.index), include_groups=False)
            )
            shown = "; ".join(f"{k!r} at lines {v}" for k, v in list(groups.items())[:_MAX_EXAMPLES])
            raise DataValidationError(
                f"{label}: id column {id_col!r} must be unique but {len(groups)} id(s) repeat: {shown}. "
                "Give each row its own id; if these are repeated measurements of one material, keep a "
                "separate sample id and put the material in data.group_column instead."
            )

    if problems and not skip_invalid:
        raise DataValidationError(
            f"{label}: " + "; ".join(problems) + ". Nothing was stored."
            + (" Pass --skip-invalid to store the valid rows and report the others." if mode == "observation" else "")
        )
    if problems:
        out.rejected.extend(problems)
        frame = frame.drop(index=[r for r in bad_rows if r in frame.index])

    _check_design_space(frame, spec, label, out)
    _check_fraction_groups(frame, spec, label, out)
    out.frame = frame
    out.censored = [r for r in frame.index if r in censored_rows]
    return out


def _check_design_space(frame: pd.DataFrame, spec: CampaignSpec, label: str, out: CheckedTable) -> None:
    for name, (low, high) in spec.design_space.ranges.items():
        values = pd.to_numeric(frame[name], errors="coerce")
        outside = (values < low) | (values > high)
        if outside.any():
            out.warnings.append(
                f"{label}: input {name!r} outside the design space [{low}, {high}] at "
                f"{_examples(frame.index[outside], values)}; kept, but suggestions stay inside the range"
            )
    for name, levels in spec.design_space.choices.items():
        unknown = frame[name].notna() & ~frame[name].astype(str).isin([str(v) for v in levels])
        if unknown.any():
            out.warnings.append(
                f"{label}: input {name!r} has level(s) not in design_space.choices at "
                f"{_examples(frame.index[unknown], frame[name])}; kept"
            )


def composition_fault(values: pd.Series, name: str, label: str) -> tuple[str, pd.Index] | None:
    """``(message, lines)`` for the values of composition input ``name`` that do not parse
    (an empty cell among ``values`` does not parse either), or ``None``."""
    from planner.chem import parse_formulas

    _, errors = parse_formulas(values, where=label, column=name, on_error="ignore")
    if not errors:
        return None
    shown = "; ".join(f"line {line}: {why}" for line, why in list(errors.items())[:_MAX_EXAMPLES])
    more = f" and {len(errors) - _MAX_EXAMPLES} more" if len(errors) > _MAX_EXAMPLES else ""
    return f"composition input {name!r} does not parse at {shown}{more}", pd.Index(list(errors))


def _check_compositions(
    frame: pd.DataFrame,
    spec: CampaignSpec,
    label: str,
    mode: str,
    problems: list[str],
    bad_rows: set[object],
    out: CheckedTable,
) -> None:
    """Composition inputs must parse as formulas: refused in observations, reported in sources."""
    for name in [i.name for i in spec.inputs if i.role == "composition"]:
        values = frame[name]
        fault = composition_fault(values if mode == "observation" else values[values.notna()], name, label)
        if fault is None:
            continue
        msg, lines = fault
        if mode == "observation":
            problems.append(msg + " (write a formula such as 'Li7La3Zr2O12'; parentheses and decimals are allowed)")
            bad_rows.update(lines)
        else:
            out.warnings.append(f"{label}: {msg}; these rows get no composition features")


def _fraction_faults(frame: pd.DataFrame, spec: CampaignSpec):  # noqa: ANN202 - a generator of tuples
    """Per declared fraction group: ``(group, row sums, rows whose complete fractions miss the
    total, rows with a negative fraction, of those the complete ones)``."""
    for group in spec.fraction_groups:
        part = frame[group.columns].apply(pd.to_numeric, errors="coerce")
        complete = part.notna().all(axis=1)
        total = part.sum(axis=1)
        off = complete & ((total - group.total).abs() > group.tolerance)
        negative = (part < 0).any(axis=1)
        yield group, total, frame.index[off], frame.index[negative], frame.index[negative & complete]


def _fraction_group_violations(frame: pd.DataFrame, spec: CampaignSpec) -> list[tuple[str, pd.Index]]:
    """What refuses a new measurement: a complete row off its group's total, or negative."""
    found = []
    for group, total, off, _, negative in _fraction_faults(frame, spec):
        if len(off):
            found.append((
                f"fractions {group.columns} of group {group.name!r} must sum to {group.total} "
                f"(tolerance {group.tolerance}); the sum is off at {_examples(off, total)}",
                off,
            ))
        if len(negative):
            found.append((f"negative fraction in group {group.name!r} at {_examples(negative)}", negative))
    return found


def _check_fraction_groups(frame: pd.DataFrame, spec: CampaignSpec, label: str, out: CheckedTable) -> None:
    """Data sources are only warned about (the same faults as :func:`_fraction_group_violations`)."""
    for group, total, off, negative, _ in _fraction_faults(frame, spec):
        if len(off):
            out.warnings.append(
                f"{label}: fractions {group.columns} of group {group.name!r} should sum to {group.total} "
                f"(tolerance {group.tolerance}) but do not at {_examples(off, total)}"
            )
        if len(negative):
            out.warnings.append(f"{label}: negative fraction in group {group.name!r} at {_examples(negative)}")
