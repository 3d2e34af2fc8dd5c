"""Test accuracy split by the swapped pair: which test pairs a model answers.

A commutative task (a + b, a * b, a^2 + ab + b^2 mod p) gives the pair (a, b) the label of
(b, a). The study's split draws the training pairs from all p^2 ordered pairs, so about
``frac_train`` of the test pairs have their swap (b, a) among the training pairs: those can be
answered from the training pairs by the task's symmetry alone, and a model that learned its
training pairs and reads its two operands alike can get them right while it is at chance on the
rest. Only the other test pairs show whether a model computes the task beyond its training pairs
and their swaps. The split says where a model's correct answers lie, not how it produces them.

``swapped_pair_accuracy`` splits a run's test accuracy into those two groups; ``is_commutative``
says whether the split means that (for subtraction or the random table a swapped training pair
carries another label); ``swapped_pairs_table`` gives the split for every run of a commutative
target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from grokpaper.core.data import all_pairs, labels
from grokpaper.core.model import Transformer, config_of
from grokpaper.core.tasks import DataSpec, task_split


def is_commutative(task: str, p: int, table_seed: int = 0) -> bool:
    """Whether ``task``'s label of every pair (a, b) is its label of (b, a)."""
    pairs = all_pairs(p, task)
    table = np.full((p, p), -1)
    table[pairs[:, 0], pairs[:, 1]] = labels(task, pairs, p, table_seed)
    return bool((table == table.T).all())


@dataclass(frozen=True)
class SwappedSplit:
    """One model's test accuracy on one task, split by whether a test pair's swap is a training pair."""

    swapped_share: float      # share of the test pairs whose swap (b, a) is a training pair
    acc_swapped: float        # test accuracy on those pairs
    acc_other: float          # test accuracy on the others (a = b included: its swap is itself)


def split_by_swap(train_pairs: np.ndarray, test_pairs: np.ndarray, correct: np.ndarray) -> SwappedSplit:
    """``correct`` (one bool per test pair) split by whether the test pair's swap is a training pair
    (NaN for a group with no pair)."""
    train = {(int(a), int(b)) for a, b in train_pairs}
    swapped = np.array([(int(b), int(a)) in train for a, b in test_pairs], dtype=bool)
    correct = np.asarray(correct, dtype=bool)

    def mean(values) -> float:
        return float(values.mean()) if len(values) else float("nan")
    return SwappedSplit(swapped_share=mean(swapped), acc_swapped=mean(correct[swapped]), acc_other=mean(correct[~swapped]))


def swapped_pair_accuracy(params: dict[str, torch.Tensor], config: dict) -> SwappedSplit:
    """``params``' test accuracy (argmax over all logits) on the test set of the run of ``config``, as it
    was trained (``tasks.task_split`` of the config's data), split by whether each test pair's swap is
    a training pair of its task (``split_by_swap``). The run trains on one task, its target."""
    spec = DataSpec.from_config(config["data"])
    if len(spec.train) != 1 or spec.test != spec.train:
        raise ValueError(f"swapped_pair_accuracy reads a run that trains and is tested on one task; "
                         f"this config's data has train {spec.train} and test {spec.test}")
    split = task_split(spec, config["p"], config["seed"], config["frac_train"])
    with torch.no_grad():
        predicted = Transformer(config_of(params, config["p"]), params)(split.test_x)[:, -1].argmax(-1)
    return split_by_swap(split.train_pairs, split.test_pairs, (predicted == split.test_y).numpy())


SWAPPED_COLUMNS = ("test pairs with swap in train", "test acc, swap in train", "test acc, other pairs")


def swapped_pairs_table(runs) -> pd.DataFrame:
    """One row per run (``condition``, ``target``, ``seed``) whose target is commutative: its final
    weights' ``swapped_pair_accuracy`` (``SWAPPED_COLUMNS``), the data read from its stored config."""
    rows = []
    for r in runs:
        config = r.stored.config
        if is_commutative(r.target, config["p"]):
            s = swapped_pair_accuracy(r.params(), config)
            rows.append({"condition": r.condition, "target": r.target, "seed": r.seed,
                         **dict(zip(SWAPPED_COLUMNS, (s.swapped_share, s.acc_swapped, s.acc_other)))})
    return pd.DataFrame(rows, columns=["condition", "target", "seed", *SWAPPED_COLUMNS])
