"""Core: data, reference model, fast batched path, trainer, run store, study conditions."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from grokpaper.config import chapter_params
from grokpaper.core import batched, data
from grokpaper.core.model import ModelConfig, Transformer, init_params, load_checkpoint, save_checkpoint
from grokpaper.core.store import RunStore, config_key
from grokpaper.core.study import CONDITIONS, Study, StudySettings
from grokpaper.core.train import Event, ModelRun, train
from reference_data import CHECKPOINT, REFERENCE, needs_original_values


def rel_err(a, b):
    return ((a - b).norm() / b.norm()).item()


def fresh_params(cfg, seed, dtype=torch.float32):
    return {k: v.to(dtype) for k, v in init_params(cfg, torch.Generator().manual_seed(seed)).items()}


# --- data ---------------------------------------------------------------------------------


def test_split_sizes_and_same_pairs_across_tasks():
    add = data.make_split("add", 113, seed=42)
    sub = data.make_split("subtract", 113, seed=42)
    assert (len(add.train_x), len(add.test_x)) == (3830, 8939)
    assert np.array_equal(add.train_pairs, sub.train_pairs)  # a seed's split is one pair set
    a, b = add.test_pairs.T
    assert torch.equal(add.test_y, torch.from_numpy((a + b) % 113))
    assert torch.equal(sub.test_y, torch.from_numpy((a - b) % 113))
    assert (add.train_x[:, 2] == 113).all()  # "=" is token p


def test_split_is_the_original_python_random_shuffle():
    import random

    pairs = [(i, j) for i in range(23) for j in range(23)]
    random.seed(5)
    random.shuffle(pairs)
    split = data.make_split("add", 23, seed=5, frac_train=0.3)
    assert [tuple(x) for x in split.train_pairs] == pairs[: int(0.3 * len(pairs))]


def test_other_tasks():
    p = 13
    pairs = data.all_pairs(p, "divide")
    assert (pairs[:, 1] != 0).all() and len(pairs) == p * (p - 1)
    y = data.labels("divide", pairs, p)
    assert ((y * pairs[:, 1]) % p == pairs[:, 0]).all()
    assert (data.labels("x2xyy2", pairs, p) == (pairs[:, 0] ** 2 + pairs[:, 0] * pairs[:, 1] + pairs[:, 1] ** 2) % p).all()
    assert np.array_equal(data.labels("random", pairs, p, 3), data.labels("random", pairs, p, 3))
    assert not np.array_equal(data.labels("random", pairs, p, 3), data.labels("random", pairs, p, 4))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: data.make_split("modulo", 23, 1), "task must be one of add, subtract"),
        (lambda: data.make_split("add", 2, 1), "p must be an integer >= 3"),
        (lambda: data.make_split("divide", 21, 1), "needs a prime p"),
        (lambda: data.make_split("add", 23, 1, frac_train=1.0), "frac_train must be strictly between 0 and 1"),
        (lambda: data.make_split("add", 23, 1, frac_train=0), "frac_train must be strictly between 0 and 1"),
    ],
)
def test_bad_data_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- reference model and checkpoints ------------------------------------------------------


def test_parameter_count_and_seeded_init_matches_global_seed():
    cfg = ModelConfig()
    torch.manual_seed(7)
    original_style = Transformer(cfg)  # the original: torch.manual_seed(s); Transformer(cfg)
    assert sum(p.numel() for p in original_style.parameters()) == 226_816  # not "~67k"
    ours = fresh_params(cfg, 7)
    assert all(torch.equal(ours[k], v) for k, v in original_style.params().items())


@needs_original_values
def test_reference_checkpoint_accuracy_and_logits():
    params, cfg = load_checkpoint(CHECKPOINT)
    model = Transformer(cfg, params)
    x = data.tokens(data.all_pairs(113), 113)
    with torch.no_grad():
        logits = model(x)[:, -1]
    y = torch.from_numpy(data.labels("add", data.all_pairs(113), 113))
    assert (logits[:, :113].argmax(-1) == y).float().mean().item() == 1.0
    summary = json.loads((REFERENCE / "nanda_wd0.1_addition.summary.json").read_text())
    for point in summary["logits_at"]:
        row = logits[point["a"] * 113 + point["b"]]
        assert row.argmax().item() == point["argmax"]
        assert row.max().item() == pytest.approx(point["logit_max"], rel=1e-5)
    # The fast path agrees on the real grokked network too.
    fast = batched.logits_at_eq(batched.stack([params]), x[None], cfg)[0]
    assert rel_err(fast, logits) < 1e-5


def test_checkpoint_round_trip_is_exact(tmp_path):
    cfg = ModelConfig(p=23)
    params = fresh_params(cfg, 3)
    save_checkpoint(tmp_path / "m.safetensors", params, cfg, {"note": "x"})
    loaded, loaded_cfg = load_checkpoint(tmp_path / "m.safetensors")
    assert loaded_cfg == cfg
    assert all(torch.equal(loaded[k], params[k]) for k in params)


def test_checkpoint_shape_mismatch_is_a_clear_error(tmp_path):
    save_checkpoint(tmp_path / "p97.safetensors", fresh_params(ModelConfig(p=97), 1), ModelConfig(p=97))
    with pytest.raises(ValueError, match=r"embed.W_E has shape \(128, 98\).*p=113"):
        load_checkpoint(tmp_path / "p97.safetensors", ModelConfig(p=113))


# --- fast path == reference ---------------------------------------------------------------


def _reference_logits_and_grads(cfg, params, tokens, labels):
    model = Transformer(cfg, params).to(next(iter(params.values())).dtype)
    logits = model(tokens)[:, -1]
    F.cross_entropy(logits.double(), labels).backward()
    return logits.detach(), {k: p.grad for k, p in model.params().items()}


def _fast_logits_and_grads(cfg, param_list, tokens, labels):
    stacked = {k: v.clone().requires_grad_() for k, v in batched.stack(param_list).items()}
    logits = batched.logits_at_eq(stacked, tokens, cfg)
    loss, _ = batched.loss_and_accuracy(logits, labels)
    loss.sum().backward()  # models are independent: d(sum)/d(model i) = d(loss i)/d(model i)
    return logits.detach(), {k: v.grad for k, v in stacked.items()}


@pytest.mark.parametrize("n_models", [1, 3])
def test_fast_path_equals_reference_float32(n_models):
    """Fresh random weights and inputs, each model its own inputs; logits and all gradients.

    Batches are moderate (256 inputs per model) on purpose: two float32 implementations
    that sum in a different order disagree when a pre-activation sits within rounding of
    ReLU's kink, and the chance of that grows with the batch. The float64 test below checks
    full-size splits, where rounding cannot hide a real difference.
    """
    cfg = ModelConfig(p=31)
    gen = torch.Generator().manual_seed(1234)
    params = [fresh_params(cfg, 100 + i) for i in range(n_models)]
    tokens = torch.stack([data.tokens(torch.randint(0, 31, (256, 2), generator=gen).numpy(), 31) for _ in params])
    labels = torch.randint(0, cfg.d_vocab, (n_models, 256), generator=gen)
    fast_logits, fast_grads = _fast_logits_and_grads(cfg, params, tokens, labels)
    for i in range(n_models):
        ref_logits, ref_grads = _reference_logits_and_grads(cfg, params[i], tokens[i], labels[i])
        assert rel_err(fast_logits[i], ref_logits) < 1e-5
        for name, grad in ref_grads.items():
            assert rel_err(fast_grads[name][i], grad) < 1e-5, name


def test_fast_path_equals_reference_float64_on_full_splits():
    cfg = ModelConfig(p=113)
    splits = [data.make_split("add", 113, s) for s in (1, 2)]
    params = [fresh_params(cfg, s, torch.float64) for s in (1, 2)]
    tokens = torch.stack([s.train_x for s in splits])
    labels = torch.stack([s.train_y for s in splits])
    fast_logits, fast_grads = _fast_logits_and_grads(cfg, params, tokens, labels)
    for i in range(2):
        ref_logits, ref_grads = _reference_logits_and_grads(cfg, params[i], tokens[i], labels[i])
        assert rel_err(fast_logits[i], ref_logits) < 1e-12
        assert max(rel_err(fast_grads[k][i], g) for k, g in ref_grads.items()) < 1e-10


def test_fast_path_with_several_task_tokens():
    """Multi-task inputs: the "=" token differs per example (one per task)."""
    cfg = ModelConfig(p=17, n_task_tokens=2)
    params = fresh_params(cfg, 9)
    gen = torch.Generator().manual_seed(0)
    pairs = torch.randint(0, 17, (64, 2), generator=gen)
    eq = 17 + torch.randint(0, 2, (64, 1), generator=gen)
    tokens = torch.cat([pairs, eq], dim=1)
    with torch.no_grad():
        ref = Transformer(cfg, params)(tokens)[:, -1]
        fast = batched.logits_at_eq(batched.stack([params]), tokens[None], cfg)[0]
    assert rel_err(fast, ref) < 1e-6


# --- trainer ------------------------------------------------------------------------------


def _runs(cfg, seeds, max_epochs, task="add", **kw):
    return [
        ModelRun(f"s{s}", data.make_split(task, cfg.p, s), fresh_params(cfg, s), max_epochs=max_epochs, **kw)
        for s in seeds
    ]


def test_trainer_equals_reference_training_loop():
    """Each model of a batch follows the original loop: torch AdamW + LambdaLR(min(step/10, 1))."""
    cfg = ModelConfig(p=23)
    runs = _runs(cfg, (1, 2), max_epochs=30)
    outcomes = train(runs, cfg, eval_every=10, progress=False, device="cpu")
    for run, outcome in zip(runs, outcomes):
        model = Transformer(cfg, run.init)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98), eps=1e-8)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(step / 10, 1))
        losses = []
        for _ in range(30):
            loss = F.cross_entropy(model(run.split.train_x)[:, -1].double(), run.split.train_y)
            losses.append(loss.item())
            loss.backward()
            opt.step()
            sched.step()
            opt.zero_grad()
        assert max(rel_err(outcome.params[k], p.detach()) for k, p in model.params().items()) < 1e-5
        assert outcome.curve["epoch"] == [0, 10, 20, 30]
        assert outcome.curve["train_loss"][:3] == pytest.approx([losses[0], losses[10], losses[20]], rel=1e-5)


def test_stop_rules_are_per_model_and_do_not_disturb_others():
    cfg = ModelConfig(p=23)
    short, long = _runs(cfg, (1,), 20) + _runs(cfg, (2,), 50)
    together = train([short, long], cfg, eval_every=10, progress=False, device="cpu")
    alone_short = train(_runs(cfg, (1,), 20), cfg, eval_every=10, progress=False, device="cpu")[0]
    alone_long = train(_runs(cfg, (2,), 50), cfg, eval_every=10, progress=False, device="cpu")[0]
    assert together[0].epochs_trained == 20 and together[1].epochs_trained == 50
    for a, b in ((together[0], alone_short), (together[1], alone_long)):
        assert max(rel_err(a.params[k], b.params[k]) for k in a.params) < 1e-6
        assert a.curve["epoch"] == b.curve["epoch"]


def test_events_stop_and_snapshot():
    cfg = ModelConfig(p=23)
    runs = _runs(
        cfg, (1,), 400, stop_events=(Event.reached("train_acc", 1.0, hold=30),),
        snapshot_events={"first_full_train": Event.reached("train_acc", 1.0), "at15": Event.at_epoch(15)},
    )
    outcome = train(runs, cfg, eval_every=10, progress=False, device="cpu")[0]
    first = outcome.snapshots["first_full_train"]["epoch"]
    assert outcome.snapshots["first_full_train"]["train_acc"] == 1.0
    assert outcome.snapshots["at15"]["epoch"] == 15  # an event forces an evaluation at its epoch
    assert outcome.stop_reason == "train_acc >= 1 held 30 epochs"
    assert outcome.epochs_trained >= first + 30
    curve = dict(zip(outcome.curve["epoch"], outcome.curve["train_acc"]))
    assert all(curve[e] == 1.0 for e in range(outcome.epochs_trained - 30, outcome.epochs_trained + 1, 10))


def test_same_seed_same_result_different_seed_different():
    cfg = ModelConfig(p=23)
    a = train(_runs(cfg, (4,), 20), cfg, progress=False, device="cpu")[0]
    b = train(_runs(cfg, (4,), 20), cfg, progress=False, device="cpu")[0]
    assert all(torch.equal(a.params[k], b.params[k]) for k in a.params) and a.curve == b.curve
    assert not np.array_equal(data.make_split("add", 23, 4).train_pairs, data.make_split("add", 23, 5).train_pairs)
    assert not torch.equal(fresh_params(cfg, 4)["embed.W_E"], fresh_params(cfg, 5)["embed.W_E"])


def test_interrupted_training_resumes_bit_identical(tmp_path, monkeypatch):
    cfg = ModelConfig(p=23)

    def make():
        return _runs(cfg, (1,), 35) + _runs(cfg, (2,), 60, snapshot_events={"full": Event.reached("train_acc", 1.0)})

    reference = train(make(), cfg, eval_every=5, progress=False, device="cpu")

    real_forward, calls = batched.logits_at_eq, {"n": 0}

    def dying_forward(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 70:  # past the first model's stop and two checkpoints
            raise KeyboardInterrupt("simulated kill")
        return real_forward(*args, **kwargs)

    resume = tmp_path / "batch.pt"
    monkeypatch.setattr(batched, "logits_at_eq", dying_forward)
    with pytest.raises(KeyboardInterrupt):
        train(make(), cfg, eval_every=5, progress=False, device="cpu", resume_path=resume, checkpoint_every=20)
    assert resume.exists()
    monkeypatch.setattr(batched, "logits_at_eq", real_forward)
    resumed = train(make(), cfg, eval_every=5, progress=False, device="cpu", resume_path=resume, checkpoint_every=20)
    assert not resume.exists()  # removed once the batch is finished
    for a, b in zip(reference, resumed):
        assert all(torch.equal(a.params[k], b.params[k]) for k in a.params)
        assert a.curve == b.curve and a.stop_reason == b.stop_reason
        assert a.snapshots.keys() == b.snapshots.keys()
        for name in a.snapshots:
            assert all(torch.equal(a.snapshots[name]["params"][k], b.snapshots[name]["params"][k]) for k in a.params)


def test_nan_loss_stops_that_run_with_an_error_and_others_continue():
    cfg = ModelConfig(p=23)
    runs = _runs(cfg, (1, 2), 20)
    runs[0].init["unembed.W_U"][0, 0] = float("nan")
    bad, good = train(runs, cfg, progress=False, device="cpu")
    assert bad.failed and "not finite at epoch 0" in bad.stop_reason and "s1" in bad.stop_reason
    assert not good.failed and good.epochs_trained == 20


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda runs: runs.clear(), "at least one model"),
        (lambda runs: setattr(runs[0], "max_epochs", 0), "max_epochs must be a positive integer"),
        (lambda runs: setattr(runs[0], "max_epochs", -5), "max_epochs must be a positive integer"),
        (lambda runs: runs[0].init.__setitem__("embed.W_E", torch.zeros(128, 98)), r"run s1: checkpoint parameter embed.W_E"),
        (lambda runs: setattr(runs[1], "split", data.make_split("add", 23, 2, 0.5)), "equal train/test sizes"),
    ],
)
def test_bad_trainer_input_fails_before_compute(mutate, message):
    cfg = ModelConfig(p=23)
    runs = _runs(cfg, (1, 2), 10)
    mutate(runs)
    with pytest.raises(ValueError, match=message):
        train(runs, cfg, progress=False, device="cpu")


# --- store and study ----------------------------------------------------------------------


SMOKE = StudySettings.from_params(chapter_params("01-sources", Path(__file__).parents[1] / "params" / "smoke.yaml"))


def _settings(**kw):
    """Small study settings: the smoke profile's values with ``kw`` (and a few more) replaced."""
    base = dict(p=11, seeds=(1, 2), frac_train=0.7, lr=3e-3, grokked_max_epochs=60, grokked_hold_epochs=10,
                memorized_fixed_epochs=20, transfer_max_epochs=30, checkpoint_every=20, device="cpu")
    return dataclasses.replace(SMOKE, **{**base, **kw})


