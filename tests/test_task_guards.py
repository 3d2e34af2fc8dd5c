"""The guards of the article's sentences on chapters 13-16: quiet when the data say what the
sentence says, raising with the numbers when they do not, and bound to a build by ``Guards``."""

import dataclasses

import pandas as pd
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
    with pytest.raises(SentenceContradicted, match=r"random / grokked = 2\.10× \(CI 0\.90–4\.80\), p = 0\.070 before correction"):
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
    with pytest.raises(SentenceContradicted, match="p = 0.090 Holm-corrected within chapters 13-16"):
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



def test_replay_dips_then_recovers_needs_every_runs_lowest_under_half_its_start_and_end_and_early():
    def runs(*start_lowest_end_at):
        table = {"experiment": [], "condition": [], "seed": [], "add acc start": [], "add acc lowest": [],
                 "add acc end": [], "add acc lowest epoch": [], "epochs trained": []}
        for seed, (a, lo, e, at) in zip((42, 7), start_lowest_end_at):
            for key, value in zip(table, ("replay", "grokked", seed, a, lo, e, at, 2000)):
                table[key].append(value)
        return type("R", (), {"replay": dataclasses.replace(blank(contract.Replay), runs_table=table)})()

    task_guards.replay_dips_then_recovers(runs((1.0, 0.05, 0.6, 130), (1.0, 0.1, 0.7, 500)), "grokked")
    with pytest.raises(SentenceContradicted, match=r"7: 100\.0 / 60\.0 \(epoch 130 of 2,000\) / 70\.0 %"):
        task_guards.replay_dips_then_recovers(runs((1.0, 0.05, 0.6, 130), (1.0, 0.6, 0.7, 130)), "grokked")
    with pytest.raises(SentenceContradicted, match=r"within its first 25 % of epochs"):   # fell late, not at first
        task_guards.replay_dips_then_recovers(runs((1.0, 0.05, 0.6, 130), (1.0, 0.1, 0.7, 501)), "grokked")
    with pytest.raises(SentenceContradicted, match="none"):
        task_guards.replay_dips_then_recovers(runs(), "grokked")


def test_the_guards_of_the_reviewed_sentences_raise_on_data_that_contradict_them():
    def runs(ends, lows, common_grokked, fixed_first):
        rows = []
        for seed, (end, low, c) in enumerate(zip(ends, lows, common_grokked)):
            for condition, at, stop, first in (("grokked", c, 1500, 500.0), ("memorized-fixed", 0.1, 4000, fixed_first)):
                rows.append({"experiment": "sequential", "condition": condition, "seed": seed, "add acc end": end,
                             "add acc at top": 0.01, tt.SEED_COMMON: 0.01, "epochs trained": stop,
                             "first 99.9%": first})
                rows.append({"experiment": "replay", "condition": condition, "seed": seed, "add acc end": 0.6 + 0.01 * seed,
                             "add acc lowest": low, "add acc at top": 0.5 + 0.01 * seed, tt.SEED_COMMON: at,
                             "epochs trained": stop + 100, "first 99.9%": first + 50})
        return pd.DataFrame(rows).to_dict(orient="list")

    def build_(ends=(0.008, 0.009, 0.007), lows=(0.05, 0.1, 0.07), common=(0.5, 0.6, 0.55), hypothesis=(0.1, -0.2, 0.4),
               fixed_first=2900.0):
        table = runs(ends, lows, common, fixed_first)
        h = dataclasses.replace(blank(contract.HypothesisVerdict), estimate=hypothesis[0], ci_low=hypothesis[1],
                                ci_high=hypothesis[2])
        numbers = dict(p=113, runs_table=table, confidence=0.95, top_threshold=0.999)
        return type("R", (), {"task_tokens": dataclasses.replace(blank(contract.TaskTokens), **numbers),
                              "replay": dataclasses.replace(blank(contract.Replay), hypothesis=h, **numbers)})()

    task_guards.addition_near_chance(build_(), "grokked")
    with pytest.raises(SentenceContradicted, match="2: 2.0 %"):
        task_guards.addition_near_chance(build_(ends=(0.008, 0.009, 0.02)), "grokked")
    task_guards.replay_lowest_above_chance(build_(), "grokked")
    with pytest.raises(SentenceContradicted, match="every run's lowest above chance"):
        task_guards.replay_lowest_above_chance(build_(lows=(0.05, 0.005, 0.07)), "grokked")
    task_guards.replay_verdict_depends_on_reading(build_())
    with pytest.raises(SentenceContradicted):       # the test itself excludes 0: nothing depends on the reading
        task_guards.replay_verdict_depends_on_reading(build_(hypothesis=(0.3, 0.1, 0.5)))
    with pytest.raises(SentenceContradicted):       # the seed's common epoch does not lie above 0 either
        task_guards.replay_verdict_depends_on_reading(build_(common=(0.1, 0.05, 0.15)))
    with pytest.raises(SentenceContradicted, match="not at the top by then"):   # a memorized-fixed replay run got there first
        task_guards.replay_verdict_depends_on_reading(build_(fixed_first=1000.0))


