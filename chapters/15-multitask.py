# ---
# jupyter:
#   grokpaper:
#     title: "15 · Multi-task training from scratch"
#     depends_on: []
#     runs: [tasks:multitask, tasks:sequential/grokked, tasks:replay/grokked]
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
# addition with the transferred model on subtraction (two models). These frequency overlaps are
# descriptive.
#
# **Which neurons carry each task** (`grokpaper.analysis.neuron_use`) decides the hypothesis. For
# one model and one task token, each MLP neuron's direct attribution to the correct answer's
# margin (its activation at "=" times its path to the logits, the answer's logit minus the mean
# over the p numbers), averaged over the seed's test pairs of the task that the model answers
# correctly (no run of the seed trained on them) and clamped at 0, is the neuron's *use* (the
# circuit that does the task, where the model does it);
# the overlap of two use vectors is their weighted Jaccard index, against a null that relabels one
# side's neurons (`n_permutations` seeded draws) and rescaled so that chance is 0 and the same use 1.
# Compared like for like, one model doing both tasks at the end: the multi-task model, and the
# model after sequential transfer from the grokked source *with replay* (chapter 14), the only
# sequential model that still does addition, though on part of its inputs only: the two are measured
# on the same inputs, each task's test pairs that both answer, so that a model doing addition on
# part of them is not compared with a whole circuit (this rule was set after the paper profile's
# seed 42 showed the replay models' addition at 44-84 %, when the earlier rule, both tasks at 90 %,
# would have left every seed out; every input of each task, answered or not, is the sensitivity
# check beside it). Beside them: the sequential model
# without replay (its addition is lost, the floor of a model doing one task), and a drift control,
# the grokked source against the replay model, both on addition (how far one task's neurons move
# in sequential training). The hypothesis's test (one test, before the correction over chapters 13-16's tests, outside the family of
# chapter 06): per seed, the chance-corrected overlap in the multi-task model minus in the model
# with replay, its mean with a paired t-interval, over the seeds where both overlaps are defined
# (a model that answers no input of a task has none; the verdict names such seeds). Replay trains
# the two tasks partly together, so this compares joint training with sequential training that
# keeps some addition.

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
from grokpaper.paper.contract import Multitask
from grokpaper.paper.report import md_table, save_numbers

P = resolve_in_notebook("15-multitask", globals())
study = Study.from_params(P, progress=False, probes=make_probes, train=P["missing_runs"] == "train", profile=profile)
top, source, target = max(P["thresholds"]), P["source_task"], P["transfer_task"]
cap, level, min_neurons = P["task_max_epochs"], P["confidence"], P["probe_min_neurons"]
runs = study.task_runs([("multitask", SCRATCH, target), ("sequential", "grokked", target),
                        ("replay", "grokked", target)])
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


def end_accuracy(experiment, task):
    """Per seed, the run's test accuracy on ``task`` at its end: a watched task's own column, else
    (the target of a sequential run, its test set) the run's final test accuracy."""
    rows = tt.select(table, experiment)
    column = f"{task} acc end"
    if column in rows and rows[column].notna().all():
        return tt.by_seed(rows, column)
    return tt.by_seed(rows, "final test acc")


def one_model(experiment):
    """Per seed, the run's two tasks each at its own token, with its end accuracy on each."""
    acc = {task: end_accuracy(experiment, task) for task in (source, target)}
    return {r.seed: tuple((r.params(), task, token[task], acc[task][r.seed]) for task in (source, target))
            for r in runs if r.experiment == experiment}


source_acc = {s: float(run.curve["test_acc"].iloc[-1]) for s, run in sources.items()}
replay_add = end_accuracy("replay", source)
use_sides = {
    "multi-task, one model": one_model("multitask"),
    "sequential with replay, one model": one_model("replay"),
    "sequential without replay, one model (floor)": one_model("sequential"),
    "drift: grokked source, then the replay model, on addition": {
        r.seed: ((sources[r.seed].params(), source, 0, source_acc[r.seed]),
                 (r.params(), source, token[source], replay_add[r.seed])) for r in runs if r.experiment == "replay"}}
