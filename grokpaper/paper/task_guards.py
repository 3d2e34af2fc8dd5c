"""Guards of the article's sentences on the document's future experiments (chapters 13-16), as
``guard`` holds those of the main study: each raises ``SentenceContradicted`` with the numbers
when the data contradict its sentence, and ``Guards`` binds them to a build (``guard.task_faster``).

These read each chapter's own numbers, before the correction over chapters 13-16's family that
chapter 16 applies; a sentence that relies on one says "before correction".
"""

from __future__ import annotations

from grokpaper.analysis.stats import is_missing
from grokpaper.paper import task_tokens as tt
from grokpaper.paper import task_values
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


def replay_dips_then_recovers(R, condition: str) -> None:
    """'With replay, addition fell at first and then rose again': in every chapter-14 replay run of
    ``condition``, addition's lowest test accuracy is under half its start and under half its end."""
    runs = task_values.replay_runs(R, condition)
    numbers = f"{condition} with replay, addition start / lowest / end per seed: " + (", ".join(
        f"{s}: {_pct(a)} / {_pct(lo)} / {_pct(e)} %"
        for s, a, lo, e in zip(runs["seed"], runs["add acc start"], runs["add acc lowest"], runs["add acc end"]))
        or "none")
    if not len(runs) or any(is_missing(lo) or is_missing(a) or is_missing(e) or not (lo < a / 2 and lo < e / 2)
                            for a, lo, e in zip(runs["add acc start"], runs["add acc lowest"], runs["add acc end"])):
        _contradicted(f"with replay, addition fell at first and rose again in every {condition} run", numbers,
                      "each run's lowest under half its start and under half its end")


CHECKS = {f.__name__: f for f in (task_faster, addition_lost, subtraction_later_in_every_seed,
                                   same_key_frequencies_at_both_tokens, replay_ends_above_start,
                                   replay_dips_then_recovers)}
