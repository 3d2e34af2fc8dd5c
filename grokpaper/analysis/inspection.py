"""Looking inside one model: the forward pass at "=", attention from "=", weight norms.

``equals_position_forward`` is a vectorised forward pass that computes only what the
circuit analyses need (the "=" position: attention pattern, MLP activations, logits). It is
tested equal to the reference model (``grokpaper.core.model.Transformer.run_with_cache``) and is
the shared entry point of ``fourier.py`` and ``progress.py``.

``check_analysis_inputs`` is the one place that validates (params, cfg, task, p) for every
analysis, so a mismatch fails with one clear ``ValueError`` before anything is computed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from grokpaper.core.data import all_pairs, check_task, tokens
from grokpaper.core.model import PARAM_NAMES, ModelConfig, check_param_shapes

# --- validation ----------------------------------------------------------------------------


def check_analysis_inputs(params: dict[str, torch.Tensor], cfg: ModelConfig, task: str = "add",
                          p: int | None = None, task_token: int = 0) -> int:
    """Validate an analysis request and return p: the task is known, p agrees with the config,
    parameter names/shapes fit the config, and no weight is NaN or infinite."""
    if not isinstance(cfg, ModelConfig):
        raise ValueError(f"cfg must be a grokpaper.core.model.ModelConfig, got {type(cfg).__name__}")
    p = cfg.p if p is None else p
    check_task(task, p)
    if p != cfg.p:
        raise ValueError(f"p={p} does not match the model config (cfg.p={cfg.p}, d_vocab={cfg.d_vocab})")
    if not isinstance(params, dict):
        raise ValueError(f"params must be a dict of original-name tensors, got {type(params).__name__}")
    # A p = 97 checkpoint has W_E of shape (d_model, 98): this names the parameter and both p.
    check_param_shapes(params, cfg)
    for name in PARAM_NAMES:
        if not torch.isfinite(params[name]).all():
            n_bad = int((~torch.isfinite(params[name])).sum())
            raise ValueError(f"parameter {name} has {n_bad} NaN or infinite values; cannot analyse this model")
    if not 0 <= task_token < cfg.n_task_tokens:
        raise ValueError(f"task_token must be in 0..{cfg.n_task_tokens - 1} (cfg.n_task_tokens), got {task_token}")
    return p


# --- forward pass at "=" -------------------------------------------------------------------


@torch.no_grad()
def equals_position_forward(params: dict[str, torch.Tensor], cfg: ModelConfig,
                            inputs: torch.Tensor) -> dict[str, torch.Tensor]:
    """The reference model's computation at the "=" (last) position only, for (n, 3) token inputs.

    Returns ``attn_pattern`` (n, heads, 3: weight on positions a, b, =), ``mlp_post`` (n, d_mlp:
    post-ReLU, the reference's ``blocks.0.mlp.hook_post[:, -1]``) and ``logits`` (n, d_vocab).
    """
    W_E, W_pos = params["embed.W_E"], params["pos_embed.W_pos"]
    W_Q, W_K, W_V = params["blocks.0.attn.W_Q"], params["blocks.0.attn.W_K"], params["blocks.0.attn.W_V"]
    W_O = params["blocks.0.attn.W_O"]
    W_in, b_in = params["blocks.0.mlp.W_in"], params["blocks.0.mlp.b_in"]
    W_out, b_out = params["blocks.0.mlp.W_out"], params["blocks.0.mlp.b_out"]
    W_U = params["unembed.W_U"]
    n = inputs.shape[0]

    resid = W_E.T[inputs] + W_pos  # (n, 3, d_model)
    k = torch.einsum("ihd,npd->niph", W_K, resid)  # keys of all 3 positions
    v = torch.einsum("ihd,npd->niph", W_V, resid)
    q = torch.einsum("ihd,nd->nih", W_Q, resid[:, -1])  # query of "=" only
    # The last query row sees all 3 keys, so the causal mask removes nothing here.
    scores = torch.einsum("niph,nih->nip", k, q) / math.sqrt(cfg.d_head)
    pattern = torch.softmax(scores, dim=-1)  # (n, heads, 3)
    z = torch.einsum("niph,nip->nih", v, pattern).reshape(n, -1)  # heads concatenated
    resid_mid = resid[:, -1] + z @ W_O.T
    mlp_post = torch.relu(resid_mid @ W_in.T + b_in)
    resid_post = resid_mid + mlp_post @ W_out.T + b_out
    return {"attn_pattern": pattern, "mlp_post": mlp_post, "logits": resid_post @ W_U}


def all_inputs(p: int, task_token: int = 0) -> torch.Tensor:
    """All p^2 inputs [a, b, =] in row-major (a, b) order, as a (p^2, 3) long tensor."""
    return tokens(all_pairs(p), p, task_token)


# --- attention -----------------------------------------------------------------------------


@dataclass
class AttentionSummary:
    """Attention from "=" to the positions (a, b, =), per head, over all p^2 inputs.

    ``mean``: DataFrame indexed by head, columns ``a``, ``b``, ``=`` (mean weight over inputs).
    ``maps``: array (heads, 3, p, p); ``maps[h, j, a, b]`` is head h's weight on position j
    (0 = a, 1 = b, 2 = "=") for input [a, b, =], ready for a heatmap.
    """

    mean: pd.DataFrame
    maps: np.ndarray
    p: int


def attention_from_equals(params: dict[str, torch.Tensor], cfg: ModelConfig, task: str = "add",
                          p: int | None = None, task_token: int = 0) -> AttentionSummary:
    """Each head's attention weight from "=" to a, b and "=" over all p^2 inputs: mean and p x p maps."""
    p = check_analysis_inputs(params, cfg, task, p, task_token)
    pattern = equals_position_forward(params, cfg, all_inputs(p, task_token))["attn_pattern"]
    pattern = pattern.double().cpu()
    maps = pattern.permute(1, 2, 0).reshape(cfg.n_heads, 3, p, p).numpy()
    mean = pd.DataFrame(pattern.mean(0).numpy(), columns=["a", "b", "="])
    mean.index.name = "head"
    return AttentionSummary(mean=mean, maps=maps, p=p)


# --- weight norms --------------------------------------------------------------------------


def weight_norms(params: dict[str, torch.Tensor],
                 init: dict[str, torch.Tensor] | None = None) -> pd.DataFrame:
    """Frobenius norm of every parameter matrix; with ``init`` (e.g. the weights a run started
    from) also the change ||W - W0|| and the relative change ||W - W0|| / ||W0||.

    One row per original parameter name (the attention mask buffer is not a parameter).
    Relative change is NaN where ||W0|| = 0 (biases start at zero).
    """
    missing = [name for name in PARAM_NAMES if name not in params]
    if missing:
        raise ValueError(f"params is missing parameters {missing}")
    if init is not None:
        missing = [name for name in PARAM_NAMES if name not in init]
        if missing:
            raise ValueError(f"init is missing parameters {missing}")
        for name in PARAM_NAMES:
            if tuple(init[name].shape) != tuple(params[name].shape):
                raise ValueError(f"parameter {name} has shape {tuple(params[name].shape)} but init has "
                                 f"{tuple(init[name].shape)}; they are not the same architecture")
    rows = []
    for name in PARAM_NAMES:
        w = params[name].detach().double().cpu()
        row = {"param": name, "shape": tuple(w.shape), "numel": w.numel(), "norm": float(w.norm())}
        if init is not None:
            w0 = init[name].detach().double().cpu()
            row["init_norm"] = float(w0.norm())
            row["change_norm"] = float((w - w0).norm())
            row["relative_change"] = row["change_norm"] / row["init_norm"] if row["init_norm"] > 0 else math.nan
        rows.append(row)
    return pd.DataFrame(rows).set_index("param")
