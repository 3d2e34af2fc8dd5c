"""Guards of the article's sentences on the document's future experiments (chapters 13-16), as
``guard`` holds those of the main study: each raises ``SentenceContradicted`` with the numbers
when the data contradict its sentence, and ``Guards`` binds them to a build (``guard.task_faster``).

These read each chapter's own numbers, before the correction over chapters 13-16's family that
chapter 16 applies; a sentence that relies on one says "before correction".
"""

from __future__ import annotations

import pandas as pd

from grokpaper.analysis.stats import is_missing
from grokpaper.analysis.swapped_pairs import SWAPPED_COLUMNS
from grokpaper.paper import contract, task_values
from grokpaper.paper import task_tokens as tt
from grokpaper.paper.contradiction import contradicted as _contradicted
from grokpaper.paper.report import fmt
from grokpaper.paper.values import p_text
from grokpaper.paper.verdicts import ALPHA


def task_faster(R, condition: str) -> None:
    """'With a task token per task, transfer from ``condition`` reached the top threshold on
    subtraction sooner than random initialisation': chapter 13's paired speed-up over random init
    with its interval above 1 and its p below ALPHA: the p corrected within chapters 13-16's family
    once chapter 16 is in the build (``task_values.family_corrected``), the chapter's own before."""
    if task_values.family_corrected(R):
        t = task_values.family_test(R, tt.sequential_speedup_test(condition))
        estimate, low, high, p, said = t.estimate, t.ci_low, t.ci_high, t.p_holm, "Holm-corrected within chapters 13-16"
    else:
        s = R.task_tokens.speedups[condition]
        estimate, low, high, p, said = s.geometric_mean, s.ci_low, s.ci_high, s.p, "before correction"
    sentence = f"with task tokens, {condition} transfer reached the top threshold sooner than random init ({said})"
    numbers = f"random / {condition} = {fmt(estimate, 2)}× (CI {fmt(low, 2)}–{fmt(high, 2)}), {p_text(p)} {said}"
    if is_missing(estimate) or is_missing(low) or low <= 1 or is_missing(p) or p >= ALPHA:
        _contradicted(sentence, numbers, f"an interval above 1 and p below {ALPHA}")


def addition_lost(R, condition: str, below: float = 0.1, experiment: str = "sequential") -> None:
    """'... kept less than ``below`` of the addition test pairs its source answered, in every seed':
    each seed's share kept at the run's end (``TaskRetention.kept``) under ``below``; a seed whose
    source answered none has nothing to lose and contradicts the sentence."""
    retention = (R.task_tokens if experiment == "sequential" else R.replay).retention[condition]
    sentence = f"{condition} runs ({experiment}) kept less than {fmt(100 * below)} % of what their source answered, in every seed"
    numbers = "kept per seed: " + (", ".join(f"{s}: {'n/a' if is_missing(k) else fmt(100 * k, 1) + ' %'}"
                                             for s, k in sorted(retention.kept.items())) or "none")
    if not retention.kept or any(is_missing(k) or k >= below for k in retention.kept.values()):
        _contradicted(sentence, numbers, f"every seed under {fmt(100 * below)} %")


def subtraction_later_in_every_seed(R) -> None:
    """'Trained together, subtraction reached the threshold after addition in every seed': each
    seed's ratio of subtraction's epochs over addition's (``Multitask.together``) above 1, none of
    them a bound."""
    t = R.multitask.together
    per_seed = {} if t is None else t.per_seed
    numbers = "subtraction's over addition's epochs per seed: " + (", ".join(
        f"{s}: {'n/a' if is_missing(r) else fmt(r, 2)}{'' if not t.per_seed_bound.get(s) else ' (a bound)'}"
        for s, r in per_seed.items()) or "none")
    if not per_seed or any(is_missing(r) or r <= 1 or t.per_seed_bound.get(s) for s, r in per_seed.items()):
        _contradicted("trained together, subtraction reached the threshold after addition in every seed", numbers,
                      "every seed's ratio above 1, none a bound")


def same_key_frequencies_at_both_tokens(R, comparison: str) -> None:
    """'... one model's key frequencies read at its two tokens were the same set in every seed': the
    Jaccard index of chapter 15's ``comparison`` (``Multitask.sharing``) is 1 in every seed."""
    sharing = R.multitask.sharing.get(comparison)
    jaccard = {} if sharing is None else sharing.jaccard
    numbers = f"{comparison}: Jaccard per seed " + (", ".join(
        f"{s}: {'n/a' if is_missing(j) else fmt(j, 2)}" for s, j in sorted(jaccard.items(), key=lambda x: str(x[0])))
        or "none")
    if not jaccard or any(is_missing(j) or j < 1 for j in jaccard.values()):
        _contradicted(f"{comparison}: the same key frequencies at both tokens in every seed", numbers,
                      "a Jaccard index of 1 in every seed")


