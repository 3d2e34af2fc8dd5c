"""The values the article's sentences state, read from the typed results (``report.Results``).

The sentences themselves are written in ``paper.qmd``; each function here gives one number or
one short formatted value for an inline ``{python}`` expression ("≥ 35.0× (95 % CI 14.4–85.2)",
"1 of 5 random runs", "21 of 21 (2.2 expected by chance, Holm-corrected p < 0.001)"). What a
sentence claims about these values is checked by ``guard``. Nothing here holds a result typed
by hand, and no function picks the wording of a finding.
"""

from __future__ import annotations

import pandas as pd
import yaml

from grokpaper.analysis.stats import is_missing, min_rank_p
from grokpaper.paper import contract
from grokpaper.paper.contract import (
    FIRST,
    REUSE_TEST,
    ROAD_TEST,
    SUSTAINED,
    correlation_quantity,
    epochs_column,
    family_test_id,
    pct,
)
from grokpaper.paper.inference import WITHIN
from grokpaper.paper.intervals import ci
from grokpaper.paper.original import load_original_run
from grokpaper.paper.report import bound_sign, count, fmt
from grokpaper.paper.verdicts import ALPHA, CATEGORIES

RANDOM = "random"


# ----------------------------------------------------------------------------- words

def and_(names) -> str:
    """'a', 'a and b', 'a, b and c'."""
    names = list(names)
    if not names:
        return ""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def or_(names) -> str:
    """'a', 'a or b', 'a, b or c'."""
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def sentence(text: str) -> str:
    """``text`` as the start of a sentence: 'random seed 314 ...' -> 'Random seed 314 ...'."""
    return text[:1].upper() + text[1:]


def p_text(p: float) -> str:
    """'p < 0.001', 'p = 0.0097' or 'p = 0.20' (two significant digits, a trailing zero kept);
    'p n/a' where there is no test."""
    if is_missing(p):
        return "p n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:#.2g}"


def yaml_block(key: str, text: str) -> str:
    """``text`` as a YAML metadata block of one ``key`` (Quarto runs no inline code in the front
    matter; pandoc takes a later metadata block's value): how the article states its abstract."""
    return "---\n" + yaml.safe_dump({key: text}, allow_unicode=True, width=100) + "---\n"


# ----------------------------------------------------------------------------- the build

def conditions(R) -> list[str]:
    """The transfer conditions of this build, in the study's order."""
    return list(R.statistics.conditions)


def from_sources(R) -> list[str]:
    """The conditions that transferred from an addition source (all but random initialisation)."""
    return [c for c in conditions(R) if c != RANDOM]


def highest(R) -> float:
    """The highest test-accuracy threshold (0.999)."""
    return max(R.params(contract.Transfer)["thresholds"])


def top(R) -> str:
    """The highest threshold as the text writes it: '99.9%'."""
    return pct(highest(R))


def lowest(R) -> str:
    """The lowest threshold as the text writes it: '90%'."""
    return pct(min(R.params(contract.Transfer)["thresholds"]))


def cap(R) -> str:
    """The transfer runs' epoch cap: '30,000'."""
    return fmt(R.statistics.cap)


def claimed(R, claim_id: str, check: int = 0) -> str:
    """The design document's value for a claim, as it prints it (quoted from the audit, not a result)."""
    return R.audit.claims[claim_id].checks[check].printed


# ----------------------------------------------------------------------------- transfer speed

def speedup(R, condition: str, kind: str = FIRST) -> contract.FamilyTest:
    """The family's test of random initialisation against ``condition``: epochs to the highest
    threshold, per-seed ratio random / condition."""
    return R.statistics.test(epochs_column(kind, highest(R)), RANDOM, condition)


def ratio(R, condition: str, kind: str = FIRST, digits: int = 1) -> str:
    """'≥ 35.0× (95 % CI 14.4–85.2)': how many times as many epochs random initialisation needed,
    geometric mean over seeds with its interval; '≥' when a censored run makes it a lower bound."""
    row = speedup(R, condition, kind)
    if is_missing(row.estimate):
        return "undefined (no seed has a run of both that reached it)"
    head = ("≥ " if row.bound == "lower" else "") + f"{fmt(row.estimate, digits)}×"
    interval = ci(row.ci_low, row.ci_high, row.confidence, digits)
    return f"{head} ({interval})" if interval else head


