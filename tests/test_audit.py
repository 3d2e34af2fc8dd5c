"""The claims audit (grokpaper.paper.audit): the verdict rule on its hard cases (rounding, censoring,
single-run claims, multiplicity), the claims data, and the sensitivity to runs that never
converged."""

import json
import re
from pathlib import Path

import pytest

from committed import COMMITTED
from grokpaper.paper import audit, contract, inference
from grokpaper.paper.audit import ClaimError, Estimate, RunValues, parse_printed
from grokpaper.paper.verdicts import (
    CATEGORIES,
    CONSISTENT,
    CONTRADICTED,
    DEFINITIONAL,
    INCONSISTENT,
    NOT_ESTABLISHED,
    NOT_TESTABLE,
    SUPPORTED,
)
from synthetic_study import CAP, study, with_relearning

ROOT = Path(__file__).resolve().parents[1]
DESIGN_DOCUMENT = ROOT.parent / "shared" / "spec" / "design-document.md"


def estimate(value, low=None, high=None, n=5, unit="value", **kw) -> Estimate:
    return Estimate("q", value, low, high, n=n, unit=unit, **kw)


def runs(values, unit="epochs", cap=CAP) -> RunValues:
    return RunValues("q", tuple((f"run {i}", v) for i, v in enumerate(values)), unit, cap)


# ----------------------------------------------------------------------------- printed precision

@pytest.mark.parametrize("text, value, tolerance", [
    ("5,545", 5545, 0.5), ("-1.000", -1.0, 0.0005), ("+0.00%", 0.0, 0.00005), ("33.14%", 0.3314, 0.00005),
    ("~8,000", 8000, 800), ("~67k", 67000, 6700), ("4.8x", 4.8, 0.05), ("0.828", 0.828, 0.0005),
    ("p < 0.001", 0.001, 0.0005),
])
def test_precision_comes_from_the_printed_string(text, value, tolerance):
    x = parse_printed(text)
    assert x.value == pytest.approx(value) and x.tolerance == pytest.approx(tolerance)


def test_printed_fractions_p_relations_and_words():
    assert parse_printed("1/113").value == pytest.approx(1 / 113) and parse_printed("1/113").tolerance == 0
    assert parse_printed("p < 0.001").relation == "<" and parse_printed("p = 0.72").relation == "="
    assert parse_printed("not significant").value is None


def test_minus_one_is_judged_with_the_correlation_margin_not_only_its_printed_digits():
    # "-1.000" prints +-0.0005, but a correlation's practical margin is 0.05: an interval reaching
    # -0.98 holds values within it, one stopping at -0.93 does not.
    verdict, reason = audit.judge_estimate(parse_printed("-1.000"), estimate(-0.926, -0.98, -0.741, n=15))
    assert verdict == CONSISTENT and "± 0.05 (practical margin" in reason
    verdict, reason = audit.judge_estimate(parse_printed("-1.000"), estimate(-0.85, -0.93, -0.741, n=15))
    assert verdict == CONTRADICTED and "outside the claim's tolerance" in reason


def test_zero_to_two_decimals_is_not_confirmed_by_a_value_far_from_zero():
    verdict, _ = audit.judge_estimate(parse_printed("+0.00%"), estimate(0.2, 0.1, 0.3, unit="fraction"))
    assert verdict == CONTRADICTED
    verdict, _ = audit.judge_estimate(parse_printed("+0.00%"), estimate(0.0, 0.0, 0.0, unit="fraction"))
    assert verdict == SUPPORTED


def test_inside_a_narrow_interval_is_supported_inside_a_wide_one_consistent_not_confirmed():
    assert audit.judge_estimate(parse_printed("0.828"), estimate(0.83, 0.80, 0.86))[0] == SUPPORTED
    verdict, reason = audit.judge_estimate(parse_printed("0.960"), estimate(0.77, 0.31, 1.0))
    assert verdict == CONSISTENT and "too wide" in reason


@pytest.mark.parametrize("low, high, verdict", [
    (0.2004, 0.368, CONSISTENT),     # the build's grokked accuracy at epoch 100 against "32%": holds it, reaches past
    (0.165, 0.475, CONSISTENT),      # a wider interval never becomes support
    (0.30, 0.34, SUPPORTED),         # within 32 % +- 10 % of it
    (0.36, 0.40, CONTRADICTED),      # wholly outside
])
def test_supported_needs_the_whole_interval_within_the_tolerance(low, high, verdict):
    got, reason = audit.judge_estimate(parse_printed("32%"), estimate((low + high) / 2, low, high, unit="share"))
    assert got == verdict and "10 % of the claimed value" in reason


