"""Guards: the checks that the data still say what the article's sentences say.

``paper.qmd`` writes its findings as sentences ("grokked initialisation reached 99.9% sooner
than random initialisation"); the data behind them change with every build. Each such sentence
ends with an inline call of its guard, ``guard.faster("grokked")``, and the guard raises
``SentenceContradicted`` with the numbers when the data contradict the sentence::

    SentenceContradicted: 'grokked initialisation reached 99.9% sooner than random initialisation':
    random / grokked = 0.8× (95 % CI 0.4–1.6), Holm-corrected p = 0.61 over 31 tests; restricted
    mean epochs grokked 764 vs random ≥ 21,846 (needed: a ratio above 1, ...)

The functions here take the results first (``faster(R, "grokked")``); ``Guards(R, strict)`` binds
them to a build for the article. A strict ``Guards`` (the ``paper`` profile as written) lets the
exception through, so the render fails on a contradicted sentence. A lenient one (any other
profile: the smoke build's tiny runs contradict most findings, and a partial rerun may too)
keeps the sentence and marks it in place with what contradicts it.
"""

from __future__ import annotations

from grokpaper.analysis.stats import is_missing
from grokpaper.paper import contract, inside_values, relearning_values, task_guards, values
from grokpaper.paper.contract import FIRST, REUSE_TEST, ROAD_TEST, epochs_column
from grokpaper.paper.contradiction import SentenceContradicted, contradicted
from grokpaper.paper.verdicts import ALPHA

RANDOM = values.RANDOM


_contradicted = contradicted


def _p(p) -> str:
    return "n/a" if is_missing(p) else f"{p:#.2g}"


# ----------------------------------------------------------------------------- transfer speed

def faster(R, a: str, b: str = RANDOM, significant: bool = True) -> None:
    """'``a`` initialisation reached the highest threshold sooner than ``b``' (and, with
    ``significant``, 'significantly after Holm's correction'): the per-seed ratio of epochs
    b / a above 1, its interval above 1 and the Holm p below ALPHA."""
    top = values.top(R)
    row = R.statistics.test(epochs_column(FIRST, values.highest(R)), b, a)
    sentence = f"{a} initialisation reached {top} sooner than {b}" + (", significantly" if significant else "")
    numbers = (f"{b} / {a} = {values.ratio(R, a) if b == RANDOM else row.estimate}, Holm-corrected p = "
               f"{_p(row.p_holm)} over {R.statistics.family_size} tests; restricted mean epochs to {top}: "
               f"{a} {values.restricted_mean(R, a)} vs {b} {values.restricted_mean(R, b)}")
    if is_missing(row.estimate) or row.estimate <= 1:
        _contradicted(sentence, numbers, "a ratio above 1")
    if significant and (is_missing(row.p_holm) or row.p_holm >= ALPHA or is_missing(row.ci_low) or row.ci_low <= 1):
        _contradicted(sentence, numbers, f"Holm p below {ALPHA} and the interval above 1")


def not_significantly_faster(R, a: str, b: str = RANDOM) -> None:
    """'... but not significantly after the correction': the Holm p of ``b`` vs ``a`` is not below ALPHA."""
    row = R.statistics.test(epochs_column(FIRST, values.highest(R)), b, a)
    if not is_missing(row.p_holm) and row.p_holm < ALPHA:
        _contradicted(f"{a} initialisation was not significantly faster than {b} after the correction",
                      f"Holm-corrected p = {_p(row.p_holm)} over {R.statistics.family_size} tests",
                      f"Holm p of at least {ALPHA}")


def some_censored(R) -> None:
    """'... runs never got there within the cap': at least one transfer run never reached the highest threshold."""
    if values.n_censored(R) == 0:
        _contradicted(f"some runs never reached {values.top(R)} within the cap", "every transfer run reached it",
                      "at least one censored run")


