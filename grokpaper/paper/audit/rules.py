"""The verdict rule: one short function per kind of number a claim states.

A claimed value ``x`` is judged with a tolerance: the precision its digits imply (half a unit of
the last printed digit: "-1.000" is +-0.0005, "5,545" +-0.5; a "~" claim +-10 %), or, for a
value estimated from runs (kinds mean, sd, cv, ratio), the practical margin of its kind of
quantity (``MARGINS``) when that is wider: a difference smaller than the margin would not change
what the number means. The margins are stated in Methods and printed on every row.

* ``mean`` / ``sd`` / ``cv`` / ``ratio``: the interval of the reproduced value against
  ``x`` +- tolerance. **Supported** only when the whole interval lies within it (the data pin
  the value); **contradicted** when the interval and the tolerance band do not meet; otherwise
  **consistent, not confirmed** (the interval holds the claim and values beyond its tolerance).
  With censored runs the estimate is a lower bound: contradicted only when the claim lies below
  the bound's interval, else consistent, not confirmed. One value and no interval (a claim
  about one run): equal within the tolerance or not.
* ``per-run``: a bound on every run the claim is about (a run censored at a cap beyond the
  claimed epoch fails "reached by"; one censored before it is unknown). Another run's
  censoring never decides it.
* ``p-value``: judged on the family-wise (Holm) p of the test among every test the paper
  reports, and on the effect with its interval. A claimed significant difference, printed
  "p < x" or "p = x", is **supported** when the corrected p is below x with the effect on the
  claimed side, **consistent, not confirmed** when it is below ``ALPHA`` but not below x, and
  **contradicted** otherwise. A claimed absence of a difference is contradicted by a
  significant corrected p and otherwise consistent, not confirmed: five seeds cannot show that
  there is no difference.
* ``effect``: an effect the document asserts or predicts in words, without a number of its own
  ("Hypothesis: Grokked models relearn faster", "Grokking creates meta-structure"), judged on
  the family-wise (Holm) p of its test and the side of its effect: **supported** when the
  corrected p is below ``ALPHA`` on the claimed side, **contradicted** when it is below
  ``ALPHA`` on the other side, **not established** otherwise: not below ``ALPHA`` (the data
  neither show the effect nor, with these runs, its absence), or below it on a side that
  censoring leaves open. A claimed p is the ``p-value`` kind: a number the data can fail.
* ``exact``: a computed quantity without sampling (a parameter count): equal or not.
* ``category``: the most common value over runs (no value repeating: contradicted).
* ``definitional``: true by the setup's arithmetic (1/113, p + 1 tokens); counted apart.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from grokpaper.analysis.stats import is_missing
from grokpaper.paper.audit.estimates import Estimate, RunValues, describe_estimate, finite, reason_number, shown_as
from grokpaper.paper.audit.printed import Printed
from grokpaper.paper.verdicts import (
    ALPHA,
    CONSISTENT,
    CONTRADICTED,
    DEFINITIONAL,
    NOT_ESTABLISHED,
    NOT_TESTABLE,
    SUPPORTED,
)

Verdict = tuple[str, str]  # (data verdict, reason)


@dataclass(frozen=True)
class Margin:
    """The practical margin of a kind of quantity: ``size``, relative to the claimed value or in
    the quantity's unit (``relative``), and the words Methods and the rows print for it."""

    size: float
    relative: bool
    words: str

    def around(self, value: float) -> float:
        """The margin around a claimed value, in the quantity's unit."""
        return self.size * abs(value) if self.relative else self.size


MARGINS = {  # unit of the reproduced value -> its practical margin
    "epochs": Margin(0.10, True, "10 % of the claimed value"),
    "ratio": Margin(0.10, True, "10 % of the claimed value"),
    "share": Margin(0.10, True, "10 % of the claimed value"),
    "fraction": Margin(0.10, True, "10 % of the claimed value"),
    "count": Margin(0.10, True, "10 % of the claimed value"),
    "value": Margin(0.05, False, "0.05"),
}
ESTIMATED = ("mean", "sd", "cv", "ratio")   # the kinds whose tolerance may be the practical margin


