"""The neuron Fourier method in the discrete-log basis (grokpaper.analysis.dlog): discrete logarithms,
the reused share function on tables of odd and even side, hand-built activation tables whose
structure is known (additive or multiplicative), what the discrete-log analysis sets aside, and a
tiny random model end to end."""

import numpy as np
import pytest
import torch

from grokpaper.analysis.dlog import (
    BASES,
    activation_basis_analysis,
    basis_comparison,
    basis_fourier_analysis,
    discrete_log_fourier_analysis,
    discrete_log_order,
    discrete_log_table,
    discrete_logs,
    is_primitive_root,
    primitive_root,
    zero_line_decomposition,
)
from grokpaper.analysis.fourier import neuron_fourier_analysis, neuron_fourier_shares
from grokpaper.analysis.inspection import all_inputs, equals_position_forward
from grokpaper.core.model import ModelConfig, init_params

PRIMES = (3, 5, 7, 11, 13, 23, 113)


def multiplicative_order(g: int, p: int) -> int:
    e, x = 1, g % p
    while x != 1:
        x, e = x * g % p, e + 1
    return e


def grid(p: int) -> tuple[np.ndarray, np.ndarray]:
    """a and b of all p^2 inputs in row-major order."""
    return np.divmod(np.arange(p * p), p)