def holm_p(R, condition: str, without_nonconverged: bool = False) -> str:
    """The Holm-corrected p of a speed-up's test (epochs to first reach the highest threshold,
    random vs ``condition``): 'p = 0.0097', 'p < 0.001' or 'p n/a'; with ``without_nonconverged``
    the family recomputed without the runs that never converged."""
    try:
        p = R.statistics.test(epochs_column(FIRST, highest(R)), RANDOM, condition,
                              without_nonconverged=without_nonconverged).p_holm
    except KeyError:  # no such test: e.g. no run is left once the non-converged ones are
        return "p n/a (no test)"
    return "p n/a" if is_missing(p) else p_text(p)


def family_size(R) -> int:
    """Tests in the paper's family (Holm's correction runs over all of them)."""
    return R.statistics.family_size


FAMILY_PARTS = {"pairwise": "comparisons of pairs of conditions", "correlation": "correlation tests",
                "frequency": "frequency-reuse tests", "relearning": "relearning tests",
                "controls": "tests of controls and transplants"}


def family_parts(R) -> str:
    """'18 comparisons of pairs of conditions, 2 correlation tests and 10 frequency-reuse tests'."""
    return and_(f"{n} {FAMILY_PARTS.get(g, g)}" for g, n in R.statistics.family_parts.items() if n)


def transfer_table(R) -> pd.DataFrame:
    """The transfer runs, one row each (chapter 02's table)."""
    return pd.DataFrame(R.transfer.table)


def _censored(R) -> pd.DataFrame:
    table = transfer_table(R)
    return table[table[epochs_column(FIRST, highest(R))].isna()]


def n_censored(R) -> int:
    """Transfer runs that never reached the highest threshold within the cap."""
    return len(_censored(R))


def censored(R) -> str:
    """'1 of 5 random runs' (per condition) that never reached the highest threshold within the cap."""
    table, missing = transfer_table(R), _censored(R)
    return and_(f"{k} of {int((table['condition'] == c).sum())} {c} runs"
                for c in conditions(R) if (k := int((missing["condition"] == c).sum())))


def censored_ends(R) -> str:
    """Where the censored runs ended: 'random seed 314: train accuracy 100.0 %, test accuracy 0.6 %'."""
    return "; ".join(f"{r['condition']} seed {r['seed']}: train accuracy {fmt(r['final train acc'], 1, percent=True)}, "
                     f"test accuracy {fmt(r['final test acc'], 1, percent=True)}" for _, r in _censored(R).iterrows())


def restricted_mean(R, condition: str, kind: str = FIRST) -> str:
    """The restricted mean of epochs to the highest threshold: '764', or '≥ 21,846' with a censored run."""
    t = R.statistics.time_to_threshold[contract.metric_key(epochs_column(kind, highest(R)))][contract.metric_key(condition)]
    return ("≥ " if t.mean_is_a_lower_bound else "") + fmt(t.restricted_mean)


def after_convergence(R, condition: str) -> str:
    """'28,020–29,620': the epochs a condition's runs trained after first reaching the highest
    threshold, up to the end of the run where the circuits are read (runs that never got there
    left out)."""
    table = transfer_table(R)
    rows = table[(table["condition"] == condition) & table[epochs_column(FIRST, highest(R))].notna()]
    left = rows["epochs trained"] - rows[epochs_column(FIRST, highest(R))]
    return f"{fmt(left.min())}–{fmt(left.max())}" if len(left) else "none (no run got there)"


def censored_progress(R) -> str:
    """What each censored run did after its test loss peaked: 'random seed 314: test loss 34.1 → 25.8
    and test accuracy 0.07 % → 0.62 % from epoch 2,010 (its highest test loss) to 30,000'."""
    return "; ".join(
        f"{r['condition']} seed {r['seed']}: test loss {fmt(r['peak test loss'], 1)} → {fmt(r['final test loss'], 1)} "
        f"and test accuracy {fmt(r['test acc at loss peak'], 2, percent=True)} → {fmt(r['final test acc'], 2, percent=True)} "
        f"from epoch {fmt(r['test loss peak at'])} (its highest test loss) to {fmt(r['epochs trained'])}"
        for _, r in _censored(R).iterrows()) or "no run was censored"


