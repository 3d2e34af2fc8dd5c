# ---
# jupyter:
#   grokpaper:
#     title: "05 · Circuits: Fourier frequencies, weight change and attention"
#     depends_on: [01-sources, 02-transfer]
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
# # Circuits: Fourier frequencies, weight change and attention
#
# Per seed we analyse eight models: the three **sources** (addition): grokked, memorized
# (the epoch-150 snapshot) and memorized-fixed (the snapshot at `memorized_fixed_epochs`),
# the seed's **random init** (the weights the source run and the random transfer started
# from), and the four **transferred** models, one per condition (final weights, subtraction).
#
# **Neuron method** (the original analysis code's, `fourier.neuron_fourier_analysis`):
# each MLP neuron's post-ReLU activation at "=" over all p² inputs, centred, is written in
# the 2-D real Fourier basis; a frequency k's share is the squared coefficients on the terms
# built from {const, cos k, sin k} in a and b (without const × const) over the total. Its
# **best frequency** is the k with the largest share, its **fraction explained** that share.
# Dead neurons (constant activation) are counted apart and left out of every other number.
# Per model: distinct best frequencies (raw, and held by at least `min_neuron_count`
# neurons: the **key frequencies**), mean fraction explained, neurons with fraction > 0.5,
# and the **top frequency** (held by most neurons). **Overlap** with the seed's grokked
# source: Jaccard index of the key-frequency sets (shared / union) and the neuron-weighted
# overlap Σₖ min(share_A(k), share_B(k)) of the two best-frequency distributions.
#
# **The design document's stated method** (`fourier.document_method_spectrum`), computed
# for the same models and labelled as such: per *residual dimension* d (d_model of them,
# not MLP neurons), P[d, k] = |FFT(W_E[d]) · FFT(W_U[d])| over the p number tokens, for
# k = 1..⌊p/2⌋; dominant k = argmax, "specialization" = max P / Σ P. The document reports
# specialization 0.828 / 0.943 / 0.960, 6 / 7 / 4 unique frequencies, 400/512 vs 512/512
# "neurons" above 50 %, top frequency 37 / 37 / 27 and "only 2/10" frequencies shared with
# the source; the comparison table puts both methods' versions of these side by side.
#
# **Frequency reuse against chance**: the key frequencies are drawn from the ⌊p/2⌋ candidate
# frequencies 1..⌊p/2⌋, so two key sets share some by chance alone. Per seed, the null
# draws the model's key set uniformly at random among the candidates (same size) against
# the seed's grokked source's set: the shared count is hypergeometric, with mean
# |A|·|B| / ⌊p/2⌋. Over seeds, the p-value is the exact P(total shared ≥ observed) of the
# sum of the seeds' independent hypergeometric overlaps (`circuits.frequency_reuse`).
# **Seed matching** asks whether a model's key set is closer to its *own* seed's grokked
# source than to the other seeds' sources: the statistic is the total shared count under
# the own-seed matching, compared exactly with every matching of models to sources (n!
# permutations for n seeds, so the smallest possible p is 1/n!) (`circuits.seed_matching`).
# Comparing the memorized sources with the random init's matching (the init the grokked
# source grew from) tells whether the memorized model is already on the road to *its own*
# seed's grokked circuit, beyond what the shared initial weights give.
#
# **Weight change**: per transferred model and parameter matrix, ‖W − W₀‖ and
# ‖W − W₀‖ / ‖W₀‖ (Frobenius) from the weights its transfer run started from.
# **Attention**: each head's mean weight from "=" to a, b and "=" over all p² inputs, for
# every model of every seed. Heads are not aligned across seeds (head 0 of one seed has no
# relation to head 0 of another), so the summary counts heads per model kind: those with at
# least `circuits.FOCUSED_ATTENTION` of their attention on one position (a, b or "=") and
# the rest (spread).

# %% tags=["parameters"]
# The profile gives every value (params/<profile>.yaml). `papermill ... -p KEY VALUE` overrides
# any parameter defined in grokpaper/config.py; the next cell checks it.
profile = "smoke"

# %%
from grokpaper.analysis import fourier
from grokpaper.config import resolve_in_notebook
from grokpaper.core.study import CONDITIONS, Study
from grokpaper.paper import circuits, plots, retention
from grokpaper.paper.report import md_table, save_numbers

P = resolve_in_notebook("05-circuits", globals())
study = Study.from_params(P, progress=False)
cfg = study.settings.model
models = retention.study_models(study, include_sources=True, include_init=True)
analyses = circuits.analyse_models(models, cfg, P["min_neuron_count"])
neuron, document = circuits.circuit_tables(analyses, P["min_neuron_count"])
weights = circuits.weight_change_table([m for m in models if m.role == "transfer"])
attention = circuits.attention_table(models, cfg)
reuse = circuits.frequency_reuse_by_model(neuron, n_candidates=len(fourier.candidate_frequencies(cfg.p)))

