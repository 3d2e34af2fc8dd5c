"""Conclusions in words (grokpaper.findings): the wording follows the numbers it is given."""

from grokpaper import findings, stats
from grokpaper.report import Results

CONDITIONS = ("grokked", "memorized", "random")


def results(epochs: dict, test_p: float | None, retention_p: float = 0.5, cap: int = 30000) -> Results:
    """Made-up saved numbers: per-condition epochs (None = censored) and one test's p-value."""
    metric = "sustained_99_9pct"
    seeds = {c: list(range(1, len(v) + 1)) for c, v in epochs.items()}
    summary = {c: stats.describe(v, labels=seeds[c]).as_dict() for c, v in epochs.items()}
    test = {"p_t_holm": test_p, "p_rank_holm": test_p, "t": -6.0, "df": 5.2, "note": "n < 2 in a group"}
    ratio = {"value": 4.0, "ci_low": 3.5, "ci_high": 4.6, "note": ""}
    numbers06 = {
        "cap": cap,
        "summary": {metric: summary, "test_acc_at_100": summary, "circuit_mean_frac": summary},
        "tests": {m: {"grokked_vs_random": test, "memorized_vs_random": test, "grokked_vs_memorized": test}
                  for m in (metric, "test_acc_at_100", "circuit_mean_frac")},
        "speedups": {f"random_over_{c}_{metric}": ratio for c in ("grokked", "memorized")},
    }
    retention = {c: {"vs_perfect_subtraction": {"mean": 0.001 if retention_p else 0.0, "p": retention_p, "t": 1.0,
                                                "df": 4.0}}
                 for c in CONDITIONS}
    differ = {c: stats.describe([0.001 if retention_p else 0.0] * 5).as_dict() for c in CONDITIONS}
    audit_rows = {"speedup-grokked": {"id": "speedup-grokked", "claim": "4.8x faster", "verdict": "not supported",
                                      "reason": "reproduced 4.0"}}
    params = {"thresholds": [0.9, 0.999], "transfer_task": "subtract"}
    runs = [(c, s, v) for c in epochs for s, v in zip(seeds[c], epochs[c])]
    table02 = {"condition": [c for c, _, _ in runs], "seed": [s for _, s, _ in runs],
               "final train acc": [1.0] * len(runs),
               "final test acc": [1.0 if v is not None else 0.006 for _, _, v in runs]}
    return Results({
        "02-transfer": {"numbers": {"table": table02}, "params": params},
        "03-retention": {"numbers": {"tests": retention, "addition_acc_where_targets_differ": differ}, "params": params},
        "06-statistics": {"numbers": numbers06, "params": params},
        "08-audit": {"numbers": {"claims": audit_rows}, "params": params},
    })


FAST = {"grokked": [5000, 5200, 5100, 4900, 5300], "memorized": [6000, 6100, 6200, 6300, 5900],
        "random": [20000, 21000, 19000, 22000, 20500]}


def test_a_significant_difference_is_named_with_its_direction_and_test():
    text = findings.transfer_speed(results(FAST, test_p=0.0004))
    assert "grokked is significantly lower" in text and "Holm-corrected p < 0.001" in text
    assert "4.00× (95 % CI 3.50–4.60, Fieller)" in text
    assert "never got there" not in text


def test_a_non_significant_difference_is_not_called_one():
    text = findings.transfer_speed(results(FAST, test_p=0.2))
    assert "not significant" in text and "significantly" not in text


def test_censored_runs_are_counted_and_block_the_test():
    censored = {**FAST, "random": [None, None, 25000, None, None]}
    text = findings.transfer_speed(results(censored, test_p=None))
    assert "4 of 5 random runs never got there within the cap of 30,000 epochs (at the cap, random seed 1: " \
           "train accuracy 100.0 %, test accuracy 0.6 %; random seed 2:" in text
    assert "cannot be tested (too few runs reached it)" in text
    nobody = {c: [None] * 5 for c in FAST}
    assert "no run got there within the cap of 30,000 epochs" in findings.transfer_speed(results(nobody, None))


def test_retention_wording_follows_the_test_and_claims_quote_the_audit():
    assert "forgotten addition" in findings.retention(results(FAST, 0.2, retention_p=0.5))
    assert "some addition survives" in findings.retention(results(FAST, 0.2, retention_p=0.001))
    # Every run exactly at the perfect-subtraction score: no test needed, and the text says so.
    exact = findings.retention(results(FAST, 0.2, retention_p=None))
    assert ("grokked, memorized and random: in each of the 5 runs, not one correct addition answer on a pair "
            "where the two targets differ") in exact
    assert exact.count("not one correct") == 1   # the three conditions share one sentence
    assert "not testable" not in exact
    claims = findings.claims(results(FAST, 0.2))
    assert "*4.8x faster*: **not supported**; reproduced 4.0." in claims


