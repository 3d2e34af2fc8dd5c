"""The values of the article's sections on the document's future experiments (chapters 13-16):
each reads its test from chapters 13-16's family by the name the chapters give it, and says the
p corrected within that family."""

import dataclasses

import pandas as pd
import pytest

from grokpaper.paper import contract, task_guards
from grokpaper.paper import task_tokens as tt
from grokpaper.paper import task_values as tv
from grokpaper.paper.guard import SentenceContradicted
from typed_results import blank


def results(**family_rows):
    """A build whose chapter 16 holds ``family_rows`` ({test: (estimate, low, high, p_holm, bound)})
    and whose chapters 13-14 hold one retention row each."""
    family = {test: dataclasses.replace(blank(contract.TaskFamilyTest), test=test, estimate=e, ci_low=lo, ci_high=hi,
                                        p=p_holm, p_holm=p_holm, bound=bound, n=5,
                                        effect="overlap difference" if test == tt.MULTITASK_HYPOTHESIS_TEST else
                                        "difference" if "gain" in test or "hypothesis" in test else "ratio")
              for test, (e, lo, hi, p_holm, bound) in family_rows.items()}
    similarity = dataclasses.replace(blank(contract.Similarity), confidence=0.95, task_family=family)
    kept = dataclasses.replace(blank(contract.TaskRetention), start_mean=1.0, end_mean=0.009, end_ci_low=0.001,
                               end_ci_high=0.017, answered={42: 8939, 7: 8939}, kept={42: 0.01, 7: 0.008}, kept_mean=0.009)
    none = dataclasses.replace(kept, answered={}, kept={}, kept_mean=None)
    task_tokens = dataclasses.replace(blank(contract.TaskTokens), confidence=0.95,
                                      retention={"grokked": kept, "random": none})
    return type("R", (), {"similarity": similarity, "task_tokens": task_tokens, "replay": task_tokens,
                          "has": lambda self, kind: True})()


def test_a_ratio_of_the_family_says_its_bound_interval_and_corrected_p():
    R = results(**{tt.sequential_speedup_test("grokked"): (9.82, 4.1, 23.5, 0.012, "lower"),
                   tt.sequential_speedup_test("random"): (None, None, None, None, None)})
    assert tv.speedup_over_random(R, "grokked") == "≥ 9.8× (95 % CI 4.1–23.5; Holm-corrected p = 0.012, 5 seeds)"
    assert tv.speedup_over_random(R, "random") == "undefined (in no seed did either run reach it by the cap)"
    # censored runs on both sides: no sign, and the sentence says it is neither a bound nor unbiased
    R.similarity.task_family[tt.sequential_speedup_test("grokked")] = dataclasses.replace(
        R.similarity.task_family[tt.sequential_speedup_test("grokked")], bound="mixed")
    assert tv.speedup_over_random(R, "grokked") == ("9.8× (95 % CI 4.1–23.5; Holm-corrected p = 0.012, 5 seeds; censored "
                                                    "runs on both sides, so neither a bound nor an unbiased estimate)")
    with pytest.raises(KeyError, match="no test '13 sequential speed-up: random vs memorized' in chapters 13-16"):
        tv.speedup_over_random(R, "memorized")


def test_a_difference_of_shares_is_said_in_points():
    R = results(**{tt.replay_gain_test("grokked"): (0.123, 0.02, 0.226, 0.04, None)})
    assert tv.difference(R, tt.replay_gain_test("grokked")) == \
        "+12.3 points (95 % CI 2.0–22.6; Holm-corrected p = 0.040, 5 seeds)"


def test_addition_at_its_own_token_and_what_the_source_knew():
    R = results()
    assert tv.addition_at_end(R, "grokked") == \
        "0.9 % (95 % CI 0.1–1.7) of addition's test pairs at the end, from 100.0 % at the start"
    assert tv.kept_of_answered(R, "grokked") == \
        "0.9 % of the test pairs their sources answered (8,939 per seed, mean over 2 seeds)"
    assert tv.kept_of_answered(R, "random").startswith("nothing to keep")
    with pytest.raises(ValueError, match="experiment must be 'sequential'"):
        tv.addition_at_end(R, "grokked", "multitask")


def test_the_wrong_kind_of_test_is_refused_and_a_negative_interval_reads_to():
    R = results(**{tt.replay_gain_test("memorized-fixed"): (-0.03, -0.05, -0.01, 0.2, None),
                   tt.MULTITASK_HYPOTHESIS_TEST: (0.6, 0.4, 0.8, 0.01, None),
                   tt.sequential_speedup_test("grokked"): (9.8, 4.1, 23.5, 0.012, None)})
    assert "95 % CI -5.0 to -1.0" in tv.difference(R, tt.replay_gain_test("memorized-fixed"))
    with pytest.raises(ValueError, match="not a difference of shares"):
        tv.difference(R, tt.MULTITASK_HYPOTHESIS_TEST)        # an overlap, not a share: no "points"
    with pytest.raises(ValueError, match="not a ratio of epochs"):
        tv.ratio(R, tt.replay_gain_test("memorized-fixed"))


