"""Inside the transfer (chapter 10): what the probes measured along the probe reruns of the
sources and transfers (``grokpaper.analysis.probes``, ``StoredRun.probes``), one function per
question.

* **Forgetting** (``forgetting_table``): addition from the outputs (``other_test_acc``) and
  inside (``readout_r2_refit_post``: the linear readout of cos/sin of the source's key
  frequencies from the residual stream after the MLP, refitted at each probe), at the start,
  at the matched point (the probe at the first evaluation at the top threshold) and at the end,
  and the first probe epoch at which each fell below half its start.
* **Nanda et al.'s phases** on the sources (``source_phases``), from the learning curve
  (evaluated every ``eval_every`` epochs): memorization ends at the test loss's peak before the
  first evaluation at the top threshold (train accuracy is 100 % well before: test loss still
  rises, as in their memorization phase); cleanup starts at the first epoch after the peak with
  the test loss at or below half the peak (their "test loss drops sharply") and ends at the first
  evaluation at the top threshold; circuit formation lies in between. The phases are continuous,
  so any boundary is a convention: these are ours, stated, and computed the same way on every run.
* **Attention** (``attention_over_time``, ``attention_changes``): a head is focused on an operand
  when its mean weight from "=" on a (or b) is at least ``focus`` (chapter 05's threshold).
* **Movement** (``movement_table``, ``movement_summary``): each matrix's distance from its initial
  weights, relative to their norm, and its net movement per epoch between probes.
* **Circuits** (``circuit_row``): key frequencies, the share of neurons on the source's key
  frequencies and the mean fraction explained, at the start, the matched point and the end.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from grokpaper.analysis import curves, fourier, stats
from grokpaper.core.model import PARAM_NAMES, ModelConfig, init_params
from grokpaper.paper import contract, plots
from grokpaper.paper.report import bound_sign, summary_text

SOURCE = "source"  # the condition label of a source run among the transfer conditions
PHASES = ("memorization", "circuit formation", "cleanup", "after cleanup")
POINTS = ("start", "matched", "end")
ADDITION_ACC, READOUT, READOUT_FROZEN = "other_test_acc", "readout_r2_refit_post", "readout_r2_frozen_post"
EXCLUDED = "excluded_loss_add_source"


@dataclass
class ProbeRun:
    """One probe run as this module reads it: its seed, condition (``SOURCE`` for a source run),
    probe records, learning curve and result (stop reason, snapshots)."""

    seed: int
    condition: str
    probes: pd.DataFrame
    curve: pd.DataFrame
    result: dict

    @property
    def matched_epoch(self) -> int | None:
        """The epoch of the run's snapshot at its first evaluation at the top threshold (None: never)."""
        snapshot = self.result.get("snapshots", {}).get("first_top")
        return None if snapshot is None else int(snapshot["epoch"])


def probe_runs(runs) -> list[ProbeRun]:
    """``ProbeRun`` of each study run (``core.study.Run``: seed, condition, stored) of probe reruns."""
    return [ProbeRun(r.seed, r.condition, r.stored.probes, r.curve, r.result) for r in runs]


def source_probe_runs(sources: dict) -> list[ProbeRun]:
    """``ProbeRun`` of each seed's source probe run (``{seed: StoredRun}``), condition ``SOURCE``."""
    return [ProbeRun(seed, SOURCE, run.probes, run.curve, run.result) for seed, run in sources.items()]


def check_probes(probes: pd.DataFrame, columns=(), what: str = "probes") -> pd.DataFrame:
    """The probe records sorted by epoch, checked: a non-empty table with an ``epoch`` column and
    ``columns`` (ValueError naming the missing ones)."""
    if not isinstance(probes, pd.DataFrame) or probes.empty:
        raise ValueError(f"{what} must be a non-empty DataFrame of probe records, got {type(probes).__name__}")
    missing = [c for c in ("epoch", *columns) if c not in probes.columns]
    if missing:
        raise ValueError(f"{what} lacks the column(s) {missing}; it has {list(probes.columns)[:8]}...")
    return probes.sort_values("epoch", kind="stable").reset_index(drop=True)


def row_at(probes: pd.DataFrame, epoch: int | None) -> pd.Series | None:
    """The probe at ``epoch``, else the last one before it (None for epoch None or before the first)."""
    if epoch is None:
        return None
    probes = check_probes(probes)
    before = probes[probes["epoch"] <= epoch]
    return None if before.empty else before.iloc[-1]


def half_epoch(probes: pd.DataFrame, column: str) -> tuple[float, int | None, bool]:
    """(start, epoch, defined): the value at the first probe, the first later probe epoch at which
    ``column`` is below half of it (None: never, up to the run's end), and whether that is defined
    (a start > 0: there is something to halve)."""
    probes = check_probes(probes, [column])
    values = probes[column].to_numpy(float)
    start = float(values[0])
    if not (math.isfinite(start) and start > 0):
        return start, None, False
    below = np.flatnonzero(values[1:] < start / 2)
    return start, (int(probes["epoch"].iloc[below[0] + 1]) if len(below) else None), True


# ----------------------------------------------------------------------------- runs carried past the cap

