"""The family of hypothesis tests the paper reports, one test per question, each with its effect
and interval, and Holm's correction over the whole family.

The design is paired by seed: every condition of a seed starts from the same split and the same
initial weights (or from a source trained from them). So conditions are compared within seeds:

* **Epochs to the highest threshold, first reached** (the primary time-to-threshold; positive,
  skewed, censored at the cap): the per-seed log ratio ``log(E_a / E_b)``; the effect is the
  geometric-mean ratio with its t-interval, the test a paired t-test on the log ratios
  (``stats.paired_log_ratio``). A censored run enters at the cap, which makes the ratio a bound
  (said in ``bound`` and ``note``); a pair censored on both sides is left out. Welch's t on log
  epochs and on raw epochs (unpaired, censored runs at the cap) are sensitivity analyses of the
  same hypotheses. The *sustained* epoch answers the same question again; it is a secondary
  result (``secondary``), reported outside the family and its correction.
* **Accuracy at epoch 100 and the circuits' mean fraction explained**: the per-seed difference
  ``a - b``; a paired t-test, with Welch's t as sensitivity.
* **Early accuracy and convergence**: Spearman's rho of test accuracy at epoch 100 against epochs
  to the highest threshold over all runs (censored runs ranked at the cap), and one test of a
  relation *within* conditions: the mean within-condition rho against its null with early
  accuracy permuted within each condition (``stats.stratified_permutation_spearman``). The rho of
  each condition alone is descriptive (``secondary``).
* **Controls and transplants** (chapter 12): each against random initialisation, and the two that
  carry the source's embeddings against the grokked transfer, on epochs to the highest threshold
  (first reached) with the paired log ratio above.
* **Frequency reuse**: the key frequencies a model shares with its own seed's grokked source
  against a hypergeometric null (``circuits.frequency_reuse``), and whether a memorized source or
  the random init is closer to its own seed's grokked source than to other seeds'
  (``circuits.seed_matching``).

Left out because their answer is fixed by construction: the source-task (addition) accuracy after
transfer, and its tests against chance or against a perfect subtraction model. With the same input
``[a, b, =]`` for both tasks, a model that does subtraction answers addition correctly exactly on
the pairs with b = 0 (Methods); the retention chapter derives and checks this without a test.

``family(evidence, confidence)`` runs them all and adds ``p_holm``: Holm over every test with a
defined p (its size is stated with the results), and the same correction for each sensitivity
column. Each row carries ``data``, a digest of the values the test compares, so that two tests
on the same data cannot both enter the family (``tests/test_inference.py``). Everything is
computed from the per-run tables of ``evidence``, so the audit can recompute the family without
the runs that never converged.
"""

from __future__ import annotations

import hashlib
import itertools
import math

import numpy as np
import pandas as pd
from scipy import stats as sps

from grokpaper.analysis import stats
from grokpaper.core.study import CONDITIONS, CONTROLS
from grokpaper.paper import circuits, contract, multiseed, relearning
from grokpaper.paper.contract import (
    CIRCUIT_QUANTITY,
    EARLY,
    FIRST,
    FIRST_LEARNING,
    REUSE_TEST,
    ROAD_TEST,
    SUSTAINED,
    correlation_quantity,
    epochs_column,
    family_test_id,
    relearning_test_id,
)
from grokpaper.paper.evidence import Evidence

# Sources and the random init compared with their own grokked source for frequency reuse, and the
# ones asked whether they are "on the road" to it (own seed's source vs other seeds').
REUSE_MODELS = (*CONDITIONS, "memorized_source", "memorized-fixed_source", "random_init")
ROAD_MODELS = ("memorized_source", "memorized-fixed_source", "random_init")


def pairs(conditions=CONDITIONS) -> list[tuple[str, str]]:
    """Every pair of conditions, the later one first ("random vs grokked"): its ratio of epochs is
    then a speed-up of the earlier one."""
    return [(b, a) for a, b in itertools.combinations(conditions, 2)]


def _by_seed(frame: pd.DataFrame, group: str, name: str, column: str) -> pd.Series:
    rows = frame[frame[group] == name]
    return pd.Series([None if stats.is_missing(v) else float(v) for v in rows[column]],
                     index=[int(s) for s in rows["seed"]], dtype=object)


def _matched(frame: pd.DataFrame, group: str, a: str, b: str, column: str):
    """The seeds both a and b have, with their values (None: censored)."""
    va, vb = _by_seed(frame, group, a, column), _by_seed(frame, group, b, column)
    seeds = [s for s in va.index if s in vb.index]
    return seeds, [va[s] for s in seeds], [vb[s] for s in seeds]


