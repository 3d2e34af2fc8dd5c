# ---
# jupyter:
#   grokpaper:
#     title: "01 · Source models: grokked and memorized addition"
#     depends_on: []
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
# # Source models: grokked and memorized addition
#
# One source run per seed trains modular addition from the seed's random initialisation
# until test accuracy has been 100 % for `grokked_hold_epochs` epochs (cap
# `grokked_max_epochs`): the **grokked** source. The same trajectory gives the
# **memorized** source (its first evaluation with 100 % train accuracy) and the
# **fixed-epoch** variant (its state at `memorized_fixed_epochs`, the original study's
# 2,000 epochs). The design document says the memorized model has "~50 % test" accuracy
# at "~500 epochs"; this chapter measures both.

# %% tags=["parameters"]
# The profile gives every value (params/<profile>.yaml). `papermill ... -p KEY VALUE` overrides
# any parameter defined in grokpaper/config.py; the next cell checks it.
profile = "smoke"

# %%
from grokpaper.analysis import stats
from grokpaper.config import resolve_in_notebook
from grokpaper.core.study import Study
from grokpaper.paper import contract, plots, tables
from grokpaper.paper.report import md_table, save_numbers

P = resolve_in_notebook("01-sources", globals())
sources = Study.from_params(P, progress=False).sources()
table = tables.source_table(sources)

# %%
#| label: tbl-sources
#| tbl-cap: "Source runs on addition, one row per seed: whether test accuracy reached 100 % and held (grokked) within the cap, the epochs trained, and the first epoch at each test-accuracy threshold. A dash: never reached."
md_table(table[[c for c in table.columns if not c.startswith(("memorized", "fixed"))]], digits=3)

# %%
#| label: tbl-source-snapshots
#| tbl-cap: "The memorized (first evaluation with 100 % train accuracy) and fixed-epoch snapshots of each seed's source run: same trajectory, same start."
md_table(table[["seed"] + [c for c in table.columns if c.startswith(("memorized", "fixed"))]], digits=3)

# %%
#| label: fig-source-curves
#| fig-cap: "Source runs on addition: train (top) and test (bottom) accuracy per seed against epoch (log scale). Lines are seeds, the thick line their median; the band spans the seeds. A run stops once its test accuracy has held 100 %, so each run's last value is carried forward to the longest run's end (the median then reaches 100 %). Dashed lines mark the memorized snapshot's median epoch and the fixed-epoch snapshot."
plots.learning_curves(
    {"addition": [run.curve for run in sources.values()]}, metric=["train_acc", "test_acc"], log_x=True,
    markers={"memorized (median)": table["memorized epoch"].median(),
             "fixed epoch": table["fixed-epoch epoch"].median()},
    hold_last=True,
)

# %%
def describe(column):
    return contract.described(stats.describe(table[column].tolist(), labels=table["seed"].tolist(),
                                                confidence=P["confidence"], n_boot=P["n_bootstrap"]))


numbers = contract.Sources(
    n_seeds=len(table),
    n_grokked=int(table["grokked"].sum()),
    grok_epochs=describe(tables.source_epochs_column(1.0)),
    memorized_epoch=describe("memorized epoch"),
    memorized_test_acc=describe("memorized test acc"),
    fixed_test_acc=describe("fixed-epoch test acc"),
    fixed_epoch=P["memorized_fixed_epochs"],
    table=table.to_dict(orient="list"),
)
save_numbers(numbers, P);
