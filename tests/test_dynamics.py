"""Learning-dynamics rows (grokpaper.paper.dynamics) and multi-seed helpers (grokpaper.paper.multiseed)."""

import math
from types import SimpleNamespace

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
    s = dynamics.condition_summary(t, ["random"], 0.999, 0.95, n_boot=100)["random"]
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


def test_spearman_over_runs_with_censored_at_cap():
    x = [0.9, 0.5, 0.1, 0.0]
    y = [100, 200, 300, None]
    left_out = multiseed.run_correlation(x, y, confidence=0.95)
    assert left_out["n"] == 3 and left_out["censored"] == [3]
    at_cap = multiseed.run_correlation(x, y, cap=1000, confidence=0.95)
    assert at_cap["n"] == 4 and at_cap["rho"] == pytest.approx(-1.0)

