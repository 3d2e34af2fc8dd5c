"""This rerun beside the original run: the original study's saved outputs (``original_run.yaml``,
data to compare with, never our results), loaded and validated, and the tables that set them
beside our transfer runs, with the protocol differences that can explain the gaps.

Conditions are matched by role: the original's grokked source (one shared checkpoint) with our
grokked; its memorized source (one shared 2,000-epoch model) with our memorized-fixed (each
seed's source at the fixed epoch) and, less closely, our memorized (each seed's first state with
100 % train accuracy); its random (unseeded) with our random. Seeds are not matched: the two
studies ran different seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from grokpaper.analysis.stats import is_missing
from grokpaper.analysis.survival import km_median, restricted_mean
from grokpaper.paper.contract import FIRST, epochs_column
from grokpaper.paper.report import fmt, significant

ORIGINAL_RUN_FILE = Path(__file__).with_name("original_run.yaml")
ORIGINAL_CONDITIONS = ("grokked", "memorized", "random")

# Our condition -> (the original condition it is compared with, how our starting point differs).
# Ordered as the comparison table's rows: each original condition, then its counterparts of ours.
COUNTERPARTS = {
    "grokked": ("grokked", "its own seed's grokked source"),
    "memorized-fixed": ("memorized", "its own seed's source at the fixed epoch (the closer match)"),
    "memorized": ("memorized", "its own seed's source at first 100 % train accuracy (a looser match)"),
    "random": ("random", "the initial weights of its own seed's source"),
}


@dataclass(frozen=True)
class OriginalRun:
    """The original study's saved outputs (``original_run.yaml``), validated."""

    source: str
    threshold: float
    seeds: tuple[int, ...]
    reported_mean_seeds: tuple[int, ...]
    protocol: dict
    runs: pd.DataFrame           # seed, condition, epochs to threshold (None: never), final test acc
    reported_means: dict         # {condition: {"mean", "sd"}} as it printed them (rounded)
    seed42_largest_jumps: dict   # {condition: {"epoch", "size"}}
    retention_split: dict        # its addition split's test / train pairs and those with b = 0

    def epochs(self, condition: str) -> dict[int, int | None]:
        """{seed: epochs to the threshold, None where the run never reached it} of one condition."""
        rows = self.runs[self.runs["condition"] == condition]
        return {int(s): None if is_missing(v) else int(v) for s, v in zip(rows["seed"], rows["epochs"])}

    def final_test_acc(self, condition: str) -> dict[int, float]:
        """{seed: final test accuracy} of one condition."""
        rows = self.runs[self.runs["condition"] == condition]
        return {int(s): float(a) for s, a in zip(rows["seed"], rows["final test acc"])}

    def cap(self, condition: str) -> int:
        """The epochs one transfer run of ``condition`` was trained for."""
        return self.protocol["transfer_epochs"][condition]


# ----------------------------------------------------------------------------- loading

def _mapping(value, field: str, keys=None) -> dict:
    """``value`` as a dict; with ``keys``, exactly those keys (one error naming what is off)."""
    if not isinstance(value, dict):
        raise ValueError(f"{field} must be a mapping, got {type(value).__name__}")
    if keys is not None:
        missing = [k for k in keys if k not in value]
        extra = [k for k in value if k not in keys]
        if missing or extra:
            raise ValueError(f"{field} must have exactly the keys {list(keys)}; missing {missing}, unexpected {extra}")
    return value


