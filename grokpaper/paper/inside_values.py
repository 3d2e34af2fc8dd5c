"""The values the article's section on the transfer over time states (chapter 10, ``R.inside``).

As in ``values``: one number or one short formatted value per function, for an inline
``{python}`` expression; what a sentence claims about it is checked by ``guard``. The per-seed
comparisons pair each seed's runs, since the conditions of a seed share its split and init.

Two points of a transfer are easy to confuse, and the names keep them apart: a probe rerun's
*stop* (the top threshold held for the hold window after the matched point, or the cap) is where
the forgetting, attention and movement measures end; the committed run's *end* (epoch
``transfer_max_epochs``) is where the circuits chapters read the weights.
"""

from __future__ import annotations

import math
from collections import Counter

from grokpaper.analysis import stats
from grokpaper.paper import contract
from grokpaper.paper.contract import FIRST, epochs_column
from grokpaper.paper.intervals import ci
from grokpaper.paper.report import bound_sign, fmt, summary_text


def short(matrix: str) -> str:
    """'blocks.0.attn.W_Q' -> 'W_Q' (as the chapter's figures label them)."""
    return matrix.split(".")[-1]


def _level(R) -> float:
    return R.params(contract.Inside)["confidence"]


def _column(table: dict, column: str, condition: str, point: str | None = None) -> dict[int, float]:
    """Seed -> value of ``column`` in a chapter table, for one condition (and point)."""
    rows = zip(table["seed"], table["condition"], table.get("point", [None] * len(table["seed"])), table[column])
    return {seed: value for seed, c, p, value in rows if c == condition and (point is None or p == point)
            and value is not None and value == value}


def readout(R, condition: str, point: str = "end") -> dict[int, float]:
    """Seed -> R^2 of the refitted addition readout at ``point`` of the probe rerun (start,
    matched, and "end": its stop)."""
    return _column(R.inside.forgetting_table, f"readout R2 {point}", condition)


def circuit(R, condition: str, point: str, column: str = "mean frac") -> dict[int, float]:
    """Seed -> a circuit measure of chapter 10's table at ``point`` (start, matched, end: epoch
    ``transfer_max_epochs`` of the committed run)."""
    return _column(R.inside.circuits_table, column, condition, point)


def seeds_above(a: dict[int, float], b: dict[int, float]) -> tuple[int, int]:
    """(seeds where a > b, seeds with both)."""
    both = sorted(set(a) & set(b))
    return sum(a[s] > b[s] for s in both), len(both)


def in_seeds(n: int, of: int) -> str:
    """'in each of the 5 seeds', 'in 4 of 5 seeds'."""
    return f"in each of the {of} seeds" if n == of else f"in {n} of {of} seeds"


def paired_change(R, a: dict[int, float], b: dict[int, float]):
    """The per-seed change b - a over the seeds with both, summarised (mean, t-interval; ``stats.Summary``)."""
    seeds = sorted(set(a) & set(b))
    return stats.describe([b[s] - a[s] for s in seeds], labels=seeds, confidence=_level(R),
                          n_boot=R.params(contract.Inside)["n_bootstrap"])


def readout_above(R, model: str, *baselines: str) -> tuple[int, int]:
    """(seeds where ``model``'s readout at the stop exceeds every baseline's, seeds with all of them)."""
    mine = readout(R, model)
    lowest_margin = {s: min(mine[s] - readout(R, b)[s] for b in baselines) for s in mine
                     if all(s in readout(R, b) for b in baselines)}
    return sum(m > 0 for m in lowest_margin.values()), len(lowest_margin)


def readout_gain(R, condition: str):
    """The per-seed change of the refitted readout's R^2 from the rerun's start to its stop."""
    return paired_change(R, readout(R, condition, "start"), readout(R, condition, "end"))


def change(R, condition: str, column: str = "mean frac", start: str = "start", end: str = "end"):
    """The per-seed change of a circuit measure from ``start`` to ``end`` (``stats.Summary``)."""
    return paired_change(R, circuit(R, condition, start, column), circuit(R, condition, end, column))


def change_text(R, condition: str, column: str = "mean frac", start: str = "start", end: str = "end") -> str:
    """'0.141 (95 % CI 0.018 to 0.265; n = 5), up in 4 of 5 seeds'."""
    up, of = seeds_above(circuit(R, condition, end, column), circuit(R, condition, start, column))
    return f"{signed_summary(change(R, condition, column, start, end))}, up {in_seeds(up, of)}"


def end_within_matched(R, condition: str) -> tuple[int, int]:
    """(seeds whose key frequencies at the end are a subset of those at the matched point, seeds with both)."""
    keys = R.inside.circuits[condition].key_freqs
    seeds = sorted(set(keys.get("end", {})) & set(keys.get("matched", {})))
    return sum(set(keys["end"][s]) <= set(keys["matched"][s]) for s in seeds), len(seeds)


