"""Furuta et al.'s progress measures, Fourier Frequency Sparsity (FFS) and Fourier Coefficient Ratio
(FCR), on embeddings whose spectrum is known by construction (expected values worked out by hand),
on random embeddings, under the transformations the definitions must ignore, and on bad input."""

import math

import pytest
import torch

from grokpaper.analysis.furuta import (
    DEFAULT_FFS_THRESHOLD,
    fourier_coefficient_ratio,
    fourier_frequency_sparsity,
    furuta_measures,
)
from grokpaper.core.model import ModelConfig, init_params, load_checkpoint
from reference_data import CHECKPOINT, needs_reference


def planted(p, components, d_model=16, n_task_tokens=1, seed=0):
    """{"embed.W_E": (d_model, p + n_task_tokens)} whose number columns hold, for the j-th component
    (k, a, b), a cos(2 pi k x / p) in dimension 2j and b sin(2 pi k x / p) in dimension 2j + 1; the
    task-token columns are random (they must not matter)."""
    x = torch.arange(p, dtype=torch.float64)
    W = torch.zeros(d_model, p + n_task_tokens, dtype=torch.float64)
    for j, (k, a, b) in enumerate(components):
        W[2 * j, :p] = a * torch.cos(2 * torch.pi * k * x / p)
        W[2 * j + 1, :p] = b * torch.sin(2 * torch.pi * k * x / p)
    W[:, p:] = torch.randn(d_model, n_task_tokens, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return {"embed.W_E": W}


def with_numbers(params, p, transform):
    """The same params with the number-token columns of W_E replaced by transform(columns)."""
    W = params["embed.W_E"].clone()
    W[:, :p] = transform(W[:, :p])
    return {"embed.W_E": W}


# --- known spectra ---------------------------------------------------------------------------------


def test_k_balanced_frequencies_give_k_over_half_p_and_ratio_one():
    # p = 31 has K = 15 frequencies; three of them, each with equal cosine and sine energy.
    params = planted(31, [(2, 1.0, 1.0), (5, 1.0, 1.0), (11, 1.0, 1.0)])
    assert fourier_frequency_sparsity(params, 31) == pytest.approx(3 / 15)
    assert fourier_coefficient_ratio(params, 31) == pytest.approx(1.0)


def test_pure_cosine_embedding_is_fully_cosine_biased():
    # Multiplication-like: cosines only. Same frequencies, so FFS is unchanged; no sine, so FCR = 0.
    params = planted(31, [(2, 1.0, 0.0), (5, 3.0, 0.0), (11, 0.5, 0.0)])
    assert fourier_frequency_sparsity(params, 31, threshold=0.1) == pytest.approx(3 / 15)
    assert fourier_coefficient_ratio(params, 31) == pytest.approx(0.0, abs=1e-12)


def test_threshold_and_ratio_by_hand():
    # Frequency 3: cos amplitude 2, sin amplitude 1; frequency 5: 1 and 1. The cos k and sin k rows of W
    # both have norm sqrt(p/2), so ||cos k|| : ||sin k|| = 2 : 1 and 1 : 1, and the amplitudes are
    # sqrt(5) and sqrt(2) times the same factor: frequency 5 sits at sqrt(2/5) = 0.632 of frequency 3.
    params = planted(31, [(3, 2.0, 1.0), (5, 1.0, 1.0)])
    assert fourier_coefficient_ratio(params, 31) == pytest.approx((1 / 2 + 1) / 2)
    assert fourier_frequency_sparsity(params, 31, threshold=0.7) == pytest.approx(1 / 15)
    assert fourier_frequency_sparsity(params, 31, threshold=0.6) == pytest.approx(2 / 15)
    assert fourier_frequency_sparsity(params, 31, threshold=1.0) == pytest.approx(1 / 15)  # the largest counts


def test_random_gaussian_embedding_is_dense_and_balanced():
    # Every frequency's amplitude is a chi with 2 d_model degrees of freedom, all within ~20 % of each
    # other, and cos and sin norms are two independent chi_128: their min/max ratio averages ~0.93.
    W = torch.randn(128, 114, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    m = furuta_measures({"embed.W_E": W}, 113)
    assert m["ffs"] == 1.0
    assert 0.85 < m["fcr"] < 1.0


def test_original_init_is_dense():
    params = init_params(ModelConfig(p=113), torch.Generator().manual_seed(0))
    assert fourier_frequency_sparsity(params, 113, n_task_tokens=1) == 1.0


# --- what the measures must not depend on ----------------------------------------------------------


def test_task_token_columns_do_not_matter():
    base = planted(31, [(3, 2.0, 1.0), (7, 1.0, 1.0)], n_task_tokens=1, seed=0)
    more = planted(31, [(3, 2.0, 1.0), (7, 1.0, 1.0)], n_task_tokens=4, seed=5)
    more["embed.W_E"][:, 31:] *= 1e6  # huge task tokens
    assert furuta_measures(base, 31) == furuta_measures(more, 31)
    assert furuta_measures(more, 31, n_task_tokens=4) == furuta_measures(base, 31, n_task_tokens=1)


@pytest.mark.parametrize("factor", [1e3, 0.01, -2.5])
def test_scale_invariance(factor):
    W = torch.randn(32, 42, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    params = {"embed.W_E": W}
    scaled = with_numbers(params, 41, lambda cols: factor * cols)
    assert fourier_frequency_sparsity(scaled, 41) == fourier_frequency_sparsity(params, 41)
    assert fourier_coefficient_ratio(scaled, 41) == pytest.approx(fourier_coefficient_ratio(params, 41), rel=1e-12)


def test_rotation_of_the_residual_basis_and_a_common_offset_do_not_matter():
    params = planted(29, [(4, 2.0, 0.5), (9, 1.0, 1.0), (13, 0.3, 0.0)], d_model=12)
    Q, _ = torch.linalg.qr(torch.randn(12, 12, generator=torch.Generator().manual_seed(3), dtype=torch.float64))
    offset = torch.randn(12, 1, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    moved = with_numbers(params, 29, lambda cols: Q @ cols + offset)
    for threshold in (0.1, 0.2, 0.5):
        assert fourier_frequency_sparsity(moved, 29, threshold=threshold) == \
            fourier_frequency_sparsity(params, 29, threshold=threshold)
    assert fourier_coefficient_ratio(moved, 29) == pytest.approx(fourier_coefficient_ratio(params, 29))


def test_cyclic_relabelling_keeps_ffs_but_turns_cosine_into_sine():
    # Even p as well. cos(2 pi (x + 2) / 16) = cos(theta + pi/4): equal cosine and sine parts, so a pure
    # cosine embedding (FCR 0) relabelled x -> x + 2 has FCR 1; which frequency is used does not change.
    p = 16
    params = planted(p, [(1, 1.0, 0.0)])
    shifted = with_numbers(params, p, lambda cols: torch.roll(cols, shifts=-2, dims=1))  # column x holds x + 2
    assert fourier_coefficient_ratio(params, p) == pytest.approx(0.0, abs=1e-12)
    assert fourier_coefficient_ratio(shifted, p) == pytest.approx(1.0)
    assert fourier_frequency_sparsity(shifted, p) == fourier_frequency_sparsity(params, p) == pytest.approx(1 / 8)


# --- even and small p -----------------------------------------------------------------------------


def test_even_p_counts_the_nyquist_frequency_but_gives_it_no_ratio():
    p = 12  # K = 6 frequencies: 1..5 and the Nyquist 6, cos(pi x), which has no sine partner
    x = torch.arange(p, dtype=torch.float64)
    W = torch.zeros(8, p + 1, dtype=torch.float64)
    W[0, :p] = torch.cos(torch.pi * x)
    nyquist_only = {"embed.W_E": W}
    assert fourier_frequency_sparsity(nyquist_only, p) == pytest.approx(1 / 6)
    assert math.isnan(fourier_coefficient_ratio(nyquist_only, p))
    W2 = W.clone()
    W2[1, :p] = torch.cos(2 * torch.pi * 2 * x / p)
    W2[2, :p] = torch.sin(2 * torch.pi * 2 * x / p)
    both = {"embed.W_E": W2}
    assert fourier_frequency_sparsity(both, p) == pytest.approx(2 / 6)
    assert fourier_coefficient_ratio(both, p) == pytest.approx(1.0)  # frequency 2 only; Nyquist left out


def test_smallest_p():
    params = planted(3, [(1, 1.0, 1.0)], d_model=4)
    assert furuta_measures(params, 3) == pytest.approx({"ffs": 1.0, "fcr": 1.0})


def test_furuta_measures_names_and_weight_choice():
    params = planted(23, [(2, 1.0, 0.0), (6, 1.0, 1.0)])
    W = params["embed.W_E"]
    both = {"embed.W_E": torch.randn(16, 24, generator=torch.Generator().manual_seed(6)), "unembed.W_U": W}
    m = furuta_measures(params, 23)
    assert set(m) == {"ffs", "fcr"}
    assert m == {"ffs": fourier_frequency_sparsity(params, 23), "fcr": fourier_coefficient_ratio(params, 23)}
    assert m["ffs"] == pytest.approx(2 / 11) and m["fcr"] == pytest.approx(0.5)
    assert furuta_measures(both, 23, weight="unembed.W_U") == m
    assert DEFAULT_FFS_THRESHOLD == 0.1


# --- bad input ------------------------------------------------------------------------------------


def _w(*shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(7))


@pytest.mark.parametrize("params,p,kwargs,message", [
    ({"embed.W_E": _w(8, 12)}, 2, {}, r"p must be an integer >= 3, got 2"),
    ({"embed.W_E": _w(8, 12)}, 11.0, {}, r"p must be an integer >= 3"),
    ([_w(8, 12)], 11, {}, r"params must be a dict"),
    ({"unembed.W_U": _w(8, 12)}, 11, {}, r"params has no 'embed.W_E'"),
    ({"embed.W_E": _w(8 * 12)}, 11, {}, r"params\['embed.W_E'\] must be a 2-D tensor of shape \(d_model, d_vocab\)"),
    ({"embed.W_E": _w(8, 11)}, 11, {}, r"d_vocab=11, but p=11 needs d_vocab >= p \+ 1"),
    ({"embed.W_E": _w(8, 114)}, 97, {"n_task_tokens": 1}, r"shape \(8, 114\).*p=97 with n_task_tokens=1 needs d_vocab=98"),
    ({"embed.W_E": _w(8, 12)}, 11, {"weight": "blocks.0.mlp.W_in"}, r"weight must be one of embed.W_E, unembed.W_U"),
    ({"embed.W_E": _w(8, 12)}, 11, {"n_task_tokens": -1}, r"n_task_tokens must be a non-negative integer"),
])
def test_bad_input_is_one_clear_value_error(params, p, kwargs, message):
    for measure in (fourier_frequency_sparsity, fourier_coefficient_ratio, furuta_measures):
        with pytest.raises(ValueError, match=message):
            measure(params, p, **kwargs)


@pytest.mark.parametrize("threshold", [0, -0.1, 1.5, float("nan"), True])
def test_bad_threshold(threshold):
    with pytest.raises(ValueError, match=r"threshold must be a number in \(0, 1\]"):
        fourier_frequency_sparsity({"embed.W_E": _w(8, 12)}, 11, threshold=threshold)


def test_nan_and_flat_embeddings_are_rejected():
    W = _w(8, 12)
    W[3, 4] = float("nan")
    with pytest.raises(ValueError, match=r"NaN or infinite values in its number-token columns"):
        furuta_measures({"embed.W_E": W}, 11)
    W[3, 4] = 0.0
    W[:, 11] = float("nan")  # a NaN in the task-token column is outside what is measured
    furuta_measures({"embed.W_E": W}, 11)
    flat = torch.ones(8, 12) * torch.arange(8.0)[:, None]  # every number token embedded alike
    for W_flat in (flat, torch.zeros(8, 12)):
        with pytest.raises(ValueError, match=r"no Fourier energy outside the constant.*undefined"):
            furuta_measures({"embed.W_E": W_flat}, 11)


# --- the original study's grokked checkpoint -----------------------------------------------------


@needs_reference
def test_grokked_reference_is_sparser_and_less_balanced_than_its_init():
    params, cfg = load_checkpoint(CHECKPOINT)
    init = init_params(cfg, torch.Generator().manual_seed(0))
    grokked, random = furuta_measures(params, cfg.p), furuta_measures(init, cfg.p)
    # The paper's direction: both measures fall as the model groks.
    assert grokked["ffs"] < random["ffs"] == 1.0
    assert grokked["fcr"] < random["fcr"]
    # At half the peak amplitude five of the 56 frequencies count: as many as the original neuron analysis
    # gives 54 to 127 neurons each (37, 6, 41, 23, 39; the next frequency has 10; reference README).
    assert fourier_frequency_sparsity(params, cfg.p, threshold=0.5) * 56 == pytest.approx(5)
