"""Causal tests on a model's weights: what carries the transfer (issue 21).

Every measure runs the model at "=" on all p^2 inputs [a, b, =] (row-major (a, b)) and scores it
on a task with the trainer's metrics: cross-entropy over all p + 1 logits with the log-softmax in
float64, accuracy of the argmax over all logits.

**Key-frequency ablation** (``key_frequency_ablation``), two ways, each against a null:

- *embedding*: W_E's number columns (its token axis, tokens 0..p-1; "=" untouched) projected off
  the orthonormal Fourier vectors cos(w_k t), sin(w_k t) of the given frequencies, then the whole
  forward pass as usual;
- *neurons*: the MLP activations at "=" (each neuron a p x p table over (a, b)) projected off the
  2-D Fourier terms of the frequencies, the 8 terms {const, cos k, sin k}(a) x {const, cos k,
  sin k}(b) other than const x const of each (the terms whose share the neuron method of
  ``fourier.py`` measures), then W_out and the unembedding as usual: Nanda et al.'s excluded-loss
  idea, on the neurons instead of the logits.

The null removes as many frequencies drawn at random among the others (no key frequency), in
``n_draws`` seeded draws: a key frequency ablation that hurts no more than random ones says the
key frequencies carry nothing special. ``p`` is the share of draws (counting the observed one,
(1 + #)/(1 + n)) whose loss is at least the key ablation's.

**Head importance** (``head_importance``): each head's output at "=" (its attention-weighted
values through W_O) replaced by its mean over all inputs, then the rest of the forward pass;
the loss increase over the intact model. Beside it, the head's mean attention from "=" to a, b
and "=".

**The sign flip** (``sign_flip_table``). cos(w(a - b)) = cos wa cos wb + sin wa sin wb while
cos(w(a + b)) = cos wa cos wb - sin wa sin wb: an addition circuit turns into a subtraction one
if the sin(w b) part of what reaches the neurons from b changes sign relative to a's (b -> -b,
a reflection of the (cos wb, sin wb) plane). W_E is shared by both positions, so the flip can only
happen on the way from position b to the MLP. Per frequency k and operand x in {a, b}:

- the path's OV map ``OV_x = sum_h att_h(x) W_O^h W_V^h`` (att_h(x): head h's mean attention from
  "=" to position x over all inputs), and the embedding's frequency-k components
  ``C_k = W_E[:, :p] [e_cos_k, e_sin_k]`` (e: unit Fourier vectors over the tokens);
- ``M_x,k = W_in OV_x C_k``, a d_mlp x 2 matrix: column cos (sin) is what the cos(w_k x)
  (sin(w_k x)) component of the operand adds to each neuron's pre-activation. A neuron that
  receives r cos(w a - t_a) + r' cos(w b - t_b) has row (r cos t_a, r sin t_a) in M_a and
  (r' cos t_b, r' sin t_b) in M_b.
- Two columns compared, a start S and a target T (both d_mlp x 2): the cosine similarity of T's
  cos column with S's and of T's sin column with S's, and the 2 x 2 map R that best carries S to T
  (least squares, T ~ S R), with ``orientation`` = sign det R (-1: a reflection, the flip in any
  phase; +1: a rotation) and ``fit`` = 1 - |T - S R|^2 / |T|^2; and, neuron by neuron, the rows
  as complex numbers z = cos + i sin (amplitude and phase of the neuron's input): the phase
  coherences ``coherence_same`` = |sum z_T conj(z_S)| / sum |z_T||z_S| (1: every neuron's phase
  moved by one common shift, or not at all) and ``coherence_reflected`` = |sum z_T z_S| / sum
  |z_T||z_S| (1: every neuron's phase reflected, then one common shift). Unlike the single map R,
  the coherences let the amplitudes change neuron by neuron; ``phase_gap``, the mean over neurons
  (same weights) of the angle between z_T and z_S, in degrees (0: the same phase; a reflection
  spreads it over 0..180; two groups of neurons shifted by +d and -d give d).

Comparisons: **"b vs a"**, within one model, M_b against M_a (its own W_in). A grokked addition
source whose heads read a and b alike has M_b = M_a (+1, +1, orientation +1, same phase 1); the
hypothesis says a subtraction model has M_b = M_a diag(1, -1): cos similarity +1 for the cos
columns, -1 for the sin columns, orientation -1, fit 1, flipped phase 1. **"a vs source"** and **"b vs source"**: the model's paths
against its grokked source's, both read by the source's neurons (the source's W_in: the MLP input
directions the source used): circuit reuse with the flip on top predicts a kept (+1, +1) and b
flipped (+1, -1). For an even p the frequency p/2 has no sin vector and is left out.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from grokpaper.analysis.fourier import candidate_frequencies, check_count, fourier_basis
from grokpaper.analysis.inspection import check_analysis_inputs
from grokpaper.analysis.progress import cross_entropy_f64
from grokpaper.core.data import all_pairs, labels
from grokpaper.core.model import ModelConfig

WHERE = ("embedding", "neurons")  # where key frequencies are ablated
PATHS = ("a", "b")  # the operand positions the heads read


# --- the forward pass at "=", in parts ------------------------------------------------------------


@torch.no_grad()
def equals_parts(params: dict[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """The reference model at "=" for all p^2 inputs, split where the ablations cut it: the "="
    residual before attention (``resid_eq``, d_model), each head's output there (``head_out``,
    (p^2, heads, d_model): attention-weighted values through W_O) and the attention pattern
    (``pattern``, (p^2, heads, 3): on a, b, "=")."""
    p, heads, d_head, d_model = cfg.p, cfg.n_heads, cfg.d_head, cfg.d_model
    W_E, W_pos = params["embed.W_E"], params["pos_embed.W_pos"]
    resid = [W_E[:, :p].T + W_pos[0], W_E[:, :p].T + W_pos[1], (W_E[:, p] + W_pos[2])[None]]  # a, b, "="
    query = torch.einsum("hkd,d->hk", params["blocks.0.attn.W_Q"], resid[2][0])
    W_O = params["blocks.0.attn.W_O"].reshape(d_model, heads, d_head)
    scores, values = [], []
    for r in resid:  # per key position: a (p rows), b (p rows), "=" (1 row)
        keys = torch.einsum("hkd,td->thk", params["blocks.0.attn.W_K"], r)
        scores.append(torch.einsum("thk,hk->th", keys, query) / math.sqrt(d_head))
        values.append(torch.einsum("hkd,td,ehk->the", params["blocks.0.attn.W_V"], r, W_O))  # (t, heads, d_model)
    pattern = torch.softmax(torch.stack([scores[0][:, None].expand(p, p, heads), scores[1][None].expand(p, p, heads),
                                         scores[2].expand(p, p, heads)], dim=-1), dim=-1)  # (a, b, head, key)
    head_out = (pattern[..., 0, None] * values[0][:, None] + pattern[..., 1, None] * values[1][None]
                + pattern[..., 2, None] * values[2][0])
    return {"resid_eq": resid[2][0], "head_out": head_out.reshape(p * p, heads, d_model),
            "pattern": pattern.reshape(p * p, heads, 3)}


@torch.no_grad()
def _mlp_and_logits(params: dict[str, torch.Tensor], resid_mid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """MLP activations and logits at "=" from the residual stream after attention."""
    mlp_post = torch.relu(resid_mid @ params["blocks.0.mlp.W_in"].T + params["blocks.0.mlp.b_in"])
    resid_post = resid_mid + mlp_post @ params["blocks.0.mlp.W_out"].T + params["blocks.0.mlp.b_out"]
    return mlp_post, resid_post @ params["unembed.W_U"]


def _score(logits: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """Loss (all logits, log-softmax in float64) and accuracy (argmax) of a task's targets."""
    return {"loss": cross_entropy_f64(logits, targets),
            "accuracy": float((logits.argmax(-1) == targets).double().mean())}