def headline_epochs_are_jumps(R) -> None:
    """'The document's headline epochs are the original run's largest single-epoch jumps': each
    condition's claimed epochs to 99.9 % equals seed 42's largest-jump epoch there."""
    jumps = R.transfer.original_comparison.seed42_largest_jumps
    claimed = {c: values.claimed(R, f"epochs-{c}") for c in jumps}
    differ = {c: (claimed[c], j.epoch) for c, j in jumps.items() if claimed[c].replace(",", "") != str(j.epoch)}
    if differ:
        _contradicted("the document's headline epochs are seed 42's largest single-epoch jumps",
                      "; ".join(f"{c}: claimed {x}, largest jump at epoch {e:,}" for c, (x, e) in differ.items()),
                      "every claimed epoch to equal a jump's epoch")


# ----------------------------------------------------------------------------- retention

def nothing_retained(R, *conditions: str) -> None:
    """'No ``conditions`` transfer kept a single addition answer where the two targets differ'."""
    kept = {c: R.retention.n_source_correct_where_targets_differ[c].max for c in conditions}
    if any(is_missing(n) or n > 0 for n in kept.values()):
        _contradicted(f"no {values.or_(conditions)} transfer kept a source-task answer where the targets differ",
                      "; ".join(f"{c}: at most {values.fmt(n)} per run" for c, n in kept.items()), "0 in every run")


# ----------------------------------------------------------------------------- circuits

def reuses(R, model: str) -> None:
    """'``model`` shares more of its grokked source's key frequencies than chance': Holm p below ALPHA."""
    p = R.statistics.test(REUSE_TEST, model).p_holm
    if is_missing(p) or p >= ALPHA:
        _contradicted(f"{model} shares more key frequencies with its grokked source than chance",
                      values.reuse(R, model), f"Holm p below {ALPHA}")


def does_not_reuse(R, model: str) -> None:
    """'``model`` shares no more of its grokked source's key frequencies than chance': Holm p not below ALPHA."""
    p = R.statistics.test(REUSE_TEST, model).p_holm
    if not is_missing(p) and p < ALPHA:
        _contradicted(f"{model} shares no more key frequencies with its grokked source than chance",
                      values.reuse(R, model), f"Holm p of at least {ALPHA}")


def own_seed_ahead(R, model: str) -> None:
    """'``model`` shares more with its own seed's grokked source than with other seeds'' (the
    seed-matching means, uncorrected: no significance claimed)."""
    m = R.circuits.frequency_reuse[model].seed_matching
    if m is None or is_missing(m.own_mean) or not m.own_mean > m.cross_mean:
        _contradicted(f"{model} shares more with its own seed's grokked source than with other seeds'",
                      values.road_matching(R, model), "the own-seed mean above the other seeds' mean")


def not_closer_to_own_seed(R, model: str) -> None:
    """'... not significantly closer to its own seed's grokked source than to other seeds' after
    Holm's correction': the seed-matching test's Holm p is not below ALPHA."""
    row = R.statistics.test(ROAD_TEST, model)
    if not is_missing(row.p_holm) and row.p_holm < ALPHA:
        _contradicted(f"{model} is not significantly closer to its own seed's grokked source after the correction",
                      values.road_matching(R, model) + f"; Holm-corrected p = {_p(row.p_holm)}",
                      f"Holm p of at least {ALPHA}")


def attention_rewritten(R, model: str, source: str = "grokked_source") -> None:
    """'Attention was rewritten': no head of the source puts the focus threshold on one operand,
    while every head of ``model`` does, for every single input."""
    src, dst = R.circuits.attention_summary[source], R.circuits.attention_summary[model]
    if src.on_one_operand != 0 or dst.on_one_operand_every_input != dst.heads:
        _contradicted(f"attention was rewritten from {source} to {model}",
                      f"{source}: {src.on_one_operand} of {src.heads} heads on one operand; {model}: "
                      f"{values.attention_every_input(R, model)}",
                      "no source head on one operand and every transferred head on one for every input")


def censored_still_improving(R) -> None:
    """'The runs that never converged were slow rather than stuck': from its highest test loss to the
    end of the run, each one's test loss fell and its test accuracy rose."""
    table = values.transfer_table(R)
    rows = table[table[epochs_column(FIRST, values.highest(R))].isna()]
    stuck = [f"{r['condition']} seed {r['seed']}" for _, r in rows.iterrows()
             if not (r["final test loss"] < r["peak test loss"] and r["final test acc"] > r["test acc at loss peak"])]
    if stuck or not len(rows):
        _contradicted("the runs that never converged were still improving", values.censored_progress(R),
                      "a falling test loss and a rising test accuracy from the loss peak to the end")