def _pct(share) -> str:
    """A share as a percentage with one decimal, 'n/a' when missing (in a guard's numbers)."""
    return "n/a" if is_missing(share) else fmt(100 * share, 1)


def replay_ends_above_start(R, condition: str) -> None:
    """'With replay, the ``condition`` transfers ended above what their sources answered of addition's
    test pairs': chapter 14's interval of addition's mean test accuracy at the end lies above its mean
    at the start (the source's)."""
    r = R.replay.retention[condition]
    numbers = (f"{condition} with replay: addition {_pct(r.start_mean)} % at the start, "
               f"{_pct(r.end_mean)} % at the end (CI {_pct(r.end_ci_low)}–{_pct(r.end_ci_high)})")
    if any(is_missing(v) for v in (r.start_mean, r.end_ci_low)) or r.end_ci_low <= r.start_mean:
        _contradicted(f"with replay, the {condition} transfers ended above their sources on addition's test pairs",
                      numbers, "the end's interval above the start")


def replay_dips_then_recovers(R, condition: str, first: float = 0.25) -> None:
    """'With replay, addition fell at first and then rose again': in every chapter-14 replay run of
    ``condition``, addition's lowest test accuracy is under half its start and under half its end,
    and comes within the run's first ``first`` of its epochs."""
    runs = task_values.replay_runs(R, condition)
    columns = ["add acc start", "add acc lowest", "add acc end", "add acc lowest epoch", "epochs trained"]
    numbers = f"{condition} with replay, addition start / lowest (at epoch, of epochs trained) / end per seed: " + (
        ", ".join(f"{s}: {_pct(a)} / {_pct(lo)} (epoch {fmt(at)} of {fmt(n)}) / {_pct(e)} %"
                  for s, a, lo, e, at, n in zip(runs["seed"], *(runs[c] for c in columns))) or "none")
    def dips_early(a, lo, e, at, n) -> bool:
        return (not any(is_missing(v) for v in (a, lo, e, at, n))
                and lo < a / 2 and lo < e / 2 and at <= first * n)
    rows = list(zip(*(runs[c] for c in columns)))
    if not rows or not all(dips_early(*row) for row in rows):
        _contradicted(f"with replay, addition fell at first and rose again in every {condition} run", numbers,
                      f"each run's lowest under half its start and under half its end, within its first "
                      f"{fmt(100 * first, 0)} % of epochs")


def addition_near_chance(R, condition: str, times: float = 1.5, experiment: str = "sequential") -> None:
    """'... ended at chance on addition at its own token': every run of ``condition`` (chapter 13's, or
    14's with replay) ends with addition's test accuracy below ``times`` chance (1/p)."""
    numbers_of = task_values._chapter(R, experiment)
    rows = tt.select(pd.DataFrame(numbers_of.runs_table), experiment, conditions=[condition])
    chance = 1 / numbers_of.p
    numbers = f"{condition} ({experiment}), addition at the end per seed: " + (", ".join(
        f"{s}: {_pct(e)} %" for s, e in zip(rows["seed"], rows["add acc end"])) or "none") + f"; chance {_pct(chance)} %"
    if not len(rows) or any(is_missing(e) or e >= times * chance for e in rows["add acc end"]):
        _contradicted(f"the {condition} transfers ({experiment}) ended at chance on addition", numbers,
                      f"every run under {fmt(times, 0)} times chance")


