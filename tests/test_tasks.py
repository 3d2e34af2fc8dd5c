"""Runs with task tokens (issue 22): their data, the new token's column, the loss floor of replay
without a token, the trainer's watched test sets, and the runs in the study with their probes."""

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from grokpaper.analysis.probes import make_probes
from grokpaper.config import chapter_params
from grokpaper.core import batched
from grokpaper.core.data import make_split
from grokpaper.core.model import Transformer
from grokpaper.core.store import RunStore, config_key
from grokpaper.core.study import Study, StudySettings
from grokpaper.core.tasks import (
    DataSpec,
    TaskEntry,
    add_task_token,
    loss_floor,
    replay_count,
    replay_indices,
    task_split,
)
from grokpaper.core.train import ModelRun, train
from small_models import SMALL, random_params

ROOT = Path(__file__).resolve().parents[1]
P, SEED, FRAC = 11, 3, 0.5


# --- data --------------------------------------------------------------------------------------


def test_replay_makes_up_its_share_of_the_full_batch():
    for n, share in ((3830, 0.1), (60, 0.1), (60, 0.25)):
        k = replay_count(n, share)
        assert abs(k / (n + k) - share) <= 0.5 / (n + k)  # the closest integer to the share
    picked = replay_indices(50, 7, SEED)
    assert len(set(picked.tolist())) == 7 and picked.tolist() == sorted(picked.tolist())
    assert torch.equal(picked, replay_indices(50, 7, SEED)) and not torch.equal(picked, replay_indices(50, 7, SEED + 1))
    with pytest.raises(ValueError, match="lower replay_share"):
        replay_indices(5, 7, SEED)


def test_task_split_sequential_replay_multitask():
    sub, add = make_split("subtract", P, SEED, FRAC, task_token=1), make_split("add", P, SEED, FRAC)
    sequential = task_split(DataSpec(train=(TaskEntry("subtract", 1),), test=(TaskEntry("subtract", 1),),
                                     watch=(TaskEntry("add", 0),)), P, SEED, FRAC)
    assert torch.equal(sequential.train_x, sub.train_x) and torch.equal(sequential.test_y, sub.test_y)
    assert (sequential.train_x[:, 2] == P + 1).all()  # the new task's "=" token
    x, y = sequential.extra_tests["add"]
    assert torch.equal(x, add.test_x) and torch.equal(y, add.test_y) and (x[:, 2] == P).all()

    replay = task_split(DataSpec(train=(TaskEntry("subtract", 1), TaskEntry("add", 0, 0.25)),
                                 test=(TaskEntry("subtract", 1),)), P, SEED, FRAC)
    n, k = len(sub.train_y), replay_count(len(sub.train_y), 0.25)
    assert len(replay.train_y) == n + k and (replay.train_x[n:, 2] == P).all()
    a, b = replay.train_x[n:, 0], replay.train_x[n:, 1]
    assert torch.equal(replay.train_y[n:], (a + b) % P)  # addition's labels, from its training split
    train_rows = {tuple(r) for r in add.train_x.tolist()}
    assert all(tuple(r) in train_rows for r in replay.train_x[n:].tolist())

    both = (TaskEntry("subtract", 1), TaskEntry("add", 0))
    multi = task_split(DataSpec(train=both, test=both, watch=both), P, SEED, FRAC)
    assert len(multi.train_y) == 2 * n and len(multi.test_y) == len(sub.test_y) + len(add.test_y)
    assert set(multi.extra_tests) == {"subtract", "add"}


def test_data_spec_round_trip_and_errors():
    spec = DataSpec(train=(TaskEntry("multiply", 1), TaskEntry("add", 0, 0.1)), test=(TaskEntry("multiply", 1),),
                    watch=(TaskEntry("add", 0),))
    assert DataSpec.from_config(spec.as_config()) == spec and spec.n_task_tokens == 2
    with pytest.raises(ValueError, match="replay_share must be in"):
        TaskEntry("add", 0, 1.5)
    with pytest.raises(ValueError, match="task must be one of"):
        TaskEntry("power", 0)
    with pytest.raises(ValueError, match="malformed"):
        DataSpec.from_config({"train": [{"task": "add", "tok": 0}], "test": []})
    with pytest.raises(ValueError, match="train entry without replay_share first"):
        DataSpec.from_config({"train": [{"task": "add", "token": 0, "replay_share": 0.1}],
                              "test": [{"task": "add", "token": 0}]})


