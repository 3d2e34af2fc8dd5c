"""Tasks, inputs and seeded train/test splits.

Every input is the token sequence ``[a, b, =]`` with numbers 0..p-1 and "=" = p. A seed's
split is the original code's: Python ``random.seed(seed)`` shuffles the list of pairs in
row-major order and the first ``int(frac * n)`` pairs are the training set. The split
depends only on (p, seed, frac, pair set), so the addition source and the subtraction
transfer run of one seed see the same training pairs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np
import torch

# The tasks are named once, in the profiles' schema (a task a profile may name); ``labels`` implements each.
from grokpaper.config import TASKS, is_prime


def check_task(task: str, p: int) -> None:
    """One clear error for a task or modulus that cannot work, before anything runs."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}; got {task!r}")
    if not isinstance(p, int) or isinstance(p, bool) or p < 3:
        raise ValueError(f"p must be an integer >= 3, got {p!r}")
    if task == "divide" and not is_prime(p):
        raise ValueError(f"task 'divide' needs a prime p (b must have an inverse mod p); got p={p}")


def all_pairs(p: int, task: str = "add") -> np.ndarray:
    """All (a, b) pairs of the task in row-major order, shape (n, 2). Divide drops b = 0."""
    a, b = np.divmod(np.arange(p * p), p)
    pairs = np.stack([a, b], axis=1)
    return pairs[pairs[:, 1] != 0] if task == "divide" else pairs


def labels(task: str, pairs: np.ndarray, p: int, table_seed: int = 0) -> np.ndarray:
    """Targets (a op b) mod p for each pair. ``table_seed`` fixes the 'random' task's table."""
    check_task(task, p)
    a, b = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
    if task == "add":
        return (a + b) % p
    if task == "subtract":
        return (a - b) % p
    if task == "multiply":
        return (a * b) % p
    if task == "divide":
        return (a * np.array([pow(int(x), -1, p) for x in b])) % p
    if task == "x2xyy2":
        return (a * a + a * b + b * b) % p
    table = np.random.default_rng(table_seed).integers(0, p, size=(p, p))  # task == "random"
    return table[a, b]


def split_indices(n: int, seed: int, frac_train: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices into the row-major pair list: (train, test), drawn as the original code did."""
    if not 0 < frac_train < 1:
        raise ValueError(f"frac_train must be strictly between 0 and 1, got {frac_train!r}")
    order = list(range(n))
    random.Random(seed).shuffle(order)  # same permutation as random.seed(seed); random.shuffle(...)
    cut = int(frac_train * n)
    return np.array(order[:cut]), np.array(order[cut:])


def tokens(pairs: np.ndarray, p: int, task_token: int = 0) -> torch.Tensor:
    """Model inputs [a, b, =] as a (n, 3) long tensor; "=" is token p + task_token."""
    eq = np.full((len(pairs), 1), p + task_token)
    return torch.from_numpy(np.concatenate([pairs, eq], axis=1).astype(np.int64))


@dataclass
class Split:
    """One task's data for one seed: inputs and targets of the train and test sets."""

    task: str
    p: int
    train_x: torch.Tensor  # (n_train, 3) tokens
    train_y: torch.Tensor  # (n_train,)
    test_x: torch.Tensor
    test_y: torch.Tensor
    train_pairs: np.ndarray  # (n_train, 2)
    test_pairs: np.ndarray
    # Further test sets evaluated with the test set, by name: (inputs, targets). A run with task
    # tokens watches its other tasks here (``grokpaper.core.tasks``); the study's runs have none.
    extra_tests: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)


def make_split(task: str, p: int, seed: int, frac_train: float = 0.3, table_seed: int = 0, task_token: int = 0) -> Split:
    """The seeded train/test split of a task (see module docstring)."""
    check_task(task, p)
    pairs = all_pairs(p, task)
    y = labels(task, pairs, p, table_seed)
    train, test = split_indices(len(pairs), seed, frac_train)
    return Split(
        task=task, p=p,
        train_x=tokens(pairs[train], p, task_token), train_y=torch.from_numpy(y[train]),
        test_x=tokens(pairs[test], p, task_token), test_y=torch.from_numpy(y[test]),
        train_pairs=pairs[train], test_pairs=pairs[test],
    )