def subset_of_source(R, model: str = "grokked") -> None:
    """'Every ``model`` transfer's key frequencies are a subset of its own source's'."""
    seeds = R.circuits.frequency_reuse[model].seeds
    outside = [f"seed {s.seed}: {s.shared} of {s.size}" for s in seeds if s.shared != s.size]
    if outside or not seeds:
        _contradicted(f"every {model} transfer's key frequencies are a subset of its source's",
                      "; ".join(outside) or "no seeds", "every key frequency shared")


# ----------------------------------------------------------------------------- statistics

def pooled_significant_within_not(R) -> None:
    """'The pooled correlation is significant; a relation within conditions is not shown': the
    pooled rho's Holm p is below ALPHA and the stratified within-condition test's is not."""
    pooled, within = values.correlation(R), values.within_test(R)
    if is_missing(pooled.p_holm) or pooled.p_holm >= ALPHA or (not is_missing(within.p_holm) and within.p_holm < ALPHA):
        _contradicted("the pooled correlation is significant, the relation within conditions is not shown",
                      f"pooled rho {values.rho(R)}, Holm p {_p(pooled.p_holm)}; {values.within_text(R)}",
                      f"the pooled Holm p below {ALPHA} and the within-condition one not")


def all_within_negative(R) -> None:
    """'Every condition's own rho is negative'."""
    quantity = values.correlation(R).quantity
    rows = {c: R.statistics.secondary[t] for c in values.conditions(R)
            if (t := f"{quantity}: {c}") in R.statistics.secondary}
    if not rows or any(is_missing(r.estimate) or r.estimate >= 0 for r in rows.values()):
        _contradicted("every condition's own rho is negative", values.within_rhos(R), "every rho below 0")


def still_significant_without_nonconverged(R, a: str, b: str = RANDOM) -> None:
    """'... and still significant without the runs that never converged'."""
    try:
        row = R.statistics.test(epochs_column(FIRST, values.highest(R)), b, a, without_nonconverged=True)
    except KeyError as err:  # no run left once the non-converged ones are
        _contradicted(f"{a} vs {b} stays significant without the runs that never converged", str(err).strip('"'),
                      f"Holm p below {ALPHA}")
    if is_missing(row.p_holm) or row.p_holm >= ALPHA:
        _contradicted(f"{a} vs {b} stays significant without the runs that never converged",
                      f"Holm-corrected p without them {_p(row.p_holm)}", f"Holm p below {ALPHA}")


def paired_rank_test_cannot_reach(R) -> None:
    """'With so few seeds the paired rank test cannot reach significance, even uncorrected': the
    smallest p of the exact Wilcoxon signed-rank test is not below ALPHA."""
    if float(values.wilcoxon_floor(R)) < ALPHA:
        _contradicted("the exact paired rank test cannot reach significance",
                      f"with {R.statistics.n_seeds} seeds the signed-rank test reaches p = {values.wilcoxon_floor(R)}",
                      f"a smallest p of at least {ALPHA}")


def unpaired_rank_test_only_before_correction(R) -> None:
    """'The Mann-Whitney test can reach significance before the correction but not after it': its
    smallest p is below ALPHA, and times the family's size it is not."""
    floor, after = float(values.mann_whitney_floor(R)), float(values.mann_whitney_floor_after_holm(R))
    if not (floor < ALPHA <= after):
        _contradicted("the Mann-Whitney test can reach significance only before Holm's correction",
                      f"smallest p {values.mann_whitney_floor(R)}, after Holm over {R.statistics.family_size} "
                      f"tests {values.mann_whitney_floor_after_holm(R)}",
                      f"a smallest p below {ALPHA} that the correction lifts to at least {ALPHA}")


def some_nonconverged(R) -> None:
    """'... never converged within the cap': at least one run never reached the highest threshold."""
    if not R.statistics.nonconverged:
        _contradicted("some runs never converged", "every run reached the highest threshold on its own task",
                      "at least one run that never converged")


# ----------------------------------------------------------------------------- what carries the transfer

