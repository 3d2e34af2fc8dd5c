# ---
# jupyter:
#   grokpaper:
#     title: "06 · Multi-seed statistics"
#     depends_on: [01-sources, 02-transfer, 03-retention, 05-circuits, 11-relearning, 12-what-transfers]
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
# The design is **paired by seed**: the conditions of one seed share the data split and the
# initial weights (the random-init transfer starts from the very weights the seed's sources
# started from). So conditions are compared within seeds. Epochs to a threshold are positive,
# right-skewed and **censored** (a run that never reached the threshold by the cap is "not
# reached by the cap", never dropped):
#
# * **Time to threshold** per condition: the Kaplan-Meier curve of the share of runs not yet at
#   the threshold, its median with a Brookmeyer-Crowley interval, and the restricted mean to the
#   cap (censored runs counted at the cap: a lower bound of the mean) with a log-normal (Cox)
#   interval; beside them the geometric mean of the runs that got there.
# * **Pairs of conditions**: the per-seed log ratio of epochs, summarised by the geometric-mean
#   ratio with its t-interval and tested with a paired t-test on the log ratios (a censored run
#   enters at the cap, which makes its ratio a bound; a pair censored on both sides is left out).
#   Welch's t on log epochs and on raw epochs (unpaired) are sensitivity analyses. Accuracies and
#   circuit metrics: paired differences.
# * **Multiplicity**: Holm's correction over the **whole family** of tests the paper reports
#   (pairwise comparisons, retention tests of chapter 03, correlations, frequency reuse of chapter
#   05; `grokpaper.paper.inference`), with its size stated.
# * **Correlation** of early accuracy with convergence: Spearman's rho over all runs (censored runs
#   ranked at the cap) and within each condition, since the pooled rho mostly measures the
#   difference between conditions.
# * **Sensitivity to runs that never converged** (never reached the highest threshold on their own
#   task): every test again without them.
#
# Per-condition summaries (mean, sd, CV, median) and the Shapiro-Wilk and z-score checks the design
# document describes are reported too; for epochs the interval of the mean is the log-normal one.

# %% tags=["parameters"]
# The profile gives every value (params/<profile>.yaml). `papermill ... -p KEY VALUE` overrides
# any parameter defined in grokpaper/config.py; the next cell checks it.
profile = "smoke"

# %%
import pandas as pd

from grokpaper.analysis import survival
from grokpaper.config import resolve_in_notebook
from grokpaper.core.study import CONDITIONS
from grokpaper.paper import contract, inference, multiseed, plots
from grokpaper.paper.contract import FIRST, SUSTAINED, epochs_column
from grokpaper.paper.evidence import Evidence
from grokpaper.paper.report import Results, md_table, save_numbers

P = resolve_in_notebook("06-statistics", globals())
R = Results.load()
evidence = Evidence.from_results(R, tables=("sources", "transfers", "retention", "circuits", "relearning", "controls"))  # this chapter's inputs
runs, cap, top = evidence.transfers, P["transfer_max_epochs"], evidence.top_threshold
conditions = [c for c in CONDITIONS if c in set(runs["condition"])]
highest, sustained = (epochs_column(kind, evidence.highest) for kind in (FIRST, SUSTAINED))
columns = [epochs_column(kind, t) for t in P["thresholds"] for kind in (FIRST, SUSTAINED)]
metrics = {c: multiseed.groups(runs, c, conditions) for c in [*columns, "test acc at 100", "final test acc"]}
metrics["addition test acc"] = multiseed.groups(R.retention.table, "source_acc_test", conditions, group="model")
circuits = R.circuits.neuron_table
for column in ("mean frac", "distinct freqs", "distinct freqs >= min", "n > 0.5"):
    metrics[f"circuit: {column}"] = multiseed.groups(circuits, column, conditions, group="model")

