# ---
# jupyter:
#   grokpaper:
#     title: "07 · Learning dynamics of the transfer runs"
#     depends_on: [02-transfer]
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
# # Learning dynamics of the transfer runs
#
# From each transfer run's test-accuracy curve on subtraction (evaluated every
# `eval_every` epochs) we measure: the **largest jump**, the largest increase between two
# consecutive evaluations, and the epoch where it lands; the **jump into the highest
# threshold**, the increase into the evaluation where the run first reached it (the design
# document reports "37.6 % jump at epoch 5,545", its epochs to 99.9 %); **collapses**, falls
# of more than `collapse_drop` below the running peak once test accuracy has reached 99 %,
# each lasting until it is back at 99 %; and the **early** and **late gains**, the change
# over the first `early_epochs` and over the last `late_epochs` epochs of the run (the
# document's "Early (0-100)" and "Late (last 1000)"). Summaries are over the seeds of each
# condition; runs that never reached the threshold are counted as censored.

# %% tags=["parameters"]
# The profile gives every value (params/<profile>.yaml). `papermill ... -p KEY VALUE` overrides
# any parameter defined in grokpaper/config.py; the next cell checks it.
profile = "smoke"

# %%
from grokpaper.config import resolve_in_notebook
from grokpaper.core.study import CONDITIONS, Study
from grokpaper.paper import contract, dynamics, plots
from grokpaper.paper.report import md_table, save_numbers

P = resolve_in_notebook("07-dynamics", globals())
runs = Study.from_params(P, progress=False).transfers()
highest = max(P["thresholds"])
table = dynamics.dynamics_table(runs, early_epochs=P["early_epochs"], late_epochs=P["late_epochs"],
                                collapse_drop=P["collapse_drop"], threshold=highest)
summary = dynamics.condition_summary(table, CONDITIONS, highest, P["confidence"], P["n_bootstrap"])

# %%
#| label: fig-test-loss-curves
#| fig-cap: "Test loss on subtraction during transfer, per initial condition, on log-log axes: median over seeds (line), min-max band, thin lines per seed."
plots.learning_curves({c: [r.curve for r in runs if r.condition == c] for c in CONDITIONS},
                      metric="test_loss", log_x=True)

# %%
#| label: fig-jumps-collapses
#| fig-cap: "Left: the largest increase of test accuracy between two consecutive evaluations, one dot per run (bar: median). Right: collapses (falls below the running peak, by more than the drop on the axis, after test accuracy reached 99 %), counted over all runs of a condition; the label gives the runs with at least one."
plots.jumps_and_collapses(table, collapse_drop=P["collapse_drop"])

# %%
#| label: tbl-dynamics-runs
#| tbl-cap: "Every transfer run: the largest single-evaluation jump in test accuracy and its epoch, the first epoch at the highest threshold and the jump into it, collapses after 99 % (count, largest drop, never recovered), and the early and late gains with the epoch windows used. Accuracies and gains are fractions. A dash: never reached / none."
md_table(table, digits=4)

# %%
#| label: tbl-dynamics-summary
#| tbl-cap: "Dynamics by condition: runs with a value (of all runs), mean, sd (ddof 1), t-interval at the study's {level}, median, min and max over seeds. Jumps and gains are fractions of test accuracy; epochs are epochs."
md_table(dynamics.summary_frame(summary, highest), digits=4)

# %%
numbers = contract.Dynamics(
    n_runs=len(table),
    threshold=highest,
    early_epochs=P["early_epochs"],
    late_epochs=P["late_epochs"],
    collapse_drop=P["collapse_drop"],
    by_condition=summary,
    total_collapses=int(table["collapses"].sum()),
    table=table.to_dict(orient="list"),
)
save_numbers(numbers, P);
