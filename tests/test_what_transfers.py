"""Chapter 12's logic (grokpaper.paper.what_transfers): speed-ups paired by seed, the models the causal
tests measure, their tables and summaries, and the chapter's numbers against the contract."""

import math
from dataclasses import dataclass, field

import pandas as pd
import pytest

from grokpaper.analysis import stats
from grokpaper.core.study import CONTROLS
from grokpaper.paper import contract
from grokpaper.paper import what_transfers as wt
from grokpaper.paper.contract import FIRST, epochs_column
from grokpaper.paper.report import Results
from small_models import SMALL, random_params

TOP = epochs_column(FIRST, 0.999)


def _table(rows):
    return pd.DataFrame([{"seed": s, "condition": c, TOP: e} for s, c, e in rows])


def test_speedups_are_the_paired_log_ratios_of_the_main_comparison():
    table = _table([(1, "random", 20000.0), (2, "random", None), (3, "random", 18000.0),
                    (1, "permuted", 10000.0), (2, "permuted", 5000.0), (3, "permuted", None),
                    (1, "grokked", 500.0), (2, "grokked", 400.0), (3, "grokked", 450.0)])
    found = wt.speedups(table, 0.999, 30000, ["grokked", "permuted"], confidence=0.9)
    expected = stats.paired_log_ratio([20000.0, None, 18000.0], [500.0, 400.0, 450.0], labels=[1, 2, 3], cap=30000,
                                      confidence=0.9)
    grokked = found["grokked"]
    assert grokked.geometric_mean == pytest.approx(expected["geometric_mean"])
    assert (grokked.ci_low, grokked.ci_high, grokked.p) == pytest.approx((expected["ci_low"], expected["ci_high"],
                                                                          expected["p"]))
    assert grokked.per_seed == {1: 40.0, 2: 75.0, 3: 40.0} and grokked.per_seed_bound == {1: None, 2: ">=", 3: None}
    assert grokked.bound == "lower" and grokked.reference == "random"  # random never got there for seed 2
    permuted = found["permuted"]
    assert permuted.per_seed_bound == {1: None, 2: ">=", 3: "<="} and permuted.bound == "mixed"
    points, summary = wt.speedup_points(found)
    assert len(points) == 6 and list(summary["condition"]) == ["grokked", "permuted"]
    shown = wt.speedup_display(found).set_index("condition")
    assert shown.loc["permuted", "per seed"] == "1: 2; 2: ≥6; 3: ≤0.6"
    with pytest.raises(ValueError, match="table lacks the columns"):
        wt.speedups(table.drop(columns=[TOP]), 0.999, 30000, ["grokked"], confidence=0.9)


@dataclass
class FakeRun:
    seed: int
    condition: str
    weights: dict = field(default_factory=dict)
    snapshots: tuple = ()

    @property
    def result(self):
        return {"snapshots": {name: {} for name in self.snapshots}}

    def params(self, which="final"):
        return self.weights[which]


def _weights(seed):
    return {"final": random_params(SMALL, seed), "first_top": random_params(SMALL, seed + 100)}


def test_the_causal_models_are_the_sources_the_transfers_and_the_controls_at_both_points():
    sources = {1: FakeRun(1, "source", _weights(1))}
    transfers = [FakeRun(1, "grokked", _weights(2)), FakeRun(1, "random", _weights(3))]
    matched = [FakeRun(1, "grokked", _weights(4), snapshots=("first_top",))]
    controls = [FakeRun(1, "permuted", _weights(5), snapshots=("first_top",)), FakeRun(1, "norm-matched", _weights(6))]
    models = wt.causal_models(sources, transfers, controls, matched, "add", "subtract")
    assert [(m.condition, m.point, m.task) for m in models] == [
        (wt.SOURCE, "end", "add"), ("grokked", "end", "subtract"), ("random", "end", "subtract"),
        ("grokked", "matched", "subtract"), ("permuted", "matched", "subtract"), ("permuted", "end", "subtract"),
        ("norm-matched", "end", "subtract")]  # norm-matched never got to the top threshold: no matched point
    assert models[4].params is controls[0].weights["first_top"]