def control_faster(R, condition: str, against: str = RANDOM) -> None:
    """'``condition`` reached the top threshold sooner than ``against``, significantly' (chapter 12's
    test in the paper's family): the ratio and its interval above 1 and the Holm p below ALPHA."""
    t = values.control_test(R, condition, against)
    if (is_missing(t.estimate) or t.estimate <= 1 or is_missing(t.ci_low) or t.ci_low <= 1
            or is_missing(t.p_holm) or t.p_holm >= ALPHA):
        _contradicted(f"{condition} reached {values.top(R)} sooner than {against}, significantly",
                      f"{against} / {condition} = {values.control_ratio(R, condition, against)} over "
                      f"{R.statistics.family_size} tests", f"a ratio and its interval above 1 and Holm p below {ALPHA}")


def control_not_faster(R, condition: str, against: str = RANDOM) -> None:
    """'``condition`` was not shown to reach the top threshold sooner than ``against``': its Holm p
    over the paper's family not below ALPHA, or its ratio at most 1."""
    t = values.control_test(R, condition, against)
    if not is_missing(t.estimate) and t.estimate > 1 and not is_missing(t.p_holm) and t.p_holm < ALPHA:
        _contradicted(f"{condition} was not shown to be faster than {against}",
                      f"{against} / {condition} = {values.control_ratio(R, condition, against)} over "
                      f"{R.statistics.family_size} tests", f"Holm p of at least {ALPHA} or a ratio at most 1")


def control_below_one(R, condition: str, against: str = RANDOM) -> None:
    """'``condition`` was, if anything, slower than ``against``': the ratio of ``against``'s epochs
    over the condition's below 1 (a point estimate or an upper bound)."""
    t = values.control_test(R, condition, against)
    if is_missing(t.estimate) or t.estimate >= 1 or t.bound == "lower":
        _contradicted(f"{condition} was, if anything, slower than {against}",
                      f"{against} / {condition} = {values.control_ratio(R, condition, against)}",
                      "a ratio below 1 that is not a lower bound")


def control_not_different(R, condition: str, against: str) -> None:
    """'``condition`` was not shown to differ from ``against``': its Holm p over the paper's family
    not below ALPHA, whichever way the ratio points."""
    t = values.control_test(R, condition, against)
    if not is_missing(t.p_holm) and t.p_holm < ALPHA:
        _contradicted(f"{condition} was not shown to differ from {against}",
                      f"{against} / {condition} = {values.control_ratio(R, condition, against)} over "
                      f"{R.statistics.family_size} tests", f"Holm p of at least {ALPHA}")


def key_frequencies_not_needed(R, condition: str, where: str, point: str = "end") -> None:
    """'Removing the source's key frequencies from the ``where`` of ``condition`` models (which did not
    start from the source) is not beyond every random draw in most of them': at most half the models."""
    e = R.what_transfers.ablation.get(condition, {}).get(point, {}).get(where)
    if e is None or e.n_models == 0 or 2 * e.n_beyond_every_draw > e.n_models:
        _contradicted(f"the source's key frequencies in the {where} do not carry {condition} ({point})",
                      values.ablation_effect(R, condition, where, point) if e else "no ablation",
                      "at most half the seeds' key ablation beyond every random draw")


def key_frequencies_needed(R, condition: str, where: str, point: str = "end") -> None:
    """'Removing the source's key frequencies from the ``where`` breaks ``condition``, and removing as
    many random ones does not': for every seed, the key ablation's loss above every random draw's."""
    e = R.what_transfers.ablation.get(condition, {}).get(point, {}).get(where)
    if e is None or e.n_models == 0 or e.n_beyond_every_draw < e.n_models:
        _contradicted(f"the source's key frequencies in the {where} carry {condition} ({point})",
                      values.ablation_effect(R, condition, where, point) if e else "no ablation",
                      "every seed's key ablation beyond every random draw")


def operands_not_reflected(R, condition: str, point: str = "end") -> None:
    """'Operand b still reaches the neurons in the same phase as operand a, not reflected': the
    same-phase coherence above the flipped one (chapter 12's sign flip, within the model)."""
    s = R.what_transfers.sign_flip[condition][point]
    if is_missing(s.within_same) or is_missing(s.within_flipped) or s.within_same <= s.within_flipped:
        _contradicted(f"in {condition} ({point}) b reaches the neurons in a's phase, not reflected",
                      values.phases(R, condition, point), "the same phase above the flipped one")


