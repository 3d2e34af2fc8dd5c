"""Tidy tables of the study's runs, one row per run: what the chapters show and test.

Epoch counts are ``None`` where a run never reached a threshold (censored at its cap);
the statistics keep them as censored, never drop them silently.
"""

from __future__ import annotations

import platform

import pandas as pd
import torch

import grokpaper
from grokpaper.analysis import curves, stats
from grokpaper.config import project_root
from grokpaper.paper import contract
from grokpaper.paper.contract import FIRST, SUSTAINED, described, epochs_column, pct
from grokpaper.paper.provenance import git_commit
from grokpaper.paper.report import EPOCH_RANGE, clip_interval

SOURCE_THRESHOLDS = (0.5, 0.9, 0.99, 0.999, 1.0)


def source_epochs_column(threshold: float) -> str:
    """The source table's column of the first epoch at a test-accuracy threshold: 'test 100% at'."""
    return f"test {pct(threshold)} at"


def source_table(sources: dict) -> pd.DataFrame:
    """Per seed: whether the source grokked, its epochs to each test-accuracy threshold, and
    the epoch and accuracies of its memorized and fixed-epoch snapshots."""
    rows = []
    for seed, run in sources.items():
        result, curve = run.result, run.curve
        row = {
            "seed": seed,
            "grokked": result["stop_reason"] != "max_epochs",
            "epochs trained": result["epochs_trained"],
        }
        for t in SOURCE_THRESHOLDS:
            row[source_epochs_column(t)] = curves.epochs_to_threshold(curve, t)
        for name, label in (("memorized", "memorized"), ("fixed", "fixed-epoch")):
            snap = result["snapshots"].get(name)
            row[f"{label} epoch"] = snap["epoch"] if snap else None
            if name == "fixed":  # the memorized snapshot's train accuracy is 100 % by definition
                row[f"{label} train acc"] = snap["train_acc"] if snap else None
            row[f"{label} test acc"] = snap["test_acc"] if snap else None
        rows.append(row)
    return pd.DataFrame(rows)


def transfer_table(runs, thresholds, at_epoch: int = 100) -> pd.DataFrame:
    """Per transfer run: epochs to each threshold (first reached and sustained to the end),
    test accuracy at ``at_epoch``, final accuracies and test loss, the epoch of the highest test
    loss with the test loss and accuracy there, epochs trained and stop reason."""
    rows = []
    for run in runs:
        curve = run.curve
        row = {"seed": run.seed, "condition": run.condition}
        for t in thresholds:
            row[epochs_column(FIRST, t)] = curves.epochs_to_threshold(curve, t)
            row[epochs_column(SUSTAINED, t)] = curves.epochs_to_threshold(curve, t, sustained=True)
        evaluated = set(curve["epoch"])
        row[f"test acc at {at_epoch}"] = curves.value_at_epoch(curve, at_epoch) if at_epoch in evaluated else None
        row["final test acc"] = curves.final_value(curve, "test_acc")
        row["final train acc"] = curves.final_value(curve, "train_acc")
        row["final test loss"] = curves.final_value(curve, "test_loss")
        # Where the test loss peaked (memorising drives it up first): a run still short of the test
        # threshold at the cap is slow rather than stuck if its test loss fell from there to the end.
        peak = int(curve["epoch"].iloc[int(curve["test_loss"].to_numpy().argmax())])
        row["test loss peak at"] = peak
        row["peak test loss"] = curves.value_at_epoch(curve, peak, "test_loss")
        row["test acc at loss peak"] = curves.value_at_epoch(curve, peak, "test_acc")
        row["epochs trained"] = run.result["epochs_trained"]
        row["cap"] = run.stored.config["max_epochs"]
        row["stop reason"] = run.result["stop_reason"]
        rows.append(row)
    return pd.DataFrame(rows)


def by_condition(table: pd.DataFrame, column: str, conditions) -> dict[str, pd.Series]:
    """One Series per condition (indexed by seed) of a column, None kept for censored runs."""
    return {
        c: pd.Series(
            [None if pd.isna(v) else v for v in table.loc[table["condition"] == c, column]],
            index=table.loc[table["condition"] == c, "seed"].tolist(), dtype=object,
        )
        for c in conditions
    }


