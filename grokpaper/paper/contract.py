"""The results contract: what each chapter saves to ``results/<chapter>.json``, as declared types.

Each chapter's numbers are one dataclass here (``Sources`` for 01-sources, ... ``Runs`` for
09-runs; ``CONTRACT`` maps chapter names to them). A chapter builds its numbers as that class
and saves them with ``report.save_numbers``; ``report.Results`` loads each file back as that
class, checking every key and the type of every value on the way (``parse``). So the article,
the audit and the tests read typed fields (``R.transfer.cap``, ``R.statistics.family[...]``),
and a field renamed in a chapter fails where the chapter builds its numbers, or where a reader
names the old field, not while the article renders.

The JSON on disk stays plain: a field is saved under its own name, or under the readable key
``named`` gives it (``"expected shared"``, ``"can flag"``); NaN is saved as null; nothing is
converted on load, so a file loaded and saved again is the same file.

The keys that are data, not field names (family test ids, threshold columns, pairs of
conditions, metric keys), are built by the functions at the top of this module and nowhere else.
"""

from __future__ import annotations

import functools
import math
import re
import types
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from typing import Any, ClassVar, Union

import numpy as np
import pandas as pd

# Version of the contract the files record (key "contract"). Bump it when a saved field changes
# name, type or meaning: files of another version are refused with the command that rewrites them.
CONTRACT_VERSION = 2

# ----------------------------------------------------------------------------- keys, built here only

FIRST, SUSTAINED = "first", "sustained"   # epochs to a threshold: first reached, or held to the end of the run
EARLY = "test acc at 100"                 # test accuracy at epoch 100 (the transfer table's column)
CIRCUIT_QUANTITY = "circuit mean fraction explained"
REUSE_TEST = "key frequencies shared with the own grokked source"
ROAD_TEST = "key frequencies, own vs other seeds' grokked sources"


def pct(threshold: float) -> str:
    """Column-name form of a threshold: 0.999 -> '99.9%'."""
    return f"{100 * threshold:g}%"


def epochs_column(kind: str, threshold: float) -> str:
    """The transfer table's column of epochs to a threshold: ('first', 0.999) -> 'first 99.9%'."""
    if kind not in (FIRST, SUSTAINED):
        raise ValueError(f"kind must be {FIRST!r} or {SUSTAINED!r}; got {kind!r}")
    return f"{kind} {pct(threshold)}"


def reached_at_column(threshold: float) -> str:
    """The dynamics table's column of the epoch a run first reached a threshold: 'first 99.9% at'."""
    return f"{epochs_column(FIRST, threshold)} at"


def jump_into_column(threshold: float) -> str:
    """The dynamics table's column of the jump into the first evaluation at a threshold: 'jump into 99.9%'."""
    return f"jump into {pct(threshold)}"


def family_test_id(quantity: str, a: str, b: str | None = None) -> str:
    """The id of a test of the paper's family (``inference.family``): 'first 99.9%: random vs
    grokked' for a comparison of two conditions, 'addition accuracy vs chance: grokked' for one."""
    return f"{quantity}: {a}" if b is None else f"{quantity}: {a} vs {b}"


def correlation_quantity(column: str, early: str = EARLY) -> str:
    """The family's correlation of early accuracy with a column: 'test acc at 100 vs first 99.9%'."""
    return f"{early} vs {column}"


def pair_name(a: str, b: str) -> str:
    """A pair of conditions in the agreement tables: 'grokked_vs_memorized'."""
    return f"{a}_vs_{b}"


def relearning_test_id(threshold: float, a: str, b: str) -> str:
    """Chapter 11's id of a paired comparison of epochs to a threshold: (0.95, 'grokked', 'first
    learning') -> 'relearning 95%: grokked vs first learning' (a and b: a condition's relearning
    run, or the source's first learning of the task)."""
    return f"relearning {pct(threshold)}: {a} vs {b}"


def metric_key(name: str) -> str:
    """A results key without dots, spaces or signs: 'first 99.9%' -> 'first_99_9pct',
    'circuit: n > 0.5' -> 'circuit_n_gt_0_5', 'memorized-fixed' -> 'memorized_fixed'."""
    name = name.lower().replace(">=", " ge ").replace(">", " gt ").replace("%", "pct")
    return re.sub(r"[^a-z0-9]+", "_", name).strip("_")


def speedup_key(a: str, b: str, quantity: str) -> str:
    """Chapter 06's key of a ratio of epochs: ('random', 'grokked', 'first 99.9%') ->
    'random_over_grokked_first_99_9pct'."""
    return f"{a}_over_{b}_{metric_key(quantity)}"


# ----------------------------------------------------------------------------- types, parse and plain

class ContractError(ValueError):
    """Saved numbers that do not match the contract: the message names the file, the path to
    the value and what was expected."""


def named(key: str):
    """A field saved under ``key``, a readable key that is not a Python name ("expected shared")."""
    return field(metadata={"key": key})


def _key(f) -> str:
    return f.metadata.get("key", f.name)


def saved_keys(kind) -> list[str]:
    """The keys dataclass ``kind`` is saved under, in field order."""
    return [_key(f) for f in fields(kind)]


def field_of(kind, key: str) -> str:
    """The name of the field of dataclass ``kind`` saved under ``key`` (KeyError if none is)."""
    for f in fields(kind):
        if _key(f) == key:
            return f.name
    raise KeyError(f"{kind.__name__} has no field saved as {key!r}")


Num = Union[float, None]          # a number; None where it is undefined (NaN is saved as null)
Label = Union[int, str]            # a run's label: its seed, or "condition/seed"
Table = dict[str, list[Any]]       # one row per run, column -> values (pandas ``to_dict(orient="list")``)