def paired_ratio(ev: Evidence, column: str, numerator: str, denominator: str, confidence: float) -> dict:
    """Per-seed ratio of epochs numerator / denominator (``stats.paired_log_ratio``)."""
    seeds, a, b = _matched(ev.table("transfers"), "condition", numerator, denominator, column)
    if len(seeds) == 0:
        raise KeyError(f"no seed has both {numerator} and {denominator} runs")
    return stats.paired_log_ratio(a, b, labels=seeds, cap=ev.cap, confidence=confidence)


def paired_difference(ev: Evidence, table: str, column: str, a: str, b: str, confidence: float) -> dict:
    """Per-seed difference a - b of a column (no censoring): mean, t-interval, paired t-test."""
    group = "condition" if table in ("transfers", "dynamics") else "model"
    seeds, va, vb = _matched(ev.table(table), group, a, b, column)
    keep = [i for i in range(len(seeds)) if va[i] is not None and vb[i] is not None]
    d = np.array([va[i] - vb[i] for i in keep], dtype=float)
    out = {"n": len(d), "mean": float(d.mean()) if len(d) else math.nan, "ci_low": math.nan, "ci_high": math.nan,
           "t": math.nan, "df": math.nan, "p": math.nan, "note": ""}
    if len(d) < 2:
        out["note"] = "fewer than 2 pairs"
    elif np.ptp(d) == 0:
        out.update(ci_low=out["mean"], ci_high=out["mean"], note="every paired difference is the same: no test")
    else:
        r = stats.one_sample(d.tolist(), 0.0, confidence=confidence)
        out.update(ci_low=r["ci_low"], ci_high=r["ci_high"], t=r["t"], df=r["df"], p=r["p"])
    return out


def _welch(a, b, cap, log: bool) -> float:
    """Welch's t-test p of two groups with censored runs at the cap (on log values if ``log``)."""
    def values(v):
        x = np.array([cap if stats.is_missing(u) else u for u in v], dtype=float)
        return np.log(x) if log else x
    x, y = values(a), values(b)
    if len(x) < 2 or len(y) < 2 or (np.ptp(x) == 0 and np.ptp(y) == 0):
        return math.nan
    return float(stats.quietly(sps.ttest_ind, x, y, equal_var=False).pvalue)


def data_digest(method: str, *values) -> str:
    """A short digest of what a test compares: its method and its input values in order (None and
    NaN alike). Two rows with the same digest test the same data the same way."""
    def plain(v):
        if isinstance(v, (list, tuple, np.ndarray, pd.Series)):
            return [plain(u) for u in list(v)]
        if isinstance(v, dict):
            return {str(k): plain(u) for k, u in sorted(v.items(), key=lambda kv: str(kv[0]))}
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        return round(float(v), 12) if isinstance(v, (int, float, np.integer, np.floating)) else str(v)
    return hashlib.sha256(repr((method, plain(list(values)))).encode()).hexdigest()[:16]


def _pairwise_quantities(ev: Evidence, kinds) -> list[tuple[str, str, str, str]]:
    """(quantity, table, column, effect) of the pairwise comparisons: epochs to the highest
    threshold of each of ``kinds`` (FIRST, SUSTAINED), then (with FIRST) test accuracy at epoch
    100 and the circuits' mean fraction explained."""
    out = [(epochs_column(kind, ev.highest), "transfers", epochs_column(kind, ev.highest), "ratio") for kind in kinds]
    if FIRST in kinds:
        out += [(EARLY, "transfers", EARLY, "difference"), (CIRCUIT_QUANTITY, "circuits", "mean frac", "difference")]
    return out