def test_the_tolerance_is_the_printed_precision_or_the_margin_whichever_is_wider():
    assert audit.tolerance("mean", parse_printed("5,545"), "epochs").size == pytest.approx(554.5)
    assert audit.tolerance("mean", parse_printed("~8,000"), "epochs").size == pytest.approx(800)
    assert audit.tolerance("exact", parse_printed("114"), "count").size == 0.5       # no margin on exact numbers
    assert audit.tolerance("per-run", parse_printed("99.5%"), "share").size == pytest.approx(0.0005)


def test_a_single_value_without_interval_is_compared_within_rounding():
    assert audit.judge_exact(parse_printed("114"), estimate(114.0, n=1))[0] == SUPPORTED
    assert audit.judge_exact(parse_printed("~67k"), estimate(226_816.0, n=1))[0] == CONTRADICTED


# ----------------------------------------------------------------------------- censoring

def test_a_claimed_mean_is_not_rejected_because_one_run_is_censored():
    """Four runs at 17-22k and one still short of the threshold at the cap fit a mean of 26,442."""
    q = runs([21_810, 17_170, 17_800, None, 22_450])
    e = audit.mean_estimate(q, confidence=0.95)
    assert e.bound == "lower" and e.value == pytest.approx(21_846)
    verdict, reason = audit.judge_estimate(parse_printed("26,442"), e)
    assert verdict == CONSISTENT and "open above" in reason


def test_a_claimed_mean_below_the_restricted_mean_is_contradicted_even_with_censoring():
    verdict, reason = audit.judge_estimate(parse_printed("5,545"), audit.mean_estimate(runs([21_810, 17_170, 17_800, None, 22_450]), confidence=0.95))
    assert verdict == CONTRADICTED and "lower bound" in reason


def test_the_epoch_interval_of_skewed_runs_is_positive_not_a_truncated_symmetric_one():
    e = audit.mean_estimate(runs([1980, 480, 430, 380, 550]), confidence=0.95)
    assert e.ci_low > 0 and e.ci_high > e.value > e.ci_low and e.method.startswith("log-normal")


def test_sd_with_a_censored_run_is_a_lower_bound_and_cv_is_untestable():
    q = runs([21_810, 17_170, 17_800, None, 22_450])
    sd = audit.spread_estimate(q, confidence=0.95)
    assert sd.bound == "lower" and sd.value > 2_103
    assert audit.judge_estimate(parse_printed("2,103"), sd)[0] == CONTRADICTED
    assert audit.judge_estimate(parse_printed("8.0%"), audit.spread_estimate(q, cv=True, confidence=0.95))[0] == NOT_TESTABLE


def test_reach_by_fails_for_a_run_censored_beyond_the_epoch_and_is_unknown_before_it():
    assert audit.judge_per_run(parse_printed("10,000"), runs([500, None], cap=30_000), "reach_by")[0] == CONTRADICTED
    assert audit.judge_per_run(parse_printed("10,000"), runs([500, None], cap=5_000), "reach_by")[0] == NOT_TESTABLE
    assert audit.judge_per_run(parse_printed("10,000"), runs([500, 9_000]), "reach_by")[0] == SUPPORTED


# ----------------------------------------------------------------------------- a small study

def claim(id, quote, *checks, **kw) -> audit.Claim:
    return audit.Claim(id, quote, "Somewhere", kw.pop("paper_section", "transfer"),
                       tuple(audit.Check(**c) for c in checks), **kw)


def test_a_claim_about_some_runs_is_not_decided_by_another_run_being_censored():
    c = claim("g", "Grokked: 764 epochs", {"printed": "764", "kind": "mean",
                                          "of": {"quantity": "transfer", "column": "first {top}", "condition": "grokked"}})
    row = audit.audit(study(random_314=None), [c])[0]
    assert row.verdict != CONTRADICTED and "censored" not in row.reason
    one = claim("s", "Seed 42 reached it by epoch 2,000", {"printed": "2,000", "kind": "per-run", "op": "reach_by",
                                                          "of": {"quantity": "transfer", "column": "first {top}",
                                                                 "condition": "grokked"}})
    assert audit.audit(study(random_314=None), [one])[0].verdict == SUPPORTED


