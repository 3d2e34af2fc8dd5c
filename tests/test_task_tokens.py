"""The numbers chapters 13-16 report: paired differences, verdicts, frequency sharing, the trend test."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from grokpaper.paper import task_tokens as tt
from grokpaper.paper.contract import FIRST, epochs_column


def test_paired_difference_is_the_paired_t_interval():
    a, b = {1: 0.9, 2: 0.8, 3: 0.95, 4: 0.7}, {1: 0.5, 2: 0.6, 3: 0.55, 4: 0.65, 9: 0.1}
    d = tt.paired_difference(a, b, 0.95, "a minus b")
    diffs = np.array([0.4, 0.2, 0.4, 0.05])
    assert d.n_pairs == 4 and d.mean == pytest.approx(diffs.mean())
    t = stats.ttest_1samp(diffs, 0.0)
    assert d.p == pytest.approx(t.pvalue)
    half = stats.t.ppf(0.975, 3) * diffs.std(ddof=1) / 2
    assert (d.ci_low, d.ci_high) == (pytest.approx(diffs.mean() - half), pytest.approx(diffs.mean() + half))
    assert set(d.per_seed) == {1, 2, 3, 4}  # seed 9 has no pair
    clipped = tt.paired_difference({1: 1.0, 2: 0.0}, {1: 0.0, 2: 0.0}, 0.95, "wide", tt.DIFFERENCE_OF_SHARES)
    assert clipped.ci_low >= -1 and clipped.ci_high <= 1
    one = tt.paired_difference({1: 0.5}, {1: 0.2}, 0.95, "one pair")
    assert one.n_pairs == 1 and one.ci_low is None and one.p is None


@pytest.mark.parametrize("low, high, predicted, verdict", [
    (0.1, 0.3, 1, "supported"), (-0.3, -0.1, 1, "contradicted"), (-0.1, 0.2, 1, "not established"),
    (-0.3, -0.1, -1, "supported"), (0.1, 0.3, -1, "contradicted"), (math.nan, 0.1, 1, "not testable")])
def test_hypothesis_verdict_reads_the_interval_against_the_predicted_side(low, high, predicted, verdict):
    v = tt.hypothesis_verdict("h", "effect", 0.0 if math.isnan(low) else (low + high) / 2, low, high, 0.01, 5,
                              predicted=predicted)
    assert v.verdict == verdict and v.p_note == tt.P_NOTE


def test_frequency_sharing_counts_and_tests_against_chance():
    pairs = {1: ([1, 2, 3], [2, 3, 4]), 2: ([5, 6], [5, 6])}
    s = tt.frequency_sharing(pairs, 10, "x")
    assert s.shared == {1: 2, 2: 2} and s.total_shared == 4
    assert s.jaccard == {1: pytest.approx(0.5), 2: pytest.approx(1.0)}
    assert s.expected_by_chance == pytest.approx(3 * 3 / 10 + 2 * 2 / 10)
    # P(S >= 4) for the sum of two hypergeometric overlaps, by enumeration
    h1, h2 = stats.hypergeom(10, 3, 3), stats.hypergeom(10, 2, 2)
    exact = sum(h1.pmf(i) * h2.pmf(j) for i in range(4) for j in range(3) if i + j >= 4)
    assert s.p_null == pytest.approx(exact)


def test_overlap_points_give_the_share_found_again_and_chances_exact_expectation():
    s = tt.frequency_sharing({1: ([1, 2, 3], [2, 3, 4, 7]), 2: ([5, 6], [5])}, 10, "x")
    points = tt.overlap_points({("subtract", "grokked"): s})
    assert list(points["seed"]) == [1, 2] and list(points["share"]) == [pytest.approx(2 / 3), 0.5]
    assert list(points["chance"]) == [0.4, 0.1]
    # chance's share is the hypergeometric mean overlap over the source set's size: k / n
    assert points["chance"].iloc[0] == pytest.approx(stats.hypergeom(10, 3, 4).mean() / 3)
    from grokpaper.paper import task_plots
    fig = task_plots.frequency_overlap(points, ["subtract", "multiply"], ["grokked", "random"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["subtraction", "multiplication"]
    assert len(ax.patches) == 1  # one bar: the only (target, initial weights) with points
    with pytest.raises(ValueError, match="points must be a non-empty DataFrame"):
        task_plots.frequency_overlap(points.iloc[:0], ["subtract"], ["grokked"])


def test_trend_verdict_needs_pages_test_and_the_mean_rhos_interval_in_one_order():
    increasing = pd.DataFrame({"low": [0.1, 0.2, 0.1, 0.0, 0.2, 0.1], "mid": [0.5, 0.4, 0.6, 0.5, 0.5, 0.4],
                               "high": [0.9, 0.8, 0.95, 0.9, 0.85, 0.9]})
    found = tt.trend_verdict("h", "e", increasing, ["low", "mid", "high"], 0.95)
    assert found.verdict == "supported"
    # two-sided: twice the smaller one-sided p
    one_sided = stats.page_trend_test(increasing[["low", "mid", "high"]].to_numpy()).pvalue
    assert found.p == pytest.approx(min(1.0, 2 * one_sided))
    # the effect: every seed in the predicted order, mean rho 1 with a one-point interval
    assert (found.estimate, found.ci_low, found.ci_high, found.n) == (1.0, 1.0, 1.0, 6)
    assert "Page's L = 84 against 72 by chance" in found.reason
    reverse = tt.trend_verdict("h", "e", increasing, ["high", "mid", "low"], 0.95)
    assert reverse.verdict == "contradicted" and reverse.estimate == -1.0
    flat = pd.DataFrame({"a": [0.1, 0.9, 0.5], "b": [0.5, 0.1, 0.9], "c": [0.9, 0.5, 0.1]})
    assert tt.trend_verdict("h", "e", flat, ["a", "b", "c"], 0.95).verdict == "not established"
    assert tt.trend_verdict("h", "e", flat.iloc[:1], ["a", "b", "c"], 0.95).verdict == "not testable"
    # Page's test beyond chance but the seeds' correlations spread across 0: not established
    mixed = pd.DataFrame({"a": [1, 1, 1, 1, 1, 3], "b": [2, 2, 2, 2, 2, 2], "c": [3, 3, 3, 3, 3, 1]})
    spread = tt.trend_verdict("h", "e", mixed, ["a", "b", "c"], 0.95)
    assert spread.p < 0.05 and spread.ci_low < 0 < spread.estimate and spread.verdict == "not established"


def test_spearman_with_order_per_seed_and_ties():
    table = pd.DataFrame({"a": [1.0, 3.0, 2.0], "b": [2.0, 2.0, 2.0], "c": [3.0, 1.0, 2.0]}, index=[42, 7, 99])
    assert tt.spearman_with_order(table, ["a", "b", "c"]) == {42: 1.0, 7: -1.0, 99: pytest.approx(float("nan"),
                                                                                                  nan_ok=True)}


def test_early_retention_is_the_mean_over_the_window_and_a_seeds_runs_share_one_window():
    curve = pd.DataFrame({"epoch": [0, 10, 20, 30, 40], "test_acc_add": [1.0, 0.5, float("nan"), 0.3, 0.1]})
    assert tt.early_retention(curve, "test_acc_add", 30) == pytest.approx(0.4)     # the start is left out
    short = curve.iloc[:3].assign(test_acc_add=[1.0, 0.9, 0.7])
    values, until = tt.early_retention_table({"x": {42: curve, 7: curve}, "y": {42: short}}, "test_acc_add", 30)
    assert until.to_dict() == {7: 30, 42: 20}            # seed 42's "y" run stopped at epoch 20
    assert values.loc[42, "x"] == pytest.approx(0.5) and values.loc[42, "y"] == pytest.approx(0.8)
    assert values.loc[7, "x"] == pytest.approx(0.4) and pd.isna(values.loc[7, "y"])
    shown = tt.early_retention_display(values, until, ["y", "x"])
    assert list(shown.columns) == ["seed", "y", "x", "window (epochs)"] and shown["x"].round(6).tolist() == [40.0, 50.0]
    with pytest.raises(ValueError, match="no value of 'test_acc_add' in epochs 1-5"):
        tt.early_retention(curve, "test_acc_add", 5)


def test_kept_is_the_share_of_the_pairs_the_source_answered_that_the_model_still_answers():
    import dataclasses

    from grokpaper.core.data import make_split
    from grokpaper.core.model import Transformer
    from small_models import SMALL, random_params

    source, other = random_params(SMALL, seed=1), random_params(dataclasses.replace(SMALL, n_task_tokens=2), seed=2)
    n, kept = tt.answered_kept(source, source, SMALL.p, "add", seed=3, frac_train=0.5)
    split = make_split("add", SMALL.p, 3, 0.5)
    right = Transformer(SMALL, source)(split.test_x)[:, -1].argmax(-1) == split.test_y
    assert n == int(right.sum()) and (kept == 1.0 or n == 0)
    n2, kept2 = tt.answered_kept(source, other, SMALL.p, "add", seed=3, frac_train=0.5)
    cfg2 = dataclasses.replace(SMALL, n_task_tokens=2)
    by_hand = (Transformer(cfg2, other)(split.test_x)[:, -1].argmax(-1) == split.test_y)[right]
    assert n2 == n and kept2 == pytest.approx(float(by_hand.double().mean()) if n else float("nan"), nan_ok=True)
    # the retention summary carries them
    rows = pd.DataFrame({"seed": [3], "add acc end": [0.5], "add acc start": [1.0], "add acc at top": [0.6],
                         "add acc lowest": [0.4], "readout end": [0.1]})
    r = tt.retention(rows, "add", 0.95, {3: (n2, kept2)})
    assert r.answered == {3: n2} and (r.kept_mean == pytest.approx(kept2) or math.isnan(kept2))


def test_a_paired_difference_without_spread_has_no_interval_and_the_sign_flip_p():
    same = tt.paired_difference({1: 0.3, 2: 0.4, 3: 0.5}, {1: 0.1, 2: 0.2, 3: 0.3}, 0.95, "no spread")
    assert same.ci_low is None and same.ci_high is None and same.p == pytest.approx(2 / 8)   # NaN is saved as None
    zero = tt.paired_difference({1: 0.3, 2: 0.4}, {1: 0.3, 2: 0.4}, 0.95, "nothing")
    assert zero.p == 1.0 and zero.mean == 0.0


def test_the_task_family_is_one_test_per_question_with_holm_over_them():
    from grokpaper.analysis import stats as gstats
    from grokpaper.paper import contract

    rows = [{"test": f"t{i}", "chapter": "13-task-tokens", "effect": "ratio", "estimate": 2.0, "ci_low": 1.0,
             "ci_high": 3.0, "n": 5, "bound": None, "null": 1.0, "p": p} for i, p in enumerate([0.01, 0.04, None, 0.03])]
    found = tt.task_family(rows)
    assert list(found) == ["t0", "t1", "t2", "t3"]
    assert [found[t].p_holm for t in ("t0", "t1", "t3")] == pytest.approx(list(gstats.holm([0.01, 0.04, 0.03])))
    assert found["t2"].p_holm is None                        # no p: not in the family (NaN is saved as None)
    # the sensitivity column corrects over both families: chapter 06's p-values join the ranking
    both = tt.task_family(rows, other_family=[0.001, None, 0.5])
    expected = gstats.holm([0.01, 0.04, 0.03, 0.001, 0.5])[:3]
    assert [both[t].p_holm_over_both for t in ("t0", "t1", "t3")] == pytest.approx(list(expected))
    assert [both[t].p_holm for t in ("t0", "t1", "t3")] == [found[t].p_holm for t in ("t0", "t1", "t3")]
    assert all(both[t].p_holm_over_both >= both[t].p_holm for t in ("t0", "t1", "t3"))
    assert found["t0"].p_holm_over_both == pytest.approx(found["t0"].p_holm)   # nothing else: the same correction
    # each row says its effect's value under no effect: the audit judges a hypothesis's side against it
    assert tt._row("x", "13", "ratio", 2.0, 1.0, 3.0, 5, 0.1)["null"] == 1.0
    assert tt._row("x", "14", "difference", 0.1, 0.0, 0.2, 5, 0.1)["null"] == 0.0
    assert tt._row("x", "16", "trend", 0.6, 0.2, 1.0, 5, 0.1)["null"] == 0.0
    with pytest.raises(ValueError, match="appears twice"):
        tt.task_family(rows + rows[:1])
    shown = tt.task_family_display(found)
    assert list(shown["test"]) == ["t0", "t1", "t2", "t3"] and isinstance(found["t0"], contract.TaskFamilyTest)


def test_a_runs_curve_names_its_target_tasks_accuracy_so_a_panel_says_which_task_it_shows():
    from types import SimpleNamespace

    curve = pd.DataFrame({"epoch": [0, 10], "test_acc": [0.1, 0.9], "test_acc_add": [1.0, 0.2]})
    runs = [SimpleNamespace(experiment="sequential", target="subtract", condition="grokked", curve=curve),
            SimpleNamespace(experiment="replay", target="subtract", condition="grokked", curve=curve)]
    got = tt.curves_of(runs, "sequential")
    assert list(got) == ["grokked"] and len(got["grokked"]) == 1
    assert got["grokked"][0]["test_acc_subtract"].tolist() == [0.1, 0.9]
    assert "test_acc_subtract" not in curve                      # the run's own curve is left as it is
    both = curve.assign(test_acc_subtract=[0.5, 0.6])            # a multi-task run watches both: kept
    kept = tt.curves_of([SimpleNamespace(experiment="multitask", target="subtract", condition="scratch", curve=both)],
                        "multitask")
    assert kept["scratch"][0]["test_acc_subtract"].tolist() == [0.5, 0.6]


def test_a_range_of_shares_in_words():
    assert tt.share_range([0.44, 0.8419, 0.71]) == "44-84 %"
    assert tt.share_range([0.711]) == "71 %"


def test_a_figure_without_data_says_why_in_its_place():
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from grokpaper.paper import task_plots
    fig = task_plots.no_data("No target has a seed whose runs both reached 99.9 %.")
    assert isinstance(fig, Figure) and not plt.get_fignums()   # closed in pyplot: no second copy inline
    assert [t.get_text() for ax in fig.axes for t in ax.texts] == ["No target has a seed whose runs both reached 99.9 %."]
    assert not fig.axes[0].axison


def test_the_seeds_where_neither_run_reached_the_threshold_are_named():
    column = epochs_column(FIRST, 0.999)
    table = pd.DataFrame({"seed": [1, 1, 2, 2, 3], "condition": ["grokked", "random"] * 2 + ["grokked"],
                          column: [None, None, 100.0, None, None], "train first top": [10.0, 20.0, 5.0, 6.0, None]})
    assert tt.neither_reached(table, 0.999, "grokked", "random") == [1]      # seed 3 has no random-init run
    assert tt.neither_reached(table, 0.999, "grokked", "random", column="train first top") == []
    shown = tt.with_neither_reached(pd.DataFrame({"condition": ["multiply", "x2xyy2"]}), {"multiply": [1, 7]})
    assert list(shown["neither reached (seeds)"]) == ["1, 7", "–"]


def test_a_speed_up_whose_every_pair_is_a_bound_is_left_out_of_the_family():
    import dataclasses

    from grokpaper.paper import contract
    from typed_results import blank

    bounded = dataclasses.replace(blank(contract.SpeedUp), geometric_mean=0.66, ci_low=0.55, ci_high=0.79, p=0.005,
                                  n_pairs=2, per_seed={42: 0.658, 7: 0.641, 314: None},
                                  per_seed_bound={42: "<=", 7: "<=", 314: None})
    assert tt._speed_row("14 replay speed: no replay vs replay, random", "14-replay", bounded) is None
    one_reached = dataclasses.replace(bounded, per_seed_bound={42: "<=", 7: None, 314: None})
    assert tt._speed_row("14 replay speed: no replay vs replay, random", "14-replay", one_reached)["p"] == 0.005


def test_a_speed_up_whose_every_pair_is_a_bound_shows_no_interval_or_p_in_its_table_or_figure():
    import dataclasses

    from grokpaper.paper import contract
    from typed_results import blank

    bounded = dataclasses.replace(blank(contract.SpeedUp), geometric_mean=0.66, ci_low=0.55, ci_high=0.79, p=0.005,
                                  p_wilcoxon=0.5, n_pairs=2, bound="upper", per_seed={42: 0.658, 7: 0.641, 314: None},
                                  per_seed_bound={42: "<=", 7: "<=", 314: None})
    reached = dataclasses.replace(bounded, geometric_mean=35.04, bound=None, per_seed_bound={42: None, 7: None})
    found = {"random": bounded, "grokked": reached}
    shown = tt.speedup_display(found).set_index("condition")
    assert shown.loc["random", "speed-up"] == "≤ 0.66" and shown.loc["grokked", "speed-up"] == "35"
    assert shown.loc["random", ["CI low", "CI high", "p (paired t)", "p (Wilcoxon)"]].isna().all()
    assert (shown.loc["grokked", "CI low"], shown.loc["grokked", "p (paired t)"]) == (0.55, 0.005)
    assert shown.loc["random", "per seed"] == "42: ≤0.658; 7: ≤0.641; 314: –"
    _, summary = tt.speedup_points(found)
    summary = summary.set_index("condition")
    assert summary.loc["random", ["ci_low", "ci_high"]].isna().all() and summary.loc["random", "estimate"] == 0.66
    assert summary.loc["grokked", "ci_high"] == 0.79
    assert tt.speedup_display({}).empty


def test_the_seed_common_reading_reads_all_four_runs_of_a_seed_at_their_earliest_stop():
    from types import SimpleNamespace

    def run(experiment, condition, seed, stop):
        epochs = list(range(0, stop + 1, 10))
        return SimpleNamespace(experiment=experiment, condition=condition, seed=seed,
                               curve=pd.DataFrame({"epoch": epochs, "test_acc_add": [e / 1000 for e in epochs]}))

    runs = [run("replay", "grokked", 1, 40), run("sequential", "grokked", 1, 20), run("replay", "memorized-fixed", 1, 60),
            run("sequential", "memorized-fixed", 1, 50), run("replay", "grokked", 2, 30), run("replay", "random", 1, 90)]
    table = pd.DataFrame([{"experiment": r.experiment, "condition": r.condition, "seed": r.seed} for r in runs])
    read = tt.with_seed_common_reading(table, runs, "test_acc_add", ("grokked", "memorized-fixed"),
                                       ("replay", "sequential"))
    values = list(read[tt.SEED_COMMON])
    assert values[:4] == [0.02, 0.02, 0.02, 0.02]      # seed 1: all four at epoch 20, the earliest stop
    assert all(math.isnan(v) for v in values[4:])      # seed 2 lacks three of its runs; random is not read
    assert tt.SEED_COMMON in tt.REPLAY_READ_AT


def test_the_multitask_verdict_says_what_the_overlaps_say_of_distinct_circuits():
    import dataclasses

    from grokpaper.paper import contract
    from typed_results import blank

    replay = dataclasses.replace(blank(contract.NeuronUseOverlap), p_null={1: 1e-5, 2: 1e-5, 3: 0.3},
                                 corrected={1: 0.1, 2: 0.3, 3: 0.2})
    floor = dataclasses.replace(blank(contract.NeuronUseOverlap), corrected={1: 0.2, 2: 0.25, 3: None})
    note = tt.distinct_part_note(replay, floor, 0.05)
    assert "above its relabelling null (p < 0.05) in 2 of 3 seeds" in note
    assert "higher chance-corrected overlap in 1 of 2" in note


def test_the_runs_table_gives_the_epoch_of_a_watched_tasks_first_evaluation_at_its_lowest():
    from types import SimpleNamespace

    import pandas as pd

    curve = pd.DataFrame({"epoch": [0, 10, 20, 30, 40], "train_acc": [0.1, 0.5, 1.0, 1.0, 1.0],
                          "test_acc": [0.0, 0.2, 0.5, 0.9, 1.0], "test_loss": [5.0, 6.0, 3.0, 1.0, 0.1],
                          "train_loss": [5.0, 2.0, 0.1, 0.01, 0.01],
                          "test_acc_add": [1.0, 0.05, 0.3, 0.05, 0.6], "test_loss_add": [0.1] * 5})

    def run(seed, add):
        stored = SimpleNamespace(config={"max_epochs": 100}, probes=pd.DataFrame({tt.READOUT: [0.5]}))
        return SimpleNamespace(seed=seed, condition="grokked", experiment="replay", target="subtract",
                               curve=curve.assign(test_acc_add=add), result={"epochs_trained": 40,
                                                                             "stop_reason": "cap"}, stored=stored)

    table = tt.runs_table([run(42, curve["test_acc_add"]), run(7, [0.0, 0.3, 0.2, 0.4, 0.5])], [0.9, 0.999])
    assert table["add acc lowest"].tolist() == [0.05, 0.0]
    assert table["add acc lowest epoch"].tolist() == [10, 0]   # a tie: the first; a minimum at the start: epoch 0


def test_the_speed_up_figure_of_the_targets_names_each_target_on_a_target_task_axis():
    import pandas as pd

    from grokpaper.paper import task_plots
    points = pd.DataFrame({"condition": ["multiply", "multiply", "random"], "seed": [42, 7, 42],
                           "ratio": [0.19, 0.27, 2.0], "bound": ["<=", "<=", None]})
    summary = pd.DataFrame({"condition": ["multiply", "random"], "estimate": [0.23, 2.0], "ci_low": [float("nan"), 1.5],
                            "ci_high": [float("nan"), 2.5]})
    ax = task_plots.speedup_by_target(points, summary, reference="random init", ylabel="speed-up").axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["multiplication", "random table"]
    assert ax.get_xlabel() == "target task"
