"""Tests for grokpaper.analysis.stats: values checked against scipy and against hand computation."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as ss

from grokpaper.analysis import stats as S

A = [5545.0, 6292.0, 4810.0, 7030.0, 5900.0]
B = [26442.0, 21000.0, 18350.0, 30000.0, 24100.0]
C3 = [9000.0, 8000.0, 12500.0, 9900.0, 10100.0]


def test_holm_known_example():
    assert S.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert S.holm([0.5]) == pytest.approx([0.5])
    assert S.holm([0.2, 0.6, 0.01, 0.02]) == pytest.approx([0.4, 0.6, 0.04, 0.06])
    out = S.holm([0.01, np.nan, 0.04])          # NaN is out of the family (m = 2)
    assert out[0] == pytest.approx(0.02) and np.isnan(out[1]) and out[2] == pytest.approx(0.04)
    assert S.holm([0.4, 0.5, 0.9]).max() <= 1


def test_describe_matches_scipy():
    s = S.describe(A, name="grokked", n_boot=2000, confidence=0.95)
    x = np.array(A)
    assert s.n == s.n_total == s.n_reached == 5 and s.censored == ()
    assert s.mean == pytest.approx(x.mean())
    assert s.sd == pytest.approx(x.std(ddof=1))
    assert s.sem == pytest.approx(ss.sem(x))
    lo, hi = ss.t.interval(0.95, 4, loc=x.mean(), scale=ss.sem(x))
    assert (s.ci_low, s.ci_high) == pytest.approx((lo, hi)) and s.df == 4
    boot = ss.bootstrap((x,), np.mean, n_resamples=2000, method="percentile",
                        rng=np.random.default_rng(0))
    assert (s.boot_low, s.boot_high) == pytest.approx(
        (boot.confidence_interval.low, boot.confidence_interval.high))
    assert s.cv == pytest.approx(x.std(ddof=1) / x.mean())
    assert (s.median, s.min, s.max) == (5900.0, 4810.0, 7030.0)
    assert s.note == ""
    # hand computed: [1, 2, 3] -> mean 2, sd 1, t-CI 2 +- t(0.975, 2) / sqrt 3
    h = S.describe([1, 2, 3], n_boot=100, confidence=0.95)
    assert (h.mean, h.sd) == (2.0, 1.0)
    assert h.ci_high - 2 == pytest.approx(4.302652729911275 / math.sqrt(3))


def test_describe_small_and_censored():
    one = S.describe([3.0], confidence=0.95, n_boot=1000)
    assert one.n == 1 and one.mean == 3.0 and math.isnan(one.sd) and math.isnan(one.ci_low)
    assert "n < 2" in one.note
    cen = S.describe([10.0, None, 30.0, float("nan")], labels=[42, 7, 99, 314], confidence=0.95, n_boot=1000)
    assert cen.n_total == 4 and cen.n_reached == 2 and cen.censored == (7, 314)
    assert cen.mean == 20.0 and "2 of 4 censored" in cen.note and "reached values only" in cen.note
    none = S.describe([None, None], confidence=0.95, n_boot=1000)
    assert none.n == 0 and math.isnan(none.mean) and none.censored == (0, 1)
    series = S.describe(pd.Series([1.0, None, 3.0], index=[42, 7, 99], dtype=object), confidence=0.95, n_boot=1000)
    assert series.censored == (7,)
    same = S.describe([2.0, 2.0, 2.0], confidence=0.95, n_boot=1000)
    assert same.sd == 0 and same.ci_low == same.ci_high == 2.0
    assert S.describe([1.0, 2.0], confidence=0.95, n_boot=1000).as_dict()["n"] == 2


def test_compare_groups_unpaired_against_scipy():
    t = S.compare_groups({"grokked": A, "memorized": B, "random": C3})
    assert list(zip(t.group_a, t.group_b)) == [("grokked", "memorized"), ("grokked", "random"),
                                                ("memorized", "random")]
    for row in t.itertuples():
        a, b = {"grokked": A, "memorized": B, "random": C3}[row.group_a], \
            {"grokked": A, "memorized": B, "random": C3}[row.group_b]
        w = ss.ttest_ind(a, b, equal_var=False)
        assert (row.t, row.p_t) == pytest.approx((w.statistic, w.pvalue))
        # Welch-Satterthwaite df by hand
        va, vb = np.var(a, ddof=1) / 5, np.var(b, ddof=1) / 5
        assert row.df == pytest.approx((va + vb) ** 2 / (va ** 2 / 4 + vb ** 2 / 4))
        u = ss.mannwhitneyu(a, b, alternative="two-sided")
        assert (row.rank_stat, row.p_rank) == pytest.approx((u.statistic, u.pvalue))
        assert row.n_a == row.n_b == 5
    assert t["p_t_holm"].to_numpy() == pytest.approx(S.holm(t["p_t"]))
    assert t["p_rank_holm"].to_numpy() == pytest.approx(S.holm(t["p_rank"]))
    assert set(t["effect_size_kind"]) == {"Hedges g"}


def test_hedges_g_by_hand():
    a, b = [1.0, 2.0, 3.0], [3.0, 4.0, 5.0]    # d = -2 (pooled sd 1), df = 4
    j = math.gamma(2) / (math.sqrt(2) * math.gamma(1.5))
    assert S.hedges_g(a, b) == pytest.approx(-2 * j)
    assert j == pytest.approx(1 - 3 / (4 * 4 - 1), abs=0.01)   # the usual approximation
    assert math.isnan(S.hedges_g([1.0], [2.0, 3.0]))


def test_compare_groups_censored_and_paired():
    t = S.compare_groups({"a": [1.0, 2.0, 3.0, 4.0], "b": [2.0, None, 5.0, 7.0]})
    row = t.iloc[0]
    assert (row.n_a, row.n_b) == (4, 3) and row.censored_b == [1] and "censored" in row.note
    p = S.compare_groups({"a": [1.0, 2.0, 3.0, 4.0], "b": [2.0, None, 5.0, 7.0]}, paired=True).iloc[0]
    r = ss.ttest_rel([1.0, 3.0, 4.0], [2.0, 5.0, 7.0])
    assert (p.n_a, p.n_b, p.df) == (3, 3, 2) and p.t == pytest.approx(r.statistic)
    assert p.rank_test == "Wilcoxon signed-rank"
    assert "pair(s) with a censored side" in p.note
    with pytest.raises(ValueError, match="equal length"):
        S.compare_groups({"a": [1.0, 2.0], "b": [1.0, 2.0, 3.0]}, paired=True)
    tiny = S.compare_groups({"a": [1.0], "b": [2.0, 3.0]}).iloc[0]
    assert math.isnan(tiny.t) and "n < 2" in tiny.note


def test_shapiro_spearman_one_sample():
    sh = S.shapiro(A)
    ref = ss.shapiro(A)
    assert (sh["W"], sh["p"], sh["n"]) == pytest.approx((ref.statistic, ref.pvalue, 5))
    small = S.shapiro([1.0, 2.0])
    assert math.isnan(small["W"]) and "n < 3" in small["note"]
    x, y = A + B + C3, list(range(15))
    sp = S.spearman(x, y)
    r = ss.spearmanr(x, y)
    assert (sp["rho"], sp["p"], sp["n"], sp["df"]) == pytest.approx((r.statistic, r.pvalue, 15, 13))
    sp2 = S.spearman([1.0, 2.0, None, 4.0, 5.0], [2.0, 1.0, 3.0, 5.0, 4.0])
    assert sp2["n"] == 4 and sp2["censored"] == [2]
    o = S.one_sample([0.010, 0.011, 0.009, 0.012], 0.0094, confidence=0.95)
    r = ss.ttest_1samp([0.010, 0.011, 0.009, 0.012], 0.0094)
    assert (o["t"], o["df"], o["p"], o["n"]) == pytest.approx((r.statistic, 3, r.pvalue, 4))
    with pytest.raises(ValueError, match="cannot be censored"):
        S.one_sample([0.01, float("nan")], 0.0094, confidence=0.95)


def test_zscore_outliers():
    vals = [1.0, 1.1, 0.9, 1.0, 1.05, 0.95, 1.0, 1.02, 0.98, 5.0]
    z = S.zscore_outliers(vals, labels=list("abcdefghij"))
    assert z["z"].to_numpy() == pytest.approx(ss.zscore(vals, ddof=1))
    assert z.loc[z.outlier, "label"].tolist() == ["j"] and (z["n"] == 10).all()
    five = S.zscore_outliers([1.0, 2.0, 3.0, 4.0, 100.0])
    assert not five["outlier"].any() and "no value can be flagged" in five.attrs["note"]


@pytest.mark.parametrize("call, match", [
    (lambda: S.describe([], confidence=0.95, n_boot=1000), "'values' is empty"),
    (lambda: S.compare_groups({"a": [1.0, 2.0], "b": []}), "group 'b' is empty"),
    (lambda: S.compare_groups([("a", [1.0, 2.0]), ("a", [3.0, 4.0])]), "'a' appears more than once"),
    (lambda: S.compare_groups({"a": [1.0, "x"], "b": [1.0, 2.0]}), "group 'a' has a non-numeric"),
    (lambda: S.compare_groups({"a": [1.0, 2.0], "b": [1.0, np.nan]}, allow_censored=False),
     "group 'b' has a missing value"),
    (lambda: S.describe([1.0, float("inf")], name="g", confidence=0.95, n_boot=1000), "group 'g' has an infinite"),
    (lambda: S.compare_groups({"a": [1.0, 2.0]}), "at least two groups"),
    (lambda: S.spearman([1.0, 2.0], [1.0]), "same length"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_summary_table_and_groups_from_frame():
    runs = pd.DataFrame({"condition": ["g", "g", "g", "r", "r", "r"], "seed": [42, 7, 99] * 2,
                         "epochs": [100.0, np.nan, 300.0, 400.0, 500.0, 700.0]})
    groups = S.groups_from_frame(runs, "condition", "epochs", label="seed")
    table = S.summary_table(groups, n_boot=200, confidence=0.95)
    assert table["name"].tolist() == ["g", "r"]
    assert table.loc[0, "censored"] == [7] and table.loc[0, "n"] == 2 and table.loc[1, "n"] == 3
    assert {"n", "df", "mean", "ci_low", "ci_high", "note"} <= set(table.columns)


def test_is_missing_covers_every_no_result_value():
    # None, NaN of Python and of NumPy (float64 and float32) and pandas' NA are "no result";
    # zero, a string and a finite NumPy number are results.
    for value in (None, math.nan, np.float64("nan"), np.float32("nan"), pd.NA):
        assert S.is_missing(value), value
    for value in (0, 0.0, np.float32(1.5), np.int64(3), "12", math.inf):
        assert not S.is_missing(value), value
