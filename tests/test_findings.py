"""The article's findings: the values its sentences state (grokpaper.paper.values) and the guards
that fail when the data contradict a sentence (grokpaper.paper.guard)."""

import dataclasses

import pytest

from grokpaper.paper import guard, values
from grokpaper.paper.guard import Guards, SentenceContradicted
from grokpaper.paper.report import Results
from typed_results import study

# ----------------------------------------------------------------------------- values

def test_a_speedup_is_stated_with_its_interval_and_as_a_bound_when_a_run_is_censored():
    assert values.ratio(study(censored=False), "grokked") == "30.0× (95 % CI 15.0–60.0)"
    assert values.ratio(study(censored=True), "grokked") == "≥ 30.0× (95 % CI 15.0–60.0)"
    assert values.holm_p(study(p_holm=0.0004), "grokked") == "p < 0.001"
    assert values.holm_p(study(p_holm=0.0097), "grokked") == "p = 0.0097"
    assert values.restricted_mean(study(), "random") == "≥ 21,846" and values.restricted_mean(study(), "grokked") == "764"


def test_the_censored_runs_are_named_with_where_they_ended():
    R = study(censored=True)
    assert values.censored(R) == "1 of 5 random runs" and values.n_censored(R) == 1
    assert values.censored_ends(R) == "random seed 314: train accuracy 100.0 %, test accuracy 0.6 %"
    assert values.n_censored(study(censored=False)) == 0


def test_retention_values():
    R = study(retained=3)
    assert values.retained(R, "grokked") == "3.0 per run on average (at most 3)"
    assert values.coincident_pairs(R) == "70–74" and values.coincident_shares(R) == "0.78 %–0.86 %"


def test_circuit_and_correlation_values():
    R = study()
    assert values.reuse(R, "grokked") == "20 of 20 (2.2 expected by chance, Holm-corrected p < 0.001)"
    assert values.reuse_by_condition(R).startswith("grokked: 20 of 20") and "; random: 5 of 20" in values.reuse_by_condition(R)
    assert values.rho(R) == "-0.90 (95 % CI -1.00 to -0.80)"
    assert values.within_rhos(R) == "grokked -0.30, memorized -0.30, memorized-fixed -0.30 and random -0.30"
    assert values.within_text(study(within_p=0.44)) == (
        "mean within-condition rho -0.40, Holm-corrected p = 0.44 (uncorrected p = 0.044)")
    assert values.attention_every_input(R, "grokked") == "20 of 20 heads" and values.attention_lowest(R, "grokked") == "0.95"
    assert values.attention_sd(R, "grokked_source") == "0.05–0.25"
    assert values.relative_change(R, "grokked") == "0.6–1.6×"           # biases and undefined entries left out
    assert values.shared(R, "grokked") == "20 of 20"


def test_the_censored_run_after_its_loss_peak_and_the_runs_after_convergence():
    R = study()
    assert values.censored_progress(R) == ("random seed 314: test loss 34.1 → 25.8 and test accuracy 0.07 % → 0.60 % "
                                           "from epoch 2,000 (its highest test loss) to 30,000")
    assert values.after_convergence(R, "grokked") == "29,000–29,000"
    assert values.after_convergence(R, "random") == "29,000–29,000"       # the censored run left out
    assert "107,791 epochs" in values.original_source(R)


def test_the_tests_that_change_significance_without_the_nonconverged_runs_are_named():
    text = values.significance_flips(study(p_holm=0.2))   # speed-ups: Holm p 0.2 with the run, 0.03 without
    assert text.startswith("3 tests change significance: first 99.9%: random vs grokked (Holm p 0.20 with it, 0.030 without); ")
    assert values.significance_flips(study(p_holm=0.001)).startswith("2 tests change significance: first 99.9%: random vs memorized ")
    assert values.nonconverged(study()) == "random seed 314 (never reached 99.9%)"
    assert values.nonconverged(study(), why=False) == "random seed 314"


