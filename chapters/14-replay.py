# ---
# jupyter:
#   grokpaper:
#     title: "14 · Replay: subtraction with a share of addition examples"
#     depends_on: []
#     runs: [tasks:sequential, tasks:replay, tasks:replay-no-token]
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
# # Replay: subtraction with a share of addition examples
#
# The design document's second future experiment: fine-tune on subtraction "with 10 % addition
# replay" and measure addition retention against no replay, with the hypothesis that replay helps
# grokked models more than memorized ones. With task tokens the question is well posed: every
# full batch holds the seed's subtraction training pairs on subtraction's token and a fixed,
# seeded subset of the source's addition training pairs on addition's token, sized so that addition
# makes up `replay_share` of the batch (`grokpaper.core.tasks.replay_count`). The loss is the mean
# cross-entropy over every example of the batch, each weighted 1, so replay carries `replay_share`
# of the loss. Everything else is chapter 13's sequential transfer with task tokens (its runs are
# the no-replay arm), paired by seed: the same stop rule (subtraction's test accuracy held the top
# threshold for `probe_hold_epochs` epochs, cap `task_max_epochs`).
#
# **The document's own design is ill-posed.** Without a task token, replay puts the same input
# [a, b, =] in the batch with the label a + b and with a - b. No model can predict both: its best
# is each input's empirical label distribution, so the training loss is at least the labels'
# entropy per input, weighted by how often the input occurs (`grokpaper.core.tasks.loss_floor`).
# A replayed pair with b ≠ 0 conflicts with the same pair in subtraction's training split (the
# splits are one split), costing 2 ln 2 per conflicting pair of examples: the floor is above 0 and
# the loss cannot reach 0. One short run (`ill_posed_epochs`, first seed, grokked source) shows it.
#
# **The hypothesis's test** (one test, before the correction over chapters 13-16's tests, outside the family of chapter 06): per seed,
# the gain in addition's test accuracy from replay for the grokked source minus that for the
# memorized-fixed source, its mean with a paired t-interval at the study's confidence. A replay
# run and its run without replay stop at different epochs, so each pair is compared at its
# common epoch (the earlier of the two stops), after the same training.

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
from grokpaper.paper.contract import Replay
from grokpaper.paper.report import md_table, save_numbers

P = resolve_in_notebook("14-replay", globals())
study = Study.from_params(P, progress=False, probes=make_probes, train=P["missing_runs"] == "train", profile=profile)
top, source, cap, level = max(P["thresholds"]), P["source_task"], P["task_max_epochs"], P["confidence"]
runs = study.task_runs([d for d in study.settings.task_designs()
                        if d[0] in ("sequential", "replay", "replay-no-token")])
table = tt.with_seed_common_reading(tt.runs_table(runs, P["thresholds"]), runs, f"test_acc_{source}",
                                   ("grokked", "memorized-fixed"), ("replay", "sequential"))
end = f"{source} acc end"
speed, gain, neither = {}, {}, {}
for c in TASK_CONDITIONS:
    pair = pd.concat([tt.relabel(tt.select(table, "sequential", conditions=[c]), "no replay"),
                      tt.relabel(tt.select(table, "replay", conditions=[c]), "replay")])
    speed[c] = tt.speedup(pair, top, cap, "replay", "no replay", level)
    neither[c] = tt.neither_reached(pair, top, "replay", "no replay")
    # Each pair of runs stops at its own epoch: addition is compared after the same training (the earlier stop).
    common = tt.at_common_epoch({e: {r.seed: r.curve for r in runs if r.experiment == e and r.condition == c}
                                 for e in ("replay", "sequential")}, f"test_acc_{source}")
    gain[c] = tt.paired_difference(common["replay"], common["sequential"], level,
                                   f"{c}: addition at the common epoch, replay minus none", tt.DIFFERENCE_OF_SHARES)
retention = {c: tt.retention(tt.select(table, "replay", conditions=[c]), source, level,
                             tt.kept_by_seed(study, [r for r in runs if r.experiment == "replay" and r.condition == c],
                                             P["p"], source, P["frac_train"]))
             for c in TASK_CONDITIONS}
