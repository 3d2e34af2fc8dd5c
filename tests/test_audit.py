"""The claims audit's verdict rule (grokpaper.audit): general code, tested on made-up claims."""

import pytest

from grokpaper import audit
from grokpaper.audit import INCONCLUSIVE, NOT_SUPPORTED, NOT_TESTABLE, SUPPORTED, Claim, Reproduced, verdict
from grokpaper.report import Results


def claim(claimed, kind="estimate", unit="epochs", **kw):
    return Claim("x", "s", "quote", claimed, unit, kind, **kw)


def test_estimate_inside_and_outside_ci():
    rep = Reproduced(value=5000.0, ci_low=4800.0, ci_high=5200.0, n=5, n_total=5)
    assert verdict(claim(5100), rep)[0] == SUPPORTED
    v, reason = verdict(claim(5545), rep)
    assert v == NOT_SUPPORTED and "outside the CI" in reason and "5,545" in reason


def test_a_ci_too_wide_to_confirm_the_claim_is_inconclusive():
    # Two seeds with a wide spread: the CI holds the claim and values far from it alike.
    wide = Reproduced(value=0.0975, ci_low=-0.50, ci_high=0.70, n=2, n_total=2)
    v, reason = verdict(claim(0.3314, unit="fraction"), wide)
    assert v == INCONCLUSIVE and "too wide" in reason
    # Just within half the claimed value on both sides: informative enough to support it.
    assert verdict(claim(0.3314, unit="fraction"), Reproduced(value=0.30, ci_low=0.17, ci_high=0.49, n=5, n_total=5))[0] == SUPPORTED
    # A wide CI that excludes the claim still refutes it.
    assert verdict(claim(0.9, unit="fraction"), wide)[0] == NOT_SUPPORTED


def test_rounding_and_approx_tolerance():
    rep = Reproduced(value=0.8284, ci_low=0.8284, ci_high=0.8284, n=5, n_total=5)
    assert verdict(claim(0.828, unit="fraction"), rep)[0] == SUPPORTED      # half a unit of 0.001
    assert verdict(claim(0.827, unit="fraction"), rep)[0] == NOT_SUPPORTED
    near = Reproduced(value=540.0, n=1, n_total=1)
    assert verdict(claim(500, approx=True), near)[0] == SUPPORTED           # within 10 %
    v, reason = verdict(claim(500, approx=True), Reproduced(value=600.0, n=1, n_total=1))
    assert v == NOT_SUPPORTED and reason.endswith("differs by more than rounding")


def test_an_unbounded_ci_neither_confirms_nor_refutes():
    from grokpaper.multiseed import UNBOUNDED

    ratio = Reproduced(value=15.8, n=4, n_total=4, note=UNBOUNDED, unbounded=True)
    v, reason = verdict(claim(4.8, unit="ratio"), ratio)
    assert v == INCONCLUSIVE and "its 95 % CI is unbounded: the denominator's mean" in reason and "15.8" in reason


def test_censored_runs_below_and_beyond_cap():
    rep = Reproduced(value=None, n=0, n_total=5, cap=30000)
    assert verdict(claim(5545), rep)[0] == NOT_SUPPORTED                    # should have reached by 5,545 < cap
    short = Reproduced(value=None, n=0, n_total=2, cap=600)
    assert verdict(claim(5545), short)[0] == NOT_TESTABLE                   # cap too short to tell
    jump = claim(0.376, unit="fraction", by_epoch=5545)
    assert verdict(jump, rep)[0] == NOT_SUPPORTED
    assert verdict(claim(0.376, unit="fraction"), rep)[0] == NOT_TESTABLE   # implies no epoch


def test_inconsistent_claims_are_not_supported_whatever_the_data():
    rep = Reproduced(value=0.003, n=10, t=8.0, df=7.9)
    check = audit.df_impossible(3, n_per_group=5)
    v, reason = verdict(claim(0.003, kind="p_equal", unit="p"), rep, check())
    assert v == NOT_SUPPORTED and "df between 4 and 8" in reason
    # The reason still gives what the rerun found, judged on the data alone.
    assert "on the data alone: reproduced t(7.9) = 8, p = 0.003 (n = 10)" in reason and "(supported)" in reason
    v, reason = verdict(claim(26442), Reproduced(value=21810.0, ci_low=20000.0, ci_high=23000.0, n=5, n_total=5),
                        audit.exceeds_budget(26442)())
    assert v == NOT_SUPPORTED and reason.endswith("outside the CI (not supported)") and "21,810" in reason
    # Nothing reproduced: the inconsistency alone.
    assert verdict(claim(26442), None, "x") == (NOT_SUPPORTED, "inconsistent: x")
    assert audit.df_impossible(4, 5)() is None
    assert "10,000" in audit.exceeds_budget(26442)() and audit.exceeds_budget(5545)() is None
    assert "1.79" in audit.vacuous_z(2.0, 5)() and audit.vacuous_z(2.0, 15)() is None
    assert "3 of 9" in audit.overlap_mismatch({1, 2, 3, 4, 5, 6}, {1, 2, 3, 7, 8, 9}, 3, 12)()