# %%
#| label: fig-neuron-frequencies
#| fig-cap: "Neuron method, first seed: MLP neurons (count) per best frequency k, per model. Each row: a starting point (left: the grokked, memorized and memorized-fixed addition sources and the random init) and the model transferred from it to subtraction (right). Titles give the alive neurons (dead ones have no frequency)."
plots.frequency_panels(circuits.start_beside_transfer(circuits.pooled(analyses, "freq_counts", seed=P["seeds"][0])),
                       cfg.p // 2, ncols=2, alive=circuits.alive_neurons(analyses, P["seeds"][0]))

# %%
#| label: fig-fraction-explained
#| fig-cap: "Neuron method: histogram of the fraction of each alive MLP neuron's centred activation variance explained by its best frequency, per model kind (same layout as @fig-neuron-frequencies), pooled over seeds (n = alive neurons); dashed: median."
plots.fraction_panels(circuits.start_beside_transfer(circuits.pooled(analyses, "fractions")), ncols=2)

# %%
#| label: fig-weight-change
#| fig-cap: "How far transfer to subtraction moves each parameter matrix from the weights the run started from, per condition: relative change ‖W − W₀‖ / ‖W₀‖ (top, log scale) and change ‖W − W₀‖ (bottom, Frobenius norm), mean over seeds with min-max whiskers. No relative bar where W₀ = 0 (random init's zero biases)."
plots.weight_change_bars(weights, CONDITIONS)

# %%
#| label: tbl-circuits-neuron
#| tbl-cap: "Neuron method, every model: alive and dead MLP neurons, distinct best frequencies (raw and held by at least min_neuron_count neurons), those key frequencies, mean fraction explained and neurons above 0.5 (alive neurons only), the top frequency and its neurons, and the overlap of the key frequencies with the seed's grokked source (shared, union, Jaccard) and the neuron-weighted overlap."
md_table(neuron.drop(columns=["units"]), digits=3)

# %%
#| label: tbl-circuits-summary
#| tbl-cap: "Neuron method, per model kind: mean over seeds with sd (ddof 1) and t-interval at the study's {level} (n = seeds) of the mean fraction explained, neurons above 0.5, distinct frequencies (raw and with the minimum count) and the overlap with the grokked source."
md_table(circuits.summary_by_model(neuron, ["mean frac", "n > 0.5", "distinct freqs", "distinct freqs >= min",
                                             "jaccard", "weighted overlap"],
                                   confidence=P["confidence"], n_boot=P["n_bootstrap"]), digits=3)

# %%
#| label: tbl-method-comparison
#| tbl-cap: "The quantities the design document reports, by the neuron method (units: MLP neurons; fraction explained of activations over all inputs) and by the document's stated method (units: residual dimensions; specialization of |FFT(W_E[d]) · FFT(W_U[d])|), mean over n seeds per model kind (alive units only); last rows: the top frequency of each seed, in seed order."
md_table(circuits.method_comparison(neuron, document), digits="sig4")

# %%
#| label: tbl-frequency-reuse
#| tbl-cap: "Neuron method: reuse of the seed's grokked-source key frequencies (held by at least min_neuron_count neurons), per compared model, summed over seeds. Shared: key frequencies the model shares with its own seed's grokked source, out of key freqs (the model's key frequencies). Expected and p (hypergeometric): under the null that each seed's key set is drawn uniformly at random (same size) among the ⌊p/2⌋ candidate frequencies 1..⌊p/2⌋, the expected total and the exact P(total shared ≥ observed) of the sum of the seeds' independent hypergeometric overlaps. Own seed / other seeds: mean shared count with the own seed's grokked source and with the other seeds' grokked sources. Perm. p: share of all n! matchings of the models' seeds to the sources' seeds whose total shared count is at least the own-seed total (exact; the smallest possible p is 1/n!)."
md_table(circuits.frequency_reuse_table(reuse).drop(columns=["reference"]).rename(columns={
    "observed shared": "shared", "expected shared": "expected", "p (hypergeometric)": "p",
    "own-seed mean shared": "own seed", "cross-seed mean shared": "other seeds", "permutation p": "perm. p",
    "smallest permutation p": "smallest perm. p"}),
         digits={"expected": 2, "own seed": 2, "other seeds": 2, "p": "p", "perm. p": "p", "smallest perm. p": "p"})

# %%
#| label: tbl-circuits-document
#| tbl-cap: "The design document's stated method, every model: per residual dimension the dominant frequency of |FFT(W_E[d]) · FFT(W_U[d])| and its specialization; same columns as the neuron table, with residual dimensions as units."
md_table(document.drop(columns=["units"]), digits=3)

# %%
#| label: tbl-weight-change
#| tbl-cap: "Change of each parameter matrix during transfer, per condition: ‖W − W₀‖ (change) and ‖W − W₀‖ / ‖W₀‖ (relative), mean over seeds; a dash where W₀ = 0."
md_table(circuits.weight_change_summary(weights, CONDITIONS), digits=3)

# %%
#| label: tbl-attention
#| tbl-cap: "Mean attention weight from '=' to the positions a / b / '=' over all p² inputs, per head, for every model of every seed (heads are numbered within a model; they are not aligned across models or seeds)."
md_table(circuits.attention_by_head(attention))

# %%
#| label: tbl-attention-summary
#| tbl-cap: "Attention from '=' per model kind, over all its seeds' heads (seeds × heads): heads putting at least 0.9 (circuits.FOCUSED_ATTENTION) of their mean attention weight on the single position a, on b or on '=', heads below 0.9 on every position (spread), the mean attention weight to a, b and '=' over heads and seeds (weights are means over all p² inputs); then the heads with at least 0.9 on a or on b for every single input, the smallest weight any head puts on its own position over the inputs, and the lowest and highest per-input sd of a head's weight on a (how much a head's attention depends on the input)."
md_table(circuits.attention_summary(attention), digits=3)

# %%
#| label: fig-attention
#| fig-cap: "Attention from '=' per model kind: for each seed a group of bars, one per head (heads 0, 1, ... left to right), each stacked from the mean attention weight over all p² inputs to a (bottom), b and '=' (top). Dashed: 0.9, the share above which a head counts as attending to one position in the attention summary."
plots.attention_panels(attention, circuits.MODEL_ORDER, focus_threshold=circuits.FOCUSED_ATTENTION)

# %%
save_numbers(circuits.circuit_numbers(neuron, document, weights, attention, P, CONDITIONS), P);