def test_the_loss_floor_of_replay_without_a_task_token_and_the_audits_verdicts():
    R = results()
    floor = dataclasses.replace(blank(contract.IllPosed), loss_floor=0.3512, lowest_train_loss=0.3608, epochs=3000,
                                final_train_loss=0.3608, n_inputs_with_two_labels=424)
    R.replay = dataclasses.replace(blank(contract.Replay), ill_posed=floor)
    assert tv.loss_floor(R) == "0.351 nats, and after 3,000 epochs its run's loss was 0.361"
    assert tv.two_labels(R) == "424"
    R.replay = dataclasses.replace(R.replay, ill_posed=None)
    assert tv.loss_floor(R) == "n/a (no run)" and tv.two_labels(R) == "n/a (no run)"
    row = dataclasses.replace(blank(contract.AuditRow), id="future-replay", verdict="not established")
    R.similarity = dataclasses.replace(R.similarity, future_audit={"future-replay": row})
    assert tv.future_verdict(R, "future-replay") == "not established"


def test_the_sensitivity_to_correcting_both_families_at_once_names_the_tests_that_flip():
    R = results(**{tt.sequential_speedup_test("grokked"): (9.8, 4.1, 23.5, 0.012, None),
                   tt.TOGETHER_TEST: (1.1, 0.9, 1.3, 0.4, None)})
    over_both = {tt.sequential_speedup_test("grokked"): 0.09, tt.TOGETHER_TEST: 1.0}
    R.similarity = dataclasses.replace(R.similarity, task_family={
        k: dataclasses.replace(t, p_holm_over_both=over_both[k]) for k, t in R.similarity.task_family.items()})
    said = tv.flips_over_both(R)
    assert said.startswith("1 test would change significance at 0.05") and "p = 0.012 → p = 0.090" in said
    assert "among them" not in said   # no future-work hypothesis flips
    claim = dataclasses.replace(blank(contract.AuditRow), claim="Hypothesis: Shared circuits.")
    R = results(**{tt.MULTITASK_HYPOTHESIS_TEST: (0.44, 0.27, 0.6, 0.015, None)})
    R.similarity.task_family[tt.MULTITASK_HYPOTHESIS_TEST] = dataclasses.replace(
        R.similarity.task_family[tt.MULTITASK_HYPOTHESIS_TEST], p_holm_over_both=0.07)
    R.similarity = dataclasses.replace(R.similarity, future_audit={"future-multitask": claim})
    assert tv.flips_over_both(R).endswith('; among them the test of "Shared circuits"')
    R.similarity = dataclasses.replace(R.similarity, task_family={
        k: dataclasses.replace(t, p_holm_over_both=t.p_holm) for k, t in R.similarity.task_family.items()})
    assert tv.flips_over_both(R) == "no test changes significance at 0.05"


def speed_up(mean, low, high, p, bound=None, n=5):
    return dataclasses.replace(blank(contract.SpeedUp), geometric_mean=mean, ci_low=low, ci_high=high, p=p,
                               bound=bound, n_pairs=n)


def test_a_chapters_own_tests_say_they_are_before_correction():
    R = results()
    R.task_tokens = dataclasses.replace(R.task_tokens, speedups={
        "grokked": speed_up(9.82, 4.1, 23.5, 0.012, "lower"), "memorized": speed_up(None, None, None, None, n=0)})
    R.has = lambda kind: kind is not contract.Similarity    # chapter 16 not in the build
    assert tv.speedup_over_random(R, "grokked") == "≥ 9.8× (95 % CI 4.1–23.5; p = 0.012 before correction, 5 seeds)"
    assert tv.speedup_over_random(R, "memorized").startswith("undefined")
    h = dataclasses.replace(blank(contract.HypothesisVerdict), estimate=0.617, ci_low=0.402, ci_high=0.85, p=0.003,
                            n=5, verdict="supported")
    R.multitask = dataclasses.replace(blank(contract.Multitask), confidence=0.95, hypothesis=h,
                                      together=speed_up(1.05, 0.91, 1.21, 0.4))
    assert tv.hypothesis_before_correction(R, "multitask") == \
        "+0.62 (95 % CI +0.40 to +0.85; p = 0.0030 before correction, 5 seeds)"
    assert tv.together_ratio(R) == "1.05× (95 % CI 0.91–1.21; p = 0.40 before correction, 5 seeds)"
    R.multitask = dataclasses.replace(R.multitask, hypothesis=dataclasses.replace(h, estimate=None, reason="no seed"))
    assert tv.hypothesis_before_correction(R, "multitask") == "undefined (no seed)"
    with pytest.raises(ValueError, match="chapter must be"):
        tv.hypothesis_before_correction(R, "task_tokens")


