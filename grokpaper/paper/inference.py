"""The family of hypothesis tests the paper reports, each with its effect and interval, and
Holm's correction over the whole family.

The design is paired by seed: every condition of a seed starts from the same split and the same
initial weights (or from a source trained from them). So conditions are compared within seeds:

* **Epochs to a threshold** (positive, skewed, censored at the cap): the per-seed log ratio
  ``log(E_a / E_b)``; the effect is the geometric-mean ratio with its t-interval, the test a
  paired t-test on the log ratios (``stats.paired_log_ratio``). A censored run enters at the cap,
  which makes the ratio a bound (said in ``bound`` and ``note``); a pair censored on both sides is
  left out. Welch's t on log epochs and on raw epochs (unpaired, censored runs at the cap) are
  sensitivity analyses of the same hypotheses.
* **Accuracies and circuit metrics**: the per-seed difference ``a - b``; a paired t-test, with
  Welch's t as sensitivity.
* **Retention**: one-sample t-tests of the transferred models' source-task accuracy against
  chance 1/p and against each seed's perfect-transfer score (``retention.retention_tests``).
* **Early accuracy and convergence**: Spearman's rho of test accuracy at epoch 100 against epochs
  to the highest threshold (censored runs ranked at the cap), over all runs and within each
  condition: the pooled rho mixes the difference between conditions with the relation within them.
* **Frequency reuse**: the key frequencies a model shares with its own seed's grokked source
  against a hypergeometric null (``circuits.frequency_reuse``), and whether a memorized source is
  closer to its own seed's grokked source than to other seeds' (``circuits.seed_matching``).

``family(evidence)`` runs them all and adds ``p_holm``: Holm over every test with a defined p
(its size is stated with the results), and the same correction for each sensitivity column.
Everything is computed from the per-run tables of ``evidence``, so the audit can recompute the
family without the runs that never converged.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from grokpaper.analysis import stats
from grokpaper.core.study import CONDITIONS
from grokpaper.paper import circuits, contract, multiseed, retention
from grokpaper.paper.contract import (
    CIRCUIT_QUANTITY,
    EARLY,
    FIRST,
    REUSE_TEST,
    ROAD_TEST,
    SUSTAINED,
    correlation_quantity,
    epochs_column,
    family_test_id,
)
from grokpaper.paper.evidence import Evidence

# Sources and the random init compared with their own grokked source for frequency reuse, and the
# ones asked whether they are "on the road" to it (own seed's source vs other seeds').
REUSE_MODELS = (*CONDITIONS, "memorized_source", "memorized-fixed_source", "random_init")
ROAD_MODELS = ("memorized_source", "memorized-fixed_source", "random_init")


def source_accuracy_quantity(params: dict) -> str:
    """The family's quantity of source-task accuracy after transfer: 'addition accuracy after transfer'."""
    return f"{retention.TASK_NOUN[params.get('source_task', 'add')]} accuracy after transfer"


def retention_quantities(params: dict) -> dict[str, str]:
    """The family's quantities of the retention tests (``retention.retention_tests`` kinds):
    'addition accuracy vs chance', 'addition accuracy vs perfect subtraction'."""
    src = retention.TASK_NOUN[params.get("source_task", "add")]
    dst = retention.TASK_NOUN[params.get("transfer_task", "subtract")]
    return {"vs_chance": f"{src} accuracy vs chance", "vs_perfect_transfer": f"{src} accuracy vs perfect {dst}"}


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


def paired_ratio(ev: Evidence, column: str, numerator: str, denominator: str) -> dict:
    """Per-seed ratio of epochs numerator / denominator (``stats.paired_log_ratio``)."""
    seeds, a, b = _matched(ev.table("transfers"), "condition", numerator, denominator, column)
    if len(seeds) == 0:
        raise KeyError(f"no seed has both {numerator} and {denominator} runs")
    return stats.paired_log_ratio(a, b, labels=seeds, cap=ev.cap)


def paired_difference(ev: Evidence, table: str, column: str, a: str, b: str, confidence: float = 0.95) -> dict:
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
    return float(stats._quiet(__import__("scipy").stats.ttest_ind, x, y, equal_var=False).pvalue)


def pairwise(ev: Evidence, conditions=CONDITIONS, confidence: float = 0.95) -> pd.DataFrame:
    """Every pair of conditions on the headline quantities: epochs to the highest threshold (first
    reached and sustained: paired log ratio), test accuracy at epoch 100, source-task accuracy after
    transfer and the circuits' mean fraction explained (paired difference)."""
    first, sustained = (epochs_column(kind, ev.highest) for kind in (FIRST, SUSTAINED))
    quantities = [(first, "transfers", first, "ratio"),
                  (sustained, "transfers", sustained, "ratio"),
                  (EARLY, "transfers", EARLY, "difference"),
                  (source_accuracy_quantity(ev.params), "retention", "source_acc_test", "difference"),
                  (CIRCUIT_QUANTITY, "circuits", "mean frac", "difference")]
    present = {name: getattr(ev, table) is not None for name, table, _, _ in quantities}
    rows = []
    for name, table, column, effect in quantities:
        if not present[name]:
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
            rows.append(row)
    return pd.DataFrame(rows)