def pairwise(ev: Evidence, conditions=CONDITIONS, *, confidence: float, kinds=(FIRST,)) -> pd.DataFrame:
    """Every pair of conditions on the headline quantities: epochs to the highest threshold
    (paired log ratio; first reached, the primary measure, unless ``kinds`` says otherwise), test
    accuracy at epoch 100 and the circuits' mean fraction explained (paired difference)."""
    rows = []
    for name, table, column, effect in _pairwise_quantities(ev, kinds):
        if getattr(ev, table) is None:
            continue
        frame = ev.table(table)
        group = "condition" if table == "transfers" else "model"
        for a, b in pairs([c for c in conditions if c in set(frame[group])]):
            seeds, va, vb = _matched(frame, group, a, b, column)
            row = {"test": family_test_id(name, a, b), "group": "pairwise", "quantity": name, "a": a, "b": b,
                   "effect": effect}
            if effect == "ratio":
                r = stats.paired_log_ratio(va, vb, labels=seeds, cap=ev.cap, confidence=confidence)
                row.update(estimate=r["geometric_mean"], ci_low=r["ci_low"], ci_high=r["ci_high"], n=r["n_pairs"],
                           null=1.0, bound=r["bound"], p=r["p"], p_rank=r["p_wilcoxon"], note=r["note"],
                           method="paired t on log ratios", p_welch_log=_welch(va, vb, ev.cap, True),
                           p_welch=_welch(va, vb, ev.cap, False))
            else:
                r = paired_difference(ev, table, column, a, b, confidence)
                row.update(estimate=r["mean"], ci_low=r["ci_low"], ci_high=r["ci_high"], n=r["n"], null=0.0,
                           bound=None, p=r["p"], p_rank=math.nan, note=r["note"], method="paired t on differences",
                           p_welch_log=math.nan, p_welch=_welch(va, vb, None, False))
            row["data"] = data_digest(row["method"], va, vb)
            rows.append(row)
    return pd.DataFrame(rows)


WITHIN = "within conditions"   # the scope of the stratified test of early accuracy and convergence


def _correlation_row(scope: str, column: str, r: dict, data: str) -> dict:
    return {"test": family_test_id(correlation_quantity(column), scope), "group": "correlation",
            "quantity": correlation_quantity(column), "a": scope, "b": None, "effect": "rho",
            "estimate": r["rho"], "ci_low": r.get("ci_low", math.nan), "ci_high": r.get("ci_high", math.nan),
            "n": r["n"], "null": 0.0, "bound": None, "p": r["p"], "p_rank": math.nan, "note": r["note"],
            "method": r["method"], "p_welch_log": math.nan, "p_welch": math.nan, "data": data}


def correlation_family(ev: Evidence, conditions=CONDITIONS, *, confidence: float) -> pd.DataFrame:
    """Test accuracy at epoch 100 against epochs to first reach the highest threshold (censored
    runs ranked at the cap): Spearman's rho over all runs, and one test of a relation within
    conditions (the mean within-condition rho, early accuracy permuted within each condition)."""
    frame = ev.table("transfers")
    column = epochs_column(FIRST, ev.highest)
    if not len(frame):
        return pd.DataFrame()
    labels = [f"{c}/{s}" for c, s in zip(frame["condition"], frame["seed"])]
    pooled = multiseed.run_correlation(frame[EARLY], frame[column], labels=labels, cap=ev.cap, confidence=confidence)
    y = [ev.cap if stats.is_missing(v) else float(v) for v in frame[column]]
    x = [float(v) for v in frame[EARLY]]
    within = stats.stratified_permutation_spearman(x, y, list(frame["condition"]),
                                                   n_permutations=int(ev.params["n_permutations"]))
    rhos = ", ".join(f"{c} {rho:.2f}" for c, rho in within["rho_by_stratum"].items())
    return pd.DataFrame([
        _correlation_row("all runs", column, {**pooled, "method": "Spearman"}, data_digest("Spearman", x, y)),
        _correlation_row(WITHIN, column, {
            "rho": within["statistic"], "p": within["p"], "n": within["n"],
            "note": stats.join_notes(f"mean of the within-condition rhos ({rhos}); early accuracy permuted within "
                                     f"each condition, {within['n_permutations']:,} seeded draws", within["note"]),
            "method": "stratified permutation (mean within-condition Spearman rho)"},
            data_digest("stratified permutation", x, y, list(frame["condition"]))),
    ])


def within_condition_correlations(ev: Evidence, conditions=CONDITIONS, *, confidence: float) -> pd.DataFrame:
    """Spearman's rho of early accuracy against epochs to first reach the highest threshold in
    each condition alone (descriptive; the family tests them together, ``correlation_family``)."""
    frame = ev.table("transfers")
    column = epochs_column(FIRST, ev.highest)
    rows = []
    for c in conditions:
        rows_ = frame[frame["condition"] == c]
        if not len(rows_):  # every run of the condition left out (sensitivity without non-converged runs)
            continue
        labels = [f"{c}/{s}" for s in rows_["seed"]]
        r = multiseed.run_correlation(rows_[EARLY], rows_[column], labels=labels, cap=ev.cap, confidence=confidence)
        rows.append(_correlation_row(c, column, {**r, "method": "Spearman"},
                                     data_digest("Spearman", list(rows_[EARLY]), list(rows_[column]))))
    return pd.DataFrame(rows)


