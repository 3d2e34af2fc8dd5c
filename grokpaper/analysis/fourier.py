"""Fourier analysis of a model's circuit: the original neuron method, and the document's method.

1. ``neuron_fourier_analysis``: the method of the original analysis code (Nanda et al.'s
   ``calculate_key_freqs``), reproduced exactly. Run all p^2 inputs [a, b, =]; take the MLP
   post-ReLU activations at "=" (p^2 x d_mlp); subtract each neuron's mean over inputs; write
   each neuron's p x p table in the 2-D real Fourier basis B x B, where B holds the constant
   and cos(2 pi k x / p), sin(2 pi k x / p) for k = 1..(p-1)/2, each row scaled to unit norm
   (so B is orthonormal and squared coefficients sum to the centred sum of squares). For
   frequency k, the neuron's share is the sum of squared coefficients on the 8 terms built
   from {const, cos k, sin k} in both inputs, excluding const x const, divided by the sum of
   all squared coefficients. Best frequency = argmax share; fraction explained = that share.
   Dead neurons (constant over all inputs) get no frequency and are counted apart.
2. ``document_method_spectrum``: what the design document *says* it computed,
   P[d, k] = |FFT(W_E[d, :p]) * FFT(W_U[d, :p])| per residual dimension. Labelled as the
   document's method; it exists to show how it differs from (1).
3. ``frequency_overlap``: how much two analyses' frequency sets agree.
4. Overlap against chance: ``overlap_null`` (the hypergeometric overlap of a random set with a
   fixed one), ``overlap_sum_pvalue`` (the exact tail of a sum of such overlaps over seeds) and
   ``matching_permutation_test`` (does each model share more with its own seed's reference
   than with other seeds' references).

Even p: the real basis then also has the Nyquist vector cos(pi x) (no sine partner); it is
included so the basis stays complete, and k = p/2 is a candidate frequency whose terms are
{const, cos p/2}. The original code assumed odd p (p = 113).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy.stats import hypergeom

from grokpaper.analysis.inspection import all_inputs, check_analysis_inputs, equals_position_forward
from grokpaper.core.model import ModelConfig

DEFAULT_MIN_NEURONS = 5


# --- the basis -----------------------------------------------------------------------------


def fourier_basis(p: int, dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, list[str]]:
    """The orthonormal real Fourier basis over Z_p as a (p, p) tensor of rows, with row names.

    Rows: const, cos 1, sin 1, ..., cos K, sin K (K = (p-1)//2), each scaled to unit norm, in
    the original code's order (row 2k-1 is cos k, row 2k is sin k); for even p one more row,
    the Nyquist cos p/2.
    """
    if not isinstance(p, int) or p < 2:
        raise ValueError(f"p must be an integer >= 2, got {p!r}")
    x = torch.arange(p, dtype=dtype)
    rows, names = [torch.ones(p, dtype=dtype)], ["const"]
    for k in range(1, (p - 1) // 2 + 1):
        rows += [torch.cos(2 * torch.pi * k * x / p), torch.sin(2 * torch.pi * k * x / p)]
        names += [f"cos {k}", f"sin {k}"]
    if p % 2 == 0:
        rows.append(torch.cos(torch.pi * x))
        names.append(f"cos {p // 2}")
    basis = torch.stack(rows)
    return basis / basis.norm(dim=1, keepdim=True), names


def candidate_frequencies(p: int) -> np.ndarray:
    """The frequencies a neuron can be assigned: 1..(p-1)//2, plus p/2 for even p."""
    return np.arange(1, p // 2 + 1)


# --- the neuron method (the original code's) -------------------------------------------------


class _FrequencySummary:
    """Accessors shared by both methods' results; units are MLP neurons or residual dimensions."""

    summary: dict

    def freq_counts(self) -> dict[int, int]:
        """Alive units per best frequency, largest count first."""
        return {int(k): int(v) for k, v in self.summary["freq_counts"].items()}

    def frequencies(self, min_neurons: int = DEFAULT_MIN_NEURONS) -> list[int]:
        """Sorted best frequencies held by at least ``min_neurons`` alive units."""
        return sorted(k for k, c in self.freq_counts().items() if c >= min_neurons)

    @property
    def n_alive(self) -> int:
        """Number of units that are not dead (dead: zero variance, or an all-zero spectrum)."""
        return int(self.summary["n_units"] - self.summary["n_dead"])


@dataclass
class NeuronFourierAnalysis(_FrequencySummary):
    """Result of ``neuron_fourier_analysis``.

    ``neurons``: one row per MLP neuron: ``neuron``, ``best_freq`` (nullable Int64; <NA> for
    dead neurons), ``frac_explained`` (NaN for dead), ``centred_sum_sq`` (sum over inputs of
    the centred activation squared), ``dead`` (bool).
    ``frac_by_freq``: (n_frequencies, d_mlp) share of each frequency, rows k = 1..p//2 (NaN
    columns for dead neurons). ``summary``: JSON-ready numbers (see ``summarise_frequencies``).
    """

    neurons: pd.DataFrame
    frac_by_freq: np.ndarray
    summary: dict
    p: int
    task: str
    method: str = "neuron (original calculate_key_freqs)"


def summarise_frequencies(best_freq: np.ndarray, frac: np.ndarray, dead: np.ndarray,
                          min_neurons: int = DEFAULT_MIN_NEURONS, unit: str = "neurons") -> dict:
    """Summary of per-unit frequency assignments: units per frequency, distinct frequencies (raw
    and with >= ``min_neurons`` units), mean fraction over alive units, units with fraction > 0.5.

    Dead units are excluded from every number except ``n_dead``.
    """
    alive = ~dead
    ks, counts = np.unique(best_freq[alive].astype(np.int64), return_counts=True)
    order = np.lexsort((ks, -counts))  # largest count first, ties by frequency
    freq_counts = {str(int(ks[i])): int(counts[i]) for i in order}
    return {
        "unit": unit,
        "n_units": int(len(best_freq)),
        "n_dead": int(dead.sum()),
        "freq_counts": freq_counts,
        "n_distinct_freqs": int(len(ks)),
        "min_neurons": int(min_neurons),
        "n_distinct_freqs_min_neurons": int((counts >= min_neurons).sum()),
        "mean_frac_explained": float(frac[alive].mean()) if alive.any() else float("nan"),
        "n_frac_gt_0_5": int((frac[alive] > 0.5).sum()),
    }


def neuron_fourier_shares(acts: torch.Tensor, p: int,
                          dead_rtol: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-frequency share of each neuron's centred squared Fourier coefficients, for a (p^2, n)
    activation table in row-major (a, b) order. Returns (shares (p//2, n), centred_sum_sq (n,),
    dead (n,)).

    A neuron is dead if its activation is constant over all inputs: max - min <= dead_rtol *
    max |activation| (exactly 0 for a neuron that ReLU keeps at 0 or whose input weights are 0).
    """
    acts = acts.double()
    n = acts.shape[1]
    spread = acts.max(0).values - acts.min(0).values
    dead = spread <= dead_rtol * acts.abs().max(0).values
    centred = acts - acts.mean(0, keepdim=True)
    basis, _ = fourier_basis(p, torch.float64)
    basis = basis.to(acts.device)
    # Coefficients C[f, g, n] = sum_ab B[f, a] B[g, b] X[a, b, n]: first over b (a batch of p
    # matrix products), then over a (one product); no permutes of the (p, p, n) table.
    table = centred.reshape(p, p, n)
    coeff = torch.matmul(basis, table)  # [a, g, n]
    coeff = (basis @ coeff.reshape(p, p * n)).reshape(p, p, n)  # [f, g, n]
    sq = coeff.square()
    # Frequency k: the 8 terms in {const, cos k, sin k} x {const, cos k, sin k} other than
    # const x const. Rows/columns 2k-1, 2k are cos k, sin k (for even p, row p-1 is the lone
    # Nyquist cos p/2, so its "sin" index is dropped).
    k = torch.arange(1, p // 2 + 1, device=acts.device)
    cos_idx, sin_idx = 2 * k - 1, torch.clamp(2 * k, max=p - 1)
    has_sin = (2 * k <= p - 1).to(sq.dtype)[:, None]
    rows = sq[cos_idx] + has_sin[:, :, None] * sq[sin_idx]  # (K, p, n): summed over the row pair of k
    quadratic = rows[k - 1, cos_idx] + has_sin * rows[k - 1, sin_idx]
    linear = rows[:, 0] + sq[0, cos_idx] + has_sin * sq[0, sin_idx]
    share_sq = quadratic + linear  # (K, n)
    total = sq.sum((0, 1))
    shares = share_sq / total
    shares[:, dead] = torch.nan
    return shares, centred.square().sum(0), dead


def neuron_fourier_shares_from_sums(acts: torch.Tensor, p: int, dead_rtol: float = 1e-6,
                                    dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """The shares of ``neuron_fourier_shares`` (and its dead mask) from four p-long sums per neuron,
    without the 2-D transform: for measuring along training (the probes), ten times cheaper.

    By Parseval on each frequency's block of the basis: with F the 2-D DFT of a neuron's p x p
    table X, the 4 terms {cos k, sin k} x {cos k, sin k} hold (2 / p^2) (|F(k, k)|^2 + |F(k, -k)|^2),
    and F(k, k), F(k, -k) are the 1-D DFTs at k of the sums of X over a + b = s and a - b = s
    (mod p); the 4 terms const x {cos k, sin k} and back hold (2 / p^2) times the squared DFTs at
    k of X's column and row sums. (For even p, k = p/2 has half of each, its lone cos.) The
    total is the centred sum of squares. ``dtype`` float32 agrees with float64 to about 1e-6.
    """
    low, high = (x.to(dtype) for x in torch.aminmax(acts, dim=0))  # exact in any dtype: before converting
    dead = (high - low) <= dead_rtol * torch.maximum(high.abs(), low.abs())
    acts = acts.to(dtype)
    n = acts.shape[1]
    a, b = (torch.arange(p, device=acts.device).repeat_interleave(p), torch.arange(p, device=acts.device).repeat(p))
    table = acts.reshape(p, p, n)
    sums = [torch.zeros(p, n, dtype=dtype, device=acts.device).index_add_(0, (a + sign * b) % p, acts)
            for sign in (1, -1)] + [table.sum(0), table.sum(1)]  # a + b, a - b, column sums, row sums
    k = torch.arange(1, p // 2 + 1, device=acts.device, dtype=torch.float64)
    angle = 2 * torch.pi * k[:, None] * torch.arange(p, device=acts.device, dtype=torch.float64)[None] / p
    cos, sin = torch.cos(angle).to(dtype), torch.sin(angle).to(dtype)  # (K, p)
    power = [(cos @ s).square() + (sin @ s).square() for s in sums]  # |DFT at k|^2, (K, n) each
    # k = p/2 (even p) is its own negative: one basis row (half the weight of a cos/sin pair), and
    # F(p/2, p/2) = F(p/2, -p/2), so the a + b and a - b sums each hold its one quadratic term.
    nyquist = (2 * k == p)[:, None]
    quadratic = torch.where(nyquist, (power[0] + power[1]) / 2, power[0] + power[1])
    share_sq = torch.where(nyquist, 1.0, 2.0).to(dtype) / p**2 * (quadratic + power[2] + power[3])
    # The centred sum of squares, from the sums already made: one more pass over the table.
    total = torch.linalg.vector_norm(acts, dim=0).square() - sums[2].sum(0).square() / p**2
    shares = share_sq / total
    shares[:, dead] = torch.nan
    return shares, dead


def neuron_fourier_analysis(params: dict[str, torch.Tensor], cfg: ModelConfig, task: str = "add",
                            p: int | None = None, min_neurons: int = DEFAULT_MIN_NEURONS,
                            task_token: int = 0, max_freq: int | None = None) -> NeuronFourierAnalysis:
    """Per MLP neuron, the Fourier frequency that best explains its activation over all p^2
    inputs and the fraction it explains (the original analysis code's method, see module doc).

    All p^2 inputs are used whatever the task (the method needs the whole table; for 'divide'
    the b = 0 inputs are off the task's distribution). ``task_token`` picks the "=" token of a
    multi-task model. ``max_freq`` caps the candidate frequencies (default p//2, as the
    original notebook and the reference README: k = 1..56 at p = 113); ``max_freq = p//2 - 1``
    reproduces ``calculate_key_freqs`` of the original ``transformers.py``, whose loop
    ``range(1, p//2)`` stops at 55. On the reference checkpoint both give the same result.
    """
    p = check_analysis_inputs(params, cfg, task, p, task_token)
    max_freq = p // 2 if max_freq is None else max_freq
    if not isinstance(max_freq, int) or not 1 <= max_freq <= p // 2:
        raise ValueError(f"max_freq must be an integer in 1..{p // 2} (p={p}), got {max_freq!r}")
    acts = equals_position_forward(params, cfg, all_inputs(p, task_token))["mlp_post"]
    shares, centred_ss, dead = neuron_fourier_shares(acts, p)
    # NaN columns (dead) would win argmax; give them -inf first, then blank them out.
    best_share, best_idx = torch.nan_to_num(shares[:max_freq], nan=-torch.inf).max(0)
    best_freq = (best_idx + 1).cpu().numpy()
    frac = best_share.cpu().numpy()
    dead_np = dead.cpu().numpy()
    frac[dead_np] = np.nan
    neurons = pd.DataFrame({
        "neuron": np.arange(cfg.d_mlp),
        "best_freq": pd.array(np.where(dead_np, 0, best_freq), dtype="Int64"),
        "frac_explained": frac,
        "centred_sum_sq": centred_ss.cpu().numpy(),
        "dead": dead_np,
    })
    neurons.loc[dead_np, "best_freq"] = pd.NA
    summary = summarise_frequencies(best_freq, frac, dead_np, min_neurons, unit="neurons")
    return NeuronFourierAnalysis(neurons=neurons, frac_by_freq=shares.cpu().numpy(),
                                 summary=summary, p=p, task=task)


# --- the design document's stated method ---------------------------------------------------------


@dataclass
class DocumentMethodSpectrum(_FrequencySummary):
    """Result of ``document_method_spectrum`` (the design document's method, not the original code's).

    ``dims``: one row per residual dimension d: ``dim``, ``best_freq`` (nullable Int64, <NA>
    where the spectrum is all zero), ``specialization`` (max_k P / sum_k P), ``total_power``,
    ``dead`` (all-zero spectrum). ``power``: P, shape (d_model, p//2), columns k = 1..p//2.
    """

    dims: pd.DataFrame
    power: np.ndarray
    summary: dict
    p: int
    method: str = "design document: |FFT(W_E[d]) * FFT(W_U[d])| per residual dimension"


def document_method_spectrum(params: dict[str, torch.Tensor], cfg: ModelConfig, task: str = "add",
                             p: int | None = None,
                             min_neurons: int = DEFAULT_MIN_NEURONS) -> DocumentMethodSpectrum:
    """The design document's stated method: per residual dimension d (d_model of them, not MLP
    neurons), P[d, k] = |FFT(W_E[d, :p])[k] * FFT(W_U[d, :p])[k]| over the p number tokens,
    dominant k = argmax_k P and specialization = max_k P / sum_k P.

    The document does not say which k; we use k = 1..p//2: k = 0 (the mean over tokens) is
    excluded, and k > p/2 are dropped because for real rows they mirror p - k (|FFT| is
    symmetric), so counting them would double every term.
    """
    p = check_analysis_inputs(params, cfg, task, p)
    W_E = params["embed.W_E"][:, :p].detach().double().cpu()  # (d_model, p): number tokens only
    W_U = params["unembed.W_U"][:, :p].detach().double().cpu()
    power = (torch.fft.fft(W_E, dim=1) * torch.fft.fft(W_U, dim=1)).abs()[:, 1 : p // 2 + 1]
    total = power.sum(1)
    dead = (total == 0).numpy()
    best_power, best_idx = power.max(1)
    best_freq = (best_idx + 1).numpy()
    spec = (best_power / total).numpy()
    spec[dead] = np.nan
    dims = pd.DataFrame({
        "dim": np.arange(power.shape[0]),
        "best_freq": pd.array(best_freq, dtype="Int64"),
        "specialization": spec,
        "total_power": total.numpy(),
        "dead": dead,
    })
    dims.loc[dead, "best_freq"] = pd.NA
    summary = summarise_frequencies(best_freq, spec, dead, min_neurons, unit="residual dimensions")
    return DocumentMethodSpectrum(dims=dims, power=power.numpy(), summary=summary, p=p)


# --- overlap between two analyses ---------------------------------------------------------------


def frequency_overlap(first: NeuronFourierAnalysis | DocumentMethodSpectrum,
                      second: NeuronFourierAnalysis | DocumentMethodSpectrum,
                      min_neurons: int = DEFAULT_MIN_NEURONS) -> dict:
    """How far two analyses use the same frequencies (e.g. a transferred model vs its source).

    ``jaccard``: |A & B| / |A | B| of the frequency sets, each set holding the frequencies with
    at least ``min_neurons`` units (1.0 if both sets are empty). ``weighted_overlap``: sum over
    all k of min(share_A(k), share_B(k)), where share(k) = units with best frequency k / alive
    units; it is the histogram intersection of the two frequency distributions (1 - total
    variation distance): 1.0 iff every frequency holds the same share of alive units in both,
    0.0 iff no frequency is shared; every unit counts, so small clusters weigh little.
    """
    if first.p != second.p:
        raise ValueError(f"cannot compare frequencies of analyses at different p ({first.p} vs {second.p})")
    set_a, set_b = set(first.frequencies(min_neurons)), set(second.frequencies(min_neurons))
    union = set_a | set_b
    counts_a, counts_b = first.freq_counts(), second.freq_counts()
    n_a, n_b = first.n_alive, second.n_alive
    if n_a == 0 or n_b == 0:
        weighted = float("nan")
    else:
        weighted = sum(min(counts_a[k] / n_a, counts_b[k] / n_b) for k in set(counts_a) & set(counts_b))
    return {
        "min_neurons": int(min_neurons),
        "freqs_a": sorted(set_a),
        "freqs_b": sorted(set_b),
        "shared": sorted(set_a & set_b),
        "n_shared": len(set_a & set_b),
        "jaccard": len(set_a & set_b) / len(union) if union else 1.0,
        "weighted_overlap": float(weighted),
    }


# --- overlap against chance ---------------------------------------------------------------------

MAX_MATCHING_SEEDS = 9  # 9! = 362,880 matchings, enumerated in about a second; 10! would be ten times that


def check_count(name: str, value, low: int, high: int | None = None) -> int:
    """``value`` as an int; a ValueError naming the field ``name`` when it is not an integer in
    ``low``..``high`` (``high`` None: no upper bound)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low \
            or (high is not None and value > high):
        allowed = f"{low}..{high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be an integer {allowed}, got {value!r}")
    return int(value)


def overlap_null(n_candidates: int, size_a: int, size_b: int) -> dict:
    """Chance overlap of two frequency sets: the distribution of |A & B| when A (``size_a``
    frequencies) is drawn uniformly at random among ``n_candidates`` and B (``size_b``) is fixed.

    Hypergeometric. Returns ``pmf`` (entry s = P(|A & B| = s), s = 0..min(size_a, size_b)) and
    ``mean`` = size_a * size_b / n_candidates.
    """
    n_candidates = check_count("n_candidates", n_candidates, 1)
    size_a = check_count("size_a", size_a, 0, n_candidates)
    size_b = check_count("size_b", size_b, 0, n_candidates)
    shared = np.arange(min(size_a, size_b) + 1)
    # scipy's names: M = population, n = marked items (B), N = draws (A).
    pmf = hypergeom(M=n_candidates, n=size_b, N=size_a).pmf(shared)
    return {"pmf": pmf, "mean": size_a * size_b / n_candidates}


def overlap_sum_pvalue(pmfs, observed: int) -> float:
    """Exact P(S >= ``observed``) for S the sum of independent overlaps, each with one of the
    given pmfs (entry s = P(overlap = s), e.g. ``overlap_null(...)["pmf"]``): the upper tail of
    their convolution."""
    pmfs = [np.asarray(pmf, dtype=float) for pmf in pmfs]
    if not pmfs:
        raise ValueError("pmfs must hold at least one distribution, got none")
    for i, pmf in enumerate(pmfs):
        if pmf.ndim != 1 or len(pmf) == 0 or (pmf < 0).any() or not math.isclose(pmf.sum(), 1.0, abs_tol=1e-9):
            raise ValueError(f"pmfs[{i}] must be a 1-D array of probabilities summing to 1, got {pmf!r}")
    observed = check_count("observed", observed, 0)
    total = np.ones(1)
    for pmf in pmfs:
        total = np.convolve(total, pmf)
    # Sum the tail itself, not 1 - the head: a tiny p keeps its precision.
    return float(min(1.0, total[observed:].sum()))


def matching_permutation_test(shared) -> dict:
    """Exact permutation test of seed matching: ``shared[i, j]`` is the overlap of seed i's model
    with seed j's reference (diagonal: the own seed). Statistic: the diagonal total; p = share of
    all n! matchings of models to references whose total is at least as large.

    Returns ``observed`` (diagonal total), ``n_seeds``, ``n_permutations`` (n!), ``p``,
    ``min_p`` (1/n!, the smallest p the test can give), ``own_mean`` (mean of the diagonal) and
    ``cross_mean`` (mean of the off-diagonal entries).
    """
    shared = np.asarray(shared)
    if shared.ndim != 2 or shared.shape[0] != shared.shape[1]:
        raise ValueError(f"shared must be a square (seeds x seeds) matrix, got shape {shared.shape}")
    n = check_count("number of seeds (rows of shared)", shared.shape[0], 2, MAX_MATCHING_SEEDS)
    if not np.issubdtype(shared.dtype, np.integer) or (shared < 0).any():
        raise ValueError(f"shared must hold non-negative integer counts, got {shared.tolist()}")
    matchings = np.array(list(itertools.permutations(range(n))))  # (n!, n): row i goes to column perm[i]
    totals = shared[np.arange(n), matchings].sum(1)
    observed = int(np.trace(shared))
    off_diagonal = shared[~np.eye(n, dtype=bool)]
    return {"observed": observed, "n_seeds": n, "n_permutations": len(matchings),
            "p": float((totals >= observed).mean()), "min_p": 1 / len(matchings),
            "own_mean": observed / n, "cross_mean": float(off_diagonal.mean())}
