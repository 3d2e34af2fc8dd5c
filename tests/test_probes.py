"""Probes: they never change training, they survive a resume, their cadence, and each measure
against a direct computation; probe runs in the study; a probe rerun against a committed run."""

import dataclasses
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from grokpaper.analysis.fourier import (
    neuron_fourier_analysis,
    neuron_fourier_shares,
    neuron_fourier_shares_from_sums,
)
from grokpaper.analysis.inspection import attention_from_equals, weight_norms
from grokpaper.analysis.probes import (
    ProbeContext,
    all_pairs_forward,
    make_probes,
    measure,
    probe_epochs,
    r2_score,
    ridge_fit,
)
from grokpaper.analysis.progress import progress_measures
from grokpaper.config import chapter_params
from grokpaper.core import batched, data
from grokpaper.core.model import Transformer
from grokpaper.core.parallel import jobs
from grokpaper.core.store import RunStore, config_key
from grokpaper.core.study import CONDITIONS, ProbeRequest, Study, StudySettings
from grokpaper.core.train import Event, Hyper, ModelRun, train
from small_models import SMALL, random_params

ROOT = Path(__file__).resolve().parents[1]
SPEC = {"revision": 1, "dense_until": 20, "dense_every": 5, "per_decade": 10, "thresholds": [0.5, 0.9],
        "ridge": 1e-3, "min_neurons": 2, "source_task": "add", "other_task": "add", "at_epochs": []}
HYPER = Hyper(lr=3e-2)  # the small model learns something within a few dozen epochs


def _runs():
    """Three small subtraction runs: one stops early on an event, one at its cap, one later."""
    return [
        ModelRun("early", data.make_split("subtract", SMALL.p, 1, 0.7), random_params(SMALL, 1), max_epochs=60,
                 stop_events=(Event.reached("train_acc", 0.3, hold=10),), sustained_snapshot="sustained",
                 snapshot_events={"first": Event.reached("train_acc", 0.3)}),
        ModelRun("capped", data.make_split("subtract", SMALL.p, 2, 0.7), random_params(SMALL, 2), max_epochs=35),
        ModelRun("long", data.make_split("subtract", SMALL.p, 3, 0.7), random_params(SMALL, 3), max_epochs=60),
    ]


def _probes(runs):
    source = random_params(SMALL, 9)
    return make_probes([ProbeRequest(i, run, "subtract", SPEC, source) for i, run in enumerate(runs)], SMALL)


def _same(a, b):
    assert a.curve == b.curve and a.stop_reason == b.stop_reason and a.epochs_trained == b.epochs_trained
    assert all(torch.equal(a.params[k], b.params[k]) for k in a.params)
    assert a.snapshots.keys() == b.snapshots.keys()
    for name in a.snapshots:
        assert all(torch.equal(a.snapshots[name]["params"][k], b.snapshots[name]["params"][k]) for k in a.params)


def test_probes_on_and_off_give_bit_identical_weights_and_curves():
    without = train(_runs(), SMALL, HYPER, eval_every=5, progress=False, device="cpu")
    runs = _runs()
    with_probes = train(runs, SMALL, HYPER, eval_every=5, progress=False, device="cpu", observers=(_probes(runs),))
    assert without[0].epochs_trained < 60 and without[1].epochs_trained == 35  # one left early, one at its cap
    for a, b in zip(without, with_probes):
        _same(a, b)
        assert a.records == {"probes": []} or not a.records
        rows = b.records["probes"]
        assert rows[0]["epoch"] == 0 and rows[-1]["epoch"] == b.epochs_trained and "final" in rows[-1]["trigger"]
    early = with_probes[0]
    streak_start = early.snapshots["sustained"]["epoch"]
    held = [acc >= 0.3 for e, acc in zip(early.curve["epoch"], early.curve["train_acc"]) if e >= streak_start]
    before = [acc for e, acc in zip(early.curve["epoch"], early.curve["train_acc"]) if e < streak_start]
    assert all(held) and (not before or before[-1] < 0.3)  # the start of the streak that stopped it


