# ---
# jupyter:
#   grokpaper:
#     title: "13 · Sequential transfer with a task token per task"
#     depends_on: []
#     runs: [tasks:sequential, tasks:new-token-random]
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
# # Sequential transfer with a task token per task
#
# The main study feeds addition and subtraction the same input `[a, b, =]`, so a model that has
# learned subtraction cannot also answer addition: the same input would need two labels, and
# "forgets addition completely" is forced by the format. Here each task has its own "=" token
# (`grokpaper.core.tasks`): the source keeps addition on its "=" (token p), and subtraction gets a
# new token (p + 1) whose columns of W_E and W_U start as copies of "=" (the model then computes on
# the new token exactly what it computed on "="). A second variant draws that column at random
# instead (grokked source only). Each seed trains subtraction from its grokked source, its
# memorized-fixed source, or its random init (the weights the source started from, with the same
# new column). Addition is measured at every evaluation on its own token, on the source's test
# pairs, and inside the model by the probes' linear readout of cos/sin w(a + b) at addition's token.
#
# Same protocol as the transfers: the seed's split, full batch, a fresh AdamW with warm-up. A run
# stops once test accuracy on subtraction has held the top threshold for `probe_hold_epochs`
# epochs (the hold window), or at the cap `task_max_epochs`. Speed-ups are paired by seed, with a
# run that never got there entering at the cap (its ratio a bound).

# %% tags=["parameters"]
# The profile gives every value (params/<profile>.yaml). `papermill ... -p KEY VALUE` overrides
# any parameter defined in grokpaper/config.py; the next cell checks it.
profile = "smoke"

# %%
import pandas as pd

from grokpaper.analysis.probes import make_probes
from grokpaper.config import resolve_in_notebook
from grokpaper.core.study import TASK_CONDITIONS, Study
from grokpaper.paper import plots
from grokpaper.paper import task_tokens as tt
from grokpaper.paper.contract import TaskTokens
from grokpaper.paper.report import md_table, save_numbers

P = resolve_in_notebook("13-task-tokens", globals())
study = Study.from_params(P, progress=False, probes=make_probes, train=P["missing_runs"] == "train", profile=profile)
top, source, cap, level = max(P["thresholds"]), P["source_task"], P["task_max_epochs"], P["confidence"]
runs = study.task_runs([d for d in study.settings.task_designs() if d[0] in ("sequential", "new-token-random")])
table = tt.runs_table(runs, P["thresholds"])
sequential = tt.select(table, "sequential")
speedups = {c: tt.speedup(sequential, top, cap, c, "random", level) for c in TASK_CONDITIONS if c != "random"}
copy_or_random = pd.concat([tt.relabel(tt.select(table, "sequential", conditions=["grokked"]), "copied '='"),
                            tt.relabel(tt.select(table, "new-token-random"), "random column")])
new_token_copy = tt.speedup(copy_or_random, top, cap, "copied '='", "random column", level)
retention = {c: tt.retention(tt.select(table, "sequential", conditions=[c]), source, level,
                             tt.kept_by_seed(study, [r for r in runs if r.experiment == "sequential" and r.condition == c],
                                             P["p"], source, P["frac_train"]))
             for c in TASK_CONDITIONS}

# %%
#| label: fig-task-token-curves
#| fig-cap: "Sequential transfer with a task token per task: test accuracy on subtraction at its own token (top) and on addition at its own token, on the source's test pairs (bottom), against epoch (log scale), per initial weights: median over seeds, min-max band, thin lines per seed. A run stops once subtraction's test accuracy held {top} for {hold}, or at the cap of {task_cap}; a run that stopped early is held at its last value."
plots.learning_curves(tt.curves_of(runs, "sequential"), metric=[f"test_acc_{P['transfer_task']}", f"test_acc_{source}"], log_x=True,
                      hold_last=True)

# %%
#| label: fig-task-token-readout
#| fig-cap: "Addition inside the model during sequential transfer with task tokens: R² on the source's test pairs of the linear readout of cos/sin w(a + b), at the source's key frequencies, from the residual stream after the MLP at addition's own token (refitted at each probe), per initial weights; median over seeds, min-max band. Same stop rule as the curves."
plots.learning_curves(tt.readout_curves(runs, "sequential", "addition readout R²"), metric="addition readout R²",
                      log_x=True, hold_last=True)

# %%
#| label: tbl-task-token-speedups
#| tbl-cap: "Speed-up of sequential transfer with task tokens over random initialisation (the random-init run's epochs to {top} on subtraction, first reached, over the condition's), paired by seed: n pairs, the geometric mean with its t-interval at the study's {level}, the paired t-test and Wilcoxon p (before the correction over chapters 13-16's tests, outside the family of chapter 06), per-seed ratios ('≥'/'≤': a bound, one run never got there by the cap; a geometric mean marked so is a bound too, and a row whose every ratio is a bound has no interval or p). Runs stop once {top} held for {hold}, or at the cap of {task_cap}. Last row: the grokked source with the new token's column copied from '=' against drawn at random."
found = {**speedups, **({"copied '=' vs random column": new_token_copy} if new_token_copy else {})}
md_table(tt.speedup_display({k: v for k, v in found.items() if v is not None}),
         digits={"speed-up": "sig3", "CI low": "sig3", "CI high": "sig3", "p (paired t)": "p", "p (Wilcoxon)": "p"})

# %%
#| label: tbl-task-token-retention
#| tbl-cap: "Addition at its own token during sequential transfer, per initial weights: runs, mean test accuracy on addition (source's test pairs) at the start, at the run's first {top} evaluation on subtraction and at the end, with the t-interval of the end's mean at the study's {level}, the lowest end value and the lowest value at any evaluation; the mean R² of the addition readout at the last probe. The mean at the first {top} evaluation is over the runs that reached it. Then what the source knew: per seed, the test pairs of addition its source answered correctly, and the mean share of those the run still answered at its end (test accuracy alone cannot say it: a source that never generalised had little on the test pairs to keep). Runs stop once subtraction held {top} for {hold}, or at the cap of {task_cap}."
md_table(tt.retention_display(retention), digits="sig3")

# %%
save_numbers(TaskTokens(p=P["p"], n_seeds=len(P["seeds"]), cap=cap, hold_epochs=P["probe_hold_epochs"],
                        confidence=level, top_threshold=top, runs_table=tt.table_of(table),
                        speedups={k: v for k, v in speedups.items() if v is not None},
                        new_token_copy=new_token_copy, retention=retention), P);
