"""The initial weights of the controls and transplants: what carries the transfer (issue 21).

Each function builds a params dict (original names) from others and changes nothing it is given:

* ``norm_matched``: weights rescaled, matrix by matrix, to the Frobenius norms of a reference
  (the seed's random init at the grokked source's norms: Omnigrok's weight-norm explanation of a
  head start, without the source's structure). A tensor that is all zero (the random init's
  biases) stays zero: no rescaling gives it a norm, so the norm-matched model's biases are zero
  where the grokked source's are not.
* ``permute_tokens``: the model relabelled by a permutation of the p number tokens, applied to
  the token axis of both W_E and W_U ("=" untouched). It computes the same function with its
  inputs and outputs renamed, so every norm and spectrum of every matrix is kept, and the Fourier
  structure over the number line (token t next to t + 1) is gone.
* ``transplant``: some matrices of one model put into another.

``grokpaper.core.study`` uses them for the control runs; the tests check each construction.
"""

from __future__ import annotations

import torch

from grokpaper.core.model import PARAM_NAMES

EMBEDDINGS = ("embed.W_E", "unembed.W_U")  # the token embedding and unembedding
FROZEN_EMBEDDINGS = ("embed.W_E", "pos_embed.W_pos")  # what the frozen-embeddings control keeps fixed


def _copy(params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    missing = [name for name in PARAM_NAMES if name not in params]
    if missing:
        raise ValueError(f"params is missing parameters {missing}")
    return {name: params[name].detach().clone() for name in PARAM_NAMES}


def token_permutation(p: int, seed: int) -> list[int]:
    """The seeded random permutation of the p number tokens that the structure-destroyed control
    applies: ``torch.randperm(p)`` from a generator seeded with ``seed``, as a list."""
    if isinstance(p, bool) or not isinstance(p, int) or p < 2:
        raise ValueError(f"p must be an integer >= 2, got {p!r}")
    return torch.randperm(p, generator=torch.Generator().manual_seed(seed)).tolist()


def permute_tokens(params: dict[str, torch.Tensor], permutation) -> dict[str, torch.Tensor]:
    """The model with number token t renamed ``permutation[t]``: column t of W_E and of W_U moves to
    column ``permutation[t]`` ("=" and every other matrix stay). On input (perm[a], perm[b]) it
    gives the original's logits on (a, b), with logit perm[t] the original's logit t."""
    out = _copy(params)
    p = out["embed.W_E"].shape[1] - 1
    perm = [int(t) for t in permutation]
    if sorted(perm) != list(range(len(perm))) or len(perm) != p:
        raise ValueError(f"permutation must be a permutation of the {p} number tokens 0..{p - 1} "
                         f"(W_E has {p + 1} columns, the last one '='), got {list(permutation)[:8]}...")
    index = torch.tensor(perm)
    for name in EMBEDDINGS:
        out[name][:, index] = params[name][:, :p].detach()
    return out


def norm_matched(params: dict[str, torch.Tensor], reference: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``params`` with each tensor rescaled to the Frobenius norm of the same tensor in ``reference``;
    an all-zero tensor (the random init's biases) stays zero."""
    out, reference = _copy(params), _copy(reference)
    for name in PARAM_NAMES:
        norm = out[name].double().norm()
        if norm > 0:
            out[name] = (out[name].double() * (reference[name].double().norm() / norm)).to(out[name].dtype)
    return out


def transplant(base: dict[str, torch.Tensor], donor: dict[str, torch.Tensor], names) -> dict[str, torch.Tensor]:
    """``base`` with the tensors ``names`` taken from ``donor`` (the same shapes)."""
    out, donor = _copy(base), _copy(donor)
    names = list(names)
    unknown = [name for name in names if name not in PARAM_NAMES]
    if unknown or not names:
        raise ValueError(f"names must list parameters among {', '.join(PARAM_NAMES)}; got {names}")
    for name in names:
        if donor[name].shape != out[name].shape:
            raise ValueError(f"parameter {name} has shape {tuple(donor[name].shape)} in the donor and "
                             f"{tuple(out[name].shape)} in the base")
        out[name] = donor[name]
    return out
