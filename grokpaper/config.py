"""Profiles: named, validated parameter sets (``params/<name>.yaml``) for the chapter notebooks.

A profile has a ``study`` section (every chapter receives these values) and a ``chapters``
section (per-chapter values, only for the chapters that take any). The schema below is the
single list of what is allowed; every error is a ``ParamsError`` (a ``ValueError``) naming the
file, the key path (``study.seeds``), the bad value and the allowed values, raised before any
compute starts.

A chapter notebook's parameters cell is ``profile = "smoke"`` with every other parameter
``= None``; the cell right after it calls ``resolve_in_notebook("NN-name", globals())``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

TASKS = ("add", "subtract", "multiply", "divide", "x2xyy2", "random")
DEVICES = ("auto", "cpu", "cuda")


class ParamsError(ValueError):
    """A bad profile, parameter name or parameter value (raised before anything runs)."""


@dataclass(frozen=True)
class Field:
    """One parameter: its type, its constraint (on the value after type checking), and the
    text shown to the user when the value is wrong."""

    type: type  # int, float, str or list
    allowed: str  # the allowed values, in words, for error messages
    description: str
    check: Callable[[Any], bool] = lambda v: True
    item: type | None = None  # element type of a list
    nullable: bool = False  # None is a legal value (not "take the profile's value")


def _between(low, high, low_open=True, high_open=True):
    def check(v):
        return (v > low if low_open else v >= low) and (v < high if high_open else v <= high)
    return check


# --- the schema ---------------------------------------------------------------------------
STUDY_SCHEMA: dict[str, Field] = {
    "p": Field(int, "an integer >= 3", "modulus (vocabulary is 0..p-1 plus '=')", lambda v: v >= 3),
    "seeds": Field(list, "a non-empty list of distinct integers >= 0", "one run per seed (split and init)",
                   lambda v: len(v) > 0 and len(set(v)) == len(v) and all(s >= 0 for s in v), item=int),
    "frac_train": Field(float, "a number in (0, 1)", "share of all p^2 pairs used for training",
                        _between(0, 1)),
    "eval_every": Field(int, "an integer >= 1", "epochs between evaluations", lambda v: v >= 1),
    "device": Field(str, "one of " + ", ".join(DEVICES), "torch device ('auto': cuda if available)",
                    lambda v: v in DEVICES),
    "source_task": Field(str, "one of " + ", ".join(TASKS), "task the source models learn",
                         lambda v: v in TASKS),
    "transfer_task": Field(str, "one of " + ", ".join(TASKS), "task the source models transfer to",
                           lambda v: v in TASKS),
    "lr": Field(float, "a number > 0", "AdamW learning rate", lambda v: v > 0),
    "weight_decay": Field(float, "a number >= 0", "AdamW weight decay", lambda v: v >= 0),
    "grokked_max_epochs": Field(int, "an integer >= 1", "cap for training a grokked source", lambda v: v >= 1),
    "grokked_hold_epochs": Field(int, "an integer >= 0", "epochs test accuracy must stay at 100% to stop",
                                 lambda v: v >= 0),
    "memorized_fixed_epochs": Field(int, "an integer >= 1", "epoch of the fixed-length variant of the memorized source (original study: 2000)",
                                    lambda v: v >= 1),
    "transfer_max_epochs": Field(int, "an integer >= 1", "cap for each transfer run", lambda v: v >= 1),
    "transfer_hold_epochs": Field(int, "an integer >= 0, or null (always train to the cap)",
                                  "stop a transfer run once test accuracy held 100% this long",
                                  lambda v: v >= 0, nullable=True),
    "thresholds": Field(list, "a non-empty list of numbers in (0, 1]", "test accuracies to time (epochs to reach)",
                        lambda v: len(v) > 0 and all(0 < t <= 1 for t in v), item=float),
    "checkpoint_every": Field(int, "an integer >= 1", "epochs between resume checkpoints", lambda v: v >= 1),
}

CHAPTER_SCHEMA: dict[str, dict[str, Field]] = {
    "05-circuits": {
        "min_neuron_count": Field(int, "an integer >= 1", "neurons a frequency needs to count as used",
                                  lambda v: v >= 1),
    },
    "06-statistics": {
        "confidence": Field(float, "a number in (0, 1)", "confidence level of intervals", _between(0, 1)),
        "n_bootstrap": Field(int, "an integer >= 100", "bootstrap resamples", lambda v: v >= 100),
        "outlier_z": Field(float, "a number > 0", "|z| above which a run is flagged an outlier",
                           lambda v: v > 0),
    },
    "07-dynamics": {
        "early_epochs": Field(int, "an integer >= 1", "window of the 'early' gain", lambda v: v >= 1),
        "late_epochs": Field(int, "an integer >= 1", "window of the 'late' gain", lambda v: v >= 1),
        "collapse_drop": Field(float, "a number in (0, 1)", "test-accuracy drop after 99% that counts as a collapse",
                               _between(0, 1)),
    },
}


def chapter_schema(chapter: str) -> dict[str, Field]:
    """The fields a chapter takes: every study field plus its own (if it has any)."""
    return {**STUDY_SCHEMA, **CHAPTER_SCHEMA.get(chapter, {})}


def all_keys() -> list[str]:
    """Every parameter name any chapter takes."""
    return list(STUDY_SCHEMA) + [k for fields in CHAPTER_SCHEMA.values() for k in fields]


# --- validation ---------------------------------------------------------------------------
def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _as_float(v):
    """A float from an int/float, or from a string like '1e-3' (YAML 1.1 reads that as a string)."""
    if isinstance(v, bool):
        raise TypeError
    if _is_int(v) or isinstance(v, float):
        return float(v)
    if isinstance(v, str):
        return float(v)
    raise TypeError


def _typed(f: Field, value):
    """``value`` converted to the field's type, or raise TypeError/ValueError."""
    if f.type is int:
        if not _is_int(value):
            raise TypeError
        return value
    if f.type is float:
        out = _as_float(value)
        if not math.isfinite(out):
            raise ValueError
        return out
    if f.type is str:
        if not isinstance(value, str):
            raise TypeError
        return value
    if f.type is list:
        if not isinstance(value, (list, tuple)):
            raise TypeError
        return [_typed(Field(f.item, "", ""), v) for v in value]
    raise AssertionError(f"unsupported field type {f.type}")


