"""Multi-seed statistics (protocol item 6): summaries, pairwise tests, Holm, normality,
correlation, one-sample tests and z-score outliers.

Every distribution comes from ``scipy.stats``; the only formulas written here are Holm's
step-down (scipy has none: ``false_discovery_control`` is Benjamini-Hochberg), the
Hedges' g effect size and the modified Cox interval of a log-normal mean (scipy has none).
Every result carries its n (and df where a test has one).

Skewed positive data (epochs to a threshold) are summarised on the log scale: the geometric
mean, the log-normal (Cox) interval of the arithmetic mean, and seed-paired log ratios.

Censoring. A value of ``None`` or NaN means "never reached the threshold before the cap"
(``grokpaper.analysis.curves`` returns None for that). Statistics are computed on the reached values
only, and every result says so: ``n_total``, ``n_reached`` and ``censored`` (the labels, or
indices, of the censored runs) are always present, and ``note`` says what was left out.
Censored values are never silently dropped. For quantities that cannot be censored
(accuracies, retention), pass ``allow_censored=False``: a NaN is then a ValueError.

Groups are lists / arrays / pandas Series of numbers. A Series' index is used as the labels
(e.g. seeds) unless ``labels`` are given.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import special, stats


def is_missing(value) -> bool:
    """True for the values that mean "no result" (a censored run, a metric not computed):
    None, NaN (Python or NumPy float) and pandas' NA. One test, used by every module."""
    return value is None or value is pd.NA or (
        isinstance(value, (float, np.floating)) and math.isnan(value))

__all__ = ["Summary", "describe", "summary_table", "compare_groups", "min_rank_p", "holm", "hedges_g",
           "shapiro", "spearman", "one_sample", "zscore_outliers", "groups_from_frame",
           "geometric_mean_ci", "lognormal_mean_ci", "paired_log_ratio"]


# ----------------------------------------------------------------------------- input checks

@dataclass(frozen=True)
class _Group:
    name: str
    reached: np.ndarray        # float values that are not censored
    reached_labels: tuple
    censored: tuple            # labels (or indices) of censored entries
    n_total: int
    full: np.ndarray           # all n_total values in input order, NaN where censored


def _group(values, name: str | None = None, labels=None, allow_censored: bool = True) -> _Group:
    """Validate one group and split it into reached values and censored labels."""
    gname = "values" if name is None else str(name)
    if isinstance(values, (str, bytes)) or isinstance(values, Mapping) or np.ndim(values) == 0 \
            and not isinstance(values, (list, tuple)):
        raise ValueError(f"group {gname!r} must be a list/array/Series of numbers, "
                         f"got {type(values).__name__}")
    if labels is None and isinstance(values, pd.Series):
        labels = list(values.index)
    items = list(values.tolist() if isinstance(values, (np.ndarray, pd.Series)) else values)
    if len(items) == 0:
        raise ValueError(f"group {gname!r} is empty: it needs at least one value")
    if labels is None:
        labels = list(range(len(items)))
    labels = list(labels)
    if len(labels) != len(items):
        raise ValueError(f"group {gname!r}: {len(labels)} labels for {len(items)} values")
    reached, reached_labels, censored, full = [], [], [], []
    for label, v in zip(labels, items):
        if is_missing(v):
            if not allow_censored:
                raise ValueError(f"group {gname!r} has a missing value (None/NaN) at {label!r}, "
                                 "and this quantity cannot be censored (allow_censored=False)")
            censored.append(label)
            full.append(math.nan)
            continue
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise ValueError(f"group {gname!r} has a non-numeric value {v!r} at {label!r}")
        if math.isinf(v):
            raise ValueError(f"group {gname!r} has an infinite value at {label!r}")
        reached.append(float(v))
        reached_labels.append(label)
        full.append(float(v))
    return _Group(gname, np.asarray(reached, dtype=float), tuple(reached_labels),
                  tuple(censored), len(items), np.asarray(full, dtype=float))


