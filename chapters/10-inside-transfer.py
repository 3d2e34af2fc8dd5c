# ---
# jupyter:
#   grokpaper:
#     title: "10 · Inside the transfer: forgetting, progress measures, attention, movement"
#     depends_on: []
#     runs: [probes]
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
# # Inside the transfer
#
# The other chapters see a transferred model at its end. Here each source and transfer run is
# trained again with **probes** (`grokpaper/analysis/probes.py`), which measure the model along
# the way, on the weights just evaluated, without touching training: every 10th epoch to
# `probe_dense_until`, then `probe_per_decade` log-spaced epochs per decade, at the first
# evaluation at each threshold and at the run's last epoch. A probe rerun's curve is the
# committed run's, epoch for epoch; a transfer rerun stops once test accuracy held the top
# threshold for `probe_hold_epochs` epochs (a run that never gets there goes to the cap).
#
# * **Forgetting.** Addition from the outputs (test accuracy on the seed's addition test pairs)
#   and inside the model: a linear readout, fitted on the addition train pairs and scored (R²) on
#   the test pairs, of cos and sin of w(a + b) at the source's key frequencies from the residual
#   stream at "=" after the MLP, refitted at every probe. We report it at the start, at the
#   **matched point** (the first evaluation at the top threshold on the new task, where the
#   conditions have learned it equally well) and at the run's end, and the first probe epoch at
#   which each fell below half its start. The random init has no addition to forget: its half
#   epochs are not counted.
# * **Nanda et al.'s progress measures** (restricted and excluded loss for both templates, the
#   Gini of W_E's and W_L's Fourier norms, the total weight norm), with their three phases
#   marked on the sources. Our boundaries, computed from each source's learning curve: memorization
#   ends at the test loss's peak before the first evaluation at the top threshold (train accuracy
#   reaches 100 % earlier, at the memorized snapshot, while the test loss still rises); cleanup
#   starts at the first epoch after that peak with the test loss at or below half the peak, and
#   ends at the first evaluation at the top threshold; circuit formation lies in between. The
#   phases are continuous, so any boundary is a convention; this one is the same on every run. The
#   memorized (first 100 % train accuracy) and fixed-epoch snapshots are placed on that path.
# * **Attention.** A head is *on one operand* when its mean weight from "=" on a (or on b) is at
#   least chapter 05's 0.9; we follow the share of such heads, the larger operand weight and its
#   spread over inputs.
# * **Per-matrix movement.** Each weight matrix's distance from its initial weights relative to
#   their norm, and its movement between probes per epoch ("which layers update most").
# * **Circuits at the matched point against the end**: key frequencies (neuron method, held by at
#   least `probe_min_neurons` neurons), the share of neurons on the source's key frequencies, and
#   the mean fraction explained, at the start, at the matched point (the probe rerun's snapshot)
#   and at the end of the committed run.
# * **Runs censored at the cap, carried on.** A transfer run that never reached the top threshold
#   by the protocol's cap has an *extended* probe rerun: the same run, the same optimizer state,
#   carried on to `extended_max_epochs` or until the top threshold held for the hold window. Its
#   curve equals the committed one up to the cap; the speed-up test of chapter 06 is given both ways.

# %% tags=["parameters"]
# The profile gives every value (params/<profile>.yaml). `papermill ... -p KEY VALUE` overrides
# any parameter defined in grokpaper/config.py; the next cell checks it.
profile = "smoke"

# %%
import pandas as pd

from grokpaper.analysis.fourier import neuron_fourier_analysis
from grokpaper.analysis.probes import make_probes
from grokpaper.config import resolve_in_notebook
from grokpaper.core.study import CONDITIONS, Study
from grokpaper.paper import contract, inside, plots
from grokpaper.paper.circuits import FOCUSED_ATTENTION
from grokpaper.paper.report import md_table, save_numbers

P = resolve_in_notebook("10-inside-transfer", globals())
# Probe runs missing from the store: trained here on `missing_runs: train` (smoke); the paper profile
# waits for `train all --runs probes` (hours), and reads them only (RunNotStored names the command).
study = Study.from_params(P, progress=False, train=P["missing_runs"] == "train", probes=make_probes, profile=profile)
sources = inside.source_probe_runs(study.probe_sources())
probed = study.probe_transfers()
transfers = inside.probe_runs(probed)
ends = {(r.seed, r.condition): r for r in study.transfers()}  # the committed runs, at the protocol's cap
conditions = [c for c in CONDITIONS if any(r.condition == c for r in transfers)]
top, cfg, level = max(P["thresholds"]), study.settings.model, P["confidence"]