@pytest.mark.parametrize("n, wilcoxon, mann_whitney", [(3, "0.25", "0.10"), (5, "0.062", "0.0079")])
def test_the_rank_test_floors_follow_the_number_of_seeds(n, wilcoxon, mann_whitney):
    R = study(n_seeds=n)
    assert (values.wilcoxon_floor(R), values.mann_whitney_floor(R)) == (wilcoxon, mann_whitney)
    assert values.mann_whitney_floor_after_holm(study(n_seeds=5)) == "0.24"   # 0.0079 x 30 tests


def test_the_audit_values_read_the_claims_and_their_paper_section():
    R = study()
    assert values.claims_in(R, "transfer") == "4 claims, of which 3 contradicted by the data and 1 inconsistent within the document"
    assert values.claims_in(R, "agreement") == "none"
    assert values.verdicts(R) == "3 contradicted by the data and 1 inconsistent within the document"
    assert values.family_parts(R) == ("18 comparisons of pairs of conditions, 2 correlation tests and "
                                      "10 frequency-reuse tests")
    assert values.claimed(R, "speedup-grokked") == "4.8x"
    assert values.jumps(R).startswith("5,545 (grokked: a jump of 30.0 %), 6,292")


def test_the_abstract_is_a_metadata_block():
    block = values.yaml_block("abstract", "Grokked runs were faster: ≥ 30.0×.")
    assert block == "---\nabstract: 'Grokked runs were faster: ≥ 30.0×.'\n---\n"


# ----------------------------------------------------------------------------- guards: agreeing data pass

def test_every_guard_of_the_paper_passes_on_data_that_say_what_it_says():
    R = study()
    guard.faster(R, "grokked")
    guard.faster(R, "memorized", significant=False)
    guard.not_significantly_faster(R, "memorized")
    guard.some_censored(R)
    guard.headline_epochs_are_jumps(R)
    guard.nothing_retained(R, "grokked", "memorized", "memorized-fixed")
    guard.reuses(R, "grokked")
    guard.does_not_reuse(R, "random")
    guard.subset_of_source(R, "grokked")
    guard.pooled_significant_within_not(R)
    guard.all_within_negative(R)
    guard.paired_rank_test_cannot_reach(R)
    guard.unpaired_rank_test_only_before_correction(R)
    guard.some_nonconverged(R)
    guard.attention_rewritten(R, "grokked")
    guard.censored_still_improving(R)
    guard.still_significant_without_nonconverged(R, "grokked")
    with_matching = study(random_matching_p=0.125)
    guard.own_seed_ahead(with_matching, "random")
    guard.not_closer_to_own_seed(with_matching, "random")


# ----------------------------------------------------------------------------- guards: contradicting data raise

def test_faster_raises_with_the_numbers_when_grokked_is_not_faster():
    with pytest.raises(SentenceContradicted, match=r"'grokked initialisation reached 99.9% sooner than random, "
                                                   r"significantly': random / grokked = ≥ 0.8×.*grokked 764 vs random ≥ 21,846"):
        guard.faster(study(ratio=0.8), "grokked")


def test_faster_significantly_needs_the_holm_p_but_faster_alone_does_not():
    with pytest.raises(SentenceContradicted, match=r"Holm-corrected p = 0.20 over 30 tests.*needs Holm p below 0.05"):
        guard.faster(study(p_holm=0.2), "grokked")
    guard.faster(study(p_holm=0.2), "grokked", significant=False)
    with pytest.raises(SentenceContradicted, match="not significantly faster"):
        guard.not_significantly_faster(study(p_holm=0.001), "grokked")