def _targets(cfg: ModelConfig, task: str) -> torch.Tensor:
    return torch.from_numpy(labels(task, all_pairs(cfg.p), cfg.p)).long()


# --- Fourier directions ---------------------------------------------------------------------------


def _check_freqs(freqs, p: int, name: str) -> list[int]:
    freqs = [int(k) for k in freqs]
    allowed = set(candidate_frequencies(p).tolist())
    if not freqs or any(k not in allowed for k in freqs) or len(set(freqs)) != len(freqs):
        raise ValueError(f"{name} must be distinct frequencies in 1..{p // 2}, got {freqs}")
    return freqs


def _rows(p: int, k: int) -> list[int]:
    """The rows of ``fourier_basis(p)`` of frequency k: cos k, sin k (the Nyquist p/2: cos only)."""
    return [2 * k - 1, 2 * k] if 2 * k < p else [p - 1]


def token_directions(p: int, freqs: Sequence[int]) -> torch.Tensor:
    """The orthonormal Fourier vectors over the p number tokens of the given frequencies: cos k and
    sin k for each (the Nyquist p/2 of an even p: its cos alone), (rows, p) float64."""
    freqs = _check_freqs(freqs, p, "freqs")
    basis, _ = fourier_basis(p, torch.float64)
    return basis[[r for k in freqs for r in _rows(p, k)]]