def test_the_chapters_not_in_the_build_are_named_and_the_p_values_said_uncorrected_without_chapter_16():
    from grokpaper.paper.report import Results
    R = Results.of(blank(contract.TaskTokens), blank(contract.Multitask))
    said = tv.chapters_waiting(R)
    assert said.startswith("Chapters 14 (replay) and 16 (task similarity, with the correction")
    assert "are not in this build: their runs are still training" in said and "each p below is before the correction" in said
    R = Results.of(blank(contract.TaskTokens), blank(contract.Multitask), blank(contract.Similarity))
    assert tv.chapters_waiting(R).startswith("Chapter 14 (replay) is not in this build: its runs") \
        and "before the correction" not in tv.chapters_waiting(R)
    assert tv.chapters_waiting(Results.of(*(blank(k) for k in tv.TASK_CHAPTERS))) == ""


def test_the_sentences_read_the_family_correction_once_chapter_16_is_in_and_the_chapters_own_test_before():
    R = results(**{tt.sequential_speedup_test("grokked"): (9.82, 4.1, 23.5, 0.03, "lower"),
                   tt.MULTITASK_HYPOTHESIS_TEST: (0.617, 0.402, 0.85, 0.02, None)})
    row = dataclasses.replace(blank(contract.AuditRow), id="future-multitask", verdict="supported")
    R.similarity = dataclasses.replace(R.similarity, future_audit={"future-multitask": row})
    R.task_tokens = dataclasses.replace(R.task_tokens, speedups={"grokked": speed_up(9.82, 4.1, 23.5, 0.004, "lower")})
    R.multitask = dataclasses.replace(blank(contract.Multitask), confidence=0.95, hypothesis=dataclasses.replace(
        blank(contract.HypothesisVerdict), estimate=0.617, ci_low=0.402, ci_high=0.85, p=0.004, n=5, verdict="supported"))
    assert tv.speedup_over_random(R, "grokked").endswith("Holm-corrected p = 0.030, 5 seeds)")
    assert tv.hypothesis_effect(R, "multitask") == "+0.62 (95 % CI +0.40 to +0.85; Holm-corrected p = 0.020, 5 seeds)"
    assert tv.hypothesis_verdict(R, "multitask") == "supported"
    R.has = lambda kind: kind is not contract.Similarity    # chapter 16 not in the build
    assert tv.speedup_over_random(R, "grokked").endswith("p = 0.0040 before correction, 5 seeds)")
    assert tv.hypothesis_effect(R, "multitask").endswith("p = 0.0040 before correction, 5 seeds)")
    assert tv.hypothesis_verdict(R, "multitask") == "supported before correction"
    with pytest.raises(ValueError, match="chapter must be one of"):
        tv.hypothesis_verdict(R, "sequential")


def test_replays_effects_are_in_points_before_and_after_the_correction():
    R = results(**{tt.REPLAY_HYPOTHESIS_TEST: (0.166, 0.02, 0.31, 0.04, None),
                   tt.replay_gain_test("grokked"): (0.50, 0.40, 0.60, 0.001, None)})
    assert tv.hypothesis_effect(R, "replay") == "+16.6 points (95 % CI +2.0 to +31.0; Holm-corrected p = 0.040, 5 seeds)"
    assert tv.replay_gain(R, "grokked") == "+50.0 points (95 % CI 40.0–60.0; Holm-corrected p = 0.0010, 5 seeds)"
    gain = dataclasses.replace(blank(contract.PairedDifference), mean=0.5, ci_low=0.4, ci_high=0.6, p=0.0004,
                               n_pairs=5, confidence=0.95)
    R.replay = dataclasses.replace(blank(contract.Replay), confidence=0.95, retention_gain={"grokked": gain},
                                   hypothesis=dataclasses.replace(blank(contract.HypothesisVerdict), estimate=0.166,
                                                                  ci_low=0.02, ci_high=0.31, p=0.01, n=5))
    R.has = lambda kind: kind is not contract.Similarity
    assert tv.replay_gain(R, "grokked") == "+50.0 points (95 % CI +40.0 to +60.0; p < 0.001 before correction, 5 seeds)"
    assert tv.hypothesis_effect(R, "replay") == "+16.6 points (95 % CI +2.0 to +31.0; p = 0.010 before correction, 5 seeds)"