def test_bounds_reach_by_p_values_categories():
    accs = Reproduced(values=(0.999, 1.0, 0.996))
    assert verdict(claim(0.995, kind="at_least", unit="fraction"), accs)[0] == SUPPORTED
    assert verdict(claim(0.997, kind="at_least", unit="fraction"), accs)[0] == NOT_SUPPORTED
    assert verdict(claim(0.02, kind="at_most", unit="fraction"), Reproduced(values=(0.01, 0.03)))[0] == NOT_SUPPORTED
    largest_z = Reproduced(values=(0.7, 1.2, 0.5), values_are="conditions' largest |z|")
    assert verdict(claim(2.0, kind="at_most", unit="z"), largest_z)[1].startswith("highest of 3 conditions' largest |z| is 1.2")
    epochs = Reproduced(values=(5000, None), cap=30000)
    assert verdict(claim(10000, kind="reach_by"), epochs)[0] == NOT_SUPPORTED
    assert verdict(claim(10000, kind="reach_by"), Reproduced(values=(5000, None), cap=600))[0] == NOT_TESTABLE
    assert verdict(claim(10000, kind="reach_by"), Reproduced(values=(5000, 9000), cap=30000))[0] == SUPPORTED
    assert verdict(claim(10000, kind="reach_by"), Reproduced(values=(5000, 12000), cap=30000))[0] == NOT_SUPPORTED
    assert verdict(claim(0.001, kind="p_below", unit="p"), Reproduced(value=0.0004, n=10))[0] == SUPPORTED
    assert verdict(claim(0.72, kind="p_equal", unit="p"), Reproduced(value=1e-9, n=5))[0] == NOT_SUPPORTED
    assert verdict(claim(0.05, kind="p_above", unit="p"), Reproduced(value=0.3, n=10))[0] == SUPPORTED
    tops = Reproduced(values=(37, 37, 12))
    assert verdict(claim(37, kind="category", unit="frequency"), tops)[0] == SUPPORTED
    assert verdict(claim(27, kind="category", unit="frequency"), tops) == (
        NOT_SUPPORTED, "most common over 3 runs: 37 (2 of 3 runs); claimed 27 in 0 of 3 runs")
    # No value repeats: the claimed one is not "most common" even if a run has it.
    all_differ = verdict(claim(9, kind="category", unit="frequency"), Reproduced(values=(9, 48, 23)))
    assert all_differ == (NOT_SUPPORTED, "all 3 runs differ (9, 48, 23); claimed 9 in 1 of 3 runs")


def test_untestable_and_missing_upstream():
    hw = Claim("hw", "s", "A100", None, "text", "untestable", why_untestable="hardware")
    assert verdict(hw, None) == (NOT_TESTABLE, "hardware")
    with pytest.raises(ValueError, match="why_untestable"):
        Claim("hw", "s", "A100", None, "text", "untestable")
    with pytest.raises(ValueError, match="kind"):
        claim(1, kind="guess")
    row = audit.evaluate(claim(5, reproduce=audit.described("02-transfer", "x")), Results({}))
    assert row["verdict"] == NOT_TESTABLE and "not run yet" in row["reason"]


def test_a_value_without_spread_is_stated_as_such_not_as_a_ci():
    same = Reproduced(value=150.0, ci_low=150.0, ci_high=150.0, n=4, n_total=4)
    v, reason = verdict(claim(500), same)
    assert v == NOT_SUPPORTED and reason.startswith("reproduced 150 in each of the 4 runs vs claimed 500")


def test_claims_quoted_more_than_once_are_told_apart():
    # "All models at random chance (p = 0.72)" is tested per condition; the ± of "0.94% ± 0.11%" separately.
    texts = [(c.quote, c.section) for c in audit.CLAIMS]
    assert len(texts) == len(set(texts)), [t for t in texts if texts.count(t) > 1]


