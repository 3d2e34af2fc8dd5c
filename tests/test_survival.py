"""Tests for censored, skewed, seed-paired epoch counts: grokpaper.analysis.survival and the log-scale
additions to grokpaper.analysis.stats. Expected numbers are computed by hand in each test."""

import math

import numpy as np
import pytest
from scipy import stats as ss

from grokpaper.analysis import stats as S
from grokpaper.analysis import survival as V

CAP = 30_000
WITH_ONE_CENSORED = [21810, 17170, 17800, None, 22450]   # seed 3 never reached by the cap
SKEWED = [1980, 380, 550, 420, 500]                      # one slow run among fast ones


def _loglog_band(s: float, greenwood: float, confidence: float = 0.95) -> tuple[float, float]:
    """Pointwise log-log CI of S by hand: S ** exp(+-z sqrt(V) / |log S|), V = Greenwood's sum."""
    z = ss.norm.ppf((1 + confidence) / 2)
    se = math.sqrt(greenwood) / abs(math.log(s))
    return s ** math.exp(z * se), s ** math.exp(-z * se)


# ----------------------------------------------------------------------------- Kaplan-Meier

def test_kaplan_meier_all_reached_steps_by_one_over_n():
    table = V.kaplan_meier([3, 1, 2, 4, 5], confidence=0.95)
    assert list(table["epoch"]) == [0, 1, 2, 3, 4, 5]
    assert list(table["not_reached"]) == pytest.approx([1, 0.8, 0.6, 0.4, 0.2, 0.0])
    assert list(table["at_risk"]) == [5, 5, 4, 3, 2, 1]
    assert list(table["reached"]) == [0, 1, 1, 1, 1, 1] and table["censored"].sum() == 0
    # Greenwood at t = 1: 1 / (5 * 4); the band is pinned to S where S = 1 or 0
    assert (table.loc[1, "ci_low"], table.loc[1, "ci_high"]) == pytest.approx(_loglog_band(0.8, 1 / 20))
    assert (table.loc[0, "ci_low"], table.loc[0, "ci_high"]) == (1.0, 1.0)
    assert (table.loc[5, "ci_low"], table.loc[5, "ci_high"]) == (0.0, 0.0)
    assert table.attrs["n"] == 5 and table.attrs["n_censored"] == 0


def test_kaplan_meier_ties_and_censoring_at_the_cap_by_hand():
    # 6 runs: two reach at 5, one at 8, one at 12, two never by the cap 20
    table = V.kaplan_meier([5, 5, 8, None, None, 12], labels=[1, 2, 3, 4, 5, 6], cap=20, confidence=0.95)
    assert list(table["epoch"]) == [0, 5, 8, 12, 20]
    assert list(table["at_risk"]) == [6, 6, 4, 3, 2]
    assert list(table["reached"]) == [0, 2, 1, 1, 0]
    assert list(table["censored"]) == [0, 0, 0, 0, 2]
    s5, s8, s12 = 4 / 6, 4 / 6 * 3 / 4, 4 / 6 * 3 / 4 * 2 / 3
    assert list(table["not_reached"]) == pytest.approx([1, s5, s8, s12, s12])
    greenwood_8 = 2 / (6 * 4) + 1 / (4 * 3)
    assert (table.loc[2, "ci_low"], table.loc[2, "ci_high"]) == pytest.approx(_loglog_band(s8, greenwood_8))
    assert table.attrs["censored"] == [4, 5] and table.attrs["cap"] == 20


def test_kaplan_meier_reached_exactly_at_cap_counts_before_censoring():
    # at epoch 20 one run reaches and two are censored: the event is taken first (S = 3/4 * 2/3)
    table = V.kaplan_meier([5, 20, None, None], cap=20, confidence=0.95)
    last = table.iloc[-1]
    assert (last["epoch"], last["at_risk"], last["reached"], last["censored"]) == (20, 3, 1, 2)
    assert last["not_reached"] == pytest.approx(0.75 * 2 / 3)