def fft_shares(table: np.ndarray) -> np.ndarray:
    """Reference for the neuron method's shares from the complex 2-D DFT, independent of the real
    basis: frequency k's share is the power on indices {0, k, -k} x {0, k, -k} (one index for the
    Nyquist k = n/2) over the total power of the centred table. Returns (n // 2, units)."""
    n = table.shape[0]
    power = np.abs(np.fft.fft2(table - table.mean((0, 1)), axes=(0, 1))) ** 2
    rows = []
    for k in range(1, n // 2 + 1):
        idx = sorted({0, k, (-k) % n})
        rows.append(power[np.ix_(idx, idx)].sum((0, 1)) - power[0, 0])
    return np.array(rows) / power.sum((0, 1))


# --- discrete logarithms -------------------------------------------------------------------------


@pytest.mark.parametrize("p", PRIMES)
def test_primitive_root_has_order_p_minus_1_and_is_the_smallest(p):
    g = primitive_root(p)
    assert multiplicative_order(g, p) == p - 1
    assert all(multiplicative_order(h, p) < p - 1 for h in range(2, g))
    assert is_primitive_root(g, p)
    assert not is_primitive_root(p - 1, p) or p == 3  # -1 has order 2


@pytest.mark.parametrize("bad", [1, 4, 9, 12, 91, 2.0, True])
def test_primitive_root_rejects_non_primes_naming_p(bad):
    with pytest.raises(ValueError, match=f"p={bad!r}"):
        primitive_root(bad)


@pytest.mark.parametrize("p", PRIMES)
def test_discrete_log_order_is_the_powers_of_g_and_a_permutation(p):
    g = primitive_root(p)
    order = discrete_log_order(p)
    assert order.tolist() == [pow(g, i, p) for i in range(p - 1)]
    assert sorted(order.tolist()) == list(range(1, p))
    logs = discrete_logs(p)
    assert logs[0] == -1 and len(logs) == p
    assert (order[logs[1:]] == np.arange(1, p)).all()
    # log is a homomorphism: log(ab) = log a + log b (mod p - 1)
    a, b = np.meshgrid(np.arange(1, p), np.arange(1, p))
    assert ((logs[a] + logs[b]) % (p - 1) == logs[a * b % p]).all()


@pytest.mark.parametrize("p", [7, 11, 13, 23])
def test_nyquist_character_is_the_legendre_symbol(p):
    # (-1)^(log a) = +1 exactly on the squares mod p (Euler's criterion).
    logs = discrete_logs(p)
    for a in range(1, p):
        assert (logs[a] % 2 == 0) == (pow(a, (p - 1) // 2, p) == 1)


def test_other_roots_and_bad_roots():
    assert discrete_log_order(13, root=6).tolist() == [pow(6, i, 13) for i in range(12)]
    with pytest.raises(ValueError, match="not a primitive root"):
        discrete_log_order(13, root=3)  # 3^3 = 1 mod 13
    with pytest.raises(ValueError, match="p=15"):
        discrete_log_order(15)


# --- the share function on tables of odd and even side ------------------------------------------


@pytest.mark.parametrize("n", [7, 10, 12, 13, 22])
def test_neuron_fourier_shares_match_complex_dft_on_odd_and_even_side(n):
    # The discrete-log analysis reuses neuron_fourier_shares on side p - 1 (even): check it there,
    # Nyquist included, and on odd side, against a computation that never builds the real basis.
    rng = np.random.default_rng(n)
    table = rng.normal(size=(n, n, 5))
    table[..., 1] += 3 * np.cos(np.pi * np.arange(n))[:, None] * (n % 2 == 0)  # a Nyquist component
    shares, centred_ss, dead = neuron_fourier_shares(torch.tensor(table.reshape(n * n, 5)), n)
    assert shares.shape == (n // 2, 5) and not dead.any()
    np.testing.assert_allclose(shares.numpy(), fft_shares(table), atol=1e-12)
    np.testing.assert_allclose(centred_ss.numpy(), ((table - table.mean((0, 1))) ** 2).sum((0, 1)))


def test_additive_basis_is_neuron_fourier_shares_on_side_p():
    p = 11
    acts = torch.tensor(np.random.default_rng(1).normal(size=(p * p, 6)))
    result = activation_basis_analysis(acts, p, "additive")
    shares, _, _ = neuron_fourier_shares(acts, p)
    np.testing.assert_allclose(result.frac_by_freq, shares.numpy(), atol=0)
    assert result.frac_by_freq.shape == (p // 2, 6) and result.n == p and result.n_candidates == p // 2
    assert (result.neurons["excluded_share"] == 0).all()


def test_discrete_log_table_reindexes_by_logs():
    p = 7
    a, b = grid(p)
    acts = torch.tensor(np.stack([a, b], 1), dtype=torch.float64)  # unit 0 holds a, unit 1 holds b
    table = discrete_log_table(acts, p).reshape(p - 1, p - 1, 2)
    order = torch.tensor(discrete_log_order(p), dtype=torch.float64)
    assert (table[:, :, 0] == order[:, None]).all() and (table[:, :, 1] == order[None, :]).all()


# --- hand-built tables ---------------------------------------------------------------------------


@pytest.mark.parametrize("p", [11, 13, 23])
def test_multiplicative_table_is_sparse_in_discrete_log_basis_and_spread_in_additive(p):
    n = p - 1
    a, b = grid(p)
    logs = discrete_logs(p)
    zero_line = (a == 0) | (b == 0)
    rng = np.random.default_rng(p)
    cols = []
    for k in range(1, n // 2 + 1):  # k = n/2 is the Nyquist frequency
        col = np.cos(2 * np.pi * k * (logs[a] + logs[b]) / n + 0.3) + 0.5 * np.cos(2 * np.pi * k * logs[a] / n)
        col[zero_line] = rng.normal(size=zero_line.sum())  # whatever happens on a = 0 or b = 0 is set aside
        cols.append(col)
    acts = torch.tensor(np.stack(cols, 1))
    dlog = activation_basis_analysis(acts, p, "discrete-log", min_neurons=1)
    additive = activation_basis_analysis(acts, p, "additive", min_neurons=1)
    assert dlog.basis == "discrete-log" and dlog.root == primitive_root(p) and dlog.n == n
    assert dlog.frac_by_freq.shape == (n // 2, n // 2)
    assert dlog.neurons["best_freq"].tolist() == list(range(1, n // 2 + 1))
    np.testing.assert_allclose(dlog.neurons["frac_explained"], 1.0, atol=1e-10)
    assert dlog.summary["key_freqs"] == list(range(1, n // 2 + 1))
    assert (additive.neurons["frac_explained"] < 0.3).all()
    # The random zero-line values hold a real part of each neuron's variance, reported, not hidden.
    assert (dlog.neurons["zero_line_share"] > 0.05).all()
    np.testing.assert_allclose(dlog.neurons["zero_line_share"], additive.neurons["zero_line_share"])
    np.testing.assert_allclose(dlog.neurons["frac_explained_all_inputs"], 1 - dlog.neurons["excluded_share"])


@pytest.mark.parametrize("p", [11, 13, 23])
def test_additive_table_is_sparse_in_additive_basis_and_spread_in_discrete_log(p):
    a, b = grid(p)
    acts = torch.tensor(np.stack([np.cos(2 * np.pi * k * (a + b) / p) for k in range(1, p // 2 + 1)], 1))
    additive = activation_basis_analysis(acts, p, "additive", min_neurons=1)
    dlog = activation_basis_analysis(acts, p, "discrete-log", min_neurons=1)
    assert additive.neurons["best_freq"].tolist() == list(range(1, p // 2 + 1))
    np.testing.assert_allclose(additive.neurons["frac_explained"], 1.0, atol=1e-10)
    assert (dlog.neurons["frac_explained"] < 0.3).all()
    # cos(2 pi k (a + b) / p): p/2 of the sum of squares on each zero line, less the shared (0, 0),
    # out of p^2 / 2 in all.
    np.testing.assert_allclose(dlog.neurons["zero_line_share"], 2 * (p - 1) / p**2, rtol=1e-10)


def test_nyquist_frequency_is_found_in_discrete_log_basis():
    p = 13
    a, b = grid(p)
    legendre = np.array([0] + [1 if pow(x, (p - 1) // 2, p) == 1 else -1 for x in range(1, p)])
    acts = torch.tensor(np.stack([legendre[a] * legendre[b], legendre[a], legendre[a] + legendre[b]], 1),
                        dtype=torch.float64)
    result = activation_basis_analysis(acts, p, "discrete-log", min_neurons=1)
    assert result.neurons["best_freq"].tolist() == [(p - 1) // 2] * 3
    np.testing.assert_allclose(result.neurons["frac_explained"], 1.0, atol=1e-10)
    np.testing.assert_allclose(result.frac_by_freq[:-1], 0.0, atol=1e-10)


def test_changing_the_primitive_root_permutes_frequencies_and_keeps_shares():
    p, other = 13, 6
    n = p - 1
    acts = torch.tensor(np.random.default_rng(0).normal(size=(p * p, 8)))
    base = activation_basis_analysis(acts, p, "discrete-log")
    moved = activation_basis_analysis(acts, p, "discrete-log", root=other)
    u = discrete_logs(p)[other]  # other = g^u, so log_other a = u^-1 log_g a
    for k in range(1, n // 2 + 1):
        k_moved = k * u % n
        np.testing.assert_allclose(moved.frac_by_freq[min(k_moved, n - k_moved) - 1], base.frac_by_freq[k - 1],
                                   atol=1e-12)
    np.testing.assert_allclose(moved.neurons["frac_explained"], base.neurons["frac_explained"], atol=1e-12)


# --- what the discrete-log analysis sets aside ---------------------------------------------------


def test_zero_line_decomposition_adds_up():
    p = 11
    acts = torch.tensor(np.random.default_rng(2).normal(size=(p * p, 4)))
    parts = zero_line_decomposition(acts, p)
    np.testing.assert_allclose(parts["zero_line"] + parts["offset"] + parts["units"], parts["total"], rtol=1e-12)
    np.testing.assert_allclose(parts["excluded_share"], (parts["zero_line"] + parts["offset"]) / parts["total"])
    dlog = activation_basis_analysis(acts, p, "discrete-log")
    np.testing.assert_allclose(dlog.neurons["centred_sum_sq"], parts["units"].numpy(), rtol=1e-12)


def test_neuron_living_only_on_the_zero_lines():
    p = 11
    a, b = grid(p)
    acts = torch.tensor(np.stack([(a == 0) * 1.0, np.zeros(p * p), np.cos(2 * np.pi * (a + b) / p)], 1))
    dlog = activation_basis_analysis(acts, p, "discrete-log", min_neurons=1)
    additive = activation_basis_analysis(acts, p, "additive", min_neurons=1)
    rows = dlog.neurons
    # Neuron 0 varies only on a = 0: dead in the discrete-log table, all its variance set aside.
    assert rows.loc[0, "dead"] and not rows.loc[0, "dead_all_inputs"] and rows["best_freq"].isna()[0]
    assert rows.loc[0, "excluded_share"] == pytest.approx(1.0) and rows.loc[0, "frac_explained_all_inputs"] == 0
    assert rows.loc[0, "zero_line_share"] == pytest.approx((p * (1 - 1 / p) ** 2 + (p - 1) / p**2) / (p - 1))
    assert not additive.neurons.loc[0, "dead"]
    # Neuron 1 is constant everywhere: dead in both, no shares.
    for result in (dlog, additive):
        assert result.neurons.loc[1, "dead_all_inputs"] and np.isnan(result.neurons.loc[1, "zero_line_share"])
        assert np.isnan(result.frac_by_freq[:, 1]).all()
    assert dlog.summary["n_dead"] == 2 and dlog.summary["n_dead_all_inputs"] == 1 and dlog.n_alive == 1
    assert additive.summary["n_dead"] == 1 and additive.summary["mean_excluded_share"] == 0


def test_bad_arguments():
    p = 11
    acts = torch.zeros(p * p, 3)
    with pytest.raises(ValueError, match="basis must be one of"):
        activation_basis_analysis(acts, p, "multiplicative")
    with pytest.raises(ValueError, match="p\\^2 = 121"):
        activation_basis_analysis(torch.zeros(p * p - 1, 3), p)
    with pytest.raises(ValueError, match="p=9"):
        activation_basis_analysis(torch.zeros(81, 3), 9, "discrete-log")
    cfg = ModelConfig(p=12, d_model=16, n_heads=2, d_head=8, d_mlp=8)
    params = init_params(cfg, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="p=12"):
        discrete_log_fourier_analysis(params, cfg)
    with pytest.raises(ValueError, match="p=12"):
        basis_comparison(params, cfg)


# --- a tiny random model end to end --------------------------------------------------------------


TINY = dict(p=11, d_model=16, n_heads=2, d_head=8, d_mlp=32)


@pytest.mark.parametrize("n_task_tokens, task_token", [(1, 0), (2, 1)])
def test_tiny_model_end_to_end(n_task_tokens, task_token):
    cfg = ModelConfig(**TINY, n_task_tokens=n_task_tokens)
    params = init_params(cfg, torch.Generator().manual_seed(0))
    p, d_mlp = cfg.p, cfg.d_mlp
    dlog = discrete_log_fourier_analysis(params, cfg, task_token=task_token)
    additive = basis_fourier_analysis(params, cfg, "additive", task_token=task_token)
    assert dlog.frac_by_freq.shape == ((p - 1) // 2, d_mlp) and additive.frac_by_freq.shape == (p // 2, d_mlp)
    for result in (dlog, additive):
        rows = result.neurons
        assert len(rows) == d_mlp and rows["neuron"].tolist() == list(range(d_mlp))
        alive = ~rows["dead"]
        assert alive.sum() > d_mlp // 2
        assert rows.loc[alive, "best_freq"].between(1, result.n // 2).all()
        assert rows.loc[alive, "frac_explained"].between(0, 1).all()
        # Frequencies own disjoint sets of basis terms (cross terms k x k' belong to none): shares sum to <= 1.
        assert (np.nansum(result.frac_by_freq, 0)[alive] <= 1 + 1e-12).all()
        assert sum(result.freq_counts().values()) == result.n_alive
        assert result.summary["key_freqs"] == result.frequencies(5)
    # The additive basis gives neuron_fourier_analysis's numbers.
    reference = neuron_fourier_analysis(params, cfg, "multiply", task_token=task_token)
    assert additive.neurons["best_freq"].equals(reference.neurons["best_freq"])
    np.testing.assert_allclose(additive.neurons["frac_explained"], reference.neurons["frac_explained"], atol=1e-12)
    # The "=" token asked for is the one used.
    acts = equals_position_forward(params, cfg, all_inputs(p, task_token))["mlp_post"]
    direct = activation_basis_analysis(acts, p, "discrete-log")
    np.testing.assert_allclose(dlog.frac_by_freq, direct.frac_by_freq, atol=0)
    comparison = basis_comparison(params, cfg, task_token=task_token)
    assert comparison["basis"].tolist() == list(BASES) and comparison["n"].tolist() == [p, p - 1]
    additive_row, dlog_row = comparison.iloc[0], comparison.iloc[1]
    assert additive_row["excluded_share"] == 0 and 0 < dlog_row["excluded_share"] < 1
    assert additive_row["zero_line_share"] == pytest.approx(dlog_row["zero_line_share"])
    assert dlog_row["zero_line_share"] <= dlog_row["excluded_share"] + 1e-12
    assert dlog_row["mean_frac_explained"] == pytest.approx(dlog.summary["mean_frac_explained"])
    assert dlog_row["n_key_freqs"] == len(dlog.summary["key_freqs"])


def test_task_token_changes_the_result():
    cfg = ModelConfig(**TINY, n_task_tokens=2)
    params = init_params(cfg, torch.Generator().manual_seed(0))
    first, second = (discrete_log_fourier_analysis(params, cfg, task_token=t).frac_by_freq for t in (0, 1))
    assert not np.allclose(first, second, equal_nan=True)
    with pytest.raises(ValueError, match="task_token"):
        discrete_log_fourier_analysis(params, cfg, task_token=2)
