"""Learning-dynamics rows (grokpaper.paper.dynamics) and multi-seed helpers (grokpaper.paper.multiseed)."""

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from grokpaper.paper import dynamics, multiseed


def curve(acc):
    return pd.DataFrame({"epoch": [10 * i for i in range(len(acc))], "test_acc": acc})


def test_run_dynamics_jump_collapse_gains():
    c = curve([0.0, 0.1, 0.2, 0.9, 0.999, 0.9, 0.999, 1.0])
    d = dynamics.run_dynamics(c, early_epochs=20, late_epochs=20, collapse_drop=0.05, threshold=0.999)
    assert d["largest jump"] == pytest.approx(0.7) and d["largest jump at"] == 30
    assert d["first 99.9% at"] == 40 and d["jump into 99.9%"] == pytest.approx(0.099)
    assert d["collapses"] == 1 and d["largest collapse"] == pytest.approx(0.099) and d["unrecovered collapses"] == 0
    assert d["early gain"] == pytest.approx(0.2) and d["late gain"] == pytest.approx(0.1)


def test_never_reached_is_none_and_summary_counts_it():
    runs = [SimpleNamespace(seed=s, condition="random", curve=curve([0.0, 0.1 * s, 0.2])) for s in (1, 2, 3)]
    t = dynamics.dynamics_table(runs, early_epochs=10, late_epochs=10, collapse_drop=0.05, threshold=0.999)
    assert t["jump into 99.9%"].isna().all()
    s = dynamics.condition_summary(t, ["random"], 0.999, n_boot=100)["random"]
    assert s.jump_into_threshold.n_reached == 0 and s.jump_into_threshold.n_total == 3
    assert s.runs_with_a_collapse == 0
    frame = dynamics.summary_frame({"random": s}, 0.999)
    assert list(frame["quantity"]) == [*dynamics.SUMMARISED, "jump into 99.9%"]


def test_max_abs_z_bound_and_outliers():
    assert multiseed.max_abs_z(5) == pytest.approx(4 / math.sqrt(5))
    assert multiseed.max_abs_z(5) < 2 < multiseed.max_abs_z(15)
    g = {"m": {"a": pd.Series([1.0, 2, 3, 4, 100], index=range(5), dtype=object)}}
    out = multiseed.outliers(g, threshold=2.0)
    row = out[out["scope"] == "a"].iloc[0]
    assert not row["can flag"] and row["flagged"] == [] and row["max |z|"] == pytest.approx(multiseed.max_abs_z(5), rel=1e-3)


def test_ratio_of_means_and_censoring():
    r = multiseed.ratio_of_means([10.0, 12, 14], [2.0, 3, 4], n_boot=200)
    assert r["value"] == pytest.approx(4.0) and r["ci_low"] <= 4.0 <= r["ci_high"]
    assert r["boot_low"] <= 4.0 <= r["boot_high"]
    # Fieller's ends solve (A - r B)^2 = t^2 (va + r^2 vb) at the Welch-Satterthwaite df.
    from scipy import stats as sps
    t = sps.t.ppf(0.975, r["df"])
    for end in (r["ci_low"], r["ci_high"]):
        assert (12 - end * 3) ** 2 == pytest.approx(t ** 2 * (4 / 3 + end ** 2 / 3))
    # ... wider than the percentile bootstrap, which is too narrow for three seeds.
    assert r["ci_high"] - r["ci_low"] > r["boot_high"] - r["boot_low"]
    # A denominator mean within noise of 0: the set of plausible ratios is unbounded.
    wide = multiseed.ratio_of_means([21810.0, 17170.0], [1980.0, 480.0], n_boot=200)
    assert math.isnan(wide["ci_low"]) and wide["ci_unbounded"] and wide["note"] == multiseed.UNBOUNDED
    assert wide["value"] == pytest.approx(15.8455, rel=1e-4) and not r["ci_unbounded"]
    assert math.isnan(multiseed.ratio_of_means([10.0, None], [2.0, 3.0])["value"])


def test_a_censored_numerator_gives_a_lower_bound_at_the_cap():
    r = multiseed.ratio_of_means([None, 20000.0], [1000.0, 3000.0], n_boot=100, cap=30000)
    assert math.isnan(r["value"]) and r["lower_bound"] == pytest.approx(25000 / 2000)
    assert r["n_censored_numerator"] == 1
    # A censored denominator would bound the ratio from above, not below: no bound then.
    assert math.isnan(multiseed.ratio_of_means([1.0, 2.0], [None, 3.0], cap=30000)["lower_bound"])
    assert math.isnan(multiseed.ratio_of_means([None, 2.0], [1.0, 3.0])["lower_bound"])   # no cap given


def test_spearman_over_runs_with_censored_at_cap():
    x = [0.9, 0.5, 0.1, 0.0]
    y = [100, 200, 300, None]
    left_out = multiseed.run_correlation(x, y)
    assert left_out["n"] == 3 and left_out["censored"] == [3]
    at_cap = multiseed.run_correlation(x, y, cap=1000)
    assert at_cap["n"] == 4 and at_cap["rho"] == pytest.approx(-1.0)


def test_pairwise_display_selects_and_orders_metrics():
    groups = {c: pd.Series([1.0, 2.0, 3.0 + k], index=[1, 2, 3]) for k, c in enumerate(("grokked", "memorized", "random"))}
    tests = multiseed.pairwise({"a": groups, "b": groups, "c": groups})
    key = multiseed.pairwise_display(tests, ["c", "a"])
    assert list(key["metric"]) == ["c"] * 3 + ["a"] * 3
    assert list(key.columns[:4]) == ["metric", "pair", "n a", "n b"] and key["pair"].iloc[0] == "grokked vs memorized"
    assert len(multiseed.pairwise_display(tests)) == 9


def test_fieller_interval_covers_the_true_ratio_about_95_percent_of_the_time():
    # Five seeds per group, unequal spreads (as the random-init runs spread more): seeded, so exact.
    rng = np.random.default_rng(0)
    draws = [multiseed.fieller_interval(rng.normal(20000, 3000, 5), rng.normal(5000, 800, 5)) for _ in range(2000)]
    covered = [low <= 4.0 <= high for low, high, _, note in draws if not note]
    assert len(covered) == 2000 and 0.93 <= np.mean(covered) <= 0.97
