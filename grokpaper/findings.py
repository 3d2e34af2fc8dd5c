"""The paper's conclusions in words, chosen by the computed results.

Each function reads the saved numbers of the chapters (``report.Results``) and returns
Markdown: which way a comparison went, whether it is significant, how many runs were
censored. The wording is picked by the data (a difference is called significant only when
its Holm-corrected Welch test says so; a claim is called confirmed only when the audit's
verdict is "supported"), so the same text is right for any profile and any outcome.
Nothing here holds a result typed by hand.
"""

from __future__ import annotations

import math

import pandas as pd

from grokpaper.audit import ALPHA  # one significance level for the audit and the conclusions
from grokpaper.dynamics import COLLAPSE_AFTER
from grokpaper.multiseed import metric_key
from grokpaper.report import EPOCH_RANGE, count, fmt, summary_text
from grokpaper.stats import is_missing, min_rank_p
from grokpaper.tables import pct

# The design document's central claims, by audit id: the conclusions report their verdicts.
HEADLINE_CLAIMS = (
    "speedup-grokked", "speedup-memorized", "p-grokked-random", "budget-10k",
    "memorized-test-50pct", "acc100-grokked", "retention-p-grokked", "chance-equals-094",
    "agreement-100", "specialization-p", "top-freq-grokked", "overlap-2-of-10",
)


def p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}"


def threshold_metric(kind: str, threshold: float) -> str:
    """Results key of an epochs-to-threshold metric: ('sustained', 0.999) -> 'sustained_99_9pct'."""
    return metric_key(f"{kind} {100 * threshold:g}%")


def contrast(R, metric: str, a: str, b: str, *, digits: int = 0, percent: bool = False,
             bounds: tuple | None = None) -> str:
    """'a: mean (CI); b: mean (CI); a is significantly lower (Welch ..., Holm p ...)', or says the
    difference is not significant, or why it cannot be tested (censored runs, too few seeds)."""
    summary = R["06-statistics", "summary", metric]
    test = R["06-statistics", "tests", metric, f"{a}_vs_{b}"]
    values = f"{a} {summary_text(summary[a], digits, percent, bounds)}, {b} {summary_text(summary[b], digits, percent, bounds)}"
    p = test.get("p_t_holm")
    if is_missing(p):
        censored = any(summary[c]["n_reached"] < summary[c]["n_total"] for c in (a, b))
        why = "too few runs reached it" if censored else (test.get("note") or "too few runs")
        return f"{values}; the difference cannot be tested ({why})"
    stat = f"Welch t({test['df']:.1f}) = {test['t']:.2f}, Holm-corrected {p_text(p)}"
    if not is_missing(test.get("p_rank_holm")):
        stat += f"; Mann-Whitney Holm-corrected {p_text(test['p_rank_holm'])}"
    if p < ALPHA:
        direction = "lower" if summary[a]["mean"] < summary[b]["mean"] else "higher"
        return f"{values}; {a} is significantly {direction} ({stat})"
    return f"{values}; the difference is not significant at {ALPHA} ({stat})"


def _censoring(R, metric: str, conditions) -> str:
    """'k of n random runs never got there within the cap of C epochs', then where each of them
    ended (train and test accuracy at the cap: memorised without generalising, or neither)."""
    cap = fmt(R["06-statistics", "cap"])
    parts, ends = [], []
    for c in conditions:
        d = R["06-statistics", "summary", metric, c]
        missing = d["n_total"] - d["n_reached"]
        if missing:
            parts.append(f"{missing} of {d['n_total']} {c} runs")
            ends += [f"{c} seed {s}: {_final_accuracy(R, c, s)}" for s in d.get("censored", [])]
    if not parts:
        return ""
    text = f"{' and '.join(parts)} never got there within the cap of {cap} epochs"
    return text + (f" (at the cap, {'; '.join(ends)}). " if ends else ". ")


