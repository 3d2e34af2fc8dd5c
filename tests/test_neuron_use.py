"""analysis/neuron_use.py: which neurons a model uses for a task, and the overlap of two tasks' use."""

import dataclasses

import pytest
import torch

from grokpaper.analysis import neuron_use as nu
from grokpaper.core.data import all_pairs, labels, tokens
from grokpaper.core.model import Transformer
from small_models import SMALL, random_params

TWO_TOKENS = dataclasses.replace(SMALL, n_task_tokens=2)


def test_the_neurons_attributions_add_up_to_the_mlps_direct_share_of_the_correct_answers_margin():
    params = random_params(TWO_TOKENS, seed=3)
    for task, token in [("add", 0), ("subtract", 1)]:
        attribution = nu.direct_attribution(params, TWO_TOKENS, task, token)
        pairs = all_pairs(SMALL.p, task)
        assert attribution.shape == (len(pairs), SMALL.d_mlp)
        # by hand: the MLP's output at "=" without its bias, through W_U, as the correct answer's margin
        _, cache = Transformer(TWO_TOKENS, params).run_with_cache(tokens(pairs, SMALL.p, task_token=token))
        mlp_out = cache["blocks.0.hook_mlp_out"][:, -1] - params["blocks.0.mlp.b_out"]
        logits = mlp_out @ params["unembed.W_U"][:, :SMALL.p]
        y = torch.as_tensor(labels(task, pairs, SMALL.p))
        margin = logits[torch.arange(len(y)), y] - logits.mean(dim=1)
        assert torch.allclose(attribution.sum(dim=1), margin, atol=1e-5)


def test_use_is_the_clamped_mean_and_the_dropped_share_what_the_clamp_leaves_out():
    attribution = torch.tensor([[2.0, -1.0, 0.0], [4.0, -3.0, 1.0]])   # means 3, -2, 0.5
    assert nu.neuron_use(attribution).tolist() == [3.0, 0.0, 0.5]
    assert nu.dropped_share(attribution) == pytest.approx(2 / 5.5)
    assert nu.dropped_share(torch.zeros(4, 3)) == 0.0


def test_overlap_is_one_for_the_same_use_zero_for_disjoint_and_its_null_sits_between():
    u = torch.tensor([1.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    assert nu.use_overlap(u, 3 * u) == pytest.approx(1.0)          # shares, not sizes
    assert nu.use_overlap(u, torch.tensor([0.0, 0.0, 1.0, 1.0, 0.0, 0.0])) == 0.0
    assert nu.use_overlap(u, torch.tensor([1.0, 0.0, 1.0, 0.0, 0.0, 0.0])) == pytest.approx(1 / 3)
    null = nu.overlap_null(u, torch.tensor([0.0, 0.0, 1.0, 1.0, 0.0, 0.0]), n_draws=400, seed=0)
    assert torch.equal(null, nu.overlap_null(u, torch.tensor([0.0, 0.0, 1.0, 1.0, 0.0, 0.0]), n_draws=400, seed=0))
    # two of six neurons each, placed at random: E[shared] = 2/3 of a neuron; the null mean is between 0 and 1
    assert 0.1 < float(null.mean()) < 0.4
    assert nu.chance_corrected(1.0, null) == pytest.approx(1.0)
    assert nu.chance_corrected(float(null.mean()), null) == pytest.approx(0.0)


def test_bad_input_gets_one_clear_error():
    with pytest.raises(ValueError, match="token must be one of the model's 2 task tokens"):
        nu.direct_attribution(random_params(TWO_TOKENS), TWO_TOKENS, "add", 2)
    with pytest.raises(ValueError, match="same shape"):
        nu.use_overlap(torch.ones(3), torch.ones(4))
    with pytest.raises(ValueError, match="n_draws"):
        nu.overlap_null(torch.ones(3), torch.ones(3), n_draws=0, seed=0)


def test_the_chapters_overlaps_per_seed_same_use_is_one():
    from grokpaper.paper import task_tokens as tt

    params = {s: random_params(TWO_TOKENS, seed=s) for s in (1, 2)}
    sides = {1: ((params[1], "add", 0, 1.0), (params[1], "add", 0, 0.95)),        # one model, one task, twice
             2: ((params[2], "add", 0, 1.0), (params[2], "subtract", 1, 0.5))}
    found = tt.neuron_use_overlaps(sides, SMALL.p, "test", n_draws=200, seed=0)
    assert found.overlap[1] == pytest.approx(1.0) and found.corrected[1] == pytest.approx(1.0)
    assert found.p_null[1] == pytest.approx(1 / 201)                     # no relabelling reaches it
    assert 0 <= found.overlap[2] < 1 and found.accuracy[2] == [1.0, 0.5]
    shown = tt.use_display({"test": found})
    assert list(shown["seed"]) == [1, 2] and shown["accuracy"].iloc[1] == "100.0 % / 50.0 %"


def test_use_is_measured_on_the_inputs_the_model_answers():
    params = random_params(TWO_TOKENS, seed=5)
    attribution = nu.direct_attribution(params, TWO_TOKENS, "add", 0)
    correct = nu.answered(params, TWO_TOKENS, "add", 0)
    # by hand: the argmax of the logits at "=" against the labels, in direct_attribution's order
    pairs = all_pairs(SMALL.p, "add")
    logits = Transformer(TWO_TOKENS, params)(tokens(pairs, SMALL.p, task_token=0))[:, -1]
    assert torch.equal(correct, logits.argmax(-1) == torch.as_tensor(labels("add", pairs, SMALL.p)))
    assert 0 < int(correct.sum()) < len(pairs)     # a random model answers a few inputs by chance
    assert torch.allclose(nu.neuron_use(attribution, on=correct), attribution[correct].mean(dim=0).clamp(min=0))
    assert torch.equal(nu.neuron_use(attribution, on=torch.zeros_like(correct)), torch.zeros(SMALL.d_mlp))
    assert nu.dropped_share(attribution, on=torch.zeros_like(correct)) == 0.0
    with pytest.raises(ValueError, match="on must mark each of the"):
        nu.neuron_use(attribution, on=correct[:3])


def test_a_side_that_answers_no_input_has_no_overlap(monkeypatch):
    from grokpaper.paper import task_tokens as tt

    params, silent = random_params(TWO_TOKENS, seed=1), random_params(TWO_TOKENS, seed=2)
    real = nu.answered
    monkeypatch.setattr(nu, "answered", lambda w, *a, **k: torch.zeros_like(real(w, *a, **k)) if w is silent
                        else real(w, *a, **k))
    found = tt.neuron_use_overlaps({1: ((params, "add", 0, 1.0), (silent, "add", 0, 0.0)),
                                    2: ((params, "add", 0, 1.0), (params, "add", 0, 1.0))}, SMALL.p, "t",
                                   n_draws=50, seed=0)
    assert all(v is None or v != v for v in (found.overlap[1], found.corrected[1], found.chance[1]))   # no use to compare
    assert found.overlap[2] == pytest.approx(1.0) and found.accuracy[1] == [1.0, 0.0]