def test_study_trains_once_then_reads_the_store(tmp_path, monkeypatch):
    store = RunStore(tmp_path)
    study = Study(_settings(), store, progress=False)
    runs = study.transfers()
    assert {(r.seed, r.condition) for r in runs} == {(s, c) for s in (1, 2) for c in CONDITIONS}
    sources = study.sources()
    assert {"memorized", "fixed"} <= set(sources[1].result["snapshots"])
    # Random init is the seed's source init; grokked init is the source's final weights.
    random_run = next(r for r in runs if (r.seed, r.condition) == (1, "random"))
    assert random_run.stored.config["init"] == {"random": 1}
    grokked_run = next(r for r in runs if (r.seed, r.condition) == (1, "grokked"))
    assert grokked_run.stored.config["init"]["from_run"] == sources[1].key

    import grokpaper.core.study

    monkeypatch.setattr(grokpaper.core.study, "train", lambda *a, **k: pytest.fail("trained a stored run again"))
    again = Study(_settings(), store, progress=False).transfers()
    assert [r.stored.key for r in again] == [r.stored.key for r in runs]
    assert all(a.curve.equals(b.curve) for a, b in zip(again, runs))


def test_config_key_changes_with_any_field():
    s = _settings()
    assert config_key(s.source_config(1)) == config_key(_settings().source_config(1))
    assert config_key(s.source_config(1)) != config_key(_settings(lr=1e-3).source_config(1))
    assert config_key(s.source_config(1)) != config_key(s.source_config(2))