def threshold_summary(table: pd.DataFrame, thresholds, conditions, *, confidence: float, n_boot: int) -> pd.DataFrame:
    """Per condition and threshold: runs reaching it (first and sustained) and the mean, sd,
    t-interval (truncated at 0 epochs) and median of their epochs. Censored runs are counted, not
    averaged."""
    rows = []
    for t in thresholds:
        for c in conditions:
            for kind in (FIRST, SUSTAINED):
                values = by_condition(table, epochs_column(kind, t), [c])[c]
                d = stats.describe(values.tolist(), labels=values.index.tolist(), confidence=confidence,
                                   n_boot=n_boot)
                # Epochs cannot be negative: a few widely spread seeds give t-intervals below 0.
                low, high = clip_interval(d.ci_low, d.ci_high, EPOCH_RANGE)
                rows.append({
                    "threshold": pct(t), "condition": c, "kind": kind,
                    "reached": f"{d.n_reached}/{d.n_total}", "mean": d.mean, "sd": d.sd,
                    "CI low": None if stats.is_missing(low) else low, "CI high": high,
                    "median": d.median,
                })
    return pd.DataFrame(rows)


def transfer_numbers(table: pd.DataFrame, params: dict, conditions, original_comparison) -> contract.Transfer:
    """The transfer results the article and the claims audit quote (``original_comparison``:
    ``original.comparison_numbers`` of the same table)."""
    def describe(column):
        return {
            c: described(stats.describe(v.tolist(), labels=v.index.tolist(), confidence=params["confidence"],
                                        n_boot=params["n_bootstrap"]))
            for c, v in by_condition(table, column, conditions).items()
        }

    return contract.Transfer(
        n_runs=len(table),
        cap=params["transfer_max_epochs"],
        epochs={kind: {pct(t): describe(epochs_column(kind, t)) for t in params["thresholds"]}
                for kind in (FIRST, SUSTAINED)},
        acc_at_100=describe("test acc at 100"),
        final_test_acc=describe("final test acc"),
        table=table.to_dict(orient="list"),
        original_comparison=contract.typed(contract.OriginalComparison, original_comparison),
    )


def run_records_numbers(records: pd.DataFrame, provenance: dict) -> contract.Runs:
    """The run records the article quotes (chapter 09)."""
    return contract.Runs(n_runs=len(records), total_epochs=int(records["epochs trained"].sum()),
                         devices=sorted(records["device"].unique()),
                         provenance=contract.typed(contract.Provenance, provenance),
                         table=records.to_dict(orient="list"))


def run_records(sources: dict, transfers) -> pd.DataFrame:
    """One row per stored training run, from its store record: kind, condition, seed, config
    hash, epochs trained, stop reason, wall time (of its batch when it finished), device."""
    rows = []
    for seed, run in sources.items():
        rows.append(_record("source", "addition", seed, run))
    for run in transfers:
        rows.append(_record("transfer", run.condition, run.seed, run.stored))
    return pd.DataFrame(rows)


def _record(kind: str, condition: str, seed: int, stored) -> dict:
    result = stored.result
    return {
        "run": kind, "condition": condition, "seed": seed, "config hash": stored.key,
        "epochs trained": result["epochs_trained"], "stop reason": result["stop_reason"],
        "wall s": result["wall_s"], "device": result.get("device", "?"),
        "torch": result.get("torch", "?"), "package": result["package_version"],
    }


def versions_of_runs(records: pd.DataFrame) -> pd.DataFrame:
    """How many runs each (torch, package) version pair trained: one row when a build's runs
    all came from the same code, so the run table need not repeat the versions per run."""
    return records.groupby(["torch", "package"]).size().reset_index(name="runs")


def provenance() -> dict:
    """Versions and the git commit of the code that is running ("-dirty": modified sources)."""
    return {"package": grokpaper.__version__, "git commit": git_commit(project_root()),
            "python": platform.python_version(), "torch": torch.__version__, "machine": platform.machine()}