def original_source(R) -> str:
    """The original study's grokked source, from its saved outputs: 'one weight-decay-0.1 checkpoint
    trained 107,791 epochs'."""
    source = load_original_run().protocol["grokked_source"]
    return f"one weight-decay-{source['weight_decay']:g} checkpoint trained {fmt(source['epochs'])} epochs"


def jumps(R) -> str:
    """The original run's seed-42 largest single-epoch jumps: '5,545 (grokked: a jump of 37.6 %), ...'."""
    jumps = R.transfer.original_comparison.seed42_largest_jumps
    return and_(f"{fmt(j.epoch)} ({c}: a jump of {fmt(j.size, 1, percent=True)})" for c, j in jumps.items())


# ----------------------------------------------------------------------------- retention

def coincident_pairs(R) -> str:
    """The test pairs per seed whose two targets coincide (b = 0): '68–79'."""
    n = R.retention.n_coincident_test.values()
    return f"{fmt(min(n))}–{fmt(max(n))}"


def coincident_shares(R) -> str:
    """Their share of each seed's test split: '0.76 %–0.88 %'."""
    shares = R.retention.perfect_transfer_score_test.values()
    return f"{fmt(min(shares), 2, percent=True)}–{fmt(max(shares), 2, percent=True)}"


def retained(R, condition: str) -> str:
    """Correct source-task answers on the pairs where the targets differ: '10.2 per run on average (at most 51)'."""
    d = R.retention.n_source_correct_where_targets_differ[condition]
    return f"{fmt(d.mean, 1)} per run on average (at most {fmt(d.max)})"


# ----------------------------------------------------------------------------- circuits

def _holm(R, quantity: str, model: str) -> float | None:
    statistics = R.statistics
    return statistics.test(quantity, model).p_holm if statistics.has_test(quantity, model) else None


def reuse(R, model: str) -> str:
    """'21 of 21 (2.2 expected by chance, Holm-corrected p < 0.001)': key frequencies of a model
    kind that are its own seed's grokked source's, summed over seeds."""
    r = R.circuits.frequency_reuse[model]
    p = _holm(R, REUSE_TEST, model)
    return (f"{r.observed} of {r.total} ({fmt(r.expected, 1)} expected by chance, Holm-corrected "
            f"{'p n/a' if is_missing(p) else p_text(p)})")


def reuse_by_condition(R) -> str:
    """``reuse`` of every transfer condition: 'grokked: 21 of 21 (...); memorized: ...'."""
    models = R.circuits.frequency_reuse
    return "; ".join(f"{c}: {reuse(R, c)}" for c in conditions(R) if c in models)


def road_overlap(R, model: str) -> str:
    """A starting point's overlap with its grokked source: '29 of its grokked source's 30 key
    frequencies (13.1 expected by chance for sets of its size, Holm-corrected p < 0.001)'."""
    r = R.circuits.frequency_reuse[model]
    p = _holm(R, REUSE_TEST, model)
    return (f"{r.observed} of its grokked source's {r.reference_total} key frequencies ({fmt(r.expected, 1)} expected "
            f"by chance for sets of its size, Holm-corrected {'p n/a' if is_missing(p) else p_text(p)})")


def road_matching(R, model: str) -> str:
    """Own seed's source against other seeds': '5.8 per seed with its own seed's source against 2.3
    with other seeds' (permutation p = 0.0083; the smallest possible at 5 seeds is 0.0083)'."""
    m = R.circuits.frequency_reuse[model].seed_matching
    if m is None:
        return "no seed matching (fewer than 2 seeds)"
    return (f"{fmt(m.own_mean, 1)} per seed with its own seed's source against {fmt(m.cross_mean, 1)} with other "
            f"seeds' (uncorrected permutation p = {m.p:#.2g}; the smallest possible at {m.n_seeds} seeds is {m.min_p:.2g})")


def road_holm(R, model: str) -> str:
    """The Holm-corrected p of the seed-matching test of a model: 'p = 0.23'."""
    p = _holm(R, ROAD_TEST, model)
    return "p n/a" if is_missing(p) else p_text(p)


def attention_every_input(R, model: str) -> str:
    """'20 of 20 heads': heads of a model kind with at least the focus threshold on one operand for
    every single input."""
    s = R.circuits.attention_summary[model]
    return f"{s.on_one_operand_every_input} of {s.heads} heads"


