"""The findings in words (grokpaper.paper.findings): the wording follows the numbers it is given."""

import math

import pytest

from grokpaper.analysis import stats
from grokpaper.paper import audit, findings
from grokpaper.paper.report import Results

CONDITIONS = ("grokked", "memorized", "memorized-fixed", "random")
SEEDS = [42, 7, 99, 314, 123]


def family_row(test, estimate, low, high, p_holm, bound=None, effect="ratio", n=5, null=1.0):
    return {"test": test, "estimate": estimate, "ci_low": low, "ci_high": high, "p": p_holm / 10, "p_holm": p_holm,
            "bound": bound, "effect": effect, "n": n, "null": null, "note": ""}


def results(p_holm: float = 0.001, censored: bool = False, retained: int = 0, depends: int = 0) -> Results:
    """Made-up saved numbers of a 5-seed, 4-condition study."""
    params = {"thresholds": [0.9, 0.999], "transfer_task": "subtract", "p": 113, "seeds": SEEDS, "weight_decay": 1.0,
              "transfer_max_epochs": 30000, "memorized_fixed_epochs": 2000}
    family = {}
    for c, ratio in (("grokked", 30.0), ("memorized", 2.5), ("memorized-fixed", 3.0)):
        test = f"first 99.9%: random vs {c}"
        family[test] = family_row(test, ratio, ratio / 2, ratio * 2, p_holm, bound="lower" if censored else None)
    base = "test acc at 100 vs first 99.9%"
    family[f"{base}: all runs"] = family_row(f"{base}: all runs", -0.9, -0.97, -0.7, 1e-5, effect="rho", n=20, null=0.0)
    for c in CONDITIONS:
        family[f"{base}: {c}"] = family_row(f"{base}: {c}", -0.3, -0.9, 0.7, 1.0, effect="rho", null=0.0)
    family["key frequencies shared with the own grokked source: grokked"] = family_row(
        "key frequencies shared with the own grokked source: grokked", 21, math.nan, math.nan, 1e-20,
        effect="shared", null=2.25)
    without = {t: {**row, "p_holm": 0.2 if t.startswith("first") else row["p_holm"]} for t, row in family.items()}
    table02 = {"condition": [c for c in CONDITIONS for _ in SEEDS], "seed": SEEDS * 4,
               "first 99.9%": [None if (censored and c == "random" and s == 314) else 1000.0 for c in CONDITIONS for s in SEEDS],
               "final train acc": [1.0] * 20,
               "final test acc": [0.006 if (censored and c == "random" and s == 314) else 1.0 for c in CONDITIONS for s in SEEDS]}
    differ = {c: stats.describe([retained] * 5).as_dict() for c in CONDITIONS}
    reuse = {"grokked": {"observed": 21, "expected": 2.25,
                         "seeds": [{"seed": s, "size": 4, "reference size": 5, "shared": 4} for s in SEEDS[:4]]
                         + [{"seed": 123, "size": 5, "reference size": 6, "shared": 5}], "p": 1e-24, "seed_matching": None}}
    claims = {"speedup-grokked": {"id": "speedup-grokked", "paper_section": "transfer", "verdict": audit.INCONSISTENT,
                                  "checks": [{"printed": "4.8x"}]},
              "epochs-grokked": {"id": "epochs-grokked", "paper_section": "transfer", "verdict": audit.CONTRADICTED}}
    counts = {c: 0 for c in audit.CATEGORIES}
    counts.update({audit.INCONSISTENT: 1, audit.CONTRADICTED: 1, "total": 2, "depend on a non-converged run": depends,
                   "inconsistent, by what the data say": {v: 0 for v in audit.DATA_VERDICTS} | {audit.CONTRADICTED: 1}})
    numbers06 = {"conditions": list(CONDITIONS), "family": family, "family_without_nonconverged": without,
                 "family_size": 57, "family_parts": {"pairwise": 30, "retention": 8, "correlation": 5, "frequency": 14},
                 "cap": 30000, "n_seeds": 5,
                 "nonconverged": [{"condition": "random", "seed": 314, "why": "never reached 99.9%"}] if censored else []}
    return Results({
        "02-transfer": {"numbers": {"table": table02, "original_comparison": {"retention_split": {
            "split_seed": 0, "test_pairs": 8939, "b0_test_pairs": 84, "b0_test_share": 84 / 8939}}}, "params": params},
        "03-retention": {"numbers": {"n_source_correct_where_targets_differ": differ,
                                     "perfect_transfer_score_test": {str(s): 0.0085 for s in SEEDS},
                                     "n_coincident_test": {str(s): 76 for s in SEEDS}}, "params": params},
        "05-circuits": {"numbers": {"frequency_reuse": reuse, "min_neuron_count": 5, "p": 113}, "params": params},
        "06-statistics": {"numbers": numbers06, "params": params},
        "08-audit": {"numbers": {"claims": claims, "counts": counts}, "params": params},
    })


