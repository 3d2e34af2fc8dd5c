"""Test accuracy split by the swapped pair (grokpaper.analysis.swapped_pairs)."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from grokpaper.analysis.swapped_pairs import is_commutative, split_by_swap, swapped_pair_accuracy
from grokpaper.core.data import make_split
from grokpaper.core.model import Transformer, load_checkpoint
from small_models import SMALL, random_params

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("task, commutative", [("add", True), ("multiply", True), ("x2xyy2", True),
                                               ("subtract", False), ("random", False)])
def test_commutativity_is_read_off_the_tasks_labels(task, commutative):
    assert is_commutative(task, 11) is commutative


def test_a_test_pair_counts_as_swapped_only_when_its_swap_is_a_training_pair():
    train = np.array([[0, 1], [2, 3], [6, 6]])
    test = np.array([[1, 0], [3, 2], [4, 5], [5, 5], [1, 2]])   # (5, 5)'s swap is itself, a test pair
    split = split_by_swap(train, test, np.array([True, True, False, True, False]))
    assert split.swapped_share == pytest.approx(2 / 5)
    assert (split.acc_swapped, split.acc_other) == (1.0, pytest.approx(1 / 3))
    empty = split_by_swap(np.array([[0, 1]]), np.array([[2, 3]]), np.array([True]))
    assert np.isnan(empty.acc_swapped) and empty.acc_other == 1.0


def one_task_config(task: str, p: int = 11, seed: int = 5, token: int = 1) -> dict:
    entry = [{"task": task, "token": token}]
    return {"data": {"train": entry, "test": entry, "watch": [{"task": "add", "token": 0}]}, "p": p, "seed": seed,
            "frac_train": 0.3}


def test_the_two_groups_make_up_the_models_test_accuracy_at_its_token():
    cfg = dataclasses.replace(SMALL, n_task_tokens=2)
    params = random_params(cfg, seed=3)   # a seed whose guesses hit pairs of both groups
    split = make_split("multiply", 11, seed=5, frac_train=0.3, task_token=1)
    with torch.no_grad():
        accuracy = float((Transformer(cfg, params)(split.test_x)[:, -1].argmax(-1) == split.test_y).double().mean())
    s = swapped_pair_accuracy(params, one_task_config("multiply"))
    assert 0.1 < s.swapped_share < 0.5 and s.acc_swapped > 0 and s.acc_other > 0
    assert s.swapped_share * s.acc_swapped + (1 - s.swapped_share) * s.acc_other == pytest.approx(accuracy)
    with pytest.raises(ValueError, match="trains and is tested on one task"):
        swapped_pair_accuracy(params, {**one_task_config("multiply"), "data": {
            "train": [{"task": "multiply", "token": 1}, {"task": "add", "token": 0, "replay_share": 0.1}],
            "test": [{"task": "multiply", "token": 1}]}})


def test_a_stored_runs_split_makes_up_the_test_accuracy_its_training_recorded():
    """Grokked source -> a^2 + ab + b^2, seed 123 (paper profile, at the cap): the split, from the run's
    config and final weights, against the last test accuracy of its curve."""
    run = ROOT / "store" / "runs" / "77f2515e56ff7c9f2d54"
    config = json.loads((run / "config.json").read_text())
    params, _ = load_checkpoint(run / "final.safetensors")
    s = swapped_pair_accuracy(params, config)
    final = pd.read_csv(run / "curve.csv")["test_acc"].iloc[-1]
    assert (config["task"], config["seed"]) == ("x2xyy2", 123)
    assert s.swapped_share * s.acc_swapped + (1 - s.swapped_share) * s.acc_other == pytest.approx(final, abs=1e-9)


def test_the_table_has_a_row_per_run_of_a_commutative_target_only():
    from types import SimpleNamespace

    from grokpaper.analysis.swapped_pairs import SWAPPED_COLUMNS, swapped_pairs_table

    params = random_params(dataclasses.replace(SMALL, n_task_tokens=2), seed=3)
    runs = [SimpleNamespace(condition=c, target=t, seed=5, params=lambda: params,
                            stored=SimpleNamespace(config=one_task_config(t)))
            for c in ("grokked", "random") for t in ("multiply", "subtract", "random")]
    table = swapped_pairs_table(runs)
    assert list(table.columns) == ["condition", "target", "seed", *SWAPPED_COLUMNS]
    assert table[["condition", "target"]].values.tolist() == [["grokked", "multiply"], ["random", "multiply"]]
    expected = swapped_pair_accuracy(params, one_task_config("multiply"))
    assert table.iloc[0][SWAPPED_COLUMNS[1]] == expected.acc_swapped