# Every side is measured on its seed's test pairs (no run of the seed trained on them), where its model
# answers. The two models the test compares are measured on the same inputs: for each task, the test
# pairs that both answer, so that a model doing addition on part of its inputs is compared with the other
# on that part, not on all of it.
tests_of = {s: tuple(tt.test_inputs(task, P["p"], s, P["frac_train"]) for task in (source, target)) for s in P["seeds"]}
multi_sides, replay_sides = use_sides["multi-task, one model"], use_sides["sequential with replay, one model"]
matched = {s: tuple(tests_of[s][i] & tt.answered_inputs(m[0], P["p"], m[1], m[2])
                    & tt.answered_inputs(r[0], P["p"], r[1], r[2])
                    for i, (m, r) in enumerate(zip(multi_sides[s], replay_sides[s])))
           for s in multi_sides if s in replay_sides}
drift = "drift: grokked source, then the replay model, on addition"
inputs_of = {"multi-task, one model": matched, "sequential with replay, one model": matched,
             "sequential without replay, one model (floor)": tests_of,
             drift: {s: (add, add) for s, (add, _) in tests_of.items()}}   # both sides do addition
neuron_use = {label: tt.neuron_use_overlaps(sides, P["p"], label, P["n_permutations"], P["seeds"][0],
                                            inputs=inputs_of[label]) for label, sides in use_sides.items()}
# Sensitivity: the same two models on every input of each task, right or wrong (the measure fixed before
# the rule of the seed's answered test pairs, which the paper profile's seed 42 showed was needed).
for label in ("multi-task, one model", "sequential with replay, one model"):
    neuron_use[f"{label}, every input (sensitivity)"] = tt.neuron_use_overlaps(
        use_sides[label], P["p"], f"{label}, every input", P["n_permutations"], P["seeds"][0], answered_only=False)
multi_use, replay_use = neuron_use["multi-task, one model"], neuron_use["sequential with replay, one model"]
use_difference = tt.paired_difference(multi_use.corrected, replay_use.corrected, level,
                                      "chance-corrected overlap of the neurons used for the two tasks, multi-task minus "
                                      "sequential with replay")
use_difference_every_input = tt.paired_difference(
    neuron_use["multi-task, one model, every input (sensitivity)"].corrected,
    neuron_use["sequential with replay, one model, every input (sensitivity)"].corrected, level,
    "the same on every input of each task (sensitivity)")
left_out = sorted((set(multi_use.overlap) | set(replay_use.overlap)) - set(use_difference.per_seed))
replay_addition = [a[0] for a in replay_use.accuracy.values()]
hypothesis = tt.hypothesis_verdict(
    "Multi-task training from scratch creates shared circuits, while sequential training forces distinct circuits",
    "its comparative part only: chance-corrected overlap of the MLP neurons one model uses for addition and for "
    "subtraction (direct attribution "
    "to the correct answer): the multi-task model minus the model after sequential transfer with replay, per seed",
    use_difference.mean, use_difference.ci_low, use_difference.ci_high, use_difference.p, use_difference.n_pairs,
    note="; ".join(part for part in (
        tt.distinct_part_note(replay_use, neuron_use["sequential without replay, one model (floor)"], 1 - level),
        f"seed(s) {', '.join(map(str, left_out))} left out: no test pair of a task that both models answer, or no "
        "neuron adding to its margin" if left_out else "",
        f"both models measured on the test pairs of each task that both answer; the replay model answers "
        f"{tt.share_range(replay_addition)} of addition's test pairs" if replay_addition else "") if part))

# %%
#| label: fig-multitask-curves
#| fig-cap: "Multi-task training from scratch: test accuracy on addition and on subtraction, each at its own token, against epoch (log scale): median over seeds, min-max band, thin lines per seed. A run stops once both test sets together held {top} for {hold}, or at the cap of {task_cap}; a run that stopped early is held at its last value, so the median covers every seed to the last stop."
plots.learning_curves(tt.curves_of(runs, "multitask"), metric=[f"test_acc_{source}", f"test_acc_{target}"],
                      log_x=True, hold_last=True)

# %%
#| label: tbl-multitask-together
#| tbl-cap: "Do the two tasks grok together? Per seed, epochs to the highest threshold each task is sure to have reached when the run stops (first reached, each on its own test set; the run stops once both test sets together held {top} for {hold}, or at the cap of {task_cap}): subtraction's over addition's (geometric mean with its t-interval at the study's {level}, paired t and Wilcoxon p before the correction over chapters 13-16's tests; '≥'/'≤' where one task never got there by the cap)."
md_table(tt.speedup_display({f"{target} over {source} at {100 * sure:g} %": together} if together else {}),
         digits={"speed-up": "sig3", "CI low": "sig3", "CI high": "sig3", "p (paired t)": "p", "p (Wilcoxon)": "p"})