def test_km_median_with_brookmeyer_crowley_interval():
    out = V.km_median([3, 1, 2, 4, 5], confidence=0.95)
    # S = 0.4 <= 0.5 first at 3; lower band <= 0.5 first at 1 (0.20); upper band at 5 (pinned 0)
    assert out["median"] == 3 and out["ci_low"] == 1 and out["ci_high"] == 5
    assert _loglog_band(0.8, 1 / 20)[0] <= 0.5
    assert (out["n"], out["n_censored"], out["cap"]) == (5, 0, None)


def test_km_median_open_upper_end_beyond_cap():
    out = V.km_median(WITH_ONE_CENSORED, cap=CAP, confidence=0.95)
    assert out["median"] == 21810 and out["ci_low"] == 17170
    # the upper band at the last event (S = 0.2, Greenwood 1/20 + 1/12 + 1/6 + 1/2) stays above 0.5
    assert _loglog_band(0.2, 1 / 20 + 1 / 12 + 1 / 6 + 1 / 2)[1] > 0.5
    assert out["ci_high"] is None and "beyond the cap 30000" in out["note"]


def test_km_median_none_when_more_than_half_censored():
    out = V.km_median([21810, None, None, None, 22450], cap=CAP, confidence=0.95)
    assert out["median"] is None and out["ci_high"] is None
    assert out["n"] == 5 and out["n_censored"] == 3
    assert "more than half the runs never reached it by the cap 30000" in out["note"]


# ----------------------------------------------------------------------------- restricted mean

def test_restricted_mean_counts_censored_run_at_cap():
    out = V.restricted_mean(WITH_ONE_CENSORED, cap=CAP, confidence=0.95)
    assert out["value"] == pytest.approx((21810 + 17170 + 17800 + 30000 + 22450) / 5) == 21846
    assert out["is_lower_bound"] is True and out["n"] == 5 and out["n_censored"] == 1
    assert out["cap"] == CAP and "Cox" in out["method"]
    assert 0 < out["ci_low"] < out["value"] < out["ci_high"]


def test_restricted_mean_equals_area_under_kaplan_meier():
    table = V.kaplan_meier(WITH_ONE_CENSORED, cap=CAP, confidence=0.95)
    widths = np.diff(np.append(table["epoch"].to_numpy(), CAP))
    area = float(np.sum(widths * table["not_reached"].to_numpy()))
    assert area == pytest.approx(V.restricted_mean(WITH_ONE_CENSORED, cap=CAP, confidence=0.95)["value"])


def test_restricted_mean_t_interval_when_not_skewed():
    x = np.array([21810, 17170, 17800, CAP, 22450], float)
    out = V.restricted_mean(WITH_ONE_CENSORED, cap=CAP, skewed=False, confidence=0.95)
    half = ss.t.ppf(0.975, 4) * x.std(ddof=1) / math.sqrt(5)
    assert (out["ci_low"], out["ci_high"]) == pytest.approx((x.mean() - half, x.mean() + half))
    assert V.restricted_mean([100, 200, 300], cap=CAP, confidence=0.95)["is_lower_bound"] is False


# ----------------------------------------------------------------------------- log-scale summaries

def test_lognormal_cox_interval_positive_and_contains_mean():
    out = S.lognormal_mean_ci(SKEWED, confidence=0.95)
    y = np.log(SKEWED)
    s2 = y.var(ddof=1)
    half = ss.t.ppf(0.975, 4) * math.sqrt(s2 / 5 + s2 ** 2 / (2 * 4))
    assert out["value"] == pytest.approx(766.0)
    assert (out["ci_low"], out["ci_high"]) == pytest.approx(
        (math.exp(y.mean() + s2 / 2 - half), math.exp(y.mean() + s2 / 2 + half)))
    assert 0 < out["ci_low"] < out["value"] < out["ci_high"] and out["n"] == 5
    # the symmetric t-interval of the same data reaches below 0 epochs
    sem = np.std(SKEWED, ddof=1) / math.sqrt(5)
    assert 766.0 - ss.t.ppf(0.975, 4) * sem < 0