def test_the_speedup_row_carries_its_lower_bound():
    c = claim("speedup", "4.8x faster", {"printed": "4.8x", "kind": "ratio",
                                         "of": {"quantity": "speedup", "column": "first {top}", "numerator": "random",
                                                "denominator": "grokked"}})
    check = audit.audit(study(random_314=None), [c])[0].checks[0]
    assert check.bound == "lower" and check.value > 4.8 and check.reproduced.startswith(">= ")
    assert check.verdict == CONTRADICTED


# ----------------------------------------------------------------------------- p-values and multiplicity

def test_a_p_claim_is_judged_on_the_family_corrected_p_not_the_raw_one():
    raw_only = estimate(0.05, 0.01, 0.09, p=0.049, p_holm=0.147, family_size=30, null=0.0)
    assert audit.judge_p_value(parse_printed("p < 0.05"), raw_only, "<", ">")[0] == CONTRADICTED
    corrected = estimate(0.05, 0.01, 0.09, p=0.0004, p_holm=0.01, family_size=30, null=0.0)
    assert audit.judge_p_value(parse_printed("p = 0.024"), corrected, "<", ">")[0] == SUPPORTED
    verdict, reason = audit.judge_p_value(parse_printed("p < 0.001"), corrected, "<", ">")
    assert verdict == CONSISTENT and "not below the claimed" in reason and "family of 30 tests" in reason
    assert audit.judge_p_value(parse_printed("p = 0.024"), corrected, "<", "<")[0] == CONTRADICTED


def test_a_claimed_absence_of_difference_is_never_confirmed_by_a_non_significant_test():
    quiet = estimate(0.01, -0.2, 0.3, p=0.5, p_holm=1.0, family_size=30, null=0.0)
    assert audit.judge_p_value(parse_printed("p = 0.72"), quiet, ">=", None)[0] == CONSISTENT
    loud = estimate(0.3, 0.2, 0.4, p=1e-5, p_holm=1e-3, family_size=30, null=0.0)
    assert audit.judge_p_value(parse_printed("p = 0.72"), loud, ">=", None)[0] == CONTRADICTED


def test_family_tests_reach_the_audit_with_their_holm_p():
    c = claim("p", "Grokked faster (p < 0.001)", {"printed": "p < 0.001", "kind": "p-value", "op": "<", "direction": ">",
                                                 "of": {"quantity": "family_test", "test": "first {top}: random vs grokked"}})
    row = audit.audit(study(random_314=19_000), [c])[0]
    assert "Holm-corrected over the family of" in row.reason


@pytest.mark.parametrize("low, high, p_holm, verdict", [
    (1.2, 3.0, 0.01, SUPPORTED),            # significant after correction, on the predicted side
    (0.3, 0.8, 0.01, CONTRADICTED),         # significant, the other side
    (0.3, 1.9, 0.8, NOT_ESTABLISHED),       # not significant: not shown, and not shown absent
    (1.1, 2.0, 0.2, NOT_ESTABLISHED),       # significant before correction only: still not established
])
def test_an_effect_claimed_in_words_is_supported_or_contradicted_only_by_a_significant_corrected_test(low, high, p_holm, verdict):
    e = estimate((low * high) ** 0.5, low, high, unit="ratio", p=p_holm / 10, p_holm=p_holm, family_size=44, null=1.0)
    got, reason = audit.judge_effect(parse_printed("relearn faster"), e, ">")
    assert got == verdict and "family of 44 tests" in reason
    assert audit.judge_effect(parse_printed("relearn faster"), estimate(1.0, p_holm=None), ">")[0] == NOT_TESTABLE


