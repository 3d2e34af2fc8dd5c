"""Which MLP neurons a model uses for a task: direct attribution to the correct answer (issue 22).

The multi-task hypothesis ("multi-task training from scratch creates shared circuits, while
sequential training forces distinct circuits") is about one model doing two tasks. Key frequencies
cannot decide it: two task tokens of one model read the same neurons, so their frequency sets
coincide by construction in both designs. What can differ is *which neurons carry each task's
answer*. That is measured here, like for like in any model with task tokens:

* **Direct attribution** (``direct_attribution``): on every input ``[a, b, =_t]`` of a task, neuron
  n's activation at "=" times its direct path to the logits (``W_U^T W_out[:, n]``), read as the
  correct answer's logit minus the mean logit over the p number tokens (the *margin*; the mean takes
  out what a neuron adds to every answer alike). One value per input and neuron.
* **Use** (``neuron_use``): each neuron's mean attribution over the task's inputs the model
  answers correctly (``answered``: the circuit that does the task, where the model does it; a
  model that does a task on half its inputs is measured on that half), clamped at 0: a neuron
  that on average lowers the correct answer's margin is not *used* for it.
  ``dropped_share`` says how much of the attribution the clamp leaves out, so that a reader can see
  whether the clamp matters.
* **Overlap** of two tasks' use (``use_overlap``): the weighted Jaccard index
  ``sum min(u, v) / sum max(u, v)`` of the two use vectors, 1 when both tasks use the same neurons
  in the same proportions, 0 when they use disjoint sets. Its null (``overlap_null``) relabels the
  neurons of one task at random (seeded): the overlap two tasks would have if each used as many
  neurons, with the same profile, placed independently. ``chance_corrected`` rescales the overlap so
  that the null's mean is 0 and full overlap 1.

Everything is a measurement of one set of weights; tests over seeds are in ``paper.task_tokens``.
"""

from __future__ import annotations

import torch

from grokpaper.core.data import all_pairs, labels, tokens
from grokpaper.core.model import ModelConfig, Transformer


def direct_attribution(params: dict[str, torch.Tensor], cfg: ModelConfig, task: str, token: int,
                       table_seed: int = 0) -> torch.Tensor:
    """(p², d_mlp): each neuron's direct contribution to the correct answer's margin (its logit
    minus the mean logit over the p numbers) on every input ``[a, b, =_token]`` of ``task``."""
    if not 0 <= token < cfg.n_task_tokens:
        raise ValueError(f"token must be one of the model's {cfg.n_task_tokens} task tokens (0..{cfg.n_task_tokens - 1}); "
                         f"got {token}")
    p = cfg.p
    pairs = all_pairs(p, task)
    x = tokens(pairs, p, task_token=token)
    y = torch.as_tensor(labels(task, pairs, p, table_seed=table_seed), dtype=torch.long)
    model = Transformer(cfg, params)
    with torch.no_grad():
        _, cache = model.run_with_cache(x)
        post = cache["blocks.0.mlp.hook_post"][:, -1, :]                     # (inputs, d_mlp) at "="
        W_U = params["unembed.W_U"][:, :p]                                    # the p number tokens
        direct = W_U.T @ params["blocks.0.mlp.W_out"]                        # (p, d_mlp): neuron -> logit
        margin = direct - direct.mean(dim=0, keepdim=True)                  # logit minus the mean over answers
        return post * margin[y]                                               # (inputs, d_mlp)


def answered(params: dict[str, torch.Tensor], cfg: ModelConfig, task: str, token: int,
             table_seed: int = 0) -> torch.Tensor:
    """(p²,) bool: the inputs ``[a, b, =_token]`` of ``task`` (in ``direct_attribution``'s order)
    whose correct answer is the model's argmax over all logits at "="."""
    pairs = all_pairs(cfg.p, task)
    y = torch.as_tensor(labels(task, pairs, cfg.p, table_seed=table_seed), dtype=torch.long)
    with torch.no_grad():
        return Transformer(cfg, params)(tokens(pairs, cfg.p, task_token=token))[:, -1].argmax(-1) == y


def _rows(attribution: torch.Tensor, on: torch.Tensor | None) -> torch.Tensor:
    if on is None:
        return attribution
    if on.shape != attribution.shape[:1]:
        raise ValueError(f"on must mark each of the {attribution.shape[0]} inputs; got shape {tuple(on.shape)}")
    return attribution[on]


def neuron_use(attribution: torch.Tensor, on: torch.Tensor | None = None) -> torch.Tensor:
    """(d_mlp,): each neuron's mean attribution over the task's inputs (or those ``on`` marks, e.g.
    ``answered``), clamped at 0; all 0 when ``on`` marks none (the model does the task nowhere)."""
    rows = _rows(attribution, on)
    if len(rows) == 0:
        return torch.zeros(attribution.shape[1], dtype=attribution.dtype)
    return rows.mean(dim=0).clamp(min=0)


def dropped_share(attribution: torch.Tensor, on: torch.Tensor | None = None) -> float:
    """The share of the neurons' summed absolute mean attribution (over the inputs ``on`` marks, or
    all) that the clamp of ``neuron_use`` leaves out (the negative part); 0 when no neuron lowers
    the margin on average, or no input is marked."""
    rows = _rows(attribution, on)
    if len(rows) == 0:
        return 0.0
    mean = rows.mean(dim=0)
    total = float(mean.abs().sum())
    return float((-mean.clamp(max=0)).sum()) / total if total > 0 else 0.0


def shares(use: torch.Tensor) -> torch.Tensor:
    """The use as shares of its sum (all 0 when no neuron is used)."""
    total = use.sum()
    return use / total if float(total) > 0 else torch.zeros_like(use)


def use_overlap(u: torch.Tensor, v: torch.Tensor) -> float:
    """Weighted Jaccard index of two use vectors' shares: sum min / sum max (module docstring)."""
    if u.shape != v.shape:
        raise ValueError(f"use vectors must have the same shape; got {tuple(u.shape)} and {tuple(v.shape)}")
    a, b = shares(u), shares(v)
    high = float(torch.maximum(a, b).sum())
    return float(torch.minimum(a, b).sum()) / high if high > 0 else float("nan")


def overlap_null(u: torch.Tensor, v: torch.Tensor, n_draws: int, seed: int) -> torch.Tensor:
    """(n_draws,): ``use_overlap`` with ``v``'s neurons relabelled by seeded random permutations."""
    if n_draws < 1:
        raise ValueError(f"n_draws must be at least 1; got {n_draws}")
    if u.shape != v.shape:
        raise ValueError(f"use vectors must have the same shape; got {tuple(u.shape)} and {tuple(v.shape)}")
    generator = torch.Generator().manual_seed(seed)
    a, b = shares(u).double(), shares(v).double()
    out = []
    for start in range(0, n_draws, 1000):   # draws in chunks: 1,000 permutations of d_mlp at a time
        k = min(1000, n_draws - start)
        order = torch.argsort(torch.rand(k, len(b), generator=generator), dim=1)
        relabelled = b[order]
        low, high = torch.minimum(a, relabelled).sum(dim=1), torch.maximum(a, relabelled).sum(dim=1)
        out.append(torch.where(high > 0, low / high, torch.full_like(high, float("nan"))))
    return torch.cat(out)


def chance_corrected(observed: float, null: torch.Tensor) -> float:
    """(observed - null mean) / (1 - null mean): 0 at chance, 1 at full overlap."""
    chance = float(null.mean())
    return (observed - chance) / (1 - chance) if chance < 1 else float("nan")