def test_geometric_mean_ci_by_hand():
    y = np.log(SKEWED)
    half = ss.t.ppf(0.975, 4) * y.std(ddof=1) / math.sqrt(5)
    out = S.geometric_mean_ci(SKEWED, confidence=0.95)
    assert out["value"] == pytest.approx((1980 * 380 * 550 * 420 * 500) ** (1 / 5))
    assert (out["ci_low"], out["ci_high"]) == pytest.approx((math.exp(y.mean() - half), math.exp(y.mean() + half)))
    assert out["n"] == 5 and out["df"] == 4


def test_log_scale_small_and_constant_samples():
    one = S.geometric_mean_ci([400], confidence=0.95)
    assert one["value"] == pytest.approx(400) and math.isnan(one["ci_low"]) and "n < 2" in one["note"]
    assert math.isnan(S.lognormal_mean_ci([400], confidence=0.95)["ci_high"])
    same = S.lognormal_mean_ci([400, 400, 400], confidence=0.95)
    assert same["ci_low"] == pytest.approx(400) and same["ci_high"] == pytest.approx(400)


# ----------------------------------------------------------------------------- paired log ratios

def test_paired_log_ratio_no_censoring_matches_ttest_on_logs():
    num, den = [2000, 3300, 2400, 5000, 2600], [1000, 1100, 1200, 1250, 1300]
    out = S.paired_log_ratio(num, den, labels=[42, 7, 99, 314, 123], confidence=0.95)
    d = np.log(np.divide(num, den))
    ref = ss.ttest_1samp(d, 0.0)
    ci = ref.confidence_interval(0.95)
    assert out["geometric_mean"] == pytest.approx(math.exp(d.mean()))
    assert (out["ci_low"], out["ci_high"]) == pytest.approx((math.exp(ci.low), math.exp(ci.high)))
    assert (out["t"], out["df"], out["p"]) == pytest.approx((ref.statistic, 4, ref.pvalue))
    assert out["p_wilcoxon"] == pytest.approx(2 / 2 ** 5)   # all 5 ratios > 1: exact 2 * (1/2)^5
    assert out["bound"] is None and out["dropped"] == [] and out["n_pairs"] == 5
    assert [p["label"] for p in out["pairs"]] == [42, 7, 99, 314, 123]


def test_paired_log_ratio_numerator_censored_is_lower_bound():
    out = S.paired_log_ratio([None, 3300, 2400], [1000, 1100, 1200], cap=CAP, confidence=0.95)
    first = out["pairs"][0]
    assert (first["numerator"], first["ratio"], first["bound"]) == (CAP, 30.0, ">=")
    assert out["bound"] == "lower" and out["n_pairs"] == 3
    assert out["geometric_mean"] == pytest.approx((30 * 3 * 2) ** (1 / 3))
    assert "lower bound" in out["note"]
    upper = S.paired_log_ratio([1000, 3300, 2400], [None, 1100, 1200], cap=CAP, confidence=0.95)
    assert upper["bound"] == "upper" and upper["pairs"][0]["ratio"] == pytest.approx(1000 / CAP)


def test_paired_log_ratio_both_censored_pair_dropped_and_listed():
    out = S.paired_log_ratio([None, 3300, 2400, 2600], [None, 1100, 1200, 1300],
                             labels=["s42", "s7", "s99", "s314"], cap=CAP, confidence=0.95)
    assert out["dropped"] == ["s42"] and out["n_pairs"] == 3 and out["bound"] is None
    assert out["geometric_mean"] == pytest.approx((3 * 2 * 2) ** (1 / 3))
    assert "s42" in out["note"]