def replay_verdict_depends_on_reading(R) -> None:
    """'The replay hypothesis's difference depends on when addition is read. The memorized-fixed pairs
    stop later. The seed's common epoch of all four runs is the grokked pair's stop, before any
    memorized-fixed replay run had reached the top threshold; there the grokked gain is the larger. At
    each run's end or its first top it is not': per seed, the memorized-fixed pair's stop after the
    grokked pair's, the seed's four runs' earliest stop the grokked pair's, no memorized-fixed replay
    run at the top by then; the test's interval holding 0, the seed's common epoch's above 0, and the
    other readings' not above 0."""
    table = pd.DataFrame(R.replay.runs_table)
    readings = task_values.replay_readings(R)
    test, at = R.replay.hypothesis, readings[tt.SEED_COMMON]
    numbers = (f"at each pair's common epoch {_pct(test.estimate)} points (CI {_pct(test.ci_low)} to {_pct(test.ci_high)}); "
               + "; ".join(f"at {tt.REPLAY_READ_AT[c]} {_pct(d.mean)} (CI {_pct(d.ci_low)} to {_pct(d.ci_high)})"
                           for c, d in readings.items()))
    if (any(is_missing(v) for v in (test.ci_low, test.ci_high, at.ci_low)) or not test.ci_low <= 0 <= test.ci_high
            or at.ci_low <= 0 or any(not is_missing(d.ci_low) and d.ci_low > 0
                                     for c, d in readings.items() if c != tt.SEED_COMMON)):
        _contradicted("the replay difference depends on when addition is read (the test holds 0, the seed's common "
                      "epoch lies above it, the other readings do not)", numbers,
                      "the test's interval holding 0, the seed's common epoch's above 0, the others' not above 0")
    top = f"first {contract.pct(R.replay.top_threshold)}"
    stops = table[table["condition"].isin(["grokked", "memorized-fixed"])].pivot_table(
        index="seed", columns=["condition", "experiment"], values="epochs trained", aggfunc="first")
    firsts = tt.select(table, "replay", conditions=["memorized-fixed"]).set_index("seed")[top]
    for seed, row in stops.iterrows():
        grokked, fixed = row["grokked"].min(), row["memorized-fixed"].min()
        if not grokked < fixed or not (is_missing(firsts.get(seed)) or firsts[seed] > grokked):
            _contradicted("the seed's common epoch is the grokked pair's stop, before any memorized-fixed replay run "
                          "reached the top", f"seed {seed}: grokked pair stops at {fmt(grokked)}, memorized-fixed pair "
                          f"at {fmt(fixed)}, memorized-fixed replay first at the top at {fmt(firsts.get(seed))}",
                          "the grokked pair stopping first, and the memorized-fixed replay run not at the top by then")


def floor_mostly_higher(R) -> None:
    """'... the model without replay, which lost addition, has the higher chance-corrected overlap in
    most seeds, so the measure does not tell a distinct addition circuit from none': chapter 15's floor
    above the replay model in more than half the seeds with both."""
    uses = R.multitask.neuron_use
    c = tt.distinct_part_counts(uses["sequential with replay, one model"],
                                uses["sequential without replay, one model (floor)"], 1 - R.multitask.confidence)
    if not c["compared"] or 2 * c["floor_higher"] <= c["compared"]:
        _contradicted("the model that lost addition has the higher neuron-use overlap in most seeds",
                      f"floor higher in {c['floor_higher']} of {c['compared']} seeds", "more than half")


def replay_lowest_above_chance(R, condition: str) -> None:
    """'... at its lowest addition was still above chance': in every chapter-14 replay run of
    ``condition``, addition's lowest test accuracy is above chance (1/p)."""
    runs = task_values.replay_runs(R, condition)
    chance = 1 / R.replay.p
    numbers = f"{condition} with replay, addition's lowest per seed: " + (", ".join(
        f"{s}: {_pct(lo)} %" for s, lo in zip(runs["seed"], runs["add acc lowest"])) or "none") + f"; chance {_pct(chance)} %"
    if not len(runs) or any(is_missing(lo) or lo <= chance for lo in runs["add acc lowest"]):
        _contradicted(f"with replay, addition stayed above chance in every {condition} run", numbers,
                      "every run's lowest above chance")


def together_at_top_not_shown(R) -> None:
    """'... at the top threshold the two [tasks of the multi-task runs] are not shown apart': chapter
    15's ratio of subtraction's epochs over addition's at the top threshold has an interval holding 1."""
    said = task_values.together_at_top(R)
    s = task_values.together_at_top_speedup(R)
    n_runs = len(tt.select(pd.DataFrame(R.multitask.runs_table), "multitask"))
    if s is None or any(is_missing(v) for v in (s.ci_low, s.ci_high)) or not s.ci_low <= 1 <= s.ci_high:
        _contradicted("at the top threshold, the multi-task runs' two tasks are not shown apart", said,
                      "an interval holding 1")
    if s.n_pairs != n_runs or any(s.per_seed_bound.values()):
        _contradicted("both tasks reached the top threshold in every multi-task run", said,
                      f"a ratio, not a bound, for each of the {n_runs} runs")


