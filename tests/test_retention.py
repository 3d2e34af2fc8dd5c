"""Tests for grokpaper.paper.retention: the perfect-subtraction score, scores and agreement on small
synthetic models and hand-made predictions."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from grokpaper.core.data import all_pairs, labels, make_split, tokens  # noqa: E402
from grokpaper.core.model import Transformer  # noqa: E402
from grokpaper.paper import plots, retention  # noqa: E402
from grokpaper.paper.contract import pair_name  # noqa: E402
from small_models import SMALL, random_params

CONDITIONS = ("grokked", "memorized", "random")


def synthetic_models(seeds=(1, 2)):
    """Random models labelled like the study's (sources, then the three transfer conditions)."""
    models = []
    for seed in seeds:
        for i, (name, role, task) in enumerate([("grokked_source", "source", "add"), ("memorized_source", "source", "add"),
                                                *[(c, "transfer", "subtract") for c in CONDITIONS]]):
            models.append(retention.StudyModel(seed, name, role, task, random_params(seed=100 * seed + i),
                                               random_params(seed=seed)))
    return models


# --- the perfect-subtraction score ---------------------------------------------------------------

def test_perfect_subtraction_score_is_share_of_b0_pairs_in_the_split():
    split = make_split("add", 113, 42, 0.3)
    assert len(split.test_pairs) == 8939
    n_b0 = int((split.test_pairs[:, 1] == 0).sum())
    assert retention.expected_score_of_perfect_subtraction(split) == pytest.approx(n_b0 / 8939)
    # the document's example: 84 b = 0 pairs in 8,939 is 0.94 %, not 1/113 = 0.885 %
    assert retention.expected_score_of_perfect_subtraction(np.array([[a, 0] for a in range(84)] + [[0, 1]] * 8855), 113) \
        == pytest.approx(84 / 8939)


def test_perfect_subtraction_score_over_all_pairs_is_one_over_p_for_odd_p_and_two_over_p_for_even():
    assert retention.expected_score_of_perfect_subtraction(all_pairs(113), 113) == pytest.approx(1 / 113)
    assert retention.expected_score_of_perfect_subtraction(all_pairs(10), 10) == pytest.approx(2 / 10)  # b = 0, 5


def test_perfect_subtraction_score_needs_p_for_a_pair_array():
    with pytest.raises(ValueError, match="p is required"):
        retention.expected_score_of_perfect_subtraction(all_pairs(5))
    with pytest.raises(ValueError, match="pairs"):
        retention.expected_score_of_perfect_transfer(np.zeros((0, 2), int), 5)


# --- scores --------------------------------------------------------------------------------------

def test_perfect_subtraction_model_scores_the_coincident_share_on_addition_and_retains_nothing():
    pairs = make_split("add", 13, 3, 0.5).test_pairs
    preds = labels("subtract", pairs, 13)
    s = retention.score_predictions(preds, pairs, 13)
    assert s["transfer_acc"] == 1.0
    assert s["source_acc"] == pytest.approx(s["coincident_share"])
    assert s["n_coincident"] == int((pairs[:, 1] == 0).sum())
    assert s["source_correct_distinct"] == 0 and s["source_acc_distinct"] == 0.0
    assert s["source_excess"] == pytest.approx(0.0)


def test_perfect_addition_model_retains_every_distinct_pair():
    pairs = all_pairs(7)
    s = retention.score_predictions(labels("add", pairs, 7), pairs, 7)
    assert s["source_acc"] == 1.0 and s["source_acc_distinct"] == 1.0
    assert s["source_correct_distinct"] == 49 - 7 and s["source_correct_coincident"] == 7
    assert s["transfer_acc"] == pytest.approx(1 / 7)


def test_score_predictions_rejects_wrong_length():
    with pytest.raises(ValueError, match="one entry per pair"):
        retention.score_predictions(np.zeros(3, int), all_pairs(5), 5)


def test_predict_matches_the_reference_model():
    params = random_params(seed=0)
    pairs = all_pairs(SMALL.p)
    model = Transformer(SMALL, params)
    with torch.no_grad():
        expected = model(tokens(pairs, SMALL.p))[:, -1].argmax(-1).numpy()
    np.testing.assert_array_equal(retention.predict(params, SMALL, pairs), expected)


def test_retention_table_scores_add_up_and_test_split_is_the_seeds():
    models = synthetic_models()
    table = retention.retention_table(models, SMALL, 0.5)
    assert len(table) == len(models)
    counts = table["source_correct_coincident_test"] + table["source_correct_distinct_test"]
    np.testing.assert_allclose(counts / table["n_test"], table["source_acc_test"])
    m = models[3]
    pairs = make_split("add", SMALL.p, m.seed, 0.5).test_pairs
    direct = retention.score_predictions(retention.predict(m.params, SMALL, pairs), pairs, SMALL.p)
    assert table.loc[3, "source_acc_test"] == pytest.approx(direct["source_acc"])
    assert table.loc[3, "transfer_acc_test"] == pytest.approx(direct["transfer_acc"])
    assert (table["n_all"] == SMALL.p ** 2).all()


