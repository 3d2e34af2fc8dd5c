"""The neuron Fourier method in the discrete-log basis: the basis a model of a * b mod p should be sparse in.

Multiplication mod a prime p is addition of discrete logarithms. With g a primitive root mod p
(``primitive_root``), every a in 1..p-1 is a = g^i for one i = log a in Z_{p-1}, and
a * b = g^(log a + log b mod p-1). A model that learned a * b mod p the way the addition models
learn a + b is then expected to be dense in the additive Fourier basis over the tokens 0..p-1
(``grokpaper.analysis.fourier``) and sparse in the multiplicative characters of Z_p^*, which are
the Fourier basis over Z_{p-1} of the index log a.

``basis_fourier_analysis`` runs ``neuron_fourier_analysis``'s method (``neuron_fourier_shares``,
reused unchanged: it takes a square table of any side n, odd or even) in either basis:

* ``"additive"``: the p x p table of each neuron's activation over all p^2 inputs [a, b, =], in
  the Fourier basis over Z_p: the same numbers as ``neuron_fourier_analysis``.
* ``"discrete-log"``: the (p-1) x (p-1) table over the inputs with a, b != 0, rows and columns
  re-indexed by (log a, log b), in the Fourier basis over Z_{p-1}; candidate frequencies
  k = 1..(p-1)/2. p - 1 is even, so k = (p-1)/2 is the Nyquist frequency, whose lone basis vector
  cos(pi log a) = (-1)^(log a) is the Legendre symbol (a / p) (+1 on the squares mod p); it is
  handled as ``fourier.py`` handles even p (terms {const, cos (p-1)/2}).

The inputs with a = 0 or b = 0, and the token 0 itself, have no logarithm: 0 is not a power of g,
and 0 * b = 0 whatever b, so these 2p - 1 inputs carry no information about a product of units and
have no place in the Z_{p-1} x Z_{p-1} table. The discrete-log analysis sets them aside, and sets
aside with them the offset between the mean over the other inputs and the mean over all p^2 (the
table is centred on its own mean, as the additive one is). Nothing set aside is hidden: per neuron,
with x the activation and m its mean over all p^2 inputs, the centred sum of squares
sum_all (x - m)^2 splits exactly into

* ``zero_line_share``: the part on the 2p - 1 inputs with a = 0 or b = 0. A neuron with no
  special response there holds about (2p - 1) / p^2 of its variance on them (``zero_line_chance``);
  much more means the neuron treats 0 specially.
* the offset (p - 1)^2 (m_units - m)^2, m_units the mean over the inputs with a, b != 0;
* the centred sum of squares of the (p-1) x (p-1) table, the denominator of the discrete-log
  shares.

``excluded_share`` = 1 - (the last part) / (the whole) = zero_line_share + the offset's share: what
the discrete-log analysis does not look at (0 in the additive basis, which uses every input).
``frac_explained_all_inputs`` = frac_explained * (1 - excluded_share) puts both bases on the same
denominator (the variance over all p^2 inputs), so ``basis_comparison`` can compare them fairly.

Frequencies in the discrete-log basis are numbered relative to the primitive root: with another
root g' = g^u (u a unit mod p-1), log_g' a = u^-1 log_g a, so frequency k becomes k u^-1 (mod p-1,
folded to 1..(p-1)/2); each neuron's shares are permuted, never changed, and the frequency sets of
two analyses are comparable only under the same root (``primitive_root`` picks the smallest).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from grokpaper.analysis.fourier import (
    DEFAULT_MIN_NEURONS,
    _FrequencySummary,
    candidate_frequencies,
    neuron_fourier_shares,
    summarise_frequencies,
)
from grokpaper.analysis.inspection import all_inputs, check_analysis_inputs, equals_position_forward
from grokpaper.config import is_prime
from grokpaper.core.model import ModelConfig

BASES = ("additive", "discrete-log")


# --- discrete logarithms -------------------------------------------------------------------------


def _check_prime(p) -> int:
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or not is_prime(int(p)):
        raise ValueError(f"p must be a prime (discrete logarithms mod p need a cyclic group Z_p^*), got p={p!r}")
    return int(p)


def _prime_factors(n: int) -> list[int]:
    factors, d = [], 2
    while d * d <= n:
        if n % d == 0:
            factors.append(d)
            while n % d == 0:
                n //= d
        d += 1
    return factors + ([n] if n > 1 else [])


def is_primitive_root(g: int, p: int) -> bool:
    """Whether g generates Z_p^* (its multiplicative order mod the prime p is p - 1)."""
    p = _check_prime(p)
    if isinstance(g, bool) or not isinstance(g, (int, np.integer)) or not 1 <= g < p:
        return False
    return all(pow(int(g), (p - 1) // q, p) != 1 for q in _prime_factors(p - 1))


def primitive_root(p: int) -> int:
    """The smallest primitive root mod the prime p (a ValueError naming p if p is not prime)."""
    p = _check_prime(p)
    return next(g for g in range(1, p) if is_primitive_root(g, p))


def _root(p: int, root: int | None) -> int:
    p = _check_prime(p)
    if root is None:
        return primitive_root(p)
    if not is_primitive_root(root, p):
        raise ValueError(f"root={root!r} is not a primitive root mod p={p}")
    return int(root)


def discrete_log_order(p: int, root: int | None = None) -> np.ndarray:
    """The tokens 1..p-1 in discrete-log order: [g^0, g^1, ..., g^(p-2)] mod p, g = ``root``
    (default ``primitive_root(p)``). Entry i is the token whose logarithm is i."""
    p, g = _check_prime(p), _root(p, root)
    order = np.empty(p - 1, dtype=np.int64)
    order[0] = 1
    for i in range(1, p - 1):
        order[i] = order[i - 1] * g % p
    return order


def discrete_logs(p: int, root: int | None = None) -> np.ndarray:
    """log_g a for every token a = 0..p-1 (length p), the inverse of ``discrete_log_order``;
    entry 0 is -1: the token 0 has no logarithm."""
    order = discrete_log_order(p, root)
    logs = np.full(len(order) + 1, -1, dtype=np.int64)
    logs[order] = np.arange(len(order))
    return logs


# --- the analysis --------------------------------------------------------------------------------


@dataclass
class BasisFourierAnalysis(_FrequencySummary):
    """Result of ``basis_fourier_analysis`` / ``activation_basis_analysis``.

    ``neurons``: one row per MLP neuron: ``neuron``, ``best_freq`` (nullable Int64; <NA> for
    neurons dead in this basis's table), ``frac_explained`` (share of the analysed table's centred
    sum of squares on the best frequency; NaN for dead), ``centred_sum_sq`` (of the analysed table),
    ``dead`` (constant over the analysed table), ``dead_all_inputs`` (constant over all p^2 inputs),
    ``zero_line_share``, ``excluded_share`` and ``frac_explained_all_inputs`` (module docstring;
    NaN where dead on all inputs; ``frac_explained_all_inputs`` is 0 where a neuron varies only
    on what the basis sets aside).
    ``frac_by_freq``: (n // 2, d_mlp), rows k = 1..n//2, NaN columns for dead neurons.
    ``summary``: ``summarise_frequencies``' numbers plus ``basis``, ``n`` (the group order: p
    additive, p - 1 discrete-log), ``root`` (the primitive root; None additive), ``key_freqs``
    (frequencies with >= ``min_neurons`` neurons), ``n_dead_all_inputs``, ``zero_line_chance``
    ((2p - 1) / p^2) and the means over neurons alive on all inputs of ``zero_line_share``,
    ``excluded_share`` and ``frac_explained_all_inputs``.
    ``fourier.frequency_overlap`` accepts two of these, but it checks only p: compare frequency sets
    only between results of the same basis (and, discrete-log, the same root).
    """

    neurons: pd.DataFrame
    frac_by_freq: np.ndarray
    summary: dict
    p: int
    task: str
    basis: str
    root: int | None = None
    method: str = "neuron (original calculate_key_freqs), in a chosen basis"

    @property
    def n(self) -> int:
        """Order of the group whose Fourier basis is used: p (additive) or p - 1 (discrete-log)."""
        return self.p if self.basis == "additive" else self.p - 1

    @property
    def n_candidates(self) -> int:
        """Number of candidate frequencies, n // 2 (``overlap_null``'s ``n_candidates``)."""
        return len(candidate_frequencies(self.n))


