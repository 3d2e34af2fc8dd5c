"""The values the article's section on relearning states (chapter 11, ``R.relearning``; its tests
at the primary threshold are in chapter 06's family, ``R.statistics``).

As in ``values``: one number or one short formatted value per function, for an inline
``{python}`` expression; what a sentence claims about it is checked by ``guard``.
"""

from __future__ import annotations

from grokpaper.analysis.stats import is_missing
from grokpaper.paper.contract import FIRST, FIRST_LEARNING, epochs_column
from grokpaper.paper.inference import relearning_quantity
from grokpaper.paper.intervals import ci
from grokpaper.paper.report import bound_sign, fmt
from grokpaper.paper.values import p_text


def relearning_test(R, a: str, b: str):
    """The family's test of chapter 11 at its primary threshold: epochs of ``a`` over ``b``
    (a condition's relearning, or ``contract.FIRST_LEARNING``)."""
    return R.statistics.test(relearning_quantity(R.relearning.primary_threshold), a, b)


def relearning_ratio(R, a: str, b: str) -> str:
    """'0.05× (95 % CI 0.02–0.11; Holm-corrected p < 0.001)'; '≥' / '≤' for a bound."""
    t = relearning_test(R, a, b)
    if is_missing(t.estimate):
        return f"n/a ({t.note or 'no pairs to compare'})"
    digits = 2 if t.estimate < 1 else 1
    interval = ci(t.ci_low, t.ci_high, t.confidence, digits)
    return f"{bound_sign(t.bound)}{fmt(t.estimate, digits)}× ({interval + '; ' if interval else ''}Holm-corrected " \
           f"{p_text(t.p_holm)})"


def relearning_median(R, who: str) -> str:
    """Epochs to the primary threshold of one learner: 'a median of 140 epochs (5 of 5 runs reached
    it)' (Kaplan-Meier, runs that never did censored at their cap)."""
    t = R.relearning.time(R.relearning.primary_threshold, who)
    median = "no median (fewer than half reached it)" if is_missing(t.median) else f"a median of {fmt(t.median)} epochs"
    return f"{median} ({t.reached} of {t.runs} runs reached it)"


def relearned_top(R) -> str:
    """'7 of 20 runs held it by the cap': the relearning runs that stopped on the hold rule."""
    t = R.relearning.table
    runs = [stop for c, stop in zip(t["condition"], t["stop"]) if c in R.relearning.conditions]
    held = sum("held" in str(stop) for stop in runs)
    return f"{held} of {len(runs)} runs held it by the cap"


def sooner_in_seeds(R, condition: str) -> tuple[int, int]:
    """(seeds where ``condition``'s relearning reached the primary threshold before the seed's
    source first learned it, seeds with both; a relearning that never reached it counts as not sooner)."""
    t, column = R.relearning.table, epochs_column(FIRST, R.relearning.primary_threshold)
    rows = list(zip(t["seed"], t["condition"], t[column]))
    first = {s: e for s, c, e in rows if c == FIRST_LEARNING and not is_missing(e)}
    mine = {s: e for s, c, e in rows if c == condition}
    both = [s for s in mine if s in first]
    return sum(not is_missing(mine[s]) and mine[s] < first[s] for s in both), len(both)
