"""Circuit analysis: the neuron Fourier method (against the original code's values on a real
grokked checkpoint), the document's method, frequency overlap, and model inspection."""

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from grokpaper.analysis.fourier import (
    DocumentMethodSpectrum,
    NeuronFourierAnalysis,
    document_method_spectrum,
    fourier_basis,
    frequency_overlap,
    matching_permutation_test,
    neuron_fourier_analysis,
    neuron_fourier_shares,
    overlap_null,
    overlap_sum_pvalue,
    summarise_frequencies,
)
from grokpaper.analysis.inspection import all_inputs, attention_from_equals, equals_position_forward, weight_norms
from grokpaper.core.model import ModelConfig, Transformer, load_checkpoint
from reference_data import CHECKPOINT, REFERENCE, needs_original_values, needs_reference
from small_models import SMALL, random_params


@pytest.fixture(scope="module")
def reference():
    params, cfg = load_checkpoint(CHECKPOINT)
    return params, cfg, neuron_fourier_analysis(params, cfg, "add")


# --- reference agreement ------------------------------------------------------------------


@needs_original_values
def test_neuron_analysis_matches_original_code_per_neuron(reference):
    _, _, result = reference
    expected = pd.read_csv(REFERENCE / "nanda_wd0.1_addition.neurons.csv")
    got = result.neurons
    assert (got["neuron"].to_numpy() == expected["neuron"].to_numpy()).all()
    assert (got["best_freq"].to_numpy(dtype=np.int64) == expected["best_freq"].to_numpy()).all()
    np.testing.assert_allclose(got["frac_explained"], expected["frac_explained"], atol=1e-4, rtol=0)
    # The CSV stores 6 significant digits; this checks our centring is the original's.
    np.testing.assert_allclose(got["centred_sum_sq"], expected["centered_sum_sq"], rtol=1e-4)
    assert not got["dead"].any()


@needs_original_values
def test_neuron_analysis_matches_original_code_summary(reference):
    _, _, result = reference
    expected = json.loads((REFERENCE / "nanda_wd0.1_addition.summary.json").read_text())
    s = result.summary
    assert s["n_units"] == expected["n_neurons"] == 512
    assert s["n_dead"] == expected["n_dead"] == 0
    assert s["freq_counts"] == expected["freq_counts"]
    assert list(s["freq_counts"]) == list(expected["freq_counts"])  # same order: largest first
    assert s["n_distinct_freqs"] == 10
    assert s["n_distinct_freqs_min_neurons"] == 8  # 12 and 31 (1 neuron each), 46 (6) stays
    assert s["mean_frac_explained"] == pytest.approx(expected["mean_frac_explained"], abs=1e-6)
    assert s["n_frac_gt_0_5"] == expected["n_frac_gt_0_5"] == 345
    assert result.frequencies() == [3, 6, 23, 37, 39, 41, 46, 54]
    assert result.frequencies(min_neurons=1) == [3, 6, 12, 23, 31, 37, 39, 41, 46, 54]


