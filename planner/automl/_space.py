"""Search spaces: declarative YAML files describing the pipeline space, validated once.

A space file names, for each pipeline step, the components to choose from and their
parameters; and for the model, the fusion strategies (single model, bagging,
boosting, stacking, voting) with their base learners. See ``search_spaces/default.yaml``
for the annotated format. Loading validates everything that can be checked without
data; :meth:`SearchSpace.suggest` turns one Optuna trial into a flat parameter dict
(the *pipeline spec*) that :func:`planner.automl.build_pipeline` understands.

Parameter names in a pipeline spec:

* ``<step>``: the chosen component of a step, e.g. ``imputer: knn``;
* ``<step>.<component>.<param>``: e.g. ``imputer.knn.n_neighbors: 5``;
* ``fusion``: one of ``single``, ``bagging``, ``boosting``, ``stacking``, ``voting``;
* ``model`` and ``model.<name>.<param>`` for a single model;
* ``<fusion>.base`` / ``<fusion>.bases`` (``"rf+svr+gp"``), ``<fusion>.base.<name>.<param>``,
  ``stacking.meta``, ``stacking.meta.<name>.<param>`` and fusion-level ``<fusion>.<param>``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from planner.automl._components import TASKS, get_component
from planner.automl._expr import VARIABLES, check_expression
from planner.automl._gating import DEFAULT_REPRESENTATIONS as _DEFAULT_REPRESENTATIONS
from planner.automl._gating import size_gate
from planner.automl._gating import ungated as _ungated
from planner.automl._space_types import ComponentChoice, DefaultPicker, FusionChoice, ParamSpec, SpaceContext
from planner.exceptions import SpecError

__all__ = [
    "ParamSpec",
    "ComponentChoice",
    "FusionChoice",
    "SearchSpace",
    "SpaceContext",
    "load_search_space",
    "bundled_search_spaces",
    "FUSION_KINDS",
    "PREPROCESSING_STEPS",
]

SPACE_VERSION = 1
PREPROCESSING_STEPS = ("outliers", "imputer", "encoder", "scaler", "selector")
FUSION_KINDS = ("single", "bagging", "boosting", "stacking", "voting")
_FUSION_KEYS: dict[str, dict[str, str]] = {
    # fusion kind -> allowed keys -> what they are
    "single": {"models": "components"},
    "bagging": {"base": "components", "n_estimators": "param", "max_samples": "param", "max_features": "param"},
    "boosting": {"base": "components", "n_estimators": "param", "learning_rate": "param"},
    "stacking": {"base": "components", "meta": "meta", "n_base": "n_base", "cv": "param"},
    "voting": {"base": "components", "n_base": "n_base"},
}
_REQUIRED_FUSION_KEYS = {"single": ("models",), "bagging": ("base",), "boosting": ("base",), "stacking": ("base", "meta"), "voting": ("base",)}
_TOP_KEYS = ("version", "name", "description", "cv", "steps", "fusion", "defaults", "molecules", "representations")

_CV_KEYS = ("n_splits", "n_repeats")


def _spec_error(source: str, key: str, problem: str, fix: str) -> SpecError:
    return SpecError(f"{source}: key '{key}': {problem}. Fix: {fix}")


@dataclass(frozen=True)
class SearchSpace:
    """A validated, immutable pipeline space.

    Attributes:
        name: The space's name (``default``, ``small_data``...).
        source: The file it came from, for messages.
        description: Free text.
        cv: CV defaults the space recommends (``n_splits``, ``n_repeats``), used when the
            caller gives none.
        steps: Preprocessing steps and their component choices, in pipeline order.
        fusion: Fusion strategies, with their base learners.
        defaults: Partial configurations enqueued first (cheap, sensible starting points).
        data: The parsed file, for storing with a study and rebuilding.
        representations: Per column role, the representations a text column of that role
            may take (``composition``: ``magpie``, ``fractions``, ``orbital``, joined with ``+``).
    """

    name: str
    source: str
    description: str
    cv: tuple[tuple[str, Any], ...]
    steps: tuple[tuple[str, tuple[ComponentChoice, ...]], ...]
    fusion: tuple[FusionChoice, ...]
    defaults: tuple[tuple[tuple[str, Any], ...], ...] = ()
    data: Any = field(default=None, compare=False, repr=False)
    representations: tuple[tuple[str, tuple[str, ...]], ...] = ()

    # ----------------------------------------------------------------- queries

    @property
    def fingerprint(self) -> str:
        """A short hash of the space's content; a study refuses to resume on another space."""
        return hashlib.sha256(json.dumps(self.data, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def step_choices(self, step: str, task: str, n_samples: int | None = None) -> list[ComponentChoice]:
        for name, choices in self.steps:
            if name == step:
                return _ungated([c for c in choices if c.supports(task)], n_samples)
        return []

    def fusion_choices(self, task: str, n_samples: int | None = None) -> list[FusionChoice]:
        fusions = [f for f in self.fusion if f.available(task, n_samples)]
        kept = [f for f in fusions if size_gate("fusion", f.kind, n_samples) is None]
        return kept or fusions

    def representation_choices(self, role: str) -> tuple[str, ...]:
        """Representations offered for text columns of ``role`` (the file's, or the defaults)."""
        return dict(self.representations).get(role, _DEFAULT_REPRESENTATIONS.get(role, ()))

    def gated(self, ctx: SpaceContext) -> dict[str, str]:
        """Components of this space left out for the data size, with the reason (recorded on the study)."""
        out: dict[str, str] = {}
        for step, choices in self.steps:
            for c in choices:
                reason = size_gate(step, c.name, ctx.n_samples)
                if reason and c.supports(ctx.task):
                    out[f"{step}.{c.name}"] = reason
        for f in self.fusion:
            reason = size_gate("fusion", f.kind, ctx.n_samples)
            if reason:
                out[f"fusion.{f.kind}"] = reason
            for b in f.bases:
                reason = size_gate("model", b.name, ctx.n_samples)
                if reason and b.supports(ctx.task):
                    out[f"model.{b.name}"] = reason
        return out

    def check_task(self, task: str) -> None:
        """Make sure the space can build a pipeline for ``task``.

        Raises:
            SpecError: No fusion strategy has a model for the task, or a step has no
                component for it.
        """
        if task not in TASKS:
            raise SpecError(f"task must be one of {list(TASKS)}, got {task!r}")
        if not self.fusion_choices(task):
            raise _spec_error(self.source, "fusion", f"no model in this space serves task {task!r}", f"add {task} models (see search_spaces/default.yaml)")
        for step, choices in self.steps:
            if choices and not [c for c in choices if c.supports(task)]:
                raise _spec_error(self.source, f"steps.{step}", f"no component serves task {task!r}", f"add a {task} component or 'none'")

    # ----------------------------------------------------------------- sampling

    def suggest(self, trial: Any, ctx: SpaceContext) -> dict[str, Any]:
        """Draw one pipeline from ``trial`` (define-by-run, conditional parameters).

        Args:
            trial: An ``optuna.Trial`` (anything with ``suggest_categorical/int/float``).
            ctx: What the data say (sizes, missing values, categorical columns).

        Returns:
            The full pipeline spec: every chosen component and every parameter,
            tuned or fixed, under the names described in this module's docstring.
        """
        out: dict[str, Any] = {}
        n = ctx.n_samples
        for col in ctx.composition_columns:
            reps = list(self.representation_choices("composition"))
            if reps:
                out[f"representation.{col}"] = reps[0] if len(reps) == 1 else trial.suggest_categorical(f"representation.{col}", reps)
        for step, _ in self.steps:
            choices = self.step_choices(step, ctx.task, n)
            if not choices or (step == "encoder" and not ctx.has_categorical):
                continue
            if step == "imputer" and not ctx.has_missing:
                # nothing to impute in the search data: keep the space's first (cheapest)
                # choice with its defaults so predictions on incomplete rows still work
                choice = choices[0]
                out[step] = choice.name
                for pname, spec in choice.params:
                    out[f"{step}.{choice.name}.{pname}"] = spec.default_value(ctx)
                continue
            choice = self._pick(trial, step, choices)
            out[step] = choice.name
            choice.suggest(trial, step, ctx, out)

        for block, choices in ctx.molecule_blocks:
            name = f"molecules.{block}"
            out[name] = choices[0] if len(choices) == 1 else trial.suggest_categorical(name, list(choices))
        fusions = self.fusion_choices(ctx.task, n)
        names = [f.kind for f in fusions]
        kind = names[0] if len(names) == 1 else trial.suggest_categorical("fusion", names)
        fusion = fusions[names.index(kind)]
        out["fusion"] = kind
        if kind == "single":
            model = self._pick(trial, "model", fusion.bases_for(ctx.task, n))
            out["model"] = model.name
            model.suggest(trial, "model", ctx, out)
        elif kind in ("bagging", "boosting"):
            base = self._pick(trial, f"{kind}.base", fusion.bases_for(ctx.task, n))
            out[f"{kind}.base"] = base.name
            base.suggest(trial, f"{kind}.base", ctx, out)
        else:
            combos = fusion.combos(ctx.task, n)
            combo = combos[0] if len(combos) == 1 else trial.suggest_categorical(f"{kind}.bases", combos)
            out[f"{kind}.bases"] = combo
            by_name = {b.name: b for b in fusion.bases_for(ctx.task, n)}
            for name in combo.split("+"):
                by_name[name].suggest(trial, f"{kind}.base", ctx, out)
            if kind == "stacking":
                meta = self._pick(trial, "stacking.meta", [m for m in fusion.metas if m.supports(ctx.task)])
                out["stacking.meta"] = meta.name
                meta.suggest(trial, "stacking.meta", ctx, out)
        for pname, spec in fusion.params:
            out[f"{kind}.{pname}"] = spec.suggest(trial, f"{kind}.{pname}", ctx)
        return out

    @staticmethod
    def _pick(trial: Any, name: str, choices: list[ComponentChoice]) -> ComponentChoice:
        if len(choices) == 1:
            return choices[0]
        chosen = trial.suggest_categorical(name, [c.name for c in choices])
        return next(c for c in choices if c.name == chosen)

    def default_trials(self, ctx: SpaceContext) -> list[dict[str, Any]]:
        """The space's cheap starting configurations for this data, as Optuna params.

        Entries that name a model the task cannot use are left out. Parameters an entry
        does not set take their declared ``default`` (or the range's midpoint).
        """
        out: list[dict[str, Any]] = []
        for entry in self.defaults:
            picker = DefaultPicker(dict(entry))
            try:
                self.suggest(picker, ctx)
            except KeyError:
                continue  # e.g. a regression-only default in a classification study
            if picker.params not in out:
                out.append(picker.params)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The parsed file (round-trips through :meth:`from_dict`)."""
        return json.loads(json.dumps(self.data, default=str))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<dict>") -> SearchSpace:
        """Validate a parsed space file.

        Raises:
            SpecError: Anything is wrong; the message names ``source``, the key, the bad
                value and the fix.
        """
        return _parse(data, source)


# --------------------------------------------------------------------------- parsing


def _parse_param(value: Any, key: str, source: str) -> ParamSpec:
    if not isinstance(value, Mapping):
        if isinstance(value, list):
            raise _spec_error(source, key, f"a bare list {value!r} is ambiguous", "write {type: categorical, choices: [...]}")
        return ParamSpec(key=key, kind="fixed", value=value)
    allowed = {"type", "low", "high", "log", "choices", "default"}
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise _spec_error(source, f"{key}.{unknown[0]}", f"unknown field {unknown[0]!r}", f"use only {sorted(allowed)}")
    kind = value.get("type")
    if kind not in ("int", "float", "categorical"):
        raise _spec_error(source, f"{key}.type", f"type must be int, float or categorical, got {kind!r}", "set type: int|float|categorical")
    if kind == "categorical":
        choices = value.get("choices")
        if not isinstance(choices, list) or not choices:
            raise _spec_error(source, f"{key}.choices", f"empty or missing choice list ({choices!r})", "give at least one choice, e.g. choices: [a, b]")
        default = value.get("default")
        if default is not None and default not in choices:
            raise _spec_error(source, f"{key}.default", f"default {default!r} is not among the choices {choices}", "pick the default from the choices")
        return ParamSpec(key=key, kind=kind, choices=tuple(choices), default=default)
    for bound in ("low", "high"):
        if bound not in value:
            raise _spec_error(source, f"{key}.{bound}", f"a {kind} range needs '{bound}'", f"add {bound}: <number or expression over {list(VARIABLES)}>")
        if isinstance(value[bound], bool) or not isinstance(value[bound], int | float | str):
            raise _spec_error(source, f"{key}.{bound}", f"{value[bound]!r} is not a number or expression", "write a number or e.g. \"min(30, n_samples // 5)\"")
    for bound in ("low", "high", "default"):
        if value.get(bound) is not None:
            try:
                check_expression(value[bound])
            except (ValueError, ArithmeticError) as err:
                raise _spec_error(source, f"{key}.{bound}", f"bad value {value[bound]!r} ({err})", f"use numbers and {list(VARIABLES)}") from None
    low, high, log = value["low"], value["high"], bool(value.get("log", False))
    if isinstance(low, int | float) and isinstance(high, int | float):
        if low > high:
            raise _spec_error(source, key, f"low {low!r} is above high {high!r}", "swap the bounds")
        if log and low <= 0:
            raise _spec_error(source, f"{key}.low", f"a log-scale range needs low > 0, got {low!r}", "raise low or drop log: true")
    return ParamSpec(key=key, kind=kind, low=low, high=high, log=log, default=value.get("default"))


def _parse_components(value: Any, step: str, key: str, source: str) -> tuple[ComponentChoice, ...]:
    if value is None:
        value = {}
    if isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            raise _spec_error(source, key, f"a list of choices must hold component names, got {value!r}", "write a mapping name: {params} or a list of names")
        value = {name: {} for name in value}
    if not isinstance(value, Mapping):
        raise _spec_error(source, key, f"expected a mapping of components, got {value!r}", "write e.g. {median: {}, knn: {n_neighbors: 5}}")
    if not value:
        raise _spec_error(source, key, "empty choice list", "list at least one component (use 'none' to allow skipping the step)")
    out = []
    for name, params in value.items():
        try:
            component = get_component(step, str(name))
        except SpecError as err:
            raise _spec_error(source, f"{key}.{name}", f"unknown {step} component {name!r}", str(err).split("; ", 1)[1]) from None
        params = params or {}
        if not isinstance(params, Mapping):
            raise _spec_error(source, f"{key}.{name}", f"parameters must be a mapping, got {params!r}", "write {param: value-or-range}")
        parsed = []
        for pname, pvalue in params.items():
            if pname not in component.params:
                known = sorted(component.params) or "none"
                raise _spec_error(source, f"{key}.{name}.{pname}", f"unknown parameter {pname!r} of {step} component {name!r}", f"use one of: {known}")
            parsed.append((str(pname), _parse_param(pvalue, f"{key}.{name}.{pname}", source)))
        out.append(ComponentChoice(step=step, name=str(name), params=tuple(parsed)))
    return tuple(out)


def _parse(data: Any, source: str) -> SearchSpace:
    if not isinstance(data, Mapping):
        raise SpecError(f"{source}: a search-space file must be a YAML mapping with keys {list(_TOP_KEYS)}, got {type(data).__name__}")
    unknown = sorted(set(data) - set(_TOP_KEYS))
    if unknown:
        raise _spec_error(source, unknown[0], f"unknown top-level key {unknown[0]!r}", f"use only {list(_TOP_KEYS)}")
    if data.get("version") != SPACE_VERSION:
        raise _spec_error(source, "version", f"unsupported version {data.get('version')!r}", f"set version: {SPACE_VERSION}")

    cv = data.get("cv") or {}
    if not isinstance(cv, Mapping):
        raise _spec_error(source, "cv", f"expected a mapping, got {cv!r}", "write e.g. cv: {n_splits: 5, n_repeats: 2}")
    for k, v in cv.items():
        if k not in _CV_KEYS:
            raise _spec_error(source, f"cv.{k}", f"unknown key {k!r}", f"use only {list(_CV_KEYS)}")
        if not (v == "auto" or (isinstance(v, int) and not isinstance(v, bool) and v >= (2 if k == "n_splits" else 1))):
            raise _spec_error(source, f"cv.{k}", f"bad value {v!r}", "an integer (n_splits >= 2, n_repeats >= 1) or 'auto'")

    if "molecules" in data:
        from planner.automl._molecules import check_representations

        check_representations(data["molecules"], source)
    steps_data = data.get("steps") or {}
    if not isinstance(steps_data, Mapping):
        raise _spec_error(source, "steps", f"expected a mapping of steps, got {steps_data!r}", f"use steps among {list(PREPROCESSING_STEPS)}")
    for step in steps_data:
        if step not in PREPROCESSING_STEPS:
            raise _spec_error(source, f"steps.{step}", f"unknown step {step!r}", f"use steps among {list(PREPROCESSING_STEPS)}")
    steps = tuple((step, _parse_components(steps_data[step], step, f"steps.{step}", source)) for step in PREPROCESSING_STEPS if step in steps_data)

    fusion_data = data.get("fusion")
    if not isinstance(fusion_data, Mapping) or not fusion_data:
        raise _spec_error(source, "fusion", f"empty or missing ({fusion_data!r})", "declare at least fusion: {single: {models: {ridge: {}}}}")
    fusions = []
    for kind, body in fusion_data.items():
        key = f"fusion.{kind}"
        if kind not in FUSION_KINDS:
            raise _spec_error(source, key, f"unknown fusion kind {kind!r}", f"use {list(FUSION_KINDS)}")
        if not isinstance(body, Mapping):
            raise _spec_error(source, key, f"expected a mapping, got {body!r}", f"write keys among {sorted(_FUSION_KEYS[kind])}")
        for k in body:
            if k not in _FUSION_KEYS[kind]:
                raise _spec_error(source, f"{key}.{k}", f"unknown key {k!r} for fusion {kind!r}", f"use keys among {sorted(_FUSION_KEYS[kind])}")
        for k in _REQUIRED_FUSION_KEYS[kind]:
            if k not in body:
                raise _spec_error(source, f"{key}.{k}", "missing", f"add {k}: with at least one component")
        bases = _parse_components(body.get("models", body.get("base")), "model", f"{key}.{'models' if kind == 'single' else 'base'}", source)
        metas = _parse_components(body["meta"], "meta", f"{key}.meta", source) if "meta" in body else ()
        n_base = (2, 2)
        if "n_base" in body:
            nb = body["n_base"]
            nb = {"low": nb, "high": nb} if isinstance(nb, int) else nb
            if not (isinstance(nb, Mapping) and isinstance(nb.get("low"), int) and isinstance(nb.get("high"), int) and 2 <= nb["low"] <= nb["high"] <= 4):
                raise _spec_error(source, f"{key}.n_base", f"bad value {body['n_base']!r}", "an integer or {low: 2, high: 4} with 2 <= low <= high <= 4")
            n_base = (nb["low"], nb["high"])
        if kind in ("stacking", "voting") and len(bases) < n_base[0]:
            raise _spec_error(source, f"{key}.base", f"{len(bases)} base learner(s) listed but n_base.low is {n_base[0]}", "list more base learners or lower n_base")
        if kind == "boosting":
            for b in bases:
                if not b.component.supports_sample_weight and "classification" in b.component.tasks:
                    raise _spec_error(source, f"{key}.base.{b.name}", f"{b.name!r} cannot take sample weights, which boosting needs", "use tree, logistic, svc, naive_bayes or another weighted learner")
        params = tuple((k, _parse_param(v, f"{key}.{k}", source)) for k, v in body.items() if _FUSION_KEYS[kind][k] == "param")
        fusions.append(FusionChoice(kind=kind, bases=bases, metas=metas, n_base=n_base, params=params))

    defaults = data.get("defaults") or []
    if not isinstance(defaults, list) or not all(isinstance(d, Mapping) for d in defaults):
        raise _spec_error(source, "defaults", f"expected a list of mappings, got {defaults!r}", "write defaults: [{imputer: median, fusion: single, model: ridge}]")
    parsed_defaults = tuple(tuple(sorted((str(k), v) for k, v in d.items())) for d in defaults)

    reps_data = data.get("representations") or {}
    if not isinstance(reps_data, Mapping):
        raise _spec_error(source, "representations", f"expected a mapping of column role -> choices, got {reps_data!r}", "write e.g. representations: {composition: [magpie, fractions, magpie+fractions]}")
    from planner.automl._representations import check_representation

    representations = []
    for role, choices in reps_data.items():
        if not isinstance(choices, list) or not choices or not all(isinstance(c, str) for c in choices):
            raise _spec_error(source, f"representations.{role}", f"expected a non-empty list of names, got {choices!r}", "write e.g. [magpie, fractions, magpie+fractions]")
        for c in choices:
            try:
                check_representation(str(role), c)
            except SpecError as err:
                raise _spec_error(source, f"representations.{role}", str(err).split(";")[0], str(err).split("; ", 1)[-1]) from None
        representations.append((str(role), tuple(choices)))

    space = SearchSpace(
        name=str(data.get("name") or Path(source).stem),
        source=source,
        description=str(data.get("description") or ""),
        cv=tuple(cv.items()),
        steps=steps,
        fusion=tuple(fusions),
        defaults=parsed_defaults,
        data=json.loads(json.dumps(data, default=str)),
        representations=tuple(representations),
    )
    _check_defaults(space)
    return space


def _check_defaults(space: SearchSpace) -> None:
    """Each default entry must name known steps and choices the space offers."""
    choice_names: dict[str, set[str]] = {step: {c.name for c in choices} for step, choices in space.steps}
    choice_names["fusion"] = {f.kind for f in space.fusion}
    for f in space.fusion:
        if f.kind == "single":
            choice_names["model"] = {b.name for b in f.bases}
        elif f.kind in ("bagging", "boosting"):
            choice_names[f"{f.kind}.base"] = {b.name for b in f.bases}
        else:
            choice_names[f"{f.kind}.bases"] = {c for task in TASKS for c in f.combos(task)}
            if f.metas:
                choice_names["stacking.meta"] = {m.name for m in f.metas}
    for i, entry in enumerate(space.defaults):
        for k, v in entry:
            key = f"defaults[{i}].{k}"
            if k in choice_names:
                if v not in choice_names[k]:
                    raise _spec_error(space.source, key, f"{v!r} is not offered at {k!r} (offered: {sorted(choice_names[k])})", "name a choice listed in the file")
            elif "." not in k:
                raise _spec_error(space.source, key, f"unknown key {k!r}", f"use step names {sorted(choice_names)} or dotted parameter names like model.ridge.alpha")


# --------------------------------------------------------------------------- loading


def _bundled_dir() -> Path:
    """Where the shipped spaces live: package data first, then the repository checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "spaces", here.parents[1] / "search_spaces"):
        if candidate.is_dir() and any(candidate.glob("*.yaml")):
            return candidate
    return here.parents[1] / "search_spaces"


def bundled_search_spaces() -> dict[str, Path]:
    """Names of the shipped spaces (``default``, ``small_data``, ``fast``) and their files."""
    return {p.stem: p for p in sorted(_bundled_dir().glob("*.yaml"))}


def load_search_space(path_or_name: str | Path | SearchSpace) -> SearchSpace:
    """Load and validate a search space.

    Args:
        path_or_name: A bundled name (``"default"``, ``"small_data"``, ``"fast"``), a path
            to a YAML file, or an already loaded space (returned as is).

    Returns:
        The frozen, validated :class:`SearchSpace`.

    Raises:
        SpecError: The file does not exist, is not YAML, or breaks a rule; the message
            names the file, the key, the bad value and the fix.
    """
    if isinstance(path_or_name, SearchSpace):
        return path_or_name
    import yaml

    bundled = bundled_search_spaces()
    text = str(path_or_name)
    path = bundled[text] if text in bundled else Path(text).expanduser()
    if not path.is_file():
        raise SpecError(f"search space {text!r} not found: it is neither a bundled name ({sorted(bundled)}) nor an existing file; give a bundled name or the path of a YAML file")
    try:
        from planner.io._yaml import load_yaml

        data = load_yaml(path.read_text(encoding="utf-8"), source=str(path))
    except yaml.YAMLError as err:
        raise SpecError(f"{path}: not valid YAML ({err}); fix the syntax at the position shown") from err
    return _parse(data, str(path))