@dataclass(frozen=True)
class Tolerance:
    """How far from the claimed value the data may be and still hold it, and why."""

    size: float
    words: str


def tolerance(kind: str, x: Printed, unit: str) -> Tolerance:
    """The tolerance of a check: the printed precision, or for a value estimated from runs the
    practical margin of its unit when that is wider."""
    printed = Tolerance(x.tolerance, "printed precision" if not x.approx else "~: 10 % of the claimed value")
    margin = MARGINS.get(unit) if kind in ESTIMATED else None
    if x.value is None or margin is None or margin.around(x.value) <= x.tolerance:
        return printed
    return Tolerance(margin.around(x.value), f"practical margin, {margin.words}")


def judge_estimate(x: Printed, e: Estimate, tol: Tolerance | None = None) -> Verdict:
    """A claimed value against an estimate with its interval (kinds mean, sd, cv, ratio); the
    tolerance defaults to that of a mean of the estimate's unit (``tolerance``)."""
    tol = tol or tolerance("mean", x, e.unit)
    if e.value is None or not finite(e.value):
        return NOT_TESTABLE, f"no reproduced value ({e.note or 'no runs'})"
    shown = shown_as(e, x.text)
    band = f"{x.text} ± {reason_number(tol.size, shown.unit)}"
    got = f"reproduced {describe_estimate(shown)} vs claimed {band} ({tol.words})"
    has_ci = finite(e.ci_low) and finite(e.ci_high)
    if e.bound == "lower":
        floor = e.ci_low if has_ci else e.value
        if x.value < floor - tol.size:
            return CONTRADICTED, (f"{got}: below the interval of the lower bound ({e.note}; even at the cap "
                                  f"the value is at least {reason_number(floor, e.unit)})")
        return CONSISTENT, f"{got}: {e.note}, so the value is open above; the claim is not below its lower bound"
    if not has_ci:
        same = abs(e.value - x.value) <= tol.size + 1e-12 * max(1.0, abs(x.value))
        return (SUPPORTED if same else CONTRADICTED), f"{got}: {'within' if same else 'outside'} the tolerance"
    if e.ci_high < x.value - tol.size or e.ci_low > x.value + tol.size:
        return CONTRADICTED, f"{got}: the interval lies outside the claim's tolerance"
    if e.ci_low >= x.value - tol.size and e.ci_high <= x.value + tol.size:
        return SUPPORTED, f"{got}: the whole interval lies within the claim's tolerance"
    return CONSISTENT, f"{got}: the interval holds the claim but reaches past its tolerance (too wide to confirm it)"


def judge_per_run(x: Printed, q: RunValues, op: str, threshold: float | None = None) -> Verdict:
    """A bound on every run the claim is about: "reach_by" (reached by epoch x), ">=", "<=" or
    "==" (within the printed tolerance). A run censored at a cap at or beyond x fails "reach_by";
    one censored before it is unknown; other runs' censoring never decides."""
    bound = threshold if threshold is not None else x.value
    failing, unknown, passing = [], [], []
    for label, v in q.values:
        if op == "reach_by":
            if is_missing(v):
                (failing if q.cap is not None and q.cap >= bound else unknown).append((label, f"never within {reason_number(q.cap, 'epochs')}"))
            else:
                (passing if v <= bound else failing).append((label, reason_number(v, q.unit)))
            continue
        if is_missing(v):
            unknown.append((label, "no value"))
            continue
        ok = {">=": v >= bound - x.tolerance, "<=": v <= bound + x.tolerance,
              "==": abs(v - bound) <= x.tolerance + 1e-12}[op]
        (passing if ok else failing).append((label, reason_number(v, q.unit)))
    n = len(q.values)
    if not n:
        return NOT_TESTABLE, f"no {q.items} to test"
    claim = {"reach_by": f"reached by epoch {reason_number(bound, 'epochs')}", ">=": f">= {reason_number(bound, q.unit)}",
             "<=": f"<= {reason_number(bound, q.unit)}", "==": f"= {reason_number(bound, q.unit)}"}[op]
    if failing:
        shown = "; ".join(f"{label}: {value}" for label, value in failing[:4]) + ("; ..." if len(failing) > 4 else "")
        return CONTRADICTED, f"{len(failing)} of {n} {q.items} fail '{claim}' ({shown})"
    if unknown:
        return NOT_TESTABLE, (f"{len(passing)} of {n} {q.items} satisfy '{claim}'; {len(unknown)} cannot be judged "
                              f"({', '.join(label for label, _ in unknown)})")
    values = [float(v) for _, v in q.values if not is_missing(v)]
    extreme = {"reach_by": max, ">=": min, "<=": max, "==": lambda vs: max(vs, key=lambda v: abs(v - bound))}[op](values)
    return SUPPORTED, f"all {n} {q.items} satisfy '{claim}' (most extreme: {reason_number(extreme, q.unit)})"