def _groups(groups, labels=None, allow_censored=True) -> list[_Group]:
    """Validate a family of named groups (mapping, or sequence of (name, values) pairs)."""
    pairs = list(groups.items()) if isinstance(groups, Mapping) else list(groups)
    if len(pairs) == 0:
        raise ValueError("groups is empty: give at least one named group")
    names = []
    for pair in pairs:
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise ValueError("groups must be a dict {name: values} or a list of (name, values) pairs")
        if pair[0] in names:
            raise ValueError(f"group name {pair[0]!r} appears more than once")
        names.append(pair[0])
    labels = labels or {}
    return [_group(v, name, labels.get(name), allow_censored) for name, v in pairs]


def _censor_note(g: _Group) -> str:
    if not g.censored:
        return ""
    return (f"{len(g.censored)} of {g.n_total} censored (never reached): {list(g.censored)}; "
            f"statistics on the {len(g.reached)} reached values only")


def join_notes(*notes: str) -> str:
    """The non-empty notes, joined by '; ' (how every result's ``note`` is built)."""
    return "; ".join(n for n in notes if n)


# ----------------------------------------------------------------------------- summaries

@dataclass(frozen=True)
class Summary:
    """Descriptive statistics of one group (computed on the reached values, n of them)."""
    name: str | None
    n_total: int
    n_reached: int
    censored: tuple
    n: int
    mean: float
    sd: float          # ddof 1
    sem: float
    df: float          # n - 1, the t-CI's degrees of freedom
    confidence: float
    ci_low: float      # t interval
    ci_high: float
    boot_low: float    # percentile bootstrap interval of the mean
    boot_high: float
    cv: float          # sd / mean
    median: float
    min: float
    max: float
    note: str

    def as_dict(self) -> dict:
        d = asdict(self)
        d["censored"] = list(self.censored)
        return d


def describe(values, *, name: str | None = None, labels=None, confidence: float,
             n_boot: int, seed: int = 0, allow_censored: bool = True) -> Summary:
    """Mean, sd (ddof 1), sem, t-CI (df = n - 1), percentile bootstrap CI of the mean, CV,
    median, min and max of a group; censored entries (None/NaN) are counted and listed.

    With n < 2 the sd, CIs and CV are NaN and ``note`` says why; with n = 0 every statistic
    is NaN. The percentile bootstrap (``scipy.stats.bootstrap``, ``n_boot`` resamples,
    seeded) is known to be too narrow at n = 5; it is shown beside the t interval, not
    instead of it.
    """
    if not (0 < confidence < 1):
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    g = _group(values, name, labels, allow_censored)
    x, n = g.reached, len(g.reached)
    nan = float("nan")
    notes = [_censor_note(g)]
    mean = float(np.mean(x)) if n else nan
    median = float(np.median(x)) if n else nan
    lo_hi = (float(np.min(x)), float(np.max(x))) if n else (nan, nan)
    sd = sem = ci_low = ci_high = boot_low = boot_high = cv = nan
    if n == 0:
        notes.append("no reached values: nothing to summarise")
    elif n < 2:
        notes.append("n < 2: sd, sem, CIs and CV are undefined")
    else:
        sd = float(np.std(x, ddof=1))
        sem = sd / math.sqrt(n)
        if sem == 0:
            ci_low = ci_high = boot_low = boot_high = mean
            notes.append("all values equal: zero-width intervals")
        else:
            ci_low, ci_high = (float(v) for v in stats.t.interval(confidence, n - 1, loc=mean, scale=sem))
            boot = stats.bootstrap((x,), np.mean, n_resamples=n_boot, confidence_level=confidence,
                                   method="percentile", rng=np.random.default_rng(seed))
            boot_low, boot_high = float(boot.confidence_interval.low), float(boot.confidence_interval.high)
        if mean != 0:
            cv = sd / mean
        else:
            notes.append("mean is 0: CV undefined")
    return Summary(name=name, n_total=g.n_total, n_reached=n, censored=g.censored, n=n,
                   mean=mean, sd=sd, sem=sem, df=float(n - 1) if n >= 2 else nan,
                   confidence=confidence, ci_low=ci_low, ci_high=ci_high, boot_low=boot_low,
                   boot_high=boot_high, cv=cv, median=median, min=lo_hi[0], max=lo_hi[1],
                   note=join_notes(*notes))