def test_replays_speed_is_the_ratio_of_epochs_without_over_with_before_and_after_the_correction():
    R = results(**{tt.replay_speed_test("grokked"): (1.234, 1.01, 1.5, 0.04, None)})
    R.replay = dataclasses.replace(blank(contract.Replay), confidence=0.95)
    assert tv.replay_speedup(R, "grokked") == "1.23× (95 % CI 1.01–1.50; Holm-corrected p = 0.040, 5 seeds)"
    R.replay = dataclasses.replace(blank(contract.Replay), confidence=0.95,
                                   speed={"random": speed_up(0.8, 0.5, 1.2, 0.3, "upper")})
    R.has = lambda kind: kind is not contract.Similarity
    assert tv.replay_speedup(R, "random") == "≤ 0.80× (95 % CI 0.50–1.20; p = 0.30 before correction, 5 seeds)"
    with pytest.raises(KeyError, match="no speed comparison for 'grokked'"):
        tv.replay_speedup(R, "grokked")
    # every pair a bound (every replay run at the cap): the per-seed range, no interval, the seeds with no ratio
    every = dataclasses.replace(speed_up(0.66, 0.55, 0.79, 0.005, "upper"), per_seed={42: 0.658, 7: 0.641, 314: None},
                                per_seed_bound={42: "<=", 7: "<=", 314: None})
    R.replay = dataclasses.replace(R.replay, speed={"random": every})
    assert tv.replay_speedup(R, "random") == ("≤ 0.64–0.66× per seed, every ratio a bound (one run of each pair never "
                                              "got there by the cap; no interval), and in seed 314 neither run got there")
    # once chapter 16 is in, such a speed-up is not in the family (untestable): its bounds are still said
    R.has = lambda kind: True
    assert tv.replay_speedup(R, "random").startswith("≤ 0.64–0.66× per seed, every ratio a bound")
    assert tt.every_pair_a_bound(every) and not tt.every_pair_a_bound(speed_up(0.8, 0.5, 1.2, 0.3))


def test_the_similarity_trend_is_said_as_a_mean_rho_with_pages_test_and_the_random_table_as_uncorrected():
    R = results(**{tt.SIMILARITY_HYPOTHESIS_TEST: (0.6, 0.2, 1.0, 0.3, None)})
    assert tv.hypothesis_effect(R, "similarity") == \
        "+0.60 (95 % CI +0.20 to +1.00; Page's trend test, Holm-corrected p = 0.30, 5 seeds)"
    R.similarity = dataclasses.replace(R.similarity, memorising=speed_up(1.4, 1.1, 1.8, 0.02))
    assert tv.memorising_ratio(R) == "1.40× (95 % CI 1.10–1.80; p = 0.020, uncorrected, 5 seeds)"


def test_the_audits_verdicts_on_the_three_hypotheses_in_one_sentence():
    R = results(**{tt.REPLAY_HYPOTHESIS_TEST: (0.1, -0.2, 0.4, 0.68, None),
                   tt.MULTITASK_HYPOTHESIS_TEST: (0.44, 0.27, 0.6, 0.015, None),
                   tt.SIMILARITY_HYPOTHESIS_TEST: (-0.5, -0.9, -0.1, 0.02, None)})
    both = {tt.MULTITASK_HYPOTHESIS_TEST: 0.07, tt.SIMILARITY_HYPOTHESIS_TEST: 0.03}
    for test, p in both.items():
        R.similarity.task_family[test] = dataclasses.replace(R.similarity.task_family[test], p_holm_over_both=p)
    rows = {claim: dataclasses.replace(blank(contract.AuditRow), id=claim, claim=f"Hypothesis: {text}.", verdict=verdict)
            for claim, text, verdict in (("future-replay", "Replay helps", "not established"),
                                         ("future-multitask", "Shared circuits", "supported"),
                                         ("future-similarity", "Retention scales", "contradicted by the data"))}
    R.similarity = dataclasses.replace(R.similarity, future_audit=rows)
    # the multi-task claim's test covers only its comparative part (claims.yaml's tested_part), and its
    # significance does not survive the correction over both families: both said beside the verdict
    assert tv.future_verdicts(R) == (
        '"Replay helps" is not established; "Shared circuits" is supported in its comparative part only (one model\'s '
        "two tasks share more of the neurons they use after multi-task training than after sequential training with "
        "replay; that sequential training forces distinct circuits is not tested), within the family of chapters "
        "13-16's tests (Holm p = 0.015) but not over both families at once (p = 0.070); \"Retention scales\" is "
        "contradicted by the data, within the family of chapters 13-16's tests (Holm p = 0.020) and over both "
        "families at once (p = 0.030)")
    R.similarity = dataclasses.replace(R.similarity, future_audit={})
    assert tv.future_verdicts(R) == "not judged (no runs)"


def test_the_multitask_gap_in_epochs_with_its_interval():
    R = results()
    gap = dataclasses.replace(blank(contract.PairedDifference), mean=520.0, ci_low=308.2, ci_high=731.8, confidence=0.95)
    R.multitask = dataclasses.replace(blank(contract.Multitask), gap=gap)
    assert tv.multitask_gap(R) == "520 epochs (95 % CI 308–732)"
    R.multitask = dataclasses.replace(R.multitask, gap=dataclasses.replace(gap, mean=None))
    assert tv.multitask_gap(R).startswith("undefined")


