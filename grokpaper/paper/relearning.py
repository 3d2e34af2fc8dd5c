"""Relearning (chapter 11): each transferred model trained back on the source task (fresh
optimizer, the seed's split, until the top threshold held, cap ``relearn_max_epochs``), against
the source run's own first learning of the task.

The reference "random init learning the task" is the same number as the source's first learning:
every source run starts from its seed's random init, so there is one reference, not two.

Epochs to a threshold are the first evaluation at which test accuracy reached it (as chapter
02's "first"); a run that never got there is censored at its cap (``relearn_max_epochs`` for
relearning, ``grokked_max_epochs`` for first learning), never dropped. Comparisons are paired
by seed: the geometric mean of the per-seed ratios of epochs with its t-interval, the paired
t-test on the log ratios and the Wilcoxon signed-rank test (``stats.paired_log_ratio``); a
censored run enters at its own cap, which makes its ratio a bound. The tests at the primary
threshold (``primary_threshold``: the document's 95 %) belong to the paper's family: chapter 06
corrects them with every other test (``inference.relearning_family``); here their p-values are
uncorrected (``P_NOTE``).
"""

from __future__ import annotations

import math

import pandas as pd

from grokpaper.analysis import curves, stats
from grokpaper.paper import contract, multiseed, plots
from grokpaper.paper.contract import FIRST, FIRST_LEARNING, epochs_column, pct, relearning_test_id

P_NOTE = "uncorrected here; chapter 06 corrects it with the paper's family of tests"
CORRELATION_P_NOTE = "uncorrected: a descriptive correlation, outside the paper's family of tests"
REFERENCE_NOTE = ("the random-init reference is the source's first learning: every source run starts from its "
                  "seed's random init, so learning the task from random init and the source's first learning are "
                  "the same runs and the same numbers")
READOUT = "readout_r2_refit_post"
QUESTIONS = {
    "first": "does a transferred model relearn the task faster than its source first learned it (from random init)?",
    "grokked": "does the grokked transfer relearn the task faster than this condition's transfer?",
}


def primary_threshold(thresholds) -> float:
    """The threshold the relearning questions are asked at: the document's "epochs to recover 95%
    accuracy" when the profile has 95 %, else its lowest threshold."""
    levels = sorted(thresholds)
    return 0.95 if 0.95 in levels else levels[0]


def relearning_table(relearn_runs, sources: dict, thresholds) -> pd.DataFrame:
    """One row per seed and learner: each relearning run (``seed``, ``condition``, ``curve``,
    ``result``, ``probes``: the readout R^2 at its first probe) and each seed's first learning
    (``condition`` = ``FIRST_LEARNING``, from the source run's curve ``sources[seed].curve``): the
    first epoch at each threshold (None: never), test accuracy at the start and at the end, the
    stop reason and epochs trained."""
    rows = []
    for run in relearn_runs:
        probes = run.probes.sort_values("epoch")
        rows.append({"seed": run.seed, "condition": run.condition, **_learning(run.curve, thresholds),
                     "start readout R2": float(probes[READOUT].iloc[0]) if len(probes) else None,
                     "stop": run.result.get("stop_reason"), "epochs": run.result.get("epochs_trained")})
    for seed, source in sources.items():
        rows.append({"seed": seed, "condition": FIRST_LEARNING, **_learning(source.curve, thresholds),
                     "start readout R2": None, "stop": source.result.get("stop_reason"),
                     "epochs": source.result.get("epochs_trained")})
    return pd.DataFrame(rows)


def _learning(curve: pd.DataFrame, thresholds) -> dict:
    out = {epochs_column(FIRST, t): curves.epochs_to_threshold(curve, t) for t in thresholds}
    return {**out, "start acc": curves.value_at_epoch(curve, int(curve["epoch"].iloc[0])),
            "final acc": curves.final_value(curve)}


def time_to_thresholds(table: pd.DataFrame, thresholds, conditions, cap: float, source_cap: float,
                       confidence: float) -> dict[str, dict[str, contract.TimeToThreshold]]:
    """{pct(threshold): {learner: TimeToThreshold}}: per relearning condition (censored at ``cap``)
    and for first learning (censored at ``source_cap``), the Kaplan-Meier median with its interval,
    the restricted mean to the cap with its log-normal interval, and the geometric mean of the runs
    that reached it (``multiseed.time_to_threshold``)."""
    out: dict = {}
    for t in thresholds:
        column = epochs_column(FIRST, t)
        for learners, limit in ((list(conditions), cap), ([FIRST_LEARNING], source_cap)):
            frame = multiseed.time_to_threshold(table, [column], learners, limit, confidence)
            for _, row in frame.iterrows():
                out.setdefault(pct(t), {})[row["condition"]] = contract.typed(
                    contract.TimeToThreshold, {k: row[k] for k in contract.saved_keys(contract.TimeToThreshold)})
    return out