def drift_near_chance(R, below: float = 0.1) -> None:
    """'The MLP neurons that carry addition in the replay models overlap those of their sources little
    more than chance': chapter 15's drift comparison, chance-corrected, under ``below`` in every seed."""
    use = R.multitask.neuron_use["drift: grokked source, then the replay model, on addition"]
    numbers = "drift, chance-corrected per seed: " + (", ".join(
        f"{s}: {'n/a' if is_missing(v) else fmt(v, 2)}" for s, v in use.corrected.items()) or "none")
    if not use.corrected or any(is_missing(v) or v >= below for v in use.corrected.values()):
        _contradicted("the replay models' addition neurons overlap their sources' little more than chance", numbers,
                      f"every seed under {fmt(below, 1)}")


def swapped_pairs_carry_far_below(R, condition: str) -> None:
    """'The runs that stayed below the lowest threshold answered mostly test pairs whose swap is a
    training pair': in every chapter-16 run of ``condition`` to a commutative target that never
    reached the lowest threshold (``task_values.far_below_swapped``), those pairs carry more than half
    of its correct test answers."""
    rows = task_values.far_below_swapped(R, condition)
    share, swapped, _ = SWAPPED_COLUMNS
    numbers = f"{condition}, runs below the lowest threshold, test accuracy / swapped pairs' share of it: " + (
        ", ".join(f"{t} seed {s}: {_pct(acc)} % / {_pct(sh * sw / acc) if acc else 'n/a'} %"
                  for t, s, acc, sh, sw in zip(rows["target"], rows["seed"], rows["final test acc"], rows[share],
                                               rows[swapped])) or "none")
    if not len(rows) or any(not sh * sw > acc / 2 for acc, sh, sw in zip(rows["final test acc"], rows[share],
                                                                         rows[swapped])):
        _contradicted(f"the {condition} runs that stayed below the lowest threshold answered mostly test pairs whose "
                      "swap is a training pair", numbers, "in every such run, those pairs more than half its correct "
                      "test answers")


def random_table_shares_as_many(R) -> None:
    """'... the random table, which no frequency can help, as many: sharing here is what persisted at
    the copied token, not reuse': chapter 16's grokked runs to the random table share at least as many
    of the source's key frequencies (summed over seeds) as those to some target that can use them."""
    reuse = R.similarity.reuse
    others = {t: f.total_shared for t, f in reuse.items() if t != "random"}
    numbers = "shared with the source's key frequencies, summed over seeds: " + (
        ", ".join(f"{t} {n}" for t, n in {**others, **({"random table": reuse["random"].total_shared}
                                                         if "random" in reuse else {})}.items()) or "none")
    if "random" not in reuse or not others or reuse["random"].total_shared < min(others.values()):
        _contradicted("the random table shares as many of the source's key frequencies as the targets that can use "
                      "them", numbers, "the random table's total at least the smallest other target's")


def sparser_in_basis(R, condition: str, sparser: str = "discrete-log", far_below: bool = False) -> None:
    """'From ``condition``, multiplication's neurons are sparser in the ``sparser`` basis ('additive'
    or 'discrete-log') than in the other': in every chapter-16 multiplication run of ``condition``
    (``far_below``: each that stayed below the lowest threshold, ``task_values.far_below_swapped``), a
    neuron's best frequency explains more of its variance, on average, in that basis
    (``Similarity.bases``)."""
    other = {"additive": "discrete-log", "discrete-log": "additive"}[sparser]
    bases = task_values.bases_of(R, "multiply")
    rows = bases[bases["condition"] == condition] if len(bases) else bases
    if far_below and len(rows):
        rows = rows[rows["seed"].isin(set(task_values.far_below_swapped(R, condition, "multiply")["seed"]))]
    by_seed = {seed: dict(zip(g["basis"], g["mean_frac_explained"])) for seed, g in rows.groupby("seed")} if len(rows) \
        else {}
    which = f"{condition}{', runs below the lowest threshold' if far_below else ''}"
    numbers = f"{which}, multiplication, mean share explained {sparser} / {other} per seed: " + (
        ", ".join(f"{seed}: {fmt(b.get(sparser), 2)} / {fmt(b.get(other), 2)}" for seed, b in by_seed.items())
        or "none")
    if not by_seed or any(not b.get(sparser, 0) > b.get(other, 1) for b in by_seed.values()):
        _contradicted(f"from {which}, multiplication is sparser in the {sparser} basis", numbers,
                      f"in every run, the {sparser} basis explaining more than the {other} one")