def judge_p_value(x: Printed, e: Estimate, op: str, direction: str | None) -> Verdict:
    """A claimed (non-)significant difference, judged on the Holm-corrected p of the paper's
    whole family of tests and on the effect's interval; "p < x" and "p = x" alike against x."""
    if e.p_holm is None or not finite(e.p_holm):
        return NOT_TESTABLE, f"the test is undefined here ({e.note or 'too few runs'})"
    effect = describe_estimate(e)
    got = (f"{e.what}: effect {effect}; p = {e.p:.3g}, Holm-corrected over the family of "
           f"{e.family_size} tests p = {e.p_holm:.3g}")
    significant = e.p_holm < ALPHA
    if op == ">=":
        if significant:
            return CONTRADICTED, f"{got}: a significant difference, against the claimed '{x.text}'"
        return CONSISTENT, (f"{got}: not significant, but with these runs that cannot show there is no "
                            "difference (see the interval)")
    level = x.value if x.value is not None else ALPHA
    side_ok = True
    if direction and e.null is not None and finite(e.ci_low) and finite(e.ci_high):
        side_ok = e.ci_high < e.null if direction == "<" else e.ci_low > e.null
    elif direction and e.null is not None and finite(e.value):
        side_ok = e.value < e.null if direction == "<" else e.value > e.null
    if not significant or not side_ok:
        why = "not significant after correction" if not significant else "the interval does not lie on the claimed side"
        return CONTRADICTED, f"{got}: {why}, against the claimed {x.text}"
    if e.p_holm < level:
        return SUPPORTED, f"{got}: below the claimed {x.text} after correction, on the claimed side"
    return CONSISTENT, f"{got}: significant at {ALPHA} after correction but not below the claimed {x.text}"


def _side(e: Estimate) -> str | None:
    """Where an effect lies against its null: '>' or '<' (the interval, else the estimate), None
    when the interval holds the null, nothing says, or censoring leaves that side open: a lower
    bound (the effect is at least this) can show only '>', an upper bound only '<', a bound
    censored on both sides neither."""
    if e.null is None or not finite(e.null) or e.bound == "mixed":
        return None
    if finite(e.ci_low) and finite(e.ci_high):
        side = ">" if e.ci_low > e.null else "<" if e.ci_high < e.null else None
    elif finite(e.value) and e.value != e.null:
        side = ">" if e.value > e.null else "<"
    else:
        side = None
    if (e.bound == "lower" and side == "<") or (e.bound == "upper" and side == ">"):
        return None
    return side


