"""Chapter 12's logic: what carries the transfer (issue 21).

The control runs (``core.study.CONTROLS``) against the random-init transfers, paired by seed, with
the inference of the main comparison (``stats.paired_log_ratio`` of epochs to the top threshold,
first reached, censored at the cap); and the causal tests of ``analysis.ablation`` on every
transferred model: at the matched point (the control runs' first evaluation at the top threshold,
the "first_top" snapshot) and at the end (the final weights; the study's transfer runs keep only
these), plus each seed's grokked source on addition as the test's positive control.

Every number comes from ``analysis``; this module runs the measures over the study's models, lays
them out one row per model and summarises them per condition for the article (``contract.WhatTransfers``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
import torch

from grokpaper.analysis import ablation, stats
from grokpaper.analysis.fourier import neuron_fourier_analysis
from grokpaper.core.model import ModelConfig
from grokpaper.core.study import CONDITIONS, CONTROLS
from grokpaper.paper import contract
from grokpaper.paper.contract import FIRST, epochs_column
from grokpaper.paper.tables import transfer_table

REFERENCE = "random"  # the condition every speed-up is measured against
SOURCE = "grokked_source"  # the seeds' grokked sources, on addition: the causal tests' positive control
POINTS = {"matched": "first_top", "end": "final"}  # where a model is tested -> the run's weights there


@dataclass
class CausalModel:
    """One model the causal tests measure: its seed, condition, point (``POINTS``), task and weights."""

    seed: int
    condition: str
    point: str
    task: str
    params: dict[str, torch.Tensor]


# --- speed-ups ------------------------------------------------------------------------------------


def epochs_table(transfers, controls, thresholds) -> pd.DataFrame:
    """One row per transfer and control run (``tables.transfer_table``): epochs to each threshold,
    first reached and sustained (a control stops once it held the top threshold, so its sustained
    epoch is held to its stop), final accuracies, epochs trained and stop reason."""
    return transfer_table([*transfers, *controls], thresholds)


def speedups(table: pd.DataFrame, threshold: float, cap: int, conditions, *, confidence: float,
             reference: str = REFERENCE) -> dict[str, contract.SpeedUp]:
    """Per condition: the reference's epochs to ``threshold`` (first reached) over the condition's,
    paired by seed (``stats.paired_log_ratio``, a run that never got there censored at ``cap``)."""
    column = epochs_column(FIRST, threshold)
    missing = {"seed", "condition", column} - set(table.columns)
    if missing:
        raise ValueError(f"table lacks the columns {sorted(missing)} (an epochs_table at threshold {threshold})")
    by_seed = {c: {int(r["seed"]): (None if pd.isna(r[column]) else float(r[column]))
                   for _, r in table[table["condition"] == c].iterrows()} for c in [reference, *conditions]}
    out = {}
    for condition in conditions:
        seeds = [s for s in by_seed[reference] if s in by_seed[condition]]
        if not seeds:
            continue
        result = stats.paired_log_ratio([by_seed[reference][s] for s in seeds], [by_seed[condition][s] for s in seeds],
                                        labels=seeds, cap=cap, confidence=confidence)
        pairs = {p["label"]: p for p in result["pairs"]}
        out[condition] = contract.typed(contract.SpeedUp, {
            "condition": condition, "reference": reference, "n_pairs": result["n_pairs"],
            **{k: result[k] for k in ("geometric_mean", "ci_low", "ci_high", "t", "df", "p", "p_wilcoxon", "bound",
                                      "note")},
            "per_seed": {s: pairs[s]["ratio"] if s in pairs else None for s in seeds},
            "per_seed_bound": {s: pairs[s]["bound"] if s in pairs else None for s in seeds}})
    return out


def speedup_display(found: dict[str, contract.SpeedUp]) -> pd.DataFrame:
    """The speed-ups as a table: n pairs, geometric mean with its interval, the paired t-test's and
    Wilcoxon's p, and the per-seed ratios ('>=' a lower bound, '<=' an upper one)."""
    rows = []
    for c, s in found.items():
        marks = {">=": "≥", "<=": "≤", None: ""}
        rows.append({"condition": c, "n": s.n_pairs, "speed-up": s.geometric_mean, "CI low": s.ci_low,
                     "CI high": s.ci_high, "p (paired t)": s.p, "p (Wilcoxon)": s.p_wilcoxon,
                     "per seed": "; ".join(f"{seed}: {marks[s.per_seed_bound.get(seed)]}{r:.3g}"
                                           if r is not None else f"{seed}: –" for seed, r in s.per_seed.items())})
    return pd.DataFrame(rows)