def _check_basis(basis: str) -> str:
    if basis not in BASES:
        raise ValueError(f"basis must be one of {', '.join(BASES)}; got {basis!r}")
    return basis


def zero_line_decomposition(acts: torch.Tensor, p: int) -> dict[str, torch.Tensor]:
    """Split each neuron's centred sum of squares over all p^2 inputs (a (p^2, n) table in
    row-major (a, b) order) into the part on the inputs with a = 0 or b = 0, the offset of the
    mean over a, b != 0 from the overall mean, and the centred sum of squares over a, b != 0.

    Returns (n,) tensors ``total``, ``zero_line``, ``offset``, ``units`` (total = zero_line +
    offset + units) and the shares ``zero_line_share``, ``excluded_share`` (1 - units / total);
    shares are NaN where total is 0.
    """
    acts = acts.double()
    table = acts.reshape(p, p, -1)
    dev_sq = (table - table.mean((0, 1))).square()
    total = dev_sq.sum((0, 1))
    zero_line = dev_sq[0].sum(0) + dev_sq[1:, 0].sum(0)
    block = table[1:, 1:]
    offset = (p - 1) ** 2 * (block.mean((0, 1)) - table.mean((0, 1))).square()
    units = (block - block.mean((0, 1))).square().sum((0, 1))
    safe = torch.where(total > 0, total, torch.ones_like(total))
    nan = torch.full_like(total, torch.nan)
    return {"total": total, "zero_line": zero_line, "offset": offset, "units": units,
            "zero_line_share": torch.where(total > 0, zero_line / safe, nan),
            "excluded_share": torch.where(total > 0, 1 - units / safe, nan)}


