"""Test accuracy split by the swapped pair: what a model answers without having generalised.

A commutative task (a + b, a * b, a^2 + ab + b^2 mod p) gives the pair (a, b) the label of
(b, a). The study's split draws the training pairs from all p^2 ordered pairs, so about
``frac_train`` of the test pairs have their swap (b, a) among the training pairs. A model that
memorised its training pairs and treats its two operands alike answers those test pairs too, and
its test accuracy rises above chance (to about ``frac_train``) with nothing generalised: only the
test pairs whose swap is not a training pair can tell generalisation from memorising.

``swapped_pair_accuracy`` splits a model's test accuracy on one task into those two groups;
``is_commutative`` says whether the split means that (for subtraction or the random table a
swapped training pair carries another label, so it gives the model nothing to answer with);
``swapped_pairs_table`` gives the split for every run of a commutative target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from grokpaper.core.data import all_pairs, labels, make_split
from grokpaper.core.model import Transformer, config_of


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


def swapped_pair_accuracy(params: dict[str, torch.Tensor], task: str, p: int, seed: int, frac_train: float,
                          task_token: int, table_seed: int = 0) -> SwappedSplit:
    """``params``' test accuracy on ``task`` at its token ``task_token`` (the seed's split, as trained:
    ``data.make_split``; argmax over all logits), split by whether each test pair's swap is a
    training pair (``split_by_swap``)."""
    split = make_split(task, p, seed, frac_train, table_seed=table_seed, task_token=task_token)
    with torch.no_grad():
        predicted = Transformer(config_of(params, p), params)(split.test_x)[:, -1].argmax(-1)
    return split_by_swap(split.train_pairs, split.test_pairs, (predicted == split.test_y).numpy())


SWAPPED_COLUMNS = ("test pairs with swap in train", "test acc, swap in train", "test acc, other pairs")


def swapped_pairs_table(runs, p: int, frac_train: float, task_token: int) -> pd.DataFrame:
    """One row per run (``condition``, ``target``, ``seed``) whose target is commutative: its final
    weights' ``swapped_pair_accuracy`` on the target at ``task_token`` (``SWAPPED_COLUMNS``)."""
    rows = []
    commutative = {t: is_commutative(t, p) for t in {r.target for r in runs}}
    for r in runs:
        if commutative[r.target]:
            s = swapped_pair_accuracy(r.params(), r.target, p, r.seed, frac_train, task_token)
            rows.append({"condition": r.condition, "target": r.target, "seed": r.seed,
                         **dict(zip(SWAPPED_COLUMNS, (s.swapped_share, s.acc_swapped, s.acc_other)))})
    return pd.DataFrame(rows, columns=["condition", "target", "seed", *SWAPPED_COLUMNS])
