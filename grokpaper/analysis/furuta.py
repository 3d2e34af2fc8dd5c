"""Fourier Frequency Sparsity (FFS) and Fourier Coefficient Ratio (FCR): the progress measures of
Furuta, Minegishi, Iwasawa, Matsuo (TMLR 2024), read off the number-token embedding.

Source, and how far it could be checked
---------------------------------------
- Paper: "Towards empirical interpretation of internal circuits and properties in grokked
  transformers on modular polynomials" (TMLR 2024), arXiv 2402.16726. Its early version (v2,
  and the ICLR 2024 workshop talk) is titled "Interpreting grokked transformers in complex
  modular arithmetic" and calls the first measure Fourier Frequency *Sparsity*; v4 calls it
  Fourier Frequency *Density* (FFD), the same quantity. What the stored copies reachable from
  here give (the abstracts of arXiv v2 and v4, Papers with Code, the workshop page
  iclr.cc/virtual/2024/23372) is only this: FFS/FFD and FCR are Fourier measures of a grokked
  model's representation that "indicate the late generalization",
  FFD and FCR "decrease accompanying the test accuracy improvement", and multiplication
  "requires cosine-biased components at all the frequencies". **The paper's equations,
  thresholds and choice of matrix could not be read** (no full text of any version was
  reachable from this machine).
- Authors' code: github.com/frt03/grok_mod_poly (commits b83d555a28de3ea2bd57bd6ad1f9a1465b569164
  and 80d4746b0182763e3ddc108aaf5e4aa484773a27; files train_emb.py, train_emb_ft.py,
  train_emb_rand.py, utils.py, model.py, read in full). It trains and logs losses, accuracies,
  weight norms and embedding plots only; **it has no FFS/FFD or FCR code**. Its embedding has
  this project's orientation, W_E of shape (d_model, d_vocab).

So the definitions below are this module's reading, chosen to match every statement above and
written out so they can be checked and changed. Nothing here is a constant taken from the paper.

Definitions implemented
-----------------------
Take the number-token columns of a (d_model, d_vocab) weight, W = W_E[:, :p] by default (task
tokens p.. are dropped), and write it in the orthonormal real Fourier basis B of
``grokpaper.analysis.fourier.fourier_basis`` (rows const, cos k, sin k; for even p also the
Nyquist cos p/2): C = B W^T, shape (p, d_model). For frequency k = 1..(p-1)//2 let
c_k = ||C[cos k]||_2 and s_k = ||C[sin k]||_2 (norms over d_model), and its amplitude
a_k = sqrt(c_k^2 + s_k^2), the norm of W's projection on the 2-D frequency-k subspace; for even
p the Nyquist frequency p/2 has a = c only. The constant row (the tokens' mean embedding) is not
a frequency and enters neither measure.

- FFS = (1/K) #{k : a_k >= threshold * max_j a_j}, over the K = p//2 frequencies (Nyquist
  included for even p). The fraction of frequencies that carry a sizeable share of the
  embedding: near 1 for a random (dense) embedding, (number of key frequencies)/K after an
  addition model groks, near 1 again for an embedding that uses all frequencies (the paper's
  multiplication). The threshold is relative to the strongest frequency so that FFS does not
  move with the weight norm, which changes by an order of magnitude along a run. Default 0.1 (a
  frequency counts if its amplitude is within 20 dB of the strongest): this project's choice,
  not the paper's.
- FCR = mean over k = 1..(p-1)//2 of min(c_k, s_k) / max(c_k, s_k). 1 when every frequency
  holds equal cosine and sine energy, 0 when each frequency is pure cosine (or pure sine): the
  cosine bias the paper reports for multiplication. The Nyquist frequency has no sine and is
  left out. Frequencies whose amplitude is numerically zero (<= 1e-9 of the largest) have no
  ratio and are left out of the mean; if none is left, FCR is NaN.

Properties that follow (and are tested): both are unchanged by the task-token columns, by
scaling W by any non-zero factor, by an orthogonal change of basis of d_model, and by adding the
same vector to every number embedding. FFS is also unchanged by a cyclic relabelling of the
number tokens (x -> x + s mod p); FCR is not: a shift by s turns each (cos k, sin k) pair by
2 pi k s / p, so FCR measures the cosine/sine balance relative to token 0.

On the original study's grokked addition checkpoint the sorted amplitudes fall from the five key
frequencies (relative amplitude >= 0.73) through five weaker ones (0.25-0.37) to the rest, so FFS
depends on the threshold there: of its 56 frequencies, thresholds 0.05, 0.1, 0.2, 0.3, 0.5 count
52, 14, 10, 7, 5. The 10 are the 10 distinct best frequencies of the original neuron analysis
(reference README); the 5 are the five of them holding 54 to 127 neurons each (the next holds 10).
A random init counts all 56 at every one of these thresholds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from grokpaper.analysis.fourier import fourier_basis

DEFAULT_FFS_THRESHOLD = 0.1  # relative amplitude; this project's choice (see module docstring)
ABSENT_RTOL = 1e-9  # a frequency this far below the strongest is numerically zero (no cos/sin ratio)
WEIGHTS = ("embed.W_E", "unembed.W_U")  # (d_model, d_vocab) weights whose columns are tokens


def _number_token_weight(params: Mapping[str, torch.Tensor], p: int, weight: str,
                         n_task_tokens: int | None) -> torch.Tensor:
    """Validate the request and return the weight's number-token columns, (d_model, p), float64."""
    if isinstance(p, bool) or not isinstance(p, int) or p < 3:
        raise ValueError(f"p must be an integer >= 3, got {p!r}")
    if weight not in WEIGHTS:
        raise ValueError(f"weight must be one of {', '.join(WEIGHTS)}, got {weight!r}")
    if not isinstance(params, Mapping):
        raise ValueError(f"params must be a dict of original-name tensors, got {type(params).__name__}")
    if weight not in params:
        raise ValueError(f"params has no {weight!r} (a (d_model, d_vocab) tensor); keys: {sorted(params)[:8]}")
    W = params[weight]
    if not isinstance(W, torch.Tensor) or W.ndim != 2:
        got = tuple(W.shape) if isinstance(W, torch.Tensor) else type(W).__name__
        raise ValueError(f"params[{weight!r}] must be a 2-D tensor of shape (d_model, d_vocab), got {got}")
    d_vocab = W.shape[1]
    if n_task_tokens is not None:
        if isinstance(n_task_tokens, bool) or not isinstance(n_task_tokens, int) or n_task_tokens < 0:
            raise ValueError(f"n_task_tokens must be a non-negative integer or None, got {n_task_tokens!r}")
        if d_vocab != p + n_task_tokens:
            raise ValueError(f"params[{weight!r}] has shape {tuple(W.shape)}: d_vocab={d_vocab}, but p={p} with "
                             f"n_task_tokens={n_task_tokens} needs d_vocab={p + n_task_tokens}")
    elif d_vocab < p + 1:
        raise ValueError(f"params[{weight!r}] has shape {tuple(W.shape)}: d_vocab={d_vocab}, but p={p} needs "
                         f"d_vocab >= p + 1 (p number tokens, then at least one task token)")
    W = W.detach().to("cpu", torch.float64)[:, :p]
    if not torch.isfinite(W).all():
        raise ValueError(f"params[{weight!r}] has NaN or infinite values in its number-token columns")
    return W