def _by_seed(table: pd.DataFrame, learner: str, column: str) -> dict:
    rows = table[table["condition"] == learner]
    return {int(s): (None if stats.is_missing(v) else float(v)) for s, v in zip(rows["seed"], rows[column])}


def paired_test(table: pd.DataFrame, threshold: float, a: str, b: str, caps: dict, confidence: float,
                question: str) -> contract.RelearnTest:
    """Epochs to ``threshold`` of learner ``a`` over learner ``b`` (a condition's relearning, or
    ``FIRST_LEARNING``), paired by seed: ``stats.paired_log_ratio`` with each censored run entered
    at its own cap (``caps``: {learner: cap}), so its ratio is a lower bound (a censored) or an
    upper bound (b censored); a pair censored on both sides is left out. p uncorrected."""
    for learner in (a, b):
        if learner not in caps:
            raise ValueError(f"no cap for {learner!r}; caps: {caps}")
    column = epochs_column(FIRST, threshold)
    x, y = _by_seed(table, a, column), _by_seed(table, b, column)
    seeds = [s for s in x if s in y]
    kept = [s for s in seeds if not (x[s] is None and y[s] is None)]
    dropped = [s for s in seeds if s not in kept]
    lower = [s for s in kept if x[s] is None]
    upper = [s for s in kept if y[s] is None]
    test = relearning_test_id(threshold, a, b)
    nan = math.nan
    head = dict(test=test, question=question, a=a, b=b, threshold=threshold, confidence=confidence)
    if not kept:
        return contract.typed(contract.RelearnTest, {
            **head, "n_pairs": 0, "ratio": nan, "ci_low": nan, "ci_high": nan, "bound": None, "t": nan, "df": nan,
            "p": nan, "p_wilcoxon": nan, "note": f"no seed has a value on either side (seeds {seeds}): nothing to compare"})
    result = stats.paired_log_ratio([caps[a] if x[s] is None else x[s] for s in kept],
                                    [caps[b] if y[s] is None else y[s] for s in kept], labels=kept,
                                    confidence=confidence)
    bound = "mixed" if lower and upper else "lower" if lower else "upper" if upper else None
    notes = [f"{a} never reached it by its cap {caps[a]:,.0f} for seeds {lower}: entered at the cap, ratios >=" if lower else "",
             f"{b} never reached it by its cap {caps[b]:,.0f} for seeds {upper}: entered at the cap, ratios <=" if upper else "",
             f"neither reached it for seeds {dropped}: left out" if dropped else "",
             {"lower": "the geometric-mean ratio is a lower bound", "upper": "the geometric-mean ratio is an upper bound",
              "mixed": "censored pairs bound the ratio in both directions"}.get(bound, ""),
             result["note"], f"p {P_NOTE}"]
    return contract.typed(contract.RelearnTest, {
        **head, "n_pairs": result["n_pairs"], "ratio": result["geometric_mean"], "ci_low": result["ci_low"],
        "ci_high": result["ci_high"], "bound": bound, "t": result["t"], "df": result["df"], "p": result["p"],
        "p_wilcoxon": result["p_wilcoxon"], "note": stats.join_notes(*notes)})


def relearning_tests(table: pd.DataFrame, threshold: float, conditions, caps: dict,
                     confidence: float) -> dict[str, contract.RelearnTest]:
    """One test per question at ``threshold``: each condition's relearning against the source's
    first learning, and each other condition's relearning against the grokked one's (ratio > 1:
    grokked relearned sooner). Keys: ``relearning_test_id``."""
    tests = [(c, FIRST_LEARNING, QUESTIONS["first"]) for c in conditions]
    if "grokked" in conditions:
        tests += [(c, "grokked", QUESTIONS["grokked"]) for c in conditions if c != "grokked"]
    out = {}
    for a, b, question in tests:
        result = paired_test(table, threshold, a, b, caps, confidence, question)
        out[result.test] = result
    return out


