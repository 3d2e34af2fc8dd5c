"""Fast path: the logits at "=" of M models at once, as batched tensor operations.

Same function as ``model.Transformer`` (tested equal on logits and gradients), computed
differently, for training speed:

* Only the "=" position is computed: the loss needs nothing else. Its query attends to
  all three positions (the causal mask hides nothing from the last position).
* Attention inputs are token lookups. Before the MLP the residual stream at a position is
  ``W_E[:, token] + W_pos[position]``, so keys, values and queries are computed once per
  (position, vocabulary token) in small tables and gathered per example, instead of three
  (N, 128) x (128, 128) products per example batch.
* M models train as one: parameters are stacked along a leading model dimension and every
  product is a batched matmul, each model with its own inputs (its own data split).

Parameters are a dict of tensors with the reference model's names and a leading model
dimension: ``params["blocks.0.mlp.W_in"]`` has shape (M, d_mlp, d_model).
"""

from __future__ import annotations

import math

import torch

from grokpaper.core.model import PARAM_NAMES, ModelConfig


def stack(param_dicts: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack per-model parameter dicts into one batched dict (leading model dimension)."""
    return {name: torch.stack([p[name] for p in param_dicts]) for name in PARAM_NAMES}


def _lookup(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Rows of a per-model table: table (M, V, D), index (M, N) -> (M, N, D)."""
    n_models, n_rows, width = table.shape
    offset = torch.arange(n_models, device=index.device)[:, None] * n_rows
    return table.reshape(n_models * n_rows, width).index_select(0, (index + offset).reshape(-1)).view(
        n_models, -1, width
    )


def logits_at_eq(params: dict[str, torch.Tensor], tokens: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
    """Logits at the "=" position: tokens (M, N, 3) -> (M, N, d_vocab)."""
    M, N, _ = tokens.shape
    H, dh = cfg.n_heads, cfg.d_head
    W_E, W_pos = params["embed.W_E"], params["pos_embed.W_pos"]  # (M, d, V), (M, 3, d)

    # Residual stream of every vocabulary token at every position: (M, 3, V, d).
    resid_table = W_E.transpose(1, 2)[:, None] + W_pos[:, :, None, :]

    def per_token(name, table):  # project a residual table through W_K/W_Q/W_V: (..., V, d) -> (..., V, H*dh)
        W = params[name].reshape(M, H * dh, -1)
        return torch.einsum("m...vd,mfd->m...vf", table, W)

    keys = per_token("blocks.0.attn.W_K", resid_table).view(M, 3, -1, H, dh)  # (M, 3 pos, V, H, dh)
    values = per_token("blocks.0.attn.W_V", resid_table)  # (M, 3 pos, V, H*dh)
    queries = per_token("blocks.0.attn.W_Q", resid_table[:, 2]).view(M, -1, H, dh)  # "=" position only

    # Attention score of the "=" query (token s) on position j holding token t depends on (s, t)
    # alone: a (V x V) table per position and head, tiny next to one score per example.
    score_table = torch.einsum("msha,mjtha->mjsth", queries, keys) / math.sqrt(dh)  # (M, 3, V, V, H)
    V = score_table.shape[2]
    eq_token = tokens[..., 2]
    scores = torch.stack(
        [_lookup(score_table[:, j].reshape(M, V * V, H), eq_token * V + tokens[..., j]) for j in range(3)], dim=2
    )  # (M, N, 3 keys, H)
    pattern = scores.softmax(dim=2)
    z = sum(
        pattern[:, :, j, :, None] * _lookup(values[:, j], tokens[..., j]).view(M, N, H, dh) for j in range(3)
    ).reshape(M, N, H * dh)  # heads concatenated, as W_O expects
    attn_out = z @ params["blocks.0.attn.W_O"].transpose(1, 2)

    resid_mid = _lookup(resid_table[:, 2], tokens[..., 2]) + attn_out  # (M, N, d)
    pre = torch.baddbmm(params["blocks.0.mlp.b_in"][:, None], resid_mid, params["blocks.0.mlp.W_in"].transpose(1, 2))
    post = torch.relu(pre)
    resid_post = resid_mid + torch.baddbmm(
        params["blocks.0.mlp.b_out"][:, None], post, params["blocks.0.mlp.W_out"].transpose(1, 2)
    )
    return resid_post @ params["unembed.W_U"]


def loss_and_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-model cross-entropy (log-softmax in float64) and accuracy: (M, N, V), (M, N) -> (M,), (M,).

    Accuracy takes the argmax over all logits (predicting "=" counts as wrong).
    """
    logprobs = torch.log_softmax(logits.to(torch.float64), dim=-1)
    loss = -logprobs.gather(-1, labels[..., None]).squeeze(-1).mean(-1)
    accuracy = (logits.argmax(-1) == labels).to(torch.float64).mean(-1)
    return loss, accuracy

