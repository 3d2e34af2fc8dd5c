"""What chapters hand to the article: computed numbers and Markdown tables.

A chapter saves the numbers the article quotes with ``save_numbers(chapter, numbers, P)``
to ``results/<chapter>.json`` (with the parameters that produced them) when the chapter runner
executes it; executed any other way (plain papermill, Jupyter), the numbers stay inside the
notebook it produces. ``paper.qmd`` reads them back with ``Results.load()`` and formats them
in inline ``{python}`` expressions, so no result is ever typed into the text by hand.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from grokpaper.analysis.stats import is_missing
from grokpaper.config import load_profile, project_root
from grokpaper.core.files import atomic_path


def _plain(value):
    """JSON-safe copy: numpy scalars/arrays to Python, NaN to None, tuple keys to strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        return [_plain(v) for v in list(value)]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if value is pd.NA:
        return None
    return value


# The chapter runner names, to each kernel it starts, the folder where that chapter's numbers go
# (``grokpaper.builder.runner``): only its executions write the project's results/.
RESULTS_DIR_ENV = "GROKPAPER_RESULTS_DIR"
NUMBERS_OUTPUT_KEY = "grokpaper-numbers"  # output metadata of the cell output that holds a chapter's numbers


def results_dir(project: str | Path | None = None) -> Path:
    """The results folder of a project (default: the project found from the cwd)."""
    return (Path(project) if project else project_root()) / "results"


def save_numbers(chapter: str, numbers: dict, params: dict, project: str | Path | None = None) -> Path | None:
    """Save a chapter's quotable numbers and resolved params: to ``results/<chapter>.json`` when
    the chapter runner executes the chapter (or ``project`` is given), else into the executed
    notebook itself, as this cell's output (``numbers_in_notebook`` reads them back).

    A plain papermill run does not tell the kernel where its output notebook goes, so the
    numbers travel inside it, and the project's results/ holds only what the runner wrote."""
    blob = {"chapter": chapter, "params": _plain(params), "numbers": _plain(numbers)}
    folder = results_dir(project) if project else os.environ.get(RESULTS_DIR_ENV)
    if not folder:
        note = (f"numbers of {chapter}, kept in this notebook: only `python -m grokpaper run` writes "
                f"results/{chapter}.json")
        display({"application/json": blob, "text/plain": note}, raw=True, metadata={NUMBERS_OUTPUT_KEY: chapter})
        return None
    path = Path(folder) / f"{chapter}.json"
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(blob, indent=1, sort_keys=True))
    return path


def numbers_in_notebook(path: str | Path) -> dict[str, dict]:
    """The numbers a chapter notebook executed outside the runner kept inside itself (see
    ``save_numbers``): {chapter: {"chapter", "params", "numbers"}}, as in results/*.json."""
    notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    return {output["metadata"][NUMBERS_OUTPUT_KEY]: output["data"]["application/json"]
            for cell in notebook.get("cells", []) for output in cell.get("outputs", [])
            if NUMBERS_OUTPUT_KEY in (output.get("metadata") or {})}


def stale_banner(problems: dict[str, list[str]]) -> str:
    """A warning callout (Markdown) naming the stale chapters and foreign results files of a
    build (``problems``: ``grokpaper.builder.plan.check_build()``); "" for a consistent build. ``render``
    builds a report from an inconsistent build only when told ``--allow-stale``."""
    if not problems:
        return ""
    items = "\n".join(f"- `{name}`: {'; '.join(reasons)}." for name, reasons in problems.items())
    return ("::: {.callout-warning}\n**This report mixes results from different inputs** (built with "
            "`render --allow-stale`): its text and tables may disagree. Stale chapters and results the "
            "chapter runner did not write:\n\n" + items
            + "\n\n`python -m grokpaper run` re-executes them.\n:::\n")