def neuron_directions(p: int, freqs: Sequence[int]) -> torch.Tensor:
    """The orthonormal 2-D Fourier vectors over the p^2 inputs (row-major (a, b)) of the given
    frequencies: for each k the products of {const, cos k, sin k} in a and in b other than
    const x const (8 of them; 3 for the Nyquist p/2), (rows, p^2) float64."""
    freqs = _check_freqs(freqs, p, "freqs")
    basis, _ = fourier_basis(p, torch.float64)
    rows = []
    for k in freqs:
        terms = [0, *_rows(p, k)]
        rows += [torch.outer(basis[f], basis[g]).reshape(-1) for f in terms for g in terms if (f, g) != (0, 0)]
    return torch.stack(rows)


def without_embedding_frequencies(params: dict[str, torch.Tensor], freqs: Sequence[int]) -> dict[str, torch.Tensor]:
    """``params`` with W_E's number columns projected off the Fourier vectors of ``freqs`` over the
    tokens (``token_directions``); "=" and every other matrix unchanged."""
    W_E = params["embed.W_E"]
    p = W_E.shape[1] - 1
    directions = token_directions(p, freqs).to(W_E.device)
    numbers = W_E[:, :p].double()
    ablated = W_E.detach().clone()
    ablated[:, :p] = (numbers - (numbers @ directions.T) @ directions).to(W_E.dtype)
    return {**params, "embed.W_E": ablated}


# --- key-frequency ablation -----------------------------------------------------------------------


