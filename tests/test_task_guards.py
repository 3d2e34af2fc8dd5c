"""The guards of the article's sentences on chapters 13-16: quiet when the data say what the
sentence says, raising with the numbers when they do not, and bound to a build by ``Guards``."""

import dataclasses

import pytest

from grokpaper.paper import contract, task_guards
from grokpaper.paper import task_tokens as tt
from grokpaper.paper.guard import Guards, SentenceContradicted
from typed_results import blank


def build(speedup=(9.8, 4.1, 23.5, 0.012), kept=None):
    mean, low, high, p = speedup
    s = dataclasses.replace(blank(contract.SpeedUp), geometric_mean=mean, ci_low=low, ci_high=high, p=p, n_pairs=5)
    r = dataclasses.replace(blank(contract.TaskRetention), kept=kept if kept is not None else {42: 0.01, 7: 0.03})
    numbers = dataclasses.replace(blank(contract.TaskTokens), speedups={"grokked": s}, retention={"grokked": r})
    return type("R", (), {"task_tokens": numbers, "has": lambda self, kind: kind is not contract.Similarity})()


def test_faster_with_task_tokens_needs_an_interval_above_one_and_p_below_alpha():
    task_guards.task_faster(build(), "grokked")
    with pytest.raises(SentenceContradicted, match=r"random / grokked = 2\.10× \(CI 0\.90–4\.80\), p = 0\.07 before correction"):
        task_guards.task_faster(build(speedup=(2.1, 0.9, 4.8, 0.07)), "grokked")
    with pytest.raises(SentenceContradicted):
        task_guards.task_faster(build(speedup=(None, None, None, None)), "grokked")


def test_addition_lost_needs_every_seed_under_the_bound():
    task_guards.addition_lost(build(), "grokked", below=0.1)
    with pytest.raises(SentenceContradicted, match=r"7: 30\.0 %, 42: 1\.0 %"):
        task_guards.addition_lost(build(kept={42: 0.01, 7: 0.3}), "grokked", below=0.1)
    with pytest.raises(SentenceContradicted, match="kept per seed: none"):
        task_guards.addition_lost(build(kept={}), "grokked")


def test_guards_binds_the_task_guards_too():
    assert Guards(build(), strict=True).task_faster("grokked") == ""
    lenient = Guards(build(kept={42: 0.5}), strict=False)
    assert lenient.addition_lost("grokked").startswith(" **[contradicted by this build:")
    assert len(lenient.contradicted) == 1
    with pytest.raises(AttributeError, match="no guard 'task_slower'"):
        Guards(build()).task_slower("grokked")


def test_faster_with_task_tokens_uses_the_family_correction_once_chapter_16_is_in():
    R = build()   # chapter 13 alone: significant before correction
    row = dataclasses.replace(blank(contract.TaskFamilyTest), test=tt.sequential_speedup_test("grokked"),
                              estimate=9.8, ci_low=4.1, ci_high=23.5, p=0.012, p_holm=0.09)
    R.similarity = dataclasses.replace(blank(contract.Similarity), task_family={row.test: row})
    R.has = lambda kind: True
    with pytest.raises(SentenceContradicted, match="p = 0.09 Holm-corrected within chapters 13-16"):
        task_guards.task_faster(R, "grokked")
    R.similarity.task_family[row.test] = dataclasses.replace(row, p_holm=0.03)
    task_guards.task_faster(R, "grokked")


def test_subtraction_later_in_every_seed_needs_every_ratio_above_one_and_no_bound():
    together = dataclasses.replace(blank(contract.SpeedUp), per_seed={42: 1.13, 7: 1.07}, per_seed_bound={42: None, 7: None})
    R = build()
    R.multitask = dataclasses.replace(blank(contract.Multitask), together=together)
    task_guards.subtraction_later_in_every_seed(R)
    R.multitask = dataclasses.replace(R.multitask, together=dataclasses.replace(together, per_seed={42: 1.13, 7: 0.98}))
    with pytest.raises(SentenceContradicted, match="42: 1.13, 7: 0.98"):
        task_guards.subtraction_later_in_every_seed(R)
    R.multitask = dataclasses.replace(R.multitask, together=dataclasses.replace(together, per_seed_bound={42: "lower", 7: None}))
    with pytest.raises(SentenceContradicted, match=r"42: 1.13 \(a bound\)"):
        task_guards.subtraction_later_in_every_seed(R)
    R.multitask = dataclasses.replace(R.multitask, together=None)
    with pytest.raises(SentenceContradicted, match="none"):
        task_guards.subtraction_later_in_every_seed(R)


def test_the_same_key_frequencies_at_both_tokens_needs_a_jaccard_of_one_in_every_seed():
    R = build()
    same = dataclasses.replace(blank(contract.FrequencySharing), jaccard={42: 1.0, 7: 1.0})
    R.multitask = dataclasses.replace(blank(contract.Multitask), sharing={"multi-task, one model": same})
    task_guards.same_key_frequencies_at_both_tokens(R, "multi-task, one model")
    R.multitask.sharing["multi-task, one model"] = dataclasses.replace(same, jaccard={42: 1.0, 7: 0.71})
    with pytest.raises(SentenceContradicted, match="42: 1.00, 7: 0.71"):
        task_guards.same_key_frequencies_at_both_tokens(R, "multi-task, one model")
    with pytest.raises(SentenceContradicted, match="none"):
        task_guards.same_key_frequencies_at_both_tokens(R, "replay")


def test_replay_ends_above_start_needs_the_ends_interval_above_the_start():
    def with_replay(start, end, low, high):
        r = dataclasses.replace(blank(contract.TaskRetention), start_mean=start, end_mean=end, end_ci_low=low,
                                end_ci_high=high)
        return type("R", (), {"replay": dataclasses.replace(blank(contract.Replay), retention={"memorized-fixed": r})})()

    task_guards.replay_ends_above_start(with_replay(0.056, 0.663, 0.331, 0.995), "memorized-fixed")
    with pytest.raises(SentenceContradicted, match=r"5\.6 % at the start, 30\.0 % at the end \(CI 4\.0–56\.0\)"):
        task_guards.replay_ends_above_start(with_replay(0.056, 0.30, 0.04, 0.56), "memorized-fixed")
    with pytest.raises(SentenceContradicted):
        task_guards.replay_ends_above_start(with_replay(0.056, None, None, None), "memorized-fixed")



def test_replay_dips_then_recovers_needs_every_runs_lowest_under_half_its_start_and_end():
    def runs(*start_lowest_end):
        table = {"experiment": [], "condition": [], "seed": [], "add acc start": [], "add acc lowest": [],
                 "add acc end": []}
        for seed, (a, lo, e) in zip((42, 7), start_lowest_end):
            for key, value in zip(table, ("replay", "grokked", seed, a, lo, e)):
                table[key].append(value)
        return type("R", (), {"replay": dataclasses.replace(blank(contract.Replay), runs_table=table)})()

    task_guards.replay_dips_then_recovers(runs((1.0, 0.05, 0.6), (1.0, 0.1, 0.7)), "grokked")
    with pytest.raises(SentenceContradicted, match=r"7: 100\.0 / 60\.0 / 70\.0 %"):
        task_guards.replay_dips_then_recovers(runs((1.0, 0.05, 0.6), (1.0, 0.6, 0.7)), "grokked")
    with pytest.raises(SentenceContradicted, match="none"):
        task_guards.replay_dips_then_recovers(runs(), "grokked")