class Results:
    """Every chapter's saved numbers. ``R["02-transfer", "epochs", "first", "99.9%", "grokked"]``
    walks the nested dicts (a single dotted string works where no key has a dot)."""

    def __init__(self, blobs: dict[str, dict]):
        self.blobs = blobs

    @classmethod
    def load(cls, project: str | Path | None = None) -> "Results":
        """Every ``results/*.json`` of the project (default: the project found from the cwd)."""
        folder = results_dir(project)
        return cls({p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))})

    def __getitem__(self, keys):
        parts = list(keys) if isinstance(keys, tuple) else keys.split(".")
        chapter, rest = parts[0], parts[1:]
        if chapter not in self.blobs:
            raise KeyError(f"no results for chapter {chapter!r}; have {sorted(self.blobs)}")
        value = self.blobs[chapter]["numbers"]
        for part in rest:
            if not isinstance(value, dict) or str(part) not in value:
                have = sorted(value) if isinstance(value, dict) else type(value).__name__
                raise KeyError(f"{parts}: no {part!r} (have {have})")
            value = value[str(part)]
        return value

    def params(self, chapter: str) -> dict:
        return self.blobs[chapter]["params"]

    def num(self, *keys, digits: int = 0, percent: bool = False) -> str:
        """A number formatted for prose: thousands separators, fixed digits, 'n/a' for missing."""
        return fmt(self[keys], digits, percent)

    def mean_ci(self, *keys, digits: int = 0, percent: bool = False, bounds: tuple | None = None) -> str:
        """A saved ``stats.describe`` summary in prose: mean (95 % CI low–high; n), with censoring;
        ``bounds``: the quantity's range, to which the interval is truncated (see ``summary_text``)."""
        return summary_text(self[keys], digits, percent, bounds)


EPOCH_RANGE = (0.0, math.inf)
SHARE_RANGE = (0.0, 1.0)  # accuracies, agreements, fractions explained


def clip_interval(low: float, high: float, bounds: tuple[float, float] | None) -> tuple[float, float]:
    """A confidence interval truncated to a quantity's possible range ``bounds`` (None: as is).
    A t-interval of a few seeds can reach beyond it: accuracies below 0 % or above 100 %,
    epochs below 0. The summaries in prose, the claims audit and the tables all truncate here.
    A missing end (None or NaN: no interval) comes back as it is."""
    if bounds is None or is_missing(low) or is_missing(high):
        return low, high
    return min(max(low, bounds[0]), bounds[1]), max(min(high, bounds[1]), bounds[0])


def summary_text(d: dict, digits: int = 0, percent: bool = False, bounds: tuple | None = None) -> str:
    """'1,234 (95 % CI 1,100–1,370; n = 5)', saying how many runs never reached and when no CI exists;
    '150 in each of the 3 runs' when every run has the same value.

    ``bounds`` truncates the interval to the quantity's range; percentages are shares, so
    with ``percent`` it defaults to (0, 1): a t-interval of accuracies near 0 or 1 can
    otherwise reach below 0 % or above 100 %. Epoch counts take ``EPOCH_RANGE`` (a few
    widely spread seeds give t-intervals below 0 epochs)."""
    if bounds is None and percent:
        bounds = SHARE_RANGE
    total, reached = d.get("n_total", d["n"]), d.get("n_reached", d["n"])
    missing = total - reached
    if reached == 0:
        return f"never reached (0 of {total} runs)"
    level = round(100 * d.get("confidence", 0.95))
    if reached > 1 and d.get("min") is not None and d.get("min") == d.get("max"):
        # No spread, so no interval to give: "150 in each of the 3 runs" reads better than "150 (CI 150-150)".
        text = f"{fmt(d['mean'], digits, percent)} in each of the {reached} runs"
        return text + (f" that reached it; {missing} of {total} runs never did" if missing else "")
    if d.get("ci_low") is None or not math.isfinite(d["ci_low"]):
        inside = f"n = {reached}, no CI"
    else:
        low, high = clip_interval(d["ci_low"], d["ci_high"], bounds)
        inside = f"{level} % CI {fmt(low, digits, percent)}–{fmt(high, digits, percent)}; n = {reached}"
    text = f"{fmt(d['mean'], digits, percent)} ({inside})"
    return text + (f"; {missing} of {total} runs never reached it" if missing else "")


def count(n: int, noun: str) -> str:
    """'1 seed', '5 seeds'."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def departures(results: "Results", profile: str = "paper", project: str | Path | None = None) -> dict:
    """Every chapter's parameters that differ from a profile's: ``{chapter: {key: (build value,
    profile value)}}``, chapters without a departure left out; empty when every chapter ran that
    profile as written (no overrides)."""
    reference = load_profile(profile, project)
    out = {}
    for chapter in sorted(results.blobs):
        params, expected = results.params(chapter), reference.for_chapter(chapter)
        changed = {k: (params[k], v) for k, v in expected.items() if k in params and params[k] != v}
        if changed:
            out[chapter] = changed
    return out


def fmt(value, digits: int = 0, percent: bool = False) -> str:
    """Format a number for prose ("5,545", "33.1 %"); None/NaN read as "n/a"."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if percent:
        return f"{100 * value:,.{digits}f} %"
    return f"{value:,.{digits}f}"