def test_each_results_section_names_the_claims_it_contradicts_with_their_reasons():
    rows = {
        "acc100-grokked": {"id": "acc100-grokked", "claim": "Grokked 33.14%", "verdict": "not supported",
                           "reason": "reproduced 27 % (95 % CI 20 % to 30 %, n = 5) vs claimed 33.14 %: outside the CI"},
        "acc100-random": {"id": "acc100-random", "claim": "Random 0.04%", "verdict": "inconclusive", "reason": "wide"},
        "budget-10k": {"id": "budget-10k", "claim": "10,000 epochs", "verdict": "supported", "reason": "ok"},
        "agreement-100": {"id": "agreement-100", "claim": "100% identical", "verdict": "supported", "reason": "ok"},
    }
    R = Results({"08-audit": {"numbers": {"claims": rows}, "params": {}}})
    text = findings.against_the_document(R, "transfer")
    assert ("Of the 3 claims of the document that this section tests (@tbl-claims-audit), this rerun "
            "contradicts 1, supports 1 and finds 1 inconclusive.") in text
    assert "- *Grokked 33.14%*: reproduced 27 % (95 % CI 20 % to 30 %, n = 5) vs claimed 33.14 %: outside the CI." in text
    assert "Random 0.04%" not in text                       # only contradicted claims are spelled out
    agreement = findings.against_the_document(R, "agreement")
    assert "Of the 1 claim of the document" in agreement and "this rerun supports 1." in agreement
    assert "contradicts" not in agreement and "- *" not in agreement
    assert findings.against_the_document(R, "dynamics") == ""  # no claims of that section in these results


def test_a_censored_speedup_is_given_as_a_lower_bound_with_the_cap():
    from grokpaper.multiseed import ratio_of_means

    random = [None, 21000, 19000, 22000, 20500]   # seed 1 never got there within the cap
    R = results({**FAST, "random": random}, test_p=0.001)
    for c in ("grokked", "memorized"):
        R["06-statistics", "speedups"][f"random_over_{c}_sustained_99_9pct"] = ratio_of_means(
            random, FAST[c], n_boot=100, cap=30000)
    text = findings.transfer_speed(R)
    bound = (30000 + 21000 + 19000 + 22000 + 20500) / 5 / (sum(FAST["grokked"]) / 5)
    assert f"at least {bound:.2f}× the epochs of grokked initialisation, counting its 1 censored run at the cap" in text
    assert "undefined" not in text
    assert text.split(": ", 1)[1].startswith("1 of 5 random runs never got there")
    assert ". Grokked 5,100" in text  # a sentence starts with a capital letter


def test_every_claim_about_results_belongs_to_a_results_section():
    from grokpaper import audit

    unplaced = [c.id for c in audit.CLAIMS if findings.section_of(c.id) is None and c.kind != "untestable"]
    assert unplaced == []
    assert findings.section_of("speedup-grokked") == "transfer" and findings.section_of("hardware") is None


def test_an_unbounded_speedup_interval_is_named_as_such():
    from grokpaper.multiseed import UNBOUNDED

    R = results(FAST, test_p=0.2)
    for ratio in R["06-statistics", "speedups"].values():
        ratio.update(value=15.8, ci_low=None, ci_high=None, note=UNBOUNDED, ci_unbounded=True)
    assert "15.80× (95 % CI unbounded: the denominator's mean is not distinguishable" in findings.transfer_speed(R)


def test_setbacks_name_the_runs_that_fell_back_and_count_collapses():
    # Two seeds; only seed 1's grokked run dipped: first 90 % at 290, back above it for good at 1,070.
    table = {"seed": [1, 1, 1, 2, 2, 2], "condition": list(CONDITIONS) * 2,
             "first 90%": [290, 8000, 19000, 250, None, 16000],
             "sustained 90%": [1070, 8000, 19000, 250, None, 16000]}
    dynamics = {"threshold": 0.999, "collapse_drop": 0.05,
                "by_condition": {c: {"runs with a collapse": int(c == "grokked"), "n runs": 2} for c in CONDITIONS},
                "table": {"condition": list(CONDITIONS) * 2,
                          "largest collapse": [0.164, None, None, None, None, None],
                          "unrecovered collapses": [0, 0, 0, 0, 0, 0]}}
    R = Results({"02-transfer": {"numbers": {"table": table}, "params": {"thresholds": [0.999, 0.9]}},
                 "07-dynamics": {"numbers": dynamics, "params": {}}})
    text = findings.setbacks(R)
    assert "below 90 % after first reaching it" in text
    assert "grokked: 1 of 2 runs (seed 1: first at epoch 290, sustained from 1,070)" in text
    assert "memorized: 0 of 2 runs" in text and "random: 0 of 2 runs" in text  # a never-reached run did not dip
    assert "grokked 1 of 2 (largest fall 16.4 points; all recovered); memorized 0 of 2" in text
    assert "more than 5 points" in text and "after 99 %" in text


def test_the_rank_test_floor_follows_the_number_of_seeds():
    from scipy import stats as sps

    # The floor is what scipy's exact test gives for two completely separated groups.
    assert stats.min_rank_p(3, 3) == sps.mannwhitneyu([1, 2, 3], [4, 5, 6], alternative="two-sided").pvalue
    assert abs(stats.min_rank_p(5, 5) - sps.mannwhitneyu(range(5), range(5, 10), alternative="two-sided").pvalue) < 1e-12

    def text(n):
        return findings.rank_test_floor(Results({"06-statistics": {"numbers": {"n_seeds": n}, "params": {}}}))

    assert "below 0.1 (0.3 after Holm over the 3 pairs of conditions)" in text(3) and "cannot reject" in text(3)
    assert "0.0079 (0.024 after Holm" in text(5) and "so it can reject at 0.05." in text(5)


def test_conditions_with_the_same_value_share_it():
    assert findings.values_in_prose({"grokked": "0.86 %", "memorized": "0.86 %", "random": "0.9 %"}) == (
        "0.86 % (grokked and memorized) and 0.9 % (random)")
    assert findings.values_in_prose({c: "1" for c in CONDITIONS}) == "1 (grokked, memorized and random)"
    assert findings.values_in_prose({"grokked": "1", "memorized": "2", "random": "3"}) == (
        "1 (grokked), 2 (memorized) and 3 (random)")
