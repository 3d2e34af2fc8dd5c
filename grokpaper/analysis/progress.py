"""Progress measures of Nanda et al. (2023), computable from a params dict (so along a run).

What is implemented (following the functions ``trig_loss`` and ``calculate_excluded_loss_2D_full``
of their ``Grokking_Analysis`` notebook, and the Gini of ``get_fourier_embedding``):

- Logits: the model's logits at "=" for all p^2 inputs, restricted to the p number tokens (the
  "=" logit is dropped, as in the original), giving a (p^2, p) table L.
- Template directions: for each key frequency k and w_k = 2 pi k / p, the unit vectors over the
  p^2 inputs u_cos(a, b) = cos(w_k t(a, b)) and u_sin(a, b) = sin(w_k t(a, b)), each scaled to
  norm 1, with t = a + b for addition and t = a - b for subtraction. (For odd p these are the
  original's (cos a cos b -/+ sin a sin b) / sqrt(2) directions built from the Fourier basis.)
  Other tasks have no such template and are rejected.
- Restricted loss: L_r = sum_k (u_cos u_cos^T + u_sin u_sin^T) L, i.e. each output column of L
  projected onto the key-frequency directions in input space; then the original's bias
  correction, L_r += mean over all p^2 inputs of (L - L_r); cross-entropy of L_r.
- Excluded loss: L_x = L - sum_k (u_cos u_cos^T + u_sin u_sin^T) L (all key frequencies removed
  at once), no bias correction; cross-entropy of L_x.
- The projections always use all p^2 inputs (they need the whole table); the inputs the losses
  are averaged over are a parameter: the original averaged the restricted loss over all pairs
  (``mode='all'``) and the excluded loss over the training pairs (``mode='train'``).
- Cross-entropy uses log-softmax in float64 over the p number logits (the original helper
  meant to but cast to float32).
- Gini coefficients (sorted-values formula, 0 = spread evenly, (n-1)/n = all on one) of the
  Fourier-component norms of W_E (||W_E[:, :p] B^T|| per basis row, over d_model: p values,
  the constant included, as ``get_fourier_embedding``) and of W_L = W_U[:, :p]^T W_out (per
  basis row over the p output tokens, norm over d_mlp).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import torch

from grokpaper.analysis.fourier import (
    DEFAULT_MIN_NEURONS,
    candidate_frequencies,
    fourier_basis,
    neuron_fourier_analysis,
)
from grokpaper.analysis.inspection import all_inputs, check_analysis_inputs, equals_position_forward
from grokpaper.core.data import all_pairs, labels
from grokpaper.core.model import ModelConfig

TEMPLATE_TASKS = {"add": 1, "subtract": -1}  # t(a, b) = a + sign * b


def check_template_task(task: str) -> None:
    """Reject tasks whose logits have no cos/sin(w_k t(a, b)) template (only add and subtract do)."""
    if task not in TEMPLATE_TASKS:
        raise ValueError(f"progress measures need a Fourier template for the task; task must be one of "
                         f"{', '.join(TEMPLATE_TASKS)} (template cos/sin(w_k (a+b)) or (a-b)), got {task!r}")


def template_directions(p: int, task: str, key_freqs: Sequence[int]) -> torch.Tensor:
    """Unit vectors over the p^2 inputs (row-major (a, b)): cos(w_k t) and sin(w_k t) for each key
    frequency k, t = a + b (add) or a - b (subtract); shape (2 len(key_freqs), p^2), float64
    (for even p, k = p/2 has no sine row)."""
    check_template_task(task)
    a, b = (torch.as_tensor(col, dtype=torch.float64) for col in all_pairs(p).T)
    t = a + TEMPLATE_TASKS[task] * b
    rows = []
    for k in key_freqs:
        rows += [torch.cos(2 * torch.pi * k * t / p), torch.sin(2 * torch.pi * k * t / p)]
    directions = torch.stack(rows)
    norms = directions.norm(dim=1, keepdim=True)
    # Even p, k = p/2: sin(pi t) is identically 0, so that frequency has only its cos direction.
    keep = norms[:, 0] > 1e-9
    return directions[keep] / norms[keep]


def restricted_and_excluded_logits(logits: torch.Tensor, p: int, task: str,
                                   key_freqs: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a (p^2, p) logit table (all inputs, row-major) into its key-frequency part, with the
    original's bias correction (restricted logits), and the rest (excluded logits)."""
    if logits.shape != (p * p, p):
        raise ValueError(f"logits must have shape (p^2, p) = ({p * p}, {p}), got {tuple(logits.shape)}")
    logits = logits.double()
    u = template_directions(p, task, key_freqs).to(logits.device)  # (2K, p^2)
    projected = u.T @ (u @ logits)  # the key-frequency component of every output column
    restricted = projected + (logits - projected).mean(0, keepdim=True)  # original's bias correction
    return restricted, logits - projected


