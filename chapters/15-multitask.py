# ---
# jupyter:
#   grokpaper:
#     title: "15 · Multi-task training from scratch"
#     depends_on: []
#     runs: [tasks]
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
# # Multi-task training from scratch
#
# The design document's third future experiment: train addition and subtraction together from
# scratch, with the hypothesis that multi-task training creates shared circuits while sequential
# training forces distinct ones. Each seed trains one model from its random init (the weights its
# source started from, with subtraction's token a copy of "="), on both tasks' training pairs (the
# seed's one split), each on its own token, in one full batch: addition on token p, subtraction
# on p + 1. The run's test set is both tasks' test pairs; each task is also measured alone at every
# evaluation. A run stops once the accuracy on both test sets together held the top threshold for
# `probe_hold_epochs` epochs, or at the cap `task_max_epochs`.
#
# **Together or one after the other**: per seed, subtraction's epochs to a threshold (first
# reached, on its own test set) over addition's, on the log scale (paired), and the difference in
# epochs. The run stops on both test sets pooled, so one task alone may stop a little short of the
# top threshold; the comparison uses the highest threshold each task is sure to have reached by
# then (the pooled errors could all be one task's), and a task that never got there before a run
# hit its cap enters at the cap.
#
# **Shared or separate circuits**: the neuron method's key frequencies (held by at least
# `probe_min_neurons` neurons) read at addition's token and at subtraction's, per seed, and how
# many the two sets share against chance (the exact tail of the sum over seeds of hypergeometric
# overlaps among the p//2 candidate frequencies): in the multi-task model, and in the model after
# sequential transfer from the grokked source (chapter 13). The two tokens of one model share
# every weight but one column of W_E (and of W_U), so their frequency sets may coincide whatever
# the training; comparing one model's two tokens in both designs keeps that alike on both sides.
# For the document's sense of "distinct circuits" the table also compares the grokked source on
# addition with the transferred model on subtraction (two models). The hypothesis's test (one test,
# uncorrected, outside the family of chapter 06): per seed, the Jaccard index of the two tokens'
# sets in the multi-task model minus in the sequential one, its mean with a paired t-interval; a
# seed with no key frequency at either token has no index and is left out (the verdict says so).

# %% tags=["parameters"]
# The profile gives every value (params/<profile>.yaml). `papermill ... -p KEY VALUE` overrides
# any parameter defined in grokpaper/config.py; the next cell checks it.
profile = "smoke"

# %%
from grokpaper.analysis.probes import make_probes
from grokpaper.config import resolve_in_notebook
from grokpaper.core.study import SCRATCH, Study
from grokpaper.paper import plots
from grokpaper.paper import task_tokens as tt
from grokpaper.paper import what_transfers as wt
from grokpaper.paper.contract import Multitask
from grokpaper.paper.report import md_table, save_numbers

P = resolve_in_notebook("15-multitask", globals())
study = Study.from_params(P, progress=False, probes=make_probes, train=P["missing_runs"] == "train", profile=profile)
top, source, target = max(P["thresholds"]), P["source_task"], P["transfer_task"]
cap, level, min_neurons = P["task_max_epochs"], P["confidence"], P["probe_min_neurons"]
runs = study.task_runs([("multitask", SCRATCH, target), ("sequential", "grokked", target)])
table = tt.runs_table(runs, P["thresholds"])
multi = tt.select(table, "multitask")
# The run stops on both test sets pooled, so a task alone may stop a little short of the top threshold;
# each task is sure to have reached `sure` by then (tt.guaranteed_threshold), so it is compared there.
first_multi = next(r for r in runs if r.experiment == "multitask")
sure = tt.guaranteed_threshold(P["thresholds"], top, *tt.pooled_sizes(first_multi, P["p"], P["frac_train"]))
if sure is None:
    raise ValueError(f"no threshold of {P['thresholds']} is sure to be reached by each task when both together reach "
                     f"{top}: add a lower one to the profile's thresholds")
together = tt.speedup(tt.per_task(multi, (source, target), sure), sure, cap, source, target, level)
gap = tt.paired_difference(tt.by_seed(multi, f"{target} first {100 * sure:g}%"),
                           tt.by_seed(multi, f"{source} first {100 * sure:g}%"), level,
                           f"{target} minus {source}: epochs to {100 * sure:g} %")
token, sources = {source: 0, target: 1}, study.sources()


def keys(params, task):
    return tt.key_frequencies(params, P["p"], task, token[task], min_neurons)