helps_more = tt.paired_difference(gain["grokked"].per_seed, gain["memorized-fixed"].per_seed, level,
                                  "gain from replay: grokked minus memorized-fixed", tt.DIFFERENCE_OF_GAINS)
hypothesis = tt.hypothesis_verdict(
    "Replay helps grokked models more than memorized", "addition's test accuracy at the pair's common epoch, gain "
    "from replay, grokked minus memorized-fixed (per seed)", helps_more.mean, helps_more.ci_low, helps_more.ci_high, helps_more.p,
    helps_more.n_pairs, note=tt.ceiling_note(tt.select(table, "sequential", conditions=["grokked", "memorized-fixed"]),
                                             end))
ill_posed_runs = [r for r in runs if r.experiment == "replay-no-token"]
ill_posed = tt.ill_posed(ill_posed_runs[0], P["p"], P["frac_train"]) if ill_posed_runs else None

# %%
#| label: fig-replay-curves
#| fig-cap: "Replay: test accuracy on subtraction (top) and on addition at its own token (bottom) against epoch (log scale), with replay (addition making up {replay_share} of every full batch) per initial weights: median over seeds, min-max band, thin lines per seed. A run stops once subtraction's test accuracy held {top} for {hold}, or at the cap of {task_cap}; runs that stopped early are held at their last value. The runs without replay are chapter 13's."
plots.learning_curves(tt.curves_of(runs, "replay"), metric=[f"test_acc_{P['transfer_task']}", f"test_acc_{source}"], log_x=True,
                      hold_last=True)

# %%
#| label: fig-replay-retention
#| fig-cap: "Addition at its own token over training, with replay (solid) and without (dashed; chapter 13's runs), one panel per initial weights, one line per run: test accuracy on addition (source's test pairs, %) against epoch (log scale). Runs stop once subtraction's test accuracy held {top} for {hold}, or at the cap of {task_cap}."
plots.epoch_grid({("addition", c): [(r.curve.assign(value=100 * r.curve[f"test_acc_{source}"]), plots.color(c),
                                     "-" if r.experiment == "replay" else "--", 1.0)
                                    for r in runs if r.condition == c and r.experiment in ("replay", "sequential")]
                  for c in TASK_CONDITIONS}, rows=["addition"], columns=list(TASK_CONDITIONS),
                 ylabels={"addition": "addition: test accuracy (%)"},
                 legend={"replay": ("0.3", "-"), "no replay": ("0.3", "--")})

# %%
#| label: tbl-replay-retention
#| tbl-cap: "Addition with replay, per initial weights: runs, mean test accuracy on addition at its own token (source's test pairs) at the start, at the first {top} evaluation on subtraction and at the end, with the t-interval of the end's mean at the study's {level}, the lowest end value and the lowest value at any evaluation; the mean R² of the addition readout at the last probe. Then what the source knew: per seed, the test pairs of addition its source answered correctly, and the mean share of those the run answered at its end (test accuracy alone cannot say it: a source that never generalised had little on the test pairs to answer). With replay that share is not what was kept: addition fell first and was then regained (the lowest value at any evaluation). Runs stop once subtraction held {top} for {hold}, or at the cap of {task_cap}."
md_table(tt.retention_display(retention), digits="sig3")

# %%
#| label: tbl-replay-gain
#| tbl-cap: "What replay changes, paired by seed: addition's test accuracy with replay minus without, at the pair's common epoch (the earlier of the two runs' stops; percentage points; mean, t-interval at the study's {level}, paired t-test p before the correction over chapters 13-16's tests), per initial weights, and the difference of those gains between the grokked and the memorized-fixed source (the hypothesis's test). Runs stop once subtraction held {top} for {hold}, or at the cap of {task_cap}."
md_table(tt.paired_display({**gain, "hypothesis": helps_more}, scale=100), digits={"mean": 3, "CI low": 3,
                                                                                    "CI high": 3, "p (paired t)": "p"})