def speedup_points(found: dict[str, contract.SpeedUp]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The per-seed ratios (condition, seed, ratio, bound) and the summaries (condition, estimate,
    ci_low, ci_high) of the speed-ups, as ``plots.speedup_points`` takes them."""
    points = pd.DataFrame([{"condition": c, "seed": seed, "ratio": r, "bound": s.per_seed_bound.get(seed)}
                           for c, s in found.items() for seed, r in s.per_seed.items() if r is not None],
                          columns=["condition", "seed", "ratio", "bound"])
    summary = pd.DataFrame([{"condition": c, "estimate": s.geometric_mean, "ci_low": s.ci_low, "ci_high": s.ci_high}
                            for c, s in found.items()], columns=["condition", "estimate", "ci_low", "ci_high"])
    return points, summary


# --- the models the causal tests measure ----------------------------------------------------------


def causal_models(sources: dict, transfers, controls, matched, source_task: str, transfer_task: str) -> list[CausalModel]:
    """The models of the causal tests: each seed's grokked source (on ``source_task``), each transfer
    run at its end, each probe rerun of a transfer in ``matched`` at the matched point, and each
    control run at the matched point and at its end (on ``transfer_task``). A run that never got
    to the top threshold has no matched point."""
    models = [CausalModel(seed, SOURCE, "end", source_task, run.params()) for seed, run in sources.items()]
    for run in transfers:
        models.append(CausalModel(run.seed, run.condition, "end", transfer_task, run.params()))
    for run, points in [(run, ("matched",)) for run in matched] + [(run, tuple(POINTS)) for run in controls]:
        for point in points:
            weights = POINTS[point]
            if weights == "final" or weights in run.result["snapshots"]:
                models.append(CausalModel(run.seed, run.condition, point, transfer_task, run.params(weights)))
    return models


def source_key_frequencies(sources: dict, cfg: ModelConfig, source_task: str, min_neurons: int) -> dict[int, list[int]]:
    """Per seed, the grokked source's key frequencies: held by at least ``min_neurons`` alive
    neurons (the neuron method, on the source task)."""
    return {seed: neuron_fourier_analysis(run.params(), cfg, source_task).frequencies(min_neurons)
            for seed, run in sources.items()}


def causal_tables(models: list[CausalModel], sources: dict, key_freqs: dict[int, list[int]], cfg: ModelConfig, *,
                  n_draws: int, focus_threshold: float) -> dict[str, pd.DataFrame]:
    """The causal tests of every model (``analysis.ablation``), one table each: ``ablation`` (per
    model and place: ``ablation_summary``), ``draws`` (every draw's loss), ``heads`` (per model and
    head: ``head_importance`` and what the head reads), ``sign_flip`` (per model, frequency and
    comparison: ``sign_flip_table``, against the seed's grokked source for every model but the
    source itself), all at the seed's grokked-source key frequencies. A seed whose source has no
    key frequency has no ablation and sign-flip rows, nor one whose key frequencies are more than
    half the candidates (too few others to draw as many at random) ablation rows."""
    tables = {"ablation": [], "draws": [], "heads": [], "sign_flip": []}
    for m in models:
        who = {"seed": m.seed, "condition": m.condition, "point": m.point, "task": m.task}
        keys = key_freqs.get(m.seed, [])
        if keys and 2 * len(keys) <= cfg.p // 2:
            draws = ablation.key_frequency_ablation(m.params, cfg, m.task, keys, n_draws=n_draws, seed=m.seed)
            tables["draws"].append(draws.assign(**who))
            summary = ablation.ablation_summary(draws)
            summary["beyond every draw"] = [
                bool((draws[(draws["where"] == w) & (draws["ablated"] == "random")]["loss"] < key).all())
                for w, key in zip(summary["where"], summary["key loss"])]
            tables["ablation"].append(summary.assign(**who, **{"key freqs": " ".join(map(str, keys))}))
        heads = ablation.head_importance(m.params, cfg, m.task)
        reading = ablation.operand_reading(heads, focus_threshold)
        heads["reads"] = [reading["reads"][int(h)] or "both or neither" for h in heads["head"]]
        tables["heads"].append(heads.assign(**who, **{"every head one operand": reading["every_head_one_operand"],
                                                      "both operands read": reading["both_operands_read"]}))
        if keys:
            reference = None if m.condition == SOURCE else sources[m.seed].params()
            flip = ablation.sign_flip_table(m.params, cfg, keys, reference=reference)
            tables["sign_flip"].append(flip.assign(**who))
    return {name: _front(pd.concat(rows, ignore_index=True)) if rows else pd.DataFrame(columns=["seed", "condition"])
            for name, rows in tables.items()}


def _front(table: pd.DataFrame) -> pd.DataFrame:
    """The model's labels (seed, condition, point, task) as the first columns."""
    first = [c for c in ("seed", "condition", "point", "task") if c in table.columns]
    return table[first + [c for c in table.columns if c not in first]]


# --- summaries per condition ----------------------------------------------------------------------


def _median(values) -> float:
    values = pd.to_numeric(pd.Series(values), errors="coerce").dropna()
    return float(values.median()) if len(values) else math.nan


def _groups(table: pd.DataFrame):
    """(condition, point, rows) for each condition and point of a table, conditions in study order."""
    order = [SOURCE, *CONDITIONS, *CONTROLS]
    for condition in sorted(pd.unique(table["condition"]), key=lambda c: order.index(c) if c in order else len(order)):
        for point in POINTS:
            rows = table[(table["condition"] == condition) & (table["point"] == point)]
            if len(rows):
                yield condition, point, rows


def ablation_effects(table: pd.DataFrame) -> dict[str, dict[str, dict[str, contract.AblationEffect]]]:
    """Per condition, point and place of ablation: the ``ablation`` table summarised over seeds."""
    out: dict = {}
    for condition, point, rows in _groups(table):
        for where, part in rows.groupby("where", sort=False):
            out.setdefault(condition, {}).setdefault(point, {})[where] = contract.typed(contract.AblationEffect, {
                "n_models": len(part), "intact_loss": _median(part["intact loss"]), "key_loss": _median(part["key loss"]),
                "random_loss": _median(part["random loss median"]), "intact_accuracy": _median(part["intact accuracy"]),
                "key_accuracy": _median(part["key accuracy"]),
                "random_accuracy": _median(part["random accuracy median"]),
                "n_beyond_every_draw": int(part["beyond every draw"].sum()), "max_p": float(part["p"].max())})
    return out


def ablation_display(table: pd.DataFrame) -> pd.DataFrame:
    """The ablation per condition, point and place: medians over seeds (``ablation_effects``)."""
    rows = []
    for condition, points in ablation_effects(table).items():
        for point, places in points.items():
            for where, e in places.items():
                rows.append({"condition": condition, "point": point, "ablated in": where, "models": e.n_models,
                             "intact loss": e.intact_loss, "key loss": e.key_loss, "random loss": e.random_loss,
                             "key acc": e.key_accuracy, "random acc": e.random_accuracy,
                             "beyond every draw": e.n_beyond_every_draw, "largest p": e.max_p})
    return pd.DataFrame(rows)


SIGN_FLIP_PARTS = {"b vs a": "within", "a vs source": "source_a", "b vs source": "source_b"}  # comparison -> key
MEASURES = {"cos": "cos_similarity_cos", "sin": "cos_similarity_sin", "reflected": "reflected", "fit": "fit",
            "same": "coherence_same", "flipped": "coherence_reflected",
            "gap": "phase_gap"}  # contract.SignFlip's name -> the summary's


def sign_flip_by_model(flips: pd.DataFrame, heads: pd.DataFrame) -> pd.DataFrame:
    """One row per model: ``ablation.sign_flip_summary`` of its sign-flip rows (per comparison the
    mean cosine similarities of the cos and sin columns, the share of frequencies reflected and the
    mean fit) and whether its heads each read one operand and read both."""
    rows = []
    for (seed, condition, point), part in flips.groupby(["seed", "condition", "point"], sort=False):
        s = ablation.sign_flip_summary(part)
        h = heads[(heads["seed"] == seed) & (heads["condition"] == condition) & (heads["point"] == point)]
        row = {"seed": seed, "condition": condition, "point": point,
               "freqs": max(v["n_freqs"] for v in s.values())}
        for comparison, key in SIGN_FLIP_PARTS.items():
            for measure in MEASURES.values():
                row[f"{key} {measure}"] = s[comparison][measure] if comparison in s else math.nan
        row["every head one operand"] = bool(h["every head one operand"].iloc[0])
        row["both operands read"] = bool(h["both operands read"].iloc[0])
        rows.append(row)
    return pd.DataFrame(rows)


def sign_flip_summaries(by_model: pd.DataFrame) -> dict[str, dict[str, contract.SignFlip]]:
    """Per condition and point: ``sign_flip_by_model`` averaged over seeds."""
    out: dict = {}
    for condition, point, rows in _groups(by_model):
        def mean(column, rows=rows):
            values = pd.to_numeric(rows[column], errors="coerce").dropna()
            return float(values.mean()) if len(values) else math.nan

        fields = {f"{key}_{short}": mean(f"{key} {measure}") for key in SIGN_FLIP_PARTS.values()
                  for short, measure in MEASURES.items()}
        out.setdefault(condition, {})[point] = contract.typed(contract.SignFlip, {
            "n_models": len(rows), **fields, "n_every_head_one_operand": int(rows["every head one operand"].sum()),
            "n_both_operands_read": int(rows["both operands read"].sum())})
    return out


def sign_flip_display(by_model: pd.DataFrame) -> pd.DataFrame:
    """The sign-flip statistic per condition and point (``sign_flip_summaries``) as a table: b
    against a within the model, then b against the grokked source's b (a's, kept by the hypothesis,
    in the per-model table)."""
    rows = []
    for c, points in sign_flip_summaries(by_model).items():
        for point, s in points.items():
            rows.append({"condition": c, "point": point, "models": s.n_models,
                         "b vs a: cos": s.within_cos, "b vs a: sin": s.within_sin,
                         "b vs a: same phase": s.within_same, "b vs a: flipped phase": s.within_flipped,
                         "b vs a: phase gap (°)": s.within_gap,
                         "b vs a: reflected": s.within_reflected, "b vs a: fit": s.within_fit,
                         "b vs source: cos": s.source_b_cos, "b vs source: sin": s.source_b_sin,
                         "b vs source: same phase": s.source_b_same, "b vs source: flipped phase": s.source_b_flipped,
                         "heads on one operand": s.n_every_head_one_operand, "a and b read": s.n_both_operands_read})
    return pd.DataFrame(rows)


def head_summaries(heads: pd.DataFrame) -> dict[str, dict[str, contract.HeadImportance]]:
    """Per condition and point: medians over models of the intact loss and of each model's largest
    and smallest loss increase when one head is mean-ablated."""
    out: dict = {}
    for condition, point, rows in _groups(heads):
        per_model = rows.groupby("seed")["loss increase"]
        out.setdefault(condition, {})[point] = contract.typed(contract.HeadImportance, {
            "n_models": int(per_model.ngroups), "intact_loss": _median(rows.groupby("seed")["intact loss"].first()),
            "top_increase": _median(per_model.max()), "least_increase": _median(per_model.min())})
    return out


def head_display(heads: pd.DataFrame) -> pd.DataFrame:
    """Head importance per condition and point (``head_summaries``) as a table."""
    return pd.DataFrame([{"condition": c, "point": point, "models": h.n_models, "intact loss": h.intact_loss,
                          "largest increase": h.top_increase, "smallest increase": h.least_increase}
                         for c, points in head_summaries(heads).items() for point, h in points.items()])


# --- the chapter's numbers ------------------------------------------------------------------------


def what_transfers_numbers(table: pd.DataFrame, found: dict[str, contract.SpeedUp], causal: dict[str, pd.DataFrame],
                           flips: pd.DataFrame, key_freqs: dict[int, list[int]], params: dict, *,
                           focus_threshold: float) -> contract.WhatTransfers:
    """The chapter's numbers (``contract.WhatTransfers``): speed-ups, the causal tests' summaries per
    condition and point, and the per-run and per-model tables."""
    def plain(frame: pd.DataFrame) -> dict:
        return frame.astype(object).where(frame.notna(), None).to_dict(orient="list")

    return contract.WhatTransfers(
        p=params["p"], n_seeds=len(params["seeds"]), cap=params["transfer_max_epochs"],
        confidence=params["confidence"], top_threshold=max(params["thresholds"]), reference=REFERENCE,
        controls=list(CONTROLS), ablation_draws=params["ablation_draws"],
        key_freq_min_neurons=params["probe_min_neurons"], attention_focus_threshold=focus_threshold,
        key_freqs={int(s): [int(k) for k in ks] for s, ks in key_freqs.items()},
        speedups=found, ablation=ablation_effects(causal["ablation"]) if len(causal["ablation"]) else {},
        sign_flip=sign_flip_summaries(flips) if len(flips) else {},
        heads=head_summaries(causal["heads"]),
        epochs_table=plain(table), ablation_table=plain(causal["ablation"]), sign_flip_table=plain(flips),
        head_table=plain(causal["heads"]))
