"""Epochs to a threshold when some runs never reach it: Kaplan-Meier curve and median, the
restricted mean up to the training cap, and the log-rank test.

A value of None or NaN means the run never reached the threshold before the training cap C:
it is *censored at C* (administrative censoring, the same C for every run). Dropping such runs
would make a slow condition look fast; these methods use them as "still not reached at C".
Everything comes from ``scipy.stats`` (``ecdf`` on ``CensoredData``, ``logrank``) except the
median's interval, which inverts scipy's pointwise band (Brookmeyer-Crowley; scipy has none).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from grokpaper.analysis.stats import _capped, _check_confidence, join_notes, lognormal_mean_ci, quietly

__all__ = ["kaplan_meier", "km_median", "restricted_mean", "logrank_test"]


def _censored_data(times: np.ndarray, cap: float | None) -> stats.CensoredData:
    """scipy's right-censored sample: a missing time (NaN) is a run still below threshold at the cap."""
    censored = np.isnan(times)
    return stats.CensoredData.right_censored(np.where(censored, cap if cap is not None else 0.0, times),
                                             censored)


def kaplan_meier(values, *, labels=None, cap=None, confidence: float) -> pd.DataFrame:
    """Kaplan-Meier estimate of the share of runs that have NOT yet reached the threshold,
    over epochs, with its pointwise log-log confidence band (``scipy.stats.ecdf``).

    One row per distinct epoch at which a run reached the threshold or was censored, after a
    first row at epoch 0 with ``not_reached`` = 1: ``epoch``, ``at_risk`` (runs not yet reached
    and not yet censored just before it), ``reached`` and ``censored`` (runs at that epoch),
    ``not_reached`` (S(t)), ``ci_low``, ``ci_high``. The log-log band is undefined where S = 1
    (no run reached yet) and S = 0 (every run reached); it is pinned to S there. ``attrs``
    holds n, n_censored, censored (labels), cap, confidence and note.
    """
    confidence = _check_confidence(confidence)
    g, cap = _capped(values, "values", labels, cap, positive=False)
    times, is_censored = np.where(np.isnan(g.full), cap or 0.0, g.full), np.isnan(g.full)

    survival = stats.ecdf(_censored_data(g.full, cap)).sf
    # scipy warns where the log-log formula is undefined (S = 0 or 1); those points are pinned below
    band = quietly(survival.confidence_interval, confidence, method="log-log")
    epochs, not_reached = survival.quantiles, survival.probabilities
    ci_low, ci_high = band.low.probabilities.copy(), band.high.probabilities.copy()
    pinned = (not_reached == 1) | (not_reached == 0)
    ci_low[pinned], ci_high[pinned] = not_reached[pinned], not_reached[pinned]

    table = pd.DataFrame({
        "epoch": np.concatenate([[0.0], epochs]),
        "at_risk": [g.n_total] + [int(np.sum(times >= t)) for t in epochs],
        "reached": [0] + [int(np.sum((times == t) & ~is_censored)) for t in epochs],
        "censored": [0] + [int(np.sum((times == t) & is_censored)) for t in epochs],
        "not_reached": np.concatenate([[1.0], not_reached]),
        "ci_low": np.concatenate([[1.0], ci_low]),
        "ci_high": np.concatenate([[1.0], ci_high]),
    })
    note = (f"{len(g.censored)} of {g.n_total} runs never reached it by the cap {cap:g}: "
            f"{list(g.censored)}, censored there" if g.censored else "")
    table.attrs.update(n=g.n_total, n_censored=len(g.censored), censored=list(g.censored), cap=cap,
                       confidence=confidence, note=note)
    return table


def _first_epoch_at_or_below_half(table: pd.DataFrame, column: str) -> float | None:
    """The first epoch at which ``column`` (a non-increasing step function) is <= 0.5, or None."""
    hits = table.loc[table[column] <= 0.5, "epoch"]
    return float(hits.iloc[0]) if len(hits) else None