def _integer(value, field: str, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or (low is not None and value < low) \
            or (high is not None and value > high):
        bounds = f" in [{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
        raise ValueError(f"{field} must be an integer{bounds}, got {value!r}")
    return value


def _number(value, field: str, low: float, high: float, *, open_low: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value > high or value < low or (open_low and value == low):
        raise ValueError(f"{field} must be a number in {'(' if open_low else '['}{low:g}, {high:g}], got {value!r}")
    return float(value)


def _boolean(value, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{field} must be true or false, got {value!r}")
    return value


def _text(value, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field} must be a non-empty string, got {value!r}")
    return value


def _seeds(value, field: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"{field} must be a non-empty list of integer seeds, got {value!r}")
    seeds = tuple(_integer(s, f"{field}[{i}]") for i, s in enumerate(value))
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"{field} lists a seed twice: {list(seeds)}")
    return seeds


def _protocol(raw) -> dict:
    protocol = _mapping(raw, "protocol", ("grokked_source", "memorized_source", "transfer_epochs", "eval_every",
                                          "random_init_seeded", "never_reached", "notes"))
    for name in ("grokked_source", "memorized_source"):
        source = _mapping(protocol[name], f"protocol.{name}", ("weight_decay", "epochs", "split_seed",
                                                              "shared_across_seeds"))
        _number(source["weight_decay"], f"protocol.{name}.weight_decay", 0.0, math.inf)
        _integer(source["epochs"], f"protocol.{name}.epochs", 1)
        _integer(source["split_seed"], f"protocol.{name}.split_seed")
        _boolean(source["shared_across_seeds"], f"protocol.{name}.shared_across_seeds")
    caps = _mapping(protocol["transfer_epochs"], "protocol.transfer_epochs", ORIGINAL_CONDITIONS)
    for c in ORIGINAL_CONDITIONS:
        _integer(caps[c], f"protocol.transfer_epochs.{c}", 1)
    _integer(protocol["eval_every"], "protocol.eval_every", 1)
    _boolean(protocol["random_init_seeded"], "protocol.random_init_seeded")
    if protocol["never_reached"] not in ("dropped", "censored"):
        raise ValueError(f"protocol.never_reached must be 'dropped' or 'censored', got {protocol['never_reached']!r}")
    if not isinstance(protocol["notes"], list):
        raise ValueError(f"protocol.notes must be a list of short statements, got {protocol['notes']!r}")
    for i, note in enumerate(protocol["notes"]):
        _text(note, f"protocol.notes[{i}]")
    return protocol


def load_original_run(path: str | Path = ORIGINAL_RUN_FILE) -> OriginalRun:
    """The original study's saved outputs from ``original_run.yaml``, validated: every seed and
    condition present, epochs whole and within the run's cap (null: never), accuracies in [0, 1]."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ValueError(f"{path.name} is not valid YAML: {error}") from None
    try:
        return _parse(raw)
    except ValueError as error:
        raise ValueError(f"{path.name}: {error}") from None


def _parse(raw) -> OriginalRun:
    top = _mapping(raw, "the file", ("source", "threshold", "seeds", "reported_mean_seeds", "protocol", "runs",
                                     "reported_means", "seed42_largest_jumps", "retention_split"))
    source = _text(top["source"], "source")
    threshold = _number(top["threshold"], "threshold", 0.0, 1.0, open_low=True)
    seeds = _seeds(top["seeds"], "seeds")
    mean_seeds = _seeds(top["reported_mean_seeds"], "reported_mean_seeds")
    if not set(mean_seeds) <= set(seeds):
        raise ValueError(f"reported_mean_seeds {list(mean_seeds)} must be among seeds {list(seeds)}")
    protocol = _protocol(top["protocol"])
    caps = protocol["transfer_epochs"]

    rows = []
    runs = _mapping(top["runs"], "runs", ORIGINAL_CONDITIONS)
    for c in ORIGINAL_CONDITIONS:
        by_seed = _mapping(runs[c], f"runs.{c}", seeds)
        for seed in seeds:
            field = f"runs.{c}.{seed}"
            run = _mapping(by_seed[seed], field, ("epochs_to_threshold", "final_test_acc"))
            epochs = run["epochs_to_threshold"]
            if epochs is not None:
                _integer(epochs, f"{field}.epochs_to_threshold (null: never)", 1, caps[c])
            acc = _number(run["final_test_acc"], f"{field}.final_test_acc", 0.0, 1.0)
            rows.append({"seed": seed, "condition": c, "epochs": epochs, "final test acc": acc})
    table = pd.DataFrame(rows)

    means = _mapping(top["reported_means"], "reported_means", ORIGINAL_CONDITIONS)
    for c in ORIGINAL_CONDITIONS:
        m = _mapping(means[c], f"reported_means.{c}", ("mean", "sd"))
        _number(m["mean"], f"reported_means.{c}.mean", 0.0, caps[c])
        _number(m["sd"], f"reported_means.{c}.sd", 0.0, math.inf)
    jumps = _mapping(top["seed42_largest_jumps"], "seed42_largest_jumps", ORIGINAL_CONDITIONS)
    for c in ORIGINAL_CONDITIONS:
        j = _mapping(jumps[c], f"seed42_largest_jumps.{c}", ("epoch", "size"))
        _integer(j["epoch"], f"seed42_largest_jumps.{c}.epoch", 1, caps[c])
        _number(j["size"], f"seed42_largest_jumps.{c}.size", 0.0, 1.0, open_low=True)
    split = _mapping(top["retention_split"], "retention_split",
                     ("split_seed", "test_pairs", "b0_test_pairs", "train_pairs", "b0_train_pairs"))
    split = {k: _integer(v, f"retention_split.{k}", 0) for k, v in split.items()}
    for part in ("test", "train"):
        if split[f"b0_{part}_pairs"] > split[f"{part}_pairs"]:
            raise ValueError(f"retention_split.b0_{part}_pairs must not exceed retention_split.{part}_pairs")
    return OriginalRun(source, threshold, seeds, mean_seeds, protocol, table, means, jumps, split)


# ----------------------------------------------------------------------------- comparison

def _percent(threshold: float) -> str:
    """A threshold as the prose writes it: 0.999 -> '99.9 %'."""
    return f"{100 * threshold:g} %"


def _check_transfer_table(transfer_table, column: str, cap_ours) -> list[str]:
    """The conditions of ours in ``transfer_table``, in ``COUNTERPARTS`` order, after one clear
    error for anything the comparison cannot read."""
    need = ["seed", "condition", column, "final test acc"]
    if not isinstance(transfer_table, pd.DataFrame):
        raise ValueError(f"transfer_table must be a DataFrame (tables.transfer_table), got {type(transfer_table).__name__}")
    missing = [c for c in need if c not in transfer_table.columns]
    if missing or len(transfer_table) == 0:
        raise ValueError(f"transfer_table must be a non-empty tables.transfer_table DataFrame with columns {need}; "
                         f"missing {missing}")
    unknown = sorted(set(transfer_table["condition"]) - set(COUNTERPARTS))
    if unknown:
        raise ValueError(f"transfer_table has unknown condition(s) {unknown}; allowed: {list(COUNTERPARTS)}")
    twice = transfer_table[transfer_table.duplicated(["seed", "condition"])]
    if len(twice):
        raise ValueError(f"transfer_table has more than one run of (seed, condition) "
                         f"{list(zip(twice['seed'], twice['condition']))}; one run each")
    if isinstance(cap_ours, bool) or not isinstance(cap_ours, (int, float, np.integer, np.floating)) \
            or not math.isfinite(cap_ours) or cap_ours <= 0:
        raise ValueError(f"cap_ours must be a positive number of epochs (transfer_max_epochs), got {cap_ours!r}")
    epochs = pd.to_numeric(transfer_table[column])
    if (epochs > cap_ours).any():
        raise ValueError(f"transfer_table[{column!r}] has {epochs.max():g} epochs, above cap_ours = {cap_ours:g}")
    return [c for c in COUNTERPARTS if (transfer_table["condition"] == c).any()]


def _ours(transfer_table: pd.DataFrame, condition: str, column: str) -> tuple[dict, dict]:
    """({seed: epochs, None where never reached}, {seed: final test acc}) of one of our conditions."""
    rows = transfer_table[transfer_table["condition"] == condition]
    epochs = {int(s): None if is_missing(v) else float(v) for s, v in zip(rows["seed"], rows[column])}
    return epochs, {int(s): float(a) for s, a in zip(rows["seed"], rows["final test acc"])}


def _mean_reached(epochs: dict, seeds) -> dict:
    """Mean and sd (ddof 0, as the original printed) of the epochs of the runs among ``seeds``
    that reached the threshold: the original's statistic; the runs that never did are listed."""
    reached = [epochs[s] for s in seeds if epochs[s] is not None]
    return {"mean": float(np.mean(reached)) if reached else None,
            "sd_ddof0": float(np.std(reached)) if reached else None,
            "seeds": [int(s) for s in seeds], "n_reached": len(reached),
            "never": [int(s) for s in seeds if epochs[s] is None]}


def _per_seed(values: dict, cap: float) -> str:
    """'42: 869; 789: 652; ...' (semicolons, since the numbers carry thousands commas): whole
    numbers as such, fractions to four significant digits, None as 'never by <cap>'."""
    return "; ".join(f"{seed}: {'never by ' + fmt(cap) if v is None else significant(v)}" for seed, v in values.items())


def _mean_text(stat: dict, all_seeds, median: dict) -> str:
    """'19,808 (n = 4 of 5; 314 never, left out; restricted mean to the cap >= 21,846)': the mean
    over the runs that reached it, their number, and where a run never did, the censoring-aware
    restricted mean (that run counted at the cap: a lower bound of the mean)."""
    if stat["mean"] is None:
        return "none reached it"
    n = f"n = {stat['n_reached']} of {len(all_seeds)}"
    if len(stat["seeds"]) != len(all_seeds):
        n += ": seeds " + ", ".join(map(str, stat["seeds"]))
    if not stat["never"]:
        return f"{fmt(stat['mean'])} ({n})"
    return (f"{fmt(stat['mean'])} ({n}; {', '.join(map(str, stat['never']))} never, left out; restricted mean "
            f"to the cap ≥ {fmt(median['restricted_mean'])})")


def _median(epochs: dict, cap: float, confidence: float) -> dict:
    """Kaplan-Meier median of {seed: epochs or None} (``survival.km_median``: runs that never
    reached the threshold count as beyond ``cap``), with its interval and the seeds that never did,
    and the restricted mean to the cap (a lower bound of the mean when a run never did)."""
    values = list(epochs.values())
    m = km_median(values, cap=cap, confidence=confidence)
    rmst = restricted_mean(values, cap=cap, confidence=confidence)
    return {"median": m["median"], "ci_low": m["ci_low"], "ci_high": m["ci_high"], "n": m["n"],
            "n_censored": m["n_censored"], "never": [s for s, v in epochs.items() if v is None], "cap": cap,
            "restricted_mean": rmst["value"]}


def _median_text(median: dict) -> str:
    if median["median"] is None:
        return f"beyond the cap ({median['n_censored']} of {median['n']} never)"
    never = f", {median['n_censored']} never" if median["n_censored"] else ""
    return f"{fmt(median['median'])} ({median['n']} runs{never})"


def comparison_table(transfer_table: pd.DataFrame, cap_ours: float, confidence: float,
                     original: OriginalRun | None = None) -> pd.DataFrame:
    """Per original condition, the original run's row and then the rows of our conditions that
    correspond to it (those present in ``transfer_table``): per seed the epochs to first reach the
    threshold and the final test accuracy, the mean over the runs that reached it (the original's
    statistic, over its reported seeds) and the Kaplan-Meier median (runs that never did count as
    beyond the cap)."""
    original = original or load_original_run()
    column = epochs_column(FIRST, original.threshold)
    present = _check_transfer_table(transfer_table, column, cap_ours)
    epochs_label = f"epochs to first {_percent(original.threshold)} (seed: epochs)"
    grokked_source, memorized_source = original.protocol["grokked_source"], original.protocol["memorized_source"]
    starts = {
        "grokked": f"one checkpoint shared by all seeds (weight decay {significant(grokked_source['weight_decay'])}, "
                   f"{fmt(grokked_source['epochs'])} epochs)",
        "memorized": f"one model after {fmt(memorized_source['epochs'])} epochs, shared by all seeds",
        "random": "random initialisation, " + ("seeded" if original.protocol["random_init_seeded"] else "unseeded"),
    }
    rows = []
    for name in ORIGINAL_CONDITIONS:
        epochs, cap = original.epochs(name), original.cap(name)
        rows.append({"condition": name, "study": "original", "starting point": starts[name],
                     epochs_label: _per_seed(epochs, cap),
                     "mean of runs that reached it": _mean_text(_mean_reached(epochs, original.reported_mean_seeds),
                                                                original.seeds, _median(epochs, cap, confidence)),
                     "median": _median_text(_median(epochs, cap, confidence)),
                     "final test acc (seed: acc)": _per_seed(original.final_test_acc(name), cap)})
        for ours in (c for c in present if COUNTERPARTS[c][0] == name):
            epochs, finals = _ours(transfer_table, ours, column)
            rows.append({"condition": ours, "study": "this rerun", "starting point": COUNTERPARTS[ours][1],
                         epochs_label: _per_seed(epochs, cap_ours),
                         "mean of runs that reached it": _mean_text(_mean_reached(epochs, list(epochs)), list(epochs),
                                                                    _median(epochs, cap_ours, confidence)),
                         "median": _median_text(_median(epochs, cap_ours, confidence)),
                         "final test acc (seed: acc)": _per_seed(finals, cap_ours)})
    return pd.DataFrame(rows)


def comparison_numbers(transfer_table: pd.DataFrame, cap_ours: float, confidence: float,
                       original: OriginalRun | None = None) -> dict:
    """What the article quotes from the comparison: per condition of ours present, the original
    counterpart's mean over its reported seeds (as it computed it) and median, and our median
    and mean over the runs that reached the threshold; seed 42's largest single-epoch jumps in the
    original run with that seed's actual epochs to the threshold, and the document's headline
    epochs (which are those jumps' epochs)."""
    original = original or load_original_run()
    column = epochs_column(FIRST, original.threshold)
    present = _check_transfer_table(transfer_table, column, cap_ours)
    conditions = {}
    for ours in present:
        name = COUNTERPARTS[ours][0]
        theirs, cap = original.epochs(name), original.cap(name)
        epochs, finals = _ours(transfer_table, ours, column)
        conditions[ours] = {
            "original_condition": name,
            "original_epochs": theirs, "original_cap": cap,
            "original_mean": _mean_reached(theirs, original.reported_mean_seeds),
            "original_median": _median(theirs, cap, confidence),
            "ours_epochs": epochs, "ours_final_test_acc": finals,
            "ours_median": _median(epochs, cap_ours, confidence),
            "ours_mean_reached": _mean_reached(epochs, list(epochs)),
        }
    jumps = {name: {**original.seed42_largest_jumps[name], "epochs_to_threshold": original.epochs(name).get(42)}
             for name in ORIGINAL_CONDITIONS}
    return {
        "threshold": original.threshold, "original_seeds": list(original.seeds),
        "original_reported_mean_seeds": list(original.reported_mean_seeds),
        "original_eval_every": original.protocol["eval_every"], "cap_ours": cap_ours,
        "conditions": conditions,
        "seed42_largest_jumps": jumps,
        "document_headline_epochs": [jumps[name]["epoch"] for name in ORIGINAL_CONDITIONS],
        "retention_split": {**original.retention_split,
                            "b0_test_share": original.retention_split["b0_test_pairs"] / original.retention_split["test_pairs"]},
    }


# ----------------------------------------------------------------------------- protocol

PROTOCOL_PARAMS = ("seeds", "weight_decay", "grokked_hold_epochs", "grokked_max_epochs", "memorized_fixed_epochs",
                   "transfer_max_epochs", "eval_every")


def protocol_differences(params: dict, original: OriginalRun | None = None) -> pd.DataFrame:
    """One row per way the original run's protocol differs from ours (``params``, the resolved
    profile): what it did, what we do, and which gap between the two studies it can explain."""
    missing = [k for k in PROTOCOL_PARAMS if k not in params]
    if missing:
        raise ValueError(f"params lacks {missing}: give the resolved profile (params.resolve_in_notebook)")
    original = original or load_original_run()
    protocol = original.protocol
    grokked, memorized, caps = protocol["grokked_source"], protocol["memorized_source"], protocol["transfer_epochs"]
    every = params["eval_every"]
    spread = {c: [v for v in original.epochs(c).values() if v is not None] for c in ORIGINAL_CONDITIONS}
    never = {c: [s for s, v in original.epochs(c).items() if v is None] for c in ORIGINAL_CONDITIONS}
    dropped = "; ".join(f"{c} seed {', '.join(map(str, s))}" for c, s in never.items() if s) or "none"

    def seeds(values):
        return ", ".join(str(s) for s in values)

    rows = [
        ("grokked source",
         f"one checkpoint for every seed, not trained by the study: weight decay {significant(grokked['weight_decay'])}, "
         f"{fmt(grokked['epochs'])} epochs, split seed {grokked['split_seed']}",
         f"one per seed, trained with weight decay {significant(params['weight_decay'])} until test accuracy held "
         f"100 % for {fmt(params['grokked_hold_epochs'])} epochs (cap {fmt(params['grokked_max_epochs'])})",
         f"grokked epochs to {_percent(original.threshold)}: a source trained far longer under weaker weight decay is a different "
         "starting point; its five grokked runs share one source, so they vary only by the split"),
        ("memorized source",
         f"one model after {fmt(memorized['epochs'])} epochs (weight decay {significant(memorized['weight_decay'])}), "
         "shared by all seeds",
         f"memorized-fixed: each seed's own source at epoch {fmt(params['memorized_fixed_epochs'])}; memorized: each "
         "seed's first state with 100 % train accuracy",
         f"memorized epochs to {_percent(original.threshold)}: memorized-fixed is the closer match, our memorized the looser one; "
         "its memorized runs share one source"),
        ("transfer cap",
         f"{fmt(caps['grokked'])} epochs for grokked and memorized, {fmt(caps['random'])} for random",
         f"{fmt(params['transfer_max_epochs'])} epochs for every condition",
         "final test accuracy (read at the cap, so after different training lengths) and whether a slow run "
         "counts as reached"),
        ("evaluation",
         f"test accuracy every {'epoch' if protocol['eval_every'] == 1 else fmt(protocol['eval_every']) + ' epochs'}",
         f"every {fmt(every)} epochs",
         f"ours are multiples of {fmt(every)}, up to {fmt(every - 1)} epochs later than an every-epoch check "
         f"would find; single-epoch jumps are not seen, only {fmt(every)}-epoch ones"
         if every > 1 else "none: both evaluate every epoch"),
        (f"runs that never reach {_percent(original.threshold)}",
         f"{protocol['never_reached']} from means and tests ({dropped})",
         f"kept, censored at the cap ({fmt(params['transfer_max_epochs'])} epochs): Kaplan-Meier median",
         "a mean over only the runs that got there leans towards fast runs"),
        ("random initialisation",
         "seeded" if protocol["random_init_seeded"] else "unseeded: a seed set only the split shuffle",
         "seeded: the random condition starts from the initial weights of the same seed's source",
         "its random runs cannot be repeated; seed-to-seed differences there are not reproducible"),
        ("seeds",
         f"{seeds(original.seeds)}; means and t-test over {seeds(original.reported_mean_seeds)}",
         f"{seeds(params['seeds'])}; every seed in every statistic",
         "different seeds alone move a mean over four or five runs: its grokked runs took "
         f"{fmt(min(spread['grokked']))} to {fmt(max(spread['grokked']))} epochs"),
    ]
    return pd.DataFrame(rows, columns=["aspect", "original run", "this rerun", "gap it can explain"])