def test_retention_tests_and_numbers_name_the_tasks_by_their_role():
    table = retention.retention_table(synthetic_models(), SMALL, 0.5)
    tests = retention.retention_tests(table, CONDITIONS, SMALL.p, 0.95)
    assert len(tests) == 2 * len(CONDITIONS)
    params = {"p": SMALL.p, "source_task": "add", "transfer_task": "subtract", "confidence": 0.95, "n_bootstrap": 100}
    numbers = retention.retention_numbers(table, tests, params, CONDITIONS)
    assert set(numbers.source_test_acc) == set(CONDITIONS) == set(numbers.n_perfect_transfer)
    assert numbers.source_test_acc["grokked"].n == 2
    assert numbers.tests["random"].vs_perfect_transfer.tested_values == "accuracy - perfect-model score vs 0"
    assert set(numbers.sources.source_test_acc) == {"grokked_source", "memorized_source"}
    assert numbers.perfect_transfer_score_all == pytest.approx(1 / SMALL.p)
    summary = retention.retention_summary(table, CONDITIONS, {"source_acc_test": "addition"}, confidence=0.95, n_boot=100)
    assert list(summary["model"]) == list(CONDITIONS)
    assert len(retention.perfect_score_table(table, SMALL.p)) == 2


def test_divide_cannot_share_a_split_with_add():
    with pytest.raises(ValueError, match="pair sets"):
        retention.seed_test_pairs(11, 1, 0.5, "add", "divide")


# --- agreement -----------------------------------------------------------------------------------

def test_agreement_and_chance_agreement_by_hand():
    a, b = np.array([0, 1, 2, 3]), np.array([0, 1, 0, 0])
    assert retention.agreement(a, b) == 0.5
    assert retention.agreement(a, b, mask=[False, False, True, True]) == 0.0
    assert retention.chance_agreement(np.arange(5), np.arange(5)) == pytest.approx(1 / 5)
    assert retention.chance_agreement(np.zeros(4, int), np.zeros(4, int)) == 1.0
    with pytest.raises(ValueError, match="one shape"):
        retention.agreement(a, b[:3])


def test_two_perfect_subtraction_models_agree_everywhere_even_on_addition_errors():
    pairs = all_pairs(7)
    sub = labels("subtract", pairs, 7)
    out = retention.pair_agreement(sub, sub.copy(), pairs, 7)
    assert out["agreement"] == 1.0 and out["n_transfer_errors"] == 0
    assert np.isnan(out["agreement_transfer_errors"])       # no subtraction errors to agree on
    assert out["n_source_errors"] == 49 - 7 and out["agreement_source_errors"] == 1.0


def test_agreement_table_and_matrix():
    models = synthetic_models()
    twin = [retention.StudyModel(m.seed, "random", m.role, m.task, m.params, m.init)
            for m in models if m.model == "grokked"]
    models = [m for m in models if m.model != "random"] + twin  # random := a copy of grokked
    table = retention.agreement_table(models, SMALL, 0.5, CONDITIONS)
    assert len(table) == 2 * 3
    same = table[table["pair"] == pair_name("grokked", "random")]
    assert (same["agreement_test"] == 1.0).all() and (same["agreement_all"] == 1.0).all()
    matrix = retention.agreement_matrix(table, CONDITIONS)
    np.testing.assert_allclose(matrix.to_numpy(), matrix.to_numpy().T)
    assert (np.diag(matrix.to_numpy()) == 1).all() and matrix.loc["grokked", "random"] == 1.0
    numbers = retention.agreement_numbers(table, CONDITIONS, {"source_task": "add", "transfer_task": "subtract",
                                                               "confidence": 0.95, "n_bootstrap": 100})
    assert numbers.n_identical_test[pair_name("grokked", "random")] == 2
    assert set(numbers.agreement_among_transfer_errors_test) == set(numbers.pairs) == set(table["pair"])
    assert set(retention.agreement_summary(table, {"agreement_test": "agreement"}, confidence=0.95, n_boot=100)["pair"]) == set(table["pair"])
    assert "agreement among addition errors" in retention.agreement_display(table).columns


def test_share_summaries_truncate_their_intervals_to_0_1():
    # Three seeds agree fully, one not at all (a run that never learned the task): the t-interval
    # of the mean runs far below 0 and above 1; a share's cannot.
    table = pd.DataFrame({"pair": ["grokked_vs_random"] * 4, "agreement_test": [1.0, 1.0, 1.0, 0.006],
                          "model": ["random"] * 4, "seed": [1, 2, 3, 4]})
    row = retention.agreement_summary(table, {"agreement_test": "agreement"}, confidence=0.95, n_boot=100).iloc[0]
    assert row["CI low"] == 0.0 and row["CI high"] == 1.0 and 0 < row["mean"] < 1
    row = retention.retention_summary(table, ["random"], {"agreement_test": "score"}, confidence=0.95, n_boot=100).iloc[0]
    assert row["CI low"] == 0.0 and row["CI high"] == 1.0


# --- figures -------------------------------------------------------------------------------------

def _labelled(fig):
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>" and ax.get_visible()]
    assert axes and all(ax.get_xlabel().strip() and ax.get_ylabel().strip() for ax in axes)


def test_retention_and_agreement_figures_build_headless():
    summary = pd.DataFrame({"model": list(CONDITIONS), "n": [2, 2, 2], "mean": [0.01, 0.02, 0.5],
                            "CI low": [-0.1, 0.0, np.nan], "CI high": [0.2, 0.04, np.nan]})
    fig = plots.bar_panels({"addition": summary, "subtraction": summary},
                           references={"addition": {"chance 1/p": 1 / 113}},
                           points={"addition": {"grokked": [0.0, 0.02]}})
    _labelled(fig)
    assert fig.axes[0].get_ylim()[1] <= 102
    matrix = pd.DataFrame(np.eye(3), index=list(CONDITIONS), columns=list(CONDITIONS))
    _labelled(plots.agreement_panels({"test": matrix, "all": matrix}))
    with pytest.raises(ValueError, match="square"):
        plots.agreement_panels({"bad": matrix.iloc[:2]})
    with pytest.raises(ValueError, match="missing"):
        plots.bar_panels({"x": summary.drop(columns=["CI low"])})