def moved(R, condition: str, *matrices: str) -> str:
    """'W_Q 2.04, W_K 1.52': each matrix's median over seeds (as chapter 10's table) of its distance
    from its start at the rerun's stop, over its initial norm."""
    relative = R.inside.movement[condition].relative_end
    return ", ".join(f"{short(m)} {fmt(relative[m].median, 2)}" for m in matrices)


def half_epochs(R, condition: str, measure: str = "addition acc") -> str:
    """The probe epochs at which each run's ``measure`` fell below half its start, as they are
    ('epoch 20 in 4 runs and 30 in 1 run': a mean of probe epochs is no probe epoch)."""
    values = _column(R.inside.forgetting_table, f"{measure} half at", condition).values()
    counts = sorted(Counter(int(v) for v in values).items())
    parts = [f"{fmt(epoch)} in {n} run{'s' * (n != 1)}" for epoch, n in counts]
    if not parts:
        return "in no run"
    return "epoch " + (parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1])


def median_range(d, digits: int = 1) -> str:
    """'median -47.3, from -82.5 to -5.1' (a skewed quantity over few runs)."""
    return f"median {fmt(d.median, digits)}, from {fmt(d.min, digits)} to {fmt(d.max, digits)}"


def signed_summary(d, digits: int = 3) -> str:
    """A mean over runs of a quantity that may be negative (an R^2, a change), '0.691 (95 % CI
    0.591 to 0.791; n = 5)': 'to', not a dash, between the bounds; an interval cut at 1 above."""
    if d.n_reached < 2 or d.ci_low is None or d.ci_low != d.ci_low or d.min == d.max:
        return summary_text(d, digits=digits, bounds=(-math.inf, 1))
    text = f"{fmt(d.mean, digits)} ({ci(d.ci_low, min(d.ci_high, 1.0), d.confidence, digits, to=True)}; n = {d.n_reached})"
    missing = d.n_total - d.n_reached
    return text + (f"; {missing} of {d.n_total} runs never reached it" if missing else "")


# ----------------------------------------------------------------------------- the run carried past the cap

def extension_row(R, model: str, extended: bool, reference: str = "random") -> dict:
    """Chapter 10's speed-up test of ``reference`` over ``model``: with a censored run entered at
    the cap (``extended`` False, as chapter 06) or with its extended run's epoch (True)."""
    t = R.inside.extension
    rows = [dict(zip(t, values)) for values in zip(*t.values())]
    version = "its extended run's epoch" if extended else "entered at the cap"
    found = [r for r in rows if r["comparison"] == f"{reference} / {model}" and r["version"] == version]
    if not found:
        raise KeyError(f"chapter 10 has no extension test {reference} / {model} ({version}); "
                       f"it has {sorted({r['comparison'] for r in rows})}")
    return found[0]


def extension_holm(R, model: str, reference: str = "random") -> float:
    """The Holm-corrected p of chapter 06's headline test with the extended run's epoch in place of
    the cap: its uncorrected p replaced in the paper's family, the correction run again."""
    test = R.statistics.test(epochs_column(FIRST, R.inside.top_threshold), reference, model)
    family = {name: row.p for name, row in R.statistics.family.items() if not stats.is_missing(row.p)}
    family[test.test] = extension_row(R, model, True, reference)["p"]
    names = list(family)
    return float(stats.holm([family[n] for n in names])[names.index(test.test)])


def extension_ratio(R, model: str, extended: bool) -> str:
    """'37.6× (95 % CI 13.5–105.2)'; at the cap '≥ 35.0× (95 % CI 14.4–85.2)'."""
    r = extension_row(R, model, extended)
    return f"{bound_sign(r['bound'])}{fmt(r['ratio'], 1)}× ({ci(r['ci_low'], r['ci_high'], _level(R), 1)})"


def extended_runs(R) -> list[dict]:
    """Chapter 10's extended runs, a dict per run (seed, condition, test acc at cap, first top, ...)."""
    t = R.inside.extended_runs
    return [dict(zip(t, values)) for values in zip(*t.values())]


def reruns_equal(R) -> str:
    """'0 differing values in each of the 26 reruns' (or how many reruns differ), from chapter 10's
    rerun check of every stored probe rerun against its committed run."""
    differing = R.inside.rerun_check["differing"]
    n_differ = sum(d > 0 for d in differing)
    if n_differ == 0:
        return f"0 differing values in each of the {len(differing)} reruns"
    return f"{n_differ} of {len(differing)} reruns differ"
