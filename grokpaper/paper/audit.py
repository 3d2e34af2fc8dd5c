"""Claims audit (protocol item 8): every quantitative claim of the design document, judged
against this rerun.

The claims are data (``claims.yaml`` beside this module): the quote as printed, the numbers
in it as printed, what each is compared against and the kind of statement it is. The rule is
one short function per kind (``RULES``); ``audit(results)`` runs it twice, on every run and
without the runs that never converged, and says which verdicts depend on those runs.

The rule, by kind of number (``x`` = the claimed value, its tolerance half a unit of the last
digit *as printed*: "-1.000" is +-0.0005, "+0.00%" +-0.005 points, "5,545" +-0.5; a "~" claim
+-10 %):

* ``mean``: the mean over the runs the claim is about. Epochs are positive and skewed, so
  their interval is the log-normal (Cox) interval of the mean; shares and counts get a
  t-interval truncated to their range. When a run never reached the threshold within the cap
  (censored), the estimate is the restricted mean (censored runs counted at the cap), a lower
  bound of the mean: the claim is **contradicted** only when it lies below that bound's
  interval, else **inconclusive**. Without censoring: outside the interval -> **contradicted**;
  inside, but the interval also holds values 50 % away (``PRECISION``) -> **inconclusive** (an
  empty confirmation); else **supported**. With one value and no interval: equal within the
  tolerance or not.
* ``sd`` / ``cv``: the spread over seeds with a chi-square interval; censored runs make the
  sd with them at the cap a lower bound (judged as above) and leave the CV untestable.
* ``ratio``: the per-seed paired ratio of epochs (geometric mean with its interval), judged
  like a mean; a censored numerator makes it a lower bound.
* ``per-run``: a bound on every run the claim is about (a run censored at a cap beyond the
  claimed epoch fails "reached by"; one censored before it is unknown). Another run's
  censoring never decides it.
* ``p-value``: judged on the family-wise (Holm) p of the test among every test the paper
  reports, and on the effect with its interval. A claimed significant difference is
  **supported** when the corrected p is below the claimed level with the effect on the
  claimed side, **inconclusive** when it is significant at 0.05 but not at a stricter claimed
  level, **contradicted** otherwise. A claimed absence of a difference is **contradicted** by a
  significant corrected p and otherwise **inconclusive**: five seeds cannot show that there is
  no difference.
* ``exact``: a computed quantity without sampling (a parameter count): equal or not.
* ``category``: the most common value over runs (no value repeating: contradicted).
* ``definitional``: true by the setup's arithmetic (1/113, p + 1 tokens); counted apart.

A claim with several numbers is contradicted when one is, supported when all are, else
inconclusive (or not testable when none can be tested). A claim that fails a check against
the document's own statements (``CONSISTENCY``: "t(3)" with five seeds, epochs beyond its
10,000-epoch runs) is counted as **inconsistent within the document**, with what the data say
beside it. Verdict categories: ``CATEGORIES``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import stats as sps

from grokpaper.analysis import stats, survival
from grokpaper.analysis.stats import is_missing
from grokpaper.core.model import ModelConfig
from grokpaper.paper import contract, inference
from grokpaper.paper.evidence import Evidence

SUPPORTED, CONTRADICTED, INCONCLUSIVE, NOT_TESTABLE = "supported", "contradicted by the data", "inconclusive", "not testable"
INCONSISTENT, DEFINITIONAL = "inconsistent within the document", "definitional"
CATEGORIES = (SUPPORTED, CONTRADICTED, INCONCLUSIVE, INCONSISTENT, DEFINITIONAL, NOT_TESTABLE)
DATA_VERDICTS = (SUPPORTED, CONTRADICTED, INCONCLUSIVE, NOT_TESTABLE)
KINDS = ("mean", "sd", "cv", "ratio", "per-run", "p-value", "exact", "category", "definitional")
PAPER_SECTIONS = ("methods", "sources", "transfer", "retention", "agreement", "circuits", "statistics",
                  "dynamics", "resources")
ALPHA = 0.05
APPROX = 0.10    # relative tolerance of a "~" claim
PRECISION = 0.5  # an interval reaching this far (relative) from the claim cannot confirm it
CONFIDENCE = 0.95
CLAIMS_FILE = Path(__file__).with_name("claims.yaml")

# Facts the document states about its own setup (used by the consistency checks).
DOC_SEEDS = (42, 7, 99, 314, 123)
DOC_EPOCH_BUDGET = 10_000
DOC_P = 113
DOC_METHOD_UNITS = 128   # "For each neuron d in {1, ..., 128}" of W_E / W_U


# ----------------------------------------------------------------------------- printed numbers

@dataclass(frozen=True)
class Printed:
    """A number as the document prints it: its value (fractions for percentages), the rounding
    tolerance its digits imply, and for p-values the relation ("<" or "=")."""

    text: str
    value: float | None
    tolerance: float = 0.0
    approx: bool = False
    percent: bool = False
    relation: str | None = None


_NUMBER = r"[+\-−]?\d[\d,]*(?:\.\d+)?"


def parse_printed(text: str) -> Printed:
    """Value and precision of a printed number: "5,545" -> 5545 +- 0.5; "33.14%" -> 0.3314
    +- 0.00005; "-1.000" -> -1 +- 0.0005; "~8,000" -> 8000 +- 10 %; "~67k" -> 67,000 +- 10 %;
    "4.8x" -> 4.8 +- 0.05; "1/113" -> 1/113 exactly; "p < 0.001" -> 0.001 with relation "<".
    Words ("not significant") give no value."""
    t = str(text).strip()
    m = re.fullmatch(r"p\s*([<=])\s*(\d*\.?\d+)", t)
    if m:
        digits = m.group(2)
        return Printed(t, float(digits), _half_unit(digits), relation=m.group(1))
    m = re.fullmatch(r"(\d+)/(\d+)", t)
    if m:
        return Printed(t, int(m.group(1)) / int(m.group(2)))
    approx = t.startswith("~")
    body = t.lstrip("~").strip()
    m = re.fullmatch(rf"({_NUMBER})\s*(%|x|k)?", body)
    if not m:
        return Printed(t, None)
    digits, suffix = m.group(1).replace("−", "-"), m.group(2)
    scale = {"%": 0.01, "k": 1000.0}.get(suffix, 1.0)
    value = float(digits.replace(",", "")) * scale
    tolerance = APPROX * abs(value) if approx else _half_unit(digits) * scale
    return Printed(t, value, tolerance, approx, suffix == "%")


def _half_unit(digits: str) -> float:
    """Half a unit of the last printed digit: '1.000' -> 0.0005, '5,545' -> 0.5."""
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    return 0.5 * 10 ** -decimals


# ----------------------------------------------------------------------------- reproduced values

@dataclass(frozen=True)
class RunValues:
    """Per-run values a claim is about (None: the run never reached the threshold by ``cap``)."""

    what: str                                   # "grokked transfer runs: epochs to first 99.9%"
    values: tuple                               # ((run label, value or None), ...)
    unit: str = "value"                         # epochs, share, count, fraction, frequency, z, p
    cap: float | None = None
    bounds: tuple = (-math.inf, math.inf)       # the quantity's possible range
    items: str = "runs"                         # what one value is, for reasons

    @property
    def reached(self) -> list[float]:
        return [float(v) for _, v in self.values if not is_missing(v)]

    @property
    def censored(self) -> list[str]:
        return [label for label, v in self.values if is_missing(v)]


@dataclass(frozen=True)
class Estimate:
    """A statistic the rerun gives for a claim: value, interval, and for tests the p-values."""

    what: str
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    unit: str = "value"
    bound: str | None = None        # "lower": the quantity is at least ``value`` (censored runs at the cap)
    method: str = ""
    note: str = ""
    p: float | None = None
    p_holm: float | None = None
    family_size: int | None = None
    null: float | None = None       # the effect's value under no difference (ratio 1, difference 0)


# ----------------------------------------------------------------------------- formatting

def reason_number(value, unit: str = "") -> str:
    """A value for a reason line: shares and fractions as %, epochs and counts with separators,
    else three significant digits; None/NaN as 'n/a'."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, str):
        return value
    if unit in ("fraction", "share"):
        return f"{100 * value:.3g} %" if abs(value) < 0.1 else f"{100 * value:.4g} %"
    if unit in ("epochs", "count", "frequency") and float(value).is_integer():
        return f"{int(value):,}"
    if unit == "epochs":
        return f"{value:,.0f}"
    if unit == "ratio":
        return f"{value:.3g}×"
    return f"{value:.3g}"