def readout_correlation(table: pd.DataFrame, threshold: float, conditions, cap: float,
                        confidence: float) -> contract.RelearnCorrelation:
    """Spearman's rho over every relearning run of the addition readout left inside (R^2 at its
    first probe) against its epochs to ``threshold`` (censored runs ranked at ``cap``), with an
    approximate interval (``multiseed.run_correlation``); p uncorrected."""
    rows = table[table["condition"].isin(list(conditions))]
    rows = rows[rows["start readout R2"].notna()]
    labels = [f"{c} seed {s}" for c, s in zip(rows["condition"], rows["seed"])]
    if len(rows) < 3:
        return contract.typed(contract.RelearnCorrelation, {
            "rho": math.nan, "ci_low": math.nan, "ci_high": math.nan, "p": math.nan, "n": len(rows), "censored": [],
            "note": "fewer than 3 runs with a readout: no correlation"})
    r = multiseed.run_correlation(rows["start readout R2"].tolist(), rows[epochs_column(FIRST, threshold)].tolist(),
                                  labels=labels, cap=cap, confidence=confidence)
    return contract.typed(contract.RelearnCorrelation, {
        "rho": r["rho"], "ci_low": r["ci_low"], "ci_high": r["ci_high"], "p": r["p"], "n": r["n"],
        "censored": [str(c) for c in r["censored"]], "note": stats.join_notes(r["note"], f"p {CORRELATION_P_NOTE}")})


def tests_display(tests: dict[str, contract.RelearnTest]) -> pd.DataFrame:
    """The tests as a readable table: test, pairs, ratio with its interval ('>=' / '<=' for a
    bound), the paired t-test's p and the Wilcoxon p, both uncorrected."""
    def effect(t):
        if stats.is_missing(t.ratio):
            return "n/a"
        sign = {"lower": ">= ", "upper": "<= "}.get(t.bound or "", "")
        ci = "" if stats.is_missing(t.ci_low) else f" ({multiseed.level(t.confidence)} CI {t.ci_low:.3g} to {t.ci_high:.3g})"
        return f"{sign}{t.ratio:.3g}×{ci}"

    return pd.DataFrame({"test": [t.test for t in tests.values()], "pairs": [t.n_pairs for t in tests.values()],
                         "ratio a / b": [effect(t) for t in tests.values()],
                         "p (paired t, uncorrected)": [t.p for t in tests.values()],
                         "p (Wilcoxon, uncorrected)": [t.p_wilcoxon for t in tests.values()]})


__all__ = ["relearning_table", "time_to_thresholds", "paired_test", "relearning_tests", "readout_correlation",
           "tests_display", "P_NOTE", "REFERENCE_NOTE", "QUESTIONS"]


def relearning_panels(relearn_runs, sources: dict, conditions, threshold: float) -> dict:
    """``plots.epoch_grid`` arguments of the relearning curves: per condition a line per seed of
    test accuracy on the source task while relearning, and the sources' first learning of it
    (grey, dashed) in every panel; a dashed line at ``threshold``."""
    row = "test accuracy on the source task (%)"
    panels = {}
    for run in relearn_runs:
        panels.setdefault((row, run.condition), []).append(
            (pd.DataFrame({"epoch": run.curve["epoch"], "value": 100 * run.curve["test_acc"]}),
             plots.color(run.condition), "-", 0.9))
    for c in conditions:
        for source in sources.values():
            panels.setdefault((row, c), []).append(
                (pd.DataFrame({"epoch": source.curve["epoch"], "value": 100 * source.curve["test_acc"]}), "0.55", "--", 0.8))
    return {"panels": panels, "rows": [row], "columns": list(conditions), "ylabels": {row: row},
            "hlines": {row: 100 * threshold},
            "legend": {"relearning, one line per seed": ("0.2", "-"), "first learning (the source run), per seed": ("0.55", "--"),
                       f"{100 * threshold:g} % test accuracy": ("0.4", "--")}}


def by_condition(table: pd.DataFrame, column: str, conditions, confidence: float, n_boot: int) -> dict[str, contract.Described]:
    """Per condition, ``stats.describe`` of a column of ``relearning_table`` over its seeds."""
    out = {}
    for c in conditions:
        rows = table[table["condition"] == c]
        values = [None if stats.is_missing(v) else float(v) for v in rows[column]]
        out[c] = contract.described(stats.describe(values, labels=rows["seed"].tolist(), confidence=confidence, n_boot=n_boot))
    return out


def time_display(epochs: dict, thresholds, learners, confidence: float) -> pd.DataFrame:
    """``time_to_thresholds`` as a readable table (``multiseed.time_to_threshold_display``): per
    threshold and learner, reached (k/n), median and restricted mean with their intervals."""
    kind = contract.TimeToThreshold
    fields = {key: contract.field_of(kind, key) for key in contract.saved_keys(kind)}
    rows = [{"metric": f"{pct(t)}", "condition": who, **{key: getattr(epochs[pct(t)][who], name) for key, name in fields.items()}}
            for t in thresholds for who in learners if who in epochs.get(pct(t), {})]
    return multiseed.time_to_threshold_display(pd.DataFrame(rows), confidence)
