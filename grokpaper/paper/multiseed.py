"""Multi-seed statistics of the study (protocol item 6), on top of ``grokpaper.analysis.stats``.

Inputs are *metric groups*: ``{metric: {condition: values}}`` where values is a pandas
Series indexed by seed (``tables.by_condition`` gives them), ``None`` for a run that never
reached a threshold (censored at the cap). Every table row carries n (reached), n_total and
the censored labels, and df where a test has one. Nothing is averaged over censored runs.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as sps

from grokpaper.analysis import stats, survival
from grokpaper.paper import contract
from grokpaper.paper.contract import metric_key
from grokpaper.paper.report import clip_interval


def summary(groups_by_metric: dict, confidence: float, n_boot: int, skewed=(),
            bounds: dict | None = None) -> pd.DataFrame:
    """Per metric and condition: n, mean, sd (ddof 1), CI of the mean with its df, percentile-bootstrap
    CI, CV, median, min, max and the censored runs (``stats.describe``). For the metrics in
    ``skewed`` (positive and right-skewed, such as epochs) the CI is the log-normal (Cox) interval
    of the mean instead of the symmetric t-interval; ``ci_method`` says which. ``bounds``: {metric:
    (low, high)}, the possible range each interval is truncated to (shares 0-1, counts 0-d_mlp)."""
    rows = []
    for metric, groups in groups_by_metric.items():
        for cond, values in groups.items():
            d = stats.describe(values, labels=list(values.index), confidence=confidence, n_boot=n_boot).as_dict()
            d["ci_method"] = "t"
            reached = [v for v in values if not stats.is_missing(v)]
            if metric in skewed and len(reached) >= 2 and min(reached) > 0 and max(reached) > min(reached):
                cox = stats.lognormal_mean_ci(reached, confidence)
                d.update(ci_low=cox["ci_low"], ci_high=cox["ci_high"], ci_method="log-normal (Cox)")
            if metric in (bounds or {}):
                for key in ("ci", "boot"):
                    d[f"{key}_low"], d[f"{key}_high"] = clip_interval(d[f"{key}_low"], d[f"{key}_high"], bounds[metric])
            rows.append({"metric": metric, "condition": cond, **d})
    return pd.DataFrame(rows).drop(columns=["name"])


def time_to_threshold(table: pd.DataFrame, columns, conditions, cap: float, confidence: float) -> pd.DataFrame:
    """Per epochs-to-threshold column and condition, with censored runs kept as "not reached by the
    cap": runs reached (of all), the Kaplan-Meier median with its interval, the restricted mean to
    the cap with its log-normal interval (a lower bound of the mean when a run is censored), and
    the geometric mean of the runs that reached it."""
    rows = []
    for column in columns:
        for c in conditions:
            values = [None if stats.is_missing(v) else float(v) for v in table.loc[table["condition"] == c, column]]
            if not values:
                continue
            reached = [v for v in values if v is not None]
            median = survival.km_median(values, cap=cap, confidence=confidence)
            rmst = survival.restricted_mean(values, cap=cap, confidence=confidence, skewed=True)
            geo = stats.geometric_mean_ci(reached, confidence) if len(reached) >= 1 else {}
            rows.append({"metric": column, "condition": c, "reached": len(reached), "runs": len(values),
                         "median": median["median"], "median low": median["ci_low"], "median high": median["ci_high"],
                         "restricted mean": rmst["value"], "restricted mean low": rmst["ci_low"],
                         "restricted mean high": rmst["ci_high"], "mean is a lower bound": rmst["is_lower_bound"],
                         "geometric mean (reached)": geo.get("value", math.nan),
                         "note": stats.join_notes(median["note"], rmst["note"])})
    return pd.DataFrame(rows)


def time_to_threshold_display(times: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """``time_to_threshold`` as a readable table: reached (k/n), median and restricted mean each with
    its interval in one cell ('>=' where a censored run makes the mean a lower bound; 'beyond the
    cap' for an end the runs never reached), geometric mean of the runs that reached it."""
    def epochs(v):
        return "beyond the cap" if stats.is_missing(v) else f"{v:,.0f}"

    def cell(value, low, high, prefix=""):
        if stats.is_missing(value) and stats.is_missing(low):
            return "beyond the cap"
        return f"{prefix}{epochs(value)} ({epochs(low)}–{epochs(high)})"

    return pd.DataFrame({
        "epochs to": times["metric"], "condition": times["condition"],
        "reached": [f"{r}/{n}" for r, n in zip(times["reached"], times["runs"])],
        f"median ({level(confidence)} CI)": [cell(*v) for v in zip(times["median"], times["median low"],
                                                                   times["median high"])],
        f"restricted mean ({level(confidence)} CI)": [cell(v, lo, hi, ">= " if bound else "") for v, lo, hi, bound in zip(
            times["restricted mean"], times["restricted mean low"], times["restricted mean high"],
            times["mean is a lower bound"])],
        "geometric mean, reached runs": [epochs(v) if not stats.is_missing(v) else "–"
                                         for v in times["geometric mean (reached)"]],
    })


def family_display(family: pd.DataFrame, tests=None, without: pd.DataFrame | None = None) -> pd.DataFrame:
    """The family of tests (``inference.family``) as a readable table: test, n, effect with its
    interval (">=" for a lower bound), p, Holm p over the whole family, and the Holm-corrected
    sensitivity tests (Welch on log and raw epochs; ``without``: the family recomputed without the
    runs that never converged)."""
    rows = family if tests is None else pd.concat([family[family["test"] == t] for t in tests], ignore_index=True)
    out = pd.DataFrame({
        "test": rows["test"], "n": rows["n"], "method": rows["method"],
        "effect": [_effect_text(r, r["confidence"]) for _, r in rows.iterrows()],
        "p": rows["p"], "p Holm": rows["p_holm"],
        "p Holm, Welch on log": rows["p_welch_log_holm"], "p Holm, Welch": rows["p_welch_holm"],
    })
    if without is not None:
        alt = without.set_index("test")["p_holm"]
        out["p Holm without non-converged runs"] = [alt.get(t, math.nan) for t in rows["test"]]
    return out


def level(confidence: float) -> str:
    """A confidence level as the text writes it: 0.95 -> '95 %'."""
    return f"{100 * confidence:g} %"


def _effect_text(row, confidence: float) -> str:
    """'>= 35.0x (95 % CI 14.4-85.2)', '-0.082 (95 % CI -0.60 to 0.43)', '21 (expected 2.25)'."""
    if stats.is_missing(row["estimate"]):
        return "n/a"
    if row["effect"] == "shared":
        return f"{row['estimate']:.0f} shared (expected {row['null']:.2f})"
    value = f"{row['estimate']:.3g}" + ("×" if row["effect"] == "ratio" else "")
    if row["bound"] == "lower":
        value = ">= " + value
    if not stats.is_missing(row["ci_low"]):
        value += f" ({level(confidence)} CI {row['ci_low']:.3g} to {row['ci_high']:.3g})"
    return value


def pairwise(groups_by_metric: dict) -> pd.DataFrame:
    """Per metric, every pair of conditions: Welch t (t, Welch df, p) and Mann-Whitney U, with
    Holm-corrected p-values within the metric (``stats.compare_groups``), and Hedges' g."""
    frames = []
    for metric, groups in groups_by_metric.items():
        table = stats.compare_groups(groups)
        table.insert(0, "metric", metric)
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def normality(groups_by_metric: dict) -> pd.DataFrame:
    """Shapiro-Wilk W, p and n per metric and condition (not computed for n < 3 or constant)."""
    rows = []
    for metric, groups in groups_by_metric.items():
        for cond, values in groups.items():
            r = stats.shapiro(values, name=cond, labels=list(values.index))
            rows.append({"metric": metric, "condition": cond, "W": r["W"], "p": r["p"], "n": r["n"],
                         "n_total": r["n_total"], "note": r["note"]})
    return pd.DataFrame(rows)


def spearman_ci(rho: float, n: int, confidence: float) -> tuple[float, float]:
    """Approximate confidence interval of a Spearman rho: Fisher z with the Bonett-Wright
    standard error sqrt((1 + rho^2 / 2) / (n - 3)). NaN for n < 4; (rho, rho) at |rho| = 1."""
    if not (n >= 4 and math.isfinite(rho)):
        return math.nan, math.nan
    if abs(rho) >= 1:
        return float(rho), float(rho)
    z = math.atanh(rho)
    half = sps.norm.ppf(0.5 + confidence / 2) * math.sqrt((1 + rho ** 2 / 2) / (n - 3))
    return math.tanh(z - half), math.tanh(z + half)


def run_correlation(x, y, *, labels=None, cap: float | None = None, confidence: float) -> dict:
    """Spearman rho over all runs (not condition means) of x against y, with n, df, p and an
    approximate CI (``spearman_ci``). Censored y (never reached) are left out, unless ``cap`` is
    given: then they enter at the cap, tied above every reached value (a rank statement that
    holds, since they needed more than ``cap`` epochs). ``censored`` lists them either way."""
    y = list(y)
    censored = [lab for lab, v in zip(labels or range(len(y)), y) if stats.is_missing(v)]
    if cap is not None:
        y = [cap if stats.is_missing(v) else v for v in y]
    r = stats.spearman(list(x), y, labels=labels)
    lo, hi = spearman_ci(r["rho"], r["n"], confidence)
    note = r["note"]
    if cap is not None and censored:
        note = stats.join_notes(note, f"{len(censored)} censored run(s) ranked at the cap {cap:g}: {censored}")
    return {**r, "censored": censored, "ci_low": lo, "ci_high": hi, "confidence": confidence,
            "censored_at_cap": cap is not None, "note": note}


def max_abs_z(n: int) -> float:
    """The largest |z| any value can have among n values when z uses the sample sd (ddof 1):
    (n - 1) / sqrt(n) (1.79 at n = 5), so a |z| > 2 rule cannot flag anything for n <= 5."""
    return (n - 1) / math.sqrt(n) if n >= 2 else math.nan


def outliers(groups_by_metric: dict, threshold: float = 2.0) -> pd.DataFrame:
    """z-scores (ddof 1) of every run per metric, within each condition and over all runs of
    the metric pooled: one row per (metric, scope) with n, the largest |z|, the largest |z|
    possible at that n, and the flagged runs."""
    rows = []
    for metric, groups in groups_by_metric.items():
        scopes = dict(groups)
        scopes["all runs"] = pd.concat([pd.Series(list(v), index=[f"{c}/{s}" for s in v.index], dtype=object)
                                        for c, v in groups.items()])
        for scope, values in scopes.items():
            z = stats.zscore_outliers(values, labels=list(values.index), threshold=threshold)
            n = z.attrs["n"]
            rows.append({"metric": metric, "scope": scope, "n": n, "n_total": z.attrs["n_total"],
                         "max |z|": float(np.abs(z["z"]).max()) if n else math.nan,
                         "largest possible |z|": max_abs_z(n), "threshold": threshold,
                         "can flag": bool(n >= 2 and max_abs_z(n) > threshold),
                         "flagged": [str(v) for v in z.loc[z["outlier"], "label"]],
                         "note": z.attrs["note"]})
    return pd.DataFrame(rows)


def censored_runs(groups_by_metric: dict) -> pd.DataFrame:
    """Per metric and condition: how many runs never reached (censored) and which seeds."""
    rows = []
    for metric, groups in groups_by_metric.items():
        for cond, values in groups.items():
            missing = [s for s, v in values.items() if stats.is_missing(v)]
            rows.append({"metric": metric, "condition": cond, "censored": len(missing),
                         "of": len(values), "seeds": ", ".join(map(str, missing)) or "–"})
    return pd.DataFrame(rows)



def groups(table: pd.DataFrame, column: str, conditions, group: str = "condition") -> dict:
    """``{condition: Series of column indexed by seed}`` from a one-row-per-run table (a saved
    ``table`` dict is accepted too), None kept for censored runs; conditions absent from the
    table are left out."""
    table = pd.DataFrame(table)
    out = {}
    for c in conditions:
        rows = table[table[group] == c]
        if len(rows):
            out[c] = pd.Series([None if pd.isna(v) else v for v in rows[column]],
                               index=rows["seed"].tolist(), dtype=object)
    return out


def as_numbers(frame: pd.DataFrame, keys, kind) -> dict:
    """Nested ``{key1: {key2: row}}`` of a tidy table, keys ``metric_key`` of the ``keys``
    columns, each row the contract dataclass ``kind`` made of the columns it declares."""
    out: dict = {}
    columns = contract.saved_keys(kind)
    for _, row in frame.iterrows():
        node = out
        for k in keys[:-1]:
            node = node.setdefault(metric_key(str(row[k])), {})
        node[metric_key(str(row[keys[-1]]))] = contract.typed(kind, {c: row[c] for c in columns})
    return out
