# ---
# jupyter:
#   grokpaper:
#     title: "02 · Three-way transfer to subtraction"
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
# # Three-way transfer to subtraction
#
# Each seed trains subtraction from three starting points: its grokked source, its
# memorized source, and random initialisation (the very weights its source started from).
# Fresh optimizer and warm-up; cap `transfer_max_epochs`. Per run we record the epochs to
# each test-accuracy threshold, both *first reached* and *sustained* (at or above the
# threshold from then to the end of the run), test accuracy at epoch 100 and the final
# accuracies. Runs that never reach a threshold are censored at the cap, never dropped.

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

# %%
from grokpaper import plots, tables
from grokpaper.params import resolve_in_notebook
from grokpaper.report import md_table, save_numbers
from grokpaper.study import CONDITIONS, Study

P = resolve_in_notebook("02-transfer", globals())
runs = Study.from_params(P, progress=False).transfers()
table = tables.transfer_table(runs, P["thresholds"])

# %%
#| label: fig-transfer-curves
#| fig-cap: "Test accuracy on subtraction during transfer, per initial condition: median over seeds (line), min-max band, thin lines per seed; epoch on a log scale."
plots.learning_curves(
    {c: [r.curve for r in runs if r.condition == c] for c in CONDITIONS}, metric="test_acc", log_x=True
)

# %%
#| label: fig-epochs-to-threshold
#| fig-cap: "Epochs until test accuracy on subtraction reaches the highest threshold and stays there to the end of the run (sustained), one point per seed. Open triangles at the cap: runs that never got there (censored)."
highest = max(P["thresholds"])
plots.epochs_to_threshold_strip(
    table.rename(columns={f"sustained {tables.pct(highest)}": "epochs"}), cap=P["transfer_max_epochs"],
    ylabel=f"epochs to sustained {tables.pct(highest)} test accuracy",
)

# %%
#| label: tbl-transfer-summary
#| tbl-cap: "Epochs to each test-accuracy threshold on subtraction, by condition: runs that reached it (of all runs), mean, standard deviation (ddof 1), 95 % t-interval (truncated at 0 epochs) and median over the runs that reached it."
summary = tables.threshold_summary(table, P["thresholds"], CONDITIONS)
md_table(summary, digits=0)

# %%
#| label: tbl-transfer-runs
#| tbl-cap: "Every transfer run: epochs to each threshold (first reached / sustained), test accuracy at epoch 100 and at the end, and why the run stopped. A dash: never reached."
md_table(table.drop(columns=["cap"]), digits=3)

# %%
save_numbers("02-transfer", tables.transfer_numbers(table, P, CONDITIONS), P);
