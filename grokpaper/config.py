"""Profiles: named, validated parameter sets (``params/<name>.yaml``) for the chapter notebooks.

Every parameter is defined once, here, as a field of a frozen dataclass: its type is the field's
annotation (``int``, ``float``, ``str``, ``tuple[int, ...]`` for a list, ``| None`` where null
is a value), its rule and help text ride in the field's metadata (``param(...)``). A profile
has a ``study`` section (``StudyParams``: every chapter receives these values) and a
``chapters`` section (``CHAPTER_PARAMS``: a dataclass for each chapter that takes values of its
own). The rest is derived from those fields: the keys a profile must state, each check and its
message, the keys a chapter takes (``chapter_schema``), and ``core.study.StudySettings``, a
``StudyParams`` with the study's training methods. Fields have no defaults: the values are the
profiles' own, and a profile states every one of them, so one file shows a whole study.

Every error is a ``ParamsError`` (a ``ValueError``) naming where the value came from (the file,
the override, the class), the key (``study.seeds``), the bad value and the allowed values,
raised before any compute starts.

A chapter notebook's parameters cell is ``profile = "smoke"`` alone. The cell after it calls
``resolve_in_notebook("NN-name", globals())``, which takes every parameter papermill injected
after the parameters cell (``papermill ... -p confidence 0.9``) as an override.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

TASKS = ("add", "subtract", "multiply", "divide", "x2xyy2", "random")  # grokpaper.core.data implements them
DEVICES = ("auto", "cpu", "cuda")


def is_prime(n: int) -> bool:
    """Whether n is a prime (task 'divide' needs a prime modulus)."""
    return n >= 2 and all(n % k for k in range(2, math.isqrt(n) + 1))


class ParamsError(ValueError):
    """A bad profile, parameter name or parameter value (raised before anything runs)."""


# --- how a parameter is declared -----------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """A constraint on a value (on each item, for a list), and the same constraint in words."""

    words: str
    holds: Callable[[Any], bool]


def at_least(low) -> Rule:
    """value >= low."""
    return Rule(f">= {low}", lambda v: v >= low)


def above(low) -> Rule:
    """value > low."""
    return Rule(f"> {low}", lambda v: v > low)


def between(low, high, high_included: bool = False) -> Rule:
    """The open interval (low, high), or (low, high] with ``high_included``."""
    return Rule(f"in ({low}, {high}{']' if high_included else ')'}",
                lambda v: low < v < high or (high_included and v == high))


def one_of(choices: tuple[str, ...]) -> Rule:
    """value is one of ``choices``."""
    return Rule("one of " + ", ".join(choices), lambda v: v in choices)


def param(help: str, rule: Rule | None = None, distinct: bool = False):
    """A parameter field: its help text and its rule (``distinct``: a list's items differ).
    Its type is the field's annotation; it has no default (the profile gives its value)."""
    return dataclasses.field(metadata={"help": help, "rule": rule, "distinct": distinct})


# --- what validation derives from a field --------------------------------------------------
_TYPE_WORDS = {int: ("an integer", "integers"), float: ("a number", "numbers"), str: ("a string", "strings")}


@dataclass(frozen=True)
class Param:
    """One parameter as validation sees it, derived from its dataclass field (``schema``)."""

    name: str
    type: type  # int, float or str: the value's type, or each item's for a list
    is_list: bool  # a non-empty list (a tuple in the dataclass)
    nullable: bool  # null is a value (not "take the profile's value")
    rule: Rule | None
    distinct: bool
    help: str

    @property
    def allowed(self) -> str:
        """The allowed values in words, as the error messages say them."""
        one, many = _TYPE_WORDS[self.type]
        rule = f" {self.rule.words}" if self.rule else ""
        if self.is_list:
            words = f"a non-empty list of {'distinct ' if self.distinct else ''}{many}{rule}"
        elif self.type is str and self.rule:
            words = self.rule.words
        else:
            words = one + rule
        return words + (", or null" if self.nullable else "")

    def check(self, value, where: str, source: str):
        """The validated value (a float for a float field, a list for a list field), or a
        ParamsError naming ``source``, ``where``, the value and the allowed values."""
        if value is None and self.nullable:
            return None
        try:
            if self.is_list:
                if not isinstance(value, (list, tuple)):
                    raise TypeError
                out = [self._item(v) for v in value]
                ok = len(out) > 0 and (not self.distinct or len(set(out)) == len(out))
            else:
                out = self._item(value)
                ok = True
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ParamsError(f"{source}: {where} = {value!r} is not allowed; allowed: {self.allowed} ({self.help})")
        return out

    def _item(self, value):
        """One value converted to the type and checked against the rule (TypeError/ValueError if not)."""
        if isinstance(value, bool):
            raise TypeError
        if self.type is int and not isinstance(value, int):
            raise TypeError
        if self.type is float:
            if not isinstance(value, (int, float, str)):
                raise TypeError
            value = float(value)  # also from a string like '1e-3', which YAML 1.1 reads as a string
            if not math.isfinite(value):
                raise ValueError
        if self.type is str and not isinstance(value, str):
            raise TypeError
        if self.rule and not self.rule.holds(value):
            raise ValueError
        return value


def _param_of(f: dataclasses.Field, hint) -> Param:
    nullable = False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        nullable = type(None) in typing.get_args(hint)
        (hint,) = [a for a in typing.get_args(hint) if a is not type(None)]
    is_list = typing.get_origin(hint) is tuple
    if is_list:
        hint = typing.get_args(hint)[0]
    if hint not in _TYPE_WORDS:
        raise TypeError(f"parameter {f.name}: unsupported type {hint!r} (int, float, str, tuple[...], | None)")
    return Param(f.name, hint, is_list, nullable, f.metadata["rule"], f.metadata["distinct"], f.metadata["help"])


class Section:
    """Base of the parameter dataclasses: every field is checked (and a list made a tuple)
    when one is created; ``check_together`` holds the constraints between fields."""

    @classmethod
    def schema(cls) -> dict[str, Param]:
        """Every parameter of the section, in declaration order, derived from its fields."""
        return _schema(cls)

    @classmethod
    def check_together(cls, values: dict, source: str) -> None:
        """Constraints between fields, on the values present (none by default)."""

    @classmethod
    def from_mapping(cls, values, prefix: str, source: str):
        """The section from a mapping of a profile: no unknown key, no missing key, every value
        allowed (errors name ``source`` and ``prefix.key``)."""
        schema = cls.schema()
        if not isinstance(values, dict):
            raise ParamsError(f"{source}: {prefix} must be a mapping of keys to values; got {values!r}")
        unknown = [k for k in values if k not in schema]
        if unknown:
            raise ParamsError(f"{source}: unknown key {prefix}.{unknown[0]}; allowed keys: {', '.join(schema)}")
        missing = [k for k in schema if k not in values]
        if missing:
            raise ParamsError(f"{source}: missing key(s) {', '.join(f'{prefix}.{k}' for k in missing)}")
        checked = {k: p.check(values[k], f"{prefix}.{k}", source) for k, p in schema.items()}
        cls.check_together(checked, source)
        return cls(**checked)

    @classmethod
    def from_params(cls, params: dict):
        """The section's values out of a chapter's resolved parameters (other keys ignored)."""
        missing = [k for k in cls.schema() if k not in params]
        if missing:
            raise ParamsError(f"{cls.__name__}: missing parameter(s) {', '.join(missing)}")
        return cls(**{k: params[k] for k in cls.schema()})

    def as_dict(self) -> dict:
        """The values by name, lists as lists (as in a profile and in a chapter's parameters)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in
                ((k, getattr(self, k)) for k in self.schema())}

    def __post_init__(self):
        source = type(self).__name__
        for name, p in self.schema().items():
            value = p.check(getattr(self, name), name, source)
            object.__setattr__(self, name, tuple(value) if p.is_list else value)
        self.check_together(self.as_dict(), source)


@functools.cache
def _schema(cls) -> dict[str, Param]:
    hints = typing.get_type_hints(cls)
    return {f.name: _param_of(f, hints[f.name]) for f in dataclasses.fields(cls)}


# --- the parameters ------------------------------------------------------------------------
@dataclass(frozen=True)
class StudyParams(Section):
    """The study: every chapter receives these values (``study:`` in a profile)."""

    p: int = param("the modulus; tokens are the numbers 0..p-1 and '='", at_least(3))
    seeds: tuple[int, ...] = param("one run per seed, which fixes its split and its init", at_least(0), distinct=True)
    frac_train: float = param("share of all p^2 pairs used for training", between(0, 1))
    eval_every: int = param("epochs between evaluations", at_least(1))
    device: str = param("the torch device; 'auto' takes cuda where available", one_of(DEVICES))
    source_task: str = param("task the source models learn", one_of(TASKS))
    transfer_task: str = param("task the source models transfer to", one_of(TASKS))
    lr: float = param("AdamW learning rate", above(0))
    weight_decay: float = param("AdamW weight decay", at_least(0))
    grokked_max_epochs: int = param("cap for training a grokked source", at_least(1))
    grokked_hold_epochs: int = param("epochs test accuracy must stay at 100% to stop", at_least(0))
    memorized_fixed_epochs: int = param("epoch of the fixed-length variant of the memorized source; the "
                                        "original study's is 2000", at_least(1))
    transfer_max_epochs: int = param("cap for each transfer run", at_least(1))
    transfer_hold_epochs: int | None = param("stop a transfer run once test accuracy held 100% this long; "
                                             "null: always train to the cap", at_least(0))
    thresholds: tuple[float, ...] = param("test accuracies to time: the epoch each is first reached",
                                          between(0, 1, high_included=True))
    checkpoint_every: int = param("epochs between resume checkpoints", at_least(1))
    confidence: float = param("confidence level of every interval, caption and audit verdict", between(0, 1))
    n_bootstrap: int = param("bootstrap resamples of every bootstrap interval", at_least(100))
    n_permutations: int = param("random permutations of every Monte Carlo permutation test", at_least(100))
    probe_hold_epochs: int = param("probe, relearning and extended runs stop once test accuracy held the top "
                                   "threshold this long", at_least(0))
    probe_dense_until: int = param("probes: at every probe_dense_every-th epoch up to this epoch, then "
                                   "log-spaced", at_least(1))
    probe_dense_every: int = param("probes: epochs between probes in the dense phase (a multiple of "
                                   "eval_every)", at_least(1))
    probe_per_decade: int = param("probes: log-spaced probes per decade of epochs after the dense phase",
                                  at_least(1))
    probe_ridge: float = param("probes: ridge penalty of the linear probe, relative to the mean variance of "
                               "its features", above(0))
    probe_min_neurons: int = param("probes: neurons a frequency needs to count as a key frequency (the "
                                   "source's and the model's own)", at_least(1))
    relearn_max_epochs: int = param("cap for relearning the source task from a transferred model", at_least(1))
    extended_max_epochs: int = param("cap of an extended transfer probe run (one that goes on past "
                                     "transfer_max_epochs)", at_least(1))
    task_max_epochs: int = param("cap of the runs with task tokens (sequential, replay, multi-task, "
                                 "task similarity); each stops once test accuracy held the top threshold "
                                 "probe_hold_epochs", at_least(1))
    random_table_max_epochs: int = param("cap of the runs whose target is the 'random' table (it cannot "
                                         "generalise; how fast it is memorised is what they show)", at_least(1))
    replay_share: float = param("replay: the share of every full batch made of the source task's examples "
                                "(with its own task token)", between(0, 1))
    ill_posed_epochs: int = param("length of the run that replays without a task token (the same input with two "
                                  "labels): it shows the training loss staying above its floor", at_least(1))
    similarity_targets: tuple[str, ...] = param("targets of the task-similarity gradient, each with its own task "
                                                "token", one_of(TASKS), distinct=True)

    @classmethod
    def check_together(cls, values: dict, source: str) -> None:
        if "divide" in (values.get("source_task"), values.get("transfer_task")) and not is_prime(values.get("p", 2)):
            raise ParamsError(f"{source}: task 'divide' needs a prime p (b must have an inverse mod p); "
                              f"got p = {values['p']}")
        every, dense = values.get("eval_every", 1), values.get("probe_dense_every", 1)
        if dense % every:
            raise ParamsError(f"{source}: probe_dense_every = {dense} is not allowed; allowed: a multiple of "
                              f"eval_every = {every} (probes measure the weights an evaluation just saw)")
        if values.get("extended_max_epochs", math.inf) < values.get("transfer_max_epochs", 0):
            raise ParamsError(f"{source}: extended_max_epochs = {values['extended_max_epochs']} is not allowed; "
                              f"allowed: >= transfer_max_epochs = {values['transfer_max_epochs']}")


@dataclass(frozen=True)
class CircuitsParams(Section):
    """Chapter 05-circuits."""

    min_neuron_count: int = param("neurons a frequency needs to count as used", at_least(1))


@dataclass(frozen=True)
class StatisticsParams(Section):
    """Chapter 06-statistics."""

    outlier_z: float = param("|z| above which a run is flagged an outlier", above(0))


@dataclass(frozen=True)
class DynamicsParams(Section):
    """Chapter 07-dynamics."""

    early_epochs: int = param("window of the 'early' gain", at_least(1))
    late_epochs: int = param("window of the 'late' gain", at_least(1))
    collapse_drop: float = param("test-accuracy drop after 99% that counts as a collapse", between(0, 1))


MISSING_RUNS = ("train", "wait")


@dataclass(frozen=True)
class ProbeRunsParams(Section):
    """Chapters 10-inside-transfer and 11-relearning: what to do about the probe or relearning runs
    they read (their header's ``runs:``) that are not in the store."""

    missing_runs: str = param("runs the chapter reads that are not stored: 'train' them when it executes, or "
                              "'wait' for `python -m grokpaper train all --runs ...` (the runner then reports the "
                              "chapter as waiting and the report builds without it)", one_of(MISSING_RUNS))


@dataclass(frozen=True)
class WhatTransfersParams(ProbeRunsParams):
    """Chapter 12-what-transfers: ``missing_runs`` for its control runs, and the ablation's null."""

    ablation_draws: int = param("random draws of non-key frequencies in the null of each key-frequency "
                                "ablation", at_least(1))


# The chapters that take parameters of their own (``chapters:`` in a profile).
CHAPTER_PARAMS: dict[str, type[Section]] = {
    "05-circuits": CircuitsParams,
    "06-statistics": StatisticsParams,
    "07-dynamics": DynamicsParams,
    "10-inside-transfer": ProbeRunsParams,
    "11-relearning": ProbeRunsParams,
    "12-what-transfers": WhatTransfersParams,
    "13-task-tokens": ProbeRunsParams,
    "14-replay": ProbeRunsParams,
    "15-multitask": ProbeRunsParams,
    "16-similarity": ProbeRunsParams,
}


def chapter_schema(chapter: str) -> dict[str, Param]:
    """The parameters a chapter takes: every study parameter plus its own (if it has any)."""
    own = CHAPTER_PARAMS[chapter].schema() if chapter in CHAPTER_PARAMS else {}
    return {**StudyParams.schema(), **own}


def all_keys() -> list[str]:
    """Every parameter name any chapter takes."""
    # a section several chapters take (ProbeRunsParams), or one that extends it (WhatTransfersParams),
    # declares its parameters once
    keys = list(StudyParams.schema()) + [k for section in CHAPTER_PARAMS.values() for k in section.schema()]
    return list(dict.fromkeys(keys))


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
    """A validated profile: its study section and each chapter's section."""

    name: str
    path: Path
    study: StudyParams
    chapters: dict[str, Section]

    def for_chapter(self, chapter: str) -> dict:
        """Study values plus the chapter's own values (no overrides)."""
        own = self.chapters[chapter].as_dict() if chapter in self.chapters else {}
        return {**self.study.as_dict(), **own}


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


def load_profile(name_or_path: str | Path | Profile, project: str | Path | None = None) -> Profile:
    """Read and validate a profile: a name (``params/<name>.yaml`` under the project root) or a
    path to a YAML file. Every study key and every key of every chapter in CHAPTER_PARAMS is required."""
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
    study = StudyParams.from_mapping(data.get("study"), "study", source)
    chapters_in = data.get("chapters") or {}
    if not isinstance(chapters_in, dict):
        raise ParamsError(f"{source}: chapters must be a mapping of chapter name to values")
    unknown = [c for c in chapters_in if c not in CHAPTER_PARAMS]
    if unknown:
        raise ParamsError(f"{source}: unknown key chapters.{unknown[0]}; chapters that take parameters: "
                          f"{', '.join(CHAPTER_PARAMS)}")
    chapters = {c: section.from_mapping(chapters_in.get(c), f"chapters.{c}", source)
                for c, section in CHAPTER_PARAMS.items()}
    return Profile(name=path.stem, path=path, study=study, chapters=chapters)


def chapter_params(chapter: str, profile: str | Path | Profile = "smoke", overrides: dict | None = None,
                   project: str | Path | None = None, given_as: str = "override") -> dict:
    """The validated parameters of one chapter: the profile's study values, the chapter's own
    values, then ``overrides`` (string values are read as YAML first, as papermill's CLI passes
    ``-p seeds "[1, 2]"`` as a string). ``given_as`` names the overrides in error messages."""
    prof = load_profile(profile, project)
    schema = chapter_schema(chapter)
    values = prof.for_chapter(chapter)
    for key, raw in (overrides or {}).items():
        source = f"{given_as} {key}={raw!r} (profile {prof.path})"
        if key not in schema:
            raise ParamsError(f"{source}: chapter {chapter} takes no parameter '{key}'; allowed keys: "
                              f"{', '.join(schema)}")
        values[key] = schema[key].check(_parse_string(raw, key, source), key, source)
    StudyParams.check_together(values, f"chapter {chapter} (profile {prof.path}, overrides {overrides or {}})")
    return values


def resolve_in_notebook(chapter: str, namespace: dict) -> dict:
    """The call a chapter makes right after its parameters cell: ``profile`` from the namespace
    (default "smoke") and, as overrides, every parameter name in it with a value other than None
    (papermill injects them after the parameters cell). A parameter this chapter does not take
    is an error naming the keys it takes; None means "not given" (pass null as the string "null")."""
    profile = namespace.get("profile") or "smoke"
    overrides = {k: namespace[k] for k in all_keys() if namespace.get(k) is not None}
    return chapter_params(chapter, profile, overrides, given_as="papermill parameter")