@pytest.mark.parametrize("bound, low, high, direction, verdict", [
    ("lower", 0.3, 0.8, ">", NOT_ESTABLISHED),   # at least 0.3-0.8x: censoring leaves the '<' side open
    ("lower", 1.5, 3.0, ">", SUPPORTED),         # at least 1.5x: a lower bound can show '>'
    ("upper", 1.5, 3.0, ">", NOT_ESTABLISHED),   # at most 1.5-3x: it cannot show '>'
    ("upper", 0.3, 0.8, ">", CONTRADICTED),      # at most 0.8x: the other side, shown
    ("mixed", 1.5, 3.0, ">", NOT_ESTABLISHED),   # censored on both sides: no side
    (None, 0.3, 0.8, "<", SUPPORTED),            # a claim of '<' (slower), shown
])
def test_a_claimed_effect_is_never_given_a_side_that_censoring_leaves_open(bound, low, high, direction, verdict):
    e = estimate((low * high) ** 0.5, low, high, unit="ratio", p=0.001, p_holm=0.01, family_size=44, null=1.0,
                 bound=bound)
    got, reason = audit.judge_effect(parse_printed("faster"), e, direction)
    assert got == verdict, reason
    if got == NOT_ESTABLISHED:
        assert "side the data cannot tell" in reason


def test_a_claimed_effect_without_a_reference_value_has_no_side():
    no_null = estimate(2.0, 1.5, 3.0, unit="ratio", p=0.001, p_holm=0.01, family_size=44, null=None)
    assert audit.judge_effect(parse_printed("faster"), no_null, ">")[0] == NOT_ESTABLISHED
    # no interval (Page's L): the estimate against its reference value decides the side
    page = estimate(140.0, None, None, unit="value", p=0.001, p_holm=0.01, family_size=8, null=125.0)
    assert audit.judge_effect(parse_printed("scales"), page, ">")[0] == SUPPORTED
    assert audit.judge_effect(parse_printed("scales"), page, "<")[0] == CONTRADICTED
    quiet = estimate(126.0, None, None, unit="value", p=0.5, p_holm=1.0, family_size=8, null=125.0)
    verdict, reason = audit.judge_effect(parse_printed("scales"), quiet, ">")
    assert verdict == NOT_ESTABLISHED and "no interval" in reason


def test_a_claimed_effect_with_one_test_not_established_is_not_established():
    assert audit.combine([SUPPORTED, NOT_ESTABLISHED]) == NOT_ESTABLISHED
    assert audit.combine([NOT_ESTABLISHED, CONTRADICTED]) == CONTRADICTED
    assert audit.combine([NOT_ESTABLISHED, NOT_ESTABLISHED]) == NOT_ESTABLISHED


def test_a_claimed_effect_check_needs_its_side(tmp_path):
    bad = tmp_path / "claims.yaml"
    bad.write_text("""- id: h
  quote: "Hypothesis: Grokked models relearn faster"
  section: s
  paper_section: relearning
  checks:
    - {printed: "relearn faster", kind: effect, of: {quantity: family_test, test: "relearning 95%: random vs grokked"}}
""")
    with pytest.raises(ClaimError, match="claim 'h'.*'direction' must be '<' or '>'"):
        audit.load_claims(bad)


def test_an_effect_claimed_in_words_is_never_judged_as_a_claimed_p():
    """A p-value check asserting an effect is for a printed p ("p < 0.01"); an effect the document
    claims in words (a hypothesis, a finding) is the effect kind: not significant is not established."""
    for c in audit.load_claims():
        for check in c.checks:
            if check.kind == "p-value" and check.op == "<":
                assert check.printed.startswith("p "), (c.id, check.printed)
        if c.quote.startswith("Hypothesis:") and c.checks:
            assert {check.kind for check in c.checks} == {"effect"}, c.id


@pytest.mark.parametrize("p_holm, verdict", [(0.0153, CONSISTENT), (0.001, SUPPORTED), (0.2, CONTRADICTED)])
def test_p_equals_and_p_less_than_are_judged_against_the_printed_level(p_holm, verdict):
    """The build's convergence test: 'p = 0.003' was called supported at a Holm p of 0.0153."""
    test = estimate(35.0, 14.4, 85.2, unit="ratio", p=p_holm / 30, p_holm=p_holm, family_size=30, null=1.0)
    said = {wording: audit.judge_p_value(parse_printed(wording), test, "<", ">")[0]
            for wording in ("p = 0.003", "p < 0.003")}
    assert said == {"p = 0.003": verdict, "p < 0.003": verdict}


# ----------------------------------------------------------------------------- one claim, one row, one verdict

def test_a_claim_with_several_numbers_gets_one_verdict():
    assert audit.combine([SUPPORTED, CONTRADICTED, CONSISTENT]) == CONTRADICTED
    assert audit.combine([SUPPORTED, SUPPORTED]) == SUPPORTED
    assert audit.combine([SUPPORTED, NOT_TESTABLE]) == CONSISTENT
    assert audit.combine([NOT_TESTABLE, NOT_TESTABLE]) == NOT_TESTABLE
    assert audit.combine([DEFINITIONAL, DEFINITIONAL]) == DEFINITIONAL


