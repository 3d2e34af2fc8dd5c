"""Export to TransformerLens: our weights as a ``HookedTransformer`` that computes the same logits.

The reference model keeps the original code's parameter layout (``embed.W_E`` is
(d_model, d_vocab), ``attn.W_Q`` is (n_heads, d_head, d_model), ``attn.W_O`` is
(d_model, n_heads * d_head), ``mlp.W_in`` is (d_mlp, d_model)); TransformerLens stores
the transposes, per-head ``W_O`` (n_heads, d_head, d_model) and explicit zero biases. The
architecture is the same: no LayerNorm, ReLU MLP, learned positional embeddings, causal
attention scaled by sqrt(d_head), untied embedding and unembedding.

``HOOK_NAMES`` maps our hook points to TransformerLens's; ``hooked_activation`` puts one of
our cached activations into TransformerLens's layout (the tests check every pair).

Needs ``transformer-lens`` (pinned in the ``test`` and ``lens`` extras of pyproject.toml;
3.9.0 is the last release with ``HookedTransformer``: 4.0 removed it).
"""

from __future__ import annotations

import warnings

import torch

from grokpaper.core.model import ModelConfig, check_param_shapes

# Ours -> TransformerLens, for the hook points both models have. Ours hooks the embedding
# after the positional embedding is added, which TransformerLens calls the block's residual
# input; TransformerLens's own hook_embed / hook_pos_embed hold the two terms apart.
HOOK_NAMES = {
    "hook_embed": "blocks.0.hook_resid_pre",
    "blocks.0.hook_resid_pre": "blocks.0.hook_resid_pre",
    "blocks.0.attn.hook_k": "blocks.0.attn.hook_k",
    "blocks.0.attn.hook_q": "blocks.0.attn.hook_q",
    "blocks.0.attn.hook_v": "blocks.0.attn.hook_v",
    "blocks.0.attn.hook_attn_pre": "blocks.0.attn.hook_attn_scores",
    "blocks.0.attn.hook_attn": "blocks.0.attn.hook_pattern",
    "blocks.0.attn.hook_z": "blocks.0.attn.hook_z",
    "blocks.0.hook_attn_out": "blocks.0.hook_attn_out",
    "blocks.0.hook_resid_mid": "blocks.0.hook_resid_mid",
    "blocks.0.mlp.hook_pre": "blocks.0.mlp.hook_pre",
    "blocks.0.mlp.hook_post": "blocks.0.mlp.hook_post",
    "blocks.0.hook_mlp_out": "blocks.0.hook_mlp_out",
    "blocks.0.hook_resid_post": "blocks.0.hook_resid_post",
}

# Our per-head activations are (batch, head, pos, d_head); TransformerLens's (batch, pos, head, d_head).
_HEAD_SECOND = {"blocks.0.attn.hook_k", "blocks.0.attn.hook_q", "blocks.0.attn.hook_v", "blocks.0.attn.hook_z"}


def hooked_transformer_config(cfg: ModelConfig, device: str | torch.device = "cpu"):
    """The ``HookedTransformerConfig`` of our architecture (1 layer, no LayerNorm, ReLU, n_ctx 3)."""
    from transformer_lens import HookedTransformerConfig  # the optional `lens` extra: only the export needs it

    return HookedTransformerConfig(
        n_layers=1, d_model=cfg.d_model, n_heads=cfg.n_heads, d_head=cfg.d_head, d_mlp=cfg.d_mlp,
        d_vocab=cfg.d_vocab, d_vocab_out=cfg.d_vocab, n_ctx=cfg.n_ctx, act_fn="relu",
        normalization_type=None, positional_embedding_type="standard", attention_dir="causal",
        default_prepend_bos=False, device=str(device),
    )


def hooked_state_dict(params: dict[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """Our parameters (original names and layout) as TransformerLens parameters, biases included."""
    check_param_shapes(params, cfg)
    h, dh, d = cfg.n_heads, cfg.d_head, cfg.d_model
    p = {k: v.detach().to(torch.float32) for k, v in params.items()}
    return {
        "embed.W_E": p["embed.W_E"].T,
        "pos_embed.W_pos": p["pos_embed.W_pos"],
        # (head, d_head, d_model) -> (head, d_model, d_head)
        "blocks.0.attn.W_Q": p["blocks.0.attn.W_Q"].transpose(1, 2),
        "blocks.0.attn.W_K": p["blocks.0.attn.W_K"].transpose(1, 2),
        "blocks.0.attn.W_V": p["blocks.0.attn.W_V"].transpose(1, 2),
        # Our z is concatenated head by head (column i * d_head + j of W_O): split the heads apart.
        "blocks.0.attn.W_O": p["blocks.0.attn.W_O"].T.reshape(h, dh, d),
        "blocks.0.attn.b_Q": torch.zeros(h, dh),
        "blocks.0.attn.b_K": torch.zeros(h, dh),
        "blocks.0.attn.b_V": torch.zeros(h, dh),
        "blocks.0.attn.b_O": torch.zeros(d),
        "blocks.0.mlp.W_in": p["blocks.0.mlp.W_in"].T,
        "blocks.0.mlp.b_in": p["blocks.0.mlp.b_in"],
        "blocks.0.mlp.W_out": p["blocks.0.mlp.W_out"].T,
        "blocks.0.mlp.b_out": p["blocks.0.mlp.b_out"],
        "unembed.W_U": p["unembed.W_U"],
        "unembed.b_U": torch.zeros(cfg.d_vocab),
    }


def to_hooked_transformer(params: dict[str, torch.Tensor], cfg: ModelConfig, device: str | torch.device = "cpu"):
    """A TransformerLens ``HookedTransformer`` with our weights: the same logits on every input,
    with TransformerLens's hook names (see ``HOOK_NAMES``)."""
    try:
        from transformer_lens import HookedTransformer  # the optional `lens` extra
    except ImportError as err:
        raise ImportError(
            f"to_hooked_transformer needs transformer-lens 3.x ({err}); install it with "
            "`pip install -e '.[lens]'` (pinned to 3.9.0: TransformerLens 4 removed HookedTransformer)"
        ) from None
    with warnings.catch_warnings():
        # 3.x warns that HookedTransformer goes away in 4.0; the pin keeps it.
        warnings.filterwarnings("ignore", message="HookedTransformer is deprecated", category=DeprecationWarning)
        model = HookedTransformer(hooked_transformer_config(cfg, device))
    state = model.state_dict()  # keeps TransformerLens's own buffers (mask, IGNORE)
    state.update(hooked_state_dict(params, cfg))
    model.load_state_dict(state, strict=True)
    return model.eval()


def hooked_activation(name: str, activation: torch.Tensor) -> torch.Tensor:
    """One of our cached activations (``name`` a key of HOOK_NAMES) in TransformerLens's layout.

    Masked attention scores differ by design: ours are about -1e10 / sqrt(d_head) above the
    diagonal, TransformerLens's -inf; both give a zero attention weight.
    """
    if name not in HOOK_NAMES:
        raise ValueError(f"hook {name!r} has no TransformerLens counterpart; hooks that do: {', '.join(HOOK_NAMES)}")
    return activation.transpose(1, 2) if name in _HEAD_SECOND else activation
