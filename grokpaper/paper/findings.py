"""The paper's findings in words, chosen by the computed results.

Each function reads the chapters' saved numbers (``report.Results``) and returns Markdown. The
wording is picked by the data: a difference is called significant only when its test survives
Holm's correction over the paper's whole family of tests (chapter 06); a speed-up with a censored
run is given as a lower bound; "no addition retained" is said only when not one retained answer
exists. So the same text is right for any profile and any outcome, and nothing here holds a
result typed by hand.
"""

from __future__ import annotations

import pandas as pd
import yaml

from grokpaper.analysis.stats import is_missing, min_rank_p
from grokpaper.paper.audit import ALPHA, CATEGORIES
from grokpaper.paper.dynamics import COLLAPSE_AFTER
from grokpaper.paper.report import count, fmt
from grokpaper.paper.tables import pct

# The conditions in words, for prose.
CONDITION_WORDS = {
    "grokked": "grokked", "memorized": "memorized (first 100 % train accuracy)",
    "memorized-fixed": "memorized-fixed (the original's 2,000-epoch state)", "random": "random",
}


class _Saved:
    """The saved numbers as plain data, walked by keys: ``_Saved(R)["06-statistics", "family"]``.
    A bridge while this module still words the findings in Python (they move to paper.qmd)."""

    def __init__(self, results):
        self.results = results.results if isinstance(results, _Saved) else results

    def __getitem__(self, keys):
        chapter, *rest = keys if isinstance(keys, tuple) else (keys,)
        value = self.results.blobs[chapter]["numbers"]
        for part in rest:
            value = value[str(part)]
        return value

    def params(self, chapter: str) -> dict:
        return self.results.params(chapter)


def p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}"