def test_each_claim_is_one_entry_so_no_two_rows_of_one_quote_disagree():
    claims = audit.load_claims()
    wordings = [audit.plain_text(w) for c in claims for w in [c.quote, *(t for _, t in c.also_in)]]
    assert len(wordings) == len(set(wordings)), "a wording is listed under two claims"
    assert len({c.id for c in claims}) == len(claims)
    assert {c.paper_section for c in claims} <= set(audit.PAPER_SECTIONS)


@pytest.mark.skipif(not DESIGN_DOCUMENT.exists(), reason="../shared/spec/design-document.md is not beside the project")
def test_every_quote_is_printed_in_the_design_document():
    document = audit.plain_text(DESIGN_DOCUMENT.read_text())
    for c in audit.load_claims():
        for wording in [c.quote, *(t for _, t in c.also_in)]:
            assert audit.plain_text(wording) in document, f"{c.id}: {wording!r} is not in the design document"


def test_a_bad_claims_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "claims.yaml"
    bad.write_text("- {id: x, quote: 'Speed 4.8x', section: S, paper_section: transfer,\n"
                   "   checks: [{printed: '5.1x', kind: ratio, of: {quantity: speedup}}]}\n")
    with pytest.raises(ValueError, match="claim 'x'.*not in the quote"):
        audit.load_claims(bad)
    bad.write_text("- {id: x, quote: 'Speed 4.8x', section: S, paper_section: transfer,\n"
                   "   checks: [{printed: '4.8x', kind: guess, of: {quantity: speedup}}]}\n")
    with pytest.raises(ValueError, match="field 'kind' must be one of"):
        audit.load_claims(bad)


GROKKED_EPOCHS = {"quantity": "transfer", "column": "first {top}", "condition": "grokked"}


def test_a_claim_about_seed_42_alone_is_judged_on_seed_42():
    # The synthetic grokked runs: seed 42 at 1,980 epochs, the five seeds' mean about 764.
    alone = claim("s42", "Grokked: 1,980 epochs", {"printed": "1,980", "kind": "mean", "seeds": (42,), "of": GROKKED_EPOCHS})
    every = claim("all", "Grokked: 1,980 epochs", {"printed": "1,980", "kind": "mean", "of": GROKKED_EPOCHS})
    row = audit.audit(study(random_314=19_000), [alone])[0]
    assert row.verdict == SUPPORTED and row.checks[0].seeds == [42] and row.checks[0].value == 1980
    assert row.reason.startswith("seed 42 alone:") and "[all seeds: 764" in row.reason
    assert audit.audit(study(random_314=19_000), [every])[0].verdict == CONSISTENT   # the five runs' wide interval
    other = claim("s7", "Grokked: 1,980 epochs", {"printed": "1,980", "kind": "mean", "seeds": (7,), "of": GROKKED_EPOCHS})
    assert audit.audit(study(random_314=19_000), [other])[0].verdict == CONTRADICTED   # seed 7 took 480


@pytest.mark.parametrize("check, field", [
    ("{printed: '4.8x', kind: ratio, seed: 42, of: {quantity: speedup}}", "'seed'"),
    ("{printed: '4.8x', kind: ratio, of: {quantity: transfer, column: x, seed: 42}}", "'of.seed'"),
    ("{printed: '4.8x', kind: ratio, seeds: 42, of: {quantity: transfer, column: x}}", "'seeds'"),
    ("{printed: '4.8x', kind: p-value, op: '<', seeds: [42], of: {quantity: family_test, test: t}}", "'seeds'"),
    ("{printed: '4.8x', kind: ratio, of: {quantity: guess}}", "'of.quantity'"),
])
def test_a_malformed_claim_is_one_error_naming_the_claim_and_the_field(tmp_path, check, field):
    bad = tmp_path / "claims.yaml"
    bad.write_text(f"- {{id: x, quote: 'Speed 4.8x', section: S, paper_section: transfer,\n   checks: [{check}]}}\n")
    with pytest.raises(ClaimError, match=rf"claims\.yaml, claim 'x'.*{re.escape(field)}"):
        audit.load_claims(bad)


