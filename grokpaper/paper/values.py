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
from grokpaper.paper.audit import ALPHA, CATEGORIES
from grokpaper.paper.contract import FIRST, REUSE_TEST, SUSTAINED, correlation_quantity, epochs_column, pct
from grokpaper.paper.report import count, fmt

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
    """'p < 0.001' or 'p = 0.0097'."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}"


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
    if is_missing(row.ci_low):
        return head
    return f"{head} ({round(100 * row.confidence)} % CI {fmt(row.ci_low, digits)}–{fmt(row.ci_high, digits)})"


def holm_p(R, condition: str, kind: str = FIRST) -> str:
    """The Holm-corrected p of a speed-up's test: 'p = 0.0097', 'p < 0.001' or 'p n/a'."""
    p = speedup(R, condition, kind).p_holm
    return "p n/a" if is_missing(p) else p_text(p)


def family_size(R) -> int:
    """Tests in the paper's family (Holm's correction runs over all of them)."""
    return R.statistics.family_size


FAMILY_PARTS = {"pairwise": "comparisons of pairs of conditions", "retention": "retention tests",
                "correlation": "correlations", "frequency": "frequency-reuse tests"}


def family_parts(R) -> str:
    """'14 comparisons of pairs of conditions, 4 retention tests, 4 correlations and 9 frequency-reuse tests'."""
    return and_(f"{n} {FAMILY_PARTS.get(g, g)}" for g, n in R.statistics.family_parts.items() if n)


def _transfers(R) -> pd.DataFrame:
    return pd.DataFrame(R.transfer.table)


def _censored(R) -> pd.DataFrame:
    table = _transfers(R)
    return table[table[epochs_column(FIRST, highest(R))].isna()]


def n_censored(R) -> int:
    """Transfer runs that never reached the highest threshold within the cap."""
    return len(_censored(R))


def censored(R) -> str:
    """'1 of 5 random runs' (per condition) that never reached the highest threshold within the cap."""
    table, missing = _transfers(R), _censored(R)
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
            f"seeds' (permutation p = {m.p:.2g}; the smallest possible at {m.n_seeds} seeds is {m.min_p:.2g})")


def own_seed_clause(R, model: str) -> str:
    """How a model's overlap with its own seed's grokked source compares with other seeds' (the
    seed-matching permutation test at ALPHA), as a clause after a semicolon."""
    m = R.circuits.frequency_reuse[model].seed_matching
    if m is None or is_missing(m.p):
        return "with fewer than 2 seeds there is no seed matching to compare"
    if m.p < ALPHA:
        return ("but more with its own seed's grokked source than with other seeds': the initial weights "
                "already tilt which frequencies the circuit keeps")
    return "and no more with its own seed's grokked source than with other seeds'"


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
    text = fmt(row.estimate, 2)
    if is_missing(row.ci_low):
        return text
    return f"{text} ({round(100 * row.confidence)} % CI {fmt(row.ci_low, 2)} to {fmt(row.ci_high, 2)})"


def within_rhos(R) -> str:
    """The within-condition correlations: 'grokked −0.10, memorized −0.70 and random −0.31'."""
    quantity = correlation_quantity(epochs_column(FIRST, highest(R)))
    rows = [(c, R.statistics.test(quantity, c)) for c in conditions(R) if R.statistics.has_test(quantity, c)]
    return and_(f"{c} {fmt(r.estimate, 2)}" for c, r in rows if not is_missing(r.estimate)) or "undefined"


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
        f"{t} (Holm p {full[t].p_holm:.2g} with it, {without[t].p_holm:.2g} without)" for t in flips))


def wilcoxon_floor(R) -> str:
    """The smallest two-sided p of the exact Wilcoxon signed-rank test at this number of seeds."""
    return f"{2 / 2 ** R.statistics.n_seeds:.2g}"


def mann_whitney_floor(R) -> str:
    """The smallest two-sided p of the exact Mann-Whitney test with this number of seeds per group."""
    n = R.statistics.n_seeds
    return f"{min_rank_p(n, n):.2g}"


# ----------------------------------------------------------------------------- dynamics

def setbacks(R) -> str:
    """Runs whose test accuracy fell back below the lowest threshold after first reaching it:
    'grokked: 1 of 5 runs (seed 42: first at epoch 290, sustained from 1,070); ...'."""
    low = min(R.params(contract.Transfer)["thresholds"])
    first, sustained = epochs_column(FIRST, low), epochs_column(SUSTAINED, low)
    transfer, parts = _transfers(R), []
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


def verdicts(R) -> str:
    """The verdict counts: '2 supported, 15 contradicted by the data, ... and 15 not testable'."""
    counts = R.audit.counts
    return and_(f"{counts.of(v)} {v}" for v in CATEGORIES if counts.of(v))