def operands_reflected(R, condition: str, point: str = "end") -> None:
    """'Operand b reaches the neurons reflected against operand a (the sign flip)': the flipped-phase
    coherence above the same-phase one, and b's sin part against a's negative on average."""
    s = R.what_transfers.sign_flip[condition][point]
    if (is_missing(s.within_flipped) or is_missing(s.within_same) or s.within_flipped <= s.within_same
            or is_missing(s.within_sin) or s.within_sin >= 0):
        _contradicted(f"in {condition} ({point}) b reaches the neurons reflected against a",
                      f"{values.phases(R, condition, point)}; sin parts' cosine similarity {s.within_sin:.2f}",
                      "the flipped phase above the same one and a negative sin similarity")


def heads_read_one_operand(R, condition: str, point: str = "end") -> None:
    """'Every head of every ``condition`` model reads one operand' (mean attention at least the
    chapter's threshold on a or on b)."""
    s = R.what_transfers.sign_flip[condition][point]
    if s.n_models == 0 or s.n_every_head_one_operand < s.n_models:
        _contradicted(f"every head of {condition} ({point}) reads one operand",
                      f"{values.heads_on_one_operand(R, condition, point)} models", "all of them")


# ----------------------------------------------------------------------------- inside the transfer (chapter 10)

def outputs_forget(R, model: str) -> None:
    """'From the outputs, ``model``'s addition fell below half its start in every run and ended at
    the share of pairs with b = 0': every run's half epoch reached, and its accuracy at the rerun's
    stop equal to what a perfect subtraction model scores on its seed's test split (chapter 03)."""
    f, perfect = R.inside.forgetting[model], R.retention.perfect_transfer_score_test
    half = f.addition_acc_half_epoch
    ends = inside_values._column(R.inside.forgetting_table, "addition acc end", model)
    off = {s: (a, perfect.get(s)) for s, a in ends.items() if perfect.get(s) is None or abs(a - perfect[s]) > 1e-9}
    if half is None or half.n_reached < f.n_runs or off or len(ends) < f.n_runs:
        _contradicted(f"{model}'s addition accuracy fell below half its start in every run and ended at the b = 0 share",
                      f"{0 if half is None else half.n_reached} of {f.n_runs} runs fell below half; seeds whose end "
                      f"accuracy is not the b = 0 share: {off or 'none'}", "all runs, and the b = 0 share in each")


def frozen_readout_lost(R, model: str) -> None:
    """'The readout fitted at the start, kept fixed, no longer reads it: R^2 below 0 in every run'."""
    d = R.inside.forgetting[model].readout_frozen_end
    if is_missing(d.max) or d.max >= 0 or d.n_reached < d.n_total:
        _contradicted(f"{model}'s addition readout fitted at the start no longer reads it at the stop",
                      f"highest R^2 at the stop {values.fmt(d.max, 3)} ({d.n_reached} of {d.n_total} runs)",
                      "R^2 below 0 in every run")


def readout_kept(R, model: str) -> None:
    """'A readout refitted at each probe did not fall below half its start by the stop': no run's
    half epoch, and every run had a start above 0 to halve."""
    f = R.inside.forgetting[model]
    half = f.readout_half_epoch
    if half is None or half.n_reached > 0 or f.readout_half_undefined > 0:
        _contradicted(f"{model}'s refitted addition readout did not fall below half its start by the stop",
                      f"{'no' if half is None else half.n_reached} runs fell below half; "
                      f"{f.readout_half_undefined} had no start above 0", "none, and a start above 0 in every run")


def readout_gained(R, condition: str) -> None:
    """'``condition``'s transfers gained an addition readout while learning the new task': the
    per-seed change of the refitted readout's R^2 from start to stop, its interval above 0."""
    d = inside_values.readout_gain(R, condition)
    if is_missing(d.ci_low) or d.ci_low <= 0:
        _contradicted(f"{condition}'s transfers gained an addition readout while learning subtraction",
                      f"per-seed change of R^2 {inside_values.signed_summary(d)}", "a change with its interval above 0")