def additive_share_persists(R) -> None:
    """'The grokked runs on the random table, which have nothing to compute, explain at least as much
    in the additive basis': in every seed whose grokked multiplication run stayed below the lowest
    threshold, the grokked run to the random table (the control: what a grokked start keeps when it
    has nothing to learn) has an additive share at least as large."""
    def additive(target: str) -> dict:
        bases = task_values.bases_of(R, target)
        rows = bases[(bases["condition"] == "grokked") & (bases["basis"] == "additive")] if len(bases) else bases
        return dict(zip(rows["seed"], rows["mean_frac_explained"])) if len(rows) else {}
    below = set(task_values.far_below_swapped(R, "grokked", "multiply")["seed"])
    multiply = {seed: v for seed, v in additive("multiply").items() if seed in below}
    table = additive("random")
    numbers = "additive share per seed, grokked multiplication run below the lowest threshold / grokked random-table run: " + (
        ", ".join(f"{seed}: {fmt(v, 2)} / {fmt(table.get(seed), 2)}" for seed, v in multiply.items()) or "none")
    if not multiply or any(seed not in table or table[seed] < v for seed, v in multiply.items()):
        _contradicted("the random table's grokked runs explain at least as much in the additive basis", numbers,
                      "in every such seed, the random table's run's additive share at least the multiplication run's")


def grokked_slower_to_fit(R) -> None:
    """'The grokked source was the slower to fit every target's training pairs': in every seed and
    target of chapter 16, the grokked run reached the top threshold on training accuracy later than
    the random-init run (a run that never got there counts as later)."""
    table = tt.select(pd.DataFrame(R.similarity.runs_table), "similarity")
    pairs = table.pivot_table(index=["target", "seed"], columns="condition", values="train first top", aggfunc="first",
                              dropna=False)
    numbers = "epochs to the top on training accuracy, grokked / random: " + (", ".join(
        f"{t} {seed}: {fmt(row.get('grokked'))} / {fmt(row.get('random'))}" for (t, seed), row in pairs.iterrows())
        or "none")
    def later(g, r):
        return not is_missing(r) and (is_missing(g) or g > r)
    if not len(pairs) or "grokked" not in pairs or "random" not in pairs or any(
            not later(row["grokked"], row["random"]) for _, row in pairs.iterrows()):
        _contradicted("the grokked source was the slower to fit every target's training pairs", numbers,
                      "in every seed and target, the grokked run at the top on training accuracy later than random init's")


def grokked_slower_to_target(R, target: str) -> None:
    """'The grokked source did not speed up ``target``; it was the slower': in every seed of chapter
    16's speed-up to ``target`` (random init's epochs over the grokked source's), the ratio, or its
    bound where a run never got there, below 1 ('<=' where the grokked run is the censored one)."""
    s = R.similarity.speedups.get(target)
    per_seed = {} if s is None else {seed: (v, s.per_seed_bound.get(seed)) for seed, v in s.per_seed.items()
                                     if not is_missing(v)}
    numbers = f"{target}, random / grokked per seed: " + (
        ", ".join(f"{seed}: {b or ''}{fmt(v, 2)}" for seed, (v, b) in per_seed.items()) or "none")
    if not per_seed or any(not v < 1 or b not in (None, "<=") for v, b in per_seed.values()):
        _contradicted(f"the grokked source was the slower to {target} in every seed", numbers,
                      "every seed's ratio, or its upper bound, below 1")


def grokked_slower_to_memorise(R) -> None:
    """'..., so the grokked source was the slower to memorise the random table': chapter 16's
    memorising ratio (random init's epochs to the top threshold on training accuracy over the grokked
    source's) with its interval wholly below 1 (descriptive, outside the family: no p is needed)."""
    m = R.similarity.memorising
    numbers = ("no memorising ratio" if m is None else
               f"random / grokked = {fmt(m.geometric_mean, 2)}× (CI {fmt(m.ci_low, 2)}–{fmt(m.ci_high, 2)})")
    if m is None or is_missing(m.ci_high) or m.bound or not m.ci_high < 1:
        _contradicted("the grokked source was the slower to memorise the random table", numbers,
                      "the ratio's interval wholly below 1, no run at its cap")


CHECKS = {f.__name__: f for f in (task_faster, addition_lost, addition_near_chance, subtraction_later_in_every_seed,
                                   together_at_top_not_shown, same_key_frequencies_at_both_tokens,
                                   floor_mostly_higher, replay_ends_above_start, replay_dips_then_recovers,
                                   replay_lowest_above_chance, replay_verdict_depends_on_reading, drift_near_chance,
                                   swapped_pairs_carry_far_below, random_table_shares_as_many,
                                   sparser_in_basis, grokked_slower_to_target,
                                   additive_share_persists, grokked_slower_to_fit,
                                   grokked_slower_to_memorise)}
