"""Chapter 11's logic (grokpaper.paper.relearning) on synthetic curves with known answers: epochs
to each threshold, the paired comparisons with runs censored at their own caps, one test per
question, the readout correlation, and the figure at the paper's shape."""

import math
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from grokpaper.paper import plots, relearning  # noqa: E402
from grokpaper.paper.contract import FIRST, FIRST_LEARNING, epochs_column, relearning_test_id  # noqa: E402

CONDITIONS = ("grokked", "memorized", "memorized-fixed", "random")
SEEDS = (42, 7, 99, 314, 123)
THRESHOLDS = (0.9, 0.95, 0.99, 0.999)
CAP, SOURCE_CAP = 1000, 50_000


def curve(reach: int | None, end: int, start: float = 0.02) -> pd.DataFrame:
    """Test accuracy from ``start`` to 1.0 at epoch ``reach`` (None: stays at 0.5), every 10 epochs."""
    epochs = np.arange(0, end + 10, 10)
    acc = np.full(len(epochs), 0.5) if reach is None else np.where(epochs >= reach, 1.0, np.linspace(start, 0.8, len(epochs)))
    acc[0] = start
    return pd.DataFrame({"epoch": epochs, "train_loss": 1.0, "train_acc": 1.0, "test_loss": 1.0, "test_acc": acc})


def relearn_run(condition, seed, reach, readout=0.3):
    end = CAP if reach is None else reach + 50
    return SimpleNamespace(seed=seed, condition=condition, curve=curve(reach, end),
                           probes=pd.DataFrame({"epoch": [0, 10], "readout_r2_refit_post": [readout, 0.9]}),
                           result={"stop_reason": "max_epochs" if reach is None else "held", "epochs_trained": end})


def source(reach):
    return SimpleNamespace(curve=curve(reach, reach + 100, start=0.0), result={"stop_reason": "held", "epochs_trained": reach + 100})


def study_table(reach=None, first=None):
    """Relearning epochs per condition and seed (grokked fastest), first learning 2,000-12,000 epochs."""
    reach = reach or {"grokked": [100, 120, 90, 200, 110], "memorized": [300, 400, 350, 500, 320],
                      "memorized-fixed": [310, 390, 360, 480, 330], "random": [400, 600, None, 700, 500]}
    first = first or [11_000, 5_700, 7_400, 8_400, 10_300]
    runs = [relearn_run(c, s, r, readout=0.5 if c == "grokked" else 0.1) for c in CONDITIONS for s, r in zip(SEEDS, reach[c])]
    sources = {s: source(f) for s, f in zip(SEEDS, first)}
    return relearning.relearning_table(runs, sources, THRESHOLDS), runs, sources


CAPS = {**dict.fromkeys(CONDITIONS, CAP), FIRST_LEARNING: SOURCE_CAP}


def test_the_table_has_every_run_and_each_seeds_first_learning():
    table, _, _ = study_table()
    assert len(table) == 5 * 4 + 5 and set(table["condition"]) == {*CONDITIONS, FIRST_LEARNING}
    row = table[(table["condition"] == "grokked") & (table["seed"] == 42)].iloc[0]
    assert row[epochs_column(FIRST, 0.95)] == 100 and row["start acc"] == pytest.approx(0.02)
    assert row["start readout R2"] == 0.5 and row["final acc"] == 1.0
    censored = table[(table["condition"] == "random") & (table["seed"] == 99)].iloc[0]
    assert pd.isna(censored[epochs_column(FIRST, 0.95)]) and censored["stop"] == "max_epochs"
    assert table[table["condition"] == FIRST_LEARNING][epochs_column(FIRST, 0.999)].tolist() == [11_000, 5_700, 7_400, 8_400, 10_300]


def test_time_to_threshold_each_learner_at_its_own_cap():
    table, _, _ = study_table()
    times = relearning.time_to_thresholds(table, THRESHOLDS, CONDITIONS, CAP, SOURCE_CAP, confidence=0.95)
    assert set(times) == {"90%", "95%", "99%", "99.9%"} and set(times["95%"]) == {*CONDITIONS, FIRST_LEARNING}
    assert times["95%"]["grokked"].median == 110 and times["95%"]["random"].reached == 4
    assert times["95%"]["random"].mean_is_a_lower_bound  # the censored run counted at the cap
    assert times["95%"][FIRST_LEARNING].median == 8400  # beyond the relearning cap: its own cap applies
    shown = relearning.time_display(times, THRESHOLDS, [*CONDITIONS, FIRST_LEARNING], 0.95)
    assert len(shown) == 4 * 5 and "95 % CI" in " ".join(shown.columns)