forgetting = inside.forgetting_table(transfers)
phases = pd.DataFrame([inside.source_phases(run, top) for run in sources])
movement = {(run.condition, run.seed): inside.movement_table(
    run.probes, inside.initial_norms(inside.initial_params(study, run.seed, run.condition))) for run in sources + transfers}

circuit_rows = []
for run in transfers:
    source_freqs = neuron_fourier_analysis(study.source(run.seed, "grokked"), cfg, P["source_task"]).frequencies(P["probe_min_neurons"])
    stored = next(r.stored for r in probed if (r.seed, r.condition) == (run.seed, run.condition))
    points = {"start": (0, inside.initial_params(study, run.seed, run.condition)),
              "matched": (run.matched_epoch, stored.params("first_top") if run.matched_epoch is not None else None),
              "end": (ends[(run.seed, run.condition)].result["epochs_trained"], ends[(run.seed, run.condition)].params())}
    for point, (epoch, params) in points.items():
        if params is not None:
            circuit_rows.append({"seed": run.seed, "condition": run.condition, "point": point, "epoch": epoch,
                                 **inside.circuit_row(params, cfg, P["transfer_task"], source_freqs, P["probe_min_neurons"])})
circuits = pd.DataFrame(circuit_rows)

# %%
#| label: fig-forgetting
#| fig-cap: "Forgetting addition while learning subtraction, per initial condition, one line per seed, against epoch (log scale): addition test accuracy from the model's outputs (top) and the R² of a linear readout of cos/sin of the source's key frequencies of a + b from the residual stream after the MLP, refitted at each probe (bottom; dashed: R² = 0). Dots: the first evaluation at the top threshold on subtraction (the matched point). Each run ends where its probe rerun stopped: the top threshold held for the hold window, or the cap."
plots.epoch_grid(**inside.forgetting_panels(transfers, conditions))

# %%
#| label: tbl-forgetting
#| tbl-cap: "Addition during transfer per condition: mean over seeds with its t-interval at the study's {level}, at the first probe (start), at the first evaluation at the top threshold on subtraction (matched point; runs that never got there are counted as never reached) and at the run's last probe (end); and the first probe epoch at which the measure fell below half its start (runs where it never did are censored at their end; not counted for the random init, which has no addition to forget, or where the readout's start R² was not above 0)."
md_table(inside.forgetting_display(inside.forgetting_summary(forgetting, conditions, level, P["n_bootstrap"])))

# %%
#| label: fig-progress-sources
#| fig-cap: "Nanda et al.'s progress measures along each source run on addition (a column per seed), against epoch (log scale): train and test loss (from the learning curve), the restricted and the excluded loss at the source's key frequencies (top, log scale), the Gini of W_E's and of W_L's Fourier norms, and the total weight norm. Shaded: memorization (up to the test loss's peak), circuit formation (to the first epoch at half the peak test loss) and cleanup (to the first evaluation at the top threshold). Vertical lines: the memorized snapshot (first 100 % train accuracy) and the fixed-epoch snapshot."
plots.epoch_grid(**inside.progress_panels_sources(sources, phases))

# %%
#| label: tbl-phases
#| tbl-cap: "The phases of each source run, in epochs: first 100 % train accuracy (the memorized snapshot), the end of memorization (the test loss's peak before the first evaluation at the top threshold), the start of cleanup (the first epoch after the peak with the test loss at or below half of it), its end (the first evaluation at the top threshold) and the probe epoch of the excluded loss's peak between the peak test loss and the end of cleanup; then where the memorized and fixed-epoch snapshots fall, and the restricted and excluded loss at the fixed-epoch snapshot (at the probe at or before it)."
md_table(inside.phases_display(phases), digits="sig4")

# %%
#| label: fig-progress-transfers
#| fig-cap: "Progress measures along the transfer runs, per initial condition (columns), against epoch (log scale), a line per seed and measure: on subtraction, train and test loss with the restricted and excluded loss at the model's key frequencies of the moment; on addition, the test loss with the restricted and excluded loss at the source's key frequencies; the Ginis of W_E's and W_L's Fourier norms; the total weight norm."
plots.epoch_grid(**inside.progress_panels_transfers(transfers, conditions))

# %%
#| label: fig-attention-over-time
#| fig-cap: "Attention from '=' against epoch (log scale), for the source runs and each transfer condition, one line per seed: the share of heads whose mean weight is at least 0.9 on one operand (a or b), the mean over heads of the larger of the weights on a and on b (dashed: 0.9), and the mean over heads of that weight's standard deviation over all p² inputs."
plots.epoch_grid(**inside.attention_panels(sources + transfers, [inside.SOURCE, *conditions], FOCUSED_ATTENTION))