def test_loss_floor_of_replay_without_a_task_token():
    """The same [a, b, =] with the labels a - b and a + b: at best each is predicted with 1/2, so
    every conflicting pair of examples costs 2 ln 2; b = 0 is no conflict (a + 0 = a - 0)."""
    sub, add = make_split("subtract", P, SEED, FRAC), make_split("add", P, SEED, FRAC)
    assert loss_floor(sub.train_x, sub.train_y) == 0.0
    x, y = torch.cat([sub.train_x, add.train_x]), torch.cat([sub.train_y, add.train_y])
    conflicts = int((add.train_x[:, 1] != 0).sum())  # p odd: a + b = a - b only for b = 0
    assert loss_floor(x, y) == pytest.approx(2 * conflicts * math.log(2) / len(y), rel=1e-12)
    # An input three times, with labels 1, 1, 2: entropy of (2/3, 1/3), weighted 3/4; the fourth example is alone.
    x4 = torch.tensor([[0, 1, 5]] * 3 + [[1, 1, 5]])
    expected = 3 / 4 * -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))
    assert loss_floor(x4, torch.tensor([1, 1, 2, 0])) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="as many labels"):
        loss_floor(x4, torch.tensor([1]))


# --- the new token's column ----------------------------------------------------------------------


def test_new_token_copied_from_equals_computes_what_equals_did():
    params = random_params(SMALL, 0)
    grown = add_task_token(params, "copy")
    cfg2 = dataclasses.replace(SMALL, n_task_tokens=2)
    assert grown["embed.W_E"].shape == (SMALL.d_model, P + 2)
    assert all(torch.equal(grown[k], params[k]) for k in params if k not in ("embed.W_E", "unembed.W_U"))
    old, new = Transformer(SMALL, params), Transformer(cfg2, grown)
    pairs = make_split("add", P, SEED, FRAC)
    with torch.no_grad():
        before = old(pairs.test_x)[:, -1]
        after = new(make_split("add", P, SEED, FRAC, task_token=1).test_x)[:, -1]
        same_token = new(pairs.test_x)[:, -1]
    assert torch.allclose(after[:, : P + 1], before, atol=1e-6) and torch.allclose(after[:, P + 1], before[:, P])
    assert torch.allclose(same_token[:, : P + 1], before, atol=1e-6)
    drawn = add_task_token(params, "random", torch.Generator().manual_seed(1))
    assert not torch.equal(drawn["embed.W_E"][:, -1], params["embed.W_E"][:, -1])
    with pytest.raises(ValueError, match="seeded generator"):
        add_task_token(params, "random")
    with pytest.raises(ValueError, match="new token init"):
        add_task_token(params, "zeros")


# --- the trainer's watched test sets ---------------------------------------------------------------


def _run(split, name="run"):
    return ModelRun(name=name, split=split, init=add_task_token(random_params(SMALL, 1), "copy"), max_epochs=30)


def test_watched_test_sets_leave_training_unchanged_and_are_measured():
    cfg2 = dataclasses.replace(SMALL, n_task_tokens=2)
    spec = DataSpec(train=(TaskEntry("subtract", 1), TaskEntry("add", 0, 0.2)), test=(TaskEntry("subtract", 1),),
                    watch=(TaskEntry("add", 0),))
    watched = task_split(spec, P, SEED, FRAC)
    plain = dataclasses.replace(watched, extra_tests={})
    with_watch, = train([_run(watched)], cfg2, eval_every=10, progress=False, device="cpu")
    without, = train([_run(plain)], cfg2, eval_every=10, progress=False, device="cpu")
    assert all(torch.equal(with_watch.params[k], without.params[k]) for k in with_watch.params)
    assert with_watch.curve["test_acc"] == without.curve["test_acc"]
    assert "test_acc_add" in with_watch.curve and "test_acc_add" not in without.curve
    x, y = watched.extra_tests["add"]
    stacked = batched.stack([with_watch.params])
    _, accuracy = batched.loss_and_accuracy(batched.logits_at_eq(stacked, x[None], cfg2), y[None])
    assert with_watch.curve["test_acc_add"][-1] == float(accuracy[0])
    other = dataclasses.replace(watched, extra_tests={"multiply": watched.extra_tests["add"]})
    with pytest.raises(ValueError, match="the same extra test sets"):
        train([_run(watched, "a"), _run(other, "b")], cfg2, progress=False, device="cpu")


# --- the runs in the study -------------------------------------------------------------------------