def _final_accuracy(R, condition: str, seed) -> str:
    """'train accuracy 100 %, test accuracy 0.6 %' of one transfer run at its end."""
    table = R["02-transfer", "table"]
    row = [i for i, (c, s) in enumerate(zip(table["condition"], table["seed"])) if c == condition and s == seed]
    if not row:
        return "no record"
    i = row[0]
    return (f"train accuracy {fmt(table['final train acc'][i], 1, percent=True)}, "
            f"test accuracy {fmt(table['final test acc'][i], 1, percent=True)}")


def transfer_speed(R, conditions=("grokked", "memorized", "random")) -> str:
    """Epochs to sustained top-threshold accuracy on the new task: tests, speed-ups, censoring."""
    top = max(R.params("02-transfer")["thresholds"])
    metric = threshold_metric("sustained", top)
    text = (f"**Speed of transfer.** Epochs to sustained {fmt(top, 1, percent=True)} test accuracy on "
            f"the transfer task ({R.params('02-transfer')['transfer_task']}): ")
    if all(R["06-statistics", "summary", metric, c]["n_reached"] == 0 for c in conditions):
        return text + (f"no run got there within the cap of {fmt(R['06-statistics', 'cap'])} epochs, so this "
                       "build cannot compare the conditions' speed.")
    text += _censoring(R, metric, conditions)
    text += _sentence(contrast(R, metric, "grokked", "random", bounds=EPOCH_RANGE)) + ". "
    text += _sentence(contrast(R, metric, "memorized", "random", bounds=EPOCH_RANGE)) + ". "
    cap = fmt(R["06-statistics", "cap"])
    for c in ("grokked", "memorized"):
        ratio = R["06-statistics", "speedups", f"random_over_{c}_{metric}"]
        if is_missing(ratio["value"]) and not is_missing(ratio.get("lower_bound")):
            k = ratio["n_censored_numerator"]
            text += (f"Random initialisation needed at least {fmt(ratio['lower_bound'], 2)}× the epochs of {c} "
                     f"initialisation, counting its {count(k, 'censored run')} at the cap of {cap} epochs "
                     f"(a lower bound, so no CI). ")
        elif is_missing(ratio["value"]):
            text += f"The speed-up of {c} over random initialisation is undefined here ({ratio['note']}). "
        else:
            if not is_missing(ratio["ci_low"]):
                ci = f" (95 % CI {fmt(ratio['ci_low'], 2)}–{fmt(ratio['ci_high'], 2)}, Fieller)"
            else:
                ci = f" (95 % CI {ratio['note']})" if ratio.get("ci_unbounded") else f" ({ratio['note'] or 'no CI'})"
            text += f"Random initialisation needed {fmt(ratio['value'], 2)}×{ci} the epochs of {c} initialisation. "
    return text.strip()


def early_accuracy(R) -> str:
    return ("**Head start.** Test accuracy at epoch 100: "
            + contrast(R, "test_acc_at_100", "grokked", "random", digits=1, percent=True) + ".")


def retention(R, conditions=("grokked", "memorized", "random")) -> str:
    """Addition accuracy after transfer, against what a perfect subtraction model scores."""
    outcomes = {}
    for c in conditions:
        t = R["03-retention", "tests", c, "vs_perfect_subtraction"]
        excess = f"{fmt(100 * t['mean'], 2)} percentage points"
        differ = R["03-retention", "addition_acc_where_targets_differ", c]
        if is_missing(t.get("p")) and differ["n"] and differ["max"] == 0:
            # No spread to test, and none needed: not one retained addition answer in any run.
            outcomes[c] = (f"in each of the {differ['n']} runs, not one correct addition answer on a pair where the "
                           "two targets differ; the addition accuracy is exactly the perfect-subtraction score, "
                           "as expected of a model that has forgotten addition")
        elif is_missing(t.get("p")):
            outcomes[c] = f"excess {excess}, not testable ({t.get('note') or 'too few runs'})"
        elif t["p"] < ALPHA and t["mean"] > 0:
            outcomes[c] = (f"{excess} above it (t({t['df']:.0f}) = {t['t']:.2f}, {p_text(t['p'])}), "
                           "so some addition survives beyond the pairs where the tasks coincide")
        elif t["p"] < ALPHA:
            outcomes[c] = f"{excess}, significantly below it ({p_text(t['p'])})"
        else:
            outcomes[c] = (f"excess {excess}, not significantly different from it ({p_text(t['p'])}), "
                           "as expected of a model that has forgotten addition")
    # Conditions with the same outcome share one sentence ("grokked and random: ...").
    parts = [f"{_and(names)}: {text}" for text, names in _same_text(outcomes).items()]
    return ("**Retention of addition.** Measured against the score of a perfect subtraction model on "
            "the same pairs (@eq-perfect), not against chance: " + "; ".join(parts) + ".")