def test_paired_log_ratio_degenerate_cases():
    constant = S.paired_log_ratio([200, 400, 600], [100, 200, 300], confidence=0.95)
    assert math.isnan(constant["t"]) and math.isnan(constant["p"])
    assert constant["ci_low"] == constant["ci_high"] == pytest.approx(2.0)
    single = S.paired_log_ratio([None, 200], [None, 100], cap=CAP, confidence=0.95)
    assert single["n_pairs"] == 1 and math.isnan(single["ci_low"]) and math.isnan(single["p"])


# ----------------------------------------------------------------------------- log-rank

def test_logrank_matches_hand_computation_with_censoring():
    # a = [1, censored at 10], b = [2, 4]: O_a = 1; E_a = 1/2 + 1/3 + 1/2; V = 1/4 + 2/9 + 1/4
    out = V.logrank_test({"a": [1, None], "b": [2, 4]}, cap=10)
    z = (1 - (1 / 2 + 1 / 3 + 1 / 2)) / math.sqrt(1 / 4 + 2 / 9 + 1 / 4)
    assert out["statistic"] == pytest.approx(z)
    assert out["p"] == pytest.approx(2 * ss.norm.sf(abs(z)))
    assert (out["n_a"], out["n_b"]) == (2, 2)


def test_logrank_separated_groups_give_smaller_p():
    fast = [5000, 5200, 5400, 5600, 5800]
    slow = [20000, 22000, 25000, None, None]
    overlapping = [5100, 5300, 5500, 5700, 5900]
    separated = V.logrank_test({"grokked": fast, "random": slow}, cap=CAP)
    close = V.logrank_test({"grokked": fast, "memorized": overlapping}, cap=CAP)
    for out in (separated, close):
        assert 0 <= out["p"] <= 1
    assert separated["p"] < close["p"] and separated["statistic"] > 0


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("call, field", [
    (lambda: V.kaplan_meier([100, -5], cap=CAP, confidence=0.95), "values"),
    (lambda: V.kaplan_meier([100, 40_000], cap=CAP, confidence=0.95), "cap"),
    (lambda: V.kaplan_meier([100, None], confidence=0.95), "cap"),
    (lambda: V.kaplan_meier([100, 200], cap=-1, confidence=0.95), "cap"),
    (lambda: V.km_median([100, None, 200], confidence=0.95), "cap"),
    (lambda: V.km_median([100, 200], confidence=1.5), "confidence"),
    (lambda: V.restricted_mean([100, 31_000], cap=CAP, confidence=0.95), "cap"),
    (lambda: V.restricted_mean([100, 200], cap=None, confidence=0.95), "cap"),
    (lambda: V.restricted_mean([100, -200], cap=CAP, confidence=0.95), "values"),
    (lambda: V.logrank_test({"a": [1, 2], "b": [3, None]}, cap=None), "cap"),
    (lambda: V.logrank_test({"a": [1, 2]}, cap=CAP), "groups"),
    (lambda: S.geometric_mean_ci([100, 0], confidence=0.95), "values"),
    (lambda: S.lognormal_mean_ci([100, -3], confidence=0.95), "values"),
    (lambda: S.lognormal_mean_ci([100, 200], confidence=0), "confidence"),
    (lambda: S.paired_log_ratio([1, 2, 3], [1, 2], confidence=0.95), "same length"),
    (lambda: S.paired_log_ratio([1, None], [1, 2], confidence=0.95), "cap"),
    (lambda: S.paired_log_ratio([1, -2], [1, 2], cap=CAP, confidence=0.95), "numerator"),
    (lambda: S.paired_log_ratio([1, 2], [1, 40_000], cap=CAP, confidence=0.95), "cap"),
])
def test_bad_input_raises_value_error_naming_the_field(call, field):
    with pytest.raises(ValueError, match=field):
        call()