def test_a_neuron_use_comparisons_range_over_seeds():
    R = results()
    use = dataclasses.replace(blank(contract.NeuronUseOverlap), corrected={42: 0.784, 7: 0.536, 99: None, 314: 0.428})
    R.multitask = dataclasses.replace(blank(contract.Multitask), neuron_use={"multi-task, one model": use})
    assert tv.corrected_overlaps(R, "multi-task, one model") == "0.43–0.78"
    with pytest.raises(KeyError, match="no comparison 'replay' in chapter 15's neuron use"):
        tv.corrected_overlaps(R, "replay")


def chapter_14_runs(lowest_grokked=(0.053, 0.108), end=0.62):
    """Chapter 14's runs table: a replay and a sequential run per condition and seed."""
    rows = []
    for seed, low in zip((42, 7), lowest_grokked):
        for condition, (start, lowest, end_replay, top, none_end, none_top) in {
                "grokked": (1.0, low, end, 0.5, 0.009, 0.009),
                "memorized-fixed": (0.056, 0.012, end + 0.1 * (seed == 7), 0.6, 0.009, 0.008)}.items():
            rows.append({"experiment": "replay", "condition": condition, "seed": seed, "add acc start": start,
                         "add acc lowest": lowest, "add acc end": end_replay, "add acc at top": top,
                         tt.SEED_COMMON: top + (0.3 if condition == "grokked" else 0.0) + 0.01 * (seed == 7),
                         "add acc lowest epoch": 120 + 50 * (seed == 7), "epochs trained": 1550 + 560 * (seed == 7)})
            rows.append({"experiment": "sequential", "condition": condition, "seed": seed, "add acc start": start,
                         "add acc lowest": 0.009, "add acc end": none_end, "add acc at top": none_top,
                         tt.SEED_COMMON: 0.009})
    return pd.DataFrame(rows).to_dict(orient="list")


def test_replays_runs_say_the_fall_the_replayed_pairs_and_the_hypothesis_read_elsewhere():
    R = results()
    R.replay = dataclasses.replace(blank(contract.Replay), confidence=0.95, replay_share=0.1,
                                   runs_table=chapter_14_runs())
    R.params = lambda kind: {"p": 113, "frac_train": 0.3}
    assert tv.replay_lowest(R, "grokked") == "5.3–10.8 %"
    assert tv.replay_lowest_when(R, "grokked") == "epochs 120–170 of the 1,550–2,110 trained"
    one_seed = dataclasses.replace(R.replay, runs_table=pd.DataFrame(R.replay.runs_table).query("seed == 42")
                                   .to_dict(orient="list"))
    assert tv.replay_lowest_when(type("R", (), {"replay": one_seed})(), "grokked") == "epoch 120 of the 1,550 trained"
    assert tv.replayed_pairs(R) == "426 of the 3,830"
    said = tv.replay_hypothesis_sensitivity(R)
    assert said.startswith("-5.0 points (95 % CI") and "at each run's own end, " in said
    assert "uncorrected, 2 seeds) at each run's first top on subtraction and" in said
    assert said.endswith("uncorrected, 2 seeds) at one epoch common to the seed's four runs")
    with pytest.raises(ValueError, match="column must be one of"):
        tt.replay_hypothesis_at(pd.DataFrame(R.replay.runs_table), "add acc lowest", 0.95)


def test_what_the_review_asked_for_is_computed_from_the_runs_tables():
    R = results()
    table = chapter_14_runs()
    extra = pd.DataFrame([{"experiment": e, "condition": "random", "seed": s, "first 99.9%": first,
                           "final test acc": final, "add acc end": 0.008}
                          for e, s, first, final in (("replay", 42, None, 0.244), ("replay", 7, None, 0.976),
                                                     ("sequential", 42, 17460.0, 1.0), ("sequential", 7, None, 0.99))])
    R.replay = dataclasses.replace(blank(contract.Replay), confidence=0.95, replay_share=0.1, p=113, cap=30000,
                                   top_threshold=0.999,
                                   runs_table=pd.concat([pd.DataFrame(table), extra]).to_dict(orient="list"))
    assert tv.replay_random_unreached(R) == ("no replay run from random initialisation reached 99.9 % by the cap of "
                                             "30,000 epochs (subtraction ended at 24.4–97.6 % of its test "
                                             "pairs), against 1 of the 2 without replay")
    assert tv.addition_end_range(R, "grokked", "replay") == "62.0 %"          # every run the same
    assert tv.addition_end_range(R, "memorized-fixed", "replay") == "62.0–72.0 %"
    multi = pd.DataFrame([{"experiment": "multitask", "condition": "scratch", "seed": s, "add first 99.9%": a,
                           "subtract first 99.9%": b} for s, a, b in ((1, 1000.0, 1100.0), (2, 900.0, 1000.0),
                                                                       (3, 800.0, 1000.0))])
    R.multitask = dataclasses.replace(blank(contract.Multitask), runs_table=multi.to_dict(orient="list"),
                                      top_threshold=0.999, cap=30000, confidence=0.95)
    said = tv.together_at_top(R)
    assert said.endswith("uncorrected, 3 seeds), subtraction later in 3 of 3 seeds") and "before" not in said
    R.params = lambda kind: {"p": 113, "frac_train": 0.3, "thresholds": [0.9, 0.95, 0.99, 0.999]}
    assert tv.together_threshold(R) == 0.99          # pooled at 99.9 %, each task alone is sure of 99.8 %
    assert tv.multitask_addition_pairs(R) == "all 3,830 of its training pairs, as many as subtraction's"