def test_resume_with_probes_gives_the_records_of_an_uninterrupted_run(tmp_path, monkeypatch):
    runs = _runs()
    reference = train(runs, SMALL, HYPER, eval_every=5, progress=False, device="cpu", observers=(_probes(runs),))
    real_forward, calls = batched.logits_at_eq, {"n": 0}

    def dying_forward(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 100:  # past a checkpoint, with probes recorded before and after it
            raise KeyboardInterrupt("simulated kill")
        return real_forward(*args, **kwargs)

    resume = tmp_path / "batch.pt"
    monkeypatch.setattr(batched, "logits_at_eq", dying_forward)
    with pytest.raises(KeyboardInterrupt):
        runs = _runs()
        train(runs, SMALL, HYPER, eval_every=5, progress=False, device="cpu", resume_path=resume, checkpoint_every=20,
              observers=(_probes(runs),))
    monkeypatch.setattr(batched, "logits_at_eq", real_forward)
    runs = _runs()
    resumed = train(runs, SMALL, HYPER, eval_every=5, progress=False, device="cpu", resume_path=resume, checkpoint_every=20,
                    observers=(_probes(runs),))
    for a, b in zip(reference, resumed):
        _same(a, b)
        assert a.records == b.records


def test_probe_cadence_is_dense_then_log_spaced():
    epochs = probe_epochs(30000, 10, 1000, 10, 50, at_epochs=(25000,))
    assert epochs[:101] == list(range(0, 1001, 10))
    assert all(e % 10 == 0 for e in epochs) and epochs == sorted(set(epochs)) and 25000 in epochs
    assert sum(1000 < e <= 10000 for e in epochs) == 50  # 50 per decade
    assert max(epochs) <= 30000
    gaps = np.diff([e for e in epochs if e >= 1000 and e != 25000])
    assert (np.diff(gaps) >= -10).all()  # widening, up to the rounding to evaluation epochs
    with pytest.raises(ValueError, match="dense_every must be a multiple of eval_every = 10"):
        probe_epochs(30000, 10, 1000, 15, 50)
    with pytest.raises(ValueError, match="per_decade must be a positive integer"):
        probe_epochs(30000, 10, 1000, 10, 0)


def test_all_pairs_forward_equals_the_reference_model():
    params = random_params(SMALL, 4)
    fast = all_pairs_forward(params, SMALL)
    _, cache = Transformer(SMALL, params).run_with_cache(data.tokens(data.all_pairs(SMALL.p), SMALL.p))
    reference = {
        "attn_pattern": cache["blocks.0.attn.hook_attn"][:, :, -1, :],  # (n, heads, key) from "="
        "resid_mid": cache["blocks.0.hook_resid_mid"][:, -1],
        "mlp_post": cache["blocks.0.mlp.hook_post"][:, -1],
        "resid_post": cache["blocks.0.hook_resid_post"][:, -1],
    }
    for name, expected in reference.items():
        assert (fast[name] - expected).norm() / expected.norm() < 1e-5, name
    logits = Transformer(SMALL, params)(data.tokens(data.all_pairs(SMALL.p), SMALL.p))[:, -1]
    assert (fast["logits"] - logits).norm() / logits.norm() < 1e-5


@pytest.mark.parametrize("p", [11, 12, 23])
def test_neuron_shares_from_sums_equal_the_original_method(p):
    generator = torch.Generator().manual_seed(p)
    acts = torch.relu(torch.randn(p * p, 40, generator=generator, dtype=torch.float64) + 0.3)
    acts[:, 3] = 0.0  # a dead neuron
    shares, _, dead = neuron_fourier_shares(acts, p)
    from_sums, dead_from_sums = neuron_fourier_shares_from_sums(acts, p)
    assert torch.equal(dead, dead_from_sums) and bool(dead[3])
    assert torch.allclose(shares.nan_to_num(), from_sums.nan_to_num(), rtol=0, atol=1e-12)
    in_float32, _ = neuron_fourier_shares_from_sums(acts.float(), p, dtype=torch.float32)
    assert torch.allclose(shares.nan_to_num(), in_float32.double().nan_to_num(), rtol=0, atol=1e-5)


def test_ridge_probe_recovers_a_known_linear_target():
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(400, 8, generator=generator, dtype=torch.float64)
    weights, offset = torch.randn(8, 3, generator=generator, dtype=torch.float64), torch.tensor([1.0, -2.0, 0.5])
    targets = features @ weights + offset
    fit = ridge_fit(features[:300], targets[:300], ridge=1e-9)
    assert torch.allclose(fit.coef, weights, atol=1e-6)
    assert r2_score(fit.predict(features[300:]), targets[300:]) == pytest.approx(1.0, abs=1e-9)
    noise = torch.randn(400, 3, generator=generator, dtype=torch.float64)
    assert r2_score(ridge_fit(features[:300], noise[:300], 1e-3).predict(features[300:]), noise[300:]) < 0.1
    with pytest.raises(ValueError, match="ridge must be > 0"):
        ridge_fit(features, targets, 0.0)


def test_each_measure_against_a_direct_computation():
    split = data.make_split("subtract", SMALL.p, 5, 0.7)
    init, params, source = random_params(SMALL, 5), random_params(SMALL, 6), random_params(SMALL, 7)
    run = ModelRun("m", split, init, max_epochs=100)
    context = ProbeContext.for_request(ProbeRequest(0, run, "subtract", SPEC, source), SMALL)
    row, _ = measure(params, context, previous=init, frozen=None)
    p = SMALL.p

    # The other task (addition) on the test pairs, as the trainer scores: argmax over all logits.
    logits = Transformer(SMALL, params)(data.tokens(split.test_pairs, p))[:, -1].detach()
    targets = torch.from_numpy(data.labels("add", split.test_pairs, p))
    assert row["other_test_acc"] == pytest.approx(float((logits.argmax(-1) == targets).double().mean()))
    assert row["other_test_loss"] == pytest.approx(
        float(torch.nn.functional.cross_entropy(logits.double(), targets)), rel=1e-5)

    # Key frequencies and the progress measures of grokpaper.analysis.progress.
    assert context.source_freqs == neuron_fourier_analysis(source, SMALL).frequencies(SPEC["min_neurons"])
    assert context.source_freqs  # the test needs some
    train_indices = split.train_pairs[:, 0] * p + split.train_pairs[:, 1]
    for template in ("add", "subtract"):
        expected = progress_measures(params, SMALL, template, context.source_freqs, restricted_on="all",
                                     excluded_on="train", train_indices=train_indices)
        assert row[f"restricted_loss_{template}_source"] == pytest.approx(expected.restricted_loss, rel=1e-5)
        assert row[f"excluded_loss_{template}_source"] == pytest.approx(expected.excluded_loss, rel=1e-5)
        assert row[f"full_loss_{template}_all"] == pytest.approx(expected.full_loss, rel=1e-5)
        assert row["gini_W_E"] == expected.gini_W_E and row["gini_W_L"] == expected.gini_W_L

    # The neuron method's frequency counts (float64 there, float32 here: equal on this model).
    analysis = neuron_fourier_analysis(params, SMALL)
    assert {k: row[f"neurons_k{k}"] for k in range(1, p // 2 + 1) if row[f"neurons_k{k}"]} == analysis.freq_counts()
    current = analysis.frequencies(SPEC["min_neurons"])
    assert row["current_freqs"] == " ".join(map(str, current))
    counts = analysis.freq_counts()
    assert row["share_source_freqs"] == pytest.approx(
        sum(counts.get(k, 0) for k in context.source_freqs) / analysis.n_alive)

    # Attention from "=" per head, against grokpaper.analysis.inspection.
    attention = attention_from_equals(params, SMALL)
    for h in range(SMALL.n_heads):
        for j, position in enumerate(("a", "b", "eq")):
            assert row[f"attn_h{h}_{position}_mean"] == pytest.approx(attention.mean.iloc[h, j], rel=1e-5)
            assert row[f"attn_h{h}_{position}_sd"] == pytest.approx(attention.maps[h, j].std(), rel=1e-4)

    # Movement per matrix, and the total weight norm.
    norms = weight_norms(params, init)
    for name in norms.index:
        assert row[f"from_init:{name}"] == pytest.approx(norms.loc[name, "change_norm"])
        assert row[f"update:{name}"] == pytest.approx(norms.loc[name, "change_norm"])  # previous = init
    assert row["weight_norm"] == pytest.approx(math.sqrt((norms["norm"] ** 2).sum()))

    # The linear readout: refit and frozen are the same fit at the first probe; R^2 <= 1.
    assert row["readout_r2_refit_post"] == row["readout_r2_frozen_post"] <= 1


def test_bad_probe_spec_is_one_clear_error():
    run = ModelRun("m", data.make_split("subtract", SMALL.p, 5, 0.7), random_params(SMALL, 5), max_epochs=10)
    for spec, message in [({k: v for k, v in SPEC.items() if k != "ridge"}, "probe spec is missing ridge"),
                          ({**SPEC, "ridge": 0}, "probe spec ridge must be > 0"),
                          ({**SPEC, "other_task": "power"}, "other_task must be one of add, subtract"),
                          ({**SPEC, "source_task": "multiply"}, "task must be one of add, subtract"),
                          ({**SPEC, "tokens": {"add": -1}}, "tokens must map tasks")]:
        with pytest.raises(ValueError, match=message):
            make_probes([ProbeRequest(0, run, "subtract", spec, random_params(SMALL, 7))], SMALL)


# --- probe runs in the study ------------------------------------------------------------------------


def _settings(**kw):
    smoke = StudySettings.from_params(chapter_params("01-sources", ROOT / "params" / "smoke.yaml"))
    base = dict(p=11, seeds=(1,), frac_train=0.7, lr=3e-3, grokked_max_epochs=60, grokked_hold_epochs=10,
                memorized_fixed_epochs=20, transfer_max_epochs=40, checkpoint_every=20, device="cpu",
                probe_hold_epochs=10, probe_dense_until=20, probe_per_decade=10, probe_min_neurons=1,
                relearn_max_epochs=30, extended_max_epochs=70)
    return dataclasses.replace(smoke, **{**base, **kw})


def test_probe_runs_relearning_and_extension_in_the_study(tmp_path):
    store = RunStore(tmp_path)
    study = Study(_settings(), store, progress=False, probes=make_probes)
    with pytest.raises(ValueError, match="probe runs need probes"):
        Study(_settings(), store, progress=False).probe_transfers(("random",))
    probed = study.probe_transfers(("grokked", "random"))
    extended = study.probe_transfers(("random",), extended=True)[0]
    sources = study.probe_sources()
    relearned = study.relearning(("grokked",))[0]
    for run in [*probed, extended, relearned, sources[1]]:
        table = run.probes if hasattr(run, "probes") else run.stored.probes
        assert table["epoch"].iloc[0] == 0 and table["trigger"].iloc[-1].endswith("final")
        result = run.result
        assert {"threads", "cpu_capability", "torch", "device"} <= set(result)
    assert extended.result["epochs_trained"] <= 70 and "cap" in extended.result["snapshots"]
    assert 40 in set(extended.stored.probes["epoch"])  # a probe at the protocol's cap
    # The relearning run starts from the transfer run's final weights, on the source task.
    transfer = study.transfers(("grokked",))[0]
    assert relearned.stored.config["init"] == {"from_run": transfer.stored.key, "weights": "final"}
    assert relearned.stored.config["task"] == "add"
    # Probe reruns (and the extended run) equal the runs they rerun, epoch for epoch.
    study.transfers(("random",))
    check = study.rerun_check(("grokked", "random"))
    assert len(check) == 4 and (check["differing"] == 0).all() and check["first_differing_epoch"].isna().all()
    assert (check["rows"] > 0).all()
    # The study's own configs (and so the committed runs' store keys) do not mention probes.
    settings = _settings()
    assert "probes" not in settings.transfer_config(1, "grokked") and "probes" not in settings.source_config(1)
    assert config_key(settings.probe_transfer_config(1, "grokked")) != config_key(settings.transfer_config(1, "grokked"))


def test_probe_and_relearn_jobs_wait_for_what_they_need():
    settings = _settings(seeds=(1, 2))
    probe_jobs = jobs(settings, "probes")
    assert [j.label for j in probe_jobs[:3]] == ["source seed 1", "source seed 2", "probe source seed 1"]
    assert len(probe_jobs) == 2 + 2 * (1 + len(CONDITIONS))
    sources = {config_key(settings.source_config(s)) for s in (1, 2)}
    assert all(j.needs in sources for j in probe_jobs[2:])
    relearn = jobs(settings, "relearn")
    transfers = {j.key for j in jobs(settings) if j.args[0] == "transfer"}
    assert all(j.needs in transfers for j in relearn if j.args[0] == "relearn")
    with pytest.raises(ValueError, match="runs must be one of study, probes, relearn"):
        jobs(settings, "other")


# --- a probe rerun against a committed paper run ------------------------------------------------

RERUN_CHECK = """
import json, sys
import torch
from grokpaper.config import chapter_params
from grokpaper.core.data import make_split
from grokpaper.core.store import RunStore, config_key
from grokpaper.core.study import ProbeRequest, StudySettings
from grokpaper.core.train import ModelRun, train
from grokpaper.analysis.probes import make_probes

torch.set_num_threads(1)
epochs = int(sys.argv[1])
settings = StudySettings.from_params(chapter_params("01-sources", "paper", {"seeds": [42]}))
store = RunStore()
committed = store.load(config_key(settings.transfer_config(42, "grokked")))
source = store.load(config_key(settings.source_config(42)))
run = ModelRun("probed", make_split("subtract", 113, 42, 0.3), source.params(), max_epochs=epochs)
spec = settings.probe_transfer_config(42, "grokked")["probes"]
probes = make_probes([ProbeRequest(0, run, "subtract", spec, source.params())], settings.model)
outcome = train([run], settings.model, settings.hyper, device="cpu", progress=False, observers=(probes,))[0]
expected = committed.curve[committed.curve["epoch"] <= epochs]
print(json.dumps({"capability": torch.backends.cpu.get_cpu_capability(), "rows": len(expected),
                  "equal": expected.to_dict("list") == outcome.curve,
                  "probes": len(outcome.records["probes"])}))
"""


@pytest.mark.slow
def test_a_probe_rerun_reproduces_the_committed_curve_bit_for_bit():
    """The committed runs were trained with AVX2 kernels: with ATEN_CPU_CAPABILITY=avx2 and one
    thread, a probe rerun's curve equals the committed transfer-grokked-seed42 curve exactly."""
    settings = StudySettings.from_params(chapter_params("01-sources", "paper", {"seeds": [42]}))
    if not RunStore().has(config_key(settings.transfer_config(42, "grokked"))):
        pytest.skip("the committed paper runs are not in the store (store/runs/)")
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", RERUN_CHECK, "200"], env=env, capture_output=True, text=True,
                          cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["capability"] != "AVX2":
        pytest.skip(f"this CPU cannot run torch's AVX2 kernels (capability {result['capability']})")
    assert result["rows"] == 21 and result["equal"] and result["probes"] >= 21


def test_runs_with_task_tokens_record_furutas_measures_and_the_others_do_not():
    import dataclasses

    from grokpaper.analysis.furuta import furuta_measures
    from grokpaper.core.tasks import add_task_token

    cfg2 = dataclasses.replace(SMALL, n_task_tokens=2)
    split = data.make_split("subtract", SMALL.p, 5, 0.7, task_token=1)
    params = add_task_token(random_params(SMALL, 6), "copy")
    run = ModelRun("m", split, params, max_epochs=100)
    spec = {**SPEC, "tokens": {"subtract": 1, "add": 0}, "furuta": True}
    row, _ = measure(params, ProbeContext.for_request(ProbeRequest(0, run, "subtract", spec, random_params(SMALL, 7)), cfg2),
                     previous=params, frozen=None)
    expected = furuta_measures(params, SMALL.p, n_task_tokens=2)
    assert row["ffs"] == expected["ffs"] and row["fcr"] == expected["fcr"]
    plain = ModelRun("m", data.make_split("subtract", SMALL.p, 5, 0.7), random_params(SMALL, 6), max_epochs=100)
    row, _ = measure(random_params(SMALL, 6), ProbeContext.for_request(
        ProbeRequest(0, plain, "subtract", SPEC, random_params(SMALL, 7)), SMALL), previous=random_params(SMALL, 6), frozen=None)
    assert "ffs" not in row and "fcr" not in row
