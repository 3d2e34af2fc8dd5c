# ---
# jupyter:
#   grokpaper:
#     title: "16 · The task-similarity gradient"
#     depends_on: [06-statistics, 13-task-tokens, 14-replay, 15-multitask]
#     runs: [tasks:similarity, tasks:sequential/grokked, tasks:sequential/random]
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
# # The task-similarity gradient
#
# The design document's first future experiment: transfer to targets of decreasing similarity to
# addition, with the hypothesis that multi-task retention scales with task similarity. Each seed
# trains, from its grokked addition source and from its random init (the weights the source started
# from), each target mod p on its own task token (a copy of "="), addition keeping its token:
# subtraction (chapter 13's runs), multiplication a·b, a² + ab + b², and a fixed random table
# (`table_seed` 0, the same table for every seed). The document's order of similarity, from most
# to least similar, is the profile's `similarity_targets` order: subtraction, multiplication,
# a² + ab + b², then the random table, which has nothing to share.
#
# A run stops once the target's test accuracy held the top threshold for `probe_hold_epochs`
# epochs, or at its cap: `task_max_epochs`, and `random_table_max_epochs` for the random table,
# which cannot generalise (its runs show how fast it is memorised: epochs to the top threshold on
# training accuracy).
#
# Per target: the speed-up over random init (paired by seed, a run that never got there entering at
# the cap); frequency reuse (the neuron method's key frequencies at the target's token at the end,
# against the grokked source's, with the hypergeometric null, and the same for the random-init runs
# as a control); addition's test accuracy at its own token over training and at the end; and
# progress measures over training and of the final weights beside Nanda et al.'s: our reading of
# Furuta et al.'s Fourier frequency sparsity and coefficient ratio (`grokpaper.analysis.furuta`; the paper's exact
# definitions were not available to us, the module states the reading), the Gini of W_E's Fourier
# norms, and addition's restricted and excluded loss at the source's key frequencies.
#
# **Multiplication** is addition of discrete logarithms (a·b = g^(log a + log b) for a primitive
# root g), so its circuit is expected to be sparse in the discrete-log basis, not the additive one.
# The neuron method is run in both bases (`grokpaper.analysis.dlog`); the inputs with a = 0 or
# b = 0 have no logarithm and are set aside in the discrete-log basis (their share of each
# neuron's variance is reported).
#
# **Retention and the hypothesis's test.** The document's "multi-task retention" is read, as its
# experiment asks it, of the sequential transfer without replay: how much of addition a grokked run
# keeps at its own token while it learns the target. In chapter 13's runs addition falls below half
# within the first few evaluations and sits at chance long before a run stops, so neither its
# accuracy at a common late epoch (noise at chance) nor the epoch it fell below half (a tie at the
# evaluation grid) can rank the targets. The measure is addition's **early retention**: its mean test
# accuracy over the evaluations of the first `probe_dense_until` epochs of the transfer, the area
# under its curve per epoch (`task_tokens.early_retention`; a seed's runs share one window, shorter
# only if one of them stopped sooner). The test (one test, outside the family of chapter 06, in the
# family of chapters 13-16's tests) is Page's trend test over the targets, repeated by seed, two-sided
# (twice the smaller p of the predicted order, more retention for a more similar target, and of the
# reverse). Its effect is the mean over seeds of Spearman's correlation of a seed's early retention
# with the predicted order, with its t-interval; the verdict needs both, in one order. The similarity
# order is the document's, assumed, not measured.

# %% tags=["parameters"]
# The profile gives every value (params/<profile>.yaml). `papermill ... -p KEY VALUE` overrides
# any parameter defined in grokpaper/config.py; the next cell checks it.
profile = "smoke"

# %%
import pandas as pd

from grokpaper.analysis.probes import make_probes
from grokpaper.analysis.swapped_pairs import SWAPPED_COLUMNS, swapped_pairs_table
from grokpaper.config import resolve_in_notebook
from grokpaper.core.study import SIMILARITY_CONDITIONS, Study
from grokpaper.paper import audit, plots, task_plots
from grokpaper.paper import task_tokens as tt
from grokpaper.paper.contract import Similarity
from grokpaper.paper.report import Results, md_table, save_numbers