# %%
shares = ("test acc at 100", "final test acc", "addition test acc", "circuit: mean frac")
ranges = {**{m: (0.0, 1.0) for m in shares}, "circuit: n > 0.5": (0.0, float(R.circuits.d_mlp)),
          "circuit: distinct freqs": (0.0, P["p"] // 2), "circuit: distinct freqs >= min": (0.0, P["p"] // 2)}
summary = multiseed.summary(metrics, confidence=P["confidence"], n_boot=P["n_bootstrap"], skewed=set(columns),
                            bounds=ranges)
times = multiseed.time_to_threshold(runs, [highest, sustained], conditions, cap, P["confidence"])
family = inference.family(evidence, P["confidence"])
secondary = inference.secondary(evidence, P["confidence"])   # outside the family's correction
nonconverged = evidence.nonconverged()
family_converged = inference.family(evidence.without(nonconverged), P["confidence"])
secondary_converged = inference.secondary(evidence.without(nonconverged), P["confidence"])
level = multiseed.level(P["confidence"])  # "95 %": the captions leave the level to the headers and labels
normal = multiseed.normality({c: metrics[c] for c in [highest, sustained, "test acc at 100", "circuit: mean frac"]})
outliers = multiseed.outliers(metrics, threshold=P["outlier_z"])
censored = multiseed.censored_runs({c: metrics[c] for c in columns})
key_tests = list(family.loc[family["quantity"] == highest, "test"])
key_secondary = list(secondary.loc[secondary["quantity"] == sustained, "test"])

# %%
#| label: fig-time-to-threshold
#| fig-cap: "Kaplan-Meier curves of epochs until test accuracy on subtraction first reaches the highest threshold, per initial condition: the share of runs not yet there (step line) with its pointwise log-log band at the level in the legend; a cross at the cap marks runs that never got there (censored). Epochs on a log scale."
plots.time_to_threshold_curves({c: survival.kaplan_meier(metrics[highest][c].tolist(), cap=cap, confidence=P["confidence"])
                                for c in conditions},
                               cap=cap, xlabel=f"epochs to first {top} test accuracy",
                               ylabel="runs not yet there (share)")

# %%
#| label: tbl-time-to-threshold
#| tbl-cap: "Epochs to the highest threshold (first reached / sustained) per condition, with runs that never got there kept as censored at the cap: runs that reached it (of all), Kaplan-Meier median with its interval (Brookmeyer-Crowley; 'beyond the cap': an end the runs never reached), restricted mean to the cap with its log-normal interval (with a censored run it is a lower bound of the mean), and the geometric mean of the runs that reached it."
md_table(multiseed.time_to_threshold_display(times, P["confidence"]))

# %%
#| label: fig-acc100-ci
#| fig-cap: "Test accuracy on subtraction at epoch 100 by initial condition: mean over seeds with its t-interval (df = n - 1) at the level on the axis."
plots.bar_with_ci(summary[summary["metric"] == "test acc at 100"].assign(
    mean=lambda d: 100 * d["mean"], ci_low=lambda d: 100 * d["ci_low"], ci_high=lambda d: 100 * d["ci_high"]),
    group="condition", ylabel=f"test accuracy at epoch 100 (%), mean and {level} CI")

# %%
#| label: tbl-key-tests
#| tbl-cap: "Epochs to the highest threshold, every pair of conditions (a vs b), paired by seed: n pairs, the geometric mean of the per-seed ratios a / b with its t-interval at the study's {level} ('>=': a censored run of a entered at the cap, so the ratio is a lower bound), the paired t-test on the log ratios (p) and its Holm-corrected p over the whole family of tests the paper reports (the next table), then as sensitivity analyses the Holm-corrected Welch tests on log and raw epochs and the paired test without the runs that never converged. First reached is the primary measure and in the family; the sustained epoch (last rows) answers the same question again and is reported outside the family, uncorrected (Holm columns empty)."
md_table(multiseed.family_display(pd.concat([family, secondary], ignore_index=True), key_tests + key_secondary,
                                  pd.concat([family_converged, secondary_converged], ignore_index=True)),
         digits={"n": 0, "p": "p", "p Holm": "p", "p Holm, Welch on log": "p", "p Holm, Welch": "p",
                 "p Holm without non-converged runs": "p"})

# %%
#| label: tbl-family
#| tbl-cap: "The whole family of tests the paper reports, one per question: pairwise comparisons of conditions (paired by seed; epochs to first reach the highest threshold, accuracy at epoch 100, circuit mean fraction explained), the correlation of early accuracy with convergence over all runs and within conditions (one stratified permutation test), key-frequency reuse (chapter 05), the relearning questions of chapter 11 (epochs to the primary threshold on the source task, each side censored at its own cap), and chapter 12's controls and transplants (epochs to the highest threshold, first reached: each against random initialisation, and the two embedding transplants against the grokked transfer). Effect with its interval at the study's {level}, p, and Holm's correction over every test of the family with a defined p; the Welch columns replace the paired test by Welch's t on log or raw epochs; the last column recomputes the family without the runs that never converged. Addition accuracy after transfer is not tested: it is fixed by the input format (Methods)."
md_table(multiseed.family_display(family, without=family_converged), digits={"n": 0, "p": "p", "p Holm": "p",
         "p Holm, Welch on log": "p", "p Holm, Welch": "p", "p Holm without non-converged runs": "p"})

# %%
#| label: tbl-correlations
#| tbl-cap: "Test accuracy at epoch 100 against epochs to first reach the highest threshold (censored runs ranked at the cap): Spearman's rho over all runs, with an approximate interval at the study's {level} (Fisher z, Bonett-Wright se); the test of a relation within conditions, whose statistic is the mean of the within-condition rhos and whose null permutes early accuracy within each condition (seeded Monte Carlo); both in the family, with their Holm-corrected p. Last rows: each condition's rho alone, descriptive, outside the family (uncorrected p, no Holm). The pooled rho mixes the difference between conditions with the relation within them."
correlation_tests = list(family.loc[family["group"] == "correlation", "test"])
md_table(multiseed.family_display(pd.concat([family, secondary], ignore_index=True),
                                  correlation_tests + list(secondary.loc[secondary["group"] == "correlation", "test"]))
         [["test", "n", "method", "effect", "p", "p Holm"]], digits={"n": 0, "p": "p", "p Holm": "p"})

# %%
#| label: tbl-seed-summary
#| tbl-cap: "Per quantity and condition: runs with a value (of all runs), mean, sd (ddof 1), interval of the mean at the study's {level} (log-normal for epochs, t otherwise; ci_method) with the t df, percentile-bootstrap interval at the same level, CV (sd / mean) and median, over the runs with a value. Epochs in epochs, accuracies as fractions."
md_table(summary.assign(runs=lambda d: d["n_reached"].astype(str) + "/" + d["n_total"].astype(str))[
    ["metric", "condition", "runs", "mean", "sd", "df", "ci_low", "ci_high", "ci_method", "boot_low", "boot_high", "cv",
     "median"]].rename(columns={"ci_low": f"{level} CI low", "ci_high": f"{level} CI high",
                                "boot_low": f"{level} bootstrap low", "boot_high": f"{level} bootstrap high"}), digits=4)

# %%
#| label: tbl-normality
#| tbl-cap: "Shapiro-Wilk test per quantity and condition: W, p and n (not computed below n = 3 or for constant groups). Epoch counts are skewed: this is why the comparisons above work on log ratios."
md_table(normal, digits=4)

# %%
#| label: tbl-key-outliers
#| tbl-cap: "z-score outliers (ddof 1) of the epochs to first reach the highest threshold, within each condition and over all runs: n, the largest |z| observed, the largest |z| n values can reach at all ((n - 1) / sqrt(n)), and the runs above the threshold. 'can flag' is false where the threshold is out of reach. Every quantity: the next table in chapter 06."
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
family_rows = inference.family_numbers(family)
numbers = contract.Statistics(
    n_seeds=len(P["seeds"]),
    n_runs=len(runs),
    cap=cap,
    confidence=P["confidence"],
    conditions=conditions,
    summary=multiseed.as_numbers(summary, ["metric", "condition"], contract.SeedSummary),
    time_to_threshold=multiseed.as_numbers(times, ["metric", "condition"], contract.TimeToThreshold),
    family=family_rows,
    family_size=inference.family_size(family),
    family_parts={g: int(rows["p"].notna().sum()) for g, rows in family.groupby("group", sort=False)},
    family_without_nonconverged=inference.family_numbers(family_converged),
    secondary=inference.family_numbers(secondary),
    nonconverged=[contract.NonConverged(r.condition, r.seed, r.why) for r in nonconverged],
    speedups={contract.speedup_key(row.a, row.b, row.quantity): row
              for row in [*(family_rows[t] for t in key_tests),
                          *(inference.family_numbers(secondary)[t] for t in key_secondary)]},
    normality=multiseed.as_numbers(normal, ["metric", "condition"], contract.Normality),
    outliers=multiseed.as_numbers(outliers, ["metric", "scope"], contract.Outliers),
    max_abs_z_bound={n: multiseed.max_abs_z(n) for n in (len(P["seeds"]), len(conditions) * len(P["seeds"]))},
    censored=multiseed.as_numbers(censored, ["metric", "condition"], contract.CensoredCount),
)
save_numbers(numbers, P);
