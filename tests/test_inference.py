"""The family of tests the paper reports (grokpaper.paper.inference) and the per-run evidence it reads
(grokpaper.paper.evidence): paired by seed, censored runs kept, Holm over the whole family."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from grokpaper.analysis import stats
from grokpaper.paper import inference
from grokpaper.paper.evidence import RunId
from synthetic_study import CAP, study


def test_pairs_put_the_later_condition_first_so_ratios_are_speedups():
    assert inference.pairs(("grokked", "memorized", "random")) == [
        ("memorized", "grokked"), ("random", "grokked"), ("random", "memorized")]


def test_the_paired_ratio_is_the_geometric_mean_of_per_seed_ratios():
    ev = study(random_314=19_000)
    r = inference.paired_ratio(ev, "first 99.9%", "random", "grokked")
    random, grokked = [21810, 17170, 17800, 19000, 22450], [1980, 480, 430, 380, 550]
    logs = np.log(np.array(random) / np.array(grokked))
    assert r["geometric_mean"] == pytest.approx(math.exp(logs.mean()))
    assert r["p"] == pytest.approx(sps.ttest_1samp(logs, 0).pvalue)
    assert r["bound"] is None


def test_a_censored_numerator_enters_at_the_cap_as_a_lower_bound():
    r = inference.paired_ratio(study(random_314=None), "first 99.9%", "random", "grokked")
    assert r["bound"] == "lower" and r["n_pairs"] == 5
    assert any(p["ratio"] == pytest.approx(CAP / 380) for p in r["pairs"])


def test_holm_runs_over_the_whole_family():
    family = inference.family(study(random_314=19_000))
    assert set(family["group"]) == {"pairwise", "retention", "correlation", "frequency"}
    defined = family["p"].notna()
    assert np.allclose(family.loc[defined, "p_holm"], stats.holm(family.loc[defined, "p"]))
    assert inference.family_size(family) == int(defined.sum())
    ids = list(family["test"])
    assert len(ids) == len(set(ids)) and "first 99.9%: random vs grokked" in ids
    # a sensitivity column is corrected over the same family, test for test
    welch = family.dropna(subset=["p_welch_log"])
    assert (welch["p_welch_log_holm"] >= welch["p_welch_log"] - 1e-12).all()


def test_paired_differences_of_accuracies():
    r = inference.paired_difference(study(random_314=19_000), "transfers", "test acc at 100", "grokked", "random")
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