def test_causal_tables_summaries_and_the_chapters_numbers():
    sources = {1: FakeRun(1, "source", _weights(1)), 2: FakeRun(2, "source", _weights(2))}
    transfers = [FakeRun(s, c, _weights(10 * s + i)) for s in (1, 2) for i, c in enumerate(("grokked", "random"))]
    controls = [FakeRun(s, "frozen-embeddings", _weights(30 + s), snapshots=("first_top",)) for s in (1, 2)]
    models = wt.causal_models(sources, transfers, controls, [], "add", "subtract")
    key_freqs = {1: [1, 2], 2: []}  # seed 2's source has no key frequency: no ablation, no sign flip
    causal = wt.causal_tables(models, sources, key_freqs, SMALL, n_draws=4, focus_threshold=0.9)
    ablation = causal["ablation"]
    assert set(ablation["seed"]) == {1} and len(ablation) == 2 * 5  # 5 models of seed 1, two places each
    assert len(causal["draws"]) == 5 * 2 * (2 + 4)
    assert len(causal["heads"]) == 10 * SMALL.n_heads
    flips = causal["sign_flip"]
    assert set(flips[flips["condition"] == wt.SOURCE]["comparison"]) == {"b vs a"}
    assert set(flips[flips["condition"] == "grokked"]["comparison"]) == {"b vs a", "a vs source", "b vs source"}
    by_model = wt.sign_flip_by_model(flips, causal["heads"])
    assert len(by_model) == 5 and math.isnan(by_model.set_index("condition").loc[wt.SOURCE, "source_b fit"])
    effects = wt.ablation_effects(ablation)
    assert set(effects) == {wt.SOURCE, "grokked", "random", "frozen-embeddings"}
    assert set(effects["frozen-embeddings"]) == {"matched", "end"}
    assert effects["grokked"]["end"]["neurons"].n_models == 1
    assert list(wt.ablation_display(ablation)["condition"])[:2] == [wt.SOURCE, wt.SOURCE]
    heads = wt.head_summaries(causal["heads"])
    assert heads["random"]["end"].n_models == 2
    params = {"p": SMALL.p, "seeds": [1, 2], "transfer_max_epochs": 100, "confidence": 0.95,
              "thresholds": [0.9, 0.999], "ablation_draws": 4, "probe_min_neurons": 2}
    table = _table([(s, c, 50.0) for s in (1, 2) for c in ("random", "grokked", *CONTROLS)])
    found = wt.speedups(table, 0.999, 100, ["grokked", *CONTROLS], confidence=0.95)
    numbers = wt.what_transfers_numbers(table, found, causal, by_model, key_freqs, params, focus_threshold=0.9)
    loaded = Results.of(numbers).what_transfers  # saved plain and parsed back against the contract
    assert loaded.sign_flip["grokked"]["end"].n_models == 1 and loaded.key_freqs == {1: [1, 2], 2: []}
    assert loaded.speedups["permuted"].per_seed == {1: 1.0, 2: 1.0}
    assert contract.CONTRACT["12-what-transfers"] is contract.WhatTransfers


# --- the values and guards of the article's section ---------------------------------------------------

def _numbers(speedup=(12.0, 6.0, 30.0), beyond=5, same=0.7, flipped=0.1, sin=0.6, one_operand=5):
    nan = float("nan")
    estimate, low, high = speedup
    effect = {"n_models": 5, "intact_loss": 1e-5, "key_loss": 69.9, "random_loss": 2e-5, "intact_accuracy": 1.0,
              "key_accuracy": 0.01, "random_accuracy": 1.0, "n_beyond_every_draw": beyond, "max_p": 0.02}
    flip = {"n_models": 5, "within_cos": 0.6, "within_sin": sin, "within_reflected": 0.0, "within_fit": 0.5,
            "within_same": same, "within_flipped": flipped, **{f"source_{x}_{m}": nan for x in "ab"
                                                               for m in ("cos", "sin", "reflected", "fit", "same",
                                                                         "flipped", "gap")},
            "within_gap": 20.0,
            "n_every_head_one_operand": one_operand, "n_both_operands_read": 5}
    speed = {"condition": "permuted", "reference": "random", "n_pairs": 5, "geometric_mean": estimate,
             "ci_low": low, "ci_high": high, "t": 3.0, "df": 4, "p": 0.01, "p_wilcoxon": 0.06, "bound": None,
             "note": "", "per_seed": {1: estimate}, "per_seed_bound": {1: None}}
    return contract.typed(contract.WhatTransfers, {
        "p": 113, "n_seeds": 5, "cap": 30000, "confidence": 0.95, "top_threshold": 0.999, "reference": "random",
        "controls": list(CONTROLS), "ablation_draws": 50, "key_freq_min_neurons": 5,
        "attention_focus_threshold": 0.9, "key_freqs": {1: [3, 5]}, "speedups": {"permuted": speed},
        "ablation": {"grokked": {"end": {"embedding": effect}}}, "sign_flip": {"grokked": {"end": flip}},
        "heads": {}, "epochs_table": {}, "ablation_table": {}, "sign_flip_table": {}, "head_table": {}})


class _Build:
    """A build with chapter 12's numbers and one test of the family (``values.control_test`` reads
    every control's test from it): what the section's values and guards read."""

    def __init__(self, numbers, estimate=12.0, ci=(6.0, 30.0), p_holm=0.004, bound=None):
        self.what_transfers = Results.of(numbers).what_transfers
        nan = float("nan")
        row = contract.FamilyTest("first 99.9%: random vs permuted", "controls", "first 99.9%", "random", "permuted",
                                  "ratio", estimate, ci[0], ci[1], 5, 1.0, bound, p_holm / 44, nan, "",
                                  "paired t on log ratios", nan, nan, p_holm, 0.95, nan, nan, "d")
        self.asked = []

        def test(quantity, a, b=None, without_nonconverged=False):
            self.asked.append((quantity, a, b))
            return row
        self.statistics = type("Statistics", (), {"test": staticmethod(test), "family_size": 44})()

    def params(self, kind):
        return {"thresholds": [0.9, 0.999]}


