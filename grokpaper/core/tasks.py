"""Runs that tell the model its task (issue 22): task tokens, replay, multi-task training and the
task-similarity gradient.

The main study feeds both tasks the same input ``[a, b, =]``, so a transferred model cannot keep
addition: the same input would need two answers. Here every task has its own "=" token (token
``p + t`` for task token t; the vocabulary grows by one per task), and a run says which tasks it
trains on and which it watches:

* **Training data** (``DataSpec.train``): each entry is a task with its token. An entry without
  ``replay_share`` is the task's whole training split of the seed; an entry with it is *replay*:
  a fixed, seeded subset of that task's training split, sized so that it makes up
  ``replay_share`` of the full batch (``replay_count``). The loss is the mean cross-entropy over
  every example of the full batch, each weighted 1, so the replayed task carries ``replay_share``
  of the loss.
* **Test data** (``DataSpec.test``): the tasks' test splits, concatenated; the run's test accuracy
  (its stop rule, its thresholds) is measured on it.
* **Watched tasks** (``DataSpec.watch``): further test sets measured at every evaluation, each in
  the curve as ``test_loss_<task>`` and ``test_acc_<task>`` (addition's retention, each task of a
  multi-task run).

Every task's split is the study's split of the seed (``data.make_split``): it depends only on
(p, seed, frac_train), so a seed's addition and subtraction runs see the same training pairs,
and the 'random' task's table is the fixed table of ``table_seed`` 0 for every seed.

A model with a new task token starts from a 114-token model (p = 113): the seed's grokked or
memorized source, or its random init (the weights that source started from), with one column
added to W_E and W_U for the new token (``add_task_token``): a copy of the "=" column, or a
fresh draw at the init's scale.

Replay *without* a task token gives the same input two labels (a + b and a - b for the same
[a, b, =]); ``loss_floor`` computes the lowest mean cross-entropy any model can reach on such
data: the labels' entropy per input, weighted by how often the input occurs. It is > 0 whenever
an input carries two labels, so that design cannot reach zero training loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from grokpaper.config import TASKS
from grokpaper.core.data import Split, make_split

NEW_TOKEN_INITS = ("copy", "random")


@dataclass(frozen=True)
class TaskEntry:
    """One task of a run's data, with its "=" token; ``replay_share``: the share of the full batch
    its replayed examples make up (None: its whole split)."""

    task: str
    token: int
    replay_share: float | None = None

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}; got {self.task!r}")
        if isinstance(self.token, bool) or not isinstance(self.token, int) or self.token < 0:
            raise ValueError(f"task {self.task}: token must be an integer >= 0, got {self.token!r}")
        if self.replay_share is not None and not 0 < self.replay_share < 1:
            raise ValueError(f"task {self.task}: replay_share must be in (0, 1), got {self.replay_share!r}")


@dataclass(frozen=True)
class DataSpec:
    """What a run trains on, is tested on and watches (module docstring); ``from_config`` reads
    the ``data`` section of a run config."""

    train: tuple[TaskEntry, ...]
    test: tuple[TaskEntry, ...]
    watch: tuple[TaskEntry, ...] = field(default_factory=tuple)

    @classmethod
    def from_config(cls, data: dict) -> "DataSpec":
        try:
            spec = cls(**{part: tuple(TaskEntry(**entry) for entry in data.get(part, ()))
                          for part in ("train", "test", "watch")})
        except TypeError as err:
            raise ValueError(f"run config 'data' is malformed ({err}); each entry is "
                             "{task, token[, replay_share]}") from None
        if not spec.train or not spec.test or spec.train[0].replay_share is not None:
            raise ValueError("run config 'data' needs a train entry without replay_share first, and a test entry")
        names = [entry.task for entry in spec.watch]
        if len(set(names)) != len(names):
            raise ValueError(f"run config 'data': watched tasks must differ, got {names}")
        return spec

    def as_config(self) -> dict:
        """The ``data`` section of a run config (part of its store key)."""
        def entry(e: TaskEntry) -> dict:
            return {"task": e.task, "token": e.token, **({} if e.replay_share is None else
                                                          {"replay_share": e.replay_share})}
        return {part: [entry(e) for e in getattr(self, part)] for part in ("train", "test", "watch")}

    @property
    def n_task_tokens(self) -> int:
        """How many "=" tokens the model needs: one more than the highest token named."""
        return 1 + max(e.token for e in (*self.train, *self.test, *self.watch))


def replay_count(n_train: int, share: float) -> int:
    """How many replayed examples make up ``share`` of a full batch that also holds ``n_train``
    examples of the task being learned: k / (n_train + k) = share, rounded."""
    return round(share * n_train / (1 - share))


def replay_indices(n_available: int, count: int, seed: int) -> torch.Tensor:
    """The fixed replay subset: the first ``count`` of a permutation of the source task's
    ``n_available`` training examples, drawn from a generator seeded with the run's seed (sorted,
    so the batch keeps the split's order)."""
    if count > n_available:
        raise ValueError(f"replay needs {count} examples but the source task's training split holds "
                         f"{n_available}; lower replay_share")
    order = torch.randperm(n_available, generator=torch.Generator().manual_seed(seed))
    return order[:count].sort().values