def test_the_distinct_part_and_the_inputs_rule_of_the_multitask_hypothesis():
    R = results()
    use = blank(contract.NeuronUseOverlap)
    uses = {"sequential with replay, one model": dataclasses.replace(use, p_null={1: 1e-5, 2: 1e-5}, corrected={1: 0.1, 2: 0.3}),
            "sequential without replay, one model (floor)": dataclasses.replace(use, corrected={1: 0.2, 2: 0.25}),
            "multi-task, one model, every input (sensitivity)": dataclasses.replace(use, corrected={1: 0.7, 2: 0.8, 3: 0.5}),
            "sequential with replay, one model, every input (sensitivity)": dataclasses.replace(use, corrected={1: 0.1, 2: 0.25}),
            "drift": dataclasses.replace(use, corrected={1: -0.036, 2: 0.064})}
    R.multitask = dataclasses.replace(blank(contract.Multitask), neuron_use=uses, confidence=0.95)
    assert tv.distinct_part(R) == ("the replay model's overlap is above its relabelling null in 2 of 2 seeds, and the "
                                   "model without replay, which lost addition, has the higher chance-corrected overlap "
                                   "in 1 of 2")
    assert tv.use_difference_every_input(R).startswith("+0.57 (95 % CI") and "uncorrected, 2 seeds" in tv.use_difference_every_input(R)
    assert tv.corrected_overlaps(R, "drift") == "-0.04 to 0.06"
    assert tv.above_null(R, "sequential with replay, one model") == "2 of 2 seeds"


def test_a_similarity_targets_runs_say_how_many_reached_the_top_and_where_the_others_ended():
    def row(target, condition, seed, first_top, first_90, end, train=1.0):
        return {"experiment": "similarity", "target": target, "condition": condition, "seed": seed,
                "first 99.9%": first_top, "first 90%": first_90, "final test acc": end, "final train acc": train}

    rows = [row("multiply", "grokked", 42, None, 21400.0, 0.991), row("multiply", "grokked", 7, None, None, 0.048),
            row("multiply", "grokked", 99, None, None, 0.312),
            row("multiply", "random", 42, 5620.0, 5000.0, 1.0), row("multiply", "random", 7, 9460.0, 8000.0, 1.0),
            row("multiply", "random", 99, None, None, 0.2, 0.95),
            row("random", "grokked", 42, None, None, 0.009)]
    R = results()
    R.similarity = dataclasses.replace(blank(contract.Similarity), runs_table=pd.DataFrame(rows).to_dict(orient="list"),
                                       top_threshold=0.999, cap=30000, random_table_cap=5000)
    R.params = lambda kind: {"thresholds": [0.9, 0.95, 0.99, 0.999]}
    assert tv.similarity_reached(R, "multiply", "grokked") == (
        "no run reached 99.9% by the cap of 30,000 epochs: 1 run passed 90% (first at epoch 21,400) and ended at "
        "99.1 %; 2 runs stayed below 90%, ending at 4.8–31.2 % of the test pairs with training accuracy at 100.0 %")
    assert tv.similarity_reached(R, "multiply", "random") == (
        "2 of 3 runs reached 99.9%, in 5,620–9,460 epochs; the other 1 run did not by the cap of 30,000 epochs: "
        "1 run stayed below 90%, ending at 20.0 % of the test pairs with training accuracy at 95.0 %")
    assert tv.similarity_reached(R, "random", "grokked") == (   # the random table's own cap
        "no run reached 99.9% by the cap of 5,000 epochs: 1 run stayed below 90%, ending at 0.9 % of the test pairs "
        "with training accuracy at 100.0 %")
    assert tv.similarity_reached(R, "x2xyy2", "random") == "no runs"


def sharing(total, expected, p=1e-5):
    return dataclasses.replace(blank(contract.FrequencySharing), total_shared=total, expected_by_chance=expected,
                               p_null=p, n_seeds=5)