def check_value(f: Field, value, where: str, source: str):
    """The validated (normalized) value, or a ParamsError naming ``source`` and ``where``."""
    if value is None and f.nullable:
        return None
    try:
        out = _typed(f, value)
        ok = f.check(out)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ParamsError(f"{source}: {where} = {value!r} is not allowed; allowed: {f.allowed} ({f.description})")
    return out


def _check_cross_fields(values: dict, source: str):
    """Constraints between fields (only those that can be checked from the values present)."""
    if "divide" in (values.get("source_task"), values.get("transfer_task")) and "p" in values:
        p = values["p"]
        if any(p % d == 0 for d in range(2, math.isqrt(p) + 1)):
            raise ParamsError(f"{source}: task 'divide' needs a prime p; got p = {p}")


def _parse_string(value, where: str, source: str):
    """Papermill's CLI passes ``-p seeds "[1, 2]"`` as the string '[1, 2]': read it as YAML."""
    if not isinstance(value, str):
        return value
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError as e:
        raise ParamsError(f"{source}: {where} = {value!r} is not valid YAML ({e.__class__.__name__})") from None


# --- profiles -----------------------------------------------------------------------------
def project_root(start: str | Path | None = None) -> Path:
    """The project directory: the first of ``start`` (default: cwd) and its parents that holds
    ``params/`` and ``_quarto.yml``; else the directory that holds the ``grokpaper`` package."""
    here = Path(start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "params").is_dir() and (d / "_quarto.yml").is_file():
            return d
    return Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Profile:
    """A validated profile: ``study`` values and per-chapter values."""

    name: str
    path: Path
    study: dict = field(default_factory=dict)
    chapters: dict = field(default_factory=dict)

    def for_chapter(self, chapter: str) -> dict:
        """Study values plus the chapter's own values (no overrides)."""
        return {**self.study, **self.chapters.get(chapter, {})}