P = resolve_in_notebook("16-similarity", globals())
study = Study.from_params(P, progress=False, probes=make_probes, train=P["missing_runs"] == "train", profile=profile)
top, source, target = max(P["thresholds"]), P["source_task"], P["transfer_task"]
level, min_neurons, targets = P["confidence"], P["probe_min_neurons"], list(P["similarity_targets"])
designs = [d for d in study.settings.task_designs()
           if d[0] == "similarity" or (d[0] == "sequential" and d[1] in SIMILARITY_CONDITIONS)]
runs = study.task_runs(designs)
for run in runs:  # the transfer task's pair is the sequential experiment's: one row per target
    run.experiment = "similarity"
table = tt.runs_table(runs, P["thresholds"])
# A commutative target's test accuracy split by whether a test pair's swap is a training pair
# (grokpaper.analysis.swapped_pairs): the pairs its training pairs answer by symmetry alone.
table = table.merge(swapped_pairs_table(runs), on=["condition", "target", "seed"], how="left", validate="one_to_one")
cap_of = {t: P["random_table_max_epochs"] if t == "random" else P["task_max_epochs"] for t in targets}
speedups = {t: tt.speedup(tt.select(table, "similarity", t), top, cap_of[t], "grokked", "random", level)
            for t in targets}
memorising = (tt.speedup(tt.select(table, "similarity", "random"), top, cap_of["random"], "grokked", "random", level,
                         column="train first top") if "random" in targets else None)
retention = {t: tt.retention(tt.select(table, "similarity", t, ["grokked"]), source, level,
                             tt.kept_by_seed(study, [r for r in runs if r.target == t and r.condition == "grokked"],
                                             P["p"], source, P["frac_train"]))
             for t in targets}