def test_the_targets_frequency_reuse_is_said_with_its_corrected_p_and_the_random_table_last():
    R = results(**{tt.reuse_test("subtract"): (24, None, None, 8e-28, None),
                   tt.reuse_test("multiply"): (22, None, None, 2.3e-18, None)})
    R.similarity = dataclasses.replace(R.similarity, targets=["subtract", "multiply", "random"],
                                       reuse={"subtract": sharing(24, 2.571), "multiply": sharing(22, 3.929),
                                              "random": sharing(24, 2.589)})
    assert tv.similarity_reuse(R) == (
        "subtraction 24 and multiplication 22 of the source's key frequencies over 5 seeds, against 2.6–3.9 by chance "
        "(Holm-corrected p < 0.001 for each); the random table, which no frequency can help, 24")
    R.similarity.task_family[tt.reuse_test("multiply")] = dataclasses.replace(
        R.similarity.task_family[tt.reuse_test("multiply")], p_holm=0.031)
    assert "(Holm-corrected p ≤ 0.031 for each)" in tv.similarity_reuse(R)


def test_the_bases_of_multiplication_are_said_per_condition_and_for_the_runs_far_below_the_threshold():
    bases = [{"target": t, "condition": c, "seed": seed, "basis": b, "mean_frac_explained": v}
             for t, c, seed, additive, dlog in (("multiply", "grokked", 42, 0.067, 0.643),
                                                ("multiply", "grokked", 7, 0.207, 0.113),
                                                ("multiply", "random", 42, 0.043, 0.787),
                                                ("multiply", "random", 7, 0.039, 0.800),
                                                ("random", "grokked", 42, 0.25, 0.06), ("random", "grokked", 7, 0.28, 0.06))
             for b, v in (("additive", additive), ("discrete-log", dlog))]
    runs = [{"experiment": "similarity", "target": "multiply", "condition": "grokked", "seed": seed, "first 90%": first,
             "test pairs with swap in train": 0.3} for seed, first in ((42, 21400.0), (7, None))]
    R = results()
    R.similarity = dataclasses.replace(R.similarity, bases=pd.DataFrame(bases).to_dict(orient="list"),
                                       runs_table=pd.DataFrame(runs).to_dict(orient="list"))
    R.params = lambda kind: {"thresholds": [0.9, 0.999]}
    assert tv.basis_explained(R, "random", "discrete-log") == "0.79–0.80"
    assert tv.basis_explained(R, "grokked", "discrete-log") == "0.11–0.64"
    assert tv.basis_explained(R, "grokked", "discrete-log", runs="far below") == "0.11"   # seed 42 passed 90%
    assert tv.basis_explained(R, "grokked", "discrete-log", runs="passed") == "0.64"
    assert tv.basis_explained(R, "grokked", "additive", target="random") == "0.25–0.28"   # the control
    assert tv.basis_explained(R, "memorized", "additive") == "n/a (no runs)"
    assert tv.seeds_passed(R, "grokked", "multiply") == "seed 42"
    task_guards.additive_share_persists(R)   # 0.207 far below, at most the random table's 0.28
    R.similarity = dataclasses.replace(R.similarity, bases=pd.DataFrame(
        [{**row, "mean_frac_explained": 0.1} if row["target"] == "random" else row for row in bases]).to_dict(orient="list"))
    with pytest.raises(SentenceContradicted, match="7: 0.21 / 0.10"):
        task_guards.additive_share_persists(R)
    # a build from before the random table joined the basis table: multiplication's rows only
    R.similarity = dataclasses.replace(R.similarity, bases=pd.DataFrame(bases[:8]).drop(columns="target").to_dict(orient="list"))
    assert tv.basis_explained(R, "random", "discrete-log") == "0.79–0.80"
    assert tv.basis_explained(R, "grokked", "additive", target="random") == "n/a (no runs)"


