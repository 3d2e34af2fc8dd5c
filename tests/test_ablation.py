"""Causal tests (grokpaper.analysis.ablation): the forward pass in parts, key-frequency ablation in the
embedding and in the neurons with its random-frequency null, head importance, and the sign-flip
statistic on a constructed toy whose answer is known."""

import math

import pytest
import torch
import torch.nn.functional as F

from grokpaper.analysis import ablation
from grokpaper.analysis.fourier import fourier_basis, neuron_fourier_shares
from grokpaper.core import data
from grokpaper.core.model import ModelConfig, Transformer
from small_models import SMALL, random_params

TOKENS = data.tokens(data.all_pairs(SMALL.p), SMALL.p)
TARGETS = torch.from_numpy(data.labels("subtract", data.all_pairs(SMALL.p), SMALL.p)).long()


def _loss(logits):
    return F.cross_entropy(logits.double(), TARGETS).item()


def test_the_forward_in_parts_is_the_reference_model():
    params = random_params(SMALL, 4)
    parts = ablation.equals_parts(params, SMALL)
    _, logits = ablation._mlp_and_logits(params, parts["resid_eq"] + parts["head_out"].sum(1))
    with torch.no_grad():
        reference, cache = Transformer(SMALL, params).run_with_cache(TOKENS)
    assert torch.allclose(logits, reference[:, -1], rtol=1e-5, atol=1e-5)
    assert torch.allclose(parts["pattern"], cache["blocks.0.attn.hook_attn"][:, :, -1], atol=1e-6)


def test_embedding_ablation_removes_exactly_those_fourier_components():
    params = random_params(SMALL, 1)
    cut = ablation.without_embedding_frequencies(params, [2, 5])
    basis, names = fourier_basis(SMALL.p)
    before, after = (w["embed.W_E"][:, :SMALL.p].double() @ basis.T for w in (params, cut))
    for i, name in enumerate(names):
        removed = name in ("cos 2", "sin 2", "cos 5", "sin 5")
        assert torch.allclose(after[:, i], torch.zeros_like(after[:, i]) if removed else before[:, i], atol=1e-6), name
    assert torch.equal(cut["embed.W_E"][:, SMALL.p], params["embed.W_E"][:, SMALL.p])  # "=" untouched
    assert all(torch.equal(cut[k], params[k]) for k in params if k != "embed.W_E")


def _neuron_ablated_logits(params, freqs):
    """The neuron ablation written out with the 2-D transform of each neuron's p x p table."""
    p = SMALL.p
    with torch.no_grad():
        _, cache = Transformer(SMALL, params).run_with_cache(TOKENS)
    acts = cache["blocks.0.mlp.hook_post"][:, -1].double()  # (p^2, d_mlp)
    basis, names = fourier_basis(p)
    coeff = torch.einsum("fa,gb,abn->fgn", basis, basis, acts.reshape(p, p, -1))
    keep = torch.ones(p, p, dtype=torch.float64)
    for k in freqs:
        rows = [0] + [names.index(f"cos {k}"), names.index(f"sin {k}")]
        for f in rows:
            for g in rows:
                keep[f, g] = 0 if (f, g) != (0, 0) else 1
    ablated = torch.einsum("fa,gb,fgn->abn", basis, basis, coeff * keep[..., None]).reshape(p * p, -1)
    resid_mid = cache["blocks.0.hook_resid_mid"][:, -1].double()
    out = resid_mid + ablated @ params["blocks.0.mlp.W_out"].double().T + params["blocks.0.mlp.b_out"].double()
    return out @ params["unembed.W_U"].double()


def test_key_frequency_ablation_against_direct_computations_and_its_null():
    params = random_params(SMALL, 2)
    table = ablation.key_frequency_ablation(params, SMALL, "subtract", [1, 3], n_draws=6, seed=0)
    rows = {(r["where"], r["ablated"], r["draw"] if r["ablated"] == "random" else None): r for _, r in table.iterrows()}
    with torch.no_grad():
        intact = _loss(Transformer(SMALL, params)(TOKENS)[:, -1])
        embedding = _loss(Transformer(SMALL, ablation.without_embedding_frequencies(params, [1, 3]))(TOKENS)[:, -1])
    assert rows[("embedding", "none", None)]["loss"] == pytest.approx(intact, rel=1e-5)
    assert rows[("embedding", "key", None)]["loss"] == pytest.approx(embedding, rel=1e-5)
    assert rows[("neurons", "key", None)]["loss"] == pytest.approx(_loss(_neuron_ablated_logits(params, [1, 3])), rel=1e-6)
    draw = rows[("neurons", "random", 4)]
    freqs = [int(k) for k in draw["freqs"].split()]
    assert draw["loss"] == pytest.approx(_loss(_neuron_ablated_logits(params, freqs)), rel=1e-6)
    random = table[table["ablated"] == "random"]
    assert len(random) == 2 * 6
    for label in random["freqs"]:
        drawn = [int(k) for k in label.split()]
        assert len(set(drawn)) == 2 and not {1, 3} & set(drawn)
    again = ablation.key_frequency_ablation(params, SMALL, "subtract", [1, 3], n_draws=6, seed=0)
    assert again.equals(table)
    summary = ablation.ablation_summary(table).set_index("where")
    for where in ablation.WHERE:
        null = random[random["where"] == where]["loss"]
        key = rows[(where, "key", None)]["loss"]
        assert summary.loc[where, "p"] == (1 + (null >= key).sum()) / 7
        assert summary.loc[where, "draws"] == 6