# %%
#| label: tbl-replay-sensitivity
#| tbl-cap: "When addition is read, a sensitivity check of the hypothesis's test: the gain from replay of the grokked source minus that of the memorized-fixed source, per seed (percentage points; mean, t-interval at the study's {level}, paired t-test p, uncorrected), with addition read at the pair's common epoch (the test), at each run's own end, at each run's first {top} evaluation on subtraction, and at one epoch common to the seed's four runs (the earliest of their stops). The test reads each pair at its own common epoch, so a pair that stops later is read after more epochs of replay; at the seed's common epoch it is read earlier than in the test. The first row is the test; the others check it, the last chosen after the data were seen, and cannot change its verdict. Runs stop once subtraction held {top} for {hold}, or at the cap of {task_cap}."
md_table(tt.paired_display({"at the pair's common epoch (the test)": helps_more,
                            **{f"at {where}": tt.replay_hypothesis_at(table, column, level)
                               for column, where in tt.REPLAY_READ_AT.items()}}, scale=100, key_column="addition read"),
         digits={"mean": 3, "CI low": 3, "CI high": 3, "p (paired t)": "p"})

# %%
#| label: tbl-replay-speed
#| tbl-cap: "Subtraction's speed with replay: the no-replay run's epochs to {top} (first reached) over the replay run's, paired by seed: geometric mean with its t-interval at the study's {level}, paired t-test and Wilcoxon p (before the correction over chapters 13-16's tests), per-seed ratios ('≥'/'≤': a bound, one run never got there by the cap; a geometric mean marked so is a bound too, and a row whose every ratio is a bound has no interval or p), and the seeds whose two runs both never got there (no ratio: left out). Runs stop once {top} held for {hold}, or at the cap of {task_cap}."
md_table(tt.with_neither_reached(tt.speedup_display({k: v for k, v in speed.items() if v is not None}), neither),
         digits={"speed-up": "sig3", "CI low": "sig3", "CI high": "sig3", "p (paired t)": "p", "p (Wilcoxon)": "p"})

# %%
#| label: tbl-replay-hypothesis
#| tbl-cap: "The design document's hypothesis on replay, its one test and verdict: supported when the interval of the effect lies wholly on the predicted side of 0, contradicted when wholly on the other, not established when it holds 0 (interval at the study's {level}; p before the correction over chapters 13-16's tests, outside the family of chapter 06). This verdict is before any correction; the paper's, after Holm's correction within the tests of chapters 13-16, is the claims audit's in chapter 16."
md_table(tt.verdict_display([hypothesis]), digits={"estimate": 3, "CI low": 3, "CI high": 3, "p": "p"})

# %%
#| label: fig-ill-posed
#| fig-cap: "Replay without a task token (the design document's design, first seed, grokked source, a short run of {ill_posed_epochs}): training loss against epoch (log scales) with the floor no model can go below on its data (dashed): the same input appears with the labels a + b and a − b, so the best a model can do is each input's label distribution."
plots.loss_floor_curve(ill_posed_runs[0].curve, ill_posed.loss_floor) if ill_posed_runs else None

# %%
#| label: tbl-ill-posed
#| tbl-cap: "Replay without a task token: training examples, inputs that carry two labels, the loss floor of the data (nats, computed from the data), the lowest and the final training loss of the run, and its final training accuracy."
md_table(pd.DataFrame([{"seed": ill_posed.seed, "epochs": ill_posed.epochs, "examples": ill_posed.n_examples,
                        "inputs with two labels": ill_posed.n_inputs_with_two_labels,
                        "loss floor": ill_posed.loss_floor, "lowest train loss": ill_posed.lowest_train_loss,
                        "final train loss": ill_posed.final_train_loss,
                        "final train acc %": 100 * ill_posed.final_train_acc}]), digits="sig4") if ill_posed else None

# %%
save_numbers(Replay(p=P["p"], n_seeds=len(P["seeds"]), cap=cap, hold_epochs=P["probe_hold_epochs"], confidence=level,
                    top_threshold=top, runs_table=tt.table_of(table), replay_share=P["replay_share"],
                    speed={k: v for k, v in speed.items() if v is not None}, retention=retention,
                    retention_gain=gain, hypothesis=hypothesis, ill_posed=ill_posed), P);
