"""Tests for grokpaper.paper.circuits (per-model circuit tables) and its figures, on small synthetic
models."""

import matplotlib

matplotlib.use("Agg")

import math  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from grokpaper.core.model import PARAM_NAMES  # noqa: E402
from grokpaper.core.study import CONDITIONS  # noqa: E402
from grokpaper.paper import circuits, plots  # noqa: E402
from grokpaper.paper.retention import StudyModel  # noqa: E402
from small_models import SMALL, random_params

MIN = 2


def synthetic_models(seeds=(1, 2)):
    """Per seed: the eight model kinds; the grokked transfer is a copy of the grokked source, so
    its overlap with the source must be perfect."""
    models = []
    for seed in seeds:
        init = random_params(seed=seed)
        source = random_params(seed=100 + seed)
        models += [StudyModel(seed, "grokked_source", "source", "add", source, init),
                   StudyModel(seed, "memorized_source", "source", "add", random_params(seed=200 + seed), init),
                   StudyModel(seed, "memorized-fixed_source", "source", "add", random_params(seed=500 + seed), init),
                   StudyModel(seed, "random_init", "init", "subtract", init, None),
                   StudyModel(seed, "grokked", "transfer", "subtract", {k: v.clone() for k, v in source.items()}, source),
                   StudyModel(seed, "memorized", "transfer", "subtract", random_params(seed=300 + seed), source),
                   StudyModel(seed, "memorized-fixed", "transfer", "subtract", random_params(seed=600 + seed), source),
                   StudyModel(seed, "random", "transfer", "subtract", random_params(seed=400 + seed), init)]
    return models


@pytest.fixture(scope="module")
def analysed():
    models = synthetic_models()
    analyses = circuits.analyse_models(models, SMALL, MIN)
    neuron, document = circuits.circuit_tables(analyses, MIN)
    return models, analyses, neuron, document