def _interval(e: Estimate) -> str:
    if not (_finite(e.ci_low) and _finite(e.ci_high)):
        return f"n = {e.n}, no CI" if e.n is not None else "no CI"
    return f"95 % CI {reason_number(e.ci_low, e.unit)} to {reason_number(e.ci_high, e.unit)}, n = {e.n}"


def describe_estimate(e: Estimate) -> str:
    """'764 (95 % CI 450 to 1,610, n = 5)', '>= 21,846 (...)' for a lower bound, or
    '150 in each of the 5 runs' when there is no spread."""
    head = (">= " if e.bound == "lower" else "") + reason_number(e.value, e.unit)
    if e.n and e.n > 1 and e.ci_low == e.ci_high == e.value:
        return f"{head} in each of the {e.n} runs"
    return f"{head} ({_interval(e)})"


def _finite(v) -> bool:
    return not is_missing(v) and not (isinstance(v, float) and math.isinf(v))


# ----------------------------------------------------------------------------- estimates from runs

def mean_estimate(q: RunValues, confidence: float = CONFIDENCE) -> Estimate:
    """The mean over runs: restricted mean (censored runs at the cap, a lower bound) when any run
    is censored; a log-normal (Cox) interval for epochs; a t-interval truncated to the range
    otherwise."""
    values = q.reached
    if q.censored and q.cap is None:  # missing values without a cap to bound them (e.g. a source that never grokked)
        return Estimate(q.what, None, n=len(values), unit=q.unit,
                        note=f"{len(q.censored)} of {len(q.values)} {q.items} have no value ({', '.join(q.censored)})")
    if q.censored:
        values_or_none = [v for _, v in q.values]
        r = survival.restricted_mean(values_or_none, cap=q.cap, confidence=confidence, skewed=True)
        return Estimate(q.what, r["value"], r["ci_low"], r["ci_high"], n=len(q.values), unit=q.unit, bound="lower",
                        method="restricted mean to the cap", note=f"{len(q.censored)} of {len(q.values)} "
                        f"{q.items} never reached it by the cap {reason_number(q.cap, 'epochs')} ({', '.join(q.censored)})")
    if not values:
        return Estimate(q.what, None, n=0, unit=q.unit, note=f"no {q.items} with a value")
    if len(values) == 1:
        return Estimate(q.what, values[0], n=1, unit=q.unit, note="one value: no interval")
    if min(values) == max(values):
        return Estimate(q.what, values[0], values[0], values[0], n=len(values), unit=q.unit, method="no spread")
    if q.unit == "epochs" and min(values) > 0:
        r = stats.lognormal_mean_ci(values, confidence)
        return Estimate(q.what, r["value"], r["ci_low"], min(r["ci_high"], q.bounds[1]), n=len(values), unit=q.unit,
                        method="log-normal (Cox) interval")
    mean, sem = float(np.mean(values)), float(np.std(values, ddof=1)) / math.sqrt(len(values))
    low, high = sps.t.interval(confidence, len(values) - 1, loc=mean, scale=sem)
    return Estimate(q.what, mean, max(float(low), q.bounds[0]), min(float(high), q.bounds[1]), n=len(values),
                    unit=q.unit, method="t-interval")


