"""Tests for grokpaper.analysis.curves: thresholds, exact epochs, dynamics and bad input."""

import numpy as np
import pandas as pd
import pytest

from grokpaper.analysis import curves as C


def make_curve(test_acc, every=10):
    n = len(test_acc)
    return pd.DataFrame({"epoch": np.arange(n) * every, "train_loss": np.linspace(5, 0.1, n),
                         "train_acc": np.ones(n), "test_loss": np.linspace(5, 0.1, n),
                         "test_acc": np.asarray(test_acc, dtype=float)})


CURVE = make_curve([0.0, 0.3, 0.92, 0.85, 0.995, 1.0, 0.9, 0.999, 1.0, 1.0])


def test_first_reached_and_sustained():
    assert C.epochs_to_threshold(CURVE, 0.9) == 20
    assert C.epochs_to_threshold(CURVE, 0.9, sustained=True) == 40
    assert C.epochs_to_threshold(CURVE, 0.99) == 40
    assert C.epochs_to_threshold(CURVE, 0.99, sustained=True) == 70
    assert C.epochs_to_threshold(CURVE, 1.0) == 50
    assert C.epochs_to_threshold(CURVE, 1.0, sustained=True) == 80
    assert C.epochs_to_threshold(make_curve([0.1, 0.5]), 0.9) is None
    # below at the last row: never sustained, though reached before
    assert C.epochs_to_threshold(make_curve([0.1, 0.95, 0.8]), 0.9, sustained=True) is None
    assert C.epochs_to_threshold(make_curve([0.1, 0.95, 0.8]), 0.9) == 10
    # at/above from the first row: sustained from epoch 0
    assert C.epochs_to_threshold(make_curve([0.95, 0.99]), 0.9, sustained=True) == 0


def test_float32_accuracy_counts_as_reached():
    acc32 = float(np.float32(9) / np.float32(10))      # 0.89999998
    assert acc32 < 0.9
    assert C.epochs_to_threshold(make_curve([0.0, acc32]), 0.9) == 10
    n = 8939                                            # 0.999 -> at most 8 errors
    eight = float(np.float32((n - 8) / n))
    nine = float(np.float32((n - 9) / n))
    assert C.epochs_to_threshold(make_curve([0.0, nine, eight]), 0.999) == 20
    assert C.epochs_to_threshold(make_curve([0.0, nine, eight]), 0.999, n_examples=n) == 20
    assert C.epochs_to_threshold(make_curve([0.0, nine]), 0.999, n_examples=n) is None


def test_tolerance_never_admits_one_example_too_few():
    for n in (3830, 8939, 12769, 529, 370):
        for t in (0.5, 0.9, 0.95, 0.99, 0.999, 1.0):
            k_min = int(np.ceil(t * n - 1e-9))        # fewest correct that meet the threshold
            for k, expect in ((k_min, 0), (k_min - 1, None)):
                for acc in (k / n, float(np.float32(k) / np.float32(n))):
                    got = C.epochs_to_threshold(make_curve([acc]), t)
                    assert got == expect, (n, t, k, acc)


def test_value_at_epoch_and_final():
    assert C.value_at_epoch(CURVE, 20, "test_acc") == pytest.approx(0.92)
    assert C.final_value(CURVE, "test_acc") == 1.0
    with pytest.raises(ValueError, match="epoch 25 was not evaluated"):
        C.value_at_epoch(CURVE, 25, "test_acc")


def test_largest_jumps():
    j = C.largest_jumps(CURVE, k=3)
    assert j["epoch"].tolist() == [20, 10, 40]
    assert j.loc[0, "jump"] == pytest.approx(0.62)
    assert j.loc[0, "from_epoch"] == 10
    assert (j["jump"] > 0).all()
    assert len(C.largest_jumps(make_curve([0.5, 0.4]), k=3)) == 0


def test_largest_jumps_exact_order():
    j = C.largest_jumps(make_curve([0.0, 0.1, 0.6, 0.5, 0.8]), k=2)
    assert j["epoch"].tolist() == [20, 40]
    assert j["jump"].tolist() == pytest.approx([0.5, 0.3])


def test_collapses():
    c = C.collapses(CURVE, drop=0.05, after_reaching=0.99)
    assert len(c) == 1
    row = c.iloc[0]
    assert row["start_epoch"] == 60 and row["peak"] == 1.0 and row["min_value"] == pytest.approx(0.9)
    assert row["drop"] == pytest.approx(0.1) and row["recovery_epoch"] == 70
    assert row["epochs_to_recover"] == 10
    # the pre-99 % dip (0.92 -> 0.85) is not a collapse; a drop that never recovers is kept
    c2 = C.collapses(make_curve([0.5, 0.995, 0.97, 0.6, 0.7]), drop=0.1)
    assert len(c2) == 1 and c2.iloc[0]["start_epoch"] == 30 and c2.iloc[0]["recovery_epoch"] is None
    assert c2.iloc[0]["min_value"] == pytest.approx(0.6)
    assert len(C.collapses(make_curve([0.5, 0.8]))) == 0
    two = C.collapses(make_curve([1.0, 0.5, 1.0, 0.4, 0.999]), drop=0.1)
    assert two["start_epoch"].tolist() == [10, 30] and two["recovery_epoch"].tolist() == [20, 40]


def test_early_late_gains():
    g = C.early_late_gains(CURVE, early_epochs=20, late_epochs=30)
    assert (g["early_from"], g["early_to"]) == (0, 20)
    assert g["early_gain"] == pytest.approx(0.92)
    assert (g["late_from"], g["late_to"]) == (60, 90)
    assert g["late_gain"] == pytest.approx(0.1)
    g = C.early_late_gains(CURVE, early_epochs=25, late_epochs=1000)   # clipped windows
    assert g["early_to"] == 20 and g["late_from"] == 0


@pytest.mark.parametrize("bad, match", [
    (CURVE.drop(columns="test_acc"), "missing column"),
    (CURVE.iloc[:0], "empty"),
    (CURVE.iloc[::-1], "strictly increasing"),
    ("not a frame", "DataFrame"),
])
def test_bad_curve(bad, match):
    with pytest.raises(ValueError, match=match):
        C.epochs_to_threshold(bad, 0.9)


@pytest.mark.parametrize("t", [0, -0.1, 1.5, 99.9, True, "0.9"])
def test_bad_threshold(t):
    with pytest.raises(ValueError, match="threshold"):
        C.epochs_to_threshold(CURVE, t)


def test_nan_metric_rejected():
    with pytest.raises(ValueError, match="NaN at epoch"):
        C.epochs_to_threshold(make_curve([0.1, np.nan]), 0.9)
