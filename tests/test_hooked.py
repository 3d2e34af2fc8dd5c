"""Export to TransformerLens: same logits on all p^2 inputs, and every hook of HOOK_NAMES holds
the same activation in both models (after the layout change ``hooked_activation`` makes)."""

import pytest
import torch

from grokpaper.core import data
from grokpaper.core.model import ModelConfig, Transformer, init_params, load_checkpoint
from reference_data import CHECKPOINT, needs_reference

pytest.importorskip("transformer_lens", reason="transformer-lens is not installed (pip install -e '.[test]' installs it)")

from grokpaper.core.hooked import HOOK_NAMES, hooked_activation, to_hooked_transformer  # noqa: E402


def _compare(params, cfg, task_token: int = 0):
    ours = Transformer(cfg, params)
    theirs = to_hooked_transformer(params, cfg)
    tokens = data.tokens(data.all_pairs(cfg.p), cfg.p, task_token)  # all p^2 inputs [a, b, =]
    with torch.no_grad():
        our_logits, our_cache = ours.run_with_cache(tokens)
        their_logits, their_cache = theirs.run_with_cache(tokens)
    assert their_logits.shape == our_logits.shape == (cfg.p**2, 3, cfg.d_vocab)
    assert torch.allclose(their_logits, our_logits, rtol=1e-5, atol=1e-5 * our_logits.abs().max().item())
    for our_name, their_name in HOOK_NAMES.items():
        mine, other = hooked_activation(our_name, our_cache[our_name]), their_cache[their_name]
        assert mine.shape == other.shape, our_name
        kept = torch.isfinite(other)  # masked attention scores: -inf there, about -1e9 here
        assert torch.allclose(mine[kept], other[kept], rtol=1e-5, atol=1e-5 * other[kept].abs().max().item()), our_name
    return theirs


def test_export_to_transformer_lens_gives_the_same_logits_and_activations():
    cfg = ModelConfig(p=23)
    theirs = _compare(init_params(cfg, torch.Generator().manual_seed(3)), cfg)
    config = theirs.cfg
    assert (config.n_layers, config.d_model, config.n_heads, config.d_head, config.d_mlp) == (1, 128, 4, 32, 512)
    assert (config.d_vocab, config.d_vocab_out, config.n_ctx, config.normalization_type) == (24, 24, 3, None)


def test_export_of_a_model_with_task_tokens_reads_each_token():
    """A vocabulary of p + 2 (two task tokens, issue 22) exports whole: the same logits at either "=" token."""
    cfg = ModelConfig(p=23, n_task_tokens=2)
    params = init_params(cfg, torch.Generator().manual_seed(4))
    for token in (0, 1):
        theirs = _compare(params, cfg, token)
    assert (theirs.cfg.d_vocab, theirs.cfg.d_vocab_out) == (25, 25)


@needs_reference
def test_export_of_the_original_grokked_checkpoint_matches_on_all_inputs():
    params, cfg = load_checkpoint(CHECKPOINT)
    theirs = _compare(params, cfg)
    tokens = data.tokens(data.all_pairs(113), 113)
    labels = torch.from_numpy(data.labels("add", data.all_pairs(113), 113))
    with torch.no_grad():
        assert (theirs(tokens)[:, -1, :113].argmax(-1) == labels).all()  # it still adds, in TransformerLens


def test_unknown_hook_name_is_a_clear_error():
    with pytest.raises(ValueError, match="hook 'blocks.0.attn.hook_result' has no TransformerLens counterpart"):
        hooked_activation("blocks.0.attn.hook_result", torch.zeros(1))