def discrete_log_table(acts: torch.Tensor, p: int, root: int | None = None) -> torch.Tensor:
    """The (p-1)^2 rows of a (p^2, n) activation table (row-major (a, b), a, b = 0..p-1) with
    a, b != 0, reordered to row-major (log a, log b): row i * (p-1) + j is input (g^i, g^j).
    The 2p - 1 inputs with a = 0 or b = 0 are dropped (they have no logarithm)."""
    order = torch.as_tensor(discrete_log_order(p, root), device=acts.device)
    table = acts.reshape(p, p, -1)[order][:, order]
    return table.reshape((p - 1) ** 2, -1)


def activation_basis_analysis(acts: torch.Tensor, p: int, basis: str = "discrete-log", task: str = "multiply",
                              min_neurons: int = DEFAULT_MIN_NEURONS, root: int | None = None,
                              dead_rtol: float = 1e-6) -> BasisFourierAnalysis:
    """The neuron method on a given (p^2, d_mlp) activation table (row-major (a, b) over all p^2
    inputs), in the ``basis`` "additive" or "discrete-log" (module docstring); ``task`` is only
    recorded. The discrete-log basis needs a prime p and uses ``root`` (default the smallest
    primitive root); the additive basis ignores ``root``."""
    basis = _check_basis(basis)
    if acts.ndim != 2 or acts.shape[0] != p * p:
        raise ValueError(f"acts must be a (p^2, units) table with p^2 = {p * p} rows (p={p}), "
                         f"got shape {tuple(acts.shape)}")
    acts = acts.detach().double()
    root = _root(p, root) if basis == "discrete-log" else None
    spread = acts.max(0).values - acts.min(0).values
    dead_all = (spread <= dead_rtol * acts.abs().max(0).values).cpu().numpy()
    parts = zero_line_decomposition(acts, p)
    zero_line_share = parts["zero_line_share"].cpu().numpy()
    if basis == "additive":
        n, table = p, acts
        excluded = np.where(dead_all, np.nan, 0.0)
    else:
        n, table = p - 1, discrete_log_table(acts, p, root)
        excluded = parts["excluded_share"].cpu().numpy()
    shares, centred_ss, dead = neuron_fourier_shares(table, n, dead_rtol)
    best_share, best_idx = torch.nan_to_num(shares, nan=-torch.inf).max(0)  # dead (NaN) columns never win
    best_freq = (best_idx + 1).cpu().numpy()
    frac = best_share.cpu().numpy()
    dead = dead.cpu().numpy() | dead_all
    frac[dead] = np.nan
    zero_line_share[dead_all] = np.nan
    excluded[dead_all] = np.nan
    frac_all = np.where(dead, 0.0, frac * (1 - excluded))
    frac_all[dead_all] = np.nan
    shares[:, torch.as_tensor(dead, device=shares.device)] = torch.nan
    neurons = pd.DataFrame({
        "neuron": np.arange(acts.shape[1]),
        "best_freq": pd.array(np.where(dead, 0, best_freq), dtype="Int64"),
        "frac_explained": frac,
        "centred_sum_sq": centred_ss.cpu().numpy(),
        "dead": dead,
        "dead_all_inputs": dead_all,
        "zero_line_share": zero_line_share,
        "excluded_share": excluded,
        "frac_explained_all_inputs": frac_all,
    })
    neurons.loc[dead, "best_freq"] = pd.NA
    summary = summarise_frequencies(best_freq, frac, dead, min_neurons, unit="neurons")
    alive_all = ~dead_all

    def mean_alive(values: np.ndarray) -> float:
        return float(values[alive_all].mean()) if alive_all.any() else float("nan")

    summary.update({
        "basis": basis, "n": n, "root": root,
        "key_freqs": [int(k) for k, c in summary["freq_counts"].items() if c >= min_neurons],
        "n_dead_all_inputs": int(dead_all.sum()),
        "zero_line_chance": (2 * p - 1) / p**2,
        "mean_zero_line_share": mean_alive(zero_line_share),
        "mean_excluded_share": mean_alive(excluded),
        "mean_frac_explained_all_inputs": mean_alive(frac_all),
    })
    summary["key_freqs"].sort()
    return BasisFourierAnalysis(neurons=neurons, frac_by_freq=shares.cpu().numpy(), summary=summary,
                                p=p, task=task, basis=basis, root=root)