def test_a_significant_speedup_is_named_with_its_ratio_interval_and_family():
    text = findings.transfer_speed(results(p_holm=0.001))
    assert "grokked 30.0× (95 % CI 15.0–60.0), significant" in text
    assert "Holm-corrected p = 0.001 over the 57 tests" in text and "never got there" not in text


def test_a_non_significant_speedup_is_not_called_one():
    text = findings.transfer_speed(results(p_holm=0.2))
    assert "not significant" in text and ", significant" not in text


def test_a_censored_run_makes_the_speedup_a_lower_bound_and_says_where_it_ended():
    text = findings.transfer_speed(results(censored=True))
    assert "≥ 30.0×" in text and "1 of 5 random runs never got there within the cap of 30,000 epochs" in text
    assert "random seed 314: train accuracy 100.0 %, test accuracy 0.6 %" in text and "no run is left out" in text


def test_retention_says_no_answer_was_kept_only_when_none_was():
    assert "grokked: not one in any of its 5 runs" in findings.retention(results(retained=0))
    assert "The design document's 0.94 % is that share on the original study's split (84 of 8,939" in \
        findings.retention(results())
    text = findings.retention(results(retained=3))
    assert "not one" not in text and "grokked: 3.0 per run on average (at most 3)" in text


def test_frequency_reuse_calls_a_subset_only_when_every_seed_is_one():
    text = findings.frequency_reuse(results())
    assert "grokked: 21 of 21 (2.2 expected by chance; above chance, Holm-corrected p < 0.001)" in text
    assert "Every grokked transfer's key frequencies are a subset of its own source's" in text


def test_the_pooled_correlation_is_set_beside_the_within_condition_ones():
    text = findings.correlations(results())
    assert "-0.90" in text and "within conditions it is grokked -0.30" in text


def test_sensitivity_names_the_run_and_the_tests_that_change():
    text = findings.sensitivity(results(censored=True, depends=4))
    assert "Random seed 314" in text and "3 tests change significance" in text and "4 audit verdicts" in text
    assert "no sensitivity analysis" in findings.sensitivity(results(censored=False))


def test_the_audit_counts_and_the_section_lines_read_the_audit():
    counts = findings.audit_counts(results(depends=2))
    assert "Of the design document's 2 quantitative claims, 1 contradicted by the data and 1 inconsistent" in counts
    assert "2 verdicts change without the runs" in counts
    line = findings.audit_in_section(results(), "transfer")
    assert "2 claims, of which 1 contradicted by the data and 1 inconsistent within the document" in line
    assert findings.audit_in_section(results(), "agreement") == ""


def test_the_abstract_quotes_the_claim_from_the_audit_and_states_computed_numbers():
    text = findings.abstract(results(censored=True))
    assert "4.8×" in text and "≥ 30.0×" in text and "21 of their 21 key" in text
    assert "No grokked, memorized or memorized-fixed transfer kept a single addition answer" in text
    assert "memorized after 2,000 epochs" in text
    block = findings.abstract_block(results())
    assert block.startswith("---\nabstract:") and block.endswith("---\n")


@pytest.mark.parametrize("n, expected", [(3, "0.1"), (5, "0.0079")])
def test_the_rank_test_floor_follows_the_number_of_seeds(n, expected):
    r = results()
    r.blobs["06-statistics"]["numbers"]["n_seeds"] = n
    assert f"not below {expected}" in findings.rank_test_floor(r)


def test_conclusions_are_one_sentence_each_and_follow_the_tests():
    text = findings.conclusions(results(p_holm=0.001))
    assert text.count("\n- ") + text.startswith("- ") == 4
    assert "Transfer from a grokked, memorized and memorized-fixed source reaches 99.9% on subtraction sooner" in text
    assert "No starting point reaches" in findings.conclusions(results(p_holm=0.2))