def extended_runs_table(extended, committed, top: float, cap: int, differing: dict) -> pd.DataFrame:
    """One row per extended run (``Study.extended_transfers``): where the committed run stood at the
    protocol's cap, the extended run's first evaluation at ``top`` and its last epoch, and how many
    curve values differ from the committed run's up to the cap (``differing``: (seed, condition) ->
    count, from ``Study.rerun_check``)."""
    ends = {(r.seed, r.condition): r for r in committed}
    rows = []
    for run in extended:
        end = ends[(run.seed, run.condition)]
        rows.append({"seed": run.seed, "condition": run.condition,
                     "test acc at cap (%)": 100 * curves.value_at_epoch(end.curve, cap),
                     "first top": curves.epochs_to_threshold(run.curve, top),
                     "last epoch": int(run.curve["epoch"].max()), "stop": run.result.get("stop_reason", ""),
                     "differing up to cap": differing.get((run.seed, run.condition))})
    return pd.DataFrame(rows, columns=["seed", "condition", "test acc at cap (%)", "first top", "last epoch", "stop",
                                       "differing up to cap"])


def extended_differing(checked: pd.DataFrame) -> dict[tuple[int, str], int]:
    """(seed, condition) -> curve values that differ, of each extended run against its committed run
    (the rows of ``Study.rerun_check`` labelled "transfer <condition> seed <seed> extended")."""
    out = {}
    for row in checked.itertuples():
        match = re.fullmatch(r"transfer (\S+) seed (\d+) extended", row.run)
        if match:
            out[(int(match[2]), match[1])] = int(row.differing)
    return out


