"""Controls and transplants (what carries the transfer): each construction, their configs and store
keys (the committed runs' keys unchanged), the runs in the study, and the `train all --runs controls` set."""

import dataclasses
from pathlib import Path

import pytest
import torch

from grokpaper.__main__ import main
from grokpaper.analysis.probes import make_probes
from grokpaper.config import chapter_params
from grokpaper.core import controls, data
from grokpaper.core.model import PARAM_NAMES, Transformer
from grokpaper.core.parallel import jobs
from grokpaper.core.store import RunNotStored, RunStore, config_key
from grokpaper.core.study import CONDITIONS, CONTROLS, Study, StudySettings
from small_models import SMALL, random_params

ROOT = Path(__file__).resolve().parents[1]
PAPER = StudySettings.from_params(chapter_params("01-sources", "paper", project=ROOT))
SMOKE = StudySettings.from_params(chapter_params("01-sources", "smoke", project=ROOT))


# --- the constructions ---------------------------------------------------------------------------


def test_the_permuted_model_is_exactly_the_relabelled_model():
    """On input (perm[a], perm[b]) the permuted model gives the source's logits on (a, b), with
    logit perm[t] the source's logit t and "=" in place: the same function with tokens renamed."""
    source = random_params(SMALL, 3)
    perm = controls.token_permutation(SMALL.p, 5)
    permuted = controls.permute_tokens(source, perm)
    p = SMALL.p
    tokens = data.tokens(data.all_pairs(p), p)
    relabelled = tokens.clone()
    relabelled[:, :2] = torch.tensor(perm)[tokens[:, :2]]
    with torch.no_grad():
        original = Transformer(SMALL, source)(tokens)[:, -1]
        renamed = Transformer(SMALL, permuted)(relabelled)[:, -1]
    outputs = torch.tensor(perm + [p])  # output column perm[t] of the permuted model is column t of the source
    assert torch.equal(renamed[:, outputs], original)
    assert sorted(perm) == list(range(p)) and perm != list(range(p))
    for name in PARAM_NAMES:  # same norms; only W_E's and W_U's number columns move
        assert torch.isclose(permuted[name].norm(), source[name].norm())
        assert torch.equal(permuted[name], source[name]) == (name not in controls.EMBEDDINGS), name
    for name in controls.EMBEDDINGS:
        assert torch.equal(permuted[name][:, p], source[name][:, p])  # "=" untouched
        assert torch.equal(permuted[name][:, perm[2]], source[name][:, 2])
    assert controls.token_permutation(SMALL.p, 5) == perm  # seeded


def test_the_norm_matched_init_has_the_reference_norms_and_its_own_directions():
    init, reference = random_params(SMALL, 1), random_params(SMALL, 2)
    reference = {k: 3.0 * v + 0.5 for k, v in reference.items()}  # biases non-zero in the reference
    matched = controls.norm_matched(init, reference)
    for name in PARAM_NAMES:
        if init[name].norm() == 0:  # the random init's biases stay zero
            assert torch.equal(matched[name], init[name]), name
            continue
        assert matched[name].norm().item() == pytest.approx(reference[name].norm().item(), rel=1e-6), name
        cosine = torch.nn.functional.cosine_similarity(matched[name].flatten(), init[name].flatten(), dim=0)
        assert cosine.item() == pytest.approx(1.0, abs=1e-6), name


def test_transplants_take_exactly_the_stated_matrices():
    base, donor = random_params(SMALL, 1), random_params(SMALL, 2)
    out = controls.transplant(base, donor, controls.EMBEDDINGS)
    for name in PARAM_NAMES:
        assert torch.equal(out[name], (donor if name in controls.EMBEDDINGS else base)[name]), name
    out[PARAM_NAMES[0]] += 1  # a copy: the inputs are untouched
    assert torch.equal(base[PARAM_NAMES[0]], random_params(SMALL, 1)[PARAM_NAMES[0]])


@pytest.mark.parametrize("call, message", [
    (lambda: controls.permute_tokens(random_params(SMALL), [0, 1, 2]), "permutation of the 11 number tokens"),
    (lambda: controls.permute_tokens(random_params(SMALL), [0] * 11), "permutation of the 11 number tokens"),
    (lambda: controls.transplant(random_params(SMALL), random_params(SMALL), ["embed.W_e"]), "names must list"),
    (lambda: controls.norm_matched({"embed.W_E": torch.ones(2)}, random_params(SMALL)), "params is missing"),
    (lambda: controls.token_permutation(1, 0), "p must be an integer >= 2"),
])
def test_bad_construction_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- configs and store keys -----------------------------------------------------------------------


def test_the_committed_runs_keep_their_store_keys():
    """The study's run configs are as before: their keys are the 25 committed study runs' in the
    manifest (which lists the committed probe reruns too)."""
    committed = {line.split()[1].split("/")[1] for line in (ROOT / "store" / "MANIFEST.sha256").read_text().splitlines()}
    study = {job.key for job in jobs(PAPER)}
    assert study <= committed and len(study) == 25