def attention_lowest(R, model: str) -> str:
    """'0.95': over a model kind's heads and all inputs, the smallest weight a head puts on the
    position it attends to most."""
    return fmt(R.circuits.attention_summary[model].smallest_min_weight, 2)


def attention_sd(R, model: str) -> str:
    """'0.20–0.24': the range over a model kind's heads of the per-input sd of the weight on a."""
    s = R.circuits.attention_summary[model]
    return f"{fmt(s.sd_a_lowest, 2)}–{fmt(s.sd_a_highest, 2)}"


def relative_change(R, model: str) -> str:
    """'0.6–1.6×': the range over the weight matrices (biases aside) of ‖W − W₀‖ / ‖W₀‖ during
    transfer, each the mean over seeds."""
    rel = [v for name, v in R.circuits.weight_change[model].relative.items()
           if not name.split(".")[-1].startswith("b_") and not is_missing(v)]
    return f"{fmt(min(rel), 1)}–{fmt(max(rel), 1)}×"


def attention(R) -> str:
    """Heads attending from "=" to one operand, per model kind: 'grokked: 20 of 20 heads (11 on a, 9 on b); ...'."""
    summary = R.circuits.attention_summary
    return "; ".join(f"{m}: {s.on_one_operand} of {s.heads} heads ({s.on_a} on a, {s.on_b} on b)"
                     for m in ("grokked_source", *conditions(R)) if (s := summary.get(m)))


# ----------------------------------------------------------------------------- statistics

def correlation(R, scope: str = "all runs") -> contract.FamilyTest:
    """The family's Spearman correlation of early accuracy with epochs to the highest threshold."""
    return R.statistics.test(correlation_quantity(epochs_column(FIRST, highest(R))), scope)


def rho(R, scope: str = "all runs") -> str:
    """'−0.93 (95 % CI −0.98 to −0.74)'."""
    row = correlation(R, scope)
    text, interval = fmt(row.estimate, 2), ci(row.ci_low, row.ci_high, row.confidence, 2, to=True)
    return f"{text} ({interval})" if interval else text


def within_rhos(R) -> str:
    """The correlation in each condition alone (descriptive): 'grokked −0.10, memorized −0.70 and random −0.31'."""
    quantity = correlation_quantity(epochs_column(FIRST, highest(R)))
    rows = [(c, R.statistics.test(quantity, c, secondary=True)) for c in conditions(R)
            if family_test_id(quantity, c) in R.statistics.secondary]
    return and_(f"{c} {fmt(r.estimate, 2)}" for c, r in rows if not is_missing(r.estimate)) or "undefined"


def within_test(R) -> contract.FamilyTest:
    """The family's test of a relation within conditions (stratified permutation)."""
    return correlation(R, WITHIN)


def within_text(R) -> str:
    """'mean within-condition rho −0.48, Holm-corrected p = 0.21 (stratified permutation test)'."""
    row = within_test(R)
    return (f"mean within-condition rho {fmt(row.estimate, 2)}, Holm-corrected "
            f"{'p n/a' if is_missing(row.p_holm) else p_text(row.p_holm)} "
            f"(uncorrected {'p n/a' if is_missing(row.p) else p_text(row.p)})")


def nonconverged(R, why: bool = True) -> str:
    """'random seed 314 (never reached 99.9% test accuracy ...)', the runs that never converged."""
    return and_(f"{r.condition} seed {r.seed}" + (f" ({r.why})" if why else "") for r in R.statistics.nonconverged)


def significance_flips(R) -> str:
    """Which tests change significance without the runs that never converged: '1 test changes
    significance: first 99.9%: random vs memorized (Holm p 0.19 with it, 0.036 without)'."""
    full, without = R.statistics.family, R.statistics.family_without_nonconverged
    flips = [t for t, row in full.items() if t in without and not is_missing(row.p_holm)
             and not is_missing(without[t].p_holm) and (row.p_holm < ALPHA) != (without[t].p_holm < ALPHA)]
    if not flips:
        return "no test changes significance"
    return (f"{count(len(flips), 'test')} {'changes' if len(flips) == 1 else 'change'} significance: " + "; ".join(
        f"{t} (Holm p {full[t].p_holm:#.2g} with it, {without[t].p_holm:#.2g} without)" for t in flips))