def test_the_similarity_runs_slowdown_fitting_early_retention_and_sets_are_said_from_the_runs_table():
    rows = []
    early = {42: {"subtract": 0.033, "multiply": 0.037, "x2xyy2": 0.038, "random": 0.038},
             7: {"subtract": 0.035, "multiply": 0.044, "x2xyy2": 0.037, "random": 0.037},
             99: {"subtract": 0.040, "multiply": 0.043, "x2xyy2": 0.040, "random": 0.042}}
    for t in ("subtract", "multiply", "x2xyy2", "random"):
        for seed in (42, 7, 99):
            rows.append({"experiment": "similarity", "target": t, "condition": "grokked", "seed": seed,
                         "train first top": 500.0 + seed, "early retention add": early[seed][t]})
            rows.append({"experiment": "similarity", "target": t, "condition": "random", "seed": seed,
                         "train first top": 150.0, "early retention add": None})
    sets = {t: {str(seed): [[1, 2, 3], final] for seed, final in zip((42, 7, 99), finals)}
            for t, finals in (("subtract", ([1, 2], [1, 2, 3], [4])), ("multiply", ([1, 2], [1, 3], [5])),
                              ("random", ([1, 2], [1, 3], [4])))}
    reuse = {t: dataclasses.replace(blank(contract.FrequencySharing), sets=v) for t, v in sets.items()}
    slow = dataclasses.replace(blank(contract.SpeedUp), per_seed={42: 0.187, 7: 0.318}, per_seed_bound={42: "<=", 7: "<="})
    R = results()
    R.similarity = dataclasses.replace(R.similarity, runs_table=pd.DataFrame(rows).to_dict(orient="list"), reuse=reuse,
                                       targets=["subtract", "multiply", "x2xyy2", "random"], speedups={"multiply": slow})
    assert tv.train_top_ranges(R) == ("507–599 (subtraction), 507–599 (multiplication), 507–599 (a² + ab + b²) and "
                                      "507–599 (random table) epochs, against 150 from random initialisation")
    task_guards.grokked_slower_to_fit(R)
    assert tv.early_retention_range(R) == "3.3–4.4"
    assert tv.lowest_early_retention(R) == "subtraction's, in 3 of 3 seeds"
    # without subtraction, per seed: 42 (0.037, 0.038, 0.038) -> rho with (x, 2x, 3x) reversed order ...
    assert tv.trend_without(R, "subtract") == f"{tv_mean_rho(early, ['random', 'x2xyy2', 'multiply']):+.2f}"
    assert tv.same_final_sets_as_random_table(R) == "subtraction in 2 of 3 seeds and multiplication in 2 of 3 seeds"
    assert tv.source_key_total(R) == "9"
    R.params = lambda kind: {"thresholds": [0.9, 0.999]}
    R.similarity.reuse["multiply"] = dataclasses.replace(R.similarity.reuse["multiply"], n_candidates=56)
    table = pd.DataFrame(rows).assign(**{"first 90%": None})
    R.similarity = dataclasses.replace(R.similarity, runs_table=table.to_dict(orient="list"))
    assert tv.passed_run_sharing(R, "multiply") == "n/a (no such run)"   # no run passed 90 %
    table.loc[(table["target"] == "multiply") & (table["condition"] == "grokked") & (table["seed"] == 42), "first 90%"] = 21730.0
    R.similarity = dataclasses.replace(R.similarity, runs_table=table.to_dict(orient="list"))
    assert tv.passed_run_sharing(R, "multiply") == ("seed 42 shares 2 of its source's 3 key frequencies, in a final "
                                                    "set of 2 (0.1 by chance)")
    assert tv.similarity_slowdown(R, "multiply") == "at least 3.1× as many epochs as random initialisation in every seed"
    R.similarity.speedups["multiply"] = dataclasses.replace(slow, per_seed={42: 0.187, 7: 1.2})
    assert tv.similarity_slowdown(R, "multiply") == "n/a (not below 1 in every seed)"
    rows[0]["train first top"] = 100.0   # subtraction, seed 42: the grokked run the sooner
    R.similarity = dataclasses.replace(R.similarity, runs_table=pd.DataFrame(rows).to_dict(orient="list"))
    with pytest.raises(SentenceContradicted, match="subtract 42: 100 / 150"):
        task_guards.grokked_slower_to_fit(R)


def tv_mean_rho(early: dict, order: list[str]) -> float:
    """The mean over seeds of Spearman's rho of each seed's values (in ``order``) with that order."""
    from scipy import stats
    rhos = [stats.spearmanr(range(len(order)), [by[t] for t in order]).statistic for by in early.values()]
    return sum(rhos) / len(rhos)


def test_a_similarity_speed_up_whose_every_ratio_is_a_bound_gives_the_per_seed_bounds_to_two_digits():
    s = dataclasses.replace(blank(contract.SpeedUp), n_pairs=3, geometric_mean=0.276, bound="upper",
                            per_seed={42: 0.187, 7: 0.272, 99: 0.318}, per_seed_bound={42: "<=", 7: "<=", 99: "<="})
    R = results()
    R.similarity = dataclasses.replace(R.similarity, speedups={"multiply": s})
    assert tv.similarity_speedup(R, "multiply") == ("≤ 0.19–0.32× per seed, every ratio a bound (one run of each pair "
                                                    "never got there by the cap; no interval)")


@pytest.mark.parametrize("row, said", [
    ((-0.52, -0.97, -0.07, 0.15), "its t-interval over seeds lies below 0, the reverse of the predicted order (more early retention "
                                  "for a less similar target), but Page's trend test is not significant before the "
                                  "correction (p = 0.15) or after it"),
    ((0.3, -0.1, 0.7, 0.4), "neither its interval nor Page's trend test shows an order"),
    ((0.6, 0.2, 0.9, 0.01), "its interval and Page's trend test agree on the predicted order (more early retention for "
                            "a more similar target)"),
    ((0.3, -0.1, 0.7, 0.01), "Page's trend test is significant after the correction, but the interval holds 0"),
    ((None, None, None, None), "undefined (no test)")])
def test_the_similarity_trend_reading_says_what_the_interval_and_pages_test_show_together(row, said):
    R = results(**{tt.SIMILARITY_HYPOTHESIS_TEST: (*row, None)})
    assert tv.similarity_trend_reading(R) == said
