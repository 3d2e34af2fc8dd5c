# ---
# jupyter:
#   grokpaper:
#     title: "12 · What carries the transfer: controls, transplants and causal tests"
#     depends_on: [01-sources, 02-transfer]
#     runs: [controls]
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
# # What carries the transfer: controls, transplants and causal tests
#
# The grokked transfers reach the top threshold on subtraction far sooner than random
# initialisation. A head start of that kind can come from the circuit the source built, or from
# something generic: the grokked sources have a smaller weight norm than random init (Omnigrok's
# explanation of grokking), and a good embedding alone removes the grokking delay (GrokTransfer).
# Each seed trains five more runs on subtraction, built from its grokked source and its random
# init (`grokpaper.core.controls`):
#
# * **norm-matched**: the random init, each matrix rescaled to the Frobenius norm of the same
#   matrix in the grokked source (the zero biases stay zero: nothing rescales them to a norm);
# * **permuted** (structure destroyed, same weights): the grokked source with one seeded random
#   permutation of the p number tokens applied to the token axis of W_E and the same permutation
#   to W_U ("=" untouched). It is the same model with its tokens renamed: every norm and spectrum
#   is kept, the Fourier structure over the number line is gone. The permutation is in the run's
#   config;
# * **embeddings-only**: the grokked source's W_E and W_U, everything else the random init;
# * **all-but-embeddings**: the grokked source with W_E and W_U at the random init;
# * **frozen-embeddings**: the grokked source with W_E and W_pos frozen (no update, no weight
#   decay) while the rest trains: the design document's "frozen embeddings, trainable heads".
#
# Same protocol as the transfers (the seed's split, a fresh optimizer with warm-up, cap
# `transfer_max_epochs`), with the probes on; a control stops once test accuracy has held the
# top threshold `probe_hold_epochs` epochs. **Speed-up** is the random-init transfer's epochs to
# the top threshold (first reached) over the control's, paired by seed, with the inference of
# the main comparison: the geometric mean of the per-seed ratios with its t-interval and the
# paired t-test on the log ratios (a run that never got there enters at the cap, which makes its
# ratio a bound). The study's own transfers (grokked, memorized, memorized-fixed) are shown the
# same way for reference. The p-values here are uncorrected: the controls' tests (each against
# random initialisation, and the two embedding transplants against the grokked transfer) join the
# paper's family of tests in chapter 06, where Holm's correction runs over all of them.
#
# **Causal tests** (`grokpaper.analysis.ablation`) on every model at the end of its run, and on
# the controls and the grokked transfer also at the **matched point** (their first evaluation at
# the top threshold). The study's transfer runs keep only their final weights (at the cap); the
# grokked transfer's matched point comes from its probe rerun, the same trajectory to its stop.
# Each seed's grokked source, on addition, is the positive control. All scores are on all p²
# inputs. The "end" of a control is shortly after its matched point (it stops once it held the
# top threshold); the "end" of a transfer is the cap.
#
# * **Key-frequency ablation**: the grokked source's key frequencies (held by at least
#   `probe_min_neurons` neurons) are removed from the embedding (W_E's token axis projected off
#   their cos/sin Fourier vectors) or, separately, from the neuron activations (each neuron's
#   p × p table projected off the 2-D Fourier terms of those frequencies, Nanda et al.'s excluded
#   loss on the neurons). The null removes as many random other frequencies, in
#   `ablation_draws` seeded draws.
# * **Head importance**: each head's output at "=" replaced by its mean over all inputs; the
#   loss increase. It is measured at three points (the grokked source, the matched point, the end),
#   not at every probe: the probes record each head's attention over training, not its ablation. A head **reads one operand** when its mean attention from "=" to a or to b is
#   at least 0.9 (`circuits.FOCUSED_ATTENTION`).
# * **The sign flip**: cos w(a − b) = cos wa cos wb + sin wa sin wb and cos w(a + b) =
#   cos wa cos wb − sin wa sin wb, so an addition circuit computes subtraction when the sin(wb)
#   part of what reaches the neurons from b flips sign relative to a's (b → −b). With one
#   embedding for both positions, the flip can only happen on the way from position b. Per key
#   frequency k and operand x, M_x = W_in · OV_x · C_k is what the cos(w_k x) and sin(w_k x)
#   components of the operand add to each neuron's pre-activation (OV_x: the heads' W_O W_V
#   weighted by their mean attention to x; C_k: the embedding's cos k and sin k components). Two
#   such column pairs are compared by the cosine similarity of their cos columns and of their sin
#   columns, by the 2 × 2 map carrying one to the other (least squares): its orientation (a
#   reflection is the flip in any phase) and its fit, and neuron by neuron by the phase
#   coherence of the two inputs (same phase: one common shift; flipped phase: a reflection and
#   one common shift; 1 is perfect) and their mean phase gap (0° when b's inputs are in a's phase). **b vs a**, within the model: a grokked
#   source whose heads read a and b alike gives +1, +1; the hypothesis predicts +1 for the cos
#   columns and −1 for the sin columns (a reflection, fit 1) after transfer. **a, b vs source**:
#   each operand's path against the grokked source's, both read by the source's neurons (the MLP
#   input directions the source used): reuse of the source's circuit with the flip on top
#   predicts a kept (+1, +1) and b flipped (+1, −1). The comparison with the source is meaningful
#   where the weights came from it (grokked, frozen-embeddings); for the random-init runs it is a
#   null. A constructed toy with a known flip checks the statistic (`tests/test_ablation.py`).