def test_registry_runs_on_empty_results_and_has_unique_ids():
    ids = [c.id for c in audit.CLAIMS]
    assert len(ids) == len(set(ids)) and len(ids) > 50
    rows = audit.audit(Results({}))
    counts = audit.verdict_counts(rows)
    assert counts["total"] == len(ids) and sum(counts[v] for v in audit.VERDICTS) == len(ids)
    by_id = {r["id"]: r for r in rows}
    assert by_id["t-convergence"]["verdict"] == NOT_SUPPORTED          # t(3) with 5 seeds, whatever the runs
    assert by_id["hardware"]["verdict"] == NOT_TESTABLE
    assert by_id["params-67k"]["verdict"] == NOT_SUPPORTED              # 226,816 computed from the model


def test_sd_ci_contains_sd():
    lo, hi = audit.sd_ci(2.0, 5)
    assert lo < 2.0 < hi
    assert audit.sd_ci(2.0, 1) == (None, None)


def test_at_chance_is_tested_where_chance_and_subtraction_differ():
    # Both a guessing model and a perfect subtraction model score about 1/p on addition overall;
    # only on pairs whose targets differ do they part: 1/p for guessing, 0 for subtraction.
    chance_claim = next(c for c in audit.CLAIMS if c.id == "chance-equals-094")

    def rows(values):
        table = {"role": ["source"] + ["transfer"] * len(values), "source_acc_distinct_test": [1.0, *values]}
        return Results({"03-retention": {"numbers": {"table": table}, "params": {}}})

    forgot = audit.evaluate(chance_claim, rows([0.0, 0.0, 0.0001, 0.0, 0.0002, 0.0]))
    assert forgot["verdict"] == NOT_SUPPORTED and "outside the CI" in forgot["reason"] and forgot["n"] == 6
    guessing = audit.evaluate(chance_claim, rows([1 / 113 + d for d in (-4e-4, 3e-4, 1e-4, -2e-4, 2e-4, 0.0)]))
    assert guessing["verdict"] == SUPPORTED


def test_the_audit_table_shows_claimed_values_in_their_units():
    rows = audit.audit(Results({}))
    table = audit.display_table(rows)
    table.index = [r["id"] for r in rows]
    assert list(table.columns) == ["claim", "claimed", "verdict", "reason"]
    assert table.loc["acc100-grokked", "claimed"] == "33.14 %"
    assert table.loc["epochs999-grokked", "claimed"] == "5,545"
    assert table.loc["p-grokked-random", "claimed"] == "0.001"
    assert table.loc["hardware", "claimed"] == "–"
    assert table.loc["t-convergence", "claim"].endswith("(Experiment 5)")


def test_a_jump_claim_is_tested_under_both_readings():
    # "37.6% jump at epoch 5,545": the jump into the first 99.9 % evaluation, or each run's largest jump.
    from grokpaper import stats
    claims = {c.id: c for c in audit.CLAIMS}
    grokked = {"jump into 99.9%": stats.describe([0.001, 0.002, 0.0015]).as_dict(),
               "largest jump": stats.describe([0.37, 0.38, 0.375]).as_dict()}
    results = Results({"07-dynamics": {"numbers": {"by_condition": {"grokked": grokked}}, "params": {}},
                       "02-transfer": {"numbers": {"cap": 30000}, "params": {}}})
    assert audit.evaluate(claims["jump-grokked"], results)["verdict"] == NOT_SUPPORTED
    assert audit.evaluate(claims["jump-largest-grokked"], results)["verdict"] == SUPPORTED
    # The random run's epoch (26,442) exceeds the document's own 10,000-epoch runs under either reading.
    assert audit.evaluate(claims["jump-largest-random"], results)["verdict"] == NOT_SUPPORTED


def test_intervals_are_truncated_to_the_range_of_the_quantity():
    from grokpaper import stats
    # Three seeds' accuracies near 0: the t-interval reaches below 0 %, which no accuracy can.
    accs = stats.describe([0.001, 0.02, 0.012]).as_dict()
    assert accs["ci_low"] < 0
    results = Results({"01-sources": {"numbers": {"memorized_test_acc": accs}, "params": {}},
                       "02-transfer": {"numbers": {"cap": 30000}, "params": {}}})
    share = Claim("x", "s", "q", 0.5, "share", "estimate", reproduce=audit.described("01-sources", "memorized_test_acc"))
    row = audit.evaluate(share, results)
    assert row["ci_low"] == 0.0 and "95 % CI 0 % to" in row["reason"] and row["verdict"] == NOT_SUPPORTED
    # A "fraction" may be a difference (a gain can be negative): left as computed.
    gain = Claim("x", "s", "q", 0.5, "fraction", "estimate", reproduce=audit.described("01-sources", "memorized_test_acc"))
    assert audit.evaluate(gain, results)["ci_low"] < 0