def cross_entropy_f64(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean cross-entropy with the log-softmax in float64."""
    logprobs = torch.log_softmax(logits.double(), dim=-1)
    return float(-logprobs.gather(-1, targets[:, None]).mean())


def gini(values: torch.Tensor | np.ndarray) -> float:
    """Gini coefficient of non-negative values: sum_i (2i - n - 1) x_(i) / (n sum x), x sorted
    ascending (0 when all equal; (n-1)/n when all mass is on one value; 0 for all-zero input)."""
    x = np.sort(np.asarray(values, dtype=np.float64).ravel())
    n, total = len(x), x.sum()
    if n == 0 or total <= 0:
        return 0.0
    return float(((2 * np.arange(1, n + 1) - n - 1) * x).sum() / (n * total))


def fourier_gini(params: dict[str, torch.Tensor], p: int) -> dict[str, float]:
    """Gini coefficients of the Fourier-component norms of W_E and of W_L = W_U^T W_out (see module doc)."""
    basis, _ = fourier_basis(p, torch.float64)
    W_E = params["embed.W_E"][:, :p].detach().double().cpu()  # (d_model, p)
    W_L = params["unembed.W_U"][:, :p].detach().double().cpu().T @ params["blocks.0.mlp.W_out"].detach().double().cpu()
    return {
        "gini_W_E": gini((W_E @ basis.T).norm(dim=0)),
        "gini_W_L": gini((basis @ W_L).norm(dim=1)),
    }


def _select(on: str | np.ndarray, train_indices: np.ndarray | None, n: int, what: str) -> np.ndarray:
    if isinstance(on, str):
        if on == "all":
            return np.arange(n)
        if on in ("train", "test"):
            if train_indices is None:
                raise ValueError(f"{what}='{on}' needs train_indices (row-major pair indices of the train split)")
            return train_indices if on == "train" else np.setdiff1d(np.arange(n), train_indices)
        raise ValueError(f"{what} must be 'all', 'train', 'test' or an array of pair indices, got {on!r}")
    idx = np.asarray(on)
    if idx.ndim != 1 or idx.size == 0 or idx.min() < 0 or idx.max() >= n:
        raise ValueError(f"{what} as pair indices must be a non-empty 1-D array of values in 0..{n - 1}")
    return idx


@dataclass
class ProgressMeasures:
    """Nanda et al.'s progress measures for one model (see the module docstring for definitions)."""

    task: str
    key_freqs: list[int]
    full_loss: float  # same inputs as the restricted loss
    restricted_loss: float
    excluded_loss: float
    full_loss_on_excluded_inputs: float  # the unablated loss on the excluded loss's inputs
    restricted_accuracy: float
    excluded_accuracy: float
    gini_W_E: float
    gini_W_L: float
    n_restricted_inputs: int
    n_excluded_inputs: int

    def as_dict(self) -> dict:
        """Plain dict of every field (JSON-ready)."""
        return asdict(self)


def progress_measures(params: dict[str, torch.Tensor], cfg: ModelConfig, task: str = "add",
                      key_freqs: Sequence[int] | None = None, p: int | None = None,
                      restricted_on: str | np.ndarray = "all", excluded_on: str | np.ndarray = "train",
                      train_indices: np.ndarray | None = None,
                      min_neurons: int = DEFAULT_MIN_NEURONS, task_token: int = 0) -> ProgressMeasures:
    """Restricted loss, excluded loss and Fourier Gini coefficients of one model (Nanda et al. 2023).

    ``key_freqs``: the frequencies to keep/remove; None takes the neuron analysis's frequencies
    held by >= ``min_neurons`` neurons of this model (along a training run, pass the final
    model's key frequencies instead, as the original did). ``restricted_on`` / ``excluded_on``:
    the inputs each loss is averaged over: 'all' (p^2 pairs), 'train', 'test' (need
    ``train_indices``, row-major pair indices as from ``grokpaper.core.data.split_indices``) or an
    explicit index array. Defaults follow the original: restricted on all, excluded on train.
    """
    p = check_analysis_inputs(params, cfg, task, p, task_token)
    check_template_task(task)
    n = p * p
    restricted_idx = _select(restricted_on, train_indices, n, "restricted_on")
    excluded_idx = _select(excluded_on, train_indices, n, "excluded_on")
    if key_freqs is None:
        key_freqs = neuron_fourier_analysis(params, cfg, task, p, min_neurons, task_token).frequencies(min_neurons)
    key_freqs = [int(k) for k in key_freqs]
    allowed = set(candidate_frequencies(p).tolist())
    if not key_freqs or any(k not in allowed for k in key_freqs) or len(set(key_freqs)) != len(key_freqs):
        raise ValueError(f"key_freqs must be distinct frequencies in 1..{p // 2}, got {key_freqs}")

    logits = equals_position_forward(params, cfg, all_inputs(p, task_token))["logits"][:, :p].double()
    targets = torch.from_numpy(labels(task, all_pairs(p), p)).to(logits.device)
    restricted, excluded = restricted_and_excluded_logits(logits, p, task, key_freqs)

    def accuracy(lg, idx):
        return float((lg[idx].argmax(-1) == targets[idx]).double().mean())

    ridx, xidx = torch.as_tensor(restricted_idx), torch.as_tensor(excluded_idx)
    return ProgressMeasures(
        task=task, key_freqs=key_freqs,
        full_loss=cross_entropy_f64(logits[ridx], targets[ridx]),
        restricted_loss=cross_entropy_f64(restricted[ridx], targets[ridx]),
        excluded_loss=cross_entropy_f64(excluded[xidx], targets[xidx]),
        full_loss_on_excluded_inputs=cross_entropy_f64(logits[xidx], targets[xidx]),
        restricted_accuracy=accuracy(restricted, ridx),
        excluded_accuracy=accuracy(excluded, xidx),
        **fourier_gini(params, p),
        n_restricted_inputs=len(restricted_idx), n_excluded_inputs=len(excluded_idx),
    )


def progress_curve(checkpoints: Iterable[tuple[int, dict[str, torch.Tensor]]], cfg: ModelConfig,
                   task: str, key_freqs: Sequence[int], **kwargs) -> pd.DataFrame:
    """Progress measures along a training run: one row per (epoch, params) checkpoint, all with the
    same key frequencies (e.g. the final model's). Extra keyword arguments go to ``progress_measures``."""
    rows = []
    for epoch, params in checkpoints:
        row = progress_measures(params, cfg, task, key_freqs, **kwargs).as_dict()
        row.pop("key_freqs")
        rows.append({"epoch": epoch, **row})
    return pd.DataFrame(rows)