def test_store_write_is_atomic(tmp_path, monkeypatch):
    """A crash while an entry is written leaves nothing that reads as a stored run."""
    store = RunStore(tmp_path)
    cfg = ModelConfig(p=11)
    outcome = train(_runs(cfg, (1,), 5), cfg, progress=False, device="cpu")[0]
    import grokpaper.core.store

    def crash(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(grokpaper.core.store, "save_checkpoint", crash)
    with pytest.raises(OSError):
        store.save("k1", {"a": 1}, outcome, cfg)
    assert not store.has("k1")
    assert list((tmp_path / "runs").iterdir()) == []  # no half-written folder left behind
    monkeypatch.undo()
    stored = store.save("k1", {"a": 1}, outcome, cfg)
    assert store.has("k1") and torch.equal(stored.params()["embed.W_E"], outcome.params["embed.W_E"])


def test_missing_weights_say_how_to_regenerate(tmp_path):
    store = RunStore(tmp_path)
    cfg = ModelConfig(p=11)
    outcome = train(_runs(cfg, (1,), 5), cfg, progress=False, device="cpu")[0]
    stored = store.save("k2", {"a": 1}, outcome, cfg)
    (stored.path / "final.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="rerun the chapter"):
        stored.params()


@pytest.mark.parametrize(
    "kw, message",
    [  # the rules and messages of grokpaper.config (tests/test_params.py has the rest)
        (dict(seeds=()), r"seeds = \(\) is not allowed; allowed: a non-empty list of distinct integers >= 0"),
        (dict(seeds=(1, 1)), "a non-empty list of distinct integers"),
        (dict(transfer_max_epochs=0), "transfer_max_epochs = 0 is not allowed; allowed: an integer >= 1"),
        (dict(source_task="mod"), "source_task = 'mod' is not allowed; allowed: one of add, subtract"),
        (dict(p=2), "p = 2 is not allowed; allowed: an integer >= 3"),
        (dict(device="tpu"), "device = 'tpu' is not allowed; allowed: one of auto, cpu, cuda"),
    ],
)
def test_bad_study_settings(kw, message):
    with pytest.raises(ValueError, match=message):
        _settings(**kw)


def test_unknown_condition():
    with pytest.raises(ValueError, match="condition must be one of grokked, memorized, memorized-fixed, random"):
        _settings().transfer_config(1, "frozen")


def test_chunking_the_batch_does_not_change_the_numbers():
    cfg = ModelConfig(p=23)
    by_one = train(_runs(cfg, (1, 2, 3), 25), cfg, progress=False, device="cpu", models_per_chunk=1)
    at_once = train(_runs(cfg, (1, 2, 3), 25), cfg, progress=False, device="cpu", models_per_chunk=3)
    for a, b in zip(by_one, at_once):
        assert all(torch.equal(a.params[k], b.params[k]) for k in a.params) and a.curve == b.curve
    with pytest.raises(ValueError, match="models_per_chunk must be a positive integer"):
        train(_runs(cfg, (1,), 5), cfg, progress=False, device="cpu", models_per_chunk=0)


# --- progress, interruption, store errors, read-only access --------------------------------


def test_progress_bar_ends_at_its_total_when_the_batch_stops_early(capsys):
    cfg = ModelConfig(p=11)
    train(_runs(cfg, (1,), 50, stop_events=(Event.at_epoch(20),)), cfg, device="cpu", progress=True)
    assert "20/20" in capsys.readouterr().err.split("\r")[-1]  # not 20/50 (stopped early)
    train(_runs(cfg, (1,), 30), cfg, device="cpu", progress=True)
    assert "30/30" in capsys.readouterr().err.split("\r")[-1]  # not 31/30 (the last epoch only evaluates)


def test_status_file_says_where_training_is(tmp_path, monkeypatch):
    from grokpaper.core.status import STATUS_FILE_ENV, read_status

    monkeypatch.setenv(STATUS_FILE_ENV, str(tmp_path / "status.json"))
    cfg = ModelConfig(p=11)
    train(_runs(cfg, (1, 2), 30), cfg, device="cpu", progress=False)
    status = read_status(tmp_path / "status.json")
    assert status["state"] == "finished" and status["epoch"] == 30 and status["runs"] == 2
    assert status["line"] == "finished at epoch 30 (2 runs)"


def test_ctrl_c_checkpoints_at_the_end_of_the_epoch_and_resumes_bit_identical(tmp_path, monkeypatch):
    """A real SIGINT mid-epoch: training stops at the next epoch boundary with a checkpoint
    there, says so, and the same call then ends exactly as an uninterrupted one."""
    import os
    import signal

    from grokpaper.core.train import TrainingInterrupted

    cfg = ModelConfig(p=11)
    reference = train(_runs(cfg, (1, 2), 40), cfg, eval_every=5, progress=False, device="cpu")
    real_forward, calls = batched.logits_at_eq, {"n": 0}

    def forward_then_ctrl_c(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 50:  # mid-epoch, between two checkpoints (every 20 epochs)
            calls["handler at the kill"] = signal.getsignal(signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
        return real_forward(*args, **kwargs)

    monkeypatch.setattr(batched, "logits_at_eq", forward_then_ctrl_c)
    resume = tmp_path / "batch.pt"
    # Ctrl-C live, as in a terminal: a shell without job control starts background jobs with SIGINT
    # ignored (the suite run with `&` did), and training rightly leaves an ignored Ctrl-C alone.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        train(_runs(cfg, (1, 2), 40), cfg, eval_every=5, progress=False, device="cpu",
              resume_path=resume, checkpoint_every=20)
    except TrainingInterrupted as err:
        stopped = err
    else:
        pytest.fail(f"training ended without TrainingInterrupted: {calls}")
    finally:
        handler_after = signal.getsignal(signal.SIGINT)
        signal.signal(signal.SIGINT, inherited)
    epoch = stopped.epoch
    assert 20 < epoch < 40 and stopped.resumes_from == epoch  # nothing lost
    assert str(stopped) == f"interrupted at epoch {epoch}; the same command resumes from epoch {epoch}"
    assert handler_after is signal.default_int_handler  # handler restored
    monkeypatch.setattr(batched, "logits_at_eq", real_forward)
    resumed = train(_runs(cfg, (1, 2), 40), cfg, eval_every=5, progress=False, device="cpu",
                    resume_path=resume, checkpoint_every=20)
    for a, b in zip(reference, resumed):
        assert all(torch.equal(a.params[k], b.params[k]) for k in a.params) and a.curve == b.curve


@pytest.fixture(scope="module")
def trained_store(tmp_path_factory):
    """A tiny study's store, trained once for the tests below (each works on its own copy)."""
    root = tmp_path_factory.mktemp("store")
    Study(_settings(), RunStore(root), progress=False).transfers()
    return root


def _copy_of(trained_store, tmp_path) -> RunStore:
    import shutil

    shutil.copytree(trained_store, tmp_path / "store")
    return RunStore(tmp_path / "store")


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("file", ["result.json", "config.json", "curve.csv", "final.safetensors"])
def test_a_truncated_store_file_is_one_error_naming_it_and_the_fix(trained_store, tmp_path, file):
    from grokpaper.core.store import StoreError

    store = _copy_of(trained_store, tmp_path)
    settings = _settings()
    broken_key = config_key(settings.transfer_config(1, "grokked"))
    _truncate(store.entry(broken_key) / file)
    study = Study(settings, store, progress=False, train=False, profile="smoke")
    with pytest.raises(StoreError) as err:
        run = next(r for r in study.transfers() if (r.seed, r.condition) == (1, "grokked"))
        run.params()
    message = str(err.value)
    assert f"{store.entry(broken_key) / file} cannot be read" in message and "truncated or corrupt" in message
    assert f"Delete the run's folder {store.entry(broken_key)}/" in message
    assert "python -m grokpaper train transfer --condition grokked --seeds 1 --profile smoke" in message
    # Nothing else is lost: every other run still loads, weights included.
    for seed, condition in [(1, "random"), (2, "grokked"), (2, "memorized")]:
        other = store.load(config_key(settings.transfer_config(seed, condition)))
        assert other.params()["embed.W_E"].shape == (128, 12)


def test_a_truncated_resume_checkpoint_is_one_error_naming_it(tmp_path):
    from grokpaper.core.store import StoreError

    cfg = ModelConfig(p=11)
    resume = tmp_path / "resume" / "batch.pt"
    train(_runs(cfg, (1,), 20), cfg, progress=False, device="cpu", resume_path=resume, keep_checkpoint=True)
    assert resume.exists()  # the finished batch, kept until its outcomes are stored
    _truncate(resume)
    with pytest.raises(StoreError, match=rf"resume checkpoint {resume} cannot be read .*"
                                         rf"Delete {resume} and run the same command again"):
        train(_runs(cfg, (1,), 20), cfg, progress=False, device="cpu", resume_path=resume)


def test_read_only_study_names_the_missing_runs_and_trains_nothing(tmp_path, monkeypatch):
    import grokpaper.core.study
    from grokpaper.core.store import RunNotStored

    monkeypatch.setattr(grokpaper.core.study, "train", lambda *a, **k: pytest.fail("a read-only study trained"))
    study = Study(_settings(), RunStore(tmp_path), train=False, profile="smoke")
    with pytest.raises(RunNotStored, match=r"2 runs are not in the run store at \S+/; train them with `GROKPAPER_STORE=\S+ "
                                           r"python -m grokpaper train sources --seeds 1 --profile smoke` for "
                                           r"source-add-seed1 \(key \w+\); `.*--seeds 2 --profile smoke` for "
                                           r"source-add-seed2"):
        study.sources()
    assert not (tmp_path / "runs").exists() and not (tmp_path / "resume").exists()


def test_open_run_reads_a_stored_run_and_never_trains(tmp_path, monkeypatch):
    import grokpaper
    import grokpaper.core.study
    from grokpaper.core.store import RunNotStored

    overrides = dict(grokked_max_epochs=40, memorized_fixed_epochs=20, transfer_max_epochs=20)
    with pytest.raises(RunNotStored, match=r"^run transfer-random-seed2 \(key \w+\) is not in the run store at \S+/; train it with "
                                           r"`GROKPAPER_STORE=\S+ python -m grokpaper train transfer --condition random "
                                           r"--seeds 2 --profile smoke -p grokked_max_epochs=40"):
        grokpaper.open_run(2, "random", profile="smoke", store=tmp_path, **overrides)
    trained = grokpaper.open_study("smoke", seeds=[2], store=tmp_path, **overrides)
    trained.train_missing = True  # train it here, the way a chapter would
    trained.progress = False
    expected = trained.transfers(("random",))[0]
    monkeypatch.setattr(grokpaper.core.study, "train", lambda *a, **k: pytest.fail("open_run trained"))
    run = grokpaper.open_run(2, "random", profile="smoke", store=tmp_path, **overrides)
    assert run.stored.key == expected.stored.key and run.curve.equals(expected.curve)
    logits, cache = run.model().run_with_cache(data.tokens(data.all_pairs(23), 23))
    assert cache["blocks.0.mlp.hook_post"].shape == (23 * 23, 3, 512)
    with pytest.raises(ValueError, match="condition must be 'source' or one of grokked"):
        grokpaper.open_run(2, "frozen", profile="smoke", store=tmp_path)


def test_a_crash_while_storing_a_batch_keeps_it_for_the_next_call(tmp_path, monkeypatch):
    """The batch's checkpoint goes only once every outcome is stored: a crash in between costs
    no training (the next call finds the finished batch), and no run is stored half."""
    store = RunStore(tmp_path)
    real_save, saves = RunStore.save, {"n": 0}

    def save_then_crash(self, *args, **kwargs):
        saves["n"] += 1
        if saves["n"] == 2:
            raise OSError("disk full (simulated)")
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(RunStore, "save", save_then_crash)
    with pytest.raises(OSError):
        Study(_settings(), store, progress=False).sources()
    assert len(list((tmp_path / "resume").iterdir())) == 1
    monkeypatch.setattr(RunStore, "save", real_save)
    monkeypatch.setattr(batched, "logits_at_eq", lambda *a, **k: pytest.fail("trained the finished batch again"))
    sources = Study(_settings(), store, progress=False).sources()
    assert sorted(sources) == [1, 2] and not list((tmp_path / "resume").iterdir())


# --- frozen parameters -----------------------------------------------------------------------

FROZEN = ("embed.W_E", "pos_embed.W_pos")


def test_frozen_parameters_stay_bit_identical_and_the_rest_trains_as_torch_adamw():
    """A frozen tensor never moves (no update, no weight decay: with wd 1.0 and lr 1e-3 it would
    shrink by about 2 % in 20 epochs); the others follow torch's AdamW on the unfrozen parameters.
    (20 epochs: a few more and a ReLU kink crossed at the 1e-7 level turns the two apart on this seed.)"""
    cfg = ModelConfig(p=23)
    (run,) = _runs(cfg, (1,), max_epochs=20, frozen=FROZEN)
    outcome = train([run], cfg, eval_every=10, progress=False, device="cpu")[0]
    for name in FROZEN:
        assert torch.equal(outcome.params[name], run.init[name]), name
    model = Transformer(cfg, run.init)
    trainable = [p for name, p in model.params().items() if name not in FROZEN]
    opt = torch.optim.AdamW(trainable, lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98), eps=1e-8)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(step / 10, 1))
    for _ in range(20):
        F.cross_entropy(model(run.split.train_x)[:, -1].double(), run.split.train_y).backward()
        opt.step()
        sched.step()
        opt.zero_grad()
    assert max(rel_err(outcome.params[k], p.detach()) for k, p in model.params().items()) < 1e-5
    assert not torch.equal(outcome.params["unembed.W_U"], run.init["unembed.W_U"])


def test_freezing_one_run_changes_nothing_for_the_others_in_its_batch():
    """With nothing frozen a run trains bit for bit as before, alone or beside a run that freezes."""
    cfg = ModelConfig(p=23)
    alone = train(_runs(cfg, (2,), 40), cfg, eval_every=10, progress=False, device="cpu")[0]
    frozen, plain = train(_runs(cfg, (1,), 40, frozen=FROZEN) + _runs(cfg, (2,), 40), cfg, eval_every=10,
                          progress=False, device="cpu")
    assert all(torch.equal(alone.params[k], plain.params[k]) for k in alone.params) and alone.curve == plain.curve
    assert all(torch.equal(frozen.params[k], fresh_params(cfg, 1)[k]) for k in FROZEN)


def test_frozen_runs_resume_bit_identical(tmp_path, monkeypatch):
    cfg = ModelConfig(p=23)
    reference = train(_runs(cfg, (1, 2), 40, frozen=FROZEN), cfg, eval_every=5, progress=False, device="cpu")
    real_forward, calls = batched.logits_at_eq, {"n": 0}

    def dying_forward(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 50:
            raise KeyboardInterrupt("simulated kill")
        return real_forward(*args, **kwargs)

    resume = tmp_path / "batch.pt"
    monkeypatch.setattr(batched, "logits_at_eq", dying_forward)
    with pytest.raises(KeyboardInterrupt):
        train(_runs(cfg, (1, 2), 40, frozen=FROZEN), cfg, eval_every=5, progress=False, device="cpu",
              resume_path=resume, checkpoint_every=10)
    monkeypatch.setattr(batched, "logits_at_eq", real_forward)
    resumed = train(_runs(cfg, (1, 2), 40, frozen=FROZEN), cfg, eval_every=5, progress=False, device="cpu",
                    resume_path=resume, checkpoint_every=10)
    for a, b in zip(reference, resumed):
        assert all(torch.equal(a.params[k], b.params[k]) for k in a.params) and a.curve == b.curve


@pytest.mark.parametrize("frozen", [("embed.W_e",), ("embed.W_E", "embed.W_E"), ("mask",)])
def test_a_bad_frozen_name_is_one_error_before_compute(frozen, monkeypatch):
    cfg = ModelConfig(p=23)
    monkeypatch.setattr(batched, "logits_at_eq", lambda *a, **k: pytest.fail("computed before the check"))
    with pytest.raises(ValueError, match=r"run s1: frozen must name distinct parameters among embed\.W_E"):
        train(_runs(cfg, (1,), 10, frozen=frozen), cfg, progress=False, device="cpu")