def frequency_family(ev: Evidence, confidence: float) -> pd.DataFrame:
    """Key frequencies shared with the own seed's grokked source against the hypergeometric null
    (every transfer condition, the memorized sources, the random init), and for the memorized
    sources and the random init whether their own seed's source is closer than other seeds'."""
    table = ev.table("circuits")
    present = set(table["model"])
    n_candidates = int(ev.params["p"]) // 2
    models = [m for m in REUSE_MODELS if m in present]
    reuse = circuits.frequency_reuse_by_model(table, n_candidates, models=models)
    rows = []
    for m in models:
        r = reuse[m]
        rows.append({"test": family_test_id(REUSE_TEST, m), "group": "frequency",
                     "quantity": REUSE_TEST, "a": m, "b": None,
                     "effect": "shared", "estimate": float(r["observed"]), "ci_low": math.nan, "ci_high": math.nan,
                     "n": len(r["seeds"]), "null": float(r["expected"]), "bound": None, "p": r["p"],
                     "p_rank": math.nan, "method": "hypergeometric, exact sum over seeds",
                     "note": f"{r['observed']} shared of {sum(s['size'] for s in r['seeds'])} key frequencies; "
                             f"{r['expected']:.1f} expected by chance", "p_welch_log": math.nan, "p_welch": math.nan,
                     "data": data_digest("hypergeometric", r["seeds"])})
        match = r.get("seed_matching")
        if m in ROAD_MODELS and match is not None:
            rows.append({"test": family_test_id(ROAD_TEST, m), "group": "frequency",
                         "quantity": "own vs other seeds' grokked sources", "a": m, "b": None, "effect": "difference",
                         "estimate": match["own_mean"] - match["cross_mean"], "ci_low": math.nan, "ci_high": math.nan,
                         "n": len(match["seeds"]), "null": 0.0, "bound": None, "p": match["p"], "p_rank": math.nan,
                         "method": "exact permutation over matchings of seeds",
                         "note": f"mean shared {match['own_mean']:.2f} with the own seed's source vs "
                                 f"{match['cross_mean']:.2f} with other seeds'; smallest possible p {match['min_p']:.3g}",
                         "p_welch_log": math.nan, "p_welch": math.nan, "data": data_digest("seed matching", match)})
    return pd.DataFrame(rows)


COLUMNS = ["test", "group", "quantity", "a", "b", "effect", "estimate", "ci_low", "ci_high", "n", "null", "bound",
           "p", "p_rank", "note", "method", "p_welch_log", "p_welch", "data"]
def relearning_quantity(threshold: float) -> str:
    """The family's quantity of chapter 11's tests, so that ``family_test_id(quantity, a, b)`` is
    their ``relearning_test_id``: 'relearning 95%'."""
    return relearning_test_id(threshold, "a", "b").split(":")[0]


def relearning_family(ev: Evidence, conditions=CONDITIONS, *, confidence: float) -> pd.DataFrame:
    """Chapter 11's questions at its primary threshold (``relearning.primary_threshold``): each
    condition's relearning of the source task against the source's first learning of it, and each
    other condition's relearning against the grokked transfer's (``relearning.relearning_tests``:
    paired log ratios of epochs, each side censored at its own cap: the relearning cap, or the
    source runs' cap for first learning)."""
    table = ev.table("relearning")
    primary = relearning.primary_threshold(ev.params["thresholds"])
    present = [c for c in conditions if c in set(table["condition"])]
    caps = {**dict.fromkeys(present, ev.params["relearn_max_epochs"]), FIRST_LEARNING: ev.params["grokked_max_epochs"]}
    column, method = epochs_column(FIRST, primary), "paired t on log ratios, each side censored at its own cap"
    rows = []
    for t in relearning.relearning_tests(table, primary, present, caps, confidence).values():
        seeds, va, vb = _matched(table, "condition", t.a, t.b, column)
        rows.append({"test": t.test, "group": "relearning", "quantity": relearning_quantity(primary), "a": t.a, "b": t.b,
                     "effect": "ratio", "estimate": t.ratio, "ci_low": t.ci_low, "ci_high": t.ci_high, "n": t.n_pairs,
                     "null": 1.0, "bound": t.bound, "p": t.p, "p_rank": t.p_wilcoxon, "note": t.note, "method": method,
                     "p_welch_log": math.nan, "p_welch": math.nan, "data": data_digest(method, seeds, va, vb)})
    return pd.DataFrame(rows)