def significant(value: float, sig: int = 4) -> str:
    """A number with up to ``sig`` significant digits and thousands separators, without trailing
    zeros ("0.042", not "0.04200"); whole numbers as integers."""
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    decimals = max(0, sig - 1 - math.floor(math.log10(abs(value)))) if value else 0
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def md_table(df: pd.DataFrame, digits: int | str | dict = 3, index: bool = False):
    """A pandas table as a Markdown pipe table (displayed as text/markdown in a notebook).

    ``digits``: decimals for floats (an int, or a dict per column); ``"sig4"`` gives four
    significant digits per value, for columns that mix counts, epochs and fractions; ``"p"``
    writes p-values (three decimals, two significant digits below 0.001: "2.6e-24")."""
    frame = df.reset_index() if index else df
    per_column = digits if isinstance(digits, dict) else {}

    def cell(column, value):
        if is_missing(value):
            return "–"
        if isinstance(value, (float, np.floating)):
            d = per_column.get(column, digits if not isinstance(digits, dict) else 3)
            if d == "p":
                return f"{value:.3f}" if value >= 0.001 else f"{value:.2g}"
            return significant(value, int(d[3:])) if isinstance(d, str) else f"{value:,.{d}f}"
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            return f"{value:,}"
        return _escape_pipes(value)

    cells = {c: [cell(c, v) for v in frame[c]] for c in frame.columns}
    header = "| " + " | ".join(_escape_pipes(c) for c in frame.columns) + " |"
    # A table wider than a line wraps to the page width with column widths in proportion to the
    # dashes of this rule (pandoc's pipe-table rule), so text-heavy columns get the room.
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    widths = _column_widths([str(c) for c in frame.columns], list(cells.values()), numeric)
    rule = "|" + "|".join(("-" * w + ":") if num else (":" + "-" * w) for w, num in zip(widths, numeric)) + "|"
    rows = ["| " + " | ".join(values) + " |" for values in zip(*cells.values())] if len(frame.columns) else []
    return Markdown("\n".join([header, rule, *rows]))


def _escape_pipes(text) -> str:
    """A cell's text with its "|" escaped, so it does not split the pipe-table row."""
    return str(text).replace("|", "\\|")


# About as many characters as one line of a table holds on the PDF page (the HTML page is wider).
TABLE_LINE_CHARS = 100
SHORT_COLUMN = 15


def _column_widths(headers: list[str], values: list[list[str]], numeric: list[bool]) -> list[int]:
    """Relative column widths (dashes of the rule). A table too wide for a line wraps to the page
    width in these proportions, so the short columns (numbers, labels, verdicts) keep their
    width and the text columns share what is left, each keeping at least its longest word."""
    natural = [_column_width(h, v, n) for h, v, n in zip(headers, values, numeric)]
    if sum(natural) <= TABLE_LINE_CHARS:
        return natural
    short = [w <= SHORT_COLUMN for w in natural]
    left = TABLE_LINE_CHARS - sum(w for w, s in zip(natural, short) if s)
    text_total = sum(w for w, s in zip(natural, short) if not s)
    if left <= 0 or text_total == 0:
        return natural
    return [w if s else max(_longest_word(h, v) + 2, round(w * left / text_total))
            for w, s, h, v in zip(natural, short, headers, values)]


def _longest_word(header: str, values: list[str]) -> int:
    """Length of the longest word of a column (capped at 22: a longer one may break)."""
    return min(22, max([len(w) for text in [header, *values] for w in text.split()] or [3]))


def _column_width(header: str, values: list[str], numeric: bool = False) -> int:
    """Relative width of a column: its longest word (so words do not break) or its typical
    cell length (75th percentile), whichever is larger, within 3 to 60 characters. A numeric
    column gets its longest cell: a number must not wrap. Both get two characters for the
    cell padding, so neighbouring cells do not touch."""
    if numeric:
        return max(3, _longest_word(header, values) + 2)
    typical = float(np.percentile([len(v) for v in values], 75)) if values else len(header)
    return int(min(60, max(3, _longest_word(header, values) + 2, typical)))
