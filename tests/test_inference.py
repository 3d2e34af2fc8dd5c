"""The family of tests the paper reports (grokpaper.paper.inference) and the per-run evidence it reads
(grokpaper.paper.evidence): paired by seed, censored runs kept, Holm over the whole family."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from committed import COMMITTED
from grokpaper.analysis import stats
from grokpaper.core.study import CONDITIONS, CONTROLS
from grokpaper.paper import inference
from grokpaper.paper.contract import FIRST, SUSTAINED
from grokpaper.paper.evidence import Evidence, RunId
from synthetic_study import CAP, study, with_controls, with_relearning


def test_pairs_put_the_later_condition_first_so_ratios_are_speedups():
    assert inference.pairs(("grokked", "memorized", "random")) == [
        ("memorized", "grokked"), ("random", "grokked"), ("random", "memorized")]


def test_the_paired_ratio_is_the_geometric_mean_of_per_seed_ratios():
    ev = study(random_314=19_000)
    r = inference.paired_ratio(ev, "first 99.9%", "random", "grokked", 0.95)
    random, grokked = [21810, 17170, 17800, 19000, 22450], [1980, 480, 430, 380, 550]
    logs = np.log(np.array(random) / np.array(grokked))
    assert r["geometric_mean"] == pytest.approx(math.exp(logs.mean()))
    assert r["p"] == pytest.approx(sps.ttest_1samp(logs, 0).pvalue)
    assert r["bound"] is None


def test_a_censored_numerator_enters_at_the_cap_as_a_lower_bound():
    r = inference.paired_ratio(study(random_314=None), "first 99.9%", "random", "grokked", 0.95)
    assert r["bound"] == "lower" and r["n_pairs"] == 5
    assert any(p["ratio"] == pytest.approx(CAP / 380) for p in r["pairs"])


def test_holm_runs_over_the_whole_family():
    family = inference.family(study(random_314=19_000), 0.95)
    assert set(family["group"]) == {"pairwise", "correlation", "frequency"}
    defined = family["p"].notna()
    assert np.allclose(family.loc[defined, "p_holm"], stats.holm(family.loc[defined, "p"]))
    assert inference.family_size(family) == int(defined.sum())
    ids = list(family["test"])
    assert len(ids) == len(set(ids)) and "first 99.9%: random vs grokked" in ids
    # a sensitivity column is corrected over the same family, test for test
    welch = family.dropna(subset=["p_welch_log"])
    assert (welch["p_welch_log_holm"] >= welch["p_welch_log"] - 1e-12).all()


def test_paired_differences_of_accuracies():
    r = inference.paired_difference(study(random_314=19_000), "transfers", "test acc at 100", "grokked", "random",
                                    0.95)
    assert r["n"] == 5 and r["mean"] > 0 and r["ci_low"] < r["mean"] < r["ci_high"] and r["p"] < 0.05


def test_nonconverged_runs_and_evidence_without_them():
    ev = study(random_314=None)
    dropped = ev.nonconverged()
    assert [(r.condition, r.seed) for r in dropped] == [("random", 314)] and "0.6 %" in dropped[0].why
    without = ev.without(dropped)
    assert len(without.transfers) == len(ev.transfers) - 1
    assert not ((without.retention["model"] == "random") & (without.retention["seed"] == 314)).any()
    assert without.excluded == dropped
    assert ev.without(()) is ev


def test_a_chapter_without_results_is_named():
    ev = study()
    with pytest.raises(KeyError, match="04-agreement"):
        ev.table("agreement")
    with pytest.raises(ValueError, match="table must be one of"):
        ev.table("nonsense")


def test_run_ids_read_as_prose():
    assert str(RunId("random", 314)) == "random seed 314"


# ----------------------------------------------------------------------------- one test per question

def _repeated(family) -> list[list[str]]:
    return [list(rows["test"]) for _, rows in family.groupby("data") if len(rows) > 1]


def test_the_committed_family_has_no_two_tests_on_the_same_data():
    family = inference.family(Evidence.from_results(COMMITTED), COMMITTED.statistics.confidence)
    assert _repeated(family) == []
    assert not family["quantity"].str.contains("addition accuracy|sustained").any()   # fixed by construction; secondary


def test_the_same_data_check_catches_first_and_sustained_tests_of_one_question():
    # In the synthetic runs first and sustained epochs coincide, as they do for most runs of the build:
    # putting both in one family tests the same data twice, and the check must say so.
    both = inference.pairwise(study(random_314=19_000), confidence=0.95, kinds=(FIRST, SUSTAINED))
    assert ["first 99.9%: random vs grokked", "sustained 99.9%: random vs grokked"] in _repeated(both)


def test_secondary_results_stay_outside_the_correction():
    ev = study(random_314=19_000)
    family, secondary = inference.family(ev, 0.95), inference.secondary(ev, 0.95)
    assert not set(family["test"]) & set(secondary["test"])
    assert secondary["p_holm"].isna().all() and secondary["p"].notna().any()
    assert {"sustained 99.9%: random vs grokked", "test acc at 100 vs first 99.9%: grokked"} <= set(secondary["test"])


def test_the_within_condition_relation_is_one_stratified_test():
    family = inference.family(study(random_314=19_000), 0.95)
    rows = family[family["group"] == "correlation"]
    assert list(rows["a"]) == ["all runs", inference.WITHIN]


# ----------------------------------------------------------------------------- stratified permutation test

def test_a_relation_only_between_strata_is_not_a_relation_within_them():
    # Two strata far apart: pooled, x and y rise together; within each, they are unrelated.
    rng = np.random.default_rng(1)
    x = np.r_[rng.normal(0, 1, 8), rng.normal(10, 1, 8)]
    y = np.r_[rng.normal(0, 1, 8), rng.normal(10, 1, 8)]
    strata = ["a"] * 8 + ["b"] * 8
    assert stats.spearman(list(x), list(y))["p"] < 0.01
    r = stats.stratified_permutation_spearman(x, y, strata, n_permutations=4000)
    assert r["p"] > 0.05 and r["strata"] == ["a", "b"]


def test_a_relation_within_every_stratum_is_found():
    x = np.r_[np.arange(6), np.arange(6) + 100]
    y = np.r_[-np.arange(6), 50 - np.arange(6)]
    r = stats.stratified_permutation_spearman(x, y, ["a"] * 6 + ["b"] * 6, n_permutations=4000)
    assert r["statistic"] == pytest.approx(-1.0) and r["p"] < 0.01
    assert r["rho_by_stratum"] == {"a": pytest.approx(-1.0), "b": pytest.approx(-1.0)}


def test_the_permutation_p_is_seeded_and_exact_for_one_stratum():
    x, y = [1, 2, 3, 4], [2, 1, 4, 3]
    a = stats.stratified_permutation_spearman(x, y, ["s"] * 4, n_permutations=20_000, seed=3)
    assert a == stats.stratified_permutation_spearman(x, y, ["s"] * 4, n_permutations=20_000, seed=3)
    # all 24 orders of x: |rho| >= 0.6 for 10 of them
    assert a["p"] == pytest.approx(10 / 24, abs=0.015)
    with pytest.raises(ValueError, match="same length"):
        stats.stratified_permutation_spearman([1, 2], [1], ["s", "s"], n_permutations=10)


def test_secondary_results_of_a_build_where_no_run_converged_are_empty_not_an_error():
    ev = study(random_314=None)
    nobody = ev.without(tuple(RunId(c, s) for c, s in zip(ev.transfers["condition"], ev.transfers["seed"])))
    assert len(inference.secondary(nobody, 0.95)) == 0 and "p_holm" in inference.secondary(nobody, 0.95)


def test_the_relearning_questions_join_the_family_and_its_correction():
    ev = with_relearning(study(random_314=19_000))
    family = inference.family(ev, 0.95)
    relearn = family[family["group"] == "relearning"].set_index("test")
    assert list(relearn.index) == [f"relearning 95%: {c} vs first learning" for c in CONDITIONS] + [
        f"relearning 95%: {c} vs grokked" for c in CONDITIONS if c != "grokked"]
    # random seed 99 never relearned by the cap (5,000): entered there, its ratio against grokked a lower bound
    row = relearn.loc["relearning 95%: random vs grokked"]
    assert row["bound"] == "lower" and row["estimate"] > 1 and row["n"] == 5
    defined = family["p"].notna()
    assert np.allclose(family.loc[defined, "p_holm"], stats.holm(family.loc[defined, "p"]))
    assert inference.family_size(family) == inference.family_size(inference.family(study(random_314=19_000), 0.95)) + 7
    # without a run, its relearning row goes too
    dropped = ev.without([RunId("random", 99)])
    assert 99 not in set(dropped.relearning.loc[dropped.relearning["condition"] == "random", "seed"])


def test_the_controls_join_the_family_against_random_init_and_the_embedding_transplants_against_grokked():
    ev = with_controls(study(random_314=None))
    family = inference.family(ev, 0.95)
    controls = family[family["group"] == "controls"].set_index("test")
    assert list(controls.index) == [f"first 99.9%: random vs {c}" for c in CONTROLS] + [
        "first 99.9%: grokked vs embeddings-only", "first 99.9%: grokked vs frozen-embeddings"]
    assert inference.family_size(family) == inference.family_size(inference.family(study(random_314=None), 0.95)) + 7
    defined = family["p"].notna()
    assert np.allclose(family.loc[defined, "p_holm"], stats.holm(family.loc[defined, "p"]))
    # the same numbers as the paired log ratio by hand: random / embeddings-only, seed 314's random censored
    by_hand = stats.paired_log_ratio([21810, 17170, 17800, None, 22450], [170, 1380, 140, 200, 160],
                                     labels=[42, 7, 99, 314, 123], cap=CAP, confidence=0.95)
    row = controls.loc["first 99.9%: random vs embeddings-only"]
    assert row["estimate"] == pytest.approx(by_hand["geometric_mean"]) and row["p"] == pytest.approx(by_hand["p"])
    assert row["bound"] == "lower" and row["n"] == 5
    # all but the embeddings never got there: censored on the control's side, the ratio is an upper bound
    assert controls.loc["first 99.9%: random vs all-but-embeddings", "bound"] in ("upper", "mixed")
    # each of chapter 12's tests compares data of its own
    others = set(family.loc[family["group"] != "controls", "data"])
    assert controls["data"].is_unique and not set(controls["data"]) & others
    # without the run that never converged, its chapter 12 row goes too
    dropped = ev.without([RunId("random", 314)])
    assert 314 not in set(dropped.controls.loc[dropped.controls["condition"] == "random", "seed"])
    assert inference.family(dropped, 0.95).set_index("test").loc["first 99.9%: random vs embeddings-only", "n"] == 4