def test_the_floor_above_the_replay_model_in_most_seeds():
    use = blank(contract.NeuronUseOverlap)

    def build_(floor):
        uses = {"sequential with replay, one model": dataclasses.replace(use, p_null={1: 1e-5, 2: 1e-5, 3: 1e-5},
                                                                          corrected={1: 0.1, 2: 0.3, 3: 0.2}),
                "sequential without replay, one model (floor)": dataclasses.replace(use, corrected=floor)}
        return type("R", (), {"multitask": dataclasses.replace(blank(contract.Multitask), neuron_use=uses,
                                                               confidence=0.95)})()

    task_guards.floor_mostly_higher(build_({1: 0.2, 2: 0.35, 3: 0.1}))
    with pytest.raises(SentenceContradicted, match="floor higher in 1 of 3 seeds"):
        task_guards.floor_mostly_higher(build_({1: 0.2, 2: 0.25, 3: 0.1}))


def test_the_multitask_tasks_not_shown_apart_at_the_top_and_the_drift_near_chance():
    def build_(sub, drift):
        multi = pd.DataFrame([{"experiment": "multitask", "condition": "scratch", "seed": s, "add first 99.9%": 1000.0,
                               "subtract first 99.9%": b} for s, b in enumerate(sub)])
        use = dataclasses.replace(blank(contract.NeuronUseOverlap), corrected=dict(enumerate(drift)))
        return type("R", (), {"multitask": dataclasses.replace(
            blank(contract.Multitask), runs_table=multi.to_dict(orient="list"), top_threshold=0.999, cap=30000,
            confidence=0.95, neuron_use={"drift: grokked source, then the replay model, on addition": use})})()

    task_guards.together_at_top_not_shown(build_((1200.0, 900.0, 1100.0), (0.05, -0.03)))
    with pytest.raises(SentenceContradicted, match="an interval holding 1"):
        task_guards.together_at_top_not_shown(build_((1200.0, 1210.0, 1190.0), (0.05, -0.03)))
    task_guards.drift_near_chance(build_((1200.0, 900.0, 1100.0), (0.05, -0.03)))
    with pytest.raises(SentenceContradicted, match="1: 0.30"):
        task_guards.drift_near_chance(build_((1200.0, 900.0, 1100.0), (0.05, 0.3)))


def test_both_tasks_at_the_top_in_every_multitask_run():
    multi = pd.DataFrame([{"experiment": "multitask", "condition": "scratch", "seed": s, "add first 99.9%": 1000.0,
                           "subtract first 99.9%": b} for s, b in enumerate((1200.0, 900.0, None))])
    R = type("R", (), {"multitask": dataclasses.replace(blank(contract.Multitask), runs_table=multi.to_dict(orient="list"),
                                                        top_threshold=0.999, cap=30000, confidence=0.95)})()
    with pytest.raises(SentenceContradicted):    # seed 2's subtraction never got there: a bound, not a ratio
        task_guards.together_at_top_not_shown(R)