def summary_table(groups, *, labels: Mapping | None = None, confidence: float,
                  n_boot: int, seed: int = 0, allow_censored: bool = True) -> pd.DataFrame:
    """``describe`` of every group, one tidy row per group (column ``name`` = group name)."""
    gs = _groups(groups, labels, allow_censored)      # validates names before any compute
    pairs = list(groups.items()) if isinstance(groups, Mapping) else list(groups)
    rows = [describe(v, name=name, labels=(labels or {}).get(name), confidence=confidence,
                     n_boot=n_boot, seed=seed, allow_censored=allow_censored).as_dict()
            for (name, v), _ in zip(pairs, gs)]
    return pd.DataFrame(rows)


def groups_from_frame(df: pd.DataFrame, group: str, value: str,
                      label: str | None = None) -> dict[str, pd.Series]:
    """Split a tidy table (one row per run) into ``{group name: Series of values}``, in order
    of first appearance, indexed by ``label`` (e.g. ``"seed"``) so censored runs are named."""
    for col in (group, value, label):
        if col is not None and col not in df.columns:
            raise ValueError(f"column {col!r} not in the table; it has {list(df.columns)}")
    out = {}
    for name in pd.unique(df[group]):
        rows = df[df[group] == name]
        s = rows[value].astype(object).where(rows[value].notna(), None)
        out[name] = pd.Series(s.to_numpy(), index=rows[label].to_numpy() if label else rows.index,
                              dtype=object)
    return out


# ----------------------------------------------------------------------------- tests

def min_rank_p(n_a: int, n_b: int) -> float:
    """The smallest p-value the exact two-sided Mann-Whitney U test can give for groups of n_a and
    n_b runs (complete separation, no ties): 2 / C(n_a + n_b, n_a). At 3 vs 3 it is 0.1, so the
    rank test can never reject at 0.05, however different the groups."""
    if n_a < 1 or n_b < 1:
        raise ValueError(f"n_a and n_b must be >= 1, got {n_a} and {n_b}")
    return min(1.0, 2 / math.comb(n_a + n_b, n_a))


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control), NaNs left out of the
    family and returned as NaN.

    Sorted ascending p_(1) <= ... <= p_(m): adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)).
    Example: [0.01, 0.04, 0.03] -> [0.03, 0.06, 0.06].
    """
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"pvalues must be 1-D, got shape {p.shape}")
    if np.any((p < 0) | (p > 1)):
        raise ValueError("pvalues must lie in [0, 1]")
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    order = ok[np.argsort(p[ok], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


def hedges_g(a, b) -> float:
    """Hedges' g = Cohen's d (mean difference over the pooled sd, ddof 1) times the exact
    small-sample correction J(df) = Gamma(df/2) / (sqrt(df/2) Gamma((df-1)/2)), df = n_a + n_b - 2.
    NaN when df < 2 or the pooled sd is 0."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    df = len(a) + len(b) - 2
    if len(a) < 2 or len(b) < 2 or df < 2:
        return float("nan")
    pooled = math.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / df)
    if pooled == 0:
        return float("nan")
    j = math.exp(special.gammaln(df / 2) - special.gammaln((df - 1) / 2)) / math.sqrt(df / 2)
    return float(j * (a.mean() - b.mean()) / pooled)


def _paired_g(d) -> float:
    """Hedges-corrected standardized mean difference of paired differences (d_z * J(n - 1))."""
    df = len(d) - 1
    if df < 2 or np.std(d, ddof=1) == 0:
        return float("nan")
    j = math.exp(special.gammaln(df / 2) - special.gammaln((df - 1) / 2)) / math.sqrt(df / 2)
    return float(j * np.mean(d) / np.std(d, ddof=1))