def test_a_check_that_fails_while_evaluated_names_its_claim():
    broken = audit.Claim("b", "q", "S", "transfer", (audit.Check("1", "mean", {"quantity": "transfer", "column": "x",
                                                                              "nonsense": 1}),))
    with pytest.raises(ClaimError, match="claim 'b', check '1'"):
        audit.audit(study(random_314=19_000), [broken])


# ----------------------------------------------------------------------------- sensitivity

def test_a_verdict_that_rests_on_a_non_converged_run_names_it():
    c = claim("sub", "All models: >99.5% subtraction accuracy",
              {"printed": "99.5%", "kind": "per-run", "op": ">=",
               "of": {"quantity": "retention", "column": "transfer_acc_test", "role": "transfer"}},
              paper_section="retention")
    row = audit.audit(study(random_314=None), [c])[0]
    assert row.verdict == CONTRADICTED and row.without_nonconverged == SUPPORTED
    assert row.depends_on == ["random seed 314"] and "without it the data say supported" in row.reason
    assert audit.audit(study(random_314=19_000), [c])[0].depends_on == []


def test_counts_keep_data_verdicts_and_document_inconsistencies_apart():
    claims = [claim("df", "t(3) = 8.42", {"printed": "8.42", "kind": "mean",
                                          "of": {"quantity": "transfer", "column": "test acc at 100", "condition": "grokked"}},
                    inconsistent={"check": "df_impossible", "df": 3}),
              claim("vocab", "114 tokens", {"printed": "114", "kind": "definitional", "of": {"quantity": "vocab_size"}},
                    paper_section="methods"),
              claim("hw", "A100", untestable="hardware", paper_section="resources")]
    rows = audit.audit(study(random_314=19_000), claims)
    counts = audit.verdict_counts(rows)
    assert [r.verdict for r in rows] == [INCONSISTENT, DEFINITIONAL, NOT_TESTABLE]
    assert counts[INCONSISTENT] == counts[DEFINITIONAL] == counts[NOT_TESTABLE] == 1
    assert sum(counts[c] for c in CATEGORIES) == counts["total"] == 3
    assert counts["inconsistent, by what the data say"][CONTRADICTED] == 1


def test_consistency_checks():
    assert "df between 4 and 8" in audit.df_impossible(3)
    assert audit.df_impossible(4) is None
    assert "cannot fail" in audit.vacuous_z(2.0, 5) and audit.vacuous_z(2.0, 10) is None
    assert "3 of 9" in audit.overlap_mismatch({3, 6, 12, 23, 31, 37}, {1, 6, 23, 37, 39, 41}, 3, 12)
    assert audit.exceeds_budget(26_442) and audit.exceeds_budget(5_545) is None
    assert audit.restated_differently("33.14%", "32%", "x") and audit.restated_differently("33.14%", "33%", "x") is None
    assert "226,816 parameters" in audit.architecture_params("~67k") and audit.architecture_params("~227k") is None


# ----------------------------------------------------------------------------- the committed audit

def test_every_committed_claim_row_has_a_reproduced_value_or_says_why_not():
    for row in COMMITTED.audit.claims.values():
        if not row.checks:
            assert row.verdict == NOT_TESTABLE and row.reason, row.id
        for check in row.checks:
            assert check.reproduced != "n/a" or check.reason.startswith(("no reproduced value", "the test is undefined")), \
                (row.id, check.printed)
            if check.bound == "lower":
                assert check.reproduced.startswith(">="), (row.id, check.printed)


def test_the_committed_counts_add_up():
    counts = COMMITTED.audit.counts
    judged_here = [c for c in audit.load_claims() if c.paper_section != audit.FUTURE_WORK]   # chapter 16 judges those
    assert sum(counts.of(c) for c in CATEGORIES) == counts.total == len(judged_here)
    assert not re.search(r"\bnot supported\b", json.dumps(contract.plain(counts)))


def test_every_family_test_a_claim_names_is_one_the_family_computes():
    # Claims name family tests by id (data in claims.yaml); the family builds its ids with
    # contract.family_test_id: a renamed quantity must fail here, not leave a claim untestable.
    from synthetic_study import with_controls

    family = set(inference.family(with_controls(with_relearning(study())), 0.95)["test"])
    named = [(c.id, test.replace("{top}", "99.9%"))
             for c in audit.load_claims() if c.paper_section != audit.FUTURE_WORK
             for check in c.checks if check.of["quantity"] in ("family_test", "correlation")
             for test in (check.of["test"], *check.also)]
    assert named and [(claim, test) for claim, test in named if test not in family] == []