def _or(names: list[str]) -> str:
    """'a', 'a or b', 'a, b or c'."""
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _and(names: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    names = list(names)
    if not names:
        return ""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _sentence(text: str) -> str:
    """``text`` as the start of a sentence: 'grokked 818 ...' -> 'Grokked 818 ...'."""
    return text[:1].upper() + text[1:]


def _conditions(R) -> list[str]:
    return list(R["06-statistics", "conditions"])


def _top(R) -> str:
    return pct(max(R.params("02-transfer")["thresholds"]))


def _family(R, test: str) -> dict | None:
    return R["06-statistics", "family"].get(test)


def _ratio_text(row: dict, digits: int = 1) -> str:
    """'35.0× (95 % CI 14.4–85.2)', with '≥' when a censored run makes it a lower bound."""
    head = ("≥ " if row["bound"] == "lower" else "") + f"{fmt(row['estimate'], digits)}×"
    if is_missing(row["ci_low"]):
        return head
    return f"{head} (95 % CI {fmt(row['ci_low'], digits)}–{fmt(row['ci_high'], digits)})"


def _significance(row: dict, size: int) -> str:
    """'Holm-corrected p = 0.0094 over the 57 tests' with 'significant' or 'not significant'."""
    if is_missing(row.get("p_holm")):
        return f"not testable ({row.get('note') or 'too few runs'})"
    verdict = "significant" if row["p_holm"] < ALPHA else "not significant"
    return f"{verdict}: paired t on the log ratios, Holm-corrected {p_text(row['p_holm'])} over the {size} tests"


# ----------------------------------------------------------------------------- transfer speed

def speedups(R, metric: str | None = None) -> dict[str, dict]:
    """{condition: the family row 'metric: random vs condition'} for every non-random condition."""
    R = _Saved(R)
    metric = metric or f"first {_top(R)}"
    out = {}
    for c in _conditions(R):
        if c != "random":
            row = _family(R, f"{metric}: random vs {c}")
            if row is not None:
                out[c] = row
    return out


def censored_runs(R, metric: str | None = None) -> str:
    """'1 of 5 random runs never got there within 30,000 epochs (random seed 314: train accuracy
    100 %, test accuracy 0.6 % at the cap)', or '' when every run got there."""
    R = _Saved(R)
    metric = metric or f"first {_top(R)}"
    table = pd.DataFrame(R["02-transfer", "table"])
    missing = table[table[metric].isna()]
    if not len(missing):
        return ""
    parts = []
    for c in _conditions(R):
        k = int((missing["condition"] == c).sum())
        if k:
            parts.append(f"{k} of {int((table['condition'] == c).sum())} {c} runs")
    ends = "; ".join(f"{r['condition']} seed {r['seed']}: train accuracy {fmt(r['final train acc'], 1, percent=True)}, "
                     f"test accuracy {fmt(r['final test acc'], 1, percent=True)}" for _, r in missing.iterrows())
    return f"{_and(parts)} never got there within the cap of {fmt(R['06-statistics', 'cap'])} epochs (at the cap, {ends})"


def transfer_speed(R) -> str:
    """How much sooner each initialisation reached the highest threshold than random initialisation,
    paired by seed (geometric mean of the per-seed ratios), with censoring and significance."""
    R = _Saved(R)
    top = _top(R)
    size = R["06-statistics", "family_size"]
    rows = speedups(R)
    if not rows:
        return "**Speed of transfer.** This build has no random-init runs to compare with."
    defined = {c: row for c, row in rows.items() if not is_missing(row["estimate"])}
    undefined = [c for c in rows if c not in defined]
    text = f"**Speed of transfer.** Epochs to first reach {top} test accuracy on subtraction, random initialisation "
    if defined:
        parts = [f"{CONDITION_WORDS[c]} {_ratio_text(row)}, {_significance(row, size)}" for c, row in defined.items()]
        text += ("against each other starting point, as the geometric mean over seeds of the per-seed ratio "
                 "(random / other): " + "; ".join(parts) + ".")
    if undefined:
        text += (f"{' The ratio' if defined else 'over'} {_and(undefined)} {'is' if defined else ''} undefined: "
                 "no seed has a run of both that reached it.").replace("  ", " ")
    censored = censored_runs(R)
    if censored:
        text += (f" {_sentence(censored)}; it enters its ratios at the cap, so they are lower bounds (≥), "
                 "and no run is left out.")
    return text


def original_jumps(R) -> str:
    """The document's headline epochs are the epochs of one seed's largest single-epoch jumps in
    the original run (from the original's saved outputs, chapter 02)."""
    R = _Saved(R)
    jumps = R["02-transfer", "original_comparison", "seed42_largest_jumps"]
    listed = _and([f"{fmt(j['epoch'])} ({c}: a jump of {fmt(j['size'], 1, percent=True)})" for c, j in jumps.items()])
    return (f"The document's headline epochs to 99.9 %, {listed}, are the epochs at which seed 42's test accuracy "
            "made its largest single-epoch jump in the original run, not means over seeds of epochs to 99.9 %.")


# ----------------------------------------------------------------------------- retention

def retention(R) -> str:
    """Addition after transfer, against what a perfect subtraction model scores on the same pairs:
    the retained answers are those on pairs where the two tasks' targets differ."""
    R = _Saved(R)
    parts = []
    for c in _conditions(R):
        d = R["03-retention", "n_source_correct_where_targets_differ", c]
        if d["n"] and d["max"] == 0:
            parts.append(f"{c}: not one in any of its {d['n']} runs")
        else:
            parts.append(f"{c}: {fmt(d['mean'], 1)} per run on average (at most {fmt(d['max'])})")
    shares = R["03-retention", "perfect_transfer_score_test"]
    n_b0 = R["03-retention", "n_coincident_test"]
    low, high = min(shares.values()), max(shares.values())
    theirs = R["02-transfer", "original_comparison", "retention_split"]
    return ("**Retention of addition.** A model that does subtraction is right on addition exactly where the two "
            f"targets coincide (b = 0, @eq-perfect): {fmt(min(n_b0.values()))}–{fmt(max(n_b0.values()))} of each "
            f"seed's test pairs, {fmt(low, 2, percent=True)}–{fmt(high, 2, percent=True)} of the split. The design "
            f"document's {fmt(theirs['b0_test_share'], 2, percent=True)} is that share on the original study's split "
            f"({fmt(theirs['b0_test_pairs'])} of {fmt(theirs['test_pairs'])} test pairs, split seed "
            f"{theirs['split_seed']}), not chance. Correct addition answers on the pairs where the targets differ, "
            "i.e. addition the model retained: " + "; ".join(parts)
            + ". The random-init model never learned addition, so it had nothing to forget.")


# ----------------------------------------------------------------------------- circuits

def frequency_reuse(R) -> str:
    """Key frequencies the transferred models share with their own grokked source, against chance."""
    R = _Saved(R)
    reuse = R["05-circuits", "frequency_reuse"]
    size = R["06-statistics", "family_size"]
    parts = []
    for c in _conditions(R):
        if c not in reuse:
            continue
        r = reuse[c]
        row = _family(R, f"key frequencies shared with the own grokked source: {c}")
        sig = "" if row is None or is_missing(row.get("p_holm")) else \
            ("; above chance" if row["p_holm"] < ALPHA else "; not above chance") + f", Holm-corrected {p_text(row['p_holm'])}"
        total = sum(s["size"] for s in r["seeds"])
        parts.append(f"{c}: {r['observed']} of {total} ({fmt(r['expected'], 1)} expected by chance{sig})")
    subset = [s["seed"] for s in reuse.get("grokked", {}).get("seeds", []) if s["shared"] == s["size"]]
    text = ("**Frequency reuse.** Key frequencies (best frequency of at least "
            f"{R['05-circuits', 'min_neuron_count']} neurons) of each transferred model that are also key frequencies "
            "of its own seed's grokked source, summed over seeds, against a hypergeometric null (the same number "
            f"drawn at random from the {R['05-circuits', 'p'] // 2} candidate frequencies), with the family's "
            f"correction over {size} tests: " + "; ".join(parts) + ".")
    n_grokked = len(reuse.get("grokked", {}).get("seeds", []))
    if n_grokked and len(subset) == n_grokked:
        text += (" Every grokked transfer's key frequencies are a subset of its own source's: transfer to subtraction "
                 "kept the source's Fourier features and dropped some of them.")
    elif n_grokked:
        text += f" In {len(subset)} of {n_grokked} seeds the grokked transfer's key frequencies are a subset of its source's."
    return text


def memorized_road(R) -> str:
    """Whether the memorized sources already use their own seed's grokked frequencies: their overlap
    with the own source against chance and against other seeds' sources, beside the random init."""
    R = _Saved(R)
    reuse = R["05-circuits", "frequency_reuse"]
    labels = {"memorized_source": f"the memorized source (first 100 % train accuracy, epoch "
                                  f"{fmt(R['01-sources', 'memorized_epoch']['mean'])} on average)",
              "memorized-fixed_source": f"the memorized-fixed source (epoch {fmt(R['01-sources', 'fixed_epoch'])})",
              "random_init": "the random initialisation"}
    parts, above = [], []
    for m, label in labels.items():
        if m not in reuse:
            continue
        r, match = reuse[m], reuse[m].get("seed_matching")
        row = _family(R, f"key frequencies shared with the own grokked source: {m}")
        holm = None if row is None else row["p_holm"]
        ref = sum(s["reference size"] for s in r["seeds"])
        text = (f"{label} holds {r['observed']} of its grokked source's {ref} key frequencies "
                f"({fmt(r['expected'], 1)} expected by chance for sets of its size, Holm-corrected "
                f"{'p n/a' if is_missing(holm) else p_text(holm)})")
        if not is_missing(holm) and holm < ALPHA:
            above.append(m)
        if match:
            text += (f", {fmt(match['own_mean'], 1)} per seed with its own seed's source against {fmt(match['cross_mean'], 1)} "
                     f"with other seeds' (permutation p = {match['p']:.2g}; the smallest possible at "
                     f"{match['n_seeds']} seeds is {match['min_p']:.2g})")
        parts.append(text)
    if not parts:
        return ""
    verdict = (f"Above what sets of their size share by chance: {_and(above)}." if above else
               "None of them shares more with its grokked source than sets of its size share by chance.")
    return ("**Is the memorized model already on the road to its grokked circuit?** " + _sentence("; ".join(parts))
            + ". " + verdict)


def attention(R) -> str:
    """Heads that attend from "=" to a single operand, per model kind, over every seed."""
    R = _Saved(R)
    summary = R["05-circuits", "attention_summary"]
    threshold = R["05-circuits", "attention_focus_threshold"]
    parts = []
    for m in ("grokked_source", *_conditions(R)):
        if m in summary:
            s = summary[m]
            parts.append(f"{m}: {s['on_one_operand']} of {s['heads']} heads ({s['on_a']} on a, {s['on_b']} on b)")
    return (f"**Attention.** Heads that put at least {fmt(100 * threshold)} % of their attention from \"=\" on one "
            f"operand, over all {R['06-statistics', 'n_seeds']} seeds: " + "; ".join(parts) + " (@tbl-attention-summary).")


# ----------------------------------------------------------------------------- statistics

def correlations(R) -> str:
    """The pooled Spearman correlation of early accuracy with convergence beside the within-condition ones."""
    R = _Saved(R)
    top = _top(R)
    base = f"test acc at 100 vs first {top}"
    pooled = _family(R, f"{base}: all runs")
    if pooled is None or is_missing(pooled["estimate"]):
        return ""
    within = [(c, _family(R, f"{base}: {c}")) for c in _conditions(R)]
    within_text = _and([f"{c} {fmt(r['estimate'], 2)}" for c, r in within if r is not None and not is_missing(r["estimate"])])
    return (f"**Early accuracy and convergence.** Over all {pooled['n']} runs, Spearman's rho between test accuracy "
            f"at epoch 100 and epochs to {top} is {fmt(pooled['estimate'], 2)} (95 % CI {fmt(pooled['ci_low'], 2)} to "
            f"{fmt(pooled['ci_high'], 2)}); within conditions it is {within_text or 'undefined'}. The pooled value "
            "mostly measures the difference between conditions, not a relation that holds within one.")


def rank_test_floor(R) -> str:
    """Why the rank tests are not used for significance at this number of seeds."""
    R = _Saved(R)
    n = R["06-statistics", "n_seeds"]
    paired_floor = 2 / 2 ** n
    return (f"With {n} seeds, the exact two-sided Wilcoxon signed-rank test cannot give p below {paired_floor:.2g} and "
            f"the Mann-Whitney test not below {min_rank_p(n, n):.2g}, before any correction; the paired t-test on log "
            "ratios decides significance, and the rank tests are reported beside it.")


def family_text(R) -> str:
    """The family of tests the paper reports and its size."""
    R = _Saved(R)
    parts = R["06-statistics", "family_parts"]
    words = {"pairwise": "comparisons of pairs of conditions", "retention": "retention tests",
             "correlation": "correlations", "frequency": "frequency-reuse tests"}
    listed = _and([f"{n} {words.get(g, g)}" for g, n in parts.items() if n])
    return (f"Holm's correction runs over the whole family of {R['06-statistics', 'family_size']} tests this paper "
            f"reports ({listed}; @tbl-family).")


def sensitivity(R) -> str:
    """What changes without the runs that never converged."""
    R = _Saved(R)
    runs = R["06-statistics", "nonconverged"]
    if not runs:
        return "Every run reached the highest threshold on its own task, so there is no sensitivity analysis to report."
    names = _and([f"{r['condition']} seed {r['seed']} ({r['why']})" for r in runs])
    full, without = R["06-statistics", "family"], R["06-statistics", "family_without_nonconverged"]
    flips = [t for t, row in full.items() if t in without and not is_missing(row["p_holm"])
             and not is_missing(without[t]["p_holm"]) and (row["p_holm"] < ALPHA) != (without[t]["p_holm"] < ALPHA)]
    flipped = (f"{count(len(flips), 'test')} {'changes' if len(flips) == 1 else 'change'} significance: " + "; ".join(
        f"{t} (Holm p {full[t]['p_holm']:.2g} with it, {without[t]['p_holm']:.2g} without)" for t in flips)
               if flips else "no test changes significance")
    n_audit = R["08-audit", "counts"]["depend on a non-converged run"]
    return (f"**Runs that never converged.** {_sentence(names)}. Without it, {flipped}; "
            f"{count(n_audit, 'audit verdict')} of the design document's claims depend on it (@tbl-claims-audit).")


def setbacks(R) -> str:
    """Runs whose test accuracy fell back below the lowest threshold after first reaching it (first
    and sustained epochs differ), and the collapses after the highest accuracy (chapter 07)."""
    R = _Saved(R)
    lowest = min(R.params("02-transfer")["thresholds"])
    first, sustained = (f"{kind} {pct(lowest)}" for kind in ("first", "sustained"))
    transfer = pd.DataFrame(R["02-transfer", "table"])
    dynamics = R["07-dynamics"]
    runs_dynamics = pd.DataFrame(dynamics["table"])
    parts, collapse = [], []
    for c in _conditions(R):
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


# ----------------------------------------------------------------------------- the audit in the text

def audit_in_section(R, section: str) -> str:
    """One sentence per results section: how the design document's claims it tests fared (each
    claim is listed once, in the appendix)."""
    R = _Saved(R)
    rows = [r for r in R["08-audit", "claims"].values() if r["paper_section"] == section]
    if not rows:
        return ""
    said = [f"{n} {v}" for v in CATEGORIES if (n := sum(r["verdict"] == v for r in rows))]
    return (f"*The design document's claims tested here*: {count(len(rows), 'claim')}, of which {_and(said)} "
            "(each with its reason in @tbl-claims-audit).\n")


def audit_counts(R) -> str:
    """The verdict counts in a sentence, and how many depend on a non-converged run."""
    R = _Saved(R)
    counts = R["08-audit", "counts"]
    said = _and([f"{counts[v]} {v}" for v in CATEGORIES if counts[v]])
    text = f"Of the design document's {counts['total']} quantitative claims, {said}."
    inconsistent = counts["inconsistent, by what the data say"]
    if counts["inconsistent within the document"]:
        text += (" Of the claims inconsistent within the document, the data also contradict "
                 f"{inconsistent['contradicted by the data']}, support {inconsistent['supported']} and leave "
                 f"{inconsistent['inconclusive'] + inconsistent['not testable']} open.")
    if counts["depend on a non-converged run"]:
        text += (f" {_sentence(count(counts['depend on a non-converged run'], 'verdict'))} change without the runs "
                 "that never converged; the tables say which.")
    return text


# ----------------------------------------------------------------------------- abstract and conclusions

def abstract(R) -> str:
    """The abstract, with the main numbers (every one read from the results)."""
    R = _Saved(R)
    n_seeds = R["06-statistics", "n_seeds"]
    top = _top(R)
    rows = {c: r for c, r in speedups(R).items() if not is_missing(r["estimate"])}
    speed = _and([f"{c} initialisation {_ratio_text(r)}" for c, r in rows.items()])
    reuse = R["05-circuits", "frequency_reuse"].get("grokked")
    fixed = fmt(R.params("02-transfer")["memorized_fixed_epochs"])
    claimed = R["08-audit", "claims", "speedup-grokked", "checks"][0]["printed"].replace("x", "×")
    text = ("A design document reported that one-layer transformers which grokked modular addition learn modular "
            f"subtraction {claimed} faster than randomly initialised ones, forget addition completely, and keep a "
            "distinct, \"less specialised\" Fourier circuit. We rerun every experiment with "
            f"{count(n_seeds, 'seed')} per condition (grokked, memorized at its first 100 % train accuracy, "
            f"memorized after {fixed} epochs as in the original code, and random initialisation), paired by seed, and audit "
            f"each of its quantitative claims. ")
    if speed:
        text += (f"Random initialisation needed more epochs to reach {top} test accuracy on subtraction than "
                 f"each other start, by a factor (geometric mean over seeds) of {speed}. ")
    censored = censored_runs(R)
    if censored:
        text += f"{_sentence(censored)}. "
    reuse_row = _family(R, "key frequencies shared with the own grokked source: grokked")
    if reuse and reuse_row is not None and not is_missing(reuse_row["p_holm"]) and reuse_row["p_holm"] < ALPHA:
        total = sum(s["size"] for s in reuse["seeds"])
        text += (f"The grokked transfers reused their source's circuit: {reuse['observed']} of their {total} key "
                 f"Fourier frequencies were their own source's, against {fmt(reuse['expected'], 1)} expected by chance. ")
    keep = [c for c in _conditions(R) if c != "random"
            and R["03-retention", "n_source_correct_where_targets_differ", c]["max"] == 0]
    if keep:
        text += (f"No {_or(keep)} transfer kept a single addition answer where the two tasks' targets differ: "
                 "their addition accuracy is the share of pairs with b = 0, not chance. ")
    text += audit_counts(R)
    return text


def abstract_block(R) -> str:
    """The abstract as a YAML metadata block (Quarto does not run inline code in the front matter;
    pandoc takes a later metadata block's value)."""
    R = _Saved(R)
    return "---\n" + yaml.safe_dump({"abstract": abstract(R)}, allow_unicode=True, width=100) + "---\n"


def limitations(R) -> str:
    """What this rerun cannot tell, with its numbers."""
    R = _Saved(R)
    P = R.params("02-transfer")
    runs = R["06-statistics", "nonconverged"]
    text = (f"The rerun has {count(len(P['seeds']), 'seed')} per condition, one modulus (p = {P['p']}), one weight decay "
            f"({P['weight_decay']}), one learning rate and one task pair. With so few seeds the exact rank tests cannot "
            "reach significance, intervals are wide, and normality checks have little power, so the comparisons work "
            "on log ratios paired by seed. ")
    if runs:
        names = _and([f"{r['condition']} seed {r['seed']}" for r in runs])
        text += (f"{_sentence(names)} never converged within the cap "
                 f"of {fmt(P['transfer_max_epochs'])} epochs; whether such runs fail to learn subtraction at this "
                 "weight decay or only need longer, this cap cannot tell. ")
    text += ("Our grokked sources are per-seed runs with weight decay 1.0; the original's was one weight-decay-0.1 "
             "checkpoint, so speed comparisons with the document carry that difference. The circuit analysis looks at "
             "final weights only. A next study needs more seeds (at least 10 per condition for rank tests and useful "
             "intervals), a longer cap or a stopping rule for random initialisation, a sweep of weight decay and of p, "
             "and snapshots during transfer to see when the source's frequencies are dropped.")
    return text


def conclusions(R) -> str:
    """The conclusions as a short list, one sentence each, every one chosen by the data (the numbers
    behind them are in the results sections)."""
    R = _Saved(R)
    items = []
    size = R["06-statistics", "family_size"]
    rows = {c: r for c, r in speedups(R).items() if not is_missing(r["estimate"])}
    faster = [c for c, r in rows.items() if not is_missing(r["p_holm"]) and r["p_holm"] < ALPHA and r["ci_low"] > 1]
    if faster:
        items.append(f"Transfer from a {_and(faster)} source reaches {_top(R)} on subtraction sooner than training from "
                     f"random initialisation, significantly after Holm's correction over the {size} tests (@sec-transfer).")
    elif rows:
        items.append("No starting point reaches the highest threshold significantly sooner than random initialisation "
                     "after the family-wise correction (@sec-transfer).")
    keep = [c for c in _conditions(R) if c != "random"
            and R["03-retention", "n_source_correct_where_targets_differ", c]["max"] == 0]
    if keep:
        items.append(f"After transfer, no {_or(keep)} model retains addition beyond the pairs where addition and "
                     "subtraction agree (@sec-retention).")
    reuse_row = _family(R, "key frequencies shared with the own grokked source: grokked")
    if reuse_row is not None and not is_missing(reuse_row["p_holm"]):
        items.append("The grokked transfer " + ("reuses" if reuse_row["p_holm"] < ALPHA else "does not measurably reuse")
                     + " its source's key Fourier frequencies (@sec-circuits).")
    counts = R["08-audit", "counts"]
    items.append(f"Of the design document's {counts['total']} claims, this rerun supports {counts['supported']} "
                 f"(@sec-audit).")
    return "\n".join(f"- {item}" for item in items) + "\n"