def quietly(fn, *args, **kwargs):
    """Run a scipy test with its small-sample / constant-input warnings silenced (we flag
    those cases ourselves in ``note``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def compare_groups(groups, *, paired: bool = False, labels: Mapping | None = None,
                   allow_censored: bool = True) -> pd.DataFrame:
    """Every pair of groups: a t-test, a rank test, Holm-corrected p-values and Hedges' g.

    Unpaired (default): Welch's t-test (``scipy.stats.ttest_ind(equal_var=False)``; its
    ``df`` is the Welch-Satterthwaite df) and the two-sided Mann-Whitney U test; effect size
    Hedges' g (pooled sd, exact J correction) of a minus b. Paired: the paired t-test
    (df = n - 1) and the Wilcoxon signed-rank test on index-matched entries (a pair is
    dropped when either side is censored, and listed); effect size Hedges-corrected d_z.
    ``p_t_holm`` / ``p_rank_holm``: Holm over all pairs of this call, separately for each
    test. One row per pair with both n, the censored labels and a ``note``.
    """
    gs = _groups(groups, labels, allow_censored)
    if len(gs) < 2:
        raise ValueError(f"compare_groups needs at least two groups, got {[g.name for g in gs]}")
    if paired:
        sizes = {g.name: g.n_total for g in gs}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"paired comparison needs groups of equal length, got {sizes}")
    rows = []
    for ga, gb in itertools.combinations(gs, 2):
        notes = [_censor_note(ga) and f"{ga.name}: {_censor_note(ga)}",
                 _censor_note(gb) and f"{gb.name}: {_censor_note(gb)}"]
        if paired:
            keep = ~(np.isnan(ga.full) | np.isnan(gb.full))
            a, b = ga.full[keep], gb.full[keep]
            if not keep.all():
                notes.append(f"paired: {int((~keep).sum())} pair(s) with a censored side left out")
            t_test, rank_test, kind = "paired t", "Wilcoxon signed-rank", "Hedges g_z (paired)"
        else:
            a, b = ga.reached, gb.reached
            t_test, rank_test, kind = "Welch t", "Mann-Whitney U", "Hedges g"
        nan = float("nan")
        t = df = p_t = rank_stat = p_rank = nan
        if len(a) < 2 or len(b) < 2:
            notes.append("n < 2 in a group: t-test undefined")
        elif not paired and a.var(ddof=1) == 0 and b.var(ddof=1) == 0:
            notes.append("both groups constant: t-test undefined")
        elif paired and np.std(a - b, ddof=1) == 0:
            notes.append("constant paired differences: t-test undefined")
        else:
            res = quietly(stats.ttest_rel, a, b) if paired else quietly(stats.ttest_ind, a, b, equal_var=False)
            t, df, p_t = float(res.statistic), float(res.df), float(res.pvalue)
        if paired:
            if len(a) >= 1 and np.any(a - b != 0):
                res = quietly(stats.wilcoxon, a, b)
                rank_stat, p_rank = float(res.statistic), float(res.pvalue)
            else:
                notes.append("no non-zero paired differences: Wilcoxon undefined")
        elif len(a) >= 1 and len(b) >= 1:
            res = quietly(stats.mannwhitneyu, a, b, alternative="two-sided")
            rank_stat, p_rank = float(res.statistic), float(res.pvalue)
        else:
            notes.append("empty group after censoring: Mann-Whitney undefined")
        rows.append({
            "group_a": ga.name, "group_b": gb.name, "n_a": len(a), "n_b": len(b),
            "censored_a": list(ga.censored), "censored_b": list(gb.censored),
            "mean_a": float(np.mean(a)) if len(a) else nan,
            "mean_b": float(np.mean(b)) if len(b) else nan,
            "mean_diff": float(np.mean(a) - np.mean(b)) if len(a) and len(b) else nan,
            "t_test": t_test, "t": t, "df": df, "p_t": p_t,
            "rank_test": rank_test, "rank_stat": rank_stat, "p_rank": p_rank,
            "effect_size_kind": kind,
            "effect_size": _paired_g(a - b) if paired else hedges_g(a, b),
            "note": join_notes(*notes)})
    table = pd.DataFrame(rows)
    table.insert(table.columns.get_loc("p_t") + 1, "p_t_holm", holm(table["p_t"]))
    table.insert(table.columns.get_loc("p_rank") + 1, "p_rank_holm", holm(table["p_rank"]))
    return table




def shapiro(values, *, name: str | None = None, labels=None, allow_censored: bool = True) -> dict:
    """Shapiro-Wilk normality test (``scipy.stats.shapiro``) on the reached values:
    W, p, n. With n < 3 it is not computed (W, p NaN) and ``note`` says so."""
    g = _group(values, name, labels, allow_censored)
    n, w, p, notes = len(g.reached), math.nan, math.nan, [_censor_note(g)]
    if n < 3:
        notes.append("n < 3: Shapiro-Wilk needs at least 3 values, not computed")
    elif np.ptp(g.reached) == 0:
        notes.append("all values equal: Shapiro-Wilk undefined, not computed")
    else:
        res = quietly(stats.shapiro, g.reached)
        w, p = float(res.statistic), float(res.pvalue)
    return {"name": name, "test": "Shapiro-Wilk", "W": w, "p": p, "n": n, "n_total": g.n_total,
            "censored": list(g.censored), "note": join_notes(*notes)}


def spearman(x, y, *, labels=None, allow_censored: bool = True) -> dict:
    """Spearman rank correlation (``scipy.stats.spearmanr``): rho, p (two-sided), n, df = n - 2.

    x and y are matched by position; a pair with either side censored is left out and listed
    in ``censored``. n < 3 or a constant input -> rho, p NaN with a ``note``."""
    gx = _group(x, "x", labels, allow_censored)
    gy = _group(y, "y", labels, allow_censored)
    if gx.n_total != gy.n_total:
        raise ValueError(f"x and y must have the same length, got {gx.n_total} and {gy.n_total}")
    lab = list(labels) if labels is not None else (
        list(x.index) if isinstance(x, pd.Series) else list(range(gx.n_total)))
    keep = ~(np.isnan(gx.full) | np.isnan(gy.full))
    a, b = gx.full[keep], gy.full[keep]
    censored = [label for label, k in zip(lab, keep) if not k]
    n, rho, p, notes = len(a), math.nan, math.nan, []
    if censored:
        notes.append(f"{len(censored)} of {gx.n_total} pairs censored (x or y never reached): "
                     f"{censored}; correlation on the {n} complete pairs only")
    if n < 3:
        notes.append("n < 3: correlation not computed")
    elif np.ptp(a) == 0 or np.ptp(b) == 0:
        notes.append("constant input: correlation undefined")
    else:
        res = stats.spearmanr(a, b)
        rho, p = float(res.statistic), float(res.pvalue)
    return {"test": "Spearman", "rho": rho, "p": p, "n": n, "df": n - 2 if n >= 3 else math.nan,
            "n_total": gx.n_total, "censored": censored, "note": join_notes(*notes)}


def stratified_permutation_spearman(x, y, strata, *, n_permutations: int, seed: int = 0) -> dict:
    """Is x related to y within strata? The statistic is the mean over strata of Spearman's rho
    (each stratum with at least 3 runs and both variables non-constant); its null distribution
    permutes x within each stratum (``n_permutations`` seeded Monte Carlo draws), so differences
    between strata cannot create a correlation. Two-sided p = (1 + #{|T*| >= |T|}) / (1 + draws)."""
    x, y, strata = np.asarray(x, dtype=float), np.asarray(y, dtype=float), np.asarray(strata, dtype=object)
    if not (len(x) == len(y) == len(strata)):
        raise ValueError(f"x, y and strata must have the same length, got {len(x)}, {len(y)}, {len(strata)}")
    if not isinstance(n_permutations, (int, np.integer)) or n_permutations < 1:
        raise ValueError(f"n_permutations must be a positive integer, got {n_permutations!r}")
    rng = np.random.default_rng(seed)
    observed, draws, used, notes = [], [], [], []
    for stratum in pd.unique(strata):
        keep = (strata == stratum) & ~np.isnan(x) & ~np.isnan(y)
        rx, ry = stats.rankdata(x[keep]), stats.rankdata(y[keep])
        if keep.sum() < 3 or np.ptp(rx) == 0 or np.ptp(ry) == 0:
            notes.append(f"stratum {stratum}: fewer than 3 runs or a constant variable, left out")
            continue
        cx, cy = rx - rx.mean(), ry - ry.mean()
        scale = math.sqrt((cx ** 2).sum() * (cy ** 2).sum())
        observed.append(float((cx * cy).sum() / scale))
        permuted = rng.permuted(np.tile(cx, (n_permutations, 1)), axis=1)
        draws.append(permuted @ cy / scale)
        used.append(stratum)
    if not used:
        return {"statistic": math.nan, "p": math.nan, "n": 0, "strata": [], "rho_by_stratum": {},
                "n_permutations": n_permutations, "note": join_notes(*notes, "no stratum can be tested")}
    statistic = float(np.mean(observed))
    null = np.mean(draws, axis=0)
    p = float((1 + np.sum(np.abs(null) >= abs(statistic) - 1e-12)) / (1 + n_permutations))
    n = int(sum(((strata == s) & ~np.isnan(x) & ~np.isnan(y)).sum() for s in used))
    return {"statistic": statistic, "p": p, "n": n, "strata": list(used),
            "rho_by_stratum": dict(zip(used, observed)), "n_permutations": n_permutations,
            "note": join_notes(*notes)}


def one_sample(values, reference: float, *, name: str | None = None, labels=None,
               confidence: float, allow_censored: bool = False) -> dict:
    """One-sample t-test of the mean against ``reference`` (``scipy.stats.ttest_1samp``,
    two-sided): t, df = n - 1, p, n, mean and its t-CI. n < 2 or zero variance -> NaN + note.
    Censoring is off by default (e.g. retention accuracies are never censored)."""
    if not isinstance(reference, (int, float, np.integer, np.floating)) or not math.isfinite(reference):
        raise ValueError(f"reference must be a finite number, got {reference!r}")
    g = _group(values, name, labels, allow_censored)
    x, n = g.reached, len(g.reached)
    t = df = p = lo = hi = math.nan
    notes = [_censor_note(g)]
    if n < 2:
        notes.append("n < 2: t-test undefined")
    elif np.ptp(x) == 0:
        notes.append("all values equal: t-test undefined")
    else:
        res = stats.ttest_1samp(x, reference)
        t, df, p = float(res.statistic), float(res.df), float(res.pvalue)
        ci = res.confidence_interval(confidence)
        lo, hi = float(ci.low), float(ci.high)
    return {"name": name, "test": "one-sample t", "reference": float(reference),
            "mean": float(np.mean(x)) if n else math.nan, "t": t, "df": df, "p": p, "n": n,
            "ci_low": lo, "ci_high": hi, "confidence": confidence, "n_total": g.n_total,
            "censored": list(g.censored), "note": join_notes(*notes)}


def zscore_outliers(values, labels=None, threshold: float = 2.0, *,
                    allow_censored: bool = True) -> pd.DataFrame:
    """z-scores (``scipy.stats.zscore``, ddof 1) of the reached values; ``outlier`` marks
    |z| > threshold. One row per reached value (label, value, z, outlier) with n.

    Note: with ddof 1 no |z| can exceed (n - 1) / sqrt(n) (1.79 at n = 5), so a threshold
    of 2 can never fire with 5 runs; ``attrs["note"]`` says when the threshold is out of reach.
    """
    if not isinstance(threshold, (int, float, np.integer, np.floating)) or not threshold > 0:
        raise ValueError(f"threshold must be a positive number, got {threshold!r}")
    g = _group(values, None, labels, allow_censored)
    n = len(g.reached)
    notes = [_censor_note(g)]
    if n < 2:
        z = np.full(n, np.nan)
        notes.append("n < 2: z-scores undefined")
    elif np.ptp(g.reached) == 0:
        z = np.zeros(n)
        notes.append("all values equal: every z is 0")
    else:
        z = stats.zscore(g.reached, ddof=1)
    if n >= 2 and (n - 1) / math.sqrt(n) <= threshold:
        notes.append(f"with n = {n} the largest possible |z| is {(n - 1) / math.sqrt(n):.2f} "
                     f"<= {threshold}: no value can be flagged")
    table = pd.DataFrame({"label": list(g.reached_labels), "value": g.reached, "z": z,
                          "outlier": np.abs(z) > threshold, "n": n})
    table.attrs.update(n=n, n_total=g.n_total, censored=list(g.censored),
                       threshold=threshold, note=join_notes(*notes))
    return table


# ----------------------------------------------------------------------------- skewed, positive, capped epochs

def _check_confidence(confidence) -> float:
    """Validate a confidence level (a number strictly between 0 and 1)."""
    if isinstance(confidence, (bool, np.bool_)) or not isinstance(
            confidence, (int, float, np.integer, np.floating)) or not (0 < confidence < 1):
        raise ValueError(f"confidence must be a number in (0, 1), got {confidence!r}")
    return float(confidence)


def _capped(values, name: str, labels=None, cap=None, *, positive: bool) -> tuple[_Group, float | None]:
    """Validate epochs censored at a common training cap: a missing value (None/NaN) means
    "never reached by ``cap``", so ``cap`` is required when one is missing, and every reached
    value must be >= 0 (> 0 when ``positive``, for the log scale) and <= ``cap``."""
    if cap is not None and (isinstance(cap, (bool, np.bool_))
                            or not isinstance(cap, (int, float, np.integer, np.floating))
                            or not math.isfinite(cap) or cap <= 0):
        raise ValueError(f"cap must be a positive finite number of epochs, got {cap!r}")
    g = _group(values, name, labels)
    if g.censored and cap is None:
        raise ValueError(f"cap is required: {name!r} has {len(g.censored)} censored run(s) (None/NaN) "
                         f"at {list(g.censored)}; give the training cap they were censored at")
    for label, v in zip(g.reached_labels, g.reached):
        if v < 0 or (positive and v == 0):
            raise ValueError(f"{name!r} must be {'> 0 (log scale)' if positive else '>= 0'} epochs, "
                             f"got {v:g} at {label!r}")
        if cap is not None and v > cap:
            raise ValueError(f"{name!r} has {v:g} at {label!r}, above cap={cap:g}: a run cannot "
                             "reach the threshold after the training cap")
    return g, None if cap is None else float(cap)


def _positive_values(values) -> np.ndarray:
    """Validate an uncensored group of strictly positive numbers (for the log scale)."""
    g = _group(values, "values", None, allow_censored=False)
    for label, v in zip(g.reached_labels, g.reached):
        if v <= 0:
            raise ValueError(f"values must be > 0 (log scale), got {v:g} at {label!r}")
    return g.reached


def geometric_mean_ci(values, confidence: float) -> dict:
    """Geometric mean exp(mean(log x)) of positive values with the t-interval of the mean log,
    exponentiated: exp(mean +- t_{n-1} sd / sqrt(n)). n < 2 -> CI NaN with a ``note``."""
    confidence = _check_confidence(confidence)
    x = _positive_values(values)
    y, n = np.log(x), len(x)
    value = float(np.exp(np.mean(y)))
    lo = hi = df = math.nan
    notes = []
    if n < 2:
        notes.append("n < 2: the CI is undefined")
    else:
        df = n - 1
        sem = float(np.std(y, ddof=1)) / math.sqrt(n)
        if sem == 0:
            lo = hi = value
            notes.append("all values equal: zero-width interval")
        else:
            lo, hi = (float(np.exp(v)) for v in stats.t.interval(confidence, df, loc=np.mean(y), scale=sem))
    return {"value": value, "ci_low": lo, "ci_high": hi, "n": n, "df": df, "note": join_notes(*notes)}


def lognormal_mean_ci(values, confidence: float) -> dict:
    """Arithmetic mean of positive, right-skewed values with the modified Cox interval of a
    log-normal mean (Olsson 2005; written here, scipy has none): with y = log x,
    exp(ybar + s^2/2 +- t_{n-1} sqrt(s^2/n + s^4 / (2(n-1)))). n < 2 -> CI NaN with a ``note``.

    The interval is always positive, unlike a symmetric t-interval that a single slow run
    stretches below 0. ``value`` is the plain mean of x; the interval is centred (on the log
    scale) on the log-normal estimate exp(ybar + s^2/2), which ``note`` gives.
    """
    confidence = _check_confidence(confidence)
    x = _positive_values(values)
    y, n = np.log(x), len(x)
    method = "modified Cox interval of a log-normal mean (Olsson 2005)"
    lo = hi = math.nan
    notes = []
    if n < 2:
        notes.append("n < 2: the CI is undefined")
    else:
        ybar, s2 = float(np.mean(y)), float(np.var(y, ddof=1))
        centre = ybar + s2 / 2
        half_width = stats.t.ppf((1 + confidence) / 2, n - 1) * math.sqrt(s2 / n + s2 ** 2 / (2 * (n - 1)))
        lo, hi = math.exp(centre - half_width), math.exp(centre + half_width)
        notes.append(f"log-normal estimate of the mean exp(ybar + s^2/2) = {math.exp(centre):.4g}, "
                     f"df = {n - 1}")
        if s2 == 0:
            notes.append("all values equal: zero-width interval")
    return {"value": float(np.mean(x)), "ci_low": lo, "ci_high": hi, "n": n, "method": method,
            "note": join_notes(*notes)}


def paired_log_ratio(numerator, denominator, *, labels=None, cap=None, confidence: float) -> dict:
    """Seed-paired ratio num_i / den_i summarised on the log scale: geometric-mean ratio
    exp(mean d), d_i = log(num_i / den_i), with its t-interval (df = n - 1), the paired t-test
    (one-sample t of d against 0) and the exact Wilcoxon signed-rank test of d.

    Pairs are matched by position (labels: ``labels``, else the numerator's Series index, else
    0..n-1). A censored run (None/NaN, "never reached by ``cap``") enters at the cap: numerator
    censored -> the true ratio is at least cap / den_i (``bound`` ">="); denominator censored ->
    at most num_i / cap ("<="); both censored -> the ratio is unknown and the pair is left out
    (``dropped``). The overall ``bound`` is "lower" (every censored pair ">=": the true
    geometric-mean ratio is at least ``geometric_mean``), "upper", "mixed" or None.
    """
    confidence = _check_confidence(confidence)
    if labels is None and isinstance(numerator, pd.Series):
        labels = list(numerator.index)
    num, cap = _capped(numerator, "numerator", labels, cap, positive=True)
    den, _ = _capped(denominator, "denominator", None, cap, positive=True)
    if num.n_total != den.n_total:
        raise ValueError(f"numerator and denominator must have the same length (one value per seed, "
                         f"matched by position), got {num.n_total} and {den.n_total}")
    pair_labels = list(labels) if labels is not None else list(range(num.n_total))

    pairs, dropped = [], []
    for label, a, b in zip(pair_labels, num.full, den.full):
        if math.isnan(a) and math.isnan(b):
            dropped.append(label)
            continue
        bound = ">=" if math.isnan(a) else "<=" if math.isnan(b) else None
        a, b = (cap if math.isnan(a) else float(a)), (cap if math.isnan(b) else float(b))
        pairs.append({"label": label, "numerator": a, "denominator": b, "ratio": a / b, "bound": bound})

    d = np.log([p["ratio"] for p in pairs])
    n = len(d)
    nan = math.nan
    geometric_mean = float(np.exp(np.mean(d))) if n else nan
    lo = hi = t = df = p = p_wilcoxon = nan
    notes = []
    lower = [p["label"] for p in pairs if p["bound"] == ">="]
    upper = [p["label"] for p in pairs if p["bound"] == "<="]
    if lower:
        notes.append(f"the numerator never reached it by the cap {cap:,.0f} for {', '.join(map(str, lower))}: "
                     "entered at the cap, so those ratios are lower bounds")
    if upper:
        notes.append(f"the denominator never reached it by the cap {cap:,.0f} for {', '.join(map(str, upper))}: "
                     "entered at the cap, so those ratios are upper bounds")
    if dropped:
        notes.append(f"neither side reached it for {', '.join(map(str, dropped))}: ratio unknown, left out")
    bound = ("mixed" if lower and upper else "lower" if lower else "upper" if upper else None)
    if bound in ("lower", "upper"):
        notes.append(f"the geometric-mean ratio is an {bound} bound".replace("an lower", "a lower"))
    elif bound == "mixed":
        notes.append("censored pairs bound the ratio in both directions: the bias has no known sign")

    if n < 2:
        notes.append(f"{n} usable pair(s): CI, t-test and Wilcoxon test undefined")
    else:
        df = n - 1
        if np.ptp(d) == 0:
            lo = hi = geometric_mean
            notes.append("all log ratios equal: t undefined, zero-width interval")
        else:
            res = stats.ttest_1samp(d, 0.0)
            t, p = float(res.statistic), float(res.pvalue)
            ci = res.confidence_interval(confidence)
            lo, hi = float(np.exp(ci.low)), float(np.exp(ci.high))
        if np.all(d == 0):
            notes.append("every ratio is 1: Wilcoxon test undefined")
        else:
            p_wilcoxon = float(quietly(stats.wilcoxon, d, method="exact").pvalue)
    return {"n_pairs": n, "pairs": pairs, "dropped": dropped, "geometric_mean": geometric_mean,
            "ci_low": lo, "ci_high": hi, "t": t, "df": df, "p": p, "p_wilcoxon": p_wilcoxon,
            "bound": bound, "note": join_notes(*notes)}