def test_circuit_tables_one_row_per_model_and_overlap_with_the_source(analysed):
    models, _, neuron, document = analysed
    for table, units in ((neuron, SMALL.d_mlp), (document, SMALL.d_model)):
        assert len(table) == len(models)
        assert (table["units"] == units).all()
        assert (table["alive"] + table["dead"] == units).all()
        src = table[table["model"] == "grokked_source"]
        assert src["jaccard"].isna().all() and src["shared with source"].isna().all()
        copy = table[table["model"] == "grokked"]
        assert (copy["jaccard"] == 1.0).all() and np.allclose(copy["weighted overlap"], 1.0)
        others = table[table["model"] != "grokked_source"]
        assert others["jaccard"].between(0, 1).all() and others["weighted overlap"].between(0, 1).all()
        assert (table["distinct freqs >= min"] <= table["distinct freqs"]).all()
        assert table["top freq"].dropna().between(1, SMALL.p // 2).all()
        assert str(table["top freq"].dtype) == "Int64"


def test_key_freqs_column_lists_the_frequencies_with_min_neurons(analysed):
    _, analyses, neuron, _ = analysed
    for a, (_, row) in zip(analyses, neuron.iterrows()):
        assert row["key freqs"] == " ".join(map(str, a.neuron.frequencies(MIN)))
        assert row["mean frac"] == pytest.approx(a.neuron.summary["mean_frac_explained"])


def test_summaries_and_method_comparison(analysed):
    _, _, neuron, document = analysed
    summary = circuits.summary_by_model(neuron, ["mean frac", "jaccard"], confidence=0.95, n_boot=100)
    assert set(summary["model"]) == set(circuits.MODEL_ORDER)
    assert "grokked_source" not in set(summary.loc[summary["quantity"] == "jaccard", "model"])
    assert (summary["n"] == 2).all()
    comparison = circuits.method_comparison(neuron, document)
    row = comparison[(comparison["quantity"] == "mean fraction explained / specialization")
                     & (comparison["model"] == "random")].iloc[0]
    assert row["neuron method"] == pytest.approx(neuron.loc[neuron["model"] == "random", "mean frac"].mean())
    assert row["document's method"] == pytest.approx(document.loc[document["model"] == "random", "mean frac"].mean())


def test_pooled_counts_add_up_to_alive_neurons(analysed):
    _, analyses, _, _ = analysed
    counts = circuits.pooled(analyses, "freq_counts")
    fractions = circuits.pooled(analyses, "fractions")
    alive = {m: sum(a.neuron.n_alive for a in analyses if a.model.model == m) for m in counts}
    assert {m: sum(c.values()) for m, c in counts.items()} == alive
    assert {m: len(v) for m, v in fractions.items()} == alive
    one = circuits.pooled(analyses, "freq_counts", seed=1)
    assert sum(one["grokked"].values()) == circuits.alive_neurons(analyses, 1)["grokked"]
    with pytest.raises(ValueError, match="what"):
        circuits.pooled(analyses, "bad")


def test_weight_change_is_zero_for_unchanged_weights_and_nan_relative_for_zero_init():
    init = random_params(seed=0)
    models = [StudyModel(1, "grokked", "transfer", "subtract", {k: v.clone() for k, v in init.items()}, init),
              StudyModel(1, "random", "transfer", "subtract", random_params(seed=5), init),
              StudyModel(1, "random_init", "init", "subtract", init, None)]
    table = circuits.weight_change_table(models)
    assert set(table["model"]) == {"grokked", "random"}       # no init, no row
    assert len(table) == 2 * len(PARAM_NAMES)
    assert (table.loc[table["model"] == "grokked", "change_norm"] == 0).all()
    bias = table[(table["model"] == "random") & (table["param"] == "blocks.0.mlp.b_in")]
    assert bias["relative_change"].isna().all()
    summary = circuits.weight_change_summary(table, ["grokked", "random"])
    assert list(summary["param"]) == list(PARAM_NAMES)
    with pytest.raises(ValueError, match="initial weights"):
        circuits.weight_change_table(models[2:])


def test_attention_table_rows_sum_to_one(analysed):
    models, _, _, _ = analysed
    table = circuits.attention_table(models, SMALL)
    assert len(table) == len(models) * SMALL.n_heads
    assert list(pd.unique(table["seed"])) == [1, 2]
    np.testing.assert_allclose(table[["a", "b", "="]].sum(axis=1), 1.0, rtol=1e-5)
    assert (table["weight"] == table[["a", "b", "="]].max(axis=1)).all()
    assert len(circuits.attention_table(models, SMALL, seeds=1)) == len(models) // 2 * SMALL.n_heads
    with pytest.raises(ValueError, match="no model of seed"):
        circuits.attention_table(models, SMALL, seeds=[1, 99])


def attention_rows(weights_by_model):
    """A hand-built attention table: {model: [(seed, a, b, =), ...]}, heads numbered per seed; every
    input gives a head its mean weights (per-input sd 0), except that a head's weight on a varies
    by 0.1 across inputs (sd a 0.1; its smallest weight on its own position is 0.05 below the mean)."""
    rows = []
    for model, heads in weights_by_model.items():
        for i, (seed, a, b, eq) in enumerate(heads):
            rows.append({"seed": seed, "model": model, "head": i % 2, "a": a, "b": b, "=": eq,
                         "sd a": 0.1, "sd b": 0.0, "sd =": 0.0, "min weight": max(a, b, eq) - 0.05})
    table = pd.DataFrame(rows)
    table["most attended"] = table[["a", "b", "="]].idxmax(axis=1)
    table["weight"] = table[["a", "b", "="]].max(axis=1)
    return table


def test_attention_summary_counts_focused_heads():
    focus = circuits.FOCUSED_ATTENTION
    table = attention_rows({
        "grokked": [(1, 0.98, 0.01, 0.01), (1, 0.02, 0.97, 0.01), (2, focus, 0.05, 0.05), (2, 0.5, 0.49, 0.01)],
        "random": [(1, 0.02, 0.03, 0.95), (1, 0.4, 0.3, 0.3)],
    })
    summary = circuits.attention_summary(table).set_index("model")
    assert list(summary.index) == ["grokked", "random"]          # MODEL_ORDER, absent kinds left out
    g = summary.loc["grokked"]
    assert (g["seeds"], g["heads"], g["on a"], g["on b"], g["on ="], g["spread"]) == (2, 4, 2, 1, 0, 1)
    assert g["mean a"] == pytest.approx((0.98 + 0.02 + focus + 0.5) / 4)
    # for every input: the 0.98 and 0.97 heads (not the one at the threshold, whose inputs dip below it)
    assert g["on one operand for every input"] == 2 and g["smallest min weight"] == pytest.approx(0.45)
    assert g["sd a, lowest"] == g["sd a, highest"] == pytest.approx(0.1)
    r = summary.loc["random"]
    assert (r["on ="], r["spread"]) == (1, 1)
    with pytest.raises(ValueError, match="columns"):
        circuits.attention_summary(table.drop(columns=["weight"]))
    with pytest.raises(ValueError, match="none of the models"):
        circuits.attention_summary(table, models=["memorized"])


def test_attention_summary_and_views_of_synthetic_models(analysed):
    models, _, _, _ = analysed
    table = circuits.attention_table(models, SMALL)
    summary = circuits.attention_summary(table)
    assert list(summary["model"]) == list(circuits.MODEL_ORDER)
    assert (summary["heads"] == 2 * SMALL.n_heads).all() and (summary["seeds"] == 2).all()
    assert (summary[["on a", "on b", "on =", "spread"]].sum(axis=1) == summary["heads"]).all()
    means = table.groupby("model")[["a", "b", "="]].mean()
    for _, row in summary.iterrows():
        assert row["mean ="] == pytest.approx(means.loc[row["model"], "="])
    wide = circuits.attention_by_head(table)
    assert len(wide) == len(models) and list(wide.columns) == ["seed", "model", "head 0", "head 1"]
    assert list(wide["model"][:8]) == list(circuits.MODEL_ORDER)
    a, b, eq = table.iloc[0][["a", "b", "="]]
    assert wide.loc[0, "head 0"] == f"{a:.2f} / {b:.2f} / {eq:.2f}"
    _labelled(plots.attention_panels(table, circuits.MODEL_ORDER, focus_threshold=circuits.FOCUSED_ATTENTION))
    with pytest.raises(ValueError, match="none of the models"):
        plots.attention_panels(table, models=["nothing"])


# --- frequency reuse against chance ---------------------------------------------------------------

N_CANDIDATES = 10


def key_table(sets_by_model):
    """A neuron table holding only what frequency reuse reads: {model: {seed: key frequencies}}."""
    rows = [{"seed": seed, "model": model, "key freqs": " ".join(map(str, sorted(keys)))}
            for model, by_seed in sets_by_model.items() for seed, keys in by_seed.items()]
    return pd.DataFrame(rows)


SOURCE_SETS = {1: {1, 2, 3}, 2: {4, 5}, 3: {6, 7, 8, 9}}


def test_frequency_reuse_of_a_copy_and_of_disjoint_sets():
    table = key_table({"grokked_source": SOURCE_SETS, "grokked": SOURCE_SETS,
                       "random": {1: {9, 10}, 2: {1}, 3: set()}})
    copy = circuits.frequency_reuse(table, "grokked", n_candidates=N_CANDIDATES)
    assert copy["observed"] == 9 and copy["expected"] == pytest.approx((9 + 4 + 16) / N_CANDIDATES)
    # The total is at its maximum only if every seed's random set is the source's set itself.
    assert copy["p"] == pytest.approx(1 / (math.comb(10, 3) * math.comb(10, 2) * math.comb(10, 4)))
    assert [row["p"] for row in copy["seeds"]] == pytest.approx([1 / math.comb(10, k) for k in (3, 2, 4)])
    assert copy["summary"] == {"model": "grokked", "reference": "grokked_source", "seeds": 3, "key freqs": 9,
                               "shared": 9, "expected shared": copy["expected"], "p": copy["p"]}
    disjoint = circuits.frequency_reuse(table, "random", n_candidates=N_CANDIDATES)
    assert disjoint["observed"] == 0 and disjoint["p"] == pytest.approx(1.0)
    assert [row["size"] for row in disjoint["seeds"]] == [2, 1, 0]


def test_seed_matching_own_seed_best_and_all_equal():
    table = key_table({"grokked_source": SOURCE_SETS, "grokked": SOURCE_SETS,
                       "random_init": {seed: {1, 5, 9} for seed in SOURCE_SETS}})
    own = circuits.seed_matching(table, "grokked")
    assert own["p"] == pytest.approx(1 / 6) == own["min_p"] and own["n_permutations"] == 6
    assert own["shared"] == [[3, 0, 0], [0, 2, 0], [0, 0, 4]] and own["own_mean"] == 3.0 and own["cross_mean"] == 0.0
    same = circuits.seed_matching(table, "random_init")  # one set for every seed: no seed is special
    assert same["p"] == 1.0
    compared_with_init = circuits.seed_matching(table, "grokked", reference="random_init")
    assert compared_with_init["p"] == 1.0  # the reference sets are all equal


def test_frequency_reuse_table_and_json_copy_of_the_table():
    sets = {"grokked_source": SOURCE_SETS, "grokked": SOURCE_SETS, "memorized": {1: {1, 4}, 2: {5}, 3: {6}}}
    table = key_table(sets)
    by_model = circuits.frequency_reuse_by_model(table, N_CANDIDATES)
    assert list(by_model) == ["grokked", "memorized"]              # MODEL_ORDER, the reference left out
    reuse = circuits.frequency_reuse_table(by_model)
    assert list(reuse.columns) == ["model", "reference", "seeds", "key freqs", "observed shared", "expected shared",
                                   "p (hypergeometric)", "own-seed mean shared", "cross-seed mean shared",
                                   "permutation p", "smallest permutation p"]
    row = reuse.set_index("model").loc["memorized"]
    assert row["observed shared"] == 3 and row["key freqs"] == 4
    assert row["smallest permutation p"] == pytest.approx(1 / 6)
    # results/05-circuits.json stores the table as a dict of lists; an empty key set as "" or None.
    as_json = table.to_dict(orient="list")
    as_json["key freqs"] = [None if keys == "6" else keys for keys in as_json["key freqs"]]
    again = circuits.frequency_reuse_by_model(as_json, N_CANDIDATES, models=["memorized"])
    assert again["memorized"]["observed"] == 2
    one_seed = circuits.frequency_reuse_table(circuits.frequency_reuse_by_model(table[table["seed"] == 1], N_CANDIDATES))
    assert one_seed["permutation p"].isna().all()                  # one seed: nothing to permute


@pytest.mark.parametrize("call, message", [
    (lambda t: circuits.frequency_reuse(t, "nothing", n_candidates=N_CANDIDATES), "model 'nothing' is not in"),
    (lambda t: circuits.frequency_reuse(t, "grokked_source", n_candidates=N_CANDIDATES), "must differ"),
    (lambda t: circuits.frequency_reuse(t, "grokked", n_candidates=8), r"\[9\] lie outside the candidates 1\.\.8"),
    (lambda t: circuits.frequency_reuse(t, "grokked", n_candidates=0), "n_candidates must be an integer >= 1"),
    (lambda t: circuits.frequency_reuse(t, "late", n_candidates=N_CANDIDATES), "no seed has both"),
    (lambda t: circuits.seed_matching(t[t["seed"] == 1], "grokked"), "at least 2 seeds"),
    (lambda t: circuits.frequency_reuse(t.drop(columns=["key freqs"]), "grokked", n_candidates=N_CANDIDATES),
     "lacks the columns"),
])
def test_frequency_reuse_rejects_bad_input(call, message):
    table = key_table({"grokked_source": SOURCE_SETS, "grokked": SOURCE_SETS, "late": {7: {1}}})
    with pytest.raises(ValueError, match=message):
        call(table)


def test_attention_caption_states_the_threshold():
    chapter = (Path(__file__).resolve().parents[1] / "chapters" / "05-circuits.py").read_text()
    caption = next(line for line in chapter.splitlines()
                   if line.startswith("#| tbl-cap:") and "spread" in line)
    assert f"at least {circuits.FOCUSED_ATTENTION}" in caption


def test_circuit_numbers_keys(analysed):
    models, _, neuron, document = analysed
    weights = circuits.weight_change_table([m for m in models if m.role == "transfer"])
    attention = circuits.attention_table(models, SMALL)
    params = {"p": SMALL.p, "min_neuron_count": MIN, "seeds": [1, 2], "confidence": 0.95, "n_bootstrap": 100}
    numbers = circuits.circuit_numbers(neuron, document, weights, attention, params, CONDITIONS)
    for method in (numbers.neuron, numbers.document):
        assert method.mean_frac["grokked"].n == 2
        assert "grokked_source" not in method.jaccard_with_source
        assert set(method.top_freq["random"]) == {1, 2}
        assert len(method.mean_frac_tests) == math.comb(len(CONDITIONS), 2)
    assert numbers.d_mlp == SMALL.d_mlp and numbers.d_model == SMALL.d_model
    assert numbers.weight_change["grokked"].relative["embed.W_E"] == 0.0
    assert set(numbers.attention["random"]) == {1, 2} and set(numbers.attention["random"][2]) == {0, 1}
    summary = numbers.attention_summary["random"]
    assert summary.on_one_operand == summary.on_a + summary.on_b <= summary.heads
    assert summary.on_one_operand_every_input <= summary.on_one_operand
    assert 0 <= summary.sd_a_lowest <= summary.sd_a_highest <= 0.5 and 0 <= summary.smallest_min_weight <= 1
    assert numbers.attention_focus_threshold == circuits.FOCUSED_ATTENTION
    reuse = numbers.frequency_reuse
    assert list(reuse) == [m for m in circuits.MODEL_ORDER if m != "grokked_source"]
    assert reuse["grokked"].n_candidates == SMALL.p // 2
    assert reuse["grokked"].observed == sum(map(len, numbers.neuron.key_freqs["grokked"].values()))
    assert reuse["memorized"].seed_matching.min_p == 0.5


def _labelled(fig, shared_x=False):
    """Every panel has a y label and an x label (stacked panels sharing x: the bottom one)."""
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>" and ax.get_visible()]
    assert axes and all(ax.get_ylabel().strip() for ax in axes)
    assert all(ax.get_xlabel().strip() for ax in (axes[-1:] if shared_x else axes))


def test_circuit_figures_build_headless(analysed):
    models, analyses, _, _ = analysed
    _labelled(plots.frequency_panels(circuits.pooled(analyses, "freq_counts", seed=1), SMALL.p // 2,
                                     alive=circuits.alive_neurons(analyses, 1)))
    _labelled(plots.fraction_panels(circuits.pooled(analyses, "fractions")))
    weights = circuits.weight_change_table([m for m in models if m.role == "transfer"])
    _labelled(plots.weight_change_bars(weights, CONDITIONS), shared_x=True)
    with pytest.raises(ValueError, match="outside"):
        plots.frequency_panels({"grokked": {99: 3}}, SMALL.p // 2)
    with pytest.raises(ValueError, match="no values"):
        plots.fraction_panels({"grokked": [np.nan]})
    with pytest.raises(ValueError, match="none of the models"):
        plots.weight_change_bars(weights, ["nothing"])
