# ---
# jupyter:
#   grokpaper:
#     title: "06 · Multi-seed statistics"
#     depends_on: [02-transfer, 03-retention, 05-circuits]
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Multi-seed statistics
#
# Every per-run quantity of the study, grouped by initial condition (one value per seed):
# epochs to each test-accuracy threshold on subtraction (first reached and sustained, from
# chapter 02), test accuracy at epoch 100 and at the end, addition accuracy after transfer
# (chapter 03), and the circuit metrics of the neuron Fourier method (chapter 05: mean
# fraction explained per model, distinct frequencies, neurons above 0.5). Per condition we
# give n, mean, sd (ddof 1), the 95 % t-interval (df = n - 1) and a percentile bootstrap
# interval, the CV and the median. Between conditions: Welch's t-test (Welch-Satterthwaite
# df) and the Mann-Whitney U test, Holm-corrected over the three pairs of each quantity, and
# Hedges' g. Shapiro-Wilk per group. The Spearman correlation between test accuracy at epoch
# 100 and epochs to the highest threshold is computed over **all runs**, not over three
# condition means. z-score outliers (ddof 1) are looked for within each condition and over
# all runs, next to the largest |z| that n values can reach at all. Runs that never reached
# a threshold are censored: counted and named, never averaged.

# %% tags=["parameters"]
profile = "smoke"  # params/<profile>.yaml gives every value left as None
p = None
seeds = None
frac_train = None
eval_every = None
device = None
source_task = None
transfer_task = None
lr = None
weight_decay = None
grokked_max_epochs = None
grokked_hold_epochs = None
memorized_fixed_epochs = None
transfer_max_epochs = None
transfer_hold_epochs = None
thresholds = None
checkpoint_every = None
confidence = None
n_bootstrap = None
outlier_z = None

# %%
import pandas as pd

from grokpaper import multiseed, plots, tables
from grokpaper.params import resolve_in_notebook
from grokpaper.report import Results, md_table, save_numbers
from grokpaper.study import CONDITIONS, Study

P = resolve_in_notebook("06-statistics", globals())
R = Results.load()
runs = tables.transfer_table(Study.from_params(P, progress=False).transfers(), P["thresholds"])
highest = f"first {tables.pct(max(P['thresholds']))}"
columns = [f"{kind} {tables.pct(t)}" for t in P["thresholds"] for kind in ("first", "sustained")]
metrics = {c: multiseed.groups(runs, c, CONDITIONS) for c in [*columns, "test acc at 100", "final test acc"]}
metrics["addition test acc"] = multiseed.groups(R["03-retention.table"], "source_acc_test", CONDITIONS, group="model")
circuits = R["05-circuits.neuron_table"]
for column in ("mean frac", "distinct freqs", "distinct freqs >= min", "n > 0.5"):
    metrics[f"circuit: {column}"] = multiseed.groups(circuits, column, CONDITIONS, group="model")

# %%
summary = multiseed.summary(metrics, confidence=P["confidence"], n_boot=P["n_bootstrap"])
tests = multiseed.pairwise(metrics)
normal = multiseed.normality(metrics)
outliers = multiseed.outliers(metrics, threshold=P["outlier_z"])
censored = multiseed.censored_runs({c: metrics[c] for c in columns})
labels = [f"{c}/{s}" for c, s in zip(runs["condition"], runs["seed"])]
correlations = multiseed.early_vs_convergence(runs, [highest, highest.replace("first", "sustained")], labels=labels,
                                              cap=P["transfer_max_epochs"], confidence=P["confidence"])
speedups = {
    f"{num}_over_{den}_{multiseed.metric_key(col)}": multiseed.ratio_of_means(
        metrics[col][num], metrics[col][den], P["confidence"], P["n_bootstrap"], cap=P["transfer_max_epochs"])
    for col in (highest, highest.replace("first", "sustained")) for num, den in (("random", "grokked"), ("random", "memorized"))
}

# %%
#| label: fig-acc100-ci
#| fig-cap: "Test accuracy on subtraction at epoch 100 by initial condition: mean over seeds with its 95 % t-interval (df = n - 1)."
plots.bar_with_ci(summary[summary["metric"] == "test acc at 100"].assign(
    mean=lambda d: 100 * d["mean"], ci_low=lambda d: 100 * d["ci_low"], ci_high=lambda d: 100 * d["ci_high"]),
    group="condition", ylabel="test accuracy at epoch 100 (%), mean and 95 % CI")

# %%
#| label: fig-epochs-ci
#| fig-cap: "Epochs until test accuracy on subtraction first reaches the highest threshold, by initial condition: mean over the runs that reached it, with its 95 % t-interval; the label gives n and the runs censored at the cap (never reached), which are not in the mean."
plots.bar_with_ci(summary[summary["metric"] == highest], group="condition",
                  ylabel=f"epochs to {highest} (mean and 95 % CI)")