@torch.no_grad()
def key_frequency_ablation(params: dict[str, torch.Tensor], cfg: ModelConfig, task: str, key_freqs: Sequence[int],
                           *, n_draws: int, seed: int) -> pd.DataFrame:
    """The task's loss and accuracy of the model intact, with ``key_freqs`` ablated from the
    embedding and from the neurons (module docstring), and with as many random other frequencies
    ablated the same ways in ``n_draws`` draws (a numpy generator seeded with ``seed``): one row
    per (``where``, ``ablated``: none / key / random, ``draw``) with the ``freqs`` removed."""
    p = check_analysis_inputs(params, cfg, task)
    key_freqs = _check_freqs(key_freqs, p, "key_freqs")
    n_draws = check_count("n_draws", n_draws, 1)
    others = [k for k in candidate_frequencies(p).tolist() if k not in key_freqs]
    if len(others) < len(key_freqs):
        raise ValueError(f"key_freqs: {len(key_freqs)} key frequencies leave only {len(others)} others among the "
                         f"{p // 2} candidates, too few to draw as many at random")
    rng = np.random.default_rng(seed)
    draws = [sorted(rng.choice(others, size=len(key_freqs), replace=False).tolist()) for _ in range(n_draws)]
    targets = _targets(cfg, task)
    parts = equals_parts(params, cfg)
    resid_mid = parts["resid_eq"] + parts["head_out"].sum(1)
    mlp_post, logits = _mlp_and_logits(params, resid_mid)
    rows = [{"where": where, "ablated": "none", "draw": None, "freqs": "", **_score(logits, targets)} for where in WHERE]
    # The neurons' contribution to the logits is linear in their activations: removing a part of
    # them removes (that part) W_out^T W_U from the logits.
    acts = mlp_post.double()
    to_logits = params["blocks.0.mlp.W_out"].T.double() @ params["unembed.W_U"].double()
    for ablated, freqs, draw in [("key", sorted(key_freqs), None)] + [("random", f, i) for i, f in enumerate(draws)]:
        cut = without_embedding_frequencies(params, freqs)
        parts_cut = equals_parts(cut, cfg)
        _, embedding_logits = _mlp_and_logits(cut, parts_cut["resid_eq"] + parts_cut["head_out"].sum(1))
        u = neuron_directions(p, freqs).to(acts.device)
        neuron_logits = logits.double() - u.T @ ((u @ acts) @ to_logits)
        label = " ".join(map(str, freqs))
        rows.append({"where": "embedding", "ablated": ablated, "draw": draw, "freqs": label,
                     **_score(embedding_logits, targets)})
        rows.append({"where": "neurons", "ablated": ablated, "draw": draw, "freqs": label,
                     **_score(neuron_logits, targets)})
    return pd.DataFrame(rows)


def ablation_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per place of ablation (``key_frequency_ablation``'s table): the intact and the key-ablated
    loss and accuracy, the random draws' median loss and accuracy with their 5th-95th percentiles,
    and p = (1 + draws with loss >= the key-ablated loss) / (1 + draws)."""
    missing = {"where", "ablated", "loss", "accuracy"} - set(table.columns)
    if missing:
        raise ValueError(f"table lacks the columns {sorted(missing)} (a key_frequency_ablation table)")
    rows = []
    for where in [w for w in WHERE if w in set(table["where"])]:
        part = table[table["where"] == where]
        intact, key = (part[part["ablated"] == kind].iloc[0] for kind in ("none", "key"))
        null = part[part["ablated"] == "random"]
        rows.append({
            "where": where, "intact loss": intact["loss"], "intact accuracy": intact["accuracy"],
            "key loss": key["loss"], "key accuracy": key["accuracy"], "draws": len(null),
            "random loss median": null["loss"].median(), "random loss 5%": null["loss"].quantile(0.05),
            "random loss 95%": null["loss"].quantile(0.95), "random accuracy median": null["accuracy"].median(),
            "random accuracy 5%": null["accuracy"].quantile(0.05),
            "random accuracy 95%": null["accuracy"].quantile(0.95),
            "p": (1 + int((null["loss"] >= key["loss"]).sum())) / (1 + len(null)),
        })
    return pd.DataFrame(rows)


# --- heads ----------------------------------------------------------------------------------------


@torch.no_grad()
def head_importance(params: dict[str, torch.Tensor], cfg: ModelConfig, task: str) -> pd.DataFrame:
    """Per head: the task's loss and accuracy with the head's output at "=" replaced by its mean
    over all p^2 inputs (mean ablation), the loss increase over the intact model, and the head's
    mean attention from "=" to a, b and "=" (``attn_a``, ``attn_b``, ``attn_eq``)."""
    check_analysis_inputs(params, cfg, task)
    targets = _targets(cfg, task)
    parts = equals_parts(params, cfg)
    head_out = parts["head_out"]
    intact = _score(_mlp_and_logits(params, parts["resid_eq"] + head_out.sum(1))[1], targets)
    attention = parts["pattern"].double().mean(0)
    rows = []
    for h in range(cfg.n_heads):
        ablated = head_out.clone()
        ablated[:, h] = head_out[:, h].mean(0)
        score = _score(_mlp_and_logits(params, parts["resid_eq"] + ablated.sum(1))[1], targets)
        rows.append({"head": h, "loss": score["loss"], "accuracy": score["accuracy"],
                     "loss increase": score["loss"] - intact["loss"], "intact loss": intact["loss"],
                     "attn_a": float(attention[h, 0]), "attn_b": float(attention[h, 1]),
                     "attn_eq": float(attention[h, 2])})
    return pd.DataFrame(rows)


def operand_reading(heads: pd.DataFrame, threshold: float) -> dict:
    """Whether each head reads one operand: its mean attention from "=" to a or to b is at least
    ``threshold`` (``head_importance``'s ``attn_a``, ``attn_b``). Returns ``reads`` (per head "a",
    "b" or None), ``every_head_one_operand`` and ``both_operands_read`` (some head reads a, another b)."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be a share in (0, 1], got {threshold!r}")
    reads = {int(r["head"]): ("a" if r["attn_a"] >= threshold else "b" if r["attn_b"] >= threshold else None)
             for _, r in heads.iterrows()}
    return {"reads": reads, "every_head_one_operand": all(v is not None for v in reads.values()),
            "both_operands_read": {"a", "b"} <= set(reads.values())}