def test_paired_test_ratios_and_bounds():
    table, _, _ = study_table()
    against_first = relearning.paired_test(table, 0.95, "grokked", FIRST_LEARNING, CAPS, 0.95, "q")
    expected = math.exp(np.mean(np.log(np.array([100, 120, 90, 200, 110]) / [11_000, 5_700, 7_400, 8_400, 10_300])))
    assert against_first.ratio == pytest.approx(expected) and against_first.n_pairs == 5 and against_first.bound is None
    assert against_first.p < 0.001 and against_first.test == relearning_test_id(0.95, "grokked", FIRST_LEARNING)
    # random seed 99 never relearned: it enters at the relearning cap, and the ratio is a lower bound
    random = relearning.paired_test(table, 0.95, "random", "grokked", CAPS, 0.95, "q")
    assert random.bound == "lower" and random.n_pairs == 5 and "never reached it by its cap 1,000 for seeds [99]" in random.note
    assert random.ratio == pytest.approx(math.exp(np.mean(np.log(np.array([400, 600, 1000, 700, 500]) / [100, 120, 90, 200, 110]))))
    assert relearning.P_NOTE in random.note


def test_pairs_censored_on_both_sides_are_left_out_and_none_left_is_no_test():
    reach = {c: [None] * 5 for c in CONDITIONS}
    reach["grokked"] = [100, None, None, None, None]
    table, _, _ = study_table(reach=reach)
    one = relearning.paired_test(table, 0.95, "random", "grokked", CAPS, 0.95, "q")
    assert one.n_pairs == 1 and "neither reached it for seeds [7, 99, 314, 123]" in one.note and one.p is None
    none = relearning.paired_test(table, 0.95, "random", "memorized", CAPS, 0.95, "q")
    assert none.n_pairs == 0 and none.ratio is None and "nothing to compare" in none.note
    with pytest.raises(ValueError, match="no cap for 'nope'"):
        relearning.paired_test(table, 0.95, "nope", "grokked", CAPS, 0.95, "q")


def test_one_test_per_question():
    table, _, _ = study_table()
    tests = relearning.relearning_tests(table, 0.95, CONDITIONS, CAPS, confidence=0.95)
    assert list(tests) == [relearning_test_id(0.95, c, FIRST_LEARNING) for c in CONDITIONS] + \
        [relearning_test_id(0.95, c, "grokked") for c in CONDITIONS if c != "grokked"]
    assert all(t.ratio < 1 for t in list(tests.values())[:4]) and all(t.ratio > 1 for t in list(tests.values())[4:])
    shown = relearning.tests_display(tests)
    assert shown["ratio a / b"].iloc[-1].startswith(">= ") and "uncorrected" in shown.columns[-1]


def test_the_readout_left_inside_against_relearning_speed():
    table, _, _ = study_table()
    r = relearning.readout_correlation(table, 0.95, CONDITIONS, CAP, confidence=0.95)
    assert r.n == 20 and r.rho < -0.5 and r.censored == ["random seed 99"] and "uncorrected" in r.note
    few = relearning.readout_correlation(table[table["condition"] == "grokked"].head(2), 0.95, CONDITIONS, CAP, 0.95)
    assert few.n == 2 and few.rho is None  # NaN is saved as None


def test_by_condition_and_the_figure_at_the_papers_shape():
    table, runs, sources = study_table()
    start = relearning.by_condition(table, "start acc", CONDITIONS, confidence=0.95, n_boot=200)
    assert start["grokked"].mean == pytest.approx(0.02) and start["random"].n_total == 5
    fig = plots.epoch_grid(**relearning.relearning_panels(runs, sources, CONDITIONS, 0.95))
    assert plots.overlapping_labels(fig) == [] and len(fig.axes) == 4
