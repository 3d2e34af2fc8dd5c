"""The runs with task tokens (issue 22; ``grokpaper.core.tasks``), as chapters 13-16 report them.

Every comparison is paired by seed. Epochs to a threshold are first reached; a run that never got
there by its cap enters at the cap, which makes a ratio a bound (``stats.paired_log_ratio``, the
main study's speed-up). Differences of accuracies are paired t-intervals (``paired_difference``).
The document's future-work hypotheses each get one verdict (``hypothesis_verdict``): *supported*
when the interval of the effect lies wholly on the predicted side of no effect, *contradicted*
when it lies wholly on the other side, *not established* when it holds no effect; each test is
uncorrected and outside the family of chapter 06 (one test per hypothesis, stated as such).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
from scipy import stats as scipy_stats

from grokpaper.analysis import curves, dlog, furuta, neuron_use, stats
from grokpaper.analysis.fourier import neuron_fourier_analysis, overlap_null, overlap_sum_pvalue
from grokpaper.analysis.progress import fourier_gini
from grokpaper.core.data import all_pairs, make_split, split_indices
from grokpaper.core.model import Transformer, config_of
from grokpaper.core.tasks import DataSpec, loss_floor, task_split
from grokpaper.paper import contract
from grokpaper.paper import what_transfers as wt
from grokpaper.paper.contract import FIRST, epochs_column
from grokpaper.paper.report import SHARE_RANGE, bound_sign, clip_interval, significant
from grokpaper.paper.tables import transfer_table

VERDICTS = ("supported", "contradicted", "not established", "not testable")
DIFFERENCE_OF_SHARES = (-1.0, 1.0)  # a difference of two accuracies (or Jaccard indices)
DIFFERENCE_OF_GAINS = (-2.0, 2.0)  # a difference of two such differences
P_NOTE = "uncorrected, outside the family of chapter 06"
READOUT = "readout_r2_refit_post"  # the linear probe of addition at its own "=", after the MLP


# --- one table of every run --------------------------------------------------------------------


def watched(curve: pd.DataFrame) -> list[str]:
    """The tasks a run watched (``test_acc_<task>`` columns of its curve)."""
    return [c.removeprefix("test_acc_") for c in curve.columns if c.startswith("test_acc_")]


# A target task as the figures and the text name it ('random' alone would read as random initialisation).
TARGET_NAMES = {"subtract": "subtraction", "multiply": "multiplication", "x2xyy2": "a² + ab + b²",
                "random": "random table"}


def target_name(target: str) -> str:
    return TARGET_NAMES.get(target, target)


def runs_table(runs, thresholds) -> pd.DataFrame:
    """One row per run: ``tables.transfer_table``'s columns (epochs to each threshold on the run's
    test set, first reached and sustained, final accuracies), its experiment and target, and per
    watched task: test accuracy at the start, at the run's first top-threshold evaluation, at the
    end and its lowest (with the epoch of its first evaluation at that lowest), and epochs to the top
    threshold on that task alone; the epochs to the top
    threshold on train accuracy (memorising); the addition readout R^2 at the last probe."""
    top = max(thresholds)
    table = transfer_table(runs, thresholds)
    extra = []
    for run in runs:
        curve = run.curve
        row = {"experiment": run.experiment, "target": run.target,
               "train first top": curves.epochs_to_threshold(curve, top, metric="train_acc")}
        reached = curves.epochs_to_threshold(curve, top)
        for task in watched(curve):
            column = f"test_acc_{task}"
            row[f"{task} acc start"] = float(curve[column].iloc[0])
            row[f"{task} acc at top"] = (curves.value_at_epoch(curve, reached, column) if reached is not None
                                         else math.nan)
            row[f"{task} acc end"] = float(curve[column].iloc[-1])
            row[f"{task} acc lowest"] = float(curve[column].min())
            row[f"{task} acc lowest epoch"] = int(curve.loc[curve[column].idxmin(), "epoch"])   # the first at the lowest
            row[f"{task} first top"] = curves.epochs_to_threshold(curve, top, metric=column)
            for t in thresholds:
                row[f"{task} first {contract.pct(t)}"] = curves.epochs_to_threshold(curve, t, metric=column)
        try:
            row["readout end"] = float(run.stored.probes[READOUT].iloc[-1])
        except FileNotFoundError:  # the ill-posed run has no probes
            row["readout end"] = math.nan
        extra.append(row)
    return pd.concat([table, pd.DataFrame(extra)], axis=1)


def select(table: pd.DataFrame, experiment: str, target: str | None = None, conditions=None) -> pd.DataFrame:
    """The rows of one experiment (and target, and conditions)."""
    rows = table[table["experiment"] == experiment]
    if target is not None:
        rows = rows[rows["target"] == target]
    if conditions is not None:
        rows = rows[rows["condition"].isin(list(conditions))]
    return rows


def relabel(rows: pd.DataFrame, label: str) -> pd.DataFrame:
    """``rows`` with their condition renamed ``label`` (to pair two experiments' runs by seed)."""
    return rows.assign(condition=label)


def per_task(rows: pd.DataFrame, tasks, threshold: float) -> pd.DataFrame:
    """Each run once per watched task, labelled with the task (as its condition) and with that task's
    epochs to ``threshold`` in the epochs column ``speedup`` reads at that threshold: to pair two
    tasks of one run."""
    column = epochs_column(FIRST, threshold)
    return pd.concat([relabel(rows, task).assign(**{column: rows[f"{task} first {contract.pct(threshold)}"]})
                      for task in tasks])


def pooled_sizes(run, p: int, frac_train: float) -> tuple[int, int]:
    """A run's pooled test set size and its smallest watched task's test set size (from its config)."""
    config = run.stored.config
    split = task_split(DataSpec.from_config(config["data"]), p, config["seed"], frac_train)
    return len(split.test_y), min(len(y) for _, y in split.extra_tests.values())


def speedup(table: pd.DataFrame, top: float, cap: int, compared: str, reference: str, confidence: float,
            column: str | None = None) -> contract.SpeedUp | None:
    """The reference's epochs to ``top`` over ``compared``'s, paired by seed (``what_transfers.speedups``);
    ``column``: another epochs column (e.g. train accuracy's) in place of the test set's first top."""
    if column is not None:
        table = table.assign(**{epochs_column(FIRST, top): table[column]})
    return wt.speedups(table, top, cap, [compared], confidence=confidence, reference=reference).get(compared)


def neither_reached(table: pd.DataFrame, top: float, compared: str, reference: str,
                    column: str | None = None) -> list[int]:
    """The seeds whose ``compared`` and ``reference`` runs both never reached ``top`` by their cap
    (``column``: another epochs column, as in ``speedup``): a paired ratio has no value for them and
    leaves them out, though they say something (neither learned it)."""
    column = column or epochs_column(FIRST, top)
    epochs = table.pivot_table(index="seed", columns="condition", values=column, aggfunc="first", dropna=False)
    both = [c for c in (compared, reference) if c in epochs.columns]
    if len(both) < 2:
        return []
    runs = table.groupby("seed")["condition"].agg(set)
    return [int(seed) for seed in epochs.index
            if {compared, reference} <= runs[seed] and epochs.loc[seed, both].isna().all()]


# What a speed-up whose every pair is a bound shows in place of its interval and tests.
BOUNDS_ONLY_COLUMNS = ("CI low", "CI high", "p (paired t)", "p (Wilcoxon)")


def speedup_display(found: dict[str, contract.SpeedUp]) -> pd.DataFrame:
    """``what_transfers.speedup_display`` for the task-token chapters: the geometric mean carries
    its bound's sign ('≥'/'≤' where a censored run makes it a bound), and a row whose every pair is a
    bound (``every_pair_a_bound``) has no interval or p: the ratios only bound the effect."""
    table = wt.speedup_display(found)
    if table.empty:
        return table
    table = table.astype({column: object for column in BOUNDS_ONLY_COLUMNS})
    for i, s in enumerate(found.values()):
        if every_pair_a_bound(s):
            table.loc[i, list(BOUNDS_ONLY_COLUMNS)] = None
    table["speed-up"] = [None if s.geometric_mean is None or pd.isna(s.geometric_mean)
                         else bound_sign(s.bound) + significant(s.geometric_mean, 3) for s in found.values()]
    return table


def speedup_points(found: dict[str, contract.SpeedUp]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``what_transfers.speedup_points`` without the interval of a speed-up whose every pair is a
    bound (its geometric mean is still drawn)."""
    points, summary = wt.speedup_points(found)
    only = summary["condition"].map({c: every_pair_a_bound(s) for c, s in found.items()}).astype(bool)
    summary.loc[only, ["ci_low", "ci_high"]] = np.nan
    return points, summary


def with_neither_reached(display: pd.DataFrame, seeds: dict[str, list[int]]) -> pd.DataFrame:
    """A speed-up table (``what_transfers.speedup_display``) with a column of the seeds, per row,
    whose two runs both never got there (``neither_reached``)."""
    return display.assign(**{"neither reached (seeds)": [", ".join(map(str, seeds.get(c, []))) or "–"
                                                         for c in display["condition"]]})


# --- paired differences and verdicts -----------------------------------------------------------


def paired_difference(a: dict, b: dict, confidence: float, label: str,
                      bounds: tuple[float, float] | None = None) -> contract.PairedDifference:
    """Per seed a - b (seeds in both), their mean with its t-interval and the paired t-test's p.
    With fewer than 2 pairs the interval and p are NaN (None when saved); with no spread the
    interval is NaN and p the exact sign-flip test's.
    ``bounds``: the difference's possible range (e.g. (-1, 1) for accuracies); the interval is
    truncated to it (``report.clip_interval``), as every interval of the paper is."""
    seeds = [s for s in a if s in b and not (pd.isna(a[s]) or pd.isna(b[s]))]
    d = np.array([float(a[s]) - float(b[s]) for s in seeds])
    n = len(d)
    mean = float(d.mean()) if n else math.nan
    low = high = p = math.nan
    if n >= 2:
        sem = float(d.std(ddof=1) / math.sqrt(n))
        if np.ptp(d) > 1e-12 * max(1.0, abs(mean)):  # a spread beyond rounding
            half = float(scipy_stats.t.ppf(0.5 + confidence / 2, n - 1)) * sem
            low, high = mean - half, mean + half
            p = float(2 * scipy_stats.t.sf(abs(mean / sem), n - 1))
        else:
            # Every pair differs by the same amount: no spread, so no t-interval; the exact sign-flip
            # test (each difference's sign flipped with probability 1/2) gives 2 / 2^n when they all
            # lie on one side of 0, 1 when they are all 0.
            p = min(1.0, 2 / 2 ** n) if mean != 0 else 1.0
    low, high = clip_interval(low, high, bounds)
    return contract.typed(contract.PairedDifference, {
        "what": label, "n_pairs": n, "mean": mean, "ci_low": low, "ci_high": high, "p": p, "confidence": confidence,
        "per_seed": {int(s): float(a[s]) - float(b[s]) for s in seeds}})


# Where else the replay hypothesis's addition can be read: runs-table columns, with what they are.
# The test reads each pair (replay and none, one source) at its own common epoch, so the
# memorized-fixed pairs, which stop later, are read after more epochs of replay; the last column
# reads all four of a seed's runs after the same number of epochs (``with_seed_common_reading``).
SEED_COMMON = "add acc at seed's common epoch"
REPLAY_READ_AT = {"add acc end": "each run's own end", "add acc at top": "each run's first top on subtraction",
                  SEED_COMMON: "one epoch common to the seed's four runs"}


def with_seed_common_reading(table: pd.DataFrame, runs, column: str, conditions, experiments) -> pd.DataFrame:
    """``table`` (a runs table) with the column ``SEED_COMMON``: each run's ``column`` at its seed's
    common epoch over the runs of ``experiments`` x ``conditions`` (``at_common_epoch``: the earliest
    stop among them); NaN for the other runs and for a seed that lacks one of them."""
    curves_by_label = {(e, c): {r.seed: r.curve for r in runs if r.experiment == e and r.condition == c}
                       for e in experiments for c in conditions}
    common = at_common_epoch(curves_by_label, column)
    values = {(e, c, seed): v for (e, c), by_seed_ in common.items() for seed, v in by_seed_.items()}
    return table.assign(**{SEED_COMMON: [values.get((e, c, seed), np.nan) for e, c, seed
                                         in zip(table["experiment"], table["condition"], table["seed"])]})


def replay_hypothesis_at(table: pd.DataFrame, column: str, confidence: float) -> contract.PairedDifference:
    """The replay hypothesis's difference (per seed, the gain from replay of the grokked source minus
    that of the memorized-fixed one), with addition read from a runs-table ``column`` of each run
    (``REPLAY_READ_AT``) instead of at the pair's common epoch: a sensitivity check of when addition is
    measured. ``table``: chapter 14's runs table (its replay and sequential runs)."""
    if column not in REPLAY_READ_AT:
        raise ValueError(f"column must be one of {', '.join(REPLAY_READ_AT)}; got {column!r}")

    def gain(condition: str) -> dict[int, float]:
        replay = by_seed(select(table, "replay", conditions=[condition]), column)
        none = by_seed(select(table, "sequential", conditions=[condition]), column)
        return {s: replay[s] - none[s] for s in replay if s in none and not (pd.isna(replay[s]) or pd.isna(none[s]))}

    return paired_difference(gain("grokked"), gain("memorized-fixed"), confidence,
                             f"gain from replay at {REPLAY_READ_AT[column]}: grokked minus memorized-fixed",
                             DIFFERENCE_OF_GAINS)


def hypothesis_verdict(hypothesis: str, effect: str, estimate: float, low: float, high: float, p: float, n: int,
                       predicted: int = 1, note: str = "") -> contract.HypothesisVerdict:
    """One hypothesis's verdict (module docstring) from its effect's interval: ``predicted`` +1 when
    the hypothesis predicts an effect above 0 (a ratio's log above 0), -1 below."""
    if any(pd.isna(v) for v in (estimate, low, high)):
        verdict, reason = "not testable", "no interval: too few pairs or no spread"
    elif (predicted > 0 and low > 0) or (predicted < 0 and high < 0):
        verdict, reason = "supported", "the interval lies wholly on the predicted side of no effect"
    elif (predicted > 0 and high < 0) or (predicted < 0 and low > 0):
        verdict, reason = "contradicted", "the interval lies wholly on the other side of no effect"
    else:
        verdict, reason = "not established", "the interval holds no effect"
    return contract.typed(contract.HypothesisVerdict, {
        "hypothesis": hypothesis, "effect": effect, "estimate": estimate, "ci_low": low, "ci_high": high, "p": p,
        "p_note": P_NOTE, "n": n, "verdict": verdict, "reason": reason + (f"; {note}" if note else "")})


def distinct_part_counts(replay: contract.NeuronUseOverlap, floor: contract.NeuronUseOverlap,
                         alpha: float) -> dict[str, int]:
    """What the neuron-use overlaps say of the multi-task hypothesis's absolute part ("sequential
    training forces distinct circuits"). ``replay``: the model after sequential transfer with replay;
    ``floor``: the one without replay, which lost addition. Returns the seeds where the replay model's
    overlap is above its relabelling null (p < ``alpha``) of the seeds with a null, and the seeds where
    the floor's chance-corrected overlap is the higher of the seeds with both."""
    above = [s for s, p in replay.p_null.items() if not pd.isna(p) and p < alpha]
    seeds = [s for s in replay.corrected if s in floor.corrected
             and not (pd.isna(replay.corrected[s]) or pd.isna(floor.corrected[s]))]
    higher = [s for s in seeds if floor.corrected[s] > replay.corrected[s]]
    return {"above_null": len(above), "with_null": sum(not pd.isna(p) for p in replay.p_null.values()),
            "floor_higher": len(higher), "compared": len(seeds)}


def distinct_part_note(replay: contract.NeuronUseOverlap, floor: contract.NeuronUseOverlap, alpha: float) -> str:
    """Why the multi-task hypothesis's verdict is on its comparative part only (``distinct_part_counts``)."""
    c = distinct_part_counts(replay, floor, alpha)
    return (f"judged on its comparative part only; its absolute part, distinct circuits after sequential training, "
            f"is not tested: the replay model's overlap is above its relabelling null (p < {alpha:g}) in "
            f"{c['above_null']} of {c['with_null']} seeds, and the model without replay, which lost addition, has the "
            f"higher chance-corrected overlap in {c['floor_higher']} of {c['compared']}, so this measure does not tell a "
            f"distinct addition circuit from none")


def verdict_display(verdicts: list[contract.HypothesisVerdict]) -> pd.DataFrame:
    """The verdict rows as a table."""
    return pd.DataFrame([{"hypothesis": v.hypothesis, "effect": v.effect, "n": v.n, "estimate": v.estimate,
                          "CI low": v.ci_low, "CI high": v.ci_high, "p": v.p, "verdict": v.verdict,
                          "why": v.reason} for v in verdicts])


# --- retention ---------------------------------------------------------------------------------


def retention(rows: pd.DataFrame, task: str, confidence: float,
              kept: dict[int, tuple[int, float]] | None = None) -> contract.TaskRetention:
    """The watched ``task``'s test accuracy over a group of runs: at the start, at the first
    top-threshold evaluation, at the end (mean with t-interval over seeds) and the lowest; with
    ``kept`` (per seed, ``answered_kept``), the test pairs the source answered and the share of them
    each run still answered at its end."""
    kept = kept or {}
    end = rows[f"{task} acc end"].astype(float)
    n = len(end)
    half = (float(scipy_stats.t.ppf(0.5 + confidence / 2, n - 1)) * float(end.std(ddof=1)) / math.sqrt(n)
            if n >= 2 else math.nan)
    low, high = clip_interval(float(end.mean()) - half, float(end.mean()) + half, SHARE_RANGE)
    return contract.typed(contract.TaskRetention, {
        "task": task, "n_runs": n, "start_mean": float(rows[f"{task} acc start"].mean()),
        "at_top_mean": float(rows[f"{task} acc at top"].mean()), "end_mean": float(end.mean()),
        "end_ci_low": low, "end_ci_high": high,
        "end_min": float(end.min()), "end_max": float(end.max()), "lowest_min": float(rows[f"{task} acc lowest"].min()),
        "readout_end_mean": float(rows["readout end"].mean()),
        "per_seed_end": {int(s): float(v) for s, v in zip(rows["seed"], end)},
        "answered": {int(s): n for s, (n, _) in kept.items()}, "kept": {int(s): k for s, (_, k) in kept.items()},
        "kept_mean": float(np.nanmean([k for _, k in kept.values()])) if any(
            not math.isnan(k) for _, k in kept.values()) else math.nan})


def answered_kept(source_params: dict[str, torch.Tensor], model_params: dict[str, torch.Tensor], p: int, task: str,
                  seed: int, frac_train: float) -> tuple[int, float]:
    """What the source knew of ``task`` and how much of it a model kept: the seed's test pairs of the
    task (at "=", the task's own token in both models) the source answers correctly (argmax over
    all logits), and the share of those the model still answers correctly (NaN when the source
    answered none). Test accuracy alone cannot say it: a source that never generalised had little
    on the test pairs to keep."""
    split = make_split(task, p, seed, frac_train, task_token=0)
    with torch.no_grad():
        def correct(params):
            logits = Transformer(config_of(params, p), params)(split.test_x)[:, -1]
            return logits.argmax(-1) == split.test_y
        answered = correct(source_params)
        n = int(answered.sum())
        kept = float(correct(model_params)[answered].double().mean()) if n else math.nan
    return n, kept


def kept_by_seed(study, runs, p: int, task: str, frac_train: float) -> dict[int, tuple[int, float]]:
    """``answered_kept`` of each run against the weights it started from (``Study.starting_weights``)."""
    return {r.seed: answered_kept(study.starting_weights(r), r.params(), p, task, r.seed, frac_train) for r in runs}


def by_seed(rows: pd.DataFrame, column: str) -> dict[int, float]:
    """``column`` per seed (None, a run that never got there, as NaN)."""
    return {int(s): float(v) for s, v in zip(rows["seed"], pd.to_numeric(rows[column], errors="coerce"))}


def at_common_epoch(curves_by_label: dict[str, dict[int, pd.DataFrame]], column: str) -> dict[str, dict[int, float]]:
    """``column`` per label and seed at the seed's common epoch: the last epoch every one of the
    seed's curves evaluated (the earliest stop among them). Runs that stop at different epochs
    (each at its own threshold held, or its cap) are compared after the same training, not at
    their different ends. Seeds missing from a label are left out."""
    seeds = set.intersection(*(set(by) for by in curves_by_label.values())) if curves_by_label else set()
    out: dict[str, dict[int, float]] = {label: {} for label in curves_by_label}
    for seed in sorted(seeds):
        epoch = min(int(by[seed]["epoch"].iloc[-1]) for by in curves_by_label.values())
        for label, by in curves_by_label.items():
            out[label][seed] = curves.value_at_epoch(by[seed], epoch, column)
    return out


def guaranteed_threshold(thresholds, top: float, n_pooled: int, n_task: int) -> float | None:
    """The highest of ``thresholds`` that each task of a pooled test set is sure to have reached when
    the pooled accuracy reaches ``top``: the pooled errors, at most (1 - top) * n_pooled, could all be
    one task's, so that task is at least 1 - (1 - top) * n_pooled / n_task. None if no threshold is sure."""
    floor = 1 - (1 - top) * n_pooled / n_task
    sure = [t for t in thresholds if t <= floor + 1e-12]
    return max(sure) if sure else None


# --- key frequencies per task token ---------------------------------------------------------------


def key_frequencies(params: dict[str, torch.Tensor], p: int, task: str, token: int, min_neurons: int) -> list[int]:
    """The neuron method's key frequencies (>= ``min_neurons`` neurons) of a model read at "=" token ``token``."""
    cfg = config_of(params, p)
    return neuron_fourier_analysis(params, cfg, task, task_token=token).frequencies(min_neurons)


def frequency_sharing(pairs: dict[int, tuple[list[int], list[int]]], n_candidates: int, label: str
                      ) -> contract.FrequencySharing:
    """Per seed two frequency sets and how many they share, against chance: the exact tail of the
    sum over seeds of hypergeometric overlaps (``fourier.overlap_sum_pvalue``)."""
    shared = {s: len(set(a) & set(b)) for s, (a, b) in pairs.items()}
    jaccard = {s: (len(set(a) & set(b)) / len(set(a) | set(b)) if set(a) | set(b) else math.nan)
               for s, (a, b) in pairs.items()}
    pmfs = [overlap_null(n_candidates, len(a), len(b))["pmf"] for a, b in pairs.values()]
    expected = sum(overlap_null(n_candidates, len(a), len(b))["mean"] for a, b in pairs.values())
    return contract.typed(contract.FrequencySharing, {
        "what": label, "n_seeds": len(pairs), "n_candidates": n_candidates,
        "sets": {int(s): [sorted(a), sorted(b)] for s, (a, b) in pairs.items()},
        "shared": {int(s): v for s, v in shared.items()}, "jaccard": {int(s): v for s, v in jaccard.items()},
        "total_shared": int(sum(shared.values())), "expected_by_chance": float(expected),
        "p_null": overlap_sum_pvalue(pmfs, int(sum(shared.values()))) if pmfs else math.nan})


def sharing_display(sharings: dict[str, contract.FrequencySharing]) -> pd.DataFrame:
    return pd.DataFrame([{"comparison": s.what, "seeds": s.n_seeds, "shared (total)": s.total_shared,
                          "expected by chance": s.expected_by_chance, "p (chance)": s.p_null,
                          "mean Jaccard": np.nanmean(list(s.jaccard.values())) if s.jaccard else math.nan,
                          "per seed (shared of sizes)": "; ".join(f"{seed}: {s.shared[seed]} of {len(a)}/{len(b)}"
                                                                  for seed, (a, b) in s.sets.items())}
                         for s in sharings.values()])


# --- the ill-posed design ------------------------------------------------------------------------


def ill_posed(run, p: int, frac_train: float) -> contract.IllPosed:
    """The replay-without-token run: its data's loss floor (``tasks.loss_floor``), recomputed from its
    config, against the lowest training loss it reached."""
    config = run.stored.config
    split = task_split(DataSpec.from_config(config["data"]), p, config["seed"], frac_train)
    inputs, counts = torch.unique(split.train_x, dim=0, return_counts=True)
    conflicting = int(sum(1 for row, c in zip(inputs.tolist(), counts.tolist()) if c > 1
                          and len(set(split.train_y[(split.train_x == torch.tensor(row)).all(1)].tolist())) > 1))
    curve = run.curve
    return contract.typed(contract.IllPosed, {
        "seed": run.seed, "epochs": int(run.result["epochs_trained"]), "n_examples": len(split.train_y),
        "n_inputs_with_two_labels": conflicting, "loss_floor": loss_floor(split.train_x, split.train_y),
        "lowest_train_loss": float(curve["train_loss"].min()), "final_train_loss": float(curve["train_loss"].iloc[-1]),
        "final_train_acc": float(curve["train_acc"].iloc[-1])})


# --- measures of the final weights ---------------------------------------------------------------


def weight_measures(runs, p: int, source_task: str) -> pd.DataFrame:
    """Per run, of its final weights: our reading of Furuta et al.'s Fourier frequency sparsity and
    coefficient ratio (``analysis.furuta``) and Nanda et al.'s Gini of W_E's Fourier norms; and, from
    its last probe, addition's restricted and excluded loss at the source's key frequencies, read at
    addition's token (Nanda et al.'s measures of the addition circuit left in the model)."""
    rows = []
    for run in runs:
        params = run.params()
        n_tokens = params["embed.W_E"].shape[1] - p
        last = run.stored.probes.iloc[-1]
        rows.append({"experiment": run.experiment, "target": run.target, "condition": run.condition, "seed": run.seed,
                     **furuta.furuta_measures(params, p, n_task_tokens=n_tokens),
                     "gini W_E": fourier_gini(params, p)["gini_W_E"],
                     f"restricted loss {source_task}": float(last[f"restricted_loss_{source_task}_source"]),
                     f"excluded loss {source_task}": float(last[f"excluded_loss_{source_task}_source"])})
    return pd.DataFrame(rows)


# Furuta et al.'s measures beside Nanda et al.'s, over training (probe columns): row label -> column.
PROGRESS_OVER_TRAINING = {"Fourier frequency sparsity (Furuta, our reading)": "ffs",
                          "Fourier coefficient ratio (Furuta, our reading)": "fcr",
                          "Gini of W_E's Fourier norms (Nanda)": "gini_W_E"}
CONDITION_LINES = {"grokked": ("tab:blue", "-"), "random": ("tab:grey", "--")}


def progress_panels(runs, targets, source_task: str) -> dict:
    """``plots.epoch_grid`` arguments of the progress measures over training (probe records): a
    column per target, a row per measure (``PROGRESS_OVER_TRAINING``, then the source task's
    excluded loss at the source's key frequencies, read at its own token), a line per run, coloured
    by initial weights (``CONDITION_LINES``)."""
    excluded = f"{source_task} excluded loss, source frequencies (Nanda)"
    columns = {**PROGRESS_OVER_TRAINING, excluded: f"excluded_loss_{source_task}_source"}
    panels = {}
    for run in runs:
        probes = run.stored.probes.sort_values("epoch")
        missing = [c for c in columns.values() if c not in probes.columns]
        if missing:
            raise ValueError(f"probes of {run.target} {run.condition} seed {run.seed} lack {missing}: "
                             "a run trained before its probes recorded them; train it again")
        colour, style = CONDITION_LINES.get(run.condition, ("tab:orange", ":"))
        for row, column in columns.items():
            frame = pd.DataFrame({"epoch": probes["epoch"].to_numpy(float), "value": probes[column].to_numpy(float)})
            panels.setdefault((row, run.target), []).append((frame, colour, style, 0.8))
    present = [t for t in targets if any(key[1] == t for key in panels)]
    legend = {f"from {c}" if c == "random" else f"from the {c} source": line for c, line in CONDITION_LINES.items()}
    return {"panels": panels, "rows": list(columns), "columns": present, "ylabels": {r: r for r in columns},
            "log_y": [excluded], "legend": legend, "legend_title": "one line per seed"}


def basis_table(runs, p: int, min_neurons: int) -> pd.DataFrame:
    """Per multiplication run: the neuron method in the additive basis and in the discrete-log basis
    (``analysis.dlog.basis_comparison``, the inputs with a = 0 or b = 0 set aside and reported)."""
    frames = []
    for run in runs:
        params = run.params()
        cfg = config_of(params, p)
        token = run.stored.config["data"]["train"][0]["token"]
        frame = dlog.basis_comparison(params, cfg, task_token=token, min_neurons=min_neurons, task="multiply")
        frames.append(frame.assign(condition=run.condition, seed=run.seed))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def page_trend(table: pd.DataFrame, ordered_columns: list[str]) -> dict:
    """Page's trend test for repeated measures (rows: seeds, columns in the predicted increasing
    order): L, its exact or normal-approximation p."""
    data = table[ordered_columns].dropna()
    if len(data) < 2 or len(ordered_columns) < 3:
        return {"L": math.nan, "p": math.nan, "n": len(data)}
    result = scipy_stats.page_trend_test(data.to_numpy())
    return {"L": float(result.statistic), "p": float(result.pvalue), "n": len(data), "method": result.method}


def spearman_with_order(table: pd.DataFrame, ordered_columns: list[str]) -> dict[int, float]:
    """Per row (seed): Spearman's correlation of the row's values (ties at their mean rank) with the
    columns' predicted order (``ordered_columns``, lowest predicted first); NaN for a row whose values
    are all equal. Page's L, on rows without ties, is an increasing affine function of their mean."""
    data = table[ordered_columns].dropna()
    order = np.arange(len(ordered_columns), dtype=float)
    return {int(seed): (math.nan if np.ptp(row.to_numpy(float)) == 0
                        else float(scipy_stats.spearmanr(order, row.to_numpy(float)).statistic))
            for seed, row in data.iterrows()}


def trend_verdict(hypothesis: str, effect: str, table: pd.DataFrame, ordered_columns: list[str],
                  confidence: float, note: str = "") -> contract.HypothesisVerdict:
    """A predicted order over repeated measures (rows: seeds; columns from the lowest predicted to the
    highest). The test is Page's trend test, two-sided (twice the smaller of the two one-sided p, in
    the predicted order and in the reverse one: testing each side at the level alone would double the
    error rate). The effect is the mean over seeds of Spearman's correlation of each seed's values
    with the predicted order (``spearman_with_order``: 1 when every seed follows it, 0 by chance),
    with its t-interval over seeds; no spread gives a one-point interval. Supported only when both
    say so: the two-sided p below 1 - confidence in the predicted order and the interval wholly above
    0; contradicted when both say the reverse; else not established."""
    forward, backward = page_trend(table, ordered_columns), page_trend(table, ordered_columns[::-1])
    alpha = 1 - confidence
    rhos = [r for r in spearman_with_order(table, ordered_columns).values() if not pd.isna(r)]
    over_seeds = stats.one_sample(rhos, 0.0, confidence=confidence)
    mean, low, high = over_seeds["mean"], over_seeds["ci_low"], over_seeds["ci_high"]
    if len(rhos) > 1 and pd.isna(low):
        low = high = mean              # every seed's rho the same: a one-point interval
    low, high = clip_interval(low, high, (-1.0, 1.0))
    two_sided = min(1.0, 2 * min(forward["p"], backward["p"])) if not pd.isna(forward["p"]) else math.nan
    said = (f"Page's L = {forward['L']:.4g} against {page_null(forward['n'], len(ordered_columns)):.4g} by chance, "
            f"two-sided p = {two_sided:.3g}; mean Spearman rho with the predicted order {mean:+.2f} "
            f"({100 * confidence:g} % CI {low:+.2f} to {high:+.2f}, {len(rhos)} seeds)")
    if pd.isna(forward["p"]) or not rhos:
        verdict, reason = "not testable", f"Page's test needs >= 2 seeds and >= 3 targets; has {forward['n']} seeds"
    elif two_sided < alpha and forward["p"] <= backward["p"] and low > 0:
        verdict, reason = "supported", f"{said}: the test and the interval both in the predicted order"
    elif two_sided < alpha and forward["p"] > backward["p"] and high < 0:
        verdict, reason = "contradicted", f"{said}: the test and the interval both in the reverse order"
    else:
        verdict, reason = "not established", f"{said}: not both beyond chance in one order"
    return contract.typed(contract.HypothesisVerdict, {
        "hypothesis": hypothesis, "effect": effect, "estimate": mean, "ci_low": low, "ci_high": high,
        "p": two_sided, "p_note": P_NOTE, "n": len(rhos), "verdict": verdict,
        "reason": reason + (f"; {note}" if note else "")})


# --- addition's retention early in a transfer ------------------------------------------------------


def early_retention(curve: pd.DataFrame, column: str, until: int) -> float:
    """The mean of ``column`` over the evaluations after the start up to epoch ``until``: addition's
    accuracy kept over the first ``until`` epochs of a transfer (evaluations are evenly spaced, so
    this is the area under the curve over the window, per epoch)."""
    rows = curve[(curve["epoch"] > 0) & (curve["epoch"] <= until)][column].dropna()
    if not len(rows):
        raise ValueError(f"the curve has no value of {column!r} in epochs 1-{until}")
    return float(rows.mean())


def early_retention_table(curves_by_label: dict[str, dict[int, pd.DataFrame]], column: str,
                          window: int) -> tuple[pd.DataFrame, pd.Series]:
    """``early_retention`` per seed (rows) and label (columns), each seed's runs over one window: the
    first ``window`` epochs, or up to the seed's earliest stop if one of its runs stopped sooner (the
    runs of a seed are compared over the same training); and that window per seed. Seeds missing
    from a label are NaN."""
    seeds = sorted({s for by in curves_by_label.values() for s in by})
    until = pd.Series({seed: min([window] + [int(by[seed]["epoch"].iloc[-1]) for by in curves_by_label.values()
                                              if seed in by]) for seed in seeds}, dtype=int)
    values = pd.DataFrame({label: {seed: early_retention(curve, column, int(until[seed])) for seed, curve in by.items()}
                           for label, by in curves_by_label.items()}).reindex(seeds)
    return values, until


def early_retention_display(values: pd.DataFrame, until: pd.Series, columns: list[str]) -> pd.DataFrame:
    """The early retention as a table (%), one row per seed, with its window."""
    return (100 * values[columns]).assign(**{"window (epochs)": until}).reset_index(names="seed")


def _times(scale: float, value):
    """``scale * value``, None (undefined: NaN when saved) kept."""
    return None if value is None or pd.isna(value) else scale * value


def retention_display(found: dict[str, contract.TaskRetention]) -> pd.DataFrame:
    """The retention summaries as a table (accuracies in %)."""
    return pd.DataFrame([{"runs": label, "n": r.n_runs, "start %": _times(100, r.start_mean),
                          "at top %": _times(100, r.at_top_mean), "end %": _times(100, r.end_mean),
                          "CI low %": _times(100, r.end_ci_low), "CI high %": _times(100, r.end_ci_high),
                          "end min %": _times(100, r.end_min), "lowest %": _times(100, r.lowest_min),
                          "readout R² at end": r.readout_end_mean,
                          "source answered (test pairs)": " / ".join(str(n) for n in r.answered.values()) or "–",
                          "answered at the end, of those, mean %": _times(100, r.kept_mean)}
                         for label, r in found.items()])


def paired_display(found: dict[str, contract.PairedDifference], scale: float = 1.0,
                   key_column: str | None = None) -> pd.DataFrame:
    """Paired differences as a table (``scale``: 100 for accuracies in percentage points), each row
    named by its difference's ``what``; ``key_column``: a first column of ``found``'s keys, where they
    say what tells the rows apart (e.g. when addition was read). Seeds in ascending order."""
    return pd.DataFrame([{**({key_column: key} if key_column else {}), "comparison": d.what, "n": d.n_pairs,
                          "mean": _times(scale, d.mean), "CI low": _times(scale, d.ci_low),
                          "CI high": _times(scale, d.ci_high), "p (paired t)": d.p,
                          "per seed": "; ".join(f"{s}: {scale * v:.3g}" for s, v in sorted(d.per_seed.items()))}
                         for key, d in found.items()])


def curves_of(runs, experiment: str, conditions=None, target: str | None = None) -> dict[str, list[pd.DataFrame]]:
    """The learning curves of one experiment's runs by condition (``plots.learning_curves``), each
    with its test set's accuracy under the target task's name too (``test_acc_<target>``), so that
    a panel says which task it shows."""
    out: dict[str, list[pd.DataFrame]] = {}
    for run in runs:
        if run.experiment == experiment and (target is None or run.target == target) \
                and (conditions is None or run.condition in conditions):
            named = f"test_acc_{run.target}"
            out.setdefault(run.condition, []).append(
                run.curve if named in run.curve else run.curve.assign(**{named: run.curve["test_acc"]}))
    return out


def readout_curves(runs, experiment: str, label: str) -> dict[str, list[pd.DataFrame]]:
    """Each run's addition readout R^2 over training (its probes), by condition, as a column ``label``."""
    out: dict[str, list[pd.DataFrame]] = {}
    for run in runs:
        if run.experiment == experiment:
            probes = run.stored.probes
            out.setdefault(run.condition, []).append(probes[["epoch", READOUT]].rename(columns={READOUT: label}))
    return out


def table_of(frame: pd.DataFrame) -> dict:
    """A DataFrame as a contract ``Table`` (column -> values; NaN saved as null)."""
    return contract.plain(frame.to_dict(orient="list"))


def ceiling_note(without: pd.DataFrame, column: str, near: float = 0.9) -> str:
    """A verdict's note when the runs without the intervention already score at least ``near`` on
    ``column`` (mean): there is little room for a gain, so a small one says little."""
    mean = float(without[column].mean())
    return (f"without replay the mean is already {100 * mean:.1f} %: little room for a gain" if mean >= near else "")


def overlap_points(sharings: dict[tuple[str, str], contract.FrequencySharing]) -> pd.DataFrame:
    """Per (target, initial weights) and seed, from ``frequency_sharing`` of the source's key
    frequencies (first set) against the final model's at the target's token (second set): the
    share of the source's key frequencies found again, and what chance gives that share. With
    ``n`` candidates and a second set of size ``k`` drawn at random, each source frequency is in
    it with probability k / n, so chance's expected share is k / n whatever the source set's size."""
    rows = []
    for (target, condition), s in sharings.items():
        for seed, (first, second) in s.sets.items():
            rows.append({"target": target, "condition": condition, "seed": int(seed), "source keys": len(first),
                         "target keys": len(second), "shared": s.shared[seed],
                         "share": s.shared[seed] / len(first) if first else math.nan,
                         "chance": len(second) / s.n_candidates})
    return pd.DataFrame(rows, columns=["target", "condition", "seed", "source keys", "target keys", "shared", "share",
                                       "chance"])


# One side of a neuron-use comparison: (a model's params, its task, that task's token, its end accuracy).
UseSide = tuple


def test_inputs(task: str, p: int, seed: int, frac_train: float) -> torch.Tensor:
    """(p²,) bool, in ``all_pairs`` order: the seed's test pairs of ``task``, which no run of the seed
    trained on (every run of a seed splits each task alike, ``core.tasks.task_split``)."""
    mask = torch.zeros(len(all_pairs(p, task)), dtype=torch.bool)
    mask[torch.from_numpy(split_indices(len(mask), seed, frac_train)[1])] = True
    return mask


def answered_inputs(params: dict[str, torch.Tensor], p: int, task: str, token: int) -> torch.Tensor:
    """(p²,) bool: the inputs of ``task`` at ``token`` the model answers correctly (``neuron_use.answered``)."""
    return neuron_use.answered(params, config_of(params, p), task, token)


def neuron_use_overlaps(sides: dict[int, tuple[UseSide, UseSide]], p: int, label: str, n_draws: int,
                        seed: int, inputs: dict[int, tuple[torch.Tensor, torch.Tensor]] | None = None,
                        answered_only: bool = True) -> contract.NeuronUseOverlap:
    """Per seed, the overlap of the neurons two sides use (``analysis.neuron_use``): one model's two
    tasks each at its own token, or two models on one task. Each side's use is the mean over the
    inputs ``inputs`` marks for it (per seed, one mask per side; default every input), of those its
    model answers correctly (``answered_only``; False: all of them, a sensitivity check). The null
    relabels the second side's neurons (``n_draws`` seeded draws, the seed's own stream); ``p_null``
    counts the draws at or above the observed overlap, with the observed one among them. A side
    left with no input has no use: its seed's overlap is NaN."""
    out = {key: {} for key in ("overlap", "chance", "p_null", "corrected", "accuracy", "dropped_share")}
    for s, pair in sides.items():
        uses, dropped, empty = [], [], False
        for i, (params, task, token, _) in enumerate(pair):
            cfg = config_of(params, p)
            attribution = neuron_use.direct_attribution(params, cfg, task, token)
            on = torch.ones(len(attribution), dtype=torch.bool) if inputs is None else inputs[s][i]
            if answered_only:
                on = on & neuron_use.answered(params, cfg, task, token)
            empty |= not bool(on.any())
            uses.append(neuron_use.neuron_use(attribution, on=on))
            dropped.append(neuron_use.dropped_share(attribution, on=on))
        out["accuracy"][int(s)] = [float(side[3]) for side in pair]
        out["dropped_share"][int(s)] = dropped
        if empty or any(float(u.sum()) == 0 for u in uses):   # no input, or no neuron adds to the margin
            for key in ("overlap", "chance", "p_null", "corrected"):
                out[key][int(s)] = math.nan
            continue
        observed = neuron_use.use_overlap(*uses)
        null = neuron_use.overlap_null(*uses, n_draws=n_draws, seed=seed + int(s))
        out["overlap"][int(s)] = observed
        out["chance"][int(s)] = float(null.mean())
        out["p_null"][int(s)] = float((1 + (null >= observed - 1e-12).sum()) / (1 + len(null)))
        out["corrected"][int(s)] = neuron_use.chance_corrected(observed, null)
    return contract.typed(contract.NeuronUseOverlap, {"what": label, "n_draws": n_draws, **out})


def use_display(found: dict[str, contract.NeuronUseOverlap]) -> pd.DataFrame:
    """The neuron-use overlaps per comparison: per seed the overlap (chance's mean), the chance-corrected
    overlap, the null's p, the two sides' end accuracy and the share the clamp dropped."""
    rows = []
    for label, u in found.items():
        for s in u.overlap:
            rows.append({"comparison": label, "seed": s, "overlap": u.overlap[s], "chance": u.chance[s],
                         "corrected": u.corrected[s], "p (null)": u.p_null[s],
                         "accuracy": " / ".join(f"{100 * a:.1f} %" for a in u.accuracy[s]),
                         "dropped by the clamp": " / ".join(f"{100 * d:.1f} %" for d in u.dropped_share[s])})
    return pd.DataFrame(rows)


def share_range(shares) -> str:
    """'44-84 %' over runs, '71 %' when they agree to the percent."""
    low, high = round(100 * min(shares)), round(100 * max(shares))
    return f"{low} %" if low == high else f"{low}-{high} %"


# --- the tests of chapters 13-16 as one family ------------------------------------------------------


# The family's rows for the design document's three future-work hypotheses: the audit (claims.yaml,
# paper_section future-work) names them, and judges each on its row's Holm p within the family.
REPLAY_HYPOTHESIS_TEST = "14 hypothesis: replay helps grokked more than memorized"
MULTITASK_HYPOTHESIS_TEST = "15 hypothesis: shared circuits in multi-task training"
SIMILARITY_HYPOTHESIS_TEST = "16 hypothesis: retention scales with similarity"
HYPOTHESIS_TESTS = (REPLAY_HYPOTHESIS_TEST, MULTITASK_HYPOTHESIS_TEST, SIMILARITY_HYPOTHESIS_TEST)
# The family's other rows, by what they test (the article's values read them by these names).
NEW_TOKEN_TEST = "13 new token: random column vs copied '='"
TOGETHER_TEST = "15 together: addition vs subtraction"


def sequential_speedup_test(condition: str) -> str:
    return f"13 sequential speed-up: random vs {condition}"


def replay_speed_test(condition: str) -> str:
    return f"14 replay speed: no replay vs replay, {condition}"


def replay_gain_test(condition: str) -> str:
    return f"14 replay's gain in addition: {condition}"


def similarity_speedup_test(target: str) -> str:
    return f"16 speed-up: random vs grokked, {target}"


def reuse_test(target: str) -> str:
    return f"16 frequency reuse: {target}"


# An effect's value under no effect. "difference": of shares (accuracies); "overlap difference": of
# chance-corrected overlaps, not a share (the audit states it as a value, not a percentage); "trend": a mean rho.
NULLS = {"ratio": 1.0, "difference": 0.0, "overlap difference": 0.0, "trend": 0.0}


def page_null(n_seeds: int, n_columns: int) -> float:
    """Page's L expected by chance (no trend): n k (k + 1)^2 / 4 for n rows ranked over k columns."""
    return n_seeds * n_columns * (n_columns + 1) ** 2 / 4


def _row(test: str, chapter: str, effect: str, estimate, low, high, n: int, p, bound: str | None = None,
         null=None) -> dict:
    return {"test": test, "chapter": chapter, "effect": effect, "estimate": estimate, "ci_low": low, "ci_high": high,
            "n": n, "bound": bound, "null": NULLS.get(effect, null), "p": p}


def every_pair_a_bound(s: contract.SpeedUp) -> bool:
    """Whether each of a speed-up's pairs has a run that never got there by the cap: every ratio is
    then only a bound, and a t-interval or test over them states a precision the data do not have."""
    bounds = [s.per_seed_bound.get(seed) for seed, r in s.per_seed.items() if r is not None and not pd.isna(r)]
    return bool(bounds) and all(bounds)


def _speed_row(test: str, chapter: str, s: contract.SpeedUp | None) -> dict | None:
    if s is None or every_pair_a_bound(s):
        return None
    return _row(test, chapter, "ratio", s.geometric_mean, s.ci_low, s.ci_high, s.n_pairs, s.p, s.bound)


def _difference_row(test: str, chapter: str, d: contract.PairedDifference) -> dict:
    return _row(test, chapter, "difference", d.mean, d.ci_low, d.ci_high, d.n_pairs, d.p)


def _hypothesis_row(test: str, chapter: str, h: contract.HypothesisVerdict, effect: str, null=None) -> dict:
    return _row(test, chapter, effect, h.estimate, h.ci_low, h.ci_high, h.n, h.p, null=null)


def _sharing_row(test: str, chapter: str, f: contract.FrequencySharing) -> dict:
    return _row(test, chapter, "shared", f.total_shared, math.nan, math.nan, f.n_seeds, f.p_null)


def task_family_rows(task_tokens: contract.TaskTokens, replay: contract.Replay, multitask: contract.Multitask,
                     similarity: dict) -> list[dict]:
    """One row per question of chapters 13-16 (one test each). Left out, as descriptive or as the
    same data twice: the gap in epochs (the same pairs as 'together'), the frequency Jaccard and
    sharing of one model's two tokens (equal by construction), random init's replay gain (it had no
    addition to keep), the random table's speed-up (it cannot generalise; its memorising is shown
    apart), the random-init runs' frequency reuse (the null of the grokked runs'), and chapter 16's
    subtraction speed-up (the runs of chapter 13's grokked speed-up); and, as untestable, a speed-up
    whose every pair is a bound (``every_pair_a_bound``: its chapter gives the per-seed bounds).
    ``similarity``: chapter 16's ``speedups``, ``reuse`` and ``hypothesis``, as the chapter computes them."""
    rows = [_speed_row(sequential_speedup_test(c), "13-task-tokens", s) for c, s in task_tokens.speedups.items()]
    rows.append(_speed_row(NEW_TOKEN_TEST, "13-task-tokens", task_tokens.new_token_copy))
    rows += [_speed_row(replay_speed_test(c), "14-replay", s) for c, s in replay.speed.items()]
    rows += [_difference_row(replay_gain_test(c), "14-replay", d)
             for c, d in replay.retention_gain.items() if c != "random"]
    rows.append(_hypothesis_row(REPLAY_HYPOTHESIS_TEST, "14-replay", replay.hypothesis, "difference"))
    rows.append(_speed_row(TOGETHER_TEST, "15-multitask", multitask.together))
    rows.append(_hypothesis_row(MULTITASK_HYPOTHESIS_TEST, "15-multitask", multitask.hypothesis, "overlap difference"))
    rows += [_speed_row(similarity_speedup_test(t), "16-similarity", s)
             for t, s in similarity["speedups"].items() if t not in ("subtract", "random")]
    rows += [_sharing_row(reuse_test(t), "16-similarity", f) for t, f in similarity["reuse"].items()]
    rows.append(_hypothesis_row(SIMILARITY_HYPOTHESIS_TEST, "16-similarity", similarity["hypothesis"], "trend"))
    return [r for r in rows if r is not None]


def task_family(rows: list[dict], other_family: list[float | None] = ()) -> dict[str, contract.TaskFamilyTest]:
    """The rows with Holm's correction over every row with a defined p (``stats.holm``), and, as a
    sensitivity column, over these rows and ``other_family`` (chapter 06's p-values) at once: had
    the new experiments been corrected with the document's claims, would a verdict change?"""
    tests = [r["test"] for r in rows]
    if len(set(tests)) != len(tests):
        raise ValueError(f"a test of chapters 13-16 appears twice: {sorted(t for t in tests if tests.count(t) > 1)}")
    own = [math.nan if r["p"] is None else r["p"] for r in rows]
    adjusted = stats.holm(own) if rows else []
    both = stats.holm(own + [math.nan if p is None else p for p in other_family])[:len(rows)] if rows else []
    return {r["test"]: contract.typed(contract.TaskFamilyTest, {**r, "p_holm": float(q), "p_holm_over_both": float(b)})
            for r, q, b in zip(rows, adjusted, both)}


def task_family_display(found: dict[str, contract.TaskFamilyTest]) -> pd.DataFrame:
    """The family of chapters 13-16 as a table."""
    return pd.DataFrame([{"test": t.test, "n": t.n, "estimate": f"{bound_sign(t.bound)}{t.estimate:.3g}"
                          if t.estimate is not None else "–", "CI low": t.ci_low, "CI high": t.ci_high, "p": t.p,
                          "p (Holm)": t.p_holm, "p (Holm, both families)": t.p_holm_over_both}
                         for t in found.values()])
