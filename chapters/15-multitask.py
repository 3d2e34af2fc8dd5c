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
# **Together or one after the other**: per seed, subtraction's epochs to the top threshold (first
# reached, its own test set) over addition's, on the log scale (paired; a task that never got
# there enters at the cap), and the difference in epochs.
#
# **Shared or separate circuits**: the neuron method's key frequencies (held by at least
# `probe_min_neurons` neurons) of the model doing addition and of the model doing subtraction,
# per seed, and how many they share against chance (the exact tail of the sum over seeds of
# hypergeometric overlaps among the p//2 candidate frequencies). Multi-task: one model, read at
# addition's token and at subtraction's. Sequential (chapter 13, grokked source): the source on
# addition, then the transferred model on subtraction, the document's sense of "distinct
# circuits". Inside one model the two tokens share every neuron (a one-layer model's neurons read
# a and b the same way whichever "=" follows), so their frequency sets can coincide by
# construction; the table shows it for the transferred model's two tokens, and says what a
# frequency set per token cannot separate. The hypothesis's test (one test, uncorrected, outside
# the family of chapter 06): per seed, the Jaccard index of the two sets in multi-task training
# minus in sequential training, its mean with a paired t-interval.

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
together = tt.speedup(tt.per_task(multi, (source, target)), top, cap, source, target, level)
gap = tt.paired_difference(tt.by_seed(multi, f"{target} first top"), tt.by_seed(multi, f"{source} first top"), level,
                           f"{target} minus {source}: epochs to the top threshold")
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
multi_label, sequential_label = list(sets)[:2]
jaccard = tt.paired_difference(sharing[multi_label].jaccard, sharing[sequential_label].jaccard, level,
                               "Jaccard of the key frequencies doing each task, multi-task minus sequential",
                               tt.DIFFERENCE_OF_SHARES)
hypothesis = tt.hypothesis_verdict(
    "Multi-task training from scratch creates shared circuits, while sequential training forces distinct circuits",
    "Jaccard index of the key frequencies doing addition and doing subtraction: in the multi-task model (its two "
    "tokens) minus in sequential training (the grokked source on addition, the transferred model on subtraction), "
    "per seed", jaccard.mean, jaccard.ci_low, jaccard.ci_high, jaccard.p, jaccard.n_pairs)

# %%
#| label: fig-multitask-curves
#| fig-cap: "Multi-task training from scratch: test accuracy on addition and on subtraction, each at its own token, against epoch (log scale): median over seeds, min-max band, thin lines per seed. A run stops once both test sets together held the top threshold for the hold window (`probe_hold_epochs`), or at the cap (`task_max_epochs`)."
plots.learning_curves(tt.curves_of(runs, "multitask"), metric=[f"test_acc_{source}", f"test_acc_{target}"],
                      log_x=True)

# %%
#| label: tbl-multitask-together
#| tbl-cap: "Do the two tasks grok together? Per seed, epochs to the top threshold on each task's test set (first reached): subtraction's over addition's (geometric mean with its t-interval at the study's {level}, paired t and Wilcoxon p, uncorrected; '≥'/'≤' where one task never got there by the cap)."
md_table(wt.speedup_display({"ratio": together} if together else {}),
         digits={"speed-up": "sig3", "CI low": "sig3", "CI high": "sig3", "p (paired t)": "p", "p (Wilcoxon)": "p"})

# %%
#| label: tbl-multitask-gap
#| tbl-cap: "The same per seed as a difference: subtraction's epochs to the top threshold minus addition's (first reached, each on its own test set): mean with its t-interval at the study's {level}, paired t-test p (uncorrected), per-seed differences; a seed where a task never got there by the cap is left out."
md_table(tt.paired_display({"gap": gap}), digits={"mean": "sig3", "CI low": "sig3", "CI high": "sig3",
                                                  "p (paired t)": "p"})

# %%
#| label: tbl-multitask-sharing
#| tbl-cap: "Key frequencies doing addition and doing subtraction (the neuron method, at least `probe_min_neurons` neurons): the multi-task model at its two tokens; sequential training, the grokked source on addition and the transferred model (chapter 13) on subtraction; and the transferred model at its two tokens. Per seed the frequencies shared of the two sets' sizes, their total against the total expected by chance (uniform sets of the same sizes among the p//2 candidates) with the exact tail p, and the mean Jaccard index."
md_table(tt.sharing_display(sharing), digits={"expected by chance": 3, "p (chance)": "p", "mean Jaccard": 3})

# %%
#| label: tbl-multitask-hypothesis
#| tbl-cap: "The design document's hypothesis on multi-task training, its one test and verdict: supported when the interval of the effect lies wholly above 0, contradicted when wholly below, not established when it holds 0 (interval at the study's {level}; p uncorrected, outside the family of chapter 06)."
md_table(tt.verdict_display([hypothesis]), digits={"estimate": 3, "CI low": 3, "CI high": 3, "p": "p"})

# %%
save_numbers(Multitask(p=P["p"], n_seeds=len(P["seeds"]), cap=cap, hold_epochs=P["probe_hold_epochs"], confidence=level,
                       top_threshold=top, runs_table=tt.table_of(table), together=together, gap=gap, sharing=sharing,
                       jaccard_difference=jaccard, hypothesis=hypothesis), P);