def test_retention_reuse_and_subset_guards_raise_on_contradicting_data():
    with pytest.raises(SentenceContradicted, match="grokked: at most 3 per run"):
        guard.nothing_retained(study(retained=3), "grokked")
    with pytest.raises(SentenceContradicted, match=r"grokked shares more.*Holm-corrected p = 0.20"):
        guard.reuses(study(reuse_p=0.2), "grokked")
    with pytest.raises(SentenceContradicted, match="shares no more"):
        guard.does_not_reuse(study(), "grokked")
    with pytest.raises(SentenceContradicted, match="seed 42: 3 of 4"):
        guard.subset_of_source(study(subset=False), "grokked")


def test_statistics_guards_raise_on_contradicting_data():
    with pytest.raises(SentenceContradicted, match="mean within-condition rho -0.40, Holm-corrected p = 0.01"):
        guard.pooled_significant_within_not(study(within_p=0.01))
    with pytest.raises(SentenceContradicted, match="with 7 seeds the signed-rank test reaches p = 0.016"):
        guard.paired_rank_test_cannot_reach(study(n_seeds=7))
    with pytest.raises(SentenceContradicted, match="smallest p 0.10, after Holm over 30 tests 1.0"):
        guard.unpaired_rank_test_only_before_correction(study(n_seeds=3))   # 0.1: not even before the correction
    R = study()
    test = "first 99.9%: random vs grokked"
    without = {**R.statistics.family_without_nonconverged,
               test: dataclasses.replace(R.statistics.family_without_nonconverged[test], p_holm=0.061)}
    lost = Results.of(R.transfer, dataclasses.replace(R.statistics, family_without_nonconverged=without),
                      params=R.params("02-transfer"))
    with pytest.raises(SentenceContradicted, match="Holm-corrected p without them 0.061"):
        guard.still_significant_without_nonconverged(lost, "grokked")
    with pytest.raises(SentenceContradicted, match="every transfer run reached it"):
        guard.some_censored(study(censored=False))
    with pytest.raises(SentenceContradicted, match="every run reached"):
        guard.some_nonconverged(study(censored=False))


def test_the_headline_epochs_guard_names_a_claim_that_is_not_a_jump():
    R = study()
    transfer = R.transfer
    jumps = {**transfer.original_comparison.seed42_largest_jumps,
             "random": dataclasses.replace(transfer.original_comparison.seed42_largest_jumps["random"], epoch=13525)}
    moved = dataclasses.replace(transfer, original_comparison=dataclasses.replace(
        transfer.original_comparison, seed42_largest_jumps=jumps))
    with pytest.raises(SentenceContradicted, match="random: claimed 26,442, largest jump at epoch 13,525"):
        guard.headline_epochs_are_jumps(Results.of(moved, R.audit, params=R.params("02-transfer")))


# ----------------------------------------------------------------------------- the article's guards

def test_a_strict_build_fails_on_a_contradicted_sentence_a_lenient_one_marks_it():
    assert Guards(study(), strict=True).faster("grokked") == ""
    with pytest.raises(SentenceContradicted, match="sooner than random"):
        Guards(study(ratio=0.8), strict=True).faster("grokked")
    lenient = Guards(study(ratio=0.8), strict=False)
    mark = lenient.faster("grokked")
    assert mark.startswith(" **[contradicted by this build: 'grokked initialisation") and mark.endswith("]**")
    assert lenient.nothing_retained("grokked") == "" and len(lenient.contradicted) == 1
    with pytest.raises(AttributeError, match="no guard 'quicker'"):
        lenient.quicker("grokked")



def test_circuit_guards_raise_on_contradicting_data():
    with pytest.raises(SentenceContradicted, match="grokked: 12 of 20 heads"):
        guard.attention_rewritten(study(rewritten=False), "grokked")
    with pytest.raises(SentenceContradicted, match="test loss 34.1 → 40.0"):
        guard.censored_still_improving(study(still_improving=False))
    with pytest.raises(SentenceContradicted, match="the own-seed mean above"):
        guard.own_seed_ahead(study(random_matching_p=0.125, own_ahead=False), "random")
    with pytest.raises(SentenceContradicted, match="Holm-corrected p = 0.01"):
        guard.not_closer_to_own_seed(study(random_matching_p=0.01), "random")
    assert values.road_holm(study(random_matching_p=0.125), "random") == "p = 0.12"