sets = {"multi-task, one model": {r.seed: (keys(r.params(), source), keys(r.params(), target))
                                  for r in runs if r.experiment == "multitask"},
        "sequential, source then transferred": {r.seed: (keys(sources[r.seed].params(), source), keys(r.params(), target))
                                                for r in runs if r.experiment == "sequential"},
        "sequential, transferred model's two tokens": {r.seed: (keys(r.params(), source), keys(r.params(), target))
                                                       for r in runs if r.experiment == "sequential"}}
sharing = {label: tt.frequency_sharing(pairs, P["p"] // 2, f"{label}: {source} vs {target}")
           for label, pairs in sets.items()}
multi_label, _, sequential_label = list(sets)
jaccard = tt.paired_difference(sharing[multi_label].jaccard, sharing[sequential_label].jaccard, level,
                               "Jaccard of the key frequencies at the two tokens, multi-task minus sequential",
                               tt.DIFFERENCE_OF_SHARES)
dropped = len(P["seeds"]) - jaccard.n_pairs
hypothesis = tt.hypothesis_verdict(
    "Multi-task training from scratch creates shared circuits, while sequential training forces distinct circuits",
    "Jaccard index of the key frequencies at addition's and at subtraction's token of one model: the multi-task "
    "model minus the model after sequential transfer from the grokked source, per seed", jaccard.mean,
    jaccard.ci_low, jaccard.ci_high, jaccard.p, jaccard.n_pairs,
    note=f"{dropped} seed(s) left out: no key frequency at either token" if dropped else "")

# %%
#| label: fig-multitask-curves
#| fig-cap: "Multi-task training from scratch: test accuracy on addition and on subtraction, each at its own token, against epoch (log scale): median over seeds, min-max band, thin lines per seed. A run stops once both test sets together held the top threshold for the hold window (`probe_hold_epochs`), or at the cap (`task_max_epochs`)."
plots.learning_curves(tt.curves_of(runs, "multitask"), metric=[f"test_acc_{source}", f"test_acc_{target}"],
                      log_x=True)

# %%
#| label: tbl-multitask-together
#| tbl-cap: "Do the two tasks grok together? Per seed, epochs to the highest threshold each task is sure to have reached when the run stops (first reached, each on its own test set; the run stops once both test sets together held the top threshold for the hold window, `probe_hold_epochs`, or at the cap): subtraction's over addition's (geometric mean with its t-interval at the study's {level}, paired t and Wilcoxon p, uncorrected; '≥'/'≤' where one task never got there by the cap)."
md_table(wt.speedup_display({f"{target} over {source} at {100 * sure:g} %": together} if together else {}),
         digits={"speed-up": "sig3", "CI low": "sig3", "CI high": "sig3", "p (paired t)": "p", "p (Wilcoxon)": "p"})

# %%
#| label: tbl-multitask-gap
#| tbl-cap: "The same per seed as a difference: subtraction's epochs minus addition's to that threshold (first reached, each on its own test set): mean with its t-interval at the study's {level}, paired t-test p (uncorrected), per-seed differences; a seed where a task never got there by the cap is left out."
md_table(tt.paired_display({"gap": gap}), digits={"mean": "sig3", "CI low": "sig3", "CI high": "sig3",
                                                  "p (paired t)": "p"})

# %%
#| label: tbl-multitask-sharing
#| tbl-cap: "Key frequencies read at addition's and at subtraction's token (the neuron method, at least `probe_min_neurons` neurons): the multi-task model at its two tokens; sequential training, the grokked source on addition and the transferred model (chapter 13) on subtraction (two models); and the transferred model at its two tokens (the hypothesis's comparison with the first row). Per seed the frequencies shared of the two sets' sizes, their total against the total expected by chance (uniform sets of the same sizes among the p//2 candidates) with the exact tail p, and the mean Jaccard index."
md_table(tt.sharing_display(sharing), digits={"expected by chance": 3, "p (chance)": "p", "mean Jaccard": 3})

# %%
#| label: tbl-multitask-hypothesis
#| tbl-cap: "The design document's hypothesis on multi-task training, its one test and verdict: supported when the interval of the effect lies wholly above 0, contradicted when wholly below, not established when it holds 0 (interval at the study's {level}; p uncorrected, outside the family of chapter 06)."
md_table(tt.verdict_display([hypothesis]), digits={"estimate": 3, "CI low": 3, "CI high": 3, "p": "p"})

# %%
save_numbers(Multitask(p=P["p"], n_seeds=len(P["seeds"]), cap=cap, hold_epochs=P["probe_hold_epochs"], confidence=level,
                       top_threshold=top, runs_table=tt.table_of(table), together=together, gap=gap, sharing=sharing,
                       jaccard_difference=jaccard, hypothesis=hypothesis), P);
