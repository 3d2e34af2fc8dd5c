"""The values the article's section on the transfer over time states (chapter 10, ``R.inside``).

As in ``values``: one number or one short formatted value per function, for an inline
``{python}`` expression; what a sentence claims about it is checked by ``guard``. The per-seed
comparisons pair each seed's runs, since the conditions of a seed share its split and init.
"""

from __future__ import annotations

import math

from grokpaper.analysis import stats
from grokpaper.paper.report import fmt, summary_text

CONFIDENCE = 0.95
N_BOOT = 2000


def short(matrix: str) -> str:
    """'blocks.0.attn.W_Q' -> 'W_Q' (as the chapter's figures label them)."""
    return matrix.split(".")[-1]


def _column(table: dict, column: str, condition: str, point: str | None = None) -> dict[int, float]:
    """Seed -> value of ``column`` in a chapter table, for one condition (and point)."""
    rows = zip(table["seed"], table["condition"], table.get("point", [None] * len(table["seed"])), table[column])
    return {seed: value for seed, c, p, value in rows if c == condition and (point is None or p == point)
            and value is not None and value == value}


def readout(R, condition: str, point: str = "end") -> dict[int, float]:
    """Seed -> R^2 of the refitted addition readout at ``point`` (start, matched, end)."""
    return _column(R.inside.forgetting_table, f"readout R2 {point}", condition)


def circuit(R, condition: str, point: str, column: str = "mean frac") -> dict[int, float]:
    """Seed -> a circuit measure of chapter 10's table at ``point`` (start, matched, end)."""
    return _column(R.inside.circuits_table, column, condition, point)


def seeds_above(a: dict[int, float], b: dict[int, float]) -> tuple[int, int]:
    """(seeds where a > b, seeds with both)."""
    both = sorted(set(a) & set(b))
    return sum(a[s] > b[s] for s in both), len(both)


def in_seeds(n: int, of: int) -> str:
    """'in each of the 5 seeds', 'in 4 of 5 seeds'."""
    return f"in each of the {of} seeds" if n == of else f"in {n} of {of} seeds"


def readout_above(R, model: str, *baselines: str) -> tuple[int, int]:
    """(seeds where ``model``'s readout at the end exceeds every baseline's, seeds with all of them)."""
    mine = readout(R, model)
    lowest_margin = {s: min(mine[s] - readout(R, b)[s] for b in baselines) for s in mine
                     if all(s in readout(R, b) for b in baselines)}
    return sum(m > 0 for m in lowest_margin.values()), len(lowest_margin)


def change(R, condition: str, column: str = "mean frac", start: str = "start", end: str = "end"):
    """The per-seed change of a circuit measure from ``start`` to ``end``, summarised over seeds
    (mean with its t-interval; a ``stats.Summary``)."""
    a, b = circuit(R, condition, start, column), circuit(R, condition, end, column)
    seeds = sorted(set(a) & set(b))
    return stats.describe([b[s] - a[s] for s in seeds], labels=seeds, confidence=CONFIDENCE, n_boot=N_BOOT)


def change_text(R, condition: str, column: str = "mean frac", start: str = "start", end: str = "end") -> str:
    """'0.141 (95 % CI 0.017–0.265; n = 5), up in 4 of 5 seeds'."""
    d = change(R, condition, column, start, end)
    up, of = seeds_above(circuit(R, condition, end, column), circuit(R, condition, start, column))
    return f"{summary_text(d, digits=3, bounds=(-1, 1))}, up {in_seeds(up, of)}"


def moved(R, condition: str, *matrices: str) -> str:
    """'W_Q 2.14, W_K 1.52': each matrix's mean distance from its start at the end, over its initial norm."""
    relative = R.inside.movement[condition].relative_end
    return ", ".join(f"{short(m)} {fmt(relative[m].mean, 2)}" for m in matrices)


def reruns_equal(R) -> str:
    """'0 differing values in each of the 26 reruns' (or how many reruns differ), from chapter 10's
    rerun check of every stored probe rerun against its committed run."""
    differing = R.inside.rerun_check["differing"]
    n_differ = sum(d > 0 for d in differing)
    if n_differ == 0:
        return f"0 differing values in each of the {len(differing)} reruns"
    return f"{n_differ} of {len(differing)} reruns differ"


def extension_row(R, model: str, extended: bool, reference: str = "random") -> dict:
    """Chapter 10's speed-up test of ``reference`` over ``model``: with a censored run entered at
    the cap (``extended`` False, as chapter 06) or with its extended run's epoch (True)."""
    t = R.inside.extension
    rows = [dict(zip(t, values)) for values in zip(*t.values())]
    version = "its extended run's epoch" if extended else "entered at the cap"
    return next(r for r in rows if r["comparison"] == f"{reference} / {model}" and r["version"] == version)


def extension_ratio(R, model: str, extended: bool) -> str:
    """'37.6× (95 % CI 13.5–105.2; uncorrected p = 0.00061)', '≥ 35.0× (...)' at the cap."""
    r = extension_row(R, model, extended)
    sign = "≥ " if r["bound"] == "lower" else "≤ " if r["bound"] == "upper" else ""
    return (f"{sign}{fmt(r['ratio'], 1)}× ({round(100 * CONFIDENCE)} % CI {fmt(r['ci_low'], 1)}–{fmt(r['ci_high'], 1)}; "
            f"uncorrected p = {r['p']:.2g})")


def extended_runs(R) -> list[dict]:
    """Chapter 10's extended runs, a dict per run (seed, condition, test acc at cap, first top, ...)."""
    t = R.inside.extended_runs
    return [dict(zip(t, values)) for values in zip(*t.values())]


def r2(d) -> str:
    """An R^2 over runs, '0.691 (95 % CI 0.591 to 0.791; n = 5)': 'to', not a dash, since either
    bound may be negative; the interval is cut at 1, the most an R^2 can be."""
    if d.n_reached < 2 or d.ci_low is None or d.ci_low != d.ci_low or d.min == d.max:
        return summary_text(d, digits=3, bounds=(-math.inf, 1))
    text = (f"{fmt(d.mean, 3)} ({round(100 * d.confidence)} % CI {fmt(d.ci_low, 3)} to {fmt(min(d.ci_high, 1.0), 3)}; "
            f"n = {d.n_reached})")
    missing = d.n_total - d.n_reached
    return text + (f"; {missing} of {d.n_total} runs never reached it" if missing else "")