# ----------------------------------------------------------------------------- inside the transfer (chapter 10)


def _with_end_frequency(R, frequency: int):
    """The committed chapter 10 with one more key frequency at the end of the grokked transfer of
    seed 7 (one it did not have at the matched point), the rest of the build as committed."""
    from grokpaper.paper import contract

    circuits = R.inside.circuits["grokked"]
    keys = {**circuits.key_freqs, "end": {**circuits.key_freqs["end"], 7: [*circuits.key_freqs["end"][7], frequency]}}
    inside = dataclasses.replace(R.inside, circuits={**R.inside.circuits,
                                                     "grokked": dataclasses.replace(circuits, key_freqs=keys)})
    return Results.of(inside, params=R.params(contract.Inside))


def test_the_inside_guards_hold_on_the_committed_build_and_fail_on_contradicting_numbers():
    from committed import COMMITTED as R
    from grokpaper.paper import inside_values

    qk = ("blocks.0.attn.W_Q", "blocks.0.attn.W_K")
    small = ("embed.W_E", "pos_embed.W_pos", "blocks.0.attn.W_V", "blocks.0.attn.W_O", "unembed.W_U")
    guard.outputs_forget(R, "grokked")
    guard.frozen_readout_lost(R, "grokked")
    guard.readout_kept(R, "grokked")
    guard.readout_gained(R, "memorized")
    guard.readout_above(R, "grokked", "memorized", "memorized-fixed")
    guard.snapshot_in_phase(R, "fixed", "circuit formation")
    guard.no_head_focused_at_start(R, "grokked")
    guard.most_heads_focused_at_end(R, "grokked")
    guard.moved_more(R, "grokked", qk, small)
    guard.end_within_matched(R, "grokked")
    guard.circuit_measure_rose(R, "grokked")
    guard.extension_still_faster(R, "grokked")
    assert inside_values.reruns_equal(R) == f"0 differing values in each of the {len(R.inside.rerun_check['run'])} reruns"
    assert inside_values.extension_ratio(R, "grokked", False).startswith("≥ ")
    assert not inside_values.extension_ratio(R, "grokked", True).startswith("≥ ")
    # the headline test's p replaced by the extended one, Holm run again over the same family
    assert inside_values.extension_holm(R, "grokked") >= inside_values.extension_row(R, "grokked", True)["p"]
    assert inside_values.in_seeds(5, 5) == "in each of the 5 seeds" and inside_values.in_seeds(4, 5) == "in 4 of 5 seeds"
    assert inside_values.moved(R, "grokked", "embed.W_E").startswith("W_E 0.")
    assert inside_values.half_epochs(R, "grokked").startswith("epoch ")
    for call, numbers in [
        (lambda: guard.readout_gained(R, "grokked"), "per-seed change"),   # it fell a little
        (lambda: guard.readout_above(R, "memorized", "grokked"), "0 of 5 seeds"),
        (lambda: guard.snapshot_in_phase(R, "memorized", "circuit formation"), "memorization"),
        (lambda: guard.no_head_focused_at_start(R, "memorized"), "5 of 20 did"),
        (lambda: guard.moved_more(R, "grokked", small, qk), "smallest of the first"),
        (lambda: guard.outputs_forget(R, "memorized"), "runs fell below half"),
        (lambda: guard.readout_kept(R, "memorized-fixed"), "had no start above 0"),
        (lambda: guard.end_within_matched(_with_end_frequency(R, 99), "grokked"), "4 of 5 seeds"),
    ]:
        with pytest.raises(SentenceContradicted, match=numbers):
            call()
    with pytest.raises(ValueError, match="snapshot must be one of"):
        guard.snapshot_in_phase(R, "grokked", "cleanup")