def test_the_swapped_pairs_of_the_runs_far_below_the_threshold_are_said_and_guarded():
    from grokpaper.paper import task_values as tv

    def build_(swapped_x2=(0.148, 1.0), other=0.007):
        def row(target, seed, first_90, share, sw, ot):
            return {"experiment": "similarity", "target": target, "condition": "grokked", "seed": seed,
                    "first 90%": first_90, "final test acc": None if share is None else share * sw + (1 - share) * ot,
                    "test pairs with swap in train": share, "test acc, swap in train": sw, "test acc, other pairs": ot}
        rows = [row("x2xyy2", seed, None, 0.3, sw, other) for seed, sw in zip((42, 7), swapped_x2)]
        rows.append(row("multiply", 99, 21400.0, 0.297, 1.0, 0.988))   # passed 90%: not far below
        rows.append(row("subtract", 42, None, None, None, None))         # not commutative: no split
        numbers = dataclasses.replace(blank(contract.Similarity), runs_table=pd.DataFrame(rows).to_dict(orient="list"))
        return type("R", (), {"similarity": numbers, "params": lambda self, kind: {"thresholds": [0.9, 0.999]}})()

    R = build_()
    assert tv.swapped_split(R, "grokked") == ("14.8–100.0 % of the swapped pairs (30.0 % of the test pairs), "
                                              "against 0.7 % of the others")
    task_guards.swapped_pairs_carry_far_below(R, "grokked")
    with pytest.raises(SentenceContradicted, match=r"x2xyy2 seed 42: 3\.8 % / 7\.9 %"):   # its swapped pairs no better
        task_guards.swapped_pairs_carry_far_below(build_(swapped_x2=(0.01, 1.0), other=0.05), "grokked")
    assert tv.swapped_split(R, "random") == "n/a (no run of a commutative target stayed below the lowest threshold)"
    with pytest.raises(SentenceContradicted, match="none"):
        task_guards.swapped_pairs_carry_far_below(R, "random")
    assert tv.swapped_against_random(R, "x2xyy2") == "n/a (no seed in which both starts stayed below the lowest threshold)"


def test_the_grokked_runs_swapped_pairs_are_said_against_random_init_paired_by_seed():
    from grokpaper.paper import task_values as tv

    def build_(random_swapped):
        def row(condition, seed, sw):
            return {"experiment": "similarity", "target": "x2xyy2", "condition": condition, "seed": seed,
                    "first 90%": None, "final test acc": 0.3 * sw + 0.7 * 0.008,
                    "test pairs with swap in train": 0.3, "test acc, swap in train": sw, "test acc, other pairs": 0.008}
        rows = [row("grokked", 42, 0.54), row("grokked", 7, 0.40), row("grokked", 99, 0.5)]   # 99: no random run
        rows += [row("random", seed, sw) for seed, sw in zip((42, 7), random_swapped)]
        numbers = dataclasses.replace(blank(contract.Similarity), runs_table=pd.DataFrame(rows).to_dict(orient="list"))
        return type("R", (), {"similarity": numbers, "params": lambda self, kind: {"thresholds": [0.9, 0.999]}})()

    R = build_((0.27, 0.30))
    assert tv.swapped_split(R, "random", "x2xyy2") == ("27.0–30.0 % of the swapped pairs (30.0 % of the test pairs), "
                                                      "against 0.8 % of the others")
    assert tv.swapped_against_random(R, "x2xyy2") == ("in 2 of 2 seeds the grokked source's run answered more of them "
                                                      "than random initialisation's (by 10.0–27.0 percentage points)")
    assert tv.swapped_against_random(build_((0.27, 0.45)), "x2xyy2") == (
        "in 1 of 2 seeds the grokked source's run answered more of them than random initialisation's "
        "(from 5.0 percentage points fewer to 27.0 more)")
    assert tv.swapped_against_random(build_((0.6, 0.45)), "x2xyy2") == (
        "in 0 of 2 seeds the grokked source's run answered more of them than random initialisation's "
        "(it answered 5.0–6.0 percentage points fewer)")


def test_the_random_table_control_must_share_as_many_frequencies_as_a_target_that_can_use_them():
    def build_(random_total):
        def sharing(total):
            return dataclasses.replace(blank(contract.FrequencySharing), total_shared=total)
        reuse = {"subtract": sharing(24), "multiply": sharing(22),
                 **({"random": sharing(random_total)} if random_total is not None else {})}
        return type("R", (), {"similarity": dataclasses.replace(blank(contract.Similarity), reuse=reuse)})()

    task_guards.random_table_shares_as_many(build_(22))
    with pytest.raises(SentenceContradicted, match="subtract 24, multiply 22, random table 21"):
        task_guards.random_table_shares_as_many(build_(21))
    with pytest.raises(SentenceContradicted, match="the random table's total at least the smallest"):
        task_guards.random_table_shares_as_many(build_(None))