def test_the_neuron_directions_of_a_frequency_hold_the_neuron_methods_share():
    """Each frequency's directions are orthonormal, and a neuron's activation projected on them holds
    exactly the share the neuron method (``fourier.neuron_fourier_shares``) gives that frequency."""
    params = random_params(SMALL, 3)
    with torch.no_grad():
        _, cache = Transformer(SMALL, params).run_with_cache(TOKENS)
    acts = cache["blocks.0.mlp.hook_post"][:, -1].double()
    shares, centred_ss, _ = neuron_fourier_shares(acts, SMALL.p)
    every = ablation.neuron_directions(SMALL.p, range(1, SMALL.p // 2 + 1))
    assert torch.allclose(every @ every.T, torch.eye(len(every), dtype=torch.float64), atol=1e-12)
    for k in range(1, SMALL.p // 2 + 1):
        u = ablation.neuron_directions(SMALL.p, [k])
        assert len(u) == 8
        held = (u @ acts).square().sum(0) / centred_ss
        alive = ~torch.isnan(shares[k - 1])
        assert torch.allclose(held[alive], shares[k - 1][alive], atol=1e-10)


@pytest.mark.parametrize("call, message", [
    (lambda: ablation.key_frequency_ablation(random_params(SMALL), SMALL, "subtract", [0], n_draws=2, seed=0),
     r"key_freqs must be distinct frequencies in 1\.\.5"),
    (lambda: ablation.key_frequency_ablation(random_params(SMALL), SMALL, "subtract", [1, 2, 3], n_draws=2, seed=0),
     "key_freqs: 3 key frequencies leave only 2 others"),
    (lambda: ablation.key_frequency_ablation(random_params(SMALL), SMALL, "subtract", [1], n_draws=0, seed=0),
     "n_draws must be an integer >= 1"),
    (lambda: ablation.operand_reading(ablation.head_importance(random_params(SMALL), SMALL, "subtract"), 1.5),
     "threshold must be a share"),
    (lambda: ablation.sign_flip_table(random_params(SMALL), SMALL, [1], reference={}), "reference: checkpoint is missing"),
])
def test_bad_ablation_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_head_importance_is_mean_ablation_of_the_heads_output_at_equals():
    params = random_params(SMALL, 5)
    table = ablation.head_importance(params, SMALL, "subtract")
    model = Transformer(SMALL, params)
    for h in range(SMALL.n_heads):
        def mean_ablate(_module, _inputs, z, h=h):  # z: (batch, head, position, d_head)
            z = z.clone()
            z[:, h, -1] = z[:, h, -1].mean(0)
            return z

        handle = model.blocks[0].attn.hook_z.register_forward_hook(mean_ablate)
        with torch.no_grad():
            expected = _loss(model(TOKENS)[:, -1])
        handle.remove()
        row = table.iloc[h]
        assert row["loss"] == pytest.approx(expected, rel=1e-5)
        assert row["loss increase"] == pytest.approx(expected - _loss(model(TOKENS)[:, -1].detach()), abs=1e-5)
        assert row["attn_a"] + row["attn_b"] + row["attn_eq"] == pytest.approx(1.0)


# --- the sign flip on a toy whose answer is known ------------------------------------------------

TOY = ModelConfig(p=11, d_model=32, n_heads=2, d_head=8, d_mlp=24)


def _toy_reader():
    """A toy "addition-like" model whose head 0 reads a and head 1 reads b (attention one-hot to
    within e^-35) through the same OV map, so both operands reach the neurons alike: the tokens live
    in dimensions 0..15, positions a, b, "=" are marked by dimensions 16, 17, 18, each head's query
    and key pick the markers, and head 1's W_V and W_O are head 0's."""
    params = random_params(TOY, 7)
    params["embed.W_E"][16:] = 0
    params["pos_embed.W_pos"] = torch.zeros(3, 32)
    params["pos_embed.W_pos"][[0, 1, 2], [16, 17, 18]] = 1.0
    params["blocks.0.attn.W_Q"] = torch.zeros(2, 8, 32)
    params["blocks.0.attn.W_K"] = torch.zeros(2, 8, 32)
    for head, marker in ((0, 16), (1, 17)):
        params["blocks.0.attn.W_Q"][head, 0, 18] = 100.0
        params["blocks.0.attn.W_K"][head, 0, marker] = 1.0
    params["blocks.0.attn.W_V"][1] = params["blocks.0.attn.W_V"][0]
    params["blocks.0.attn.W_O"][:, 8:] = params["blocks.0.attn.W_O"][:, :8]
    return params


def _b_head_relabels(params, relabel):
    """``params`` with head 1's values reading token relabel(t) where they read t: W_V of head 1
    composed with the map G that sends the embedding of t to that of relabel(t) and fixes the rest."""
    p = TOY.p
    tokens = params["embed.W_E"][:, :p].double()
    moved = params["embed.W_E"][:, [relabel(t) % p for t in range(p)]].double()
    pinv = torch.linalg.pinv(tokens)
    G = moved @ pinv + (torch.eye(32, dtype=torch.float64) - tokens @ pinv)
    out = {k: v.clone() for k, v in params.items()}
    out["blocks.0.attn.W_V"][1] = (params["blocks.0.attn.W_V"][1].double() @ G).float()
    return out


def test_the_toy_reads_one_operand_per_head_and_its_flip_computes_the_source_on_minus_b():
    source = _toy_reader()
    flipped = _b_head_relabels(source, lambda t: -t)
    heads = ablation.head_importance(flipped, TOY, "subtract")
    reading = ablation.operand_reading(heads, 0.9)
    assert reading == {"reads": {0: "a", 1: "b"}, "every_head_one_operand": True, "both_operands_read": True}
    p = TOY.p
    pairs = data.all_pairs(p)
    minus_b = pairs.copy()
    minus_b[:, 1] = (-pairs[:, 1]) % p
    with torch.no_grad():
        mine = Transformer(TOY, flipped)(data.tokens(pairs, p))[:, -1]
        theirs = Transformer(TOY, source)(data.tokens(minus_b, p))[:, -1]
    assert torch.allclose(mine, theirs, atol=1e-4)  # an addition source would so compute a - b


def _rows(table):
    return {(int(r["freq"]), r["comparison"]): r for _, r in table.iterrows()}


def test_the_sign_flip_statistic_finds_the_flip_on_b_and_nothing_else():
    source = _toy_reader()
    freqs = [1, 2, 3, 4, 5]
    flipped = ablation.sign_flip_table(_b_head_relabels(source, lambda t: -t), TOY, freqs, reference=source)
    expected = {"b vs a": (1, -1, -1), "a vs source": (1, 1, 1), "b vs source": (1, -1, -1)}  # cos, sin, orientation
    assert len(flipped) == 5 * 3
    for (k, comparison), row in _rows(flipped).items():
        cos, sin, orientation = expected[comparison]
        assert row["cos_similarity_cos"] == pytest.approx(cos, abs=1e-6), (k, comparison)
        assert row["cos_similarity_sin"] == pytest.approx(sin, abs=1e-6), (k, comparison)
        assert row["orientation"] == orientation and row["fit"] == pytest.approx(1.0, abs=1e-9)
    for comparison, reflected in {"b vs a": True, "a vs source": False, "b vs source": True}.items():
        part = flipped[flipped["comparison"] == comparison]
        coherent, other = ("coherence_reflected", "coherence_same") if reflected else ("coherence_same",
                                                                                        "coherence_reflected")
        assert part[coherent].min() == pytest.approx(1.0, abs=1e-9) and part[other].max() < 0.99, comparison
    summary = ablation.sign_flip_summary(flipped)
    assert summary["b vs a"]["reflected"] == 1.0 and summary["a vs source"]["reflected"] == 0.0
    assert summary["b vs source"]["n_freqs"] == 5
    # The source itself: its operands reach the neurons alike.
    same = ablation.sign_flip_table(source, TOY, freqs)
    assert list(same["comparison"].unique()) == ["b vs a"]
    assert (same["orientation"] == 1).all() and same["cos_similarity_sin"].min() == pytest.approx(1.0)
    assert same["coherence_same"].min() == pytest.approx(1.0) and same["phase_gap"].max() == pytest.approx(0, abs=1e-4)
    assert flipped[flipped["comparison"] == "b vs a"]["phase_gap"].min() > 20  # a reflection spreads the phases
    # A shift b -> b + 2 rotates b's (cos, sin) plane: no reflection, still an exact fit.
    shifted = ablation.sign_flip_summary(ablation.sign_flip_table(_b_head_relabels(source, lambda t: t + 2), TOY, freqs,
                                                                  reference=source))
    assert shifted["b vs a"]["reflected"] == 0.0 and shifted["b vs a"]["fit"] == pytest.approx(1.0)
    assert shifted["b vs a"]["coherence_same"] == pytest.approx(1.0)  # one common phase shift
    assert not math.isnan(shifted["b vs source"]["fit"])
