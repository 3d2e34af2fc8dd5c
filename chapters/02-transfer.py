# ---
# jupyter:
#   grokpaper:
#     title: "02 · Transfer to subtraction"
#     depends_on: [01-sources]
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
# # Transfer to subtraction
#
# Each seed trains subtraction from four starting points: its grokked source, its memorized
# source (first state with 100 % train accuracy), the same source run at a fixed epoch
# (memorized-fixed), and random initialisation (the very weights its source started from).
# Fresh optimizer and warm-up; cap `transfer_max_epochs`. Per run we record the epochs to
# each test-accuracy threshold, both *first reached* and *sustained* (at or above the
# threshold from then to the end of the run), test accuracy at epoch 100 and the final
# accuracies. Runs that never reach a threshold are censored at the cap, never dropped.
# At the end, the original study's saved outputs are set beside ours, with the protocol
# differences that can explain where they differ.

# %% tags=["parameters"]
# The profile gives every value (params/<profile>.yaml). `papermill ... -p KEY VALUE` overrides
# any parameter defined in grokpaper/config.py; the next cell checks it.
profile = "smoke"

# %%
from grokpaper.config import resolve_in_notebook
from grokpaper.core.study import CONDITIONS, Study
from grokpaper.paper import original, plots, tables
from grokpaper.paper.contract import FIRST, epochs_column
from grokpaper.paper.report import md_table, save_numbers

P = resolve_in_notebook("02-transfer", globals())
runs = Study.from_params(P, progress=False).transfers()
table = tables.transfer_table(runs, P["thresholds"])

# %%
#| label: fig-transfer-curves
#| fig-cap: "Test accuracy on subtraction during transfer, per initial condition: median over seeds (line), min-max band, thin lines per seed; epoch on a log scale. A run that stopped before the longest run is held at its last value from then on, so every line reaches the same last epoch."
plots.learning_curves(
    {c: [r.curve for r in runs if r.condition == c] for c in CONDITIONS}, metric="test_acc", log_x=True,
    hold_last=True,
)

# %%
#| label: fig-epochs-to-threshold
#| fig-cap: "Epochs until test accuracy on subtraction first reaches the highest threshold (the primary measure, as in the text), one point per seed, on a log scale. Open triangles at the cap: runs that never got there (censored)."
highest = max(P["thresholds"])
plots.epochs_to_threshold_strip(
    table.rename(columns={epochs_column(FIRST, highest): "epochs"}), cap=P["transfer_max_epochs"],
    ylabel=f"epochs to {epochs_column(FIRST, highest)} test accuracy", log_y=True,
)

# %%
#| label: tbl-transfer-summary
#| tbl-cap: "Epochs to each test-accuracy threshold on subtraction, by condition: runs that reached it (of all runs), mean, standard deviation (ddof 1), t-interval at the study's {level} (truncated at 0 epochs) and median over the runs that reached it."
summary = tables.threshold_summary(table, P["thresholds"], CONDITIONS, confidence=P["confidence"],
                                   n_boot=P["n_bootstrap"])
md_table(summary, digits=0)

# %%
#| label: tbl-transfer-runs
#| tbl-cap: "Every transfer run: epochs to each threshold (first reached / sustained), test accuracy at epoch 100 and at the end, and why the run stopped. A dash: never reached."
md_table(table.drop(columns=["cap"]), digits=3)

# %% [markdown]
# ## This rerun beside the original run
#
# The original study's code saved its own results (`grokpaper/original_run.yaml`, transcribed
# from its notebooks' outputs): they are data to compare with, not rerun here. Its seeds and
# protocol differ from ours, so the two runs are compared by condition, and each difference
# in protocol is listed with the gap it can explain.

# %%
#| label: tbl-original-comparison
#| tbl-cap: "This rerun beside the original study's run, by condition; the original's rows are its saved outputs, not rerun here, and its seeds differ from ours. Starting point: where the transfer began. Epochs to first 99.9 % (seed: epochs): the first evaluation with test accuracy on subtraction at or above 99.9 % (need not persist; the original evaluated every epoch, this rerun at the interval given in the protocol differences); never by N: not reached within the run's N epochs. Mean of runs that reached it: the original's statistic, over the n runs named, runs that never got there left out; where one never did, the restricted mean to the cap (that run counted at the cap, a lower bound of the mean) beside it. Median: Kaplan-Meier median over all runs, runs that never got there counting as beyond the cap. Final test acc: test accuracy at the end of the run (runs of different lengths: see the protocol differences)."
md_table(original.comparison_table(table, P["transfer_max_epochs"], P["confidence"]))

# %%
#| label: tbl-protocol-differences
#| tbl-cap: "How the original study's protocol differs from this rerun's, one row per difference: what the original run did (its code and saved outputs), what this rerun does (this build's parameters), and which gap between the two runs' numbers the difference can explain."
md_table(original.protocol_differences(P))

# %%
numbers = tables.transfer_numbers(table, P, CONDITIONS, original.comparison_numbers(table, P["transfer_max_epochs"],
                                                                                             P["confidence"]))
save_numbers(numbers, P);