def test_the_sections_values_and_guards_pass_on_agreeing_data_and_raise_on_contradicting_data():
    from grokpaper.paper import guard, values
    from grokpaper.paper.guard import SentenceContradicted

    R = _Build(_numbers())
    assert values.control_ratio(R, "permuted") == "12.0× (95 % CI 6.0–30.0; Holm-corrected p = 0.0040)"
    assert R.asked[-1] == ("first 99.9%", "random", "permuted")
    values.control_ratio(R, "permuted", against="grokked")
    assert R.asked[-1] == ("first 99.9%", "grokked", "permuted")
    assert values.control_ratio(_Build(_numbers(), bound="upper", ci=(float("nan"),) * 2, p_holm=0.6),
                                "permuted") == "≤ 12.0× (Holm-corrected p = 0.60)"
    assert values.ablation_effect(R, "grokked", "embedding") == ("loss 69.900 (random frequencies: 0.0000; 5 of 5 "
                                                                 "seeds beyond every draw)")
    assert values.phases(R, "grokked") == "same phase 0.70, flipped phase 0.10"
    assert values.heads_on_one_operand(R, "grokked") == "5 of 5"
    guard.control_faster(R, "permuted")
    guard.control_not_faster(_Build(_numbers(), p_holm=0.2), "permuted")
    guard.control_not_faster(_Build(_numbers(), estimate=0.7, ci=(0.3, 1.5), p_holm=0.001), "permuted")
    guard.key_frequencies_needed(R, "grokked", "embedding")
    guard.key_frequencies_not_needed(Results.of(_numbers(beyond=2)), "grokked", "embedding")
    guard.control_not_different(_Build(_numbers(), p_holm=0.5), "permuted", "grokked")
    guard.control_below_one(_Build(_numbers(), estimate=0.7, bound="upper"), "permuted")
    guard.operands_not_reflected(R, "grokked")
    guard.heads_read_one_operand(R, "grokked")
    for call, numbers in [
        (lambda: guard.control_not_faster(R, "permuted"), r"random / permuted = 12\.0×"),
        (lambda: guard.control_faster(_Build(_numbers(), p_holm=0.07), "permuted"), r"p = 0\.07"),
        (lambda: guard.control_faster(_Build(_numbers(), ci=(0.5, 8.0)), "permuted"), "0.5–8.0"),
        (lambda: guard.operands_reflected(R, "grokked"), "same phase 0.70, flipped phase 0.10"),
        (lambda: guard.key_frequencies_needed(Results.of(_numbers(beyond=3)), "grokked", "embedding"), "3 of 5"),
        (lambda: guard.key_frequencies_needed(R, "grokked", "neurons"), "no ablation"),
        (lambda: guard.key_frequencies_not_needed(Results.of(_numbers(beyond=3)), "grokked", "embedding"), "3 of 5"),
        (lambda: guard.control_below_one(_Build(_numbers(), estimate=0.9, bound="lower"), "permuted"), "≥ 0.9×"),
        (lambda: guard.control_below_one(R, "permuted"), r"12\.0×"),
        (lambda: guard.control_not_different(_Build(_numbers(), estimate=0.2, ci=(0.1, 0.4), p_holm=0.01),
                                             "permuted", "grokked"), r"grokked / permuted = 0\.2×"),
        (lambda: guard.operands_not_reflected(Results.of(_numbers(same=0.1, flipped=0.9)), "grokked"), "flipped"),
        (lambda: guard.heads_read_one_operand(Results.of(_numbers(one_operand=4)), "grokked"), "4 of 5"),
    ]:
        with pytest.raises(SentenceContradicted, match=numbers):
            call()
    guard.operands_reflected(Results.of(_numbers(same=0.1, flipped=0.9, sin=-0.8)), "grokked")


def test_the_sensitivity_without_nonconverged_runs_says_which_side_of_alpha_the_holm_p_falls():
    from grokpaper.paper import values

    for p_holm, words in [(0.054, "p = 0.054 without the run that never converged, not below 0.05"),
                          (0.03, "p = 0.030 without the run that never converged, still below 0.05")]:
        R = _Build(_numbers(), p_holm=p_holm)
        R.statistics.nonconverged = ["random seed 314"]
        assert values.nonconverged_sensitivity(R, "grokked") == words
    R.statistics.nonconverged = ["random seed 314", "random seed 7"]
    assert values.nonconverged_sensitivity(R, "grokked").endswith("without the runs that never converged, still below 0.05")