def extension_tests(committed, extended, top: float, cap: int, extended_cap: int, reference: str,
                    conditions, confidence: float) -> pd.DataFrame:
    """Chapter 06's speed-up test (per-seed ratio of epochs to ``top``, first reached, ``reference``
    over each condition: ``stats.paired_log_ratio``) twice: as at the protocol's cap, and with each
    extended run's epoch in place of its censored one (censoring then at ``extended_cap``). Neither
    replaces the other; the p-values are uncorrected (chapter 06 holds the family's)."""
    epochs = {(r.seed, r.condition): curves.epochs_to_threshold(r.curve, top) for r in committed}
    longer = {**epochs, **{(r.seed, r.condition): curves.epochs_to_threshold(r.curve, top) for r in extended}}
    seeds = sorted({seed for seed, _ in epochs})
    rows = []
    for c in [c for c in conditions if c != reference]:
        for version, values, censor_at in (("entered at the cap", epochs, cap),
                                           ("its extended run's epoch", longer, extended_cap)):
            r = stats.paired_log_ratio([values.get((s, reference)) for s in seeds], [values.get((s, c)) for s in seeds],
                                       labels=seeds, cap=censor_at, confidence=confidence)
            rows.append({"comparison": f"{reference} / {c}", "version": version, "cap": censor_at,
                         "censored": sum(values.get((s, k)) is None for s in seeds for k in (reference, c)),
                         "ratio": r["geometric_mean"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                         "bound": r["bound"], "p": r["p"], "p_wilcoxon": r["p_wilcoxon"], "n_pairs": r["n_pairs"]})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- forgetting

def forgetting_table(runs: list[ProbeRun], from_source=("grokked", "memorized", "memorized-fixed")) -> pd.DataFrame:
    """One row per transfer probe run: addition test accuracy and readout R^2 (refitted; and the
    first probe's fit kept, "frozen") at the start, at the matched point and at the end, and the
    first probe epochs at which each fell below half its start. Half epochs only for conditions
    in ``from_source`` (the random init has no addition to forget)."""
    rows = []
    for run in runs:
        probes = check_probes(run.probes, [ADDITION_ACC, READOUT, READOUT_FROZEN], f"probes of {run.condition} seed {run.seed}")
        matched = row_at(probes, run.matched_epoch)
        last = probes.iloc[-1]
        row = {"seed": run.seed, "condition": run.condition, "last probe": int(last["epoch"]),
               "matched at": run.matched_epoch}
        for name, column in (("addition acc", ADDITION_ACC), ("readout R2", READOUT)):
            start, half, defined = half_epoch(probes, column)
            row[f"{name} start"] = start
            row[f"{name} matched"] = None if matched is None else float(matched[column])
            row[f"{name} end"] = float(last[column])
            counted = run.condition in from_source and defined
            row[f"{name} half at"] = half if counted else None
            row[f"{name} half"] = ("fell" if half is not None else "never") if counted else \
                ("not counted: start <= 0" if run.condition in from_source else "not counted: nothing to forget")
        row["readout R2 frozen end"] = float(last[READOUT_FROZEN])
        rows.append(row)
    return pd.DataFrame(rows)


def _describe(values, labels, confidence: float, n_boot: int) -> contract.Described:
    values = [None if stats.is_missing(v) else float(v) for v in values]
    return contract.described(stats.describe(values, labels=list(labels), confidence=confidence, n_boot=n_boot))


def forgetting_summary(table: pd.DataFrame, conditions, confidence: float, n_boot: int) -> dict[str, contract.Forgetting]:
    """Per condition, ``contract.Forgetting`` over its runs of ``forgetting_table``: a run that
    never reached the matched point, or never fell below half, is censored there."""
    out = {}
    for c in conditions:
        rows = table[table["condition"] == c]
        if rows.empty:
            continue

        def d(column, rows=rows):
            return _describe(rows[column], rows["seed"], confidence, n_boot)

        def half(name, rows=rows):
            counted = rows[rows[f"{name} half"].isin(("fell", "never"))]
            return None if counted.empty else _describe(counted[f"{name} half at"], counted["seed"], confidence, n_boot)

        out[c] = contract.Forgetting(
            n_runs=len(rows), addition_acc_start=d("addition acc start"), addition_acc_matched=d("addition acc matched"),
            addition_acc_end=d("addition acc end"), addition_acc_half_epoch=half("addition acc"),
            readout_start=d("readout R2 start"), readout_matched=d("readout R2 matched"), readout_end=d("readout R2 end"),
            readout_frozen_end=d("readout R2 frozen end"), readout_half_epoch=half("readout R2"),
            readout_half_undefined=int((rows["readout R2 half"] == "not counted: start <= 0").sum()))
    return out


# ----------------------------------------------------------------------------- phases on the sources

def phase_of(epoch: int | None, phases: dict) -> str | None:
    """The phase (``PHASES``) an epoch falls in, given a run's boundaries (``source_phases``)."""
    if epoch is None:
        return None
    if epoch < phases["memorization end"]:
        return PHASES[0]
    if phases["cleanup start"] is None or epoch < phases["cleanup start"]:
        return PHASES[1]
    if phases["cleanup end"] is None or epoch <= phases["cleanup end"]:
        return PHASES[2]
    return PHASES[3]


def source_phases(run: ProbeRun, top: float) -> dict:
    """The phase boundaries of one source run (module docstring) from its curve, the excluded
    loss's peak from its probes, and where its memorized and fixed-epoch snapshots fall (the phase,
    and the restricted and excluded loss at the probe at or before the snapshot)."""
    curve = run.curve
    if not isinstance(curve, pd.DataFrame) or curve.empty or not {"epoch", "test_loss", "test_acc"} <= set(curve.columns):
        raise ValueError(f"the curve of source seed {run.seed} must be a non-empty DataFrame with epoch, test_loss, test_acc")
    probes = check_probes(run.probes, ["restricted_loss_add_source", EXCLUDED], f"probes of source seed {run.seed}")
    grokked = curves.epochs_to_threshold(curve, top)
    window = curve if grokked is None else curve[curve["epoch"] <= grokked]
    peak_at = int(window.loc[window["test_loss"].idxmax(), "epoch"])
    peak = float(window["test_loss"].max())
    after = window[(window["epoch"] > peak_at) & (window["test_loss"] <= peak / 2)]
    cleanup = None if after.empty else int(after["epoch"].iloc[0])
    between = probes[(probes["epoch"] >= peak_at) & (probes["epoch"] <= (grokked if grokked is not None else math.inf))]
    excluded_peak = None if between.empty else int(between.loc[between[EXCLUDED].idxmax(), "epoch"])
    snapshots = run.result.get("snapshots", {})
    train_100 = snapshots.get("memorized", {}).get("epoch")
    phases = {"seed": run.seed, "train 100% at": train_100, "memorization end": peak_at, "peak test loss": peak,
              "cleanup start": cleanup, "cleanup end": grokked, "excluded loss peak": excluded_peak}
    for name in ("memorized", "fixed"):
        epoch = snapshots.get(name, {}).get("epoch")
        at = row_at(probes, epoch)
        phases[f"{name} epoch"] = epoch
        phases[f"{name} phase"] = phase_of(epoch, phases)
        phases[f"{name} probe epoch"] = None if at is None else int(at["epoch"])
        phases[f"{name} restricted loss"] = None if at is None else float(at["restricted_loss_add_source"])
        phases[f"{name} excluded loss"] = None if at is None else float(at[EXCLUDED])
    return phases


def phases_summary(table: pd.DataFrame, fixed_epoch: int, confidence: float, n_boot: int) -> contract.SourcePhases:
    """``contract.SourcePhases`` over the seeds of ``source_phases`` rows."""
    seeds = table["seed"]

    def d(values):
        return _describe(values, seeds, confidence, n_boot)

    def length(a, b):
        return [None if stats.is_missing(x) or stats.is_missing(y) else y - x for x, y in zip(table[a], table[b])]

    def counts(column):
        return {phase: int((table[column] == phase).sum()) for phase in PHASES if (table[column] == phase).any()}

    return contract.SourcePhases(
        train_100_epoch=d(table["train 100% at"]), memorization_end=d(table["memorization end"]),
        cleanup_start=d(table["cleanup start"]), cleanup_end=d(table["cleanup end"]),
        circuit_formation_epochs=d(length("memorization end", "cleanup start")),
        cleanup_epochs=d(length("cleanup start", "cleanup end")), excluded_loss_peak=d(table["excluded loss peak"]),
        memorized_phase=counts("memorized phase"), fixed_phase=counts("fixed phase"), fixed_epoch=fixed_epoch,
        table=table.to_dict(orient="list"))


# ----------------------------------------------------------------------------- attention

def n_heads(probes: pd.DataFrame) -> int:
    """The heads the probes recorded (columns ``attn_h<h>_a_mean``); ValueError if none."""
    heads = sum(f"attn_h{h}_a_mean" in probes.columns for h in range(len(probes.columns)))
    if heads == 0:
        raise ValueError("the probes have no attention columns (attn_h<h>_a_mean)")
    return heads


def head_focus(row: pd.Series, heads: int, focus: float) -> list[str | None]:
    """Per head, the operand ("a" or "b") its mean attention weight from "=" is at least ``focus``
    on, else None."""
    out = []
    for h in range(heads):
        a, b = float(row[f"attn_h{h}_a_mean"]), float(row[f"attn_h{h}_b_mean"])
        out.append("a" if a >= focus else "b" if b >= focus else None)
    return out


def attention_over_time(probes: pd.DataFrame, focus: float) -> pd.DataFrame:
    """Per probe epoch: the share of heads focused on one operand, the mean over heads of the larger
    of the weights on a and b, and the mean over heads of the per-input sd of that weight."""
    probes = check_probes(probes)
    heads = n_heads(probes)
    a = probes[[f"attn_h{h}_a_mean" for h in range(heads)]].to_numpy(float)
    b = probes[[f"attn_h{h}_b_mean" for h in range(heads)]].to_numpy(float)
    sd_a = probes[[f"attn_h{h}_a_sd" for h in range(heads)]].to_numpy(float)
    sd_b = probes[[f"attn_h{h}_b_sd" for h in range(heads)]].to_numpy(float)
    larger = np.maximum(a, b)
    sd = np.where(a >= b, sd_a, sd_b)
    return pd.DataFrame({"epoch": probes["epoch"].to_numpy(), "focused share": (larger >= focus).mean(1),
                         "max operand weight": larger.mean(1), "operand sd": sd.mean(1)})


def attention_changes(runs: list[ProbeRun], conditions, focus: float, confidence: float,
                      n_boot: int) -> dict[str, contract.AttentionOverTime]:
    """Per condition, the heads over its runs focused on one operand at the first and last probe
    and how that changed (kept, switched operand, gained, lost), with per-run summaries."""
    out = {}
    for c in conditions:
        mine = [r for r in runs if r.condition == c]
        if not mine:
            continue
        counts = dict.fromkeys(("heads", "start", "end", "kept", "switched", "gained", "lost"), 0)
        start_w, end_w, end_sd = [], [], []
        for run in mine:
            probes = check_probes(run.probes)
            heads = n_heads(probes)
            first, last = head_focus(probes.iloc[0], heads, focus), head_focus(probes.iloc[-1], heads, focus)
            counts["heads"] += heads
            for f0, f1 in zip(first, last):
                counts["start"] += f0 is not None
                counts["end"] += f1 is not None
                counts["kept"] += f0 is not None and f0 == f1
                counts["switched"] += f0 is not None and f1 is not None and f0 != f1
                counts["gained"] += f0 is None and f1 is not None
                counts["lost"] += f0 is not None and f1 is None
            over = attention_over_time(probes, focus)
            start_w.append(over["max operand weight"].iloc[0])
            end_w.append(over["max operand weight"].iloc[-1])
            end_sd.append(over["operand sd"].iloc[-1])
        seeds = [r.seed for r in mine]
        out[c] = contract.AttentionOverTime(
            heads=counts["heads"], focused_start=counts["start"], focused_end=counts["end"], kept=counts["kept"],
            switched=counts["switched"], gained=counts["gained"], lost=counts["lost"],
            max_operand_start=_describe(start_w, seeds, confidence, n_boot),
            max_operand_end=_describe(end_w, seeds, confidence, n_boot),
            operand_sd_end=_describe(end_sd, seeds, confidence, n_boot))
    return out


# ----------------------------------------------------------------------------- movement

def initial_norms(params: dict[str, torch.Tensor]) -> dict[str, float]:
    """The Frobenius norm of each initial weight matrix, by original name."""
    missing = [n for n in PARAM_NAMES if n not in params]
    if missing:
        raise ValueError(f"params lacks {missing}")
    return {n: float(params[n].double().norm()) for n in PARAM_NAMES}


def initial_params(study, seed: int, condition: str) -> dict[str, torch.Tensor]:
    """The weights a probe run started from: the seed's random init for a source run or a random-init
    transfer (the very weights the seed's source started from), else the source's snapshot."""
    if condition in (SOURCE, "random"):
        return init_params(study.settings.model, torch.Generator().manual_seed(seed))
    return study.source(seed, condition)


def movement_table(probes: pd.DataFrame, norms: dict[str, float]) -> pd.DataFrame:
    """Long table, one row per probe epoch and matrix: ``from init`` (distance from the initial
    weights), ``relative`` (over their norm; NaN for a matrix initialised at zero), and ``rate``:
    the matrix's movement since the previous probe per epoch, relative to the same norm (its net
    drift: over a long interval back-and-forth movement cancels, so late rates are lower bounds)."""
    probes = check_probes(probes, [f"from_init:{n}" for n in norms] + [f"update:{n}" for n in norms])
    epochs = probes["epoch"].to_numpy(float)
    gap = np.diff(epochs, prepend=np.nan)
    frames = []
    for name, norm in norms.items():
        scale = norm if norm > 0 else math.nan
        frames.append(pd.DataFrame({"epoch": epochs.astype(int), "param": name,
                                    "from init": probes[f"from_init:{name}"].to_numpy(float),
                                    "relative": probes[f"from_init:{name}"].to_numpy(float) / scale,
                                    "rate": probes[f"update:{name}"].to_numpy(float) / gap / scale}))
    return pd.concat(frames, ignore_index=True)


def movement_summary(tables: dict[tuple[str, int], pd.DataFrame], conditions, confidence: float,
                     n_boot: int) -> dict[str, contract.Movement]:
    """Per condition over its runs (``tables``: {(condition, seed): movement_table}): each matrix's
    relative distance at the end and the epoch of its largest relative rate, the matrix furthest
    from its start (largest median) and the one whose peak comes first (smallest median epoch)."""
    out = {}
    for c in conditions:
        mine = {seed: t for (cond, seed), t in tables.items() if cond == c}
        if not mine:
            continue
        params = [p for p in pd.unique(next(iter(mine.values()))["param"])
                  if all(t.loc[t["param"] == p, "relative"].notna().any() for t in mine.values())]
        end, peak, peak_rate = {}, {}, {}
        for p in params:
            ends, epochs, rates = [], [], []
            for t in mine.values():
                rows = t[t["param"] == p]
                ends.append(float(rows["relative"].iloc[-1]))
                valid = rows[rows["rate"].notna()]
                best = None if valid.empty else valid.loc[valid["rate"].idxmax()]
                epochs.append(None if best is None else int(best["epoch"]))
                rates.append(math.nan if best is None else float(best["rate"]))
            end[p] = _describe(ends, list(mine), confidence, n_boot)
            peak[p] = _describe(epochs, list(mine), confidence, n_boot)
            peak_rate[p] = float(np.nanmedian(rates)) if np.isfinite(rates).any() else math.nan
        largest = max(params, key=lambda p: end[p].median if end[p].median is not None else -math.inf)
        earliest = min((p for p in params if peak[p].median is not None),
                       key=lambda p: (peak[p].median, -peak_rate[p]), default="")
        out[c] = contract.Movement(relative_end=end, largest_end=largest, peak_rate_epoch=peak, earliest_peak=earliest)
    return out


# ----------------------------------------------------------------------------- circuits

def circuit_row(params: dict[str, torch.Tensor], cfg: ModelConfig, task: str, source_freqs, min_neurons: int) -> dict:
    """The neuron method's picture of one model: its key frequencies (held by >= ``min_neurons``
    alive neurons), the share of alive neurons whose best frequency is one of ``source_freqs``, and
    the mean fraction explained over alive neurons."""
    analysis = fourier.neuron_fourier_analysis(params, cfg, task, min_neurons=min_neurons)
    alive = analysis.neurons[~analysis.neurons["dead"]]
    on_source = alive["best_freq"].isin(list(source_freqs)).sum() if len(alive) else 0
    return {"key freqs": analysis.frequencies(min_neurons), "share on source": float(on_source / max(len(alive), 1)),
            "mean frac": float(analysis.summary["mean_frac_explained"])}


def jaccard(a, b) -> float | None:
    """|a & b| / |a | b| of two frequency sets (None when both are empty)."""
    a, b = set(a), set(b)
    return None if not (a | b) else len(a & b) / len(a | b)


def circuits_summary(table: pd.DataFrame, conditions, confidence: float, n_boot: int) -> dict[str, contract.MatchedCircuits]:
    """Per condition over its runs, ``contract.MatchedCircuits`` of the ``circuit_row`` table (one row
    per run and point: ``seed``, ``condition``, ``point``, ``epoch``, ``key freqs``, ``share on
    source``, ``mean frac``; a run that never reached the matched point has no row there)."""
    out = {}
    for c in conditions:
        mine = table[table["condition"] == c]
        if mine.empty:
            continue
        seeds = [int(s) for s in dict.fromkeys(mine["seed"])]

        def at(point, column, mine=mine, seeds=seeds):
            rows = mine[mine["point"] == point].set_index("seed")
            return [rows.at[s, column] if s in rows.index else None for s in seeds]

        key_freqs = {point: {int(s): [int(k) for k in f] for s, f in zip(seeds, at(point, "key freqs")) if f is not None}
                     for point in POINTS}
        jac = [None if f is None or g is None else jaccard(f, g) for f, g in zip(at("matched", "key freqs"), at("end", "key freqs"))]
        out[c] = contract.MatchedCircuits(
            n_runs=len(seeds), n_matched=int((mine["point"] == "matched").sum()),
            matched_epoch=_describe(at("matched", "epoch"), seeds, confidence, n_boot), key_freqs=key_freqs,
            n_key_freqs={p: _describe([None if f is None else len(f) for f in at(p, "key freqs")], seeds, confidence, n_boot)
                         for p in POINTS},
            share_on_source={p: _describe(at(p, "share on source"), seeds, confidence, n_boot) for p in POINTS},
            mean_frac={p: _describe(at(p, "mean frac"), seeds, confidence, n_boot) for p in POINTS},
            jaccard_matched_end=_describe(jac, seeds, confidence, n_boot))
    return out


def runs_table(runs: list[ProbeRun]) -> pd.DataFrame:
    """One row per probe run: seed, condition, why it stopped, epochs trained, the matched point's
    epoch and the number of probes."""
    return pd.DataFrame([{"seed": r.seed, "condition": r.condition, "stop": r.result.get("stop_reason"),
                          "epochs": r.result.get("epochs_trained"), "first top at": r.matched_epoch,
                          "probes": len(r.probes)} for r in runs])


__all__ = ["ProbeRun", "probe_runs", "source_probe_runs", "check_probes", "row_at", "half_epoch", "forgetting_table",
           "forgetting_summary", "phase_of", "source_phases", "phases_summary", "n_heads", "head_focus",
           "attention_over_time", "attention_changes", "initial_norms", "initial_params", "movement_table",
           "movement_summary", "circuit_row", "jaccard", "circuits_summary", "runs_table", "SOURCE", "PHASES", "POINTS"]


# ----------------------------------------------------------------------------- figures (plots.epoch_grid)

def _frame(epochs, values, scale: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame({"epoch": np.asarray(epochs, float), "value": np.asarray(values, float) * scale})


def forgetting_panels(runs: list[ProbeRun], conditions) -> dict:
    """``plots.epoch_grid`` arguments of the forgetting figure: addition test accuracy and the
    readout R^2 per condition, a line per seed, a dot at each run's matched point."""
    rows = ["addition test accuracy (%)", "addition readout R² (refit)"]
    panels, points = {}, {}
    for run in runs:
        probes = check_probes(run.probes, [ADDITION_ACC, READOUT])
        matched = row_at(probes, run.matched_epoch)
        for row, column, scale in ((rows[0], ADDITION_ACC, 100.0), (rows[1], READOUT, 1.0)):
            key = (row, run.condition)
            panels.setdefault(key, []).append((_frame(probes["epoch"], probes[column], scale), plots.color(run.condition), "-", 0.9))
            if matched is not None:
                points.setdefault(key, []).append((run.matched_epoch, float(matched[column]) * scale, "0.1", "o"))
    return {"panels": panels, "rows": rows, "columns": list(conditions), "ylabels": dict(zip(rows, rows)),
            "points": points, "hlines": {rows[1]: 0.0},
            "legend": {"one line per seed": ("0.4", "-"), "first evaluation at the top threshold": ("0.1", "o")}}


COLORS = plots.OKABE_ITO
SOURCE_LOSSES = {"train loss": ("train_loss", "0.15", "-"), "test loss": ("test_loss", "0.15", "--"),
                 "restricted loss": ("restricted_loss_add_source", COLORS["blue"], "-"),
                 "excluded loss": (EXCLUDED, COLORS["vermillion"], "-")}
GINI = {"Gini of W_E's Fourier norms": ("gini_W_E", COLORS["bluish green"], "-"),
        "Gini of W_L's Fourier norms": ("gini_W_L", COLORS["bluish green"], "--")}


def progress_panels_sources(runs: list[ProbeRun], phases: pd.DataFrame) -> dict:
    """``plots.epoch_grid`` arguments of Nanda et al.'s progress measures on the sources: a column
    per seed; losses on addition (train and test from the curve, restricted and excluded at the
    source's key frequencies from the probes), the Ginis and the weight norm; the phases shaded
    (``source_phases`` rows in ``phases``), the memorized (first 100 % train) and fixed-epoch
    snapshots as vertical lines."""
    rows = ["loss on addition (nats)", "Gini", "weight norm (L2)"]
    panels, spans, vlines = {}, {}, {}
    columns = [f"seed {r.seed}" for r in runs]
    by_seed = phases.set_index("seed")
    for run, column in zip(runs, columns):
        probes = check_probes(run.probes, ["restricted_loss_add_source", EXCLUDED, "gini_W_E", "gini_W_L", "weight_norm"],
                              f"probes of source seed {run.seed}")
        for c, colour, ls in SOURCE_LOSSES.values():
            table = run.curve if c in ("train_loss", "test_loss") else probes
            panels.setdefault((rows[0], column), []).append((_frame(table["epoch"], table[c]), colour, ls, 1.0))
        for c, colour, ls in GINI.values():
            panels.setdefault((rows[1], column), []).append((_frame(probes["epoch"], probes[c]), colour, ls, 1.0))
        panels[(rows[2], column)] = [(_frame(probes["epoch"], probes["weight_norm"]), "0.15", "-", 1.0)]
        p = by_seed.loc[run.seed]
        first = float(run.curve["epoch"][run.curve["epoch"] > 0].min())
        bounds = [(first, p["memorization end"], PHASES[0]), (p["memorization end"], p["cleanup start"], PHASES[1]),
                  (p["cleanup start"], p["cleanup end"], PHASES[2])]
        for row in rows:
            spans[(row, column)] = [(a, b, plots.PHASE_COLORS[name]) for a, b, name in bounds
                                    if not (stats.is_missing(a) or stats.is_missing(b))]
            vlines[(row, column)] = [(p["memorized epoch"], "0.1", ":"), (p["fixed epoch"], "0.1", "-.")]
    legend = {**{k: (c, ls) for k, (_, c, ls) in SOURCE_LOSSES.items()}, **{k: (c, ls) for k, (_, c, ls) in GINI.items()},
              **{name: (colour, "span") for name, colour in plots.PHASE_COLORS.items()},
              "first 100 % train accuracy (memorized snapshot)": ("0.1", ":"), "fixed-epoch snapshot": ("0.1", "-.")}
    return {"panels": panels, "rows": rows, "columns": columns, "ylabels": dict(zip(rows, rows)), "log_y": [rows[0]],
            "spans": spans, "vlines": vlines, "legend": legend}


TRANSFER_MEASURES = {
    "loss on the new task (nats)": {"train loss": ("train_loss", "0.15", "-"), "test loss": ("test_loss", "0.15", "--"),
                                    "restricted loss, current key frequencies": ("restricted_loss_subtract_current",
                                                                                 COLORS["blue"], "-"),
                                    "excluded loss, current key frequencies": ("excluded_loss_subtract_current",
                                                                               COLORS["vermillion"], "-")},
    "loss on the source task (nats)": {"test loss on the source task": ("other_test_loss", "0.15", "--"),
                                       "restricted loss, source's key frequencies": ("restricted_loss_add_source",
                                                                                     COLORS["sky blue"], "-"),
                                       "excluded loss, source's key frequencies": (EXCLUDED, COLORS["orange"], "-")},
    "Gini": dict(GINI),
    "weight norm (L2)": {"weight norm": ("weight_norm", "0.15", "-")},
}


def progress_panels_transfers(runs: list[ProbeRun], conditions) -> dict:
    """``plots.epoch_grid`` arguments of the progress measures along the transfers: a column per
    condition, a line per seed and measure (``TRANSFER_MEASURES``: the new task's losses with the
    restricted and excluded loss at the run's current key frequencies, the source task's at the
    source's key frequencies, the Ginis and the weight norm)."""
    rows = list(TRANSFER_MEASURES)
    panels = {}
    for run in runs:
        probes = check_probes(run.probes)
        for row, measures in TRANSFER_MEASURES.items():
            for c, colour, ls in measures.values():
                table = run.curve if c in ("train_loss", "test_loss") else probes
                if c not in table.columns:
                    raise ValueError(f"probes of {run.condition} seed {run.seed} lack the column {c!r}")
                panels.setdefault((row, run.condition), []).append((_frame(table["epoch"], table[c]), colour, ls, 0.8))
    legend = {name: (colour, ls) for measures in TRANSFER_MEASURES.values() for name, (_, colour, ls) in measures.items()}
    return {"panels": panels, "rows": rows, "columns": list(conditions), "ylabels": dict(zip(rows, rows)),
            "log_y": rows[:2], "legend": legend, "legend_title": "one line per seed and measure"}


def attention_panels(runs: list[ProbeRun], columns, focus: float) -> dict:
    """``plots.epoch_grid`` arguments of attention against epoch: per group (``SOURCE`` and each
    condition) a line per seed of the share of heads focused on one operand, the mean over heads
    of the larger operand weight, and of that weight's per-input sd."""
    rows = ["heads on one operand (share)", "larger operand weight (mean over heads)", "its per-input sd (mean over heads)"]
    panels = {}
    for run in runs:
        over = attention_over_time(run.probes, focus)
        for row, column in zip(rows, ("focused share", "max operand weight", "operand sd")):
            panels.setdefault((row, run.condition), []).append((_frame(over["epoch"], over[column]), plots.color(run.condition), "-", 0.9))
    return {"panels": panels, "rows": rows, "columns": list(columns), "ylabels": dict(zip(rows, rows)),
            "hlines": {rows[1]: focus}, "legend": {"one line per seed": ("0.4", "-"), f"focus threshold {focus:g}": ("0.4", "--")}}


def movement_panels(tables: dict[tuple[str, int], pd.DataFrame], columns) -> dict:
    """``plots.epoch_grid`` arguments of per-matrix movement: per group the median over seeds (on
    the probe epochs every seed has) of each matrix's distance from its initial weights relative
    to their norm, and of its movement per epoch (matrices initialised at zero left out)."""
    rows = ["||W - W0|| / ||W0||", "movement per epoch / ||W0||"]
    panels, seen = {}, set()
    for column in columns:
        mine = [t for (cond, _), t in tables.items() if cond == column]
        if not mine:
            continue
        for name in pd.unique(mine[0]["param"]):
            for row, value in zip(rows, ("relative", "rate")):
                wide = pd.concat([t[t["param"] == name].set_index("epoch")[value].rename(i) for i, t in enumerate(mine)], axis=1)
                median = wide.dropna().median(axis=1)
                if median.empty:
                    continue
                colour, ls = plots.MATRIX_STYLES[name]
                seen.add(name)
                panels.setdefault((row, column), []).append((_frame(median.index, median.to_numpy()), colour, ls, 1.1))
    legend = {name.split(".")[-1]: style for name, style in plots.MATRIX_STYLES.items() if name in seen}
    return {"panels": panels, "rows": rows, "columns": [c for c in columns if any(k[1] == c for k in panels)],
            "ylabels": dict(zip(rows, rows)), "log_y": rows, "legend": legend,
            "legend_title": "median over seeds, one line per matrix"}


# ----------------------------------------------------------------------------- tables for display

EPOCHS = (0.0, math.inf)  # the range of a count of epochs (or of frequencies): an interval is cut there


def _text(d: contract.Described | None, digits: int = 0, percent: bool = False, bounds=None) -> str:
    return "–" if d is None else summary_text(d, digits, percent, bounds)


def forgetting_display(summary: dict[str, contract.Forgetting]) -> pd.DataFrame:
    """The forgetting summary as a readable table: one row per condition and measure, the mean
    with its interval at the start, the matched point and the end, and the half epoch."""
    rows = []
    for c, f in summary.items():
        rows.append({"condition": c, "measure": "addition test accuracy",
                     "start": _text(f.addition_acc_start, 1, True), "matched point": _text(f.addition_acc_matched, 1, True),
                     "end": _text(f.addition_acc_end, 1, True),
                     "below half its start at epoch": _text(f.addition_acc_half_epoch, bounds=EPOCHS)})
        rows.append({"condition": c, "measure": "readout R² (refit)", "start": _text(f.readout_start, 3, bounds=(-math.inf, 1)),
                     "matched point": _text(f.readout_matched, 3, bounds=(-math.inf, 1)),
                     "end": _text(f.readout_end, 3, bounds=(-math.inf, 1)),
                     "below half its start at epoch": _text(f.readout_half_epoch, bounds=EPOCHS)})
    return pd.DataFrame(rows)


def phases_display(table: pd.DataFrame) -> pd.DataFrame:
    """``source_phases`` rows as a readable table (epochs; the snapshots' phases)."""
    return table[["seed", "train 100% at", "memorization end", "cleanup start", "cleanup end", "excluded loss peak",
                  "memorized phase", "fixed epoch", "fixed phase", "fixed restricted loss", "fixed excluded loss"]].rename(
        columns={"memorization end": "memorization ends (test-loss peak)", "cleanup end": "cleanup ends (first top)",
                 "fixed restricted loss": "restricted loss at the fixed snapshot",
                 "fixed excluded loss": "excluded loss at the fixed snapshot"})


def attention_display(changes: dict[str, contract.AttentionOverTime]) -> pd.DataFrame:
    """Heads focused on one operand at the start and the end of the runs, and how they changed."""
    return pd.DataFrame([{"condition": c, "heads": a.heads, "on one operand at the start": a.focused_start,
                          "at the end": a.focused_end, "same operand": a.kept, "switched operand": a.switched,
                          "became focused": a.gained, "lost focus": a.lost,
                          "larger operand weight at the end": _text(a.max_operand_end, 3, bounds=(0, 1)),
                          "its per-input sd at the end": _text(a.operand_sd_end, 3, bounds=(0, 1))}
                         for c, a in changes.items()])


def movement_display(summary: dict[str, contract.Movement]) -> pd.DataFrame:
    """Per condition and matrix: the relative distance from the start at the end, and the epoch of
    the largest movement per epoch (medians over seeds)."""
    rows = []
    for c, m in summary.items():
        for name, d in m.relative_end.items():
            peak = m.peak_rate_epoch[name]
            rows.append({"condition": c, "matrix": name.split(".")[-1], "||W - W0|| / ||W0|| at the end (median)": d.median,
                         "largest movement per epoch at epoch (median)": peak.median,
                         "note": "; ".join(x for x in ("furthest from its start" if name == m.largest_end else "",
                                                       "moves most first" if name == m.earliest_peak else "") if x)})
    return pd.DataFrame(rows)


def circuits_display(summary: dict[str, contract.MatchedCircuits]) -> pd.DataFrame:
    """Per condition and point (start, matched, end): runs, key frequencies (mean number), share of
    neurons on the source's key frequencies and the mean fraction explained."""
    rows = []
    for c, m in summary.items():
        for point in POINTS:
            rows.append({"condition": c, "point": point, "runs": m.mean_frac[point].n_reached,
                         "key frequencies (mean number)": _text(m.n_key_freqs[point], 1, bounds=EPOCHS),
                         "share on the source's key frequencies": _text(m.share_on_source[point], 1, True),
                         "mean fraction explained": _text(m.mean_frac[point], 3, bounds=(0, 1))})
    return pd.DataFrame(rows)


def extension_display(tests: pd.DataFrame) -> pd.DataFrame:
    """Chapter 10's table of the speed-up test at the protocol's cap and with the extended runs."""
    def ratio(row):
        return f"{bound_sign(row['bound'])}{row['ratio']:.1f}× ({row['ci_low']:.1f}–{row['ci_high']:.1f})"
    return pd.DataFrame({"comparison": tests["comparison"], "a censored run's epoch": tests["version"],
                         "runs censored": tests["censored"], "ratio (CI)": [ratio(r) for _, r in tests.iterrows()],
                         "p, paired t (uncorrected)": tests["p"].map(lambda p: f"{p:.2g}"),
                         "p, Wilcoxon": tests["p_wilcoxon"].map(lambda p: f"{p:.2g}")})