def judge_effect(x: Printed, e: Estimate, direction: str) -> Verdict:
    """An effect claimed or predicted in words (no number), judged on the Holm-corrected p of its
    test and the side of its effect (``direction``: '>' or '<' the null): supported, contradicted
    (a significant effect on the other side) or not established (not significant after
    correction, or significant on a side the data cannot tell)."""
    if e.p_holm is None or not finite(e.p_holm):
        return NOT_TESTABLE, f"the test is undefined here ({e.note or 'too few runs'})"
    got = (f"{e.what}: effect {describe_estimate(e)}; p = {e.p:.3g}, Holm-corrected over the family of "
           f"{e.family_size} tests p = {e.p_holm:.3g}")
    if e.p_holm >= ALPHA:
        bounds = "the interval bounds its size" if finite(e.ci_low) and finite(e.ci_high) else "no interval"
        return NOT_ESTABLISHED, (f"{got}: not significant after correction; the data do not show the claimed "
                                 f"effect, and with n = {e.n} they cannot show it absent ({bounds})")
    side = _side(e)
    if side == direction:
        return SUPPORTED, f"{got}: significant after correction, on the claimed side"
    if side is None:
        return NOT_ESTABLISHED, (f"{got}: significant after correction, but on a side the data cannot tell "
                                 "(a censored bound, or no reference value)")
    return CONTRADICTED, f"{got}: significant after correction, on the other side of the claim"


def judge_category(x: Printed, q: RunValues) -> Verdict:
    """The claimed category (e.g. a top frequency) against the most common value over runs."""
    values = [int(v) if float(v).is_integer() else v for v in q.reached]
    if not values:
        return NOT_TESTABLE, f"no {q.items} with a value"
    counts = Counter(values)
    mode, k = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    n = len(values)
    claimed_in = f"claimed {x.text} in {counts.get(int(x.value), 0)} of {n} {q.items}"
    if k == 1 and n > 1:
        return CONTRADICTED, f"all {n} {q.items} differ ({', '.join(str(v) for v in values)}); {claimed_in}"
    ok = mode == x.value
    return (SUPPORTED if ok else CONTRADICTED), f"most common over {n} {q.items}: {mode} ({k} of {n}); {claimed_in}"


def judge_exact(x: Printed, e: Estimate, tol: Tolerance | None = None) -> Verdict:
    """A computed quantity without sampling error: equal within the printed tolerance or not."""
    tol = tol or tolerance("exact", x, e.unit)
    return judge_estimate(x, Estimate(e.what, e.value, n=1, unit=e.unit, note=e.note), tol)


def judge_definitional(x: Printed, e: Estimate, tol: Tolerance | None = None) -> Verdict:
    """True by the setup's arithmetic (definitional) when the printed value follows from it."""
    verdict, reason = judge_exact(x, e, tol)
    return (DEFINITIONAL if verdict == SUPPORTED else CONTRADICTED), reason.replace("reproduced", "computed", 1)


RULES = {  # kind -> judge(printed, statistic, check spec, tolerance)
    "mean": lambda x, s, c, t: judge_estimate(x, s, t),
    "ratio": lambda x, s, c, t: judge_estimate(x, s, t),
    "sd": lambda x, s, c, t: judge_estimate(x, s, t),
    "cv": lambda x, s, c, t: judge_estimate(x, s, t),
    "per-run": lambda x, s, c, t: judge_per_run(x, s, c["op"], c.get("threshold")),
    "p-value": lambda x, s, c, t: judge_p_value(x, s, c["op"], c.get("direction")),
    "effect": lambda x, s, c, t: judge_effect(x, s, c["direction"]),
    "exact": lambda x, s, c, t: judge_exact(x, s, t),
    "category": lambda x, s, c, t: judge_category(x, s),
    "definitional": lambda x, s, c, t: judge_definitional(x, s, t),
}
KINDS = tuple(RULES)


def combine(verdicts) -> str:
    """One verdict for a claim with several numbers: contradicted when one is, not established when
    one is (and none contradicted: a claimed effect holds only if each of its tests shows it),
    supported when all are, definitional when all are, not testable when none can be tested,
    else consistent, not confirmed."""
    verdicts = list(verdicts)
    if not verdicts:
        return NOT_TESTABLE
    if CONTRADICTED in verdicts:
        return CONTRADICTED
    if NOT_ESTABLISHED in verdicts:
        return NOT_ESTABLISHED
    if all(v == DEFINITIONAL for v in verdicts):
        return DEFINITIONAL
    if all(v in (SUPPORTED, DEFINITIONAL) for v in verdicts):
        return SUPPORTED
    if all(v == NOT_TESTABLE for v in verdicts):
        return NOT_TESTABLE
    return CONSISTENT