def wilcoxon_floor(R) -> str:
    """The smallest two-sided p of the exact Wilcoxon signed-rank test at this number of seeds."""
    return f"{2 / 2 ** R.statistics.n_seeds:#.2g}"


def mann_whitney_floor(R) -> str:
    """The smallest two-sided p of the exact Mann-Whitney test with this number of seeds per group."""
    n = R.statistics.n_seeds
    return f"{min_rank_p(n, n):#.2g}"


def mann_whitney_floor_after_holm(R) -> str:
    """That smallest p after Holm's correction over the family (its smallest p is multiplied by
    the family's size): '0.24'."""
    n = R.statistics.n_seeds
    return f"{min(1.0, min_rank_p(n, n) * R.statistics.family_size):#.2g}"


# ----------------------------------------------------------------------------- dynamics

def setbacks(R) -> str:
    """Runs whose test accuracy fell back below the lowest threshold after first reaching it:
    'grokked: 1 of 5 runs (seed 42: first at epoch 290, sustained from 1,070); ...'."""
    low = min(R.params(contract.Transfer)["thresholds"])
    first, sustained = epochs_column(FIRST, low), epochs_column(SUSTAINED, low)
    transfer, parts = transfer_table(R), []
    for c in conditions(R):
        rows = transfer[transfer["condition"] == c]
        fell = rows[rows[sustained] > rows[first]]            # never-reached runs (NaN) compare False
        text = f"{c}: {len(fell)} of {len(rows)} runs"
        if len(fell):
            text += " (" + "; ".join(f"seed {r['seed']}: first at epoch {fmt(r[first])}, sustained from "
                                     f"{fmt(r[sustained])}" for _, r in fell.iterrows()) + ")"
        parts.append(text)
    return "; ".join(parts)


def collapses(R) -> str:
    """Runs with a collapse, per condition: 'grokked 1 of 5 (largest fall 16.4 points; all recovered); ...'."""
    runs, parts = pd.DataFrame(R.dynamics.table), []
    for c in conditions(R):
        d, rows = R.dynamics.by_condition[c], runs[runs["condition"] == c]
        text = f"{c} {d.runs_with_a_collapse} of {d.n_runs}"
        if rows["largest collapse"].notna().any():
            unrecovered = int(rows["unrecovered collapses"].sum())
            text += (f" (largest fall {fmt(100 * rows['largest collapse'].max(), 1)} points; "
                     + ("all recovered" if unrecovered == 0 else f"{unrecovered} never recovered") + ")")
        parts.append(text)
    return "; ".join(parts)


# ----------------------------------------------------------------------------- the audit

def claims_in(R, section: str) -> str:
    """The claims of the design document a section of the paper tests (the claim's
    ``paper_section``) by verdict: '3 claims, of which 1 inconsistent within the document and 2 definitional'."""
    rows = [r for r in R.audit.claims.values() if r.paper_section == section]
    said = and_(f"{n} {v}" for v in CATEGORIES if (n := sum(r.verdict == v for r in rows)))
    return f"{count(len(rows), 'claim')}, of which {said}" if rows else "none"


MARGIN_UNITS = {"epochs": "epochs", "ratio": "ratios", "count": "counts", "share": "accuracies and shares",
                "fraction": "other fractions", "value": "correlations"}


def margins(R) -> str:
    """The audit's practical margins in words: '10 % of the claimed value for epochs, ratios, counts,
    accuracies and shares and other fractions; 0.05 for correlations'."""
    by_words: dict[str, list[str]] = {}
    for unit, words in R.audit.margins.items():
        by_words.setdefault(words, []).append(MARGIN_UNITS.get(unit, unit))
    return "; ".join(f"{words} for {and_(units)}" for words, units in by_words.items())


def shared(R, model: str) -> str:
    """'21 of 21': a model kind's key frequencies that are its own seed's grokked source's, over seeds."""
    r = R.circuits.frequency_reuse[model]
    return f"{r.observed} of {r.total}"


def not_established(R) -> str:
    """'3 claimed effects': the effects the document claims in words that the data leave not
    established (the audit's count)."""
    return count(R.audit.counts.not_established, "claimed effect")


def verdicts(R) -> str:
    """The verdict counts: '2 supported, 15 contradicted by the data, ... and 15 not testable'."""
    counts = R.audit.counts
    return and_(f"{counts.of(v)} {v}" for v in CATEGORIES if counts.of(v))