# %%
#| label: tbl-attention-changes
#| tbl-cap: "Heads over all seeds focused on one operand (mean weight from '=' at least 0.9 on a or on b) at the first and at the last probe of each run, and how they changed: on the same operand at both, switched to the other operand, became focused, lost focus; then the mean over heads of the larger operand weight at the end and of its per-input sd, mean over seeds with its interval at the study's {level}."
attention = inside.attention_changes(sources + transfers, [inside.SOURCE, *conditions], FOCUSED_ATTENTION, level, P["n_bootstrap"])
md_table(inside.attention_display(attention))

# %%
#| label: fig-movement
#| fig-cap: "Per-matrix movement for the source runs and each transfer condition, against epoch (log scale), the median over seeds: the distance of each weight matrix from its initial weights relative to their norm (top), and its movement since the previous probe per epoch, relative to the same norm (bottom; over long intervals back-and-forth movement cancels, so it is a net drift). A matrix whose initial weights are zero (the biases of a random init) has no relative movement and is left out."
plots.epoch_grid(**inside.movement_panels(movement, [inside.SOURCE, *conditions]))

# %%
#| label: tbl-movement
#| tbl-cap: "Per condition and weight matrix: the distance from the initial weights relative to their norm at the run's end, and the probe epoch with the largest movement per epoch, medians over seeds; the note marks the matrix furthest from its start and the one whose largest movement comes first."
movement_summary = inside.movement_summary(movement, [inside.SOURCE, *conditions], level, P["n_bootstrap"])
md_table(inside.movement_display(movement_summary), digits="sig4")

# %%
#| label: tbl-circuits-matched
#| tbl-cap: "Circuits by the neuron method at the start (the initial weights), at the matched point (the probe rerun's weights at its first evaluation at the top threshold) and at the end (the committed run's final weights), per condition: key frequencies held by at least the minimum number of neurons, the share of alive neurons whose best frequency is one of the seed's grokked source's key frequencies, and the mean fraction explained by the best frequency (the document's 'specialization'); mean over seeds with its t-interval at the study's {level}."
circuits_summary = inside.circuits_summary(circuits, conditions, level, P["n_bootstrap"])
md_table(inside.circuits_display(circuits_summary))

# %%
#| label: tbl-extended-runs
#| tbl-cap: "The transfer runs censored at the protocol's cap, carried on with the same optimizer state to the extended cap or until test accuracy held the top threshold for the hold window: test accuracy at the cap, the first evaluation at the top threshold, the last epoch and why the run stopped, and the curve values that differ from the committed run's up to the cap."
extended = study.extended_transfers()
rerun_check = study.rerun_check()
differing = inside.extended_differing(rerun_check)
extended_runs = inside.extended_runs_table(extended, ends.values(), top, P["transfer_max_epochs"], differing)
md_table(extended_runs)

# %%
#| label: tbl-extension
#| tbl-cap: "The speed-up test of chapter 06 (random initialisation's epochs to the top threshold, first reached, over each condition's, per seed: geometric-mean ratio with its t-interval at the study's {level}, paired t-test on the log ratios and Wilcoxon signed-rank test, both uncorrected) with each censored run entered at the protocol's cap, as in chapter 06, and with its extended run's epoch in its place. Neither replaces the other: the cap is the protocol's, and the extended runs say where the censored ones would have ended."
extension = inside.extension_tests(ends.values(), extended, top, P["transfer_max_epochs"], P["extended_max_epochs"],
                                   "random", conditions, level)
md_table(inside.extension_display(extension))

# %%
numbers = contract.Inside(
    n_seeds=len(sources),
    conditions=conditions,
    top_threshold=top,
    focus_threshold=FOCUSED_ATTENTION,
    min_neurons=P["probe_min_neurons"],
    runs=inside.runs_table(sources + transfers).to_dict(orient="list"),
    forgetting=inside.forgetting_summary(forgetting, conditions, level, P["n_bootstrap"]),
    forgetting_table=forgetting.to_dict(orient="list"),
    phases=inside.phases_summary(phases, P["memorized_fixed_epochs"], level, P["n_bootstrap"]),
    attention=attention,
    movement=movement_summary,
    circuits=circuits_summary,
    circuits_table=circuits.assign(**{"key freqs": [list(map(int, k)) for k in circuits["key freqs"]]}).to_dict(orient="list"),
    extended_runs=extended_runs.to_dict(orient="list"),
    extension=extension.to_dict(orient="list"),
    rerun_check=rerun_check.to_dict(orient="list"),
)
save_numbers(numbers, P);