def plain(value):
    """JSON-ready copy of ``value``: dataclasses as dicts under their saved keys, numpy scalars and
    arrays as Python numbers and lists, NaN and pd.NA as None, tuples as lists, dict keys as strings."""
    if is_dataclass(value) and not isinstance(value, type):
        return {_key(f): plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        return [plain(v) for v in list(value)]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if value is pd.NA:
        return None
    return value


def parse(kind, value, where: str = "numbers"):
    """``value`` (plain JSON data) as ``kind``: a dataclass of this module, ``dict[K, V]``,
    ``list[T]``, a union, or int, float, str, bool, Any. Raises ContractError naming ``where``
    (the path to the value) for a missing or unknown key or a value of another type. Values are
    not converted: an int stays an int where a float is declared."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Any:
        return value
    if is_dataclass(kind):
        return _parse_dataclass(kind, value, where)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return parse(option, value, where)
            except ContractError as e:
                errors.append(str(e))
        raise ContractError(errors[0] if len(errors) == 1 else f"{where}: {value!r} is none of {_name(kind)}")
    if origin is dict:
        if not isinstance(value, dict):
            raise ContractError(f"{where}: expected a mapping ({_name(kind)}), got {_got(value)}")
        key_kind, value_kind = args
        return {_parse_key(key_kind, k, where): parse(value_kind, v, f"{where}[{k!r}]") for k, v in value.items()}
    if origin is list:
        if not isinstance(value, list):
            raise ContractError(f"{where}: expected a list ({_name(kind)}), got {_got(value)}")
        return [parse(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
    if kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind in (str, bool):
        ok = isinstance(value, kind)
    else:
        raise TypeError(f"{where}: the contract has no rule for {kind!r}")
    if not ok:
        raise ContractError(f"{where}: expected {_name(kind)}, got {_got(value)}")
    return value


def _parse_dataclass(kind, value, where: str):
    if not isinstance(value, dict):
        raise ContractError(f"{where}: expected {kind.__name__} (a mapping), got {_got(value)}")
    hints = _hints(kind)
    declared = {_key(f): f for f in fields(kind)}
    missing = [k for k, f in declared.items() if k not in value and f.default is MISSING]
    unknown = [k for k in value if k not in declared]
    if missing or unknown:
        raise ContractError(f"{where}: {kind.__name__} " + "; ".join(
            part for part in (missing and f"lacks {', '.join(map(repr, missing))}",
                              unknown and f"has no field {', '.join(map(repr, unknown))}") if part))
    return kind(**{f.name: parse(hints[f.name], value[k], f"{where}.{k}") for k, f in declared.items() if k in value})


@functools.cache
def _hints(kind) -> dict:
    return typing.get_type_hints(kind)


def _parse_key(kind, key: str, where: str):
    if kind is int:
        if not re.fullmatch(r"-?\d+", str(key)):
            raise ContractError(f"{where}: key {key!r} is not an integer")
        return int(key)
    return key


def _name(kind) -> str:
    return getattr(kind, "__name__", None) or str(kind).replace("typing.", "")


def _got(value) -> str:
    return f"{value!r:.60} ({type(value).__name__})"


# ----------------------------------------------------------------------------- shared pieces

@dataclass(frozen=True)
class Described:
    """One group's ``stats.describe`` summary (values of the runs that reached; the rest censored)."""

    name: str | None
    n_total: int
    n_reached: int
    censored: list[Label]
    n: int
    mean: Num
    sd: Num
    sem: Num
    df: Num
    confidence: float
    ci_low: Num
    ci_high: Num
    boot_low: Num
    boot_high: Num
    cv: Num
    median: Num
    min: Num
    max: Num
    note: str


def typed(kind, value):
    """``value`` (plain data, numpy values, dataclasses) as ``kind``, as it will be saved and loaded."""
    return parse(kind, plain(value), getattr(kind, "__name__", "value"))


def described(summary) -> Described:
    """A ``stats.describe`` summary (``stats.Summary`` or its ``as_dict``) as saved: ``Described``."""
    return typed(Described, summary)


# ----------------------------------------------------------------------------- 01-sources

@dataclass(frozen=True)
class Numbers:
    """A chapter's saved numbers: ``CHAPTER`` names the chapter (and its results file)."""

    CHAPTER: ClassVar[str] = ""


@dataclass(frozen=True)
class Sources(Numbers):
    """01-sources: the source runs on addition and their memorized and fixed-epoch snapshots."""

    CHAPTER: ClassVar[str] = "01-sources"
    n_seeds: int
    n_grokked: int
    grok_epochs: Described
    memorized_epoch: Described
    memorized_test_acc: Described
    fixed_test_acc: Described
    fixed_epoch: int
    table: Table


# ----------------------------------------------------------------------------- 02-transfer

@dataclass(frozen=True)
class MeanReached:
    """A mean over the runs that reached the threshold, the original study's statistic."""

    mean: Num
    sd_ddof0: Num
    n_reached: int
    seeds: list[int]
    never: list[int]


@dataclass(frozen=True)
class MedianToCap:
    """A Kaplan-Meier median of epochs with runs that never got there censored at the cap."""

    median: Num
    ci_low: Num
    ci_high: Num
    n: int
    n_censored: int
    cap: float
    never: list[int]
    restricted_mean: Num  # the mean with runs that never got there counted at the cap (a lower bound then)


@dataclass(frozen=True)
class ConditionComparison:
    """One of our conditions beside its counterpart in the original run."""

    original_condition: str
    original_epochs: dict[int, Num]
    original_cap: float
    original_mean: MeanReached
    original_median: MedianToCap
    ours_epochs: dict[int, Num]
    ours_final_test_acc: dict[int, Num]
    ours_median: MedianToCap
    ours_mean_reached: MeanReached


@dataclass(frozen=True)
class Jump:
    """Seed 42's largest single-epoch jump of test accuracy in the original run."""

    epoch: int
    size: float
    epochs_to_threshold: Num


@dataclass(frozen=True)
class RetentionSplit:
    """The original study's split: its test pairs and those with b = 0."""

    split_seed: int
    train_pairs: int
    test_pairs: int
    b0_train_pairs: int
    b0_test_pairs: int
    b0_test_share: float


@dataclass(frozen=True)
class OriginalComparison:
    """This rerun beside the original run's saved outputs (``original.comparison_numbers``)."""

    threshold: float
    original_seeds: list[int]
    original_reported_mean_seeds: list[int]
    original_eval_every: int
    cap_ours: float
    conditions: dict[str, ConditionComparison]
    seed42_largest_jumps: dict[str, Jump]
    document_headline_epochs: list[int]
    retention_split: RetentionSplit


@dataclass(frozen=True)
class Transfer(Numbers):
    """02-transfer: the transfer runs (``table``), epochs to each threshold per condition."""

    CHAPTER: ClassVar[str] = "02-transfer"
    n_runs: int
    cap: int
    epochs: dict[str, dict[str, dict[str, Described]]]   # kind ("first", "sustained") -> pct(threshold) -> condition
    acc_at_100: dict[str, Described]
    final_test_acc: dict[str, Described]
    table: Table
    original_comparison: OriginalComparison

    def epochs_to(self, kind: str, threshold: float, condition: str) -> Described:
        """Epochs to a threshold (kind: ``FIRST`` or ``SUSTAINED``) of one condition."""
        return self.epochs[kind][pct(threshold)][condition]


# ----------------------------------------------------------------------------- 03-retention

@dataclass(frozen=True)
class OneSampleTest:
    """A one-sample t-test of one condition's values against a reference."""

    tested_values: str = named("tested values")
    reference: float = named("reference")
    mean: Num = named("mean")
    t: Num = named("t")
    df: Num = named("df")
    p: Num = named("p")
    n: int = named("n")
    ci_low: Num = named("ci_low")
    ci_high: Num = named("ci_high")
    note: str = named("note")


@dataclass(frozen=True)
class RetentionTests:
    """A condition's source-task accuracy against chance 1/p and against a perfect transfer model."""

    vs_chance: OneSampleTest
    vs_perfect_transfer: OneSampleTest


@dataclass(frozen=True)
class SourceScores:
    """The source models (the transfers' starting points) on both tasks, per model kind."""

    source_test_acc: dict[str, Described]
    source_all_acc: dict[str, Described]
    transfer_test_acc: dict[str, Described]


@dataclass(frozen=True)
class Retention(Numbers):
    """03-retention: the transferred models on the source task (addition). ``source`` is the
    source task, ``transfer`` the transfer task (the profile's ``source_task``, ``transfer_task``)."""

    CHAPTER: ClassVar[str] = "03-retention"
    p: int
    chance: float
    n_models: int
    n_test: dict[int, int]
    n_coincident_test: dict[int, int]
    perfect_transfer_score_test: dict[int, float]          # a perfect transfer model's source-task score, per seed
    perfect_transfer_score_test_summary: Described
    perfect_transfer_score_all: float
    source_test_acc: dict[str, Described]
    source_all_acc: dict[str, Described]
    transfer_test_acc: dict[str, Described]
    transfer_all_acc: dict[str, Described]
    source_acc_where_targets_differ: dict[str, Described]
    source_excess_over_perfect_transfer: dict[str, Described]
    n_source_correct_where_targets_differ: dict[str, Described]
    n_source_correct_where_targets_coincide: dict[str, Described]
    n_perfect_transfer: dict[str, int]
    n_source_score_equals_perfect_transfer: dict[str, int]
    tests: dict[str, RetentionTests]
    sources: SourceScores | None
    table: Table


# ----------------------------------------------------------------------------- 04-agreement

@dataclass(frozen=True)
class Agreement(Numbers):
    """04-agreement: prediction agreement per pair of conditions (keys: ``pair_name``)."""

    CHAPTER: ClassVar[str] = "04-agreement"
    pairs: list[str]
    n_seeds: int
    agreement_test: dict[str, Described | None]
    agreement_all: dict[str, Described | None]
    agreement_among_transfer_errors_test: dict[str, Described | None]
    agreement_among_source_errors_test: dict[str, Described | None]
    n_transfer_errors_test: dict[str, Described | None]
    n_source_errors_test: dict[str, Described | None]
    chance_agreement_test: dict[str, Described | None]
    n_identical_test: dict[str, int]
    matrix_test: dict[str, dict[str, Num]]
    matrix_all: dict[str, dict[str, Num]]
    table: Table


# ----------------------------------------------------------------------------- 05-circuits

@dataclass(frozen=True)
class GroupComparison:
    """Two groups compared (``stats.compare_groups``): a t-test, a rank test, Holm, Hedges' g."""

    group_a: str
    group_b: str
    n_a: int
    n_b: int
    censored_a: list[Label]
    censored_b: list[Label]
    mean_a: Num
    mean_b: Num
    mean_diff: Num
    t_test: str
    t: Num
    df: Num
    p_t: Num
    rank_test: str
    rank_stat: Num
    p_rank: Num
    effect_size: Num
    effect_size_kind: str
    note: str
    p_t_holm: Num
    p_rank_holm: Num


@dataclass(frozen=True)
class CircuitMethod:
    """One circuit method's metrics per model kind over seeds (``circuits.METRIC_KEYS``), the top
    and key frequencies of every model, and the mean fraction explained compared between conditions."""

    alive: dict[str, Described]
    dead: dict[str, Described]
    distinct_freqs: dict[str, Described]
    distinct_freqs_min_count: dict[str, Described]
    mean_frac: dict[str, Described]
    n_gt_0_5: dict[str, Described]
    share_gt_0_5: dict[str, Described]
    n_shared_with_source: dict[str, Described]
    n_union_with_source: dict[str, Described]
    jaccard_with_source: dict[str, Described]
    weighted_overlap_with_source: dict[str, Described]
    top_freq: dict[str, dict[int, int | None]]
    key_freqs: dict[str, dict[int, list[int]]]
    mean_frac_tests: list[GroupComparison]


@dataclass(frozen=True)
class WeightChange:
    """Mean change of each parameter matrix during transfer (relative: None where W0 = 0)."""

    relative: dict[str, Num]
    norm: dict[str, Num]
    largest_relative: str
    largest_norm: str


@dataclass(frozen=True)
class SeedReuse:
    """One seed's key frequencies shared with its own grokked source, against the hypergeometric null."""

    seed: int = named("seed")
    size: int = named("size")
    reference_size: int = named("reference size")
    shared: int = named("shared")
    expected: float = named("expected")
    p: float = named("p")


@dataclass(frozen=True)
class ReuseSummary:
    """The reuse of one model kind in one readable row."""

    model: str = named("model")
    reference: str = named("reference")
    seeds: int = named("seeds")
    key_freqs: int = named("key freqs")
    shared: int = named("shared")
    expected_shared: float = named("expected shared")
    p: float = named("p")


@dataclass(frozen=True)
class SeedMatching:
    """Whether a model's key frequencies are closer to its own seed's source than to other seeds'."""

    model: str
    reference: str
    seeds: list[int]
    shared: list[list[int]]
    observed: int
    n_seeds: int
    n_permutations: int
    p: float
    min_p: float
    own_mean: float
    cross_mean: float


@dataclass(frozen=True)
class FrequencyReuse:
    """A model kind's key frequencies shared with its own seed's grokked source, over seeds."""

    model: str
    reference: str
    n_candidates: int
    seeds: list[SeedReuse]
    observed: int
    expected: float
    p: float
    summary: ReuseSummary
    seed_matching: SeedMatching | None

    @property
    def total(self) -> int:
        """Key frequencies of the model, summed over seeds."""
        return sum(s.size for s in self.seeds)

    @property
    def reference_total(self) -> int:
        """Key frequencies of the grokked sources, summed over the same seeds."""
        return sum(s.reference_size for s in self.seeds)


@dataclass(frozen=True)
class AttentionSummary:
    """Heads of one model kind over its seeds that attend from "=" to a single position."""

    seeds: int
    heads: int
    on_a: int
    on_b: int
    on_equals: int
    spread: int
    mean_a: float
    mean_b: float
    mean_equals: float
    on_one_operand: int
    on_one_operand_every_input: int   # heads with >= the threshold on a or b for every single input
    smallest_min_weight: float        # over heads: the smallest weight on the head's own position over inputs
    sd_a_lowest: float                # over heads: the per-input sd of the weight on a (lowest, highest)
    sd_a_highest: float


@dataclass(frozen=True)
class Circuits(Numbers):
    """05-circuits: both circuit methods, frequency reuse, weight change and attention."""

    CHAPTER: ClassVar[str] = "05-circuits"
    p: int
    min_neuron_count: int
    d_mlp: int
    d_model: int
    neuron: CircuitMethod
    document: CircuitMethod
    weight_change: dict[str, WeightChange]
    frequency_reuse: dict[str, FrequencyReuse]
    attention: dict[str, dict[int, dict[int, dict[str, float]]]]   # model -> seed -> head -> position -> weight
    attention_focus_threshold: float
    attention_summary: dict[str, AttentionSummary]
    neuron_table: Table
    document_table: Table


# ----------------------------------------------------------------------------- 06-statistics

@dataclass(frozen=True)
class SeedSummary:
    """``multiseed.summary``: a ``Described`` with the method of its interval."""

    n_total: int
    n_reached: int
    censored: list[Label]
    n: int
    mean: Num
    sd: Num
    sem: Num
    df: Num
    confidence: float
    ci_low: Num
    ci_high: Num
    ci_method: str
    boot_low: Num
    boot_high: Num
    cv: Num
    median: Num
    min: Num
    max: Num
    note: str


@dataclass(frozen=True)
class TimeToThreshold:
    """Epochs to a threshold with censored runs: Kaplan-Meier median, restricted mean, geometric mean."""

    runs: int = named("runs")
    reached: int = named("reached")
    median: Num = named("median")
    median_low: Num = named("median low")
    median_high: Num = named("median high")
    restricted_mean: Num = named("restricted mean")
    restricted_mean_low: Num = named("restricted mean low")
    restricted_mean_high: Num = named("restricted mean high")
    mean_is_a_lower_bound: bool = named("mean is a lower bound")
    geometric_mean_reached: Num = named("geometric mean (reached)")
    note: str = named("note")


@dataclass(frozen=True)
class FamilyTest:
    """One test of the paper's family (``inference.family``), with Holm over the whole family."""

    test: str
    group: str
    quantity: str
    a: str
    b: str | None
    effect: str
    estimate: Num
    ci_low: Num
    ci_high: Num
    n: int
    null: Num
    bound: str | None
    p: Num
    p_rank: Num
    note: str
    method: str
    p_welch_log: Num
    p_welch: Num
    p_holm: Num
    confidence: float
    p_welch_log_holm: Num
    p_welch_holm: Num
    data: str   # digest of the values the test compares (``inference.data_digest``): one test per question


@dataclass(frozen=True)
class NonConverged:
    """A run that never reached the highest threshold on its own task within the cap."""

    condition: str
    seed: int
    why: str


@dataclass(frozen=True)
class Normality:
    """Shapiro-Wilk of one quantity and condition."""

    W: Num
    p: Num
    n: int
    n_total: int
    note: str


@dataclass(frozen=True)
class Outliers:
    """z-score outliers of one quantity and scope."""

    n: int = named("n")
    max_abs_z: Num = named("max |z|")
    largest_possible_abs_z: Num = named("largest possible |z|")
    can_flag: bool = named("can flag")
    flagged: list[str] = named("flagged")
    threshold: float = named("threshold")


@dataclass(frozen=True)
class CensoredCount:
    """Runs of one quantity and condition that never reached (censored), with their seeds."""

    censored: int
    of: int
    seeds: str


@dataclass(frozen=True)
class Statistics(Numbers):
    """06-statistics: the family of tests, time to threshold and the seed summaries. Nested keys
    of ``summary``, ``time_to_threshold``, ``normality``, ``outliers``, ``censored``: ``metric_key``
    of the quantity, then of the condition (or scope)."""

    CHAPTER: ClassVar[str] = "06-statistics"
    n_seeds: int
    n_runs: int
    cap: int
    confidence: float
    conditions: list[str]
    summary: dict[str, dict[str, SeedSummary]]
    time_to_threshold: dict[str, dict[str, TimeToThreshold]]
    family: dict[str, FamilyTest]
    family_size: int
    family_parts: dict[str, int]
    family_without_nonconverged: dict[str, FamilyTest]
    secondary: dict[str, FamilyTest]   # outside the family's correction (``inference.secondary``): p_holm None
    nonconverged: list[NonConverged]
    speedups: dict[str, FamilyTest]   # keys: speedup_key
    normality: dict[str, dict[str, Normality]]
    outliers: dict[str, dict[str, Outliers]]
    max_abs_z_bound: dict[int, float]
    censored: dict[str, dict[str, CensoredCount]]

    def test(self, quantity: str, a: str, b: str | None = None, without_nonconverged: bool = False,
             secondary: bool = False) -> FamilyTest:
        """One test of the family (or with ``secondary``, of the results outside it) by its parts
        (``family_test_id``); KeyError naming the tests of that quantity when it is not there."""
        family = (self.secondary if secondary else
                  self.family_without_nonconverged if without_nonconverged else self.family)
        test = family_test_id(quantity, a, b)
        if test not in family:
            near = sorted(t for t, row in family.items() if row.quantity == quantity)
            raise KeyError(f"no test {test!r} in the family (of {quantity!r}: {near or 'none'})")
        return family[test]

    def has_test(self, quantity: str, a: str, b: str | None = None) -> bool:
        return family_test_id(quantity, a, b) in self.family


# ----------------------------------------------------------------------------- 07-dynamics

@dataclass(frozen=True)
class DynamicsSummary:
    """One condition's learning dynamics over its runs (``dynamics.condition_summary``)."""

    largest_jump: Described = named("largest jump")
    largest_jump_at: Described = named("largest jump at")
    early_gain: Described = named("early gain")
    late_gain: Described = named("late gain")
    collapses: Described = named("collapses")
    jump_into_threshold: Described = named("jump into threshold")
    runs_with_a_collapse: int = named("runs with a collapse")
    n_runs: int = named("n runs")


@dataclass(frozen=True)
class Dynamics(Numbers):
    """07-dynamics: jumps, collapses and gains of the transfer runs' test accuracy."""

    CHAPTER: ClassVar[str] = "07-dynamics"
    n_runs: int
    threshold: float
    early_epochs: int
    late_epochs: int
    collapse_drop: float
    by_condition: dict[str, DynamicsSummary]
    total_collapses: int
    table: Table


# ----------------------------------------------------------------------------- 08-audit

@dataclass(frozen=True)
class CheckRow:
    """One number of a claim: as printed, what the rerun gives, and its verdict."""

    printed: str
    kind: str
    verdict: str
    reason: str
    value: Num
    ci_low: Num
    ci_high: Num
    bound: str | None
    reproduced: str
    tolerance: Num          # how far from the claimed value the data may be and still hold it
    tolerance_basis: str    # "printed precision", or the practical margin of the quantity's kind
    seeds: list[int] | None  # the seeds the check is about (None: every seed)


@dataclass(frozen=True)
class AuditRow:
    """One claim of the design document, judged (``audit.evaluate``)."""

    id: str
    claim: str
    section: str
    paper_section: str
    also_in: list[str]
    replaces: list[str]
    provenance: str
    checks: list[CheckRow]
    data_verdict: str
    inconsistency: str | None
    verdict: str
    reason: str
    without_nonconverged: str
    depends_on: list[str]


@dataclass(frozen=True)
class VerdictCounts:
    """Claims per verdict category (``verdicts.CATEGORIES``; ``of`` reads one by its name)."""

    supported: int = named("supported")
    contradicted: int = named("contradicted by the data")
    not_established: int = named("not established")
    consistent: int = named("consistent, not confirmed")
    inconsistent: int = named("inconsistent within the document")
    definitional: int = named("definitional")
    not_testable: int = named("not testable")
    total: int = named("total")
    depend_on_nonconverged: int = named("depend on a non-converged run")
    inconsistent_by_data: dict[str, int] = named("inconsistent, by what the data say")

    def of(self, category: str) -> int:
        """Claims of one category, by its name ("contradicted by the data")."""
        name = field_of(VerdictCounts, category)
        if name == "inconsistent_by_data":
            raise KeyError(f"no verdict category {category!r}")
        return getattr(self, name)


@dataclass(frozen=True)
class Audit(Numbers):
    """08-audit: every claim of the design document with its verdict, and the counts."""

    CHAPTER: ClassVar[str] = "08-audit"
    profile: str
    p: int
    n_seeds: int
    counts: VerdictCounts
    central: list[str]
    claims: dict[str, AuditRow]
    confidence: float
    margins: dict[str, str]  # unit of a quantity -> its practical margin, in words


# ----------------------------------------------------------------------------- 09-runs

@dataclass(frozen=True)
class Provenance:
    """The code that executed a chapter."""

    package: str = named("package")
    git_commit: str = named("git commit")
    python: str = named("python")
    torch: str = named("torch")
    machine: str = named("machine")


@dataclass(frozen=True)
class Runs(Numbers):
    """09-runs: every training run's record."""

    CHAPTER: ClassVar[str] = "09-runs"
    n_runs: int
    total_epochs: int
    devices: list[str]
    provenance: Provenance
    table: Table


# ----------------------------------------------------------------------------- 10-inside-transfer

@dataclass(frozen=True)
class Forgetting:
    """One condition's addition during its transfer probe runs (``inside.forgetting_summary``):
    from the outputs (addition test accuracy) and inside (the refitted linear readout's R^2 of
    cos/sin of the source's key frequencies from the residual stream after the MLP), at the start,
    at the matched point (first evaluation at the top threshold; runs that never got there are
    censored) and at the run's end. Half epochs: the first probe epoch below half the start value
    (never: censored at the run's end); None for a condition that starts with no addition to forget."""

    n_runs: int
    addition_acc_start: Described
    addition_acc_matched: Described
    addition_acc_end: Described
    addition_acc_half_epoch: Described | None
    readout_start: Described
    readout_matched: Described
    readout_end: Described
    readout_frozen_end: Described       # the fit of the run's first probe, kept: how far the representation moved
    readout_half_epoch: Described | None
    readout_half_undefined: int         # runs whose start R^2 was <= 0: nothing to halve, left out


@dataclass(frozen=True)
class SourcePhases:
    """Nanda et al.'s three phases on the source runs, from their curves (``inside.source_phases``):
    memorization ends at the test loss's peak before the first evaluation at the top threshold,
    cleanup starts at the first epoch after it with the test loss at or below half the peak, and
    ends at the first evaluation at the top threshold; circuit formation lies in between. Phases
    of the memorized (first 100 % train accuracy) and fixed-epoch snapshots: {phase: seeds}."""

    train_100_epoch: Described
    memorization_end: Described
    cleanup_start: Described
    cleanup_end: Described
    circuit_formation_epochs: Described
    cleanup_epochs: Described
    excluded_loss_peak: Described       # probe epoch of the largest excluded loss (addition, source frequencies)
    memorized_phase: dict[str, int]
    fixed_phase: dict[str, int]
    fixed_epoch: int
    table: Table


@dataclass(frozen=True)
class AttentionOverTime:
    """One condition's heads (over its seeds), focused on one operand (mean weight from "=" on a or
    on b at least the focus threshold) at the run's first and last probe, and how that changed."""

    heads: int
    focused_start: int
    focused_end: int
    kept: int          # focused on the same operand at both ends
    switched: int      # focused on a at the start and on b at the end, or the other way round
    gained: int        # not focused at the start, focused at the end
    lost: int          # focused at the start, not at the end
    max_operand_start: Described   # per run: mean over heads of the larger of the weights on a and on b
    max_operand_end: Described
    operand_sd_end: Described      # per run: mean over heads of the per-input sd of that weight, at the end


@dataclass(frozen=True)
class Movement:
    """One condition's per-matrix movement (``inside.movement_summary``): the distance from the
    initial weights relative to their norm at the run's end, and the probe epoch at which the
    matrix moved most per epoch relative to that norm (matrices initialised at zero left out)."""

    relative_end: dict[str, Described]
    largest_end: str                      # the matrix with the largest median relative distance at the end
    peak_rate_epoch: dict[str, Described]
    earliest_peak: str                    # the matrix whose peak comes first (median epoch; ties: the larger rate)


@dataclass(frozen=True)
class MatchedCircuits:
    """One condition's circuits (neuron method, key frequencies held by >= ``min_neurons``
    neurons) at the start (the initial weights), at the matched point (the probe run's snapshot at
    its first evaluation at the top threshold) and at the end (the committed run's final weights)."""

    n_runs: int
    n_matched: int
    matched_epoch: Described
    key_freqs: dict[str, dict[int, list[int]]]    # point -> seed -> key frequencies
    n_key_freqs: dict[str, Described]             # point -> over runs
    share_on_source: dict[str, Described]         # point -> share of alive neurons whose best frequency is a source key frequency
    mean_frac: dict[str, Described]               # point -> mean fraction explained (the document's "specialization")
    jaccard_matched_end: Described


@dataclass(frozen=True)
class Inside(Numbers):
    """10-inside-transfer: the probe reruns of the sources and transfers, measured along the way."""

    CHAPTER: ClassVar[str] = "10-inside-transfer"
    n_seeds: int
    conditions: list[str]
    top_threshold: float
    focus_threshold: float
    min_neurons: int
    runs: Table
    forgetting: dict[str, Forgetting]
    forgetting_table: Table
    phases: SourcePhases
    attention: dict[str, AttentionOverTime]   # "source" and each condition
    movement: dict[str, Movement]             # "source" and each condition
    circuits: dict[str, MatchedCircuits]
    circuits_table: Table
    extended_runs: Table    # the runs censored at the cap, carried on (``inside.extended_runs_table``)
    extension: Table        # chapter 06's speed-up test at the cap and with them (``inside.extension_tests``)
    rerun_check: Table      # each probe rerun's curve against its committed run's (``Study.rerun_check``)


# ----------------------------------------------------------------------------- 11-relearning

@dataclass(frozen=True)
class RelearnTest:
    """A paired-by-seed comparison of epochs to a threshold (``relearning.paired_test``): the
    geometric mean of the per-seed ratios a / b with its t-interval, the paired t-test on the log
    ratios and the Wilcoxon signed-rank test, each p uncorrected and outside chapter 06's family."""

    test: str
    question: str
    a: str
    b: str
    threshold: float
    n_pairs: int
    ratio: Num
    ci_low: Num
    ci_high: Num
    confidence: float
    bound: str | None
    t: Num
    df: Num
    p: Num
    p_wilcoxon: Num
    note: str


@dataclass(frozen=True)
class RelearnCorrelation:
    """Spearman's rho over all relearning runs of the addition readout left inside (R^2 at the
    start of relearning) against epochs to the primary threshold (censored runs ranked at the cap)."""

    rho: Num
    ci_low: Num
    ci_high: Num
    p: Num
    n: int
    censored: list[str]
    note: str


@dataclass(frozen=True)
class Relearning(Numbers):
    """11-relearning: each transferred model trained back on the source task, against the
    source's first learning of it (which is also learning it from random init). Keys of
    ``epochs``: ``pct(threshold)``, then a condition or ``FIRST_LEARNING``; of ``tests``:
    ``relearning_test_id``."""

    CHAPTER: ClassVar[str] = "11-relearning"
    n_seeds: int
    conditions: list[str]
    cap: int
    source_cap: int
    thresholds: list[float]
    primary_threshold: float
    start_acc: dict[str, Described]
    start_readout: dict[str, Described]
    final_acc: dict[str, Described]
    epochs: dict[str, dict[str, TimeToThreshold]]
    tests: dict[str, RelearnTest]
    correlation: RelearnCorrelation
    p_note: str
    reference_note: str
    table: Table

    def time(self, threshold: float, who: str) -> TimeToThreshold:
        """Epochs to a threshold of one condition's relearning (or ``FIRST_LEARNING``)."""
        return self.epochs[pct(threshold)][who]

    def test(self, threshold: float, a: str, b: str) -> RelearnTest:
        """One comparison by its parts (``relearning_test_id``); KeyError naming the tests there are."""
        key = relearning_test_id(threshold, a, b)
        if key not in self.tests:
            raise KeyError(f"no relearning test {key!r}; tests: {sorted(self.tests)}")
        return self.tests[key]


FIRST_LEARNING = "first learning"  # the source run's own first learning of the source task (from random init)


# ----------------------------------------------------------------------------- 12-what-transfers

@dataclass(frozen=True)
class SpeedUp:
    """One condition's epochs to the top threshold against the reference's (random init), paired by
    seed: ``stats.paired_log_ratio`` of reference / condition, with the per-seed ratios ("bound":
    ">=" where the reference's run never got there by the cap, so the speed-up is at least that;
    "<=" where the condition's run did not)."""

    condition: str
    reference: str
    n_pairs: int
    geometric_mean: Num
    ci_low: Num
    ci_high: Num
    t: Num
    df: Num
    p: Num
    p_wilcoxon: Num
    bound: str | None
    note: str
    per_seed: dict[int, Num]
    per_seed_bound: dict[int, str | None]


@dataclass(frozen=True)
class AblationEffect:
    """Key-frequency ablation of one place (embedding or neurons) over the seeds of one condition at
    one point: medians over models of the intact, key-ablated and random-draw (each model's median)
    loss and accuracy, and how many models' key ablation hurt more than every random draw."""

    n_models: int
    intact_loss: Num
    key_loss: Num
    random_loss: Num
    intact_accuracy: Num
    key_accuracy: Num
    random_accuracy: Num
    n_beyond_every_draw: int
    max_p: Num  # the largest p over the models ((1 + draws at least as bad) / (1 + draws))


@dataclass(frozen=True)
class SignFlip:
    """The sign-flip statistic (``analysis.ablation``) over the seeds of one condition at one point:
    means over models (each the mean over the key frequencies) of the cosine similarities of the cos
    and sin columns, the share of frequencies whose 2 x 2 map is a reflection, its fit, and the phase
    coherences (one common shift: ``same``; a reflection and a common shift: ``flipped``) and the
    mean phase gap in degrees (``gap``), for
    operand b against operand a within the model (``within_*``) and for each operand against the
    grokked source's (``source_a_*``, ``source_b_*``; None for the source itself); and the models
    whose every head reads one operand and whose heads read both."""

    n_models: int
    within_cos: Num
    within_sin: Num
    within_reflected: Num
    within_fit: Num
    within_same: Num
    within_flipped: Num
    within_gap: Num
    source_a_cos: Num
    source_a_sin: Num
    source_a_reflected: Num
    source_a_fit: Num
    source_a_same: Num
    source_a_flipped: Num
    source_a_gap: Num
    source_b_cos: Num
    source_b_sin: Num
    source_b_reflected: Num
    source_b_fit: Num
    source_b_same: Num
    source_b_flipped: Num
    source_b_gap: Num
    n_every_head_one_operand: int
    n_both_operands_read: int


@dataclass(frozen=True)
class HeadImportance:
    """Mean-ablation of each head over the seeds of one condition at one point: the median over
    models of the intact loss and of the largest and smallest loss increase of a head."""

    n_models: int
    intact_loss: Num
    top_increase: Num
    least_increase: Num


@dataclass(frozen=True)
class WhatTransfers(Numbers):
    """12-what-transfers: controls and transplants against random init, and the causal tests."""

    CHAPTER: ClassVar[str] = "12-what-transfers"
    p: int
    n_seeds: int
    cap: int
    confidence: float
    top_threshold: float
    reference: str
    controls: list[str]
    ablation_draws: int
    key_freq_min_neurons: int
    attention_focus_threshold: float
    key_freqs: dict[int, list[int]]
    speedups: dict[str, SpeedUp]
    ablation: dict[str, dict[str, dict[str, AblationEffect]]]   # condition -> point -> where
    sign_flip: dict[str, dict[str, SignFlip]]                   # condition -> point
    heads: dict[str, dict[str, HeadImportance]]                 # condition -> point
    epochs_table: Table
    ablation_table: Table
    sign_flip_table: Table
    head_table: Table


# ----------------------------------------------------------------------------- 13-16: task tokens


@dataclass(frozen=True)
class PairedDifference:
    """Per seed a - b, their mean with its t-interval and the paired t-test's p (``task_tokens.paired_difference``)."""

    what: str
    n_pairs: int
    mean: Num
    ci_low: Num
    ci_high: Num
    p: Num
    confidence: float
    per_seed: dict[int, Num]


@dataclass(frozen=True)
class HypothesisVerdict:
    """One of the design document's future-work hypotheses, with its one test and verdict
    (``task_tokens.hypothesis_verdict`` / ``trend_verdict``)."""

    hypothesis: str
    effect: str
    estimate: Num
    ci_low: Num
    ci_high: Num
    p: Num
    p_note: str
    n: int
    verdict: str
    reason: str


@dataclass(frozen=True)
class TaskRetention:
    """A watched task's test accuracy over a group of runs (``task_tokens.retention``)."""

    task: str
    n_runs: int
    start_mean: Num
    at_top_mean: Num
    end_mean: Num
    end_ci_low: Num
    end_ci_high: Num
    end_min: Num
    end_max: Num
    lowest_min: Num
    readout_end_mean: Num
    per_seed_end: dict[int, Num]
    answered: dict[int, int]     # per seed: the source's test pairs of the task it answered correctly
    kept: dict[int, Num]         # per seed: the share of those the run still answers at its end
    kept_mean: Num


@dataclass(frozen=True)
class FrequencySharing:
    """Two frequency sets per seed, what they share, and the chance of sharing that much (``task_tokens.frequency_sharing``)."""

    what: str
    n_seeds: int
    n_candidates: int
    sets: dict[int, list[list[int]]]
    shared: dict[int, int]
    jaccard: dict[int, Num]
    total_shared: int
    expected_by_chance: Num
    p_null: Num


@dataclass(frozen=True)
class NeuronUseOverlap:
    """Per seed, the overlap of the MLP neurons one model uses for its two tasks, or two models for
    one task (``task_tokens.neuron_use_overlaps``, ``analysis.neuron_use``): the weighted Jaccard
    index of the two use vectors, its relabelling null's mean and the share of draws at or above it,
    the overlap rescaled to 0 at chance, and each side's end accuracy and share dropped by the clamp."""

    what: str
    n_draws: int
    overlap: dict[int, Num]
    chance: dict[int, Num]
    p_null: dict[int, Num]
    corrected: dict[int, Num]
    accuracy: dict[int, list[Num]]        # the two sides' test accuracy at the end
    dropped_share: dict[int, list[Num]]   # the two sides' attribution left out by the clamp at 0


@dataclass(frozen=True)
class TaskFamilyTest:
    """One test of chapters 13-16, with Holm over their family (``task_tokens.task_family``): the
    new experiments are corrected among themselves, apart from the family of chapter 06."""

    test: str
    chapter: str
    effect: str
    estimate: Num
    ci_low: Num
    ci_high: Num
    n: int
    bound: str | None
    null: Num               # the effect under no effect (ratio 1, difference 0, Page's L by chance); None: none
    p: Num
    p_holm: Num
    p_holm_over_both: Num   # sensitivity: Holm over this family and chapter 06's at once


@dataclass(frozen=True)
class IllPosed:
    """Replay without a task token: the loss floor of its data against the training loss reached."""

    seed: int
    epochs: int
    n_examples: int
    n_inputs_with_two_labels: int
    loss_floor: float
    lowest_train_loss: float
    final_train_loss: float
    final_train_acc: float


@dataclass(frozen=True)
class TaskRunsCommon(Numbers):
    """What chapters 13-16 share: the setting of the runs with task tokens."""

    p: int
    n_seeds: int
    cap: int
    hold_epochs: int
    confidence: float
    top_threshold: float
    runs_table: Table


@dataclass(frozen=True)
class TaskTokens(TaskRunsCommon):
    """13-task-tokens: sequential transfer with a task token per task."""

    CHAPTER: ClassVar[str] = "13-task-tokens"
    speedups: dict[str, SpeedUp]              # condition -> over random init
    new_token_copy: SpeedUp | None            # the copied "=" column over a random one (grokked)
    retention: dict[str, TaskRetention]       # condition -> addition at its own token


@dataclass(frozen=True)
class Replay(TaskRunsCommon):
    """14-replay: subtraction with a share of addition examples, against without."""

    CHAPTER: ClassVar[str] = "14-replay"
    replay_share: float
    speed: dict[str, SpeedUp]                 # condition -> no replay's epochs over replay's
    retention: dict[str, TaskRetention]       # condition -> addition, with replay
    retention_gain: dict[str, PairedDifference]  # condition -> replay minus no replay, addition at the end
    hypothesis: HypothesisVerdict
    ill_posed: IllPosed | None


@dataclass(frozen=True)
class Multitask(TaskRunsCommon):
    """15-multitask: addition and subtraction together from random init, each with its token."""

    CHAPTER: ClassVar[str] = "15-multitask"
    together: SpeedUp | None                  # subtraction's epochs over addition's, per seed
    gap: PairedDifference                     # subtraction's minus addition's epochs to the top threshold
    sharing: dict[str, FrequencySharing]      # comparison -> key frequencies at the two tokens
    jaccard_difference: PairedDifference      # multi-task minus sequential, per seed (descriptive)
    neuron_use: dict[str, NeuronUseOverlap]   # comparison -> the neurons the two sides use
    use_difference: PairedDifference          # chance-corrected use overlap, multi-task minus sequential with replay
    hypothesis: HypothesisVerdict


@dataclass(frozen=True)
class Similarity(TaskRunsCommon):
    """16-similarity: the grokked source and random init to targets of decreasing similarity."""

    CHAPTER: ClassVar[str] = "16-similarity"
    targets: list[str]
    random_table_cap: int
    speedups: dict[str, SpeedUp]              # target -> grokked over random init
    memorising: SpeedUp | None                # the random table: train accuracy's epochs to the top threshold
    retention: dict[str, TaskRetention]       # target -> addition, grokked source
    reuse: dict[str, FrequencySharing]        # target -> final key frequencies vs the source's (grokked)
    reuse_random: dict[str, FrequencySharing]  # target -> the same for the random-init runs (a null)
    measures: Table
    bases: Table
    hypothesis: HypothesisVerdict
    task_family: dict[str, TaskFamilyTest]    # the tests of chapters 13-16, Holm within them
    future_audit: dict[str, AuditRow]         # the document's future-work hypotheses, judged on that family


CONTRACT: dict[str, type[Numbers]] = {cls.CHAPTER: cls for cls in (
    Sources, Transfer, Retention, Agreement, Circuits, Statistics, Dynamics, Audit, Runs, Inside, Relearning, WhatTransfers,
    TaskTokens, Replay, Multitask, Similarity)}