def sd_interval(sd: float, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Chi-square confidence interval of a normal population's sd from a sample sd (ddof 1)."""
    a = (1 - confidence) / 2
    return (math.sqrt((n - 1) * sd ** 2 / sps.chi2.ppf(1 - a, n - 1)),
            math.sqrt((n - 1) * sd ** 2 / sps.chi2.ppf(a, n - 1)))


def spread_estimate(q: RunValues, cv: bool = False, confidence: float = CONFIDENCE) -> Estimate:
    """The sd over runs (ddof 1) with a chi-square interval, or the CV (sd / mean). Censored runs:
    the sd with them at the cap is a lower bound when the cap lies above the others' mean (moving
    a value further from the mean only widens the spread); the CV is then untestable."""
    unit = "fraction" if cv else q.unit
    values = q.reached
    bound = None
    if q.censored:
        if cv or q.cap is None or not values or q.cap < np.mean(values):
            return Estimate(q.what, None, n=len(values), unit=unit,
                            note=f"{len(q.censored)} of {len(q.values)} {q.items} censored at the cap: "
                                 f"the {'CV' if cv else 'sd'} is undefined")
        values = values + [float(q.cap)] * len(q.censored)
        bound = "lower"
    n = len(values)
    if n < 2:
        return Estimate(q.what, None, n=n, unit=unit, note="fewer than 2 values: no spread")
    sd = float(np.std(values, ddof=1))
    low, high = sd_interval(sd, n, confidence)
    note = "chi-square interval (assumes normal values)"
    if bound:
        note += f"; {len(q.censored)} censored {q.items} counted at the cap {reason_number(q.cap, 'epochs')}, so a lower bound"
    if cv:
        mean = float(np.mean(values))
        return Estimate(q.what, sd / mean, low / mean, high / mean, n=n, unit=unit, method="chi-square", note=note)
    return Estimate(q.what, sd, low, high, n=n, unit=unit, bound=bound, method="chi-square", note=note)


# ----------------------------------------------------------------------------- the rule, by kind

Verdict = tuple[str, str]  # (data verdict, reason)


def judge_estimate(x: Printed, e: Estimate) -> Verdict:
    """A claimed value against an estimate with its interval (kinds mean, sd, cv, ratio)."""
    if e.value is None or not _finite(e.value):
        return NOT_TESTABLE, f"no reproduced value ({e.note or 'no runs'})"
    got = f"reproduced {describe_estimate(e)} vs claimed {x.text}"
    has_ci = _finite(e.ci_low) and _finite(e.ci_high)
    if e.bound == "lower":
        floor = e.ci_low if has_ci else e.value
        if x.value < floor - x.tolerance:
            return CONTRADICTED, (f"{got}: below the interval of the lower bound ({e.note}; even at the cap "
                                  f"the value is at least {reason_number(floor, e.unit)})")
        return INCONCLUSIVE, f"{got}: {e.note}, so the value is open above; the claim is not below its lower bound"
    if not has_ci:
        same = abs(e.value - x.value) <= x.tolerance + 1e-12 * max(1.0, abs(x.value))
        return (SUPPORTED if same else CONTRADICTED), f"{got}: {'equal within rounding' if same else 'differs by more than rounding'}"
    if not e.ci_low - x.tolerance <= x.value <= e.ci_high + x.tolerance:
        return CONTRADICTED, f"{got}: outside the interval"
    margin = max(PRECISION * abs(x.value), x.tolerance)
    if e.ci_low < x.value - margin or e.ci_high > x.value + margin:
        return INCONCLUSIVE, (f"{got}: inside the interval, which also reaches beyond {x.text} ± {reason_number(margin, e.unit)} "
                              "(too wide to confirm it)")
    return SUPPORTED, f"{got}: inside the interval"


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
    whole family of tests and on the effect's interval."""
    if e.p_holm is None or not _finite(e.p_holm):
        return NOT_TESTABLE, f"the test is undefined here ({e.note or 'too few runs'})"
    effect = describe_estimate(e)
    got = (f"{e.what}: effect {effect}; p = {e.p:.3g}, Holm-corrected over the family of "
           f"{e.family_size} tests p = {e.p_holm:.3g}")
    significant = e.p_holm < ALPHA
    if op == ">=":
        if significant:
            return CONTRADICTED, f"{got}: a significant difference, against the claimed '{x.text}'"
        return INCONCLUSIVE, (f"{got}: not significant, but with these runs that cannot show there is no "
                              "difference (see the interval)")
    level = x.value if (x.relation == "<" and x.value is not None) else ALPHA
    side_ok = True
    if direction and e.null is not None and _finite(e.ci_low) and _finite(e.ci_high):
        side_ok = e.ci_high < e.null if direction == "<" else e.ci_low > e.null
    elif direction and e.null is not None and _finite(e.value):
        side_ok = e.value < e.null if direction == "<" else e.value > e.null
    if not significant or not side_ok:
        why = "not significant after correction" if not significant else "the interval does not lie on the claimed side"
        return CONTRADICTED, f"{got}: {why}, against the claimed {x.text}"
    if e.p_holm < level:
        return SUPPORTED, f"{got}: significant below the claimed level, on the claimed side"
    return INCONCLUSIVE, f"{got}: significant at {ALPHA} after correction but not at the claimed {x.text}"


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


def judge_exact(x: Printed, e: Estimate) -> Verdict:
    """A computed quantity without sampling error: equal within the printed tolerance or not."""
    return judge_estimate(x, Estimate(e.what, e.value, n=1, unit=e.unit, note=e.note))


def judge_definitional(x: Printed, e: Estimate) -> Verdict:
    """True by the setup's arithmetic (definitional) when the printed value follows from it."""
    verdict, reason = judge_exact(x, e)
    return (DEFINITIONAL if verdict == SUPPORTED else CONTRADICTED), reason.replace("reproduced", "computed", 1)


def statistic(kind: str, q):
    """What a check of this kind judges: per-run values as they are (per-run, category), else an
    estimate: the sd or CV over runs, or the mean (an ``Estimate`` a quantity gives is used as is)."""
    if isinstance(q, Estimate) or kind in ("per-run", "category"):
        return q
    if kind in ("sd", "cv"):
        return spread_estimate(q, cv=kind == "cv")
    return mean_estimate(q)


RULES = {  # kind -> judge(printed, statistic, check spec)
    "mean": lambda x, s, c: judge_estimate(x, s),
    "ratio": lambda x, s, c: judge_estimate(x, s),
    "sd": lambda x, s, c: judge_estimate(x, s),
    "cv": lambda x, s, c: judge_estimate(x, s),
    "per-run": lambda x, s, c: judge_per_run(x, s, c["op"], c.get("threshold")),
    "p-value": lambda x, s, c: judge_p_value(x, s, c["op"], c.get("direction")),
    "exact": lambda x, s, c: judge_exact(x, s),
    "category": lambda x, s, c: judge_category(x, s),
    "definitional": lambda x, s, c: judge_definitional(x, s),
}


def combine(verdicts) -> str:
    """One verdict for a claim with several numbers: contradicted when one is, supported when all
    are, definitional when all are, not testable when none can be tested, else inconclusive."""
    verdicts = list(verdicts)
    if not verdicts:
        return NOT_TESTABLE
    if CONTRADICTED in verdicts:
        return CONTRADICTED
    if all(v == DEFINITIONAL for v in verdicts):
        return DEFINITIONAL
    if all(v in (SUPPORTED, DEFINITIONAL) for v in verdicts):
        return SUPPORTED
    if all(v == NOT_TESTABLE for v in verdicts):
        return NOT_TESTABLE
    return INCONCLUSIVE


# ----------------------------------------------------------------------------- what a claim is compared against

SHARE = (0.0, 1.0)
EPOCHS = (0.0, math.inf)
# Units and ranges of the per-run columns the claims read (anything else: a plain value).
COLUMN_UNITS = {
    "test acc at 100": ("share", SHARE), "final test acc": ("share", SHARE),
    "source_acc_test": ("share", SHARE), "source_acc_distinct_test": ("share", SHARE),
    "transfer_acc_test": ("share", SHARE), "source_excess_test": ("fraction", (-1.0, 1.0)),
    "agreement_test": ("share", SHARE), "mean frac": ("share", SHARE), "jaccard": ("share", SHARE),
    "memorized test acc": ("share", SHARE), "fixed-epoch test acc": ("share", SHARE),
    "largest jump": ("fraction", (-1.0, 1.0)), "early gain": ("fraction", (-1.0, 1.0)),
    "late gain": ("fraction", (-1.0, 1.0)), "top freq": ("frequency", (1.0, math.inf)),
    "distinct freqs >= min": ("count", (0.0, math.inf)), "distinct freqs": ("count", (0.0, math.inf)),
    "shared with source": ("count", (0.0, math.inf)), "memorized epoch": ("epochs", EPOCHS),
    "largest jump at": ("epochs", EPOCHS),
}


def _column_unit(column: str, evidence: Evidence) -> tuple[str, tuple]:
    if column.startswith(("first ", "sustained ", "test ")) and column.endswith(("%", "% at")):
        return "epochs", EPOCHS
    if column == "n > 0.5":  # a count of MLP neurons: at most d_mlp of them
        return "count", (0.0, float(evidence.params.get("d_mlp", math.inf)))
    return COLUMN_UNITS.get(column, ("value", (-math.inf, math.inf)))


def _rows(evidence: Evidence, table: str, column: str, **where) -> pd.DataFrame:
    frame = evidence.table(table)
    if column not in frame:
        raise KeyError(f"{table}: no column {column!r}")
    for key, value in where.items():
        if value is not None:
            frame = frame[frame[key] == value]
    return frame


def _run_values(evidence: Evidence, table: str, column: str, label_of, what: str, items: str = "runs",
                censorable: bool = False, **where) -> RunValues:
    rows = _rows(evidence, table, column, **where)
    unit, bounds = _column_unit(column, evidence)
    if unit == "epochs":  # no run trains past its cap, so neither can a mean of its epochs
        cap_key = "grokked_max_epochs" if table == "sources" else "transfer_max_epochs"
        bounds = (0.0, float(evidence.params.get(cap_key, math.inf)))
    values = tuple((label_of(row), None if is_missing(row[column]) else float(row[column])) for _, row in rows.iterrows())
    return RunValues(what, values, unit, evidence.cap if censorable else None, bounds, items)


def q_transfer(ev: Evidence, family, column: str, condition: str | None = None) -> RunValues:
    """Per transfer run (of one condition, or all): a column of the transfer table (02)."""
    censorable = column.startswith(("first ", "sustained "))
    return _run_values(ev, "transfers", column, lambda r: f"{r['condition']} seed {r['seed']}",
                       f"{condition or 'all'} transfer runs: {column}", censorable=censorable, condition=condition)


def q_source(ev: Evidence, family, column: str) -> RunValues:
    """Per source run: a column of the source table (01)."""
    return _run_values(ev, "sources", column, lambda r: f"source seed {r['seed']}", f"source runs: {column}")


def q_retention(ev: Evidence, family, column: str, model: str | None = None, role: str | None = None) -> RunValues:
    """Per model: a column of the retention table (03), of one model kind or one role."""
    return _run_values(ev, "retention", column, lambda r: f"{r['model']} seed {r['seed']}",
                       f"{model or role} models: {column}", model=model, role=role)


def q_agreement(ev: Evidence, family, column: str) -> RunValues:
    """Per pair of transfer runs of one seed: a column of the agreement table (04)."""
    return _run_values(ev, "agreement", column, lambda r: f"{r['model_a']} vs {r['model_b']} seed {r['seed']}",
                       f"pairs of runs: {column}", items="pairs of runs")


def q_circuit(ev: Evidence, family, column: str, model: str) -> RunValues:
    """Per model of one kind: a column of the neuron-method circuit table (05)."""
    return _run_values(ev, "circuits", column, lambda r: f"{r['model']} seed {r['seed']}",
                       f"{model} models: {column}", items="models", model=model)


def q_dynamics(ev: Evidence, family, column: str, condition: str) -> RunValues:
    """Per transfer run of one condition: a column of the dynamics table (07)."""
    return _run_values(ev, "dynamics", column, lambda r: f"{r['condition']} seed {r['seed']}",
                       f"{condition} transfer runs: {column}", condition=condition)


def q_speedup(ev: Evidence, family, column: str, numerator: str, denominator: str) -> Estimate:
    """The per-seed paired ratio of epochs numerator / denominator (geometric mean, t-interval
    of the log ratios); censored numerators counted at the cap make it a lower bound."""
    r = inference.paired_ratio(ev, column, numerator, denominator)
    bound = "lower" if r["bound"] == "lower" else None
    if r["bound"] in ("upper", "mixed"):
        return Estimate(f"{numerator} / {denominator}", None, unit="ratio", note=r["note"])
    return Estimate(f"{numerator} / {denominator} epochs to {column.split(' ', 1)[1]}", r["geometric_mean"],
                    r["ci_low"], r["ci_high"], n=r["n_pairs"], unit="ratio", bound=bound,
                    method="geometric mean of paired ratios", note=r["note"])


def q_paired_difference(ev: Evidence, family, table: str, column: str, a: str, b: str) -> Estimate:
    """The mean per-seed difference a - b of a column, with its t-interval."""
    r = inference.paired_difference(ev, table, column, a, b)
    unit, _ = _column_unit(column, ev)
    return Estimate(f"{a} - {b}: {column}", r["mean"], r["ci_low"], r["ci_high"], n=r["n"],
                    unit="fraction" if unit == "share" else unit, method="paired t-interval", note=r["note"])


def q_family_test(ev: Evidence, family: pd.DataFrame, test: str) -> Estimate:
    """One test of the paper's family (``inference.family``): effect, interval, p and Holm p."""
    if family is None:
        raise KeyError("the statistics family could not be computed (a chapter has no results)")
    rows = family[family["test"] == test]
    if not len(rows):
        raise KeyError(f"no test {test!r} in the family")
    r = rows.iloc[0]
    unit = {"ratio": "ratio", "difference": "fraction", "rho": "value"}.get(r["effect"], "value")
    return Estimate(test, r["estimate"], r["ci_low"], r["ci_high"], n=int(r["n"]), unit=unit,
                    bound="lower" if r["bound"] == "lower" else None, method=r["method"], note=r["note"] or "",
                    p=r["p"], p_holm=r["p_holm"], family_size=int(family["p"].notna().sum()), null=r["null"])


def q_correlation(ev: Evidence, family: pd.DataFrame, test: str) -> Estimate:
    """A correlation of the family, as an estimate (rho with its interval)."""
    e = q_family_test(ev, family, test)
    return Estimate(e.what, e.value, e.ci_low, e.ci_high, n=e.n, unit="value", method=e.method, note=e.note)


def q_abs_z(ev: Evidence, family, column: str) -> RunValues:
    """|z| (ddof 1) of every transfer run's value within its condition (censored runs left out)."""
    out = []
    frame = ev.table("transfers")
    for condition, rows in frame.groupby("condition", sort=False):
        values = rows[column].astype(float)
        ok = values.notna()
        if ok.sum() >= 2 and values[ok].std(ddof=1) > 0:
            z = (values[ok] - values[ok].mean()) / values[ok].std(ddof=1)
            out += [(f"{condition} seed {s}", abs(float(v))) for s, v in zip(rows.loc[ok, "seed"], z)]
    return RunValues(f"|z| within condition: {column}", tuple(out), "z")


def q_shapiro_p(ev: Evidence, family, column: str) -> RunValues:
    """The Shapiro-Wilk p of each condition's values (censored runs left out)."""
    out = []
    for condition, rows in ev.table("transfers").groupby("condition", sort=False):
        r = stats.shapiro([None if is_missing(v) else float(v) for v in rows[column]], name=condition)
        out.append((condition, None if is_missing(r["p"]) else r["p"]))
    return RunValues(f"Shapiro-Wilk p per condition: {column}", tuple(out), "p", items="conditions")


def q_param_count(ev: Evidence, family) -> Estimate:
    """Parameters of the model at the document's p = 113."""
    return Estimate("parameters at p = 113", float(_param_count(DOC_P)), n=1, unit="count")


def q_vocab_size(ev: Evidence, family) -> Estimate:
    """Tokens: the p numbers and "=" (p + 1)."""
    return Estimate("p + 1 tokens", float(DOC_P + 1), n=1, unit="count")


def q_split_size(ev: Evidence, family, part: str) -> Estimate:
    """Train pairs (the original code's int(0.3 p^2)) or test pairs of the document's split."""
    n_train = int(0.3 * DOC_P ** 2)
    return Estimate(f"{part} pairs at p = {DOC_P}", float(n_train if part == "train" else DOC_P ** 2 - n_train),
                    n=1, unit="count")


def q_chance(ev: Evidence, family) -> Estimate:
    """The chance level 1/p at p = 113."""
    return Estimate("1/p", 1 / DOC_P, n=1, unit="share")


QUANTITIES = {
    "transfer": q_transfer, "source": q_source, "retention": q_retention, "agreement": q_agreement,
    "circuit": q_circuit, "dynamics": q_dynamics, "speedup": q_speedup, "paired_difference": q_paired_difference,
    "family_test": q_family_test, "correlation": q_correlation, "abs_z": q_abs_z, "shapiro_p": q_shapiro_p,
    "param_count": q_param_count, "vocab_size": q_vocab_size, "split_size": q_split_size, "chance": q_chance,
}


def _param_count(p: int) -> int:
    return sum(math.prod(shape) for shape in ModelConfig(p=p).param_shapes().values())


# ----------------------------------------------------------------------------- consistency with the document

def architecture_params(claimed: str) -> str | None:
    """Inconsistent when the claimed parameter count is not that of the architecture the document
    states (d_model 128, 4 heads, d_mlp 512, 3 positions, 114 tokens, untied embed/unembed)."""
    x, n = parse_printed(claimed), _param_count(DOC_P)
    if abs(n - x.value) > x.tolerance:
        return f"the architecture the document states has {n:,} parameters at p = {DOC_P}, not {claimed}"
    return None


def exceeds_budget(epochs: float, what: str = "", budget: float = DOC_EPOCH_BUDGET) -> str | None:
    """Inconsistent when a claimed epoch count exceeds the training length the document states."""
    if epochs > budget:
        head = what or f"{epochs:,.0f} epochs"
        return f"{head} beyond the document's own {budget:,.0f}-epoch training runs"
    return None


def df_impossible(df: float, n_per_group: int = len(DOC_SEEDS)) -> str | None:
    """Inconsistent when a two-group t-test with n seeds per group cannot have this df
    (it lies between n - 1, paired, and 2n - 2, pooled)."""
    lo, hi = n_per_group - 1, 2 * n_per_group - 2
    if not lo <= df <= hi:
        return f"t({df:g}) with {n_per_group} seeds per group: a t-test then has df between {lo} and {hi}"
    return None


def vacuous_z(threshold: float, n: int = len(DOC_SEEDS)) -> str | None:
    """Inconsistent (cannot fail) when no z-score (ddof 1) among n values can exceed the threshold."""
    bound = (n - 1) / math.sqrt(n)
    if bound <= threshold:
        return f"with n = {n} no |z| can exceed (n - 1)/sqrt(n) = {bound:.2f} < {threshold:g}: the check cannot fail"
    return None


def overlap_mismatch(set_a, set_b, shared: int, of: int) -> str | None:
    """Inconsistent when 'shared / of' does not follow from the two listed frequency sets."""
    n_shared, union = len(set(set_a) & set(set_b)), len(set(set_a) | set(set_b))
    if (n_shared, union) != (shared, of):
        return (f"the listed sets share {n_shared} of {union} distinct frequencies ({n_shared / union:.0%}), "
                f"not {shared}/{of} ({shared / of:.0%})")
    return None


def units_mismatch(claimed_units: int, method_units: int = DOC_METHOD_UNITS) -> str | None:
    """Inconsistent when a count is out of a number of units the described method does not have."""
    if claimed_units != method_units:
        return (f"the method the document describes analyses {method_units} units (d = 1..{method_units} of "
                f"W_E / W_U), but the claim counts out of {claimed_units}")
    return None


def conflicting_p(bound: float, other_p: float, alpha: float) -> str | None:
    """Inconsistent when the document gives another p for the same comparison that breaks the bound."""
    if other_p >= bound:
        return (f"the document also reports p = {other_p:g} for this comparison (>= {bound:g}, and "
                f"{'above' if other_p > alpha else 'below'} its own Bonferroni alpha {alpha:.3f})")
    return None


def restated_differently(first: str, second: str, what: str) -> str | None:
    """Inconsistent when the document states one value in two ways that differ beyond rounding."""
    a, b = parse_printed(first), parse_printed(second)
    if abs(a.value - b.value) > a.tolerance + b.tolerance:
        return f"{what} ({first} vs {second})"
    return None


CONSISTENCY = {
    "architecture_params": architecture_params, "exceeds_budget": exceeds_budget, "df_impossible": df_impossible,
    "vacuous_z": vacuous_z, "overlap_mismatch": overlap_mismatch, "units_mismatch": units_mismatch,
    "conflicting_p": conflicting_p, "restated_differently": restated_differently,
}


# ----------------------------------------------------------------------------- the claims

@dataclass(frozen=True)
class Check:
    """One number of a claim: as printed, its kind, what it is compared against."""

    printed: str
    kind: str
    of: dict
    op: str | None = None
    direction: str | None = None
    threshold: float | None = None
    also: tuple = ()
    explains: str | None = None
    value: str | None = None   # the number printed words stand for ("random chance" -> "1/113")

    def spec(self) -> dict:
        return {"op": self.op, "direction": self.direction, "threshold": self.threshold}


@dataclass(frozen=True)
class Claim:
    """One quantitative claim of the design document (an entry of claims.yaml)."""

    id: str
    quote: str
    section: str
    paper_section: str
    checks: tuple = ()
    also_in: tuple = ()
    replaces: tuple = ()
    provenance: str = ""
    inconsistent: dict | None = None
    untestable: str = ""


def load_claims(path: str | Path = CLAIMS_FILE) -> list[Claim]:
    """The claims of ``claims.yaml``, validated: unique ids and quotes, known kinds, quantities,
    consistency checks and paper sections, each printed value inside its quote (or, for a claim
    stated elsewhere too, in one of its other wordings)."""
    entries = yaml.safe_load(Path(path).read_text())
    claims, ids, quotes = [], set(), set()
    for entry in entries:
        where = f"{Path(path).name}, claim {entry.get('id', '?')!r}"
        for key in ("id", "quote", "section", "paper_section"):
            if not entry.get(key):
                raise ValueError(f"{where}: field {key!r} is missing")
        if entry["id"] in ids or entry["quote"] in quotes:
            raise ValueError(f"{where}: the id or the quote appears twice; one claim, one entry (list other places under also_in)")
        ids.add(entry["id"])
        quotes.add(entry["quote"])
        if entry["paper_section"] not in PAPER_SECTIONS:
            raise ValueError(f"{where}: paper_section must be one of {', '.join(PAPER_SECTIONS)}")
        if bool(entry.get("checks")) == bool(entry.get("untestable")):
            raise ValueError(f"{where}: give either checks or untestable (why no rerun can test it)")
        if entry.get("inconsistent") and entry["inconsistent"].get("check") not in CONSISTENCY:
            raise ValueError(f"{where}: inconsistent.check must be one of {', '.join(CONSISTENCY)}")
        wordings = [entry["quote"]] + [a["text"] for a in entry.get("also_in", [])]
        checks = []
        for c in entry.get("checks", []):
            if c.get("kind") not in KINDS:
                raise ValueError(f"{where}: check kind must be one of {', '.join(KINDS)}; got {c.get('kind')!r}")
            if c.get("of", {}).get("quantity") not in QUANTITIES:
                raise ValueError(f"{where}: check 'of.quantity' must be one of {', '.join(QUANTITIES)}")
            printed = str(c["printed"])
            bare = printed.lstrip("~").replace("p = ", "").replace("p < ", "")
            if not any(bare in _plain_text(w) for w in wordings):
                raise ValueError(f"{where}: the printed value {printed!r} is not in the quote")
            if c["kind"] in ("per-run", "p-value") and not c.get("op"):
                raise ValueError(f"{where}: a {c['kind']} check needs op")
            checks.append(Check(printed, c["kind"], dict(c["of"]), c.get("op"), c.get("direction"),
                                c.get("threshold"), tuple(c.get("also", ())), c.get("explains"),
                                None if c.get("value") is None else str(c["value"])))
        claims.append(Claim(entry["id"], entry["quote"], entry["section"], entry["paper_section"], tuple(checks),
                            tuple((a["section"], a["text"]) for a in entry.get("also_in", [])),
                            tuple(entry.get("replaces", ())), " ".join(str(entry.get("provenance", "")).split()),
                            entry.get("inconsistent"), " ".join(str(entry.get("untestable", "")).split())))
    return claims


def _plain_text(text: str) -> str:
    """Text as compared with the document: '**' bold marks dropped, whitespace collapsed."""
    return " ".join(str(text).replace("**", "").split())


# ----------------------------------------------------------------------------- evaluation

def _quantity(check: Check, evidence: Evidence, family, **replace_args):
    args = {k: v for k, v in check.of.items() if k != "quantity"}
    args.update(replace_args)
    top = evidence.top_threshold if evidence.params.get("thresholds") else "99.9%"
    args = {k: v.replace("{top}", top) if isinstance(v, str) else v for k, v in args.items()}
    return QUANTITIES[check.of["quantity"]](evidence, family, **args)


def _statistic_text(kind: str, s) -> str:
    """What the rerun gives for a check, in words (the statistic its verdict judged)."""
    if isinstance(s, RunValues):
        shown = ", ".join(reason_number(v, s.unit) if not is_missing(v) else "censored" for _, v in s.values)
        return f"{len(s.values)} {s.items}: {shown}"
    if kind == "p-value":
        return "n/a" if is_missing(s.p_holm) else f"Holm p = {s.p_holm:.3g} (effect {describe_estimate(s)})"
    return describe_estimate(s)


def _reproduced_value(kind: str, s) -> tuple:
    """(value, ci_low, ci_high, bound) of a check's statistic for the saved row (per-run values:
    none; a p-value check: its Holm-corrected p)."""
    if isinstance(s, RunValues):
        return None, None, None, None
    if kind == "p-value":
        return s.p_holm, None, None, None
    return s.value, s.ci_low, s.ci_high, s.bound


def evaluate_check(check: Check, evidence: Evidence, family) -> dict:
    """One number of a claim: its reproduced value and verdict (with the values of the ``also``
    conditions stated beside it)."""
    x = parse_printed(check.value or check.printed)
    try:
        q = _quantity(check, evidence, family)
    except KeyError as missing:
        return {"printed": check.printed, "kind": check.kind, "verdict": NOT_TESTABLE,
                "reason": f"no reproduced value: {str(missing).strip(chr(39))}", "value": None,
                "ci_low": None, "ci_high": None, "bound": None, "reproduced": "n/a"}
    s = statistic(check.kind, q)
    verdict, reason = RULES[check.kind](x, s, check.spec())
    if check.explains == "perfect_subtraction_share":
        reason = (f"{check.printed} is the share of b = 0 pairs in the original split, what a model that does "
                  "subtraction perfectly scores on addition there; each run is judged against its own split's "
                  f"share (addition accuracy minus that share, claimed 0 within the printed precision): {reason}")
    for other in check.also:
        # What an ``also`` entry replaces: a family test's id, a speed-up's denominator, else the
        # model or condition the check reads.
        key = {"family_test": "test", "speedup": "denominator"}.get(
            check.of["quantity"], "model" if "model" in check.of else "condition")
        try:
            other_q = _quantity(check, evidence, family, **{key: other})
            reason += f" [{other}: {_statistic_text(check.kind, statistic(check.kind, other_q))}]"
        except KeyError:
            pass
    value, low, high, bound = _reproduced_value(check.kind, s)
    return {"printed": check.printed, "kind": check.kind, "verdict": verdict, "reason": reason,
            "value": value, "ci_low": low, "ci_high": high, "bound": bound,
            "reproduced": _statistic_text(check.kind, s)}


def evaluate(claim: Claim, evidence: Evidence, family) -> dict:
    """One audit row: every check of the claim, the claim's data verdict (``combine``), its
    consistency with the document, and its category."""
    if claim.untestable:
        checks, data = [], NOT_TESTABLE
        reason = claim.untestable
    else:
        checks = [evaluate_check(c, evidence, family) for c in claim.checks]
        data = combine(c["verdict"] for c in checks)
        reason = "; ".join(f"{c['printed']}: {c['reason']}" if len(checks) > 1 else c["reason"] for c in checks)
    inconsistency = None
    if claim.inconsistent:
        args = {k: v for k, v in claim.inconsistent.items() if k != "check"}
        inconsistency = CONSISTENCY[claim.inconsistent["check"]](**args)
    category = INCONSISTENT if inconsistency else data
    if inconsistency:
        reason = f"inconsistent: {inconsistency}; on the data ({data}): {reason}"
    return {"id": claim.id, "claim": claim.quote, "section": claim.section, "paper_section": claim.paper_section,
            "also_in": [f"{s}: {t}" for s, t in claim.also_in], "replaces": list(claim.replaces),
            "provenance": claim.provenance, "checks": checks, "data_verdict": data,
            "inconsistency": inconsistency, "verdict": category, "reason": reason}


def audit(results, claims: list[Claim] | None = None) -> list[dict]:
    """Every claim judged on all runs and again without the runs that never converged
    (``Evidence.nonconverged``); a row whose data verdict differs says it depends on them."""
    claims = load_claims() if claims is None else claims
    evidence = Evidence.from_results(results) if not isinstance(results, Evidence) else results
    rows = _audit_once(claims, evidence)
    dropped = evidence.nonconverged()
    if not dropped:
        for row in rows:
            row.update(without_nonconverged=row["data_verdict"], depends_on=[])
        return rows
    for row, alt in zip(rows, _audit_once(claims, evidence.without(dropped))):
        row["without_nonconverged"] = alt["data_verdict"]
        row["depends_on"] = [] if alt["data_verdict"] == row["data_verdict"] else [str(r) for r in dropped]
        if row["depends_on"]:
            runs = ", ".join(f"{r} ({r.why})" for r in dropped)
            row["reason"] += f". Depends on {runs}: without it the data say {alt['data_verdict']}"
    return rows


def _audit_once(claims, evidence: Evidence) -> list[dict]:
    try:
        family = inference.family(evidence)
    except KeyError:
        family = None
    return [evaluate(c, evidence, family) for c in claims]


# ----------------------------------------------------------------------------- counts and tables

def verdict_counts(rows: list[dict]) -> dict:
    """Claims per category (every category, zeros included), the total, how many depend on a
    non-converged run, and the data verdicts of the claims inconsistent within the document."""
    counts = {c: sum(r["verdict"] == c for r in rows) for c in CATEGORIES}
    counts["total"] = len(rows)
    counts["depend on a non-converged run"] = sum(bool(r.get("depends_on")) for r in rows)
    inconsistent = [r for r in rows if r["verdict"] == INCONSISTENT]
    counts["inconsistent, by what the data say"] = {v: sum(r["data_verdict"] == v for r in inconsistent)
                                                    for v in DATA_VERDICTS}
    return counts


def verdict_text(row: dict) -> str:
    """A row's verdict for a table: the category, the data verdict of an inconsistent claim, and
    the runs it depends on."""
    text = row["verdict"]
    if row["verdict"] == INCONSISTENT:
        text += f" (data: {row['data_verdict']})"
    if row.get("depends_on"):
        text += f"; depends on {', '.join(row['depends_on'])}"
    return text


def appendix_table(rows: list[dict]) -> pd.DataFrame:
    """The full audit as the appendix shows it: claim (with where the document prints it), the
    verdict, and the reason (which states what the rerun gives for each number of the quote)."""
    return pd.DataFrame({
        "claim": [f"{r['claim']} ({r['section']})" for r in rows],
        "verdict": [verdict_text(r) for r in rows],
        "reason": [r["reason"] + (f". Provenance: {r['provenance']}" if r["provenance"] else "") for r in rows],
    })


def audit_numbers(rows: list[dict], profile: str, params: dict, central) -> contract.Audit:
    """The audit the article quotes (chapter 08): every claim's row, the verdict counts, and the
    ids of the central claims shown in the main text."""
    return contract.Audit(profile=profile, p=params["p"], n_seeds=len(params["seeds"]),
                          counts=contract.typed(contract.VerdictCounts, verdict_counts(rows)), central=list(central),
                          claims={r["id"]: contract.typed(contract.AuditRow, r) for r in rows})


def counts_table(rows: list[dict]) -> pd.DataFrame:
    """The verdict counts as a two-column table (category, claims), zeros included."""
    counts = verdict_counts(rows)
    out = [{"verdict": c, "claims": counts[c]} for c in CATEGORIES]
    out.append({"verdict": "total", "claims": counts["total"]})
    return pd.DataFrame(out)


def summary_table(rows: list[dict], ids) -> pd.DataFrame:
    """The central claims for the main text: claim, what the rerun gives, verdict."""
    by_id = {r["id"]: r for r in rows}
    chosen = [by_id[i] for i in ids if i in by_id]
    return pd.DataFrame({
        "claim": [r["claim"] for r in chosen],
        "this rerun": ["; ".join(f"{c['printed']} → {c['reproduced']}" for c in r["checks"]) or "–" for r in chosen],
        "verdict": [verdict_text(r) for r in chosen],
    })