def task_split(spec: DataSpec, p: int, seed: int, frac_train: float) -> Split:
    """The data of a run with task tokens (module docstring). Its ``train_pairs`` and
    ``test_pairs`` are the first train entry's (the probes' task); ``extra_tests`` holds the
    watched tasks' test sets, by task name."""
    splits = {(e.task, e.token): make_split(e.task, p, seed, frac_train, task_token=e.token)
              for e in (*spec.train, *spec.test, *spec.watch)}
    first = splits[(spec.train[0].task, spec.train[0].token)]
    train_x, train_y = [], []
    for entry in spec.train:
        split = splits[(entry.task, entry.token)]
        if entry.replay_share is None:
            train_x.append(split.train_x)
            train_y.append(split.train_y)
            continue
        keep = replay_indices(len(split.train_y), replay_count(len(first.train_y), entry.replay_share), seed)
        train_x.append(split.train_x[keep])
        train_y.append(split.train_y[keep])
    tests = [splits[(e.task, e.token)] for e in spec.test]
    return Split(
        task=first.task, p=p,
        train_x=torch.cat(train_x), train_y=torch.cat(train_y),
        test_x=torch.cat([s.test_x for s in tests]), test_y=torch.cat([s.test_y for s in tests]),
        train_pairs=first.train_pairs, test_pairs=first.test_pairs,
        extra_tests={e.task: (splits[(e.task, e.token)].test_x, splits[(e.task, e.token)].test_y)
                     for e in spec.watch},
    )


def add_task_token(params: dict[str, torch.Tensor], how: str, generator: torch.Generator | None = None
                   ) -> dict[str, torch.Tensor]:
    """``params`` with one more task token: a column appended to W_E and W_U (the rest unchanged).
    ``copy``: the last "=" column copied (the new task starts where the old one's "=" was);
    ``random``: drawn as the init draws them (randn / sqrt(d_model) for W_E, randn / sqrt(d_vocab)
    for W_U, with the new d_vocab), from ``generator``."""
    if how not in NEW_TOKEN_INITS:
        raise ValueError(f"new token init must be one of {', '.join(NEW_TOKEN_INITS)}; got {how!r}")
    if how == "random" and generator is None:
        raise ValueError("a random new-token column needs a seeded generator")
    out = {name: value.detach().clone() for name, value in params.items()}
    d_model, d_vocab = out["embed.W_E"].shape
    for name in ("embed.W_E", "unembed.W_U"):
        if how == "copy":
            column = out[name][:, -1:]
        else:
            scale = math.sqrt(d_model if name == "embed.W_E" else d_vocab + 1)
            column = (torch.randn(d_model, 1, generator=generator) / scale).to(out[name].dtype)
        out[name] = torch.cat([out[name], column], dim=1)
    return out


def loss_floor(train_x: torch.Tensor, train_y: torch.Tensor) -> float:
    """The lowest mean cross-entropy any model can reach on (inputs, labels): a model can at best
    predict, for each distinct input x, its empirical label distribution q_x, so the floor is
    sum_x (n_x / N) H(q_x) in nats. Zero exactly when no input carries two different labels."""
    if len(train_x) != len(train_y) or len(train_x) == 0:
        raise ValueError(f"loss_floor needs as many labels as inputs (> 0); got {len(train_x)} and {len(train_y)}")
    rows = torch.cat([train_x, train_y[:, None]], dim=1)
    pairs, counts = torch.unique(rows, dim=0, return_counts=True)
    inputs, per_input = torch.unique(pairs[:, :-1], dim=0, return_inverse=True)
    totals = torch.zeros(len(inputs), dtype=torch.float64).index_add_(0, per_input, counts.double())
    q = counts.double() / totals[per_input]
    # sum over (input, label) of n_{x,y} * (-log q_{x,y}) / N: the entropy of each input's labels, weighted.
    return float((counts.double() * -torch.log(q)).sum() / len(train_y))