def _activations(params: dict[str, torch.Tensor], cfg: ModelConfig, task: str, task_token: int) -> torch.Tensor:
    p = check_analysis_inputs(params, cfg, task, None, task_token)
    return equals_position_forward(params, cfg, all_inputs(p, task_token))["mlp_post"]


def basis_fourier_analysis(params: dict[str, torch.Tensor], cfg: ModelConfig, basis: str = "discrete-log",
                           task: str = "multiply", min_neurons: int = DEFAULT_MIN_NEURONS, task_token: int = 0,
                           root: int | None = None) -> BasisFourierAnalysis:
    """Per MLP neuron, the frequency of the ``basis`` ("additive": Z_p over the tokens, the numbers
    of ``neuron_fourier_analysis``; "discrete-log": Z_{p-1} over log a, log b) that best explains
    its activation at "=", and the fraction it explains.

    The model runs on all p^2 inputs [a, b, =] (``task_token`` picks the "=" token of a multi-task
    model; ``task`` is validated and recorded). The discrete-log basis keeps the (p-1)^2 inputs
    with a, b != 0 and reports what it sets aside per neuron (``zero_line_share``,
    ``excluded_share``; module docstring). A non-prime p is a ValueError naming p.
    """
    basis = _check_basis(basis)
    if basis == "discrete-log":
        _root(cfg.p, root)  # before the forward pass: a non-prime p or a bad root fails first
    acts = _activations(params, cfg, task, task_token)
    return activation_basis_analysis(acts, cfg.p, basis, task, min_neurons, root)


def discrete_log_fourier_analysis(params: dict[str, torch.Tensor], cfg: ModelConfig, task: str = "multiply",
                                  min_neurons: int = DEFAULT_MIN_NEURONS, task_token: int = 0,
                                  root: int | None = None) -> BasisFourierAnalysis:
    """``basis_fourier_analysis`` in the discrete-log basis."""
    return basis_fourier_analysis(params, cfg, "discrete-log", task, min_neurons, task_token, root)


def basis_comparison(params: dict[str, torch.Tensor], cfg: ModelConfig, task_token: int = 0,
                     min_neurons: int = DEFAULT_MIN_NEURONS, task: str = "multiply",
                     root: int | None = None) -> pd.DataFrame:
    """One row per basis ("additive", "discrete-log"), from one forward pass over all p^2 inputs.

    Columns: ``basis``, ``n`` (group order), ``n_alive`` (neurons alive in the basis's table),
    ``mean_frac_explained`` (mean over those of the best frequency's share of the analysed table),
    ``mean_frac_explained_all_inputs`` (mean over neurons alive on all p^2 inputs of the explained
    part as a share of the variance over all p^2 inputs; the like-for-like comparison),
    ``n_key_freqs`` and ``key_freqs`` (frequencies with >= ``min_neurons`` neurons),
    ``excluded_share`` (mean share of the variance over all p^2 inputs that the basis sets aside:
    0 additive) and ``zero_line_share`` (mean share on the inputs with a = 0 or b = 0: a property
    of the model, the same in both rows; compare with ``zero_line_chance``).
    """
    _root(cfg.p, root)
    acts = _activations(params, cfg, task, task_token)
    rows = []
    for basis in BASES:
        s = activation_basis_analysis(acts, cfg.p, basis, task, min_neurons, root).summary
        rows.append({"basis": basis, "n": s["n"], "n_alive": s["n_units"] - s["n_dead"],
                     "mean_frac_explained": s["mean_frac_explained"],
                     "mean_frac_explained_all_inputs": s["mean_frac_explained_all_inputs"],
                     "n_key_freqs": len(s["key_freqs"]), "key_freqs": s["key_freqs"],
                     "excluded_share": s["mean_excluded_share"], "zero_line_share": s["mean_zero_line_share"],
                     "zero_line_chance": s["zero_line_chance"]})
    return pd.DataFrame(rows)