def test_control_configs():
    keys = {c: config_key(PAPER.control_config(42, c)) for c in CONTROLS}
    assert len(set(keys.values())) == len(CONTROLS)
    assert not set(keys.values()) & {config_key(PAPER.transfer_config(s, c)) for s in PAPER.seeds for c in CONDITIONS}
    source = config_key(PAPER.source_config(42))
    for c in CONTROLS:
        config = PAPER.control_config(42, c)
        assert config["kind"] == "control" and config["condition"] == c and config["task"] == "subtract"
        assert config["max_epochs"] == PAPER.transfer_max_epochs and "probes" in config
        assert config["stop"] == [{"metric": "test_acc", "threshold": 0.999, "hold": PAPER.probe_hold_epochs,
                                   "epoch": None}]
        assert "first_top" in config["snapshots"] and config["sustained_snapshot"] == "sustained"
        assert ("frozen" in config) == (c == "frozen-embeddings")
    assert PAPER.control_config(42, "frozen-embeddings")["frozen"] == ["embed.W_E", "pos_embed.W_pos"]
    permuted = PAPER.control_config(42, "permuted")["init"]
    assert permuted["from_run"] == source and sorted(permuted["permutation"]) == list(range(113))
    assert PAPER.control_config(7, "permuted")["init"]["permutation"] != permuted["permutation"]
    assert PAPER.control_config(42, "embeddings-only")["init"] == {
        "random": 42, "take": {"from_run": source, "weights": "final", "params": ["embed.W_E", "unembed.W_U"]}}
    with pytest.raises(ValueError, match="control must be one of norm-matched, permuted"):
        PAPER.control_config(42, "shuffled")


def test_the_controls_run_set_waits_for_the_sources():
    settings = dataclasses.replace(SMOKE, seeds=(1, 2))
    found = jobs(settings, "controls")
    assert [j.label for j in found[:2]] == ["source seed 1", "source seed 2"]
    assert len(found) == 2 + 2 * (1 + len(CONTROLS))
    sources = {config_key(settings.source_config(s)) for s in (1, 2)}
    assert all(j.needs in sources and j.args[0] in ("controls", "probe-transfer") for j in found[2:])
    # The grokked transfer's probe rerun (the matched point) is the probe set's run, trained once.
    probe_set = {j.key for j in jobs(settings, "probes")}
    assert {j.key for j in found if j.args[0] == "probe-transfer"} <= probe_set
    paper = [j for j in jobs(PAPER, "controls") if j.args[0] != "sources"]
    assert len([j for j in paper if j.args[0] == "controls"]) == 25 and len(paper) == 30


# --- the runs in the study -------------------------------------------------------------------------


def _settings(**kw):
    base = dict(p=11, seeds=(1,), frac_train=0.7, lr=3e-3, grokked_max_epochs=60, grokked_hold_epochs=10,
                memorized_fixed_epochs=20, transfer_max_epochs=40, checkpoint_every=20, device="cpu",
                probe_hold_epochs=10, probe_dense_until=20, probe_per_decade=10, probe_min_neurons=1,
                relearn_max_epochs=30, extended_max_epochs=70)
    return dataclasses.replace(SMOKE, **{**base, **kw})


def test_control_runs_in_the_study_start_from_their_construction(tmp_path, monkeypatch):
    store = RunStore(tmp_path)
    with pytest.raises(RunNotStored, match=r"train controls --control permuted --seeds 1 --profile smoke"):
        Study(_settings(), store, progress=False, train=False, profile="smoke").controls(("permuted",))
    for ask in (lambda st: st.controls(), lambda st: st.probe_transfers(("grokked",))):
        with pytest.raises(RunNotStored, match=r"all of them at once: `python -m grokpaper train all --runs controls "
                                               r"--profile smoke` on CPU workers"):
            ask(Study(_settings(seeds=(1, 2)), store, progress=False, train=False, profile="smoke"))
    study = Study(_settings(), store, progress=False, probes=make_probes)
    runs = {run.condition: run for run in study.controls()}
    assert list(runs) == list(CONTROLS)
    source = study.sources()[1].params()
    init = study._weights({"random": 1})
    starts = {c: study._init(study.settings.control_config(1, c)) for c in CONTROLS}
    assert all(torch.equal(starts["embeddings-only"][k], (source if k in controls.EMBEDDINGS else init)[k])
               for k in PARAM_NAMES)
    assert all(torch.equal(starts["all-but-embeddings"][k], (init if k in controls.EMBEDDINGS else source)[k])
               for k in PARAM_NAMES)
    assert starts["norm-matched"]["blocks.0.mlp.W_in"].norm().item() == pytest.approx(
        source["blocks.0.mlp.W_in"].norm().item(), rel=1e-6)
    frozen = runs["frozen-embeddings"]
    for name in ("embed.W_E", "pos_embed.W_pos"):
        assert torch.equal(frozen.params()[name], source[name])
    assert not torch.equal(frozen.params()["unembed.W_U"], source["unembed.W_U"])
    for run in runs.values():
        assert run.stored.probes["epoch"].iloc[0] == 0 and run.stored.config["kind"] == "control"
    assert runs["permuted"].stored.config["init"]["permutation"] == controls.token_permutation(11, 1)
    # The command line trains the same runs (stored: read back at once).
    monkeypatch.setenv("GROKPAPER_STORE", str(tmp_path))
    assert main(["train", "controls", "--control", "permuted", "--condition", "grokked"]) == 2
    assert main(["train", "transfer", "--control", "permuted"]) == 2