# %%
#| label: tbl-multitask-gap
#| tbl-cap: "The same per seed as a difference: subtraction's epochs minus addition's to that threshold (first reached, each on its own test set): mean with its t-interval at the study's {level}, paired t-test p (uncorrected), per-seed differences; a seed where a task never got there by the cap is left out."
md_table(tt.paired_display({"gap": gap}), digits={"mean": "sig3", "CI low": "sig3", "CI high": "sig3",
                                                  "p (paired t)": "p"})

# %%
#| label: tbl-multitask-sharing
#| tbl-cap: "Key frequencies read at addition's and at subtraction's token (the neuron method, at least {min_neurons} neurons): the multi-task model at its two tokens; sequential training, the grokked source on addition and the transferred model (chapter 13) on subtraction (two models); and the transferred model at its two tokens (descriptive beside the first row: the hypothesis's test is on the neurons each task uses, with the replay model). Per seed the frequencies shared of the two sets' sizes, their total against the total expected by chance (uniform sets of the same sizes among the p//2 candidates) with the exact tail p, and the mean Jaccard index."
md_table(tt.sharing_display(sharing), digits={"expected by chance": 3, "p (chance)": "p", "mean Jaccard": 3})

# %%
#| label: tbl-multitask-neuron-use
#| tbl-cap: "Which MLP neurons carry each task: per comparison and seed, the weighted Jaccard overlap of the two sides' neuron use (direct attribution to the correct answer's margin, mean over the seed's test pairs of the task that the model answers correctly, clamped at 0; the multi-task and the replay model each on the test pairs that both answer, the rows marked sensitivity on every input of the task, answered or not), the mean overlap of the null that relabels one side's neurons ({n_permutations} seeded draws), the overlap rescaled to 0 at chance and 1 for the same use, the null's p (draws at or above the observed, with it: 1/({n_permutations} + 1) is the smallest it can be), each side's test accuracy at the end of its run (runs stop once their test set held {top} for {hold}, or at the cap of {task_cap}) and the share of its attribution the clamp left out. The hypothesis compares the first two comparisons; the floor and the drift control are beside them."
md_table(tt.use_display(neuron_use), digits={"overlap": 3, "chance": 3, "corrected": 3, "p (null)": "p"})

# %%
#| label: tbl-multitask-use-difference
#| tbl-cap: "The hypothesis's effect and its sensitivity to the inputs: per seed, the chance-corrected overlap of the neurons used for the two tasks in the multi-task model minus in the model after sequential transfer with replay, measured on the test pairs both answer (the test) and on every input of each task (sensitivity): mean, t-interval at the study's {level}, paired t-test p (the test's before the correction over chapters 13-16's tests, the sensitivity's uncorrected), per-seed differences."
md_table(tt.paired_display({"matched answered test pairs (the test)": use_difference,
                            "every input (sensitivity)": use_difference_every_input}),
         digits={"mean": 3, "CI low": 3, "CI high": 3, "p (paired t)": "p"})

# %%
#| label: tbl-multitask-hypothesis
#| tbl-cap: "The design document's hypothesis on multi-task training, its one test and verdict: supported when the interval of the effect lies wholly above 0, contradicted when wholly below, not established when it holds 0 (interval at the study's {level}; p before the correction over chapters 13-16's tests, outside the family of chapter 06). This verdict is before any correction; the paper's, after Holm's correction within the tests of chapters 13-16, is the claims audit's in chapter 16."
md_table(tt.verdict_display([hypothesis]), digits={"estimate": 3, "CI low": 3, "CI high": 3, "p": "p"})

# %%
save_numbers(Multitask(p=P["p"], n_seeds=len(P["seeds"]), cap=cap, hold_epochs=P["probe_hold_epochs"], confidence=level,
                       top_threshold=top, runs_table=tt.table_of(table), together=together, gap=gap, sharing=sharing,
                       jaccard_difference=jaccard, neuron_use=neuron_use, use_difference=use_difference,
                       hypothesis=hypothesis), P);