def readout_above(R, model: str, *baselines: str) -> None:
    """'``model``'s readout at the stop exceeded each baseline's, in every seed'."""
    n, of = inside_values.readout_above(R, model, *baselines)
    if of == 0 or n < of:
        _contradicted(f"{model}'s addition readout at the stop exceeded {values.and_(baselines)}'s in every seed",
                      f"{n} of {of} seeds", "every seed")


SNAPSHOTS = ("memorized", "fixed")  # the source snapshots chapter 10 places on the phases


def snapshot_in_phase(R, snapshot: str, phase: str) -> None:
    """'The ``snapshot`` source snapshot (``SNAPSHOTS``) lies in ``phase`` in every seed'."""
    if snapshot not in SNAPSHOTS:
        raise ValueError(f"snapshot must be one of {', '.join(SNAPSHOTS)}, got {snapshot!r}")
    phases = R.inside.phases.memorized_phase if snapshot == "memorized" else R.inside.phases.fixed_phase
    if phases.get(phase, 0) < R.inside.n_seeds:
        _contradicted(f"the {snapshot} snapshot lies in {phase} in every seed", str(phases),
                      f"{phase} in all {R.inside.n_seeds} seeds")


def no_head_focused_at_start(R, condition: str) -> None:
    """'No head of ``condition``'s starting models read one operand'."""
    a = R.inside.attention[condition]
    if a.focused_start > 0:
        _contradicted(f"no head of the {condition} starting models read one operand",
                      f"{a.focused_start} of {a.heads} did", "none")


def most_heads_focused_at_end(R, condition: str) -> None:
    """'Most heads of ``condition``'s transfers read one operand at the stop': more than half."""
    a = R.inside.attention[condition]
    if 2 * a.focused_end <= a.heads:
        _contradicted(f"most heads of the {condition} transfers read one operand at the stop",
                      f"{a.focused_end} of {a.heads}", "more than half")


def moved_more(R, model: str, more: tuple, less: tuple) -> None:
    """'In ``model``'s transfers the matrices ``more`` moved further from their start (relative to
    their norm) than ``less``, in every seed': the smallest run value of the first group above the
    largest run value of the second (which implies it within every seed)."""
    relative = R.inside.movement[model].relative_end
    low, high = min(relative[m].min for m in more), max(relative[m].max for m in less)
    if is_missing(low) or is_missing(high) or low <= high:
        _contradicted(f"in {model}'s transfers {values.and_(map(inside_values.short, more))} moved more than "
                      f"{values.and_(map(inside_values.short, less))} in every seed",
                      f"smallest of the first {values.fmt(low, 2)}, largest of the second {values.fmt(high, 2)}",
                      "every run of the first above every run of the second")


def end_within_matched(R, model: str) -> None:
    """'``model``'s key frequencies at the end were among those at the matched point, in every seed'."""
    n, of = inside_values.end_within_matched(R, model)
    if of == 0 or n < of:
        _contradicted(f"{model}'s key frequencies at the end were among those at the matched point in every seed",
                      f"{n} of {of} seeds", "every seed")


def circuit_measure_rose(R, model: str, column: str = "mean frac") -> None:
    """'``model``'s ``column`` rose from the start to the end': the per-seed change's interval above 0."""
    d = inside_values.change(R, model, column)
    if is_missing(d.ci_low) or d.ci_low <= 0:
        _contradicted(f"{model}'s {column} rose from the start to the end", inside_values.change_text(R, model, column),
                      "a per-seed change with its interval above 0")


def extension_still_faster(R, model: str) -> None:
    """'With the extended runs' epochs in place of the cap, random initialisation still needed more
    epochs than ``model``, significantly': the ratio's interval above 1 and the headline test's
    Holm-corrected p, recomputed over the family with the extended p, below ALPHA."""
    r = inside_values.extension_row(R, model, extended=True)
    p = inside_values.extension_holm(R, model)
    if is_missing(r["ci_low"]) or r["ci_low"] <= 1 or is_missing(p) or p >= ALPHA:
        _contradicted(f"with the extended runs random initialisation still needed more epochs than {model}",
                      f"{inside_values.extension_ratio(R, model, True)}, Holm-corrected p {values.fmt(p, 3)}",
                      f"an interval above 1 and Holm p below {ALPHA}")