def retention_family(ev: Evidence, conditions=CONDITIONS, confidence: float = 0.95) -> pd.DataFrame:
    """One-sample t-tests of each transfer condition's source-task test accuracy against chance
    1/p and of its excess over each seed's perfect-transfer score against 0."""
    table = ev.table("retention")
    conditions = [c for c in conditions if c in set(table["model"])]
    tests = retention.retention_tests(table, conditions, int(ev.params["p"]), confidence)
    names = retention_quantities(ev.params)
    rows = []
    for _, t in tests.iterrows():
        rows.append({"test": family_test_id(names[t["test"]], t["condition"]), "group": "retention", "quantity": names[t["test"]],
                     "a": t["condition"], "b": None, "effect": "mean", "estimate": t["mean"], "ci_low": t["ci_low"],
                     "ci_high": t["ci_high"], "n": t["n"], "null": t["reference"], "bound": None, "p": t["p"],
                     "p_rank": math.nan, "note": t["note"], "method": "one-sample t", "p_welch_log": math.nan,
                     "p_welch": math.nan})
    return pd.DataFrame(rows)


def correlation_family(ev: Evidence, conditions=CONDITIONS, confidence: float = 0.95) -> pd.DataFrame:
    """Spearman's rho of test accuracy at epoch 100 against epochs to first reach the highest
    threshold (censored runs ranked at the cap): over all runs, and within each condition."""
    frame = ev.table("transfers")
    column = epochs_column(FIRST, ev.highest)
    scopes = [("all runs", frame)] + [(c, frame[frame["condition"] == c]) for c in conditions
                                       if c in set(frame["condition"])]
    rows = []
    for scope, rows_ in scopes:
        if not len(rows_):  # every run of the scope left out (sensitivity without non-converged runs)
            continue
        labels = [f"{c}/{s}" for c, s in zip(rows_["condition"], rows_["seed"])]
        r = multiseed.run_correlation(rows_[EARLY], rows_[column], labels=labels, cap=ev.cap,
                                      confidence=confidence)
        rows.append({"test": family_test_id(correlation_quantity(column), scope), "group": "correlation",
                     "quantity": correlation_quantity(column), "a": scope, "b": None, "effect": "rho",
                     "estimate": r["rho"], "ci_low": r["ci_low"], "ci_high": r["ci_high"], "n": r["n"], "null": 0.0,
                     "bound": None, "p": r["p"], "p_rank": math.nan, "note": r["note"], "method": "Spearman",
                     "p_welch_log": math.nan, "p_welch": math.nan})
    return pd.DataFrame(rows)


def frequency_family(ev: Evidence, confidence: float = 0.95) -> pd.DataFrame:
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
                             f"{r['expected']:.1f} expected by chance", "p_welch_log": math.nan, "p_welch": math.nan})
        match = r.get("seed_matching")
        if m in ROAD_MODELS and match is not None:
            rows.append({"test": family_test_id(ROAD_TEST, m), "group": "frequency",
                         "quantity": "own vs other seeds' grokked sources", "a": m, "b": None, "effect": "difference",
                         "estimate": match["own_mean"] - match["cross_mean"], "ci_low": math.nan, "ci_high": math.nan,
                         "n": len(match["seeds"]), "null": 0.0, "bound": None, "p": match["p"], "p_rank": math.nan,
                         "method": "exact permutation over matchings of seeds",
                         "note": f"mean shared {match['own_mean']:.2f} with the own seed's source vs "
                                 f"{match['cross_mean']:.2f} with other seeds'; smallest possible p {match['min_p']:.3g}",
                         "p_welch_log": math.nan, "p_welch": math.nan})
    return pd.DataFrame(rows)


COLUMNS = ["test", "group", "quantity", "a", "b", "effect", "estimate", "ci_low", "ci_high", "n", "null", "bound",
           "p", "p_rank", "note", "method", "p_welch_log", "p_welch"]
PARTS = (("transfers", pairwise), ("retention", retention_family), ("transfers", correlation_family),
         ("circuits", frequency_family))


def family(ev: Evidence, confidence: float = 0.95) -> pd.DataFrame:
    """Every test the paper reports (one row each), effects with intervals at ``confidence``, and
    ``p_holm``: Holm over every test with a defined p; ``p_welch_log_holm`` and ``p_welch_holm``
    apply the same correction to the sensitivity tests. Parts whose chapter has no results are
    left out (KeyError if none has)."""
    if ev.transfers is None:
        raise KeyError("chapter 02-transfer has no results: the statistics family needs the transfer runs")
    frames = [f for table, part in PARTS if getattr(ev, table) is not None and len(f := part(ev, confidence=confidence))]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    out["p_holm"] = stats.holm(out["p"].astype(float))
    out["confidence"] = confidence
    for column in ("p_welch_log", "p_welch"):
        # The sensitivity test replaces the primary one for its hypotheses; the others keep theirs.
        alternative = out[column].where(out[column].notna(), out["p"]).astype(float)
        out[f"{column}_holm"] = np.where(out[column].notna(), stats.holm(alternative), np.nan)
    return out


def family_numbers(table: pd.DataFrame) -> dict[str, contract.FamilyTest]:
    """The family as saved (chapter 06): {test id: its row}."""
    return {row["test"]: contract.typed(contract.FamilyTest, row) for row in table.to_dict(orient="records")}


def family_size(table: pd.DataFrame) -> int:
    """Number of tests in the family with a defined p (the Holm multiplier of the smallest p)."""
    return int(table["p"].notna().sum())