# %% tags=["parameters"]
# The profile gives every value (params/<profile>.yaml). `papermill ... -p KEY VALUE` overrides
# any parameter defined in grokpaper/config.py; the next cell checks it.
profile = "smoke"

# %%
from grokpaper.analysis.probes import make_probes
from grokpaper.config import resolve_in_notebook
from grokpaper.core.study import CONDITIONS, CONTROLS, Study
from grokpaper.paper import plots
from grokpaper.paper import what_transfers as wt
from grokpaper.paper.circuits import FOCUSED_ATTENTION
from grokpaper.paper.report import md_table, save_numbers

P = resolve_in_notebook("12-what-transfers", globals())
study = Study.from_params(P, progress=False, probes=make_probes, train=P["missing_runs"] == "train", profile=profile)
cfg, top = study.settings.model, max(P["thresholds"])
sources, transfers, controls = study.sources(), study.transfers(), study.controls()
matched = study.probe_transfers(("grokked",))  # the grokked transfer's rerun, with its first_top snapshot
table = wt.epochs_table(transfers, controls, P["thresholds"])
compared = [c for c in CONDITIONS if c != wt.REFERENCE] + list(CONTROLS)
found = wt.speedups(table, top, P["transfer_max_epochs"], compared, confidence=P["confidence"])
key_freqs = wt.source_key_frequencies(sources, cfg, P["source_task"], P["probe_min_neurons"])
models = wt.causal_models(sources, transfers, controls, matched, P["source_task"], P["transfer_task"])
causal = wt.causal_tables(models, sources, key_freqs, cfg, n_draws=P["ablation_draws"],
                          focus_threshold=FOCUSED_ATTENTION)
flips = wt.sign_flip_by_model(causal["sign_flip"], causal["heads"])
order = [wt.SOURCE, *CONDITIONS, *CONTROLS]
at_end = {name: t[t["point"] == "end"] for name, t in causal.items()}

# %%
#| label: fig-speedups
#| fig-cap: "Speed-up over random initialisation on subtraction, per initial weights: the random-init transfer's epochs to the top threshold (first reached) over the run's, one dot per seed (a triangle: one of the pair's runs never got there by the cap and entered at the cap, so the ratio is a bound: up, at least; down, at most), and the geometric mean over seeds with its paired t-interval at the study's {level}. Dashed: as fast as random init. A control stops once its test accuracy has held the top threshold for {hold}, or at the cap of {cap}; a transfer trains to the cap."
plots.speedup_points(*wt.speedup_points(found), reference="random init",
                     ylabel=f"speed-up: random init's epochs to {100 * top:g} %\nover this run's")