def test_a_control_claim_reads_the_familys_control_tests_and_names_its_also_tests_at_the_top_threshold():
    from synthetic_study import with_controls

    c = claim("m", "Meta-level transfer is common", {
        "printed": "common", "kind": "effect", "direction": ">",
        "also": ["first {top}: random vs norm-matched"],
        "of": {"quantity": "family_test", "test": "first {top}: random vs embeddings-only"}}, paper_section="what-transfers")
    row = audit.audit(with_controls(study(random_314=None)), [c])[0]
    assert "first 99.9%: random vs embeddings-only" in row.reason
    assert "[first 99.9%: random vs norm-matched: Holm p" in row.reason and "{top}" not in row.reason


# ----------------------------------------------------------------------------- the future-work hypotheses

def task_family(**p_of) -> dict:
    """A family of chapters 13-16 as chapter 16 saves it, its three hypotheses' tests with the given
    (estimate, ci_low, ci_high, p); Holm over them and one more test."""
    from grokpaper.paper import task_tokens as tt

    rows = [tt._row(tt.REPLAY_HYPOTHESIS_TEST, "14-replay", "difference", *p_of["replay"][:3], 5, p_of["replay"][3]),
            tt._row(tt.MULTITASK_HYPOTHESIS_TEST, "15-multitask", "overlap difference", *p_of["multitask"][:3], 5,
                    p_of["multitask"][3]),
            tt._row(tt.SIMILARITY_HYPOTHESIS_TEST, "16-similarity", "trend", *p_of["similarity"][:3], 5,
                    p_of["similarity"][3]),
            tt._row("13 other", "13-task-tokens", "ratio", 2.0, 1.5, 3.0, 5, 0.5),
            tt._row("13 undefined", "13-task-tokens", "ratio", None, None, None, 1, None)]   # no p: not counted
    return tt.task_family(rows)


def test_the_future_work_hypotheses_are_judged_on_their_tests_in_the_task_family():
    from grokpaper.paper import task_tokens as tt

    claims = [c for c in audit.load_claims() if c.paper_section == audit.FUTURE_WORK]
    assert {check.of["test"] for c in claims for check in c.checks} == set(tt.HYPOTHESIS_TESTS)
    assert all(check.kind == "effect" for c in claims for check in c.checks)
    # chapter 08's audit leaves them out: their runs and their family are chapters 13-16's
    assert not {c.id for c in claims} & {r.id for r in audit.audit(study(random_314=19_000), claims=None)}
    family = task_family(replay=(0.3, 0.2, 0.4, 0.001),             # a gain, significant after Holm over 4: supported
                         multitask=(0.05, -0.1, 0.2, 0.4),          # holds no effect: not established
                         similarity=(-0.8, -1.0, -0.6, 0.002))   # a trend the other way
    rows = {r.id: r for r in audit.future_work_audit(family, {"confidence": 0.95, "thresholds": [0.999]})}
    assert rows["future-replay"].verdict == SUPPORTED and "family of 4 tests" in rows["future-replay"].reason
    # what the chapter says of a test reaches the audit's reason
    noted = audit.future_work_audit(family, {"confidence": 0.95}, notes={tt.MULTITASK_HYPOTHESIS_TEST: "seed 7 left out"})
    assert "seed 7 left out" in {r.id: r for r in noted}["future-multitask"].reason
    assert rows["future-multitask"].verdict == NOT_ESTABLISHED
    # a difference of chance-corrected overlaps is a value, not a share: no percentage
    assert "effect 0.05 (95 % CI -0.1 to 0.2, n = 5)" in rows["future-multitask"].reason
    assert rows["future-similarity"].verdict == CONTRADICTED      # mean rho below 0: the reverse order
    flipped = task_family(replay=(0.3, 0.2, 0.4, 0.001), multitask=(0.05, -0.1, 0.2, 0.4),
                          similarity=(0.8, 0.6, 1.0, 0.002))
    assert {r.id: r.verdict for r in audit.future_work_audit(flipped, {"confidence": 0.95})}["future-similarity"] == SUPPORTED