# Chapter 12's questions: does a control or transplant reach the top threshold sooner than random
# initialisation (each of them), and does an embedding transplant lose anything against the whole
# grokked source (the two that carry the source's embeddings)?
CONTROL_REFERENCE = "random"
AGAINST_GROKKED = ("embeddings-only", "frozen-embeddings")


def control_pairs(present) -> list[tuple[str, str]]:
    """(a, b) of chapter 12's tests among the conditions ``present``: random vs each control, then
    grokked vs each embedding transplant; each ratio a / b is a speed-up of b."""
    out = [(CONTROL_REFERENCE, c) for c in CONTROLS if c in present]
    return [(a, b) for a, b in out + [("grokked", c) for c in AGAINST_GROKKED if c in present]
            if a in present]


def controls_family(ev: Evidence, *, confidence: float) -> pd.DataFrame:
    """Chapter 12's speed-ups with the main comparison's inference: epochs to the highest threshold,
    first reached, paired by seed (``stats.paired_log_ratio``, a run that never got there censored at
    the cap), for each control and transplant against random initialisation and for the embedding
    transplants against the grokked transfer."""
    table = ev.table("controls")
    column = epochs_column(FIRST, ev.highest)
    rows = []
    for a, b in control_pairs(set(table["condition"])):
        seeds, va, vb = _matched(table, "condition", a, b, column)
        if not seeds:
            continue
        r = stats.paired_log_ratio(va, vb, labels=seeds, cap=ev.cap, confidence=confidence)
        rows.append({"test": family_test_id(column, a, b), "group": "controls", "quantity": column, "a": a, "b": b,
                     "effect": "ratio", "estimate": r["geometric_mean"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                     "n": r["n_pairs"], "null": 1.0, "bound": r["bound"], "p": r["p"], "p_rank": r["p_wilcoxon"],
                     "note": r["note"], "method": "paired t on log ratios", "p_welch_log": _welch(va, vb, ev.cap, True),
                     "p_welch": _welch(va, vb, ev.cap, False), "data": data_digest("paired t on log ratios", va, vb)})
    return pd.DataFrame(rows)


PARTS = (("transfers", pairwise), ("transfers", correlation_family), ("circuits", frequency_family),
         ("relearning", relearning_family), ("controls", controls_family))


def _with_holm(out: pd.DataFrame, confidence: float) -> pd.DataFrame:
    out["p_holm"] = stats.holm(out["p"].astype(float))
    out["confidence"] = confidence
    for column in ("p_welch_log", "p_welch"):
        # The sensitivity test replaces the primary one for its hypotheses; the others keep theirs.
        alternative = out[column].where(out[column].notna(), out["p"]).astype(float)
        out[f"{column}_holm"] = np.where(out[column].notna(), stats.holm(alternative), np.nan)
    return out


def family(ev: Evidence, confidence: float) -> pd.DataFrame:
    """Every test the paper reports (one row each, one per question), effects with intervals at
    ``confidence``, and ``p_holm``: Holm over every test with a defined p; ``p_welch_log_holm``
    and ``p_welch_holm`` apply the same correction to the sensitivity tests. Parts whose chapter
    has no results are left out (KeyError if none has)."""
    if ev.transfers is None:
        raise KeyError("chapter 02-transfer has no results: the statistics family needs the transfer runs")
    frames = [f for table, part in PARTS if getattr(ev, table) is not None and len(f := part(ev, confidence=confidence))]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    return _with_holm(out, confidence)


def secondary(ev: Evidence, confidence: float) -> pd.DataFrame:
    """Results reported beside the family, outside its correction (``p_holm`` NaN): the pairwise
    comparisons of the *sustained* epoch to the highest threshold (the same question as the
    first-reached one, the primary measure) and the correlation within each condition alone."""
    frames = [f for f in (pairwise(ev, confidence=confidence, kinds=(SUSTAINED,)),
                          within_condition_correlations(ev, confidence=confidence)) if len(f)]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    out["p_holm"] = math.nan
    out["confidence"] = confidence
    for column in ("p_welch_log", "p_welch"):
        out[f"{column}_holm"] = math.nan
    return out


def family_numbers(table: pd.DataFrame) -> dict[str, contract.FamilyTest]:
    """The family as saved (chapter 06): {test id: its row}."""
    return {row["test"]: contract.typed(contract.FamilyTest, row) for row in table.to_dict(orient="records")}


def family_size(table: pd.DataFrame) -> int:
    """Number of tests in the family with a defined p (the Holm multiplier of the smallest p)."""
    return int(table["p"].notna().sum())
