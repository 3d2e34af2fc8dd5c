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


def summary(groups_by_metric: dict, confidence: float = 0.95, n_boot: int = 10_000, skewed=(),
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


def time_to_threshold(table: pd.DataFrame, columns, conditions, cap: float, confidence: float = 0.95) -> pd.DataFrame:
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
                         "note": stats._join(median["note"], rmst["note"])})
    return pd.DataFrame(rows)


def time_to_threshold_display(times: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
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
        "effect": [_effect_text(r, r.get("confidence", 0.95)) for _, r in rows.iterrows()],
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


def _effect_text(row, confidence: float = 0.95) -> str:
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


def pairwise_display(tests: pd.DataFrame, metrics=None) -> pd.DataFrame:
    """``pairwise`` as a readable table (optionally only ``metrics``, in that order): metric, pair
    "a vs b", n per group, Welch t, df and p, the Holm-corrected p-values and Hedges' g."""
    if metrics is not None:
        tests = pd.concat([tests[tests["metric"] == m] for m in metrics], ignore_index=True)
    return tests.assign(pair=tests["group_a"] + " vs " + tests["group_b"])[
        ["metric", "pair", "n_a", "n_b", "t", "df", "p_t", "p_t_holm", "p_rank_holm", "effect_size"]
    ].rename(columns={"n_a": "n a", "n_b": "n b", "p_t": "p", "p_t_holm": "p Holm (Welch)",
                      "p_rank_holm": "p Holm (Mann-Whitney)", "effect_size": "Hedges' g"})


def normality(groups_by_metric: dict) -> pd.DataFrame:
    """Shapiro-Wilk W, p and n per metric and condition (not computed for n < 3 or constant)."""
    rows = []
    for metric, groups in groups_by_metric.items():
        for cond, values in groups.items():
            r = stats.shapiro(values, name=cond, labels=list(values.index))
            rows.append({"metric": metric, "condition": cond, "W": r["W"], "p": r["p"], "n": r["n"],
                         "n_total": r["n_total"], "note": r["note"]})
    return pd.DataFrame(rows)


def spearman_ci(rho: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Approximate confidence interval of a Spearman rho: Fisher z with the Bonett-Wright
    standard error sqrt((1 + rho^2 / 2) / (n - 3)). NaN for n < 4; (rho, rho) at |rho| = 1."""
    if not (n >= 4 and math.isfinite(rho)):
        return math.nan, math.nan
    if abs(rho) >= 1:
        return float(rho), float(rho)
    z = math.atanh(rho)
    half = sps.norm.ppf(0.5 + confidence / 2) * math.sqrt((1 + rho ** 2 / 2) / (n - 3))
    return math.tanh(z - half), math.tanh(z + half)


def run_correlation(x, y, *, labels=None, cap: float | None = None, confidence: float = 0.95) -> dict:
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
        note = stats._join(note, f"{len(censored)} censored run(s) ranked at the cap {cap:g}: {censored}")
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


UNBOUNDED = "unbounded: the denominator's mean is not distinguishable from 0 with these runs"


def fieller_interval(a, b, confidence: float = 0.95) -> tuple[float, float, float, str]:
    """Fieller's confidence interval of mean(a) / mean(b) for two independent normal samples with
    unequal variances: every ratio r with (A - r B)^2 <= t^2 (va + r^2 vb), where A, B are the
    means, va, vb their squared standard errors and t the quantile at the Welch-Satterthwaite df
    of A - r B. Returns (low, high, df, note); NaN bounds, with a note, when the denominator's
    mean is not distinguishable from 0 (the set of ratios is then unbounded; note ``UNBOUNDED``)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    A, B = a.mean(), b.mean()
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    ratio = A / B
    denominator_df = (va ** 2 / (len(a) - 1) + ratio ** 4 * vb ** 2 / (len(b) - 1))
    df = (va + ratio ** 2 * vb) ** 2 / denominator_df if denominator_df > 0 else math.inf
    t = sps.t.ppf(0.5 + confidence / 2, df)
    quad = B ** 2 - t ** 2 * vb                    # coefficient of r^2
    if quad <= 0:
        return math.nan, math.nan, float(df), UNBOUNDED
    half = math.sqrt(max(0.0, (A * B) ** 2 - quad * (A ** 2 - t ** 2 * va)))
    return float((A * B - half) / quad), float((A * B + half) / quad), float(df), ""


def ratio_of_means(numerator, denominator, confidence: float = 0.95, n_boot: int = 10_000,
                   seed: int = 0, cap: float | None = None) -> dict:
    """mean(numerator) / mean(denominator) (e.g. the speedup: random's epochs over grokked's)
    with Fieller's CI (``fieller_interval``: exact for normal samples, and honest at n = 5,
    where it can be wide or unbounded) and, beside it, a percentile-bootstrap CI (seeds
    resampled within each group; known to be too narrow for so few seeds). Undefined (NaN,
    with a note) when either group has a censored run: a ratio of means needs every value.
    Then, if only the numerator is censored and ``cap`` is given, ``lower_bound`` is the ratio
    with its censored runs counted at the cap: they needed more, so the ratio is at least that."""
    a = [v for v in numerator if not stats.is_missing(v)]
    b = [v for v in denominator if not stats.is_missing(v)]
    out = {"n_numerator": len(a), "n_denominator": len(b), "n_total_numerator": len(list(numerator)),
           "n_total_denominator": len(list(denominator)), "confidence": confidence,
           "value": math.nan, "ci_low": math.nan, "ci_high": math.nan, "df": math.nan,
           "ci_unbounded": False, "boot_low": math.nan, "boot_high": math.nan, "note": "",
           "lower_bound": math.nan}
    out["n_censored_numerator"] = out["n_total_numerator"] - len(a)
    if len(a) < out["n_total_numerator"] or len(b) < out["n_total_denominator"]:
        out["note"] = "censored runs: a ratio of means is undefined"
        if cap is not None and len(b) == out["n_total_denominator"] and b and np.mean(b) > 0:
            out["lower_bound"] = float((sum(a) + cap * out["n_censored_numerator"]) / out["n_total_numerator"] / np.mean(b))
        return out
    if not a or not b or np.mean(b) == 0:
        out["note"] = "empty group or zero denominator"
        return out
    a, b = np.asarray(a, float), np.asarray(b, float)
    out["value"] = float(a.mean() / b.mean())
    if len(a) < 2 or len(b) < 2:
        out["note"] = "n < 2 in a group: no CI"
        return out
    if a.var() == 0 and b.var() == 0:
        out["ci_low"] = out["ci_high"] = out["value"]
        out["note"] = "all values equal within each group: zero-width interval"
    else:
        out["ci_low"], out["ci_high"], out["df"], out["note"] = fieller_interval(a, b, confidence)
        out["ci_unbounded"] = out["note"] == UNBOUNDED
    res = sps.bootstrap((a, b), lambda x, y, axis=-1: np.mean(x, axis=axis) / np.mean(y, axis=axis),
                        n_resamples=n_boot, confidence_level=confidence, method="percentile",
                        rng=np.random.default_rng(seed), vectorized=True)
    out["boot_low"], out["boot_high"] = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return out


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