def km_median(values, *, cap=None, confidence: float) -> dict:
    """Median epochs to threshold from Kaplan-Meier (smallest t with S(t) <= 0.5) and its
    Brookmeyer-Crowley interval: the epochs where the pointwise log-log band contains 0.5.

    The interval runs from the first epoch where the band's *lower* limit is <= 0.5 to the
    first where its *upper* limit is <= 0.5. When S (or a band limit) never falls to 0.5 the
    median (or that end) is None: it lies beyond the cap, and ``note`` says so.
    """
    table = kaplan_meier(values, cap=cap, confidence=confidence)
    n, n_censored, cap = table.attrs["n"], table.attrs["n_censored"], table.attrs["cap"]
    median = _first_epoch_at_or_below_half(table, "not_reached")
    ci_low = _first_epoch_at_or_below_half(table, "ci_low")
    ci_high = _first_epoch_at_or_below_half(table, "ci_high")
    horizon = f"the cap {cap:g}" if cap is not None else "the last epoch observed"
    notes = [table.attrs["note"]]
    if median is None:
        notes.append(f"more than half the runs never reached it by {horizon}: median beyond the cap")
    if ci_low is None:
        notes.append(f"the CI's lower end is beyond {horizon}")
    if ci_high is None:
        notes.append(f"the CI's upper end is beyond {horizon} (open interval)")
    return {"median": median, "ci_low": ci_low, "ci_high": ci_high, "n": n, "n_censored": n_censored,
            "cap": cap, "note": join_notes(*notes)}


def restricted_mean(values, *, cap, confidence: float, skewed: bool = True) -> dict:
    """Restricted mean epochs to threshold up to ``cap`` (RMST, the area under the KM curve
    from 0 to cap). With every run censored at the common cap it is the plain mean of
    min(T, cap), censored runs counted at the cap, and min(T, cap) is fully observed.

    So an ordinary interval is valid: the log-normal (modified Cox) interval of the mean when
    ``skewed`` (``grokpaper.analysis.stats.lognormal_mean_ci``, values must be > 0), else the t-interval.
    ``is_lower_bound``: some run was censored, so the unrestricted mean is at least ``value``.
    """
    if not isinstance(skewed, (bool, np.bool_)):
        raise ValueError(f"skewed must be True or False, got {skewed!r}")
    if cap is None:
        raise ValueError("cap is required: the restricted mean is the mean time up to the training cap")
    confidence = _check_confidence(confidence)
    g, cap = _capped(values, "values", None, cap, positive=bool(skewed))
    capped = np.where(np.isnan(g.full), cap, g.full)
    n, n_censored = g.n_total, len(g.censored)
    notes = []
    if n_censored:
        notes.append(f"{n_censored} of {n} runs never reached it by the cap {cap:g} ({list(g.censored)}): "
                     "counted at the cap, so the unrestricted mean is at least this value")
    if skewed:
        interval = lognormal_mean_ci(capped, confidence)
        lo, hi, method = interval["ci_low"], interval["ci_high"], interval["method"]
        notes.append(interval["note"])
    else:
        method, lo, hi = "t-interval (df = n - 1)", math.nan, math.nan
        if n < 2:
            notes.append("n < 2: the CI is undefined")
        elif np.ptp(capped) == 0:
            lo = hi = float(capped[0])
            notes.append("all values equal: zero-width interval")
        else:
            lo, hi = (float(v) for v in stats.t.interval(confidence, n - 1, loc=np.mean(capped),
                                                         scale=stats.sem(capped)))
    return {"value": float(np.mean(capped)), "ci_low": lo, "ci_high": hi, "n": n,
            "n_censored": n_censored, "cap": cap, "is_lower_bound": n_censored > 0,
            "method": method, "note": join_notes(*notes)}


def logrank_test(groups, *, cap) -> dict:
    """Two-group log-rank test (``scipy.stats.logrank``, two-sided) of equal time-to-threshold
    curves, runs that never reached it censored at ``cap``. ``statistic`` is scipy's z: > 0
    when the first group reached the threshold sooner than equal curves would predict."""
    if not isinstance(groups, Mapping) or len(groups) != 2:
        found = list(groups) if isinstance(groups, Mapping) else type(groups).__name__
        raise ValueError(f"groups must be a dict of exactly two named groups {{name: epochs}}, got {found}")
    (name_a, values_a), (name_b, values_b) = groups.items()
    a, cap_a = _capped(values_a, str(name_a), None, cap, positive=False)
    b, cap_b = _capped(values_b, str(name_b), None, cap, positive=False)
    notes = [f"{g.name}: {len(g.censored)} of {g.n_total} censored at the cap {cap:g}"
             for g in (a, b) if g.censored]
    result = quietly(stats.logrank, _censored_data(a.full, cap_a), _censored_data(b.full, cap_b))
    statistic, p = float(result.statistic), float(result.pvalue)
    if math.isnan(p):
        notes.append("no run reached the threshold in either group: the test is undefined")
    else:
        notes.append(f"a positive statistic means {name_a!r} reached the threshold sooner than {name_b!r}")
    notes.append("with few runs per group the normal approximation of the log-rank p is rough")
    return {"statistic": statistic, "p": p, "n_a": a.n_total, "n_b": b.n_total, "note": join_notes(*notes)}