# ----------------------------------------------------------------------------- what carries the transfer

def control_test(R, condition: str, against: str = RANDOM) -> contract.FamilyTest:
    """The family's test of a control or transplant (chapter 12, corrected in chapter 06): epochs
    to the top threshold, first reached, ``against``'s over ``condition``'s, paired by seed."""
    return R.statistics.test(epochs_column(FIRST, highest(R)), against, condition)


def control_ratio(R, condition: str, against: str = RANDOM, digits: int = 1, interval: bool = True) -> str:
    """'≥ 12.0× (95 % CI 6.1–25.0; Holm-corrected p = 0.0011)': the speed-up of ``condition`` over
    ``against`` (``against``'s epochs to the top threshold over the condition's), geometric mean over
    seeds with its interval and the Holm p over the paper's family; '≥' / '≤' when censored runs
    make it a lower / upper bound; without ``interval``: '≥ 12.0× (Holm-corrected p = 0.0011)'."""
    t = control_test(R, condition, against)
    if is_missing(t.estimate):
        return "undefined (no seed has a run of both that reached it)"
    head = f"{bound_sign(t.bound)}{fmt(t.estimate, digits)}×"
    said = ci(t.ci_low, t.ci_high, t.confidence, digits) if interval else ""
    return f"{head} ({said + '; ' if said else ''}Holm-corrected {p_text(t.p_holm)})"


def nonconverged_sensitivity(R, condition: str) -> str:
    """'p = 0.054 without the run that never converged, not below 0.05' or '..., still below
    0.05': the Holm p of random vs ``condition`` with the family recomputed without the runs that
    never converged, and which side of ALPHA it falls (either wording is what the data say)."""
    runs = "the run" if len(R.statistics.nonconverged) == 1 else "the runs"
    try:
        p = R.statistics.test(epochs_column(FIRST, highest(R)), RANDOM, condition, without_nonconverged=True).p_holm
    except KeyError:
        return f"no test without {runs} that never converged"
    if is_missing(p):
        return f"p n/a without {runs} that never converged"
    side = f"still below {ALPHA}" if p < ALPHA else f"not below {ALPHA}"
    return f"{p_text(p)} without {runs} that never converged, {side}"


def ablation_effect(R, condition: str, where: str, point: str = "end") -> str:
    """'loss 69.9 (random frequencies: 0.0000; 5 of 5 seeds beyond every draw)': chapter 12's
    key-frequency ablation of ``condition`` at ``point``, removed from ``where`` (medians over seeds)."""
    e = R.what_transfers.ablation[condition][point][where]
    return (f"loss {fmt(e.key_loss, 3)} (random frequencies: {fmt(e.random_loss, 4)}; {e.n_beyond_every_draw} of "
            f"{e.n_models} seeds beyond every draw)")


def phases(R, condition: str, point: str = "end") -> str:
    """'same phase 0.70, flipped phase 0.11': chapter 12's phase coherences of operand b's inputs to
    the neurons against operand a's, mean over seeds."""
    s = R.what_transfers.sign_flip[condition][point]
    return f"same phase {fmt(s.within_same, 2)}, flipped phase {fmt(s.within_flipped, 2)}"


def heads_on_one_operand(R, condition: str, point: str = "end") -> str:
    """'5 of 5': chapter 12's models of ``condition`` at ``point`` whose every head reads one operand."""
    s = R.what_transfers.sign_flip[condition][point]
    return f"{s.n_every_head_one_operand} of {s.n_models}"


def head_effect(R, condition: str, point: str = "end") -> str:
    """'9.05 (median over 5 models; the smallest 0.0003)': chapter 12's largest loss increase when
    one head of a ``condition`` model is mean-ablated, median over models, and the smallest."""
    h = R.what_transfers.heads[condition][point]
    return f"{fmt(h.top_increase, 3)} (median over {count(h.n_models, 'model')}; the smallest {fmt(h.least_increase, 3)})"


def verdict(R, claim_id: str) -> str:
    """The audit's verdict on one claim of the design document: 'contradicted by the data'."""
    return R.audit.claims[claim_id].verdict


def quote(R, claim_id: str) -> str:
    """The design document's words of one claim, as the audit quotes them."""
    return R.audit.claims[claim_id].claim