def _frequency_norms(W: torch.Tensor, p: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(c, s, a): cosine norms and sine norms for k = 1..(p-1)//2, and amplitudes for k = 1..p//2."""
    basis, _ = fourier_basis(p, torch.float64)
    norms = (basis @ W.T).norm(dim=1)  # per basis row, over d_model
    n_pairs = (p - 1) // 2
    cos, sin = norms[1:2 * n_pairs + 1:2], norms[2:2 * n_pairs + 2:2]  # rows 2k-1 (cos k), 2k (sin k)
    amplitude = torch.sqrt(cos**2 + sin**2)
    if p % 2 == 0:
        amplitude = torch.cat([amplitude, norms[-1:]])  # the Nyquist row cos(pi x)
    # All-zero, or every number token embedded alike (up to rounding): there is no spectrum to measure.
    if amplitude.max() <= ABSENT_RTOL * norms.norm():
        raise ValueError("the number-token columns have no Fourier energy outside the constant (every number "
                         "token has the same embedding); FFS and FCR are undefined")
    return cos, sin, amplitude


def fourier_frequency_sparsity(params: Mapping[str, torch.Tensor], p: int, *,
                               threshold: float = DEFAULT_FFS_THRESHOLD, weight: str = "embed.W_E",
                               n_task_tokens: int | None = None) -> float:
    """Fourier Frequency Sparsity (FFS; the paper's later name: Fourier Frequency Density) of a weight's
    number-token columns: the fraction of the p//2 frequencies whose amplitude is at least ``threshold``
    times the largest. Definition, and why this reading, in the module docstring.

    ``weight``: ``embed.W_E`` (default) or ``unembed.W_U``, shape (d_model, d_vocab), columns 0..p-1 the
    numbers. ``n_task_tokens``: if given, W must have exactly p + n_task_tokens columns (checks p against
    the weight); otherwise at least p + 1.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
        raise ValueError(f"threshold must be a number in (0, 1] (a fraction of the largest amplitude), "
                         f"got {threshold!r}")
    _, _, amplitude = _frequency_norms(_number_token_weight(params, p, weight, n_task_tokens), p)
    relative = amplitude / amplitude.max()
    return float((relative >= threshold).double().mean())


def fourier_coefficient_ratio(params: Mapping[str, torch.Tensor], p: int, *, weight: str = "embed.W_E",
                              n_task_tokens: int | None = None) -> float:
    """Fourier Coefficient Ratio (FCR) of a weight's number-token columns: the mean over frequencies
    k = 1..(p-1)//2 of min(||cos k||, ||sin k||) / max(...), 1 for balanced cosine and sine, 0 for a
    purely cosine (or sine) embedding. NaN if no such frequency has non-zero energy. Definition, and
    why this reading, in the module docstring; arguments as ``fourier_frequency_sparsity``.
    """
    cos, sin, amplitude = _frequency_norms(_number_token_weight(params, p, weight, n_task_tokens), p)
    # A frequency with (numerically) no energy has no cosine/sine balance to report.
    present = amplitude[: len(cos)] > ABSENT_RTOL * amplitude.max()
    if not present.any():
        return math.nan
    ratio = torch.minimum(cos, sin)[present] / torch.maximum(cos, sin)[present]
    return float(ratio.mean())


def furuta_measures(params: Mapping[str, torch.Tensor], p: int, *, threshold: float = DEFAULT_FFS_THRESHOLD,
                    weight: str = "embed.W_E", n_task_tokens: int | None = None) -> dict[str, float]:
    """Both measures of one model under stable names: {"ffs": ..., "fcr": ...} (see the module docstring)."""
    return {
        "ffs": fourier_frequency_sparsity(params, p, threshold=threshold, weight=weight,
                                          n_task_tokens=n_task_tokens),
        "fcr": fourier_coefficient_ratio(params, p, weight=weight, n_task_tokens=n_task_tokens),
    }