def test_multiplication_sparser_in_a_basis_needs_every_run():
    def build_(dlog_7, grokked=()):
        bases = [{"condition": condition, "seed": seed, "basis": b, "mean_frac_explained": v}
                 for condition, seed, additive, dlog in (("random", 42, 0.043, 0.787), ("random", 7, 0.039, dlog_7),
                                                         *grokked)
                 for b, v in (("additive", additive), ("discrete-log", dlog))]
        runs = [{"experiment": "similarity", "target": "multiply", "condition": "grokked", "seed": seed,
                 "first 90%": first, "test pairs with swap in train": 0.3} for seed, first in ((42, 21000.0), (7, None))]
        numbers = dataclasses.replace(blank(contract.Similarity), bases=pd.DataFrame(bases).to_dict(orient="list"),
                                      runs_table=pd.DataFrame(runs).to_dict(orient="list"))
        return type("R", (), {"similarity": numbers, "params": lambda self, kind: {"thresholds": [0.9, 0.999]}})()

    task_guards.sparser_in_basis(build_(0.8), "random")
    with pytest.raises(SentenceContradicted, match="7: 0.03 / 0.04"):
        task_guards.sparser_in_basis(build_(0.03), "random")
    with pytest.raises(SentenceContradicted, match="none"):
        task_guards.sparser_in_basis(build_(0.8), "grokked")
    # seed 42 passed 90 % and went discrete-log; seed 7, far below, stayed additive: only 7 is read
    grokked = (("grokked", 42, 0.07, 0.64), ("grokked", 7, 0.21, 0.11))
    task_guards.sparser_in_basis(build_(0.8, grokked), "grokked", "additive", far_below=True)
    with pytest.raises(SentenceContradicted, match="42: 0.07 / 0.64"):
        task_guards.sparser_in_basis(build_(0.8, grokked), "grokked", "additive")


def test_the_grokked_source_slower_to_memorise_needs_the_interval_below_1():
    def build_(low, high, bound=None):
        m = dataclasses.replace(blank(contract.SpeedUp), geometric_mean=(low + high) / 2, ci_low=low, ci_high=high,
                                bound=bound)
        return type("R", (), {"similarity": dataclasses.replace(blank(contract.Similarity), memorising=m)})()

    task_guards.grokked_slower_to_memorise(build_(0.16, 0.29))
    with pytest.raises(SentenceContradicted, match=r"0\.16–1\.20"):
        task_guards.grokked_slower_to_memorise(build_(0.16, 1.2))
    with pytest.raises(SentenceContradicted, match="no run at its cap"):
        task_guards.grokked_slower_to_memorise(build_(0.16, 0.29, bound="<="))


def test_the_grokked_source_slower_to_a_target_needs_every_seed_below_1():
    def build_(per_seed, bounds):
        s = dataclasses.replace(blank(contract.SpeedUp), per_seed=per_seed, per_seed_bound=bounds)
        return type("R", (), {"similarity": dataclasses.replace(blank(contract.Similarity), speedups={"multiply": s})})()

    task_guards.grokked_slower_to_target(build_({42: 0.19, 7: 0.27}, {42: "<=", 7: None}), "multiply")
    with pytest.raises(SentenceContradicted, match="42: >=0.19"):    # a lower bound below 1 says nothing
        task_guards.grokked_slower_to_target(build_({42: 0.19, 7: 0.27}, {42: ">=", 7: None}), "multiply")
    with pytest.raises(SentenceContradicted, match="7: 1.30"):
        task_guards.grokked_slower_to_target(build_({42: 0.19, 7: 1.3}, {42: "<=", 7: None}), "multiply")
    with pytest.raises(SentenceContradicted, match="none"):
        task_guards.grokked_slower_to_target(build_({}, {}), "x2xyy2")
