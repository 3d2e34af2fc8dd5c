"""What the rerun gives for a claim: the per-run values it is about (``RunValues``) and the
statistic a verdict judges (``Estimate``: a value with its interval at the study's confidence
level, a lower bound where runs were censored, and for tests the p-values)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats as sps

from grokpaper.analysis import stats, survival
from grokpaper.analysis.stats import is_missing


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
    """A statistic the rerun gives for a claim: value, interval (at ``confidence``), and for
    tests the p-values."""

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
    confidence: float | None = None


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


def level_text(confidence: float | None) -> str:
    """'95 %' for 0.95 (the interval's level, as the reasons print it)."""
    return "" if confidence is None else f"{100 * confidence:g} %"


def _interval(e: Estimate) -> str:
    if not (finite(e.ci_low) and finite(e.ci_high)):
        return f"n = {e.n}, no CI" if e.n is not None else "no CI"
    return (f"{level_text(e.confidence)} CI {reason_number(e.ci_low, e.unit)} to {reason_number(e.ci_high, e.unit)}, "
            f"n = {e.n}").lstrip()


def shown_as(e, printed: str):
    """The estimate as the claim prints its number: a share the document writes as a fraction
    ("0.828") is shown as one, not in per cent. Other estimates (and per-run values) as they are."""
    if isinstance(e, Estimate) and e.unit in ("share", "fraction") and "%" not in printed:
        return replace(e, unit="value")
    return e


def describe_estimate(e: Estimate) -> str:
    """'764 (95 % CI 450 to 1,610, n = 5)', '>= 21,846 (...)' for a lower bound, or
    '150 in each of the 5 runs' when there is no spread."""
    head = {"lower": ">= ", "upper": "<= "}.get(e.bound, "") + reason_number(e.value, e.unit)
    if e.bound == "mixed":
        head += " (censored runs on both sides: a bound of neither side)"
    if e.n and e.n > 1 and e.ci_low == e.ci_high == e.value:
        return f"{head} in each of the {e.n} runs"
    return f"{head} ({_interval(e)})"


def finite(v) -> bool:
    """A number that is neither missing (None, NaN) nor infinite."""
    return not is_missing(v) and not (isinstance(v, float) and math.isinf(v))


# ----------------------------------------------------------------------------- estimates from runs

def mean_estimate(q: RunValues, confidence: float) -> Estimate:
    """The mean over runs: restricted mean (censored runs at the cap, a lower bound) when any run
    is censored; a log-normal (Cox) interval for epochs; a t-interval truncated to the range
    otherwise."""
    values = q.reached
    base = {"n": len(q.values), "unit": q.unit, "confidence": confidence}
    if q.censored and q.cap is None:  # missing values without a cap to bound them (e.g. a source that never grokked)
        return Estimate(q.what, None, **{**base, "n": len(values)},
                        note=f"{len(q.censored)} of {len(q.values)} {q.items} have no value ({', '.join(q.censored)})")
    if q.censored:
        values_or_none = [v for _, v in q.values]
        r = survival.restricted_mean(values_or_none, cap=q.cap, confidence=confidence, skewed=True)
        return Estimate(q.what, r["value"], r["ci_low"], r["ci_high"], **base, bound="lower",
                        method="restricted mean to the cap", note=f"{len(q.censored)} of {len(q.values)} "
                        f"{q.items} never reached it by the cap {reason_number(q.cap, 'epochs')} ({', '.join(q.censored)})")
    base["n"] = len(values)
    if not values:
        return Estimate(q.what, None, **base, note=f"no {q.items} with a value")
    if len(values) == 1:
        return Estimate(q.what, values[0], **base, note="one value: no interval")
    if min(values) == max(values):
        return Estimate(q.what, values[0], values[0], values[0], **base, method="no spread")
    if q.unit == "epochs" and min(values) > 0:
        r = stats.lognormal_mean_ci(values, confidence)
        return Estimate(q.what, r["value"], r["ci_low"], min(r["ci_high"], q.bounds[1]), **base,
                        method="log-normal (Cox) interval")
    mean, sem = float(np.mean(values)), float(np.std(values, ddof=1)) / math.sqrt(len(values))
    low, high = sps.t.interval(confidence, len(values) - 1, loc=mean, scale=sem)
    return Estimate(q.what, mean, max(float(low), q.bounds[0]), min(float(high), q.bounds[1]), **base,
                    method="t-interval")


def sd_interval(sd: float, n: int, confidence: float) -> tuple[float, float]:
    """Chi-square confidence interval of a normal population's sd from a sample sd (ddof 1)."""
    a = (1 - confidence) / 2
    return (math.sqrt((n - 1) * sd ** 2 / sps.chi2.ppf(1 - a, n - 1)),
            math.sqrt((n - 1) * sd ** 2 / sps.chi2.ppf(a, n - 1)))


def spread_estimate(q: RunValues, confidence: float, cv: bool = False) -> Estimate:
    """The sd over runs (ddof 1) with a chi-square interval, or the CV (sd / mean). Censored runs:
    the sd with them at the cap is a lower bound when the cap lies above the others' mean (moving
    a value further from the mean only widens the spread); the CV is then untestable."""
    unit = "fraction" if cv else q.unit
    values = q.reached
    bound = None
    if q.censored:
        if cv or q.cap is None or not values or q.cap < np.mean(values):
            return Estimate(q.what, None, n=len(values), unit=unit, confidence=confidence,
                            note=f"{len(q.censored)} of {len(q.values)} {q.items} censored at the cap: "
                                 f"the {'CV' if cv else 'sd'} is undefined")
        values = values + [float(q.cap)] * len(q.censored)
        bound = "lower"
    n = len(values)
    if n < 2:
        return Estimate(q.what, None, n=n, unit=unit, confidence=confidence, note="fewer than 2 values: no spread")
    sd = float(np.std(values, ddof=1))
    low, high = sd_interval(sd, n, confidence)
    note = "chi-square interval (assumes normal values)"
    if bound:
        note += f"; {len(q.censored)} censored {q.items} counted at the cap {reason_number(q.cap, 'epochs')}, so a lower bound"
    if cv:
        mean = float(np.mean(values))
        return Estimate(q.what, sd / mean, low / mean, high / mean, n=n, unit=unit, method="chi-square", note=note,
                        confidence=confidence)
    return Estimate(q.what, sd, low, high, n=n, unit=unit, bound=bound, method="chi-square", note=note,
                    confidence=confidence)


def statistic(kind: str, q, confidence: float):
    """What a check of this kind judges: per-run values as they are (per-run, category), else an
    estimate: the sd or CV over runs, or the mean (an ``Estimate`` a quantity gives is used as is)."""
    if isinstance(q, Estimate) or kind in ("per-run", "category"):
        return q
    if kind in ("sd", "cv"):
        return spread_estimate(q, confidence, cv=kind == "cv")
    return mean_estimate(q, confidence)
