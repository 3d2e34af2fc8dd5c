"""Learning dynamics of the transfer runs (protocol item 7), one row per run.

Built on the curve metrics of ``grokpaper.analysis.curves``: the largest single-evaluation jumps of
test accuracy, collapses (falls after reaching 99 %), early and late gains. The design
document ties its jumps to its epochs to 99.9 % ("37.6 % jump at epoch 5,545"), so we also
measure the jump *into* the evaluation where each run first reached the highest threshold.
Accuracies are fractions; jumps and gains are differences of fractions (0.376 = 37.6 points).
"""

from __future__ import annotations

import pandas as pd

from grokpaper.analysis import curves, stats
from grokpaper.paper import contract
from grokpaper.paper.contract import jump_into_column, reached_at_column


def jump_into(curve: pd.DataFrame, epoch: int | None, metric: str = "test_acc") -> float | None:
    """Change of ``metric`` from the evaluation before ``epoch`` to ``epoch`` (None when
    ``epoch`` is None, i.e. never reached, or is the first evaluation)."""
    if epoch is None:
        return None
    values = curve.set_index("epoch")[metric]
    if epoch not in values.index:
        raise ValueError(f"epoch {epoch} was not evaluated in this curve")
    i = values.index.get_loc(epoch)
    return None if i == 0 else float(values.iloc[i] - values.iloc[i - 1])


# A collapse is counted only once a run has learned the task: a fall after reaching this test accuracy.
COLLAPSE_AFTER = 0.99


def run_dynamics(curve: pd.DataFrame, *, early_epochs: int, late_epochs: int, collapse_drop: float,
                 threshold: float, after_reaching: float = COLLAPSE_AFTER) -> dict:
    """Dynamics of one test-accuracy curve: the largest single-evaluation jump (size, epoch),
    the jump into the first evaluation at ``threshold``, the collapses after reaching
    ``after_reaching`` (count, largest drop, unrecovered), and the early / late gains."""
    top = curves.largest_jumps(curve, k=1)
    falls = curves.collapses(curve, drop=collapse_drop, after_reaching=after_reaching)
    gains = curves.early_late_gains(curve, early_epochs, late_epochs)
    at = curves.epochs_to_threshold(curve, threshold)
    return {
        "largest jump": float(top["jump"].iloc[0]) if len(top) else 0.0,
        "largest jump at": int(top["epoch"].iloc[0]) if len(top) else None,
        reached_at_column(threshold): at,
        jump_into_column(threshold): jump_into(curve, at),
        "collapses": len(falls),
        "largest collapse": float(falls["drop"].max()) if len(falls) else None,
        "unrecovered collapses": int(falls["recovery_epoch"].isna().sum()) if len(falls) else 0,
        "early gain": gains["early_gain"],
        "early window": f"{gains['early_from']}-{gains['early_to']}",
        "late gain": gains["late_gain"],
        "late window": f"{gains['late_from']}-{gains['late_to']}",
    }


def dynamics_table(runs, *, early_epochs: int, late_epochs: int, collapse_drop: float,
                   threshold: float) -> pd.DataFrame:
    """``run_dynamics`` of every transfer run (objects with ``seed``, ``condition``, ``curve``),
    one row per run, labelled by seed and condition."""
    rows = [{"seed": r.seed, "condition": r.condition,
             **run_dynamics(r.curve, early_epochs=early_epochs, late_epochs=late_epochs,
                            collapse_drop=collapse_drop, threshold=threshold)}
            for r in runs]
    return pd.DataFrame(rows)


SUMMARISED = ("largest jump", "largest jump at", "early gain", "late gain", "collapses")


def condition_summary(table: pd.DataFrame, conditions, threshold: float, confidence: float,
                      n_boot: int) -> dict[str, contract.DynamicsSummary]:
    """Per condition: ``stats.describe`` over its runs of each quantity of ``SUMMARISED`` and of
    the jump into ``threshold`` (the table's), and the runs with at least one collapse."""
    out = {}
    for c in conditions:
        rows = table[table["condition"] == c]

        def describe(column, rows=rows):
            values = [None if pd.isna(v) else v for v in rows[column]]
            return contract.described(stats.describe(values, labels=rows["seed"].tolist(), confidence=confidence,
                                                     n_boot=n_boot))

        out[c] = contract.DynamicsSummary(
            largest_jump=describe("largest jump"), largest_jump_at=describe("largest jump at"),
            early_gain=describe("early gain"), late_gain=describe("late gain"), collapses=describe("collapses"),
            jump_into_threshold=describe(jump_into_column(threshold)),
            runs_with_a_collapse=int((rows["collapses"] > 0).sum()), n_runs=len(rows))
    return out


def summary_frame(summary: dict[str, contract.DynamicsSummary], threshold: float) -> pd.DataFrame:
    """The per-condition summary as a display table: mean (sd) and median per quantity."""
    rows = []
    for cond, entry in summary.items():
        quantities = {**{q: getattr(entry, contract.field_of(contract.DynamicsSummary, q)) for q in SUMMARISED},
                      jump_into_column(threshold): entry.jump_into_threshold}
        for quantity, d in quantities.items():
            rows.append({"condition": cond, "quantity": quantity,
                         "runs": f"{d.n_reached}/{d.n_total}", "mean": d.mean, "sd": d.sd,
                         "CI low": d.ci_low, "CI high": d.ci_high, "median": d.median,
                         "min": d.min, "max": d.max})
    return pd.DataFrame(rows)


__all__ = ["jump_into", "run_dynamics", "dynamics_table", "condition_summary", "summary_frame",
           "SUMMARISED", "COLLAPSE_AFTER"]