# ----------------------------------------------------------------------------- relearning (chapter 11)

def relearns_faster_than_first(R, condition: str) -> None:
    """'``condition``'s transfers relearned the source task sooner than their sources first learned
    it': the family's ratio of epochs (relearning over first learning) and its interval below 1,
    its Holm p below ALPHA."""
    t = relearning_values.relearning_test(R, condition, contract.FIRST_LEARNING)
    if (is_missing(t.estimate) or t.estimate >= 1 or is_missing(t.ci_high) or t.ci_high >= 1
            or is_missing(t.p_holm) or t.p_holm >= ALPHA):
        _contradicted(f"{condition}'s transfers relearned the source task sooner than their sources first learned it",
                      relearning_values.relearning_ratio(R, condition, contract.FIRST_LEARNING),
                      f"a ratio and its interval below 1, Holm p below {ALPHA}")


def relearned_sooner_in_every_seed(R, condition: str) -> None:
    """'In every seed, ``condition``'s transfer relearned the source task to the primary threshold
    before its source first learned it'."""
    n, of = relearning_values.sooner_in_seeds(R, condition)
    if of == 0 or n < of:
        _contradicted(f"in every seed {condition}'s transfer relearned the source task before its source first learned it",
                      f"{n} of {of} seeds", "every seed")


def not_shown_to_relearn_faster(R, model: str, other: str) -> None:
    """'``model``'s transfers were not shown to relearn sooner than ``other``'s': the family's test
    of ``other``'s epochs over ``model``'s not significant after Holm's correction (or its ratio at most 1)."""
    t = relearning_values.relearning_test(R, other, model)
    if not is_missing(t.estimate) and t.estimate > 1 and not is_missing(t.p_holm) and t.p_holm < ALPHA:
        _contradicted(f"{model}'s transfers were not shown to relearn sooner than {other}'s",
                      relearning_values.relearning_ratio(R, other, model), f"Holm p of at least {ALPHA} or a ratio at most 1")

CHECKS = {f.__name__: f for f in (faster, not_significantly_faster, some_censored, headline_epochs_are_jumps,
                                   nothing_retained, reuses, does_not_reuse, subset_of_source,
                                   own_seed_ahead, not_closer_to_own_seed, attention_rewritten, censored_still_improving,
                                   pooled_significant_within_not, all_within_negative,
                                   still_significant_without_nonconverged, paired_rank_test_cannot_reach,
                                   unpaired_rank_test_only_before_correction, some_nonconverged,
                                   control_faster, control_not_faster, control_below_one, control_not_different,
                                   key_frequencies_needed,
                                   key_frequencies_not_needed, operands_not_reflected,
                                   operands_reflected, heads_read_one_operand, outputs_forget, frozen_readout_lost,
                                   readout_kept, readout_gained, readout_above, snapshot_in_phase,
                                   no_head_focused_at_start, most_heads_focused_at_end, moved_more, end_within_matched,
                                   circuit_measure_rose, extension_still_faster,
                                   relearns_faster_than_first, relearned_sooner_in_every_seed,
                                   not_shown_to_relearn_faster)}


class Guards:
    """The guards bound to one build, for inline use at the end of the sentence each guards:
    ``guard.faster("grokked")`` gives "" when the data agree. When they contradict it, a
    ``strict`` one raises ``SentenceContradicted`` (the render fails); a lenient one gives a mark
    with the numbers to put after the sentence, and lists it in ``contradicted``."""

    def __init__(self, results, strict: bool = True):
        self.results, self.strict = results, strict
        self.contradicted: list[str] = []

    def __getattr__(self, name: str):
        checks = {**CHECKS, **task_guards.CHECKS}
        if name not in checks:
            raise AttributeError(f"no guard {name!r}; guards: {', '.join(checks)}")
        check = checks[name]

        def guarded(*args, **kwargs) -> str:
            try:
                check(self.results, *args, **kwargs)
            except SentenceContradicted as e:
                if self.strict:
                    raise
                self.contradicted.append(str(e))
                return f" **[contradicted by this build: {e}]**"
            return ""

        guarded.__doc__ = check.__doc__
        return guarded