# %%
#| label: tbl-speedups
#| tbl-cap: "Speed-up over random initialisation, paired by seed: n pairs, the geometric mean of the per-seed ratios (random init's epochs to the top threshold, first reached, over the condition's) with its t-interval at the study's {level}, the paired t-test on the log ratios and the exact Wilcoxon signed-rank test, and each seed's ratio ('≥': a lower bound, random init's run never got there by the cap of {cap}; '≤': an upper bound, this condition's run never got there). The p-values are uncorrected; chapter 06 corrects them with the paper's family. A control stops once its test accuracy has held the top threshold for {hold}."
md_table(wt.speedup_display(found), digits={"speed-up": "sig3", "CI low": "sig3", "CI high": "sig3",
                                           "p (paired t)": "p", "p (Wilcoxon)": "p"})

# %%
#| label: fig-ablation
#| fig-cap: "Key-frequency ablation at the end of each run (the grokked sources on addition, every other model on subtraction): the loss with the seed's grokked-source key frequencies removed (coloured dot, one per seed, seeds side by side), with as many random other frequencies removed (grey dots, one per draw), and intact (black dash); top: removed from the embedding, bottom: from the neuron activations. Log scale."
plots.ablation_null_panels(at_end["draws"], order)

# %%
#| label: tbl-ablation
#| tbl-cap: "Key-frequency ablation per initial weights and point (matched: the first evaluation at the top threshold; end: the final weights), removed from the embedding or from the neurons: models (seeds), and medians over them of the intact loss, the loss with the key frequencies removed and with random ones removed (each model's median draw), the accuracies after ablation; then the models whose key ablation hurt more than every random draw and the largest p over the models (p = (1 + draws at least as bad) / (1 + draws))."
md_table(wt.ablation_display(causal["ablation"]), digits="sig3")

# %%
#| label: fig-sign-flip
#| fig-cap: "The sign flip at the end of each run: per key frequency of the seed's grokked source and seed, the cosine similarity of the cos parts (circles) and of the sin parts (triangles) of what operand b adds to the neurons against what operand a adds (top, within the model), and of what a (middle) and b (bottom) add against the same in the grokked source, read by the source's neurons. Subtraction by a flip of b predicts −1 for the sin parts at the top and bottom, +1 elsewhere; the grokked sources (addition) show +1 at the top."
plots.sign_flip_panels(at_end["sign_flip"], order)

# %%
#| label: tbl-sign-flip
#| tbl-cap: "The sign-flip statistic per initial weights and point: models, then means over models (each the mean over the key frequencies) of: b against a within the model (cosine similarity of the cos and of the sin parts, phase coherence as the same phase and as a flipped phase, mean phase gap between b's and a's inputs, neuron by neuron, in degrees, share of frequencies whose 2 × 2 map is a reflection, its fit: 1 when a's inputs, mixed, give b's exactly); b against the grokked source's b, read by the source's neurons (cos and sin parts, same and flipped phase coherence); then the models whose every head reads one operand (attention ≥ 0.9 to a or b) and whose heads read both a and b. The flip predicts −1 for the sin parts and a flipped phase near 1."
md_table(wt.sign_flip_display(flips), digits=3)

# %%
#| label: fig-heads
#| fig-cap: "Head importance at the end of each run: the loss increase when one head's output at '=' is replaced by its mean over all inputs, one dot per head and seed, coloured by the operand the head reads (mean attention from '=' at least 0.9)."
plots.head_importance_points(at_end["heads"], order)

# %%
#| label: tbl-heads
#| tbl-cap: "Head importance per initial weights and point: models, and medians over them of the intact loss and of the largest and the smallest loss increase when one head is mean-ablated."
md_table(wt.head_display(causal["heads"]), digits="sig3")

# %%
save_numbers(wt.what_transfers_numbers(table, found, causal, flips, key_freqs, P, focus_threshold=FOCUSED_ATTENTION), P);