# --- the sign flip --------------------------------------------------------------------------------

COMPARISONS = ("b vs a", "a vs source", "b vs source")  # the sign-flip table's comparisons, in order


@torch.no_grad()
def operand_paths(params: dict[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """For each operand position x (a, b): the heads' OV maps weighted by their mean attention from
    "=" to x over all inputs, sum_h att_h(x) W_O^h W_V^h, (d_model, d_model) float64."""
    attention = equals_parts(params, cfg)["pattern"].double().mean(0)  # (heads, 3)
    W_O = params["blocks.0.attn.W_O"].double().reshape(cfg.d_model, cfg.n_heads, cfg.d_head)
    ov = torch.einsum("dhk,hke->hde", W_O, params["blocks.0.attn.W_V"].double())  # (heads, d_model, d_model)
    return {x: torch.einsum("h,hde->de", attention[:, i], ov) for i, x in enumerate(PATHS)}


@torch.no_grad()
def frequency_inputs(params: dict[str, torch.Tensor], cfg: ModelConfig, freqs: Sequence[int],
                     neurons: dict[str, torch.Tensor] | None = None) -> dict:
    """{(path, k): M} with M = W_in OV_path W_E[:, :p] [e_cos_k, e_sin_k], (d_mlp, 2) float64: what the
    cos(w_k x) and sin(w_k x) components of operand x add to each neuron's pre-activation. W_in is
    the model's own, or that of ``neurons`` (another model's weights: its neurons as the frame)."""
    p = cfg.p
    freqs = [k for k in _check_freqs(freqs, p, "freqs") if 2 * k < p]  # the Nyquist p/2 has no sin
    paths = operand_paths(params, cfg)
    embedding = params["embed.W_E"][:, :p].double()
    W_in = (neurons or params)["blocks.0.mlp.W_in"].double()
    out = {}
    for k in freqs:
        components = embedding @ token_directions(p, [k]).T  # (d_model, 2): cos k, sin k
        for x in PATHS:
            out[(x, k)] = W_in @ paths[x] @ components
    return out


def _cosine(u: torch.Tensor, v: torch.Tensor) -> float:
    norm = float(u.norm() * v.norm())
    return float(u @ v) / norm if norm > 0 else math.nan


def _compare(target: torch.Tensor, start: torch.Tensor) -> dict:
    """How the (n, 2) columns ``target`` relate to ``start``: cosine similarity of each column; the
    2 x 2 map R with target ~ start R (least squares): sign of det R and the fit; and the phase
    coherences of the rows as complex numbers z = cos + i sin (``coherence_same``: one common phase
    shift from start to target; ``coherence_reflected``: a common shift after a reflection)."""
    if start.norm() == 0 or target.norm() == 0:
        return {"cos_similarity_cos": math.nan, "cos_similarity_sin": math.nan, "orientation": math.nan,
                "det": math.nan, "fit": math.nan, "coherence_same": math.nan, "coherence_reflected": math.nan,
                "phase_gap": math.nan}
    r = torch.linalg.lstsq(start, target).solution
    det = float(torch.linalg.det(r))
    z_target, z_start = torch.complex(target[:, 0], target[:, 1]), torch.complex(start[:, 0], start[:, 1])
    weight = float((z_target.abs() * z_start.abs()).sum())
    return {"cos_similarity_cos": _cosine(target[:, 0], start[:, 0]),
            "cos_similarity_sin": _cosine(target[:, 1], start[:, 1]),
            "orientation": float(np.sign(det)), "det": det,
            "fit": 1 - float((target - start @ r).square().sum() / target.square().sum()),
            "coherence_same": float((z_target * z_start.conj()).sum().abs()) / weight,
            "coherence_reflected": float((z_target * z_start).sum().abs()) / weight,
            "phase_gap": float(((z_target * z_start.conj()).angle().abs() * z_target.abs() * z_start.abs()).sum())
            / weight * 180 / math.pi}


def sign_flip_table(model: dict[str, torch.Tensor], cfg: ModelConfig, freqs: Sequence[int],
                    reference: dict[str, torch.Tensor] | None = None) -> pd.DataFrame:
    """The sign-flip statistic (module docstring) per frequency k: one row per comparison
    (``COMPARISONS``) with the cosine similarities of the cos and sin columns, the orientation
    (sign of det R: -1 a reflection) and the fit of the 2 x 2 map R. "b vs a": within the model,
    operand b's inputs to its neurons against operand a's; "a vs source", "b vs source" (with a
    ``reference``, the model's grokked source, the same neurons): each operand's path against the
    source's, both read by the source's neurons (its W_in)."""
    models = {"model": model} if reference is None else {"model": model, "reference": reference}
    for name, params in models.items():
        try:
            check_analysis_inputs(params, cfg)
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from None
    own = frequency_inputs(model, cfg, freqs)
    rows = []
    for k in sorted({k for _, k in own}):
        rows.append({"freq": k, "comparison": "b vs a", **_compare(own[("b", k)], own[("a", k)])})
    if reference is not None:
        seen_by_source = frequency_inputs(model, cfg, freqs, neurons=reference)
        source = frequency_inputs(reference, cfg, freqs)
        for k in sorted({k for _, k in own}):
            for x in PATHS:
                rows.append({"freq": k, "comparison": f"{x} vs source", **_compare(seen_by_source[(x, k)], source[(x, k)])})
    return pd.DataFrame(rows, columns=["freq", "comparison", "cos_similarity_cos", "cos_similarity_sin", "orientation",
                                       "det", "fit", "coherence_same", "coherence_reflected", "phase_gap"])


def sign_flip_summary(table: pd.DataFrame) -> dict:
    """A ``sign_flip_table`` in a few numbers: per comparison present, the means over frequencies of
    both cosine similarities and of the fit, and the share of frequencies whose map is a reflection."""
    missing = {"freq", "comparison", "cos_similarity_cos", "cos_similarity_sin", "orientation", "fit"} - set(table.columns)
    if missing:
        raise ValueError(f"table lacks the columns {sorted(missing)} (a sign_flip_table)")
    out = {}
    for comparison in [c for c in COMPARISONS if c in set(table["comparison"])]:
        part = table[table["comparison"] == comparison]
        out[comparison] = {"cos_similarity_cos": float(part["cos_similarity_cos"].mean()),
                           "cos_similarity_sin": float(part["cos_similarity_sin"].mean()),
                           "reflected": float((part["orientation"] < 0).mean()), "fit": float(part["fit"].mean()),
                           "coherence_same": float(part["coherence_same"].mean()),
                           "coherence_reflected": float(part["coherence_reflected"].mean()),
                           "phase_gap": float(part["phase_gap"].mean()), "n_freqs": len(part)}
    return out