def values_in_prose(texts: dict[str, str]) -> str:
    """Per-condition values in prose, conditions with the same text sharing it:
    {"grokked": "0.86 %", "memorized": "0.86 %", "random": "0.9 %"} ->
    "0.86 % (grokked and memorized) and 0.9 % (random)"."""
    return _and([f"{text} ({_and(names)})" for text, names in _same_text(texts).items()])


def _sentence(text: str) -> str:
    """``text`` as the start of a sentence: 'grokked 818 ...' -> 'Grokked 818 ...'."""
    return text[:1].upper() + text[1:]


def _same_text(texts: dict[str, str]) -> dict[str, list[str]]:
    """{condition: text} -> {text: [conditions with it]}, in first-seen order."""
    groups: dict[str, list[str]] = {}
    for condition, text in texts.items():
        groups.setdefault(text, []).append(condition)
    return groups


def _and(names: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def circuits(R) -> str:
    return ("**Circuits.** Mean fraction of a neuron's activation variance explained by its best "
            "frequency: " + contrast(R, "circuit_mean_frac", "grokked", "memorized", digits=3, bounds=(0, 1)) + "; "
            + contrast(R, "circuit_mean_frac", "grokked", "random", digits=3, bounds=(0, 1)) + ".")


def rank_test_floor(R, conditions=("grokked", "memorized", "random")) -> str:
    """What the rank test can show at this number of seeds: the smallest exact two-sided
    Mann-Whitney p for n vs n runs, and after Holm over the pairs of conditions."""
    n = R["06-statistics", "n_seeds"]
    pairs = math.comb(len(conditions), 2)
    floor = min_rank_p(n, n)
    holm_floor = min(1.0, pairs * floor)
    text = (f"With {n} runs per condition, the exact two-sided Mann-Whitney test cannot give a p-value "
            f"below {floor:.2g} ({holm_floor:.2g} after Holm over the {pairs} pairs of conditions)")
    if holm_floor >= ALPHA:
        return text + (f", so at this number of seeds it cannot reject at {ALPHA} however far apart the "
                       "conditions are; the Welch tests decide significance.")
    return text + f", so it can reject at {ALPHA}."


def setbacks(R, conditions=("grokked", "memorized", "random")) -> str:
    """Runs whose test accuracy fell back below the lowest threshold after first reaching it (first
    and sustained epochs differ), and the collapses after the highest accuracy (chapter 07)."""
    lowest = min(R.params("02-transfer")["thresholds"])
    first, sustained = (f"{kind} {pct(lowest)}" for kind in ("first", "sustained"))
    transfer = pd.DataFrame(R["02-transfer", "table"])
    dynamics = R["07-dynamics"]
    runs_dynamics = pd.DataFrame(dynamics["table"])
    parts, collapse = [], []
    for c in conditions:
        rows = transfer[transfer["condition"] == c]
        fell = rows[rows[sustained] > rows[first]]            # never-reached runs (NaN) compare False
        text = f"{c}: {len(fell)} of {len(rows)} runs"
        if len(fell):
            text += " (" + "; ".join(f"seed {r['seed']}: first at epoch {fmt(r[first])}, sustained from "
                                     f"{fmt(r[sustained])}" for _, r in fell.iterrows()) + ")"
        parts.append(text)
        d = dynamics["by_condition"][c]
        runs = runs_dynamics[runs_dynamics["condition"] == c]
        text = f"{c} {d['runs with a collapse']} of {d['n runs']}"
        if runs["largest collapse"].notna().any():
            unrecovered = int(runs["unrecovered collapses"].sum())
            text += (f" (largest fall {fmt(100 * runs['largest collapse'].max(), 1)} points; "
                     + ("all recovered" if unrecovered == 0 else f"{unrecovered} never recovered") + ")")
        collapse.append(text)
    return (f"**Setbacks.** Runs whose test accuracy fell back below {fmt(lowest, 0, percent=True)} after first "
            f"reaching it, so that the first and the sustained epoch differ: " + "; ".join(parts) + ". "
            f"Runs with a collapse after {fmt(COLLAPSE_AFTER, 0, percent=True)} (a fall of more than "
            f"{fmt(100 * dynamics['collapse_drop'])} points below the running peak, @fig-jumps-collapses): "
            + "; ".join(collapse) + ".")


def claims(R, ids=HEADLINE_CLAIMS) -> str:
    """The audit's verdicts on the document's central claims, each with its computed reason."""
    rows = {row["id"]: row for row in R["08-audit", "claims"].values()}
    lines = [f"- *{rows[i]['claim']}*: **{rows[i]['verdict']}**; {rows[i]['reason']}." for i in ids if i in rows]
    return "**The design document's central claims** (full audit in @sec-audit):\n\n" + "\n".join(lines)


# Which results section of the paper tests a claim, by the start of its audit id (first match).
SECTION_OF_CLAIM = (
    ("methods", ("params-", "vocab-", "split-")),
    ("sources", ("source-", "memorized-")),
    ("transfer", ("budget-", "epochs999", "cv-", "speedup-", "p-grokked-", "t-convergence", "acc100-", "spearman-")),
    ("retention", ("retention-", "chance-", "t-retention", "subtraction-", "sanity-")),
    ("agreement", ("agreement-",)),
    ("circuits", ("unique-freqs-", "specialization-", "neurons-gt-half-", "t-specialization", "spec-", "init-spec-",
                  "top-freq-", "overlap-")),
    ("statistics", ("no-outliers", "shapiro-", "bonferroni")),
    ("dynamics", ("jump-", "early-gain-", "late-gain-")),
)


def section_of(claim_id: str) -> str | None:
    """The results section that tests an audited claim (None: claims about the original's resources)."""
    for section, prefixes in SECTION_OF_CLAIM:
        if claim_id.startswith(prefixes):
            return section
    return None


def against_the_document(R, section: str) -> str:
    """A results section's verdicts on the design document: every claim this section tests that
    the rerun contradicts, with its computed reason, and a count of the others by verdict."""
    rows = [r for r in R["08-audit", "claims"].values() if section_of(r["id"]) == section]
    if not rows:
        return ""
    contradicted = [r for r in rows if r["verdict"] == "not supported"]
    # "this rerun contradicts 5, supports 2 and finds 2 inconclusive": one verb per verdict, zeros left out.
    verbs = (("not supported", "contradicts {}"), ("supported", "supports {}"),
             ("inconclusive", "finds {} inconclusive"), ("not testable", "cannot test {}"))
    said = [verb.format(n) for v, verb in verbs if (n := sum(r["verdict"] == v for r in rows))]
    verdicts = _and(said)
    head = (f"**Against the design document.** Of the {count(len(rows), 'claim')} of the document that this section "
            f"tests (@tbl-claims-audit), this rerun {verdicts}.")
    lines = [f"- *{r['claim']}*: {r['reason']}." for r in contradicted]
    return head + ("\n\n" + "\n".join(lines) if lines else "") + "\n"


def conclusions(R) -> str:
    """Every conclusion paragraph, in order, as Markdown."""
    return "\n\n".join([transfer_speed(R), early_accuracy(R), retention(R), circuits(R), claims(R)]) + "\n"