def _profile_path(name_or_path: str | Path, project: str | Path | None) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or len(p.parts) > 1:
        if not p.is_file():
            raise ParamsError(f"profile file {p} does not exist")
        return p
    params_dir = (Path(project) if project else project_root()) / "params"
    path = params_dir / f"{name_or_path}.yaml"
    if not path.is_file():
        known = sorted(q.stem for q in params_dir.glob("*.yaml"))
        raise ParamsError(f"no profile '{name_or_path}' ({path} does not exist); profiles: {', '.join(known) or 'none'}")
    return path


def _check_section(values, schema: dict[str, Field], prefix: str, source: str) -> dict:
    """Validate one mapping: no unknown keys, no missing keys, every value allowed."""
    if not isinstance(values, dict):
        raise ParamsError(f"{source}: {prefix} must be a mapping of keys to values; got {values!r}")
    unknown = [k for k in values if k not in schema]
    if unknown:
        raise ParamsError(f"{source}: unknown key {prefix}.{unknown[0]}; allowed keys: {', '.join(schema)}")
    missing = [k for k in schema if k not in values]
    if missing:
        raise ParamsError(f"{source}: missing key(s) {', '.join(f'{prefix}.{k}' for k in missing)}")
    return {k: check_value(schema[k], values[k], f"{prefix}.{k}", source) for k in schema}


def load_profile(name_or_path: str | Path, project: str | Path | None = None) -> Profile:
    """Read and validate a profile: a name (``params/<name>.yaml`` under the project root) or a
    path to a YAML file. Every study key and every key of every chapter in the schema is required."""
    if isinstance(name_or_path, Profile):
        return name_or_path
    path = _profile_path(name_or_path, project)
    source = str(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ParamsError(f"{source}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ParamsError(f"{source}: a profile is a mapping with keys study, chapters")
    unknown = [k for k in data if k not in ("study", "chapters")]
    if unknown:
        raise ParamsError(f"{source}: unknown key {unknown[0]}; allowed keys: study, chapters")
    study = _check_section(data.get("study"), STUDY_SCHEMA, "study", source)
    _check_cross_fields(study, source)
    chapters_in = data.get("chapters") or {}
    if not isinstance(chapters_in, dict):
        raise ParamsError(f"{source}: chapters must be a mapping of chapter name to values")
    unknown = [c for c in chapters_in if c not in CHAPTER_SCHEMA]
    if unknown:
        raise ParamsError(f"{source}: unknown key chapters.{unknown[0]}; chapters that take parameters: "
                          f"{', '.join(CHAPTER_SCHEMA)}")
    chapters = {c: _check_section(chapters_in.get(c), fields, f"chapters.{c}", source)
                for c, fields in CHAPTER_SCHEMA.items()}
    return Profile(name=path.stem, path=path, study=study, chapters=chapters)


def chapter_params(chapter: str, profile: str | Path | Profile = "smoke", overrides: dict | None = None,
                   project: str | Path | None = None) -> dict:
    """The validated parameters of one chapter: the profile's study values, the chapter's own
    values, then ``overrides`` (string values are read as YAML first, as papermill's CLI passes
    ``-p seeds "[1, 2]"`` as a string)."""
    prof = load_profile(profile, project)
    schema = chapter_schema(chapter)
    values = prof.for_chapter(chapter)
    for key, raw in (overrides or {}).items():
        source = f"override {key}={raw!r} (profile {prof.path})"
        if key not in schema:
            raise ParamsError(f"{source}: chapter {chapter} takes no parameter '{key}'; allowed keys: "
                              f"{', '.join(schema)}")
        values[key] = check_value(schema[key], _parse_string(raw, key, source), key, source)
    _check_cross_fields(values, f"chapter {chapter} (profile {prof.path}, overrides {overrides or {}})")
    return values


def resolve_in_notebook(chapter: str, namespace: dict) -> dict:
    """The call a chapter makes right after its parameters cell: ``profile`` from the namespace
    (default "smoke") and, as overrides, every parameter of this chapter whose value there is
    not None. Returns the validated parameters."""
    profile = namespace.get("profile") or "smoke"
    overrides = {k: namespace[k] for k in chapter_schema(chapter) if namespace.get(k) is not None}
    return chapter_params(chapter, profile, overrides)