sources = study.sources()
reuse, reuse_random = {}, {}
for t in targets:
    for condition, found in (("grokked", reuse), ("random", reuse_random)):
        pairs = {r.seed: (tt.key_frequencies(sources[r.seed].params(), P["p"], source, 0, min_neurons),
                          tt.key_frequencies(r.params(), P["p"], t, 1, min_neurons))
                 for r in runs if r.target == t and r.condition == condition}
        found[t] = tt.frequency_sharing(pairs, P["p"] // 2, f"{tt.target_name(t)}, {condition}: source vs final")
measures = tt.weight_measures(runs, P["p"], source)
# Multiplication in both bases; the random table, which has nothing to compute, is the control: what
# a basis explains there is what persists from the start, not a way of computing the target.
bases = pd.concat([tt.basis_table([r for r in runs if r.target == t], P["p"], min_neurons).assign(target=t)
                   for t in ("multiply", "random") if t in targets], ignore_index=True) if "multiply" in targets \
    else pd.DataFrame()
early, window = tt.early_retention_table({t: {r.seed: r.curve for r in runs if r.target == t and r.condition == "grokked"}
                                          for t in targets}, f"test_acc_{source}", P["probe_dense_until"])
# each grokked run's early retention joins the runs table: the values the hypothesis's test ranks
table = table.merge(early.rename_axis("seed").reset_index().melt(id_vars="seed", var_name="target",
                                                                 value_name=f"early retention {source}")
                    .assign(condition="grokked"), on=["condition", "target", "seed"], how="left", validate="one_to_one")
hypothesis = tt.trend_verdict("Multi-task retention scales with task similarity",
                              f"addition's mean test accuracy at its own token over the first {P['probe_dense_until']:,} "
                              "epochs (grokked runs), over the targets from least to most similar: mean Spearman rho "
                              "per seed", early, targets[::-1], level)

# %%
#| label: fig-similarity-curves
#| fig-cap: "The task-similarity gradient: test accuracy on the target at its own token (top) and on addition at its own token (bottom) against epoch (log scale), from the grokked source, one colour per target: median over seeds, min-max band, thin lines per seed. A run stops once the target's test accuracy held {top} for {hold}, or at its cap ({task_cap}; {table_cap} for the random table); runs that stopped early are held at their last value."
plots.learning_curves({tt.target_name(t): [r.curve for r in runs if r.target == t and r.condition == "grokked"]
                       for t in targets},
                      metric=["test_acc", f"test_acc_{source}"], log_x=True, hold_last=True)

# %%
#| label: fig-similarity-progress
#| fig-cap: "Progress measures over training per target (columns), against epoch (log scale), one line per seed, from the grokked source (blue) and from random init (grey, dashed): our reading of Furuta et al.'s Fourier frequency sparsity and coefficient ratio of W_E's number tokens, Nanda et al.'s Gini of W_E's Fourier norms, and addition's excluded loss at the source's key frequencies, read at addition's token (log scale). A run ends where it stopped: the target's test accuracy held {top} for {hold}, or its cap ({task_cap}; {table_cap} for the random table)."
plots.epoch_grid(**tt.progress_panels(runs, targets, source))

# %%
#| label: fig-similarity-speedups
#| fig-cap: "Speed-up of the grokked source over random init per target: random init's epochs to {top} on the target (first reached) over the grokked source's, one dot per seed (a triangle: a bound, one run never got there by its cap), and the geometric mean with its paired t-interval at the study's {level} (where every ratio is a bound, the mean is a bound too and has no interval); a seed whose two runs both never got there has no ratio and no dot (the table counts them). Dashed: as fast as random init. A run stops once the target's test accuracy held {top} for {hold}, or at its cap ({task_cap}; {table_cap} for the random table)."
found = {t: s for t, s in speedups.items() if s is not None and s.n_pairs}
(task_plots.speedup_by_target(*tt.speedup_points(found), reference="random init",
                      ylabel=f"speed-up: random init's epochs to {100 * top:g} %\nover the grokked source's")
 if found else task_plots.no_data(f"No target has a seed where the grokked or the random-init run reached {100 * top:g} %."))

# %%
#| label: tbl-similarity-speedups
#| tbl-cap: "Speed-up of the grokked source over random init per target, paired by seed: n pairs, geometric mean with its t-interval at the study's {level}, paired t and Wilcoxon p (before the correction of the family table below, outside the family of chapter 06), per-seed ratios ('≥'/'≤': a bound, one run never got there by its cap; a geometric mean marked so is a bound too, and a row whose every ratio is a bound has no interval or p), and the seeds whose two runs both never got there (no ratio: left out). Runs stop once {top} held for {hold}, or at the cap ({task_cap}; {table_cap} for the random table). The random table cannot generalise: its row on test accuracy has no pairs; the last row is its memorising (epochs to {top} on training accuracy)."
md_table(tt.with_neither_reached(
    tt.speedup_display({**{tt.target_name(t): s for t, s in speedups.items() if s is not None},
                        **({"random table, memorising": memorising} if memorising else {})}),
    {**{tt.target_name(t): tt.neither_reached(tt.select(table, "similarity", t), top, "grokked", "random")
        for t in targets},
     "random table, memorising": tt.neither_reached(tt.select(table, "similarity", "random"), top, "grokked", "random",
                                                     column="train first top")}).rename(columns={"condition": "target"}),
         digits={"speed-up": "sig3", "CI low": "sig3", "CI high": "sig3", "p (paired t)": "p", "p (Wilcoxon)": "p"})

# %%
#| label: tbl-similarity-retention
#| tbl-cap: "Addition at its own token after transfer from the grokked source, per target: runs, mean test accuracy on addition at the start, at the first {top} evaluation on the target and at the end, with the t-interval of the end's mean at the study's {level}, the lowest end value and the lowest at any evaluation; the mean R² of the addition readout at the last probe (runs stop once the target held {top} for {hold}, or at the cap: {task_cap}; {table_cap} for the random table). Then what the source knew: per seed, the test pairs of addition its source answered correctly, and the mean share of those the run still answered at its end (test accuracy alone cannot say it: a source that never generalised had little on the test pairs to keep)."
md_table(tt.retention_display({tt.target_name(t): r for t, r in retention.items()}), digits="sig3")

# %%
#| label: tbl-similarity-reuse
#| tbl-cap: "Frequency reuse per target: the grokked source's key frequencies (addition) against the final model's at the target's token (the neuron method, at least {min_neurons} neurons), per seed, from the grokked source and (a control) from random init: shared of the sets' sizes, total against chance with the exact tail p, mean Jaccard index. The target's token starts as a copy of addition's '=', so frequencies shared with the source may have persisted at the token rather than been reused for the target: the random table, which can use no frequency, shows how much persists."
md_table(tt.sharing_display({**{f"grokked: {tt.target_name(t)}": s for t, s in reuse.items()},
                             **{f"random init: {tt.target_name(t)}": s for t, s in reuse_random.items()}}),
         digits={"expected by chance": 3, "p (chance)": "p", "mean Jaccard": 3})

# %%
#| label: fig-similarity-reuse
#| fig-cap: "Frequency reuse per target: the share of the grokked source's key frequencies (addition, the neuron method, at least {min_neurons} neurons) that the final model holds again at the target's token, one dot per seed, bar: their mean; from the grokked source and, as a control, from random init (which never saw the source). Black dash: what chance gives, a set of the same size drawn at random among the p // 2 frequencies. The test against chance: the table above. Shared is not reused: the target's token starts as a copy of addition's '=', and the random table, which can use no frequency, shows what persists."
task_plots.frequency_overlap(tt.overlap_points({**{(t, "grokked"): s for t, s in reuse.items()},
                                                **{(t, "random"): s for t, s in reuse_random.items()}}),
                             targets, ["grokked", "random"], labels={"grokked": "from the grokked source",
                                                                      "random": "from random init"})

# %%
#| label: tbl-similarity-measures
#| tbl-cap: "Measures of the final weights per target and initial weights (medians over seeds): our reading of Furuta et al.'s Fourier frequency sparsity (share of frequencies with an embedding amplitude at least 0.1 of the largest) and coefficient ratio (mean min/max of the cos and sin amplitudes), the Gini of W_E's Fourier norms (Nanda et al.), and addition's restricted and excluded loss at the source's key frequencies, read at addition's token (last probe)."
md_table(measures.drop(columns=["experiment", "seed"]).groupby(["target", "condition"], sort=False).median()
         .reset_index().assign(target=lambda d: d["target"].map(tt.target_name)), digits="sig3")

# %%
#| label: tbl-similarity-bases
#| tbl-cap: "Multiplication in two bases, with the random table as the control: the neuron method on the final model at the target's token, in the additive Fourier basis over the tokens and in the discrete-log (multiplicative character) basis over the nonzero tokens, logarithms to the smallest primitive root of p; per run the mean share of a neuron's variance its best frequency explains (on the inputs the basis covers, and over all inputs), the number of key frequencies, the share of variance the basis sets aside, and the share on the inputs with a = 0 or b = 0, which the discrete-log basis sets aside (against the share those inputs would hold by chance). The random table has nothing to compute: what a basis explains in its runs is what persists from the start."
BASIS_COLUMNS = {"target": "target", "condition": "initial weights", "seed": "seed", "basis": "basis",
                 "mean_frac_explained": "explained", "mean_frac_explained_all_inputs": "explained, all inputs",
                 "n_key_freqs": "key freqs", "excluded_share": "set aside", "zero_line_share": "a or b = 0",
                 "zero_line_chance": "a or b = 0, chance"}
(md_table(bases.assign(target=lambda d: d["target"].map(tt.target_name))[list(BASIS_COLUMNS)].rename(columns=BASIS_COLUMNS),
          digits=3) if len(bases) else None)

# %%
#| label: tbl-similarity-swapped
#| tbl-cap: "Test accuracy on a commutative target at the end, split by the swapped pair: a test pair (a, b) whose swap (b, a) is a training pair has that pair's label, so it can be answered from the training pairs by the task's symmetry alone; only the other test pairs show whether a model computes the task beyond its training pairs and their swaps. The split says where the correct answers lie, not how a model produces them. Per run, from the grokked source and from random init: the test accuracy, the share of the test pairs whose swap is a training pair, and the accuracy on those and on the others (chance, 1/p, is about 0.009). A run stops once the target's test accuracy held {top} for {hold}, or at its cap ({task_cap})."
md_table(table.dropna(subset=[SWAPPED_COLUMNS[0]])[["target", "condition", "seed", "final test acc", *SWAPPED_COLUMNS]]
         .assign(target=lambda d: d["target"].map(tt.target_name)), digits=3)

# %%
#| label: tbl-similarity-early-retention
#| tbl-cap: "Addition's early retention per target in the grokked runs: its mean test accuracy (%) at its own token over the evaluations of the transfer's first epochs, up to the window given ({dense_until}, or the seed's earliest stop if sooner), one row per seed, the targets from most to least similar; the values the trend test ranks. Chance, 1/p, is about 0.9 %."
md_table(tt.early_retention_display(early, window, targets).rename(columns=tt.target_name), digits=3)

# %%
#| label: tbl-similarity-hypothesis
#| tbl-cap: "The design document's hypothesis on task similarity, its one test and verdict: the effect is the mean over seeds of Spearman's correlation of addition's early retention with the targets' predicted order, with its t-interval at the study's {level}; the test is Page's trend test over the targets, repeated by seed (p two-sided: twice the smaller of the two orders' one-sided p; before the correction of this chapter's task family, outside the family of chapter 06). Supported when the p is below 1 minus the study's level in the predicted order and the interval lies wholly above 0, contradicted when both say the reverse order, not established otherwise. The paper's verdict, after the correction, is the claims audit's below."
md_table(tt.verdict_display([hypothesis]), digits={"estimate": 3, "CI low": 3, "CI high": 3, "p": "p"})

# %%
#| label: tbl-task-family
#| tbl-cap: "The tests of chapters 13-16 as one family, one test per question: each with its estimate (a ratio of epochs, '≥'/'≤' where a censored run makes it a bound; a difference; or frequencies shared), its interval at the study's {level} where it has one, its p and Holm's correction over the family's tests with a defined p. The new experiments are corrected among themselves, apart from chapter 06's family of the document's claims; the last column, a sensitivity check, corrects over both families at once. The chapters' own tables show p before any correction. Left out, as descriptive or as the same data twice: the gap in epochs (the pairs of 'together'), the key-frequency sharing of one model's two tokens, random init's replay gain, the random table's speed-up, the random-init runs' frequency reuse (the grokked runs' null) and this chapter's subtraction speed-up (chapter 13's runs); and, as untestable, a speed-up whose every pair is a bound (one run of each pair never got there by the cap: its chapter gives the per-seed bounds)."
R = Results.load()
task_family = tt.task_family(tt.task_family_rows(R.task_tokens, R.replay, R.multitask,
                                                 {"speedups": {t: s for t, s in speedups.items() if s is not None},
                                                  "reuse": reuse, "hypothesis": hypothesis}),
                             other_family=[t.p for t in R.statistics.family.values()])
md_table(tt.task_family_display(task_family), digits={"CI low": "sig3", "CI high": "sig3", "p": "p", "p (Holm)": "p",
                                                       "p (Holm, both families)": "p"})

# %%
#| label: tbl-future-audit
#| tbl-cap: "The design document's future-work hypotheses in the claims audit: each judged by the audit's rule for an effect claimed in words on its test in the family above (Holm within it): supported when the corrected p is below {alpha} on the predicted side, contradicted when below it on the other side, not established otherwise (these runs cannot show an effect absent). The verdict rows of chapters 14-16 judge the same tests before the correction, so a verdict there can be stronger than here; this one is the paper's."
future_audit = audit.future_work_audit(task_family, P, notes={
    tt.REPLAY_HYPOTHESIS_TEST: R.replay.hypothesis.reason, tt.MULTITASK_HYPOTHESIS_TEST: R.multitask.hypothesis.reason,
    tt.SIMILARITY_HYPOTHESIS_TEST: hypothesis.reason})
md_table(audit.appendix_table(future_audit))

# %%
save_numbers(Similarity(p=P["p"], n_seeds=len(P["seeds"]), cap=P["task_max_epochs"], hold_epochs=P["probe_hold_epochs"],
                        confidence=level, top_threshold=top, runs_table=tt.table_of(table), targets=targets,
                        random_table_cap=P["random_table_max_epochs"],
                        speedups={t: s for t, s in speedups.items() if s is not None}, memorising=memorising,
                        retention=retention, reuse=reuse, reuse_random=reuse_random, measures=tt.table_of(measures),
                        bases=tt.table_of(bases), hypothesis=hypothesis, task_family=task_family,
                        future_audit={r.id: r for r in future_audit}), P);