# %%
#| label: tbl-seed-summary
#| tbl-cap: "Per quantity and condition: runs with a value (of all runs), mean, sd (ddof 1), 95 % t-interval with its df, 95 % percentile-bootstrap interval, CV (sd / mean) and median. Epochs in epochs, accuracies as fractions."
md_table(summary.assign(runs=lambda d: d["n_reached"].astype(str) + "/" + d["n_total"].astype(str))[
    ["metric", "condition", "runs", "mean", "sd", "df", "ci_low", "ci_high", "boot_low", "boot_high", "cv", "median"]],
    digits=4)

# %%
#| label: tbl-key-tests
#| tbl-cap: "Pairwise comparisons of conditions (a vs b) for the study's headline quantities: epochs to the highest threshold (sustained and first reached), test accuracy at epoch 100, addition accuracy after transfer and the circuits' mean fraction explained. Welch's t with its Welch-Satterthwaite df and p, then Holm-corrected p-values over the three pairs of the quantity for Welch's t and for Mann-Whitney U, and Hedges' g (a minus b). n a, n b: runs with a value. Every quantity: the next table in chapter 06."
key_metrics = [highest.replace("first", "sustained"), highest, "test acc at 100", "addition test acc", "circuit: mean frac"]
md_table(multiseed.pairwise_display(tests, key_metrics), digits=4)

# %%
#| label: tbl-pairwise-tests
#| tbl-cap: "Pairwise comparisons of conditions (a vs b) per quantity: Welch's t with its Welch-Satterthwaite df and p, then Holm-corrected p-values over the three pairs of the quantity for Welch's t and for Mann-Whitney U, and Hedges' g (a minus b). n a, n b: runs with a value."
md_table(multiseed.pairwise_display(tests), digits=4)

# %%
#| label: tbl-normality
#| tbl-cap: "Shapiro-Wilk test per quantity and condition: W, p and n (not computed below n = 3 or for constant groups)."
md_table(normal, digits=4)

# %%
#| label: tbl-correlations
#| tbl-cap: "Spearman correlation over all runs between test accuracy at epoch 100 and epochs to the highest threshold (first reached / sustained): rho, approximate 95 % CI (Fisher z, Bonett-Wright se), p, n and df = n - 2. Censored runs are left out, or (rows 'censored at cap') ranked at the cap, above every run that reached it."
md_table(multiseed.correlation_frame(correlations), digits=4)

# %%
#| label: tbl-key-outliers
#| tbl-cap: "z-score outliers (ddof 1) of the epochs to the highest threshold, within each condition and over all runs: n, the largest |z| observed, the largest |z| n values can reach at all ((n - 1) / sqrt(n)), and the runs above the threshold. 'can flag' is false where the threshold is out of reach. Every quantity: the next table in chapter 06."
outlier_table = outliers.assign(flagged=lambda d: d["flagged"].map(lambda v: ", ".join(v) or "–")).drop(columns=["note"])
md_table(outlier_table[outlier_table["metric"] == highest], digits=3)

# %%
#| label: tbl-outliers
#| tbl-cap: "z-score outliers (ddof 1) per quantity, within each condition and over all runs: n, the largest |z| observed, the largest |z| n values can reach at all ((n - 1) / sqrt(n)), and the runs above the threshold. 'can flag' is false where the threshold is out of reach."
md_table(outlier_table, digits=3)

# %%
#| label: tbl-censored
#| tbl-cap: "Runs that never reached a threshold within the cap (censored), per threshold and condition, with their seeds."
md_table(censored)

# %%
numbers = {
    "n_seeds": len(P["seeds"]),
    "n_runs": len(runs),
    "cap": P["transfer_max_epochs"],
    "confidence": P["confidence"],
    "summary": multiseed.as_numbers(summary, ["metric", "condition"], [c for c in summary.columns if c not in ("metric", "condition")]),
    "tests": multiseed.as_numbers(tests.assign(pair=tests["group_a"] + "_vs_" + tests["group_b"]), ["metric", "pair"],
                                  ["n_a", "n_b", "t", "df", "p_t", "p_t_holm", "rank_stat", "p_rank", "p_rank_holm", "effect_size", "note"]),
    "normality": multiseed.as_numbers(normal, ["metric", "condition"], ["W", "p", "n", "n_total", "note"]),
    "correlations": correlations,
    "outliers": multiseed.as_numbers(outliers, ["metric", "scope"], ["n", "max |z|", "largest possible |z|", "can flag", "flagged", "threshold"]),
    "max_abs_z_bound": {str(n): multiseed.max_abs_z(n) for n in (len(P["seeds"]), 3 * len(P["seeds"]))},
    "censored": multiseed.as_numbers(censored, ["metric", "condition"], ["censored", "of", "seeds"]),
    "speedups": speedups,
}
save_numbers("06-statistics", numbers, P);