@needs_reference
def test_excluding_k56_like_transformers_py_changes_nothing_on_reference(reference):
    params, cfg, result = reference
    capped = neuron_fourier_analysis(params, cfg, "add", max_freq=cfg.p // 2 - 1)
    pd.testing.assert_frame_equal(capped.neurons, result.neurons)
    with pytest.raises(ValueError, match="max_freq"):
        neuron_fourier_analysis(params, cfg, "add", max_freq=57)


@needs_original_values
def test_fast_forward_reproduces_reference_logits_and_accuracy(reference):
    params, cfg, _ = reference
    expected = json.loads((REFERENCE / "nanda_wd0.1_addition.summary.json").read_text())
    logits = equals_position_forward(params, cfg, all_inputs(cfg.p))["logits"]
    a, b = np.divmod(np.arange(cfg.p**2), cfg.p)
    acc = (logits[:, : cfg.p].argmax(-1).numpy() == (a + b) % cfg.p).mean()
    assert acc == expected["accuracy_all_pairs"]
    for row in expected["logits_at"]:
        at = logits[row["a"] * cfg.p + row["b"]]
        assert int(at.argmax()) == row["argmax"]
        assert float(at.max()) == pytest.approx(row["logit_max"], rel=1e-5)


@needs_reference
def test_fast_forward_equals_reference_model_on_checkpoint(reference):
    params, cfg, _ = reference
    x = all_inputs(cfg.p)[torch.randperm(cfg.p**2, generator=torch.Generator().manual_seed(1))[:2000]]
    assert_fast_forward_matches(params, cfg, x)


# --- the fast "=" forward vs the reference model --------------------------------------------------


def assert_fast_forward_matches(params, cfg, x):
    with torch.no_grad():
        logits, cache = Transformer(cfg, params).run_with_cache(x)
    fast = equals_position_forward(params, cfg, x)
    pairs = [
        (fast["logits"], logits[:, -1]),
        (fast["mlp_post"], cache["blocks.0.mlp.hook_post"][:, -1]),
        (fast["attn_pattern"], cache["blocks.0.attn.hook_attn"][:, :, -1]),
    ]
    for got, want in pairs:
        assert got.shape == want.shape
        assert float((got - want).norm() / want.norm()) < 1e-5


def test_fast_forward_equals_reference_model_random_weights():
    gen = torch.Generator().manual_seed(3)
    for cfg in (SMALL, ModelConfig(p=23, d_mlp=64, n_task_tokens=2)):
        params = random_params(cfg, seed=5)
        x = torch.randint(0, cfg.p, (300, 3), generator=gen)
        x[:, 2] = cfg.p + torch.randint(0, cfg.n_task_tokens, (300,), generator=gen)
        assert_fast_forward_matches(params, cfg, x)


# --- the basis and the per-neuron shares on planted tables ---------------------------------------


@pytest.mark.parametrize("p", [7, 12, 113])
def test_fourier_basis_is_orthonormal_and_complete(p):
    basis, names = fourier_basis(p)
    assert basis.shape == (p, p) and len(names) == p
    torch.testing.assert_close(basis @ basis.T, torch.eye(p, dtype=torch.float64), atol=1e-10, rtol=0)
    assert names[:3] == ["const", "cos 1", "sin 1"]
    assert max(int(name.split()[1]) for name in names[1:]) == p // 2


def planted_table(p, fn):
    a, b = np.divmod(np.arange(p * p), p)
    return torch.as_tensor(fn(a, b), dtype=torch.float64)


@pytest.mark.parametrize("p", [13, 113])
def test_pure_frequency_neurons_get_their_frequency_with_fraction_one(p):
    w = 2 * np.pi / p
    columns = [
        planted_table(p, lambda a, b: np.cos(w * 5 * (a + b))),  # quadratic terms only
        planted_table(p, lambda a, b: 3 + np.sin(w * 2 * (a - b))),  # constant offset is centred away
        planted_table(p, lambda a, b: np.cos(w * 4 * a) + 0.5 * np.sin(w * 4 * b)),  # linear terms
        planted_table(p, lambda a, b: np.full_like(a, 2.5, dtype=float)),  # constant: dead
        planted_table(p, lambda a, b: np.zeros_like(a, dtype=float)),  # ReLU always off: dead
        planted_table(p, lambda a, b: np.cos(w * 1 * (a + b)) + np.cos(w * 3 * (a + b)) * np.sqrt(3)),  # 1/4, 3/4
    ]
    shares, centred_ss, dead = neuron_fourier_shares(torch.stack(columns, 1), p)
    assert shares.shape == (p // 2, len(columns))
    assert dead.tolist() == [False, False, False, True, True, False]
    best = torch.nan_to_num(shares, nan=-1).argmax(0) + 1
    assert best[[0, 1, 2, 5]].tolist() == [5, 2, 4, 3]
    torch.testing.assert_close(shares[4, 0], torch.tensor(1.0, dtype=torch.float64))
    torch.testing.assert_close(shares[1, 1], torch.tensor(1.0, dtype=torch.float64))
    torch.testing.assert_close(shares[3, 2], torch.tensor(1.0, dtype=torch.float64))
    torch.testing.assert_close(shares[[0, 2], 5], torch.tensor([0.25, 0.75], dtype=torch.float64))
    assert torch.isnan(shares[:, 3:5]).all()
    torch.testing.assert_close(centred_ss[0], torch.tensor(p * p / 2, dtype=torch.float64))


def test_even_p_nyquist_frequency_is_a_candidate():
    p = 12
    table = planted_table(p, lambda a, b: np.cos(np.pi * (a + b)))
    shares, _, dead = neuron_fourier_shares(table[:, None], p)
    assert not dead[0]
    assert int(shares[:, 0].argmax()) + 1 == 6
    assert float(shares[5, 0]) == pytest.approx(1.0)


def test_zero_weight_model_has_only_dead_neurons():
    params = {k: torch.zeros_like(v) for k, v in random_params(SMALL).items()}
    for bias in (0.0, 1.5):  # always 0 (ReLU off), or a constant positive activation
        params["blocks.0.mlp.b_in"] = torch.full((SMALL.d_mlp,), bias)
        result = neuron_fourier_analysis(params, SMALL, "add")
        assert result.neurons["dead"].all()
        assert result.neurons["best_freq"].isna().all()
        assert result.neurons["frac_explained"].isna().all()
        assert result.summary["n_dead"] == SMALL.d_mlp
        assert result.summary["freq_counts"] == {} and result.summary["n_distinct_freqs"] == 0
        assert math.isnan(result.summary["mean_frac_explained"])
        assert result.frequencies() == []


def test_random_model_runs_and_summary_is_json_ready():
    result = neuron_fourier_analysis(random_params(SMALL), SMALL, "subtract")
    json.dumps(result.summary)
    n_alive = result.summary["n_units"] - result.summary["n_dead"]
    assert sum(result.summary["freq_counts"].values()) == n_alive
    assert result.frac_by_freq.shape == (SMALL.p // 2, SMALL.d_mlp)
    alive = ~result.neurons["dead"].to_numpy()
    assert ((result.neurons["frac_explained"][alive] > 0) & (result.neurons["frac_explained"][alive] <= 1 + 1e-9)).all()


# --- bad input ----------------------------------------------------------------------------------


def test_p97_checkpoint_analysed_as_p113_is_one_clear_error():
    params97 = random_params(ModelConfig(p=97, d_mlp=64), seed=1)
    with pytest.raises(ValueError, match=r"embed\.W_E.*p=113"):
        neuron_fourier_analysis(params97, ModelConfig(p=113, d_mlp=64), "add")
    with pytest.raises(ValueError, match=r"p=113 does not match.*cfg\.p=97"):
        neuron_fourier_analysis(params97, ModelConfig(p=97, d_mlp=64), "add", p=113)


def test_unknown_task_and_nan_weights_are_rejected():
    params = random_params(SMALL)
    with pytest.raises(ValueError, match="task must be one of"):
        neuron_fourier_analysis(params, SMALL, "addition")
    with pytest.raises(ValueError, match="task must be one of"):
        document_method_spectrum(params, SMALL, "mod")
    params["blocks.0.mlp.W_in"][3, 2] = float("nan")
    with pytest.raises(ValueError, match=r"blocks\.0\.mlp\.W_in has 1 NaN"):
        neuron_fourier_analysis(params, SMALL, "add")
    with pytest.raises(ValueError, match=r"W_in has 1 NaN"):
        attention_from_equals(params, SMALL)


# --- the document's method ----------------------------------------------------------------------


def test_document_method_finds_a_planted_frequency():
    cfg = ModelConfig(p=31, d_model=8, n_heads=2, d_head=4, d_mlp=16)
    params = random_params(cfg)
    gen = torch.Generator().manual_seed(0)
    x = torch.arange(cfg.p, dtype=torch.float32)
    planted = [7, 7, 7, 7, 7, 3, 3, 15]
    for d, k in enumerate(planted):
        phase = float(torch.rand(1, generator=gen)) * 6
        params["embed.W_E"][d, : cfg.p] = torch.cos(2 * math.pi * k * x / cfg.p + phase)
        params["unembed.W_U"][d, : cfg.p] = torch.sin(2 * math.pi * k * x / cfg.p - phase)
        params["embed.W_E"][d, : cfg.p] += 0.01 * torch.randn(cfg.p, generator=gen)
    result = document_method_spectrum(params, cfg, "add")
    assert isinstance(result, DocumentMethodSpectrum)
    assert result.dims["best_freq"].to_numpy(dtype=np.int64).tolist() == planted
    assert (result.dims["specialization"] > 0.9).all()
    assert result.power.shape == (cfg.d_model, cfg.p // 2)
    assert result.summary["freq_counts"] == {"7": 5, "3": 2, "15": 1}
    assert result.summary["n_distinct_freqs"] == 3 and result.summary["n_distinct_freqs_min_neurons"] == 1
    assert result.frequencies() == [7] and result.frequencies(min_neurons=1) == [3, 7, 15]


@needs_reference
def test_document_method_differs_from_neuron_method_on_reference(reference):
    params, cfg, neurons = reference
    doc = document_method_spectrum(params, cfg, "add")
    assert doc.summary["n_units"] == cfg.d_model == 128  # residual dimensions, not 512 neurons
    assert set(doc.frequencies()) <= set(neurons.frequencies())


# --- overlap -----------------------------------------------------------------------------------


def fake_analysis(counts: dict[int, int], n_dead: int = 0, p: int = 113) -> NeuronFourierAnalysis:
    best = np.array([k for k, c in counts.items() for _ in range(c)] + [0] * n_dead)
    dead = np.arange(len(best)) >= len(best) - n_dead
    summary = summarise_frequencies(best, np.ones(len(best)), dead)
    return NeuronFourierAnalysis(neurons=pd.DataFrame(), frac_by_freq=np.zeros((0, 0)), summary=summary, p=p, task="add")


def test_frequency_overlap_definitions():
    a = fake_analysis({14: 50, 35: 30, 41: 20, 7: 2})
    b = fake_analysis({14: 10, 35: 80, 52: 10}, n_dead=4)
    got = frequency_overlap(a, b)
    assert got["freqs_a"] == [14, 35, 41] and got["freqs_b"] == [14, 35, 52]
    assert got["shared"] == [14, 35] and got["n_shared"] == 2
    assert got["jaccard"] == pytest.approx(2 / 4)
    # shares: a 14: 50/102, 35: 30/102; b 14: 10/100, 35: 80/100 (dead neurons excluded)
    assert got["weighted_overlap"] == pytest.approx(10 / 100 + 30 / 102)
    same = frequency_overlap(a, a)
    assert same["jaccard"] == 1.0 and same["weighted_overlap"] == pytest.approx(1.0)
    disjoint = frequency_overlap(a, fake_analysis({1: 60, 2: 60}))
    assert disjoint["jaccard"] == 0.0 and disjoint["weighted_overlap"] == 0.0
    with pytest.raises(ValueError, match="different p"):
        frequency_overlap(a, fake_analysis({1: 5}, p=97))


# --- overlap against chance -----------------------------------------------------------------------


def test_overlap_null_matches_a_hand_computation():
    null = overlap_null(56, 5, 4)
    assert null["mean"] == pytest.approx(20 / 56)
    # P(shared = s) = C(4, s) C(52, 5 - s) / C(56, 5): choose s of the 4 fixed, the rest elsewhere.
    by_hand = [math.comb(4, s) * math.comb(52, 5 - s) / math.comb(56, 5) for s in range(5)]
    np.testing.assert_allclose(null["pmf"], by_hand, rtol=1e-12)
    assert null["pmf"] @ np.arange(5) == pytest.approx(20 / 56)
    assert list(overlap_null(56, 0, 4)["pmf"]) == [1.0]                 # an empty set shares nothing
    np.testing.assert_allclose(overlap_null(6, 6, 2)["pmf"], [0, 0, 1])  # all candidates: all shared


def test_overlap_sum_pvalue_equals_brute_force_enumeration():
    """Two seeds, 6 candidates: enumerate every pair of random sets (sizes 2 and 3 against fixed
    sets of sizes 3 and 2) and count the totals at least as large as each observed total."""
    candidates = range(6)
    fixed = [{0, 1, 2}, {4, 5}]
    sizes = [2, 3]
    totals = [len(set(a) & fixed[0]) + len(set(b) & fixed[1])
              for a in itertools.combinations(candidates, sizes[0])
              for b in itertools.combinations(candidates, sizes[1])]
    pmfs = [overlap_null(6, size, len(f))["pmf"] for size, f in zip(sizes, fixed)]
    for observed in range(6):
        expected = sum(t >= observed for t in totals) / len(totals)
        assert overlap_sum_pvalue(pmfs, observed) == pytest.approx(expected, abs=1e-12)
    assert overlap_sum_pvalue(pmfs, 0) == pytest.approx(1.0)
    assert overlap_sum_pvalue(pmfs, 5) == 0.0  # more than the sets can share


def test_matching_permutation_test():
    best = np.diag([3, 2, 4, 1, 5])  # only the identity matching reaches the diagonal total
    test = matching_permutation_test(best)
    assert test["n_permutations"] == 120 and test["p"] == pytest.approx(1 / 120) == test["min_p"]
    assert test["observed"] == 15 and test["own_mean"] == 3.0 and test["cross_mean"] == 0.0
    equal = matching_permutation_test(np.full((4, 4), 2))  # every matching gives the same total
    assert equal["p"] == 1.0 and equal["own_mean"] == equal["cross_mean"] == 2.0
    shared = np.random.default_rng(0).integers(0, 4, size=(5, 5))
    totals = [sum(shared[i, j] for i, j in enumerate(perm)) for perm in itertools.permutations(range(5))]
    expected = np.mean([t >= np.trace(shared) for t in totals])
    assert matching_permutation_test(shared)["p"] == pytest.approx(expected)


@pytest.mark.parametrize("call, message", [
    (lambda: overlap_null(0, 1, 1), "n_candidates must be an integer >= 1"),
    (lambda: overlap_null(56, 57, 4), "size_a must be an integer 0..56"),
    (lambda: overlap_null(56, 5, -1), "size_b must be an integer 0..56"),
    (lambda: overlap_null(56, 2.5, 4), "size_a must be an integer"),
    (lambda: overlap_sum_pvalue([], 1), "at least one distribution"),
    (lambda: overlap_sum_pvalue([[0.5, 0.2]], 1), r"pmfs\[0\] must be"),
    (lambda: overlap_sum_pvalue([[0.5, 0.5]], -1), "observed must be an integer >= 0"),
    (lambda: matching_permutation_test(np.ones((2, 3), dtype=int)), "square"),
    (lambda: matching_permutation_test(np.ones((1, 1), dtype=int)), "number of seeds"),
    (lambda: matching_permutation_test(np.ones((10, 10), dtype=int)), r"2\.\.9"),
    (lambda: matching_permutation_test(np.full((2, 2), 0.5)), "non-negative integer"),
])
def test_overlap_statistics_reject_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- inspection ----------------------------------------------------------------------------------


def test_attention_summary_shapes_and_rows_sum_to_one():
    summary = attention_from_equals(random_params(SMALL), SMALL)
    assert list(summary.mean.columns) == ["a", "b", "="]
    assert summary.maps.shape == (SMALL.n_heads, 3, SMALL.p, SMALL.p)
    np.testing.assert_allclose(summary.maps.sum(1), 1.0, atol=1e-6)
    np.testing.assert_allclose(summary.mean.to_numpy(), summary.maps.mean((2, 3)), atol=1e-12)


@needs_reference
def test_reference_heads_attend_to_a_and_b(reference):
    params, cfg, _ = reference
    mean = attention_from_equals(params, cfg).mean
    assert (mean["="] < 0.01).all()  # "=" carries no information: the heads read a and b


def test_weight_norms_and_change_from_init():
    init = random_params(SMALL)
    trained = {k: 2 * v for k, v in init.items()}
    table = weight_norms(trained, init)
    assert list(table.index)[:2] == ["embed.W_E", "pos_embed.W_pos"]
    row = table.loc["blocks.0.mlp.W_in"]
    assert row["norm"] == pytest.approx(float(init["blocks.0.mlp.W_in"].double().norm()) * 2)
    assert row["change_norm"] == pytest.approx(row["init_norm"])
    assert row["relative_change"] == pytest.approx(1.0)
    assert math.isnan(table.loc["blocks.0.mlp.b_in", "relative_change"])  # biases start at 0
    assert "change_norm" not in weight_norms(trained).columns
    with pytest.raises(ValueError, match="embed.W_E has shape"):
        weight_norms(trained, random_params(ModelConfig(p=13, d_model=16, n_heads=2, d_head=8, d_mlp=24)))