def _settings(**kw):
    smoke = StudySettings.from_params(chapter_params("01-sources", ROOT / "params" / "smoke.yaml"))
    base = dict(p=11, seeds=(1, 2), frac_train=0.7, lr=3e-3, grokked_max_epochs=60, grokked_hold_epochs=10,
                memorized_fixed_epochs=20, transfer_max_epochs=40, checkpoint_every=20, device="cpu",
                probe_hold_epochs=10, probe_dense_until=20, probe_per_decade=10, probe_min_neurons=1,
                task_max_epochs=40, random_table_max_epochs=30, ill_posed_epochs=30,
                similarity_targets=("subtract", "multiply"))
    return dataclasses.replace(smoke, **{**base, **kw})


def test_task_designs_and_configs():
    s = _settings()
    designs = s.task_designs()
    assert ("similarity", "grokked", "subtract") not in designs  # the sequential runs are that pair
    assert ("similarity", "random", "multiply") in designs and ("multitask", "scratch", "subtract") in designs
    assert s.task_seeds("replay-no-token") == (1,) and s.task_seeds("replay") == (1, 2)
    config = s.task_config(1, "sequential", "grokked")
    assert config["model"]["n_task_tokens"] == 2 and config["init"]["new_token"] == "copy"
    assert config["probes"]["tokens"] == {"subtract": 1, "add": 0} and config["probes"]["furuta"] is True
    drawn = s.task_config(1, "new-token-random", "grokked")["init"]
    assert drawn["new_token"] == "random" and drawn["new_token_seed"] != 1  # a stream of its own, not the init's
    ill_posed = s.task_config(1, "replay-no-token", "grokked")
    assert ill_posed["model"]["n_task_tokens"] == 1 and "new_token" not in ill_posed["init"]
    assert ill_posed["stop"] == [] and "probes" not in ill_posed
    assert s.task_config(1, "similarity", "random", "multiply")["max_epochs"] == 40
    # the study's runs keep their keys: no probe spec of theirs gains a tokens entry
    assert not {"tokens", "furuta"} & set(s.probe_transfer_config(1, "grokked")["probes"])
    with pytest.raises(ValueError, match="no task-token run"):
        s.task_config(1, "similarity", "memorized", "multiply")


def test_task_runs_train_with_probes_at_each_token(tmp_path):
    study = Study(_settings(), RunStore(tmp_path), progress=False, probes=make_probes)
    runs = study.task_runs([("sequential", "grokked", "subtract"), ("replay-no-token", "grokked", "subtract"),
                            ("similarity", "random", "multiply")])
    assert [(r.experiment, r.seed) for r in runs] == [("sequential", 1), ("sequential", 2), ("replay-no-token", 1),
                                                     ("similarity", 1), ("similarity", 2)]
    sequential = runs[0]
    probes, curve = sequential.stored.probes, sequential.curve
    # the probes read addition at its own token: the curve's watched addition test set, the same numbers
    both = probes.merge(curve, on="epoch")
    assert np.allclose(both["other_test_acc"], both["test_acc_add"], atol=1e-12)
    assert sequential.params()["embed.W_E"].shape[1] == 11 + 2
    # the multiply run has no subtraction token: its subtraction template measures are blank
    assert runs[3].stored.probes["full_loss_subtract_all"].isna().all()
    assert runs[3].stored.probes["full_loss_add_all"].notna().all()
    # asked again, the runs come from the store
    again = study.task_runs([("sequential", "grokked", "subtract")])
    assert again[0].stored.key == sequential.stored.key == config_key(study.settings.task_config(1, "sequential",
                                                                                                 "grokked"))
    ill_posed = runs[2]
    assert ill_posed.result["epochs_trained"] == 30 and "test_acc_add" in ill_posed.curve


def test_guaranteed_threshold_and_common_epoch():
    from grokpaper.paper import task_tokens as tt

    # both tasks' test sets pooled at 99.9 %: each task alone is at least 99.8 %, so 99 % is sure, 99.9 % is not
    assert tt.guaranteed_threshold([0.9, 0.95, 0.99, 0.999], 0.999, 2000, 1000) == 0.99
    assert tt.guaranteed_threshold([0.999], 0.999, 2000, 1000) is None
    assert tt.guaranteed_threshold([0.9, 0.999], 0.999, 1000, 1000) == 0.999  # one task alone: the top itself
    import pandas as pd

    short = pd.DataFrame({"epoch": [0, 10, 20], "test_acc_add": [1.0, 0.5, 0.4]})
    long = pd.DataFrame({"epoch": [0, 10, 20, 30], "test_acc_add": [1.0, 0.9, 0.8, 0.7]})
    values = tt.at_common_epoch({"a": {1: short}, "b": {1: long, 2: long}}, "test_acc_add")
    assert values == {"a": {1: 0.4}, "b": {1: 0.8}}  # seed 1 at epoch 20, the earlier stop; seed 2 has no pair
