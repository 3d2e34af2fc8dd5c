"""What chapters hand to the article: their typed numbers, prose formatting, Markdown tables.

A chapter saves the numbers the article quotes, one dataclass of ``contract`` (``Sources`` ...
``Relearning``), with ``save_numbers(numbers, P)``: to ``results/<chapter>.json`` with the parameters
that produced them when the chapter runner executes it; executed any other way (plain
papermill, Jupyter), the numbers stay inside the notebook it produces. ``paper.qmd`` reads them
back with ``Results.load()`` as the same dataclasses (``R.transfer``, ``R.statistics``, ...), so
no result is ever typed into the text by hand and no key is spelled out in it.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from grokpaper.analysis.stats import is_missing
from grokpaper.config import load_profile, project_root
from grokpaper.core.files import atomic_path
from grokpaper.paper import contract
from grokpaper.paper.contract import CONTRACT, CONTRACT_VERSION, ContractError, Numbers

N = TypeVar("N", bound=Numbers)

# The chapter runner names, to each kernel it starts, the folder where that chapter's numbers go
# (``grokpaper.builder.runner``): only its executions write the project's results/.
RESULTS_DIR_ENV = "GROKPAPER_RESULTS_DIR"
NUMBERS_OUTPUT_KEY = "grokpaper-numbers"  # output metadata of the cell output that holds a chapter's numbers


def results_dir(project: str | Path | None = None) -> Path:
    """The results folder of a project (default: the project found from the cwd)."""
    return (Path(project) if project else project_root()) / "results"


def save_numbers(numbers: Numbers, params: dict, project: str | Path | None = None) -> Path | None:
    """Save a chapter's numbers (a ``contract`` dataclass; its ``CHAPTER`` names the file) with
    its resolved params: to ``results/<chapter>.json`` when the chapter runner executes the
    chapter (or ``project`` is given), else into the executed notebook itself, as this cell's
    output (``numbers_in_notebook`` reads them back). The numbers are checked against their
    class first (``contract.parse`` of what is written), so a chapter that saves a value of the
    wrong type fails here, not in the article.

    A plain papermill run does not tell the kernel where its output notebook goes, so the
    numbers travel inside it, and the project's results/ holds only what the runner wrote."""
    if not isinstance(numbers, Numbers) or not type(numbers).CHAPTER:
        raise TypeError(f"save_numbers takes a chapter's numbers as a contract dataclass (contract.Numbers with "
                        f"a CHAPTER), got {type(numbers).__name__}")
    chapter = type(numbers).CHAPTER
    blob = {"chapter": chapter, "contract": CONTRACT_VERSION, "params": contract.plain(params),
            "numbers": contract.plain(numbers)}
    contract.parse(type(numbers), blob["numbers"], f"numbers of {chapter}")
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
    ``save_numbers``): {chapter: {"chapter", "contract", "params", "numbers"}}, as in results/*.json."""
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
    """Every chapter's saved numbers, each read as its ``contract`` class on first use:
    ``R.transfer.cap``, ``R.statistics.test(...)``; ``R.params(chapter)`` the parameters that
    produced them. A chapter without results raises KeyError naming it; a file that does not
    match the contract (or was written before it) raises ContractError with the command that
    rewrites it."""

    def __init__(self, blobs: dict[str, dict]):
        self.blobs = blobs
        self._typed: dict[str, Numbers] = {}

    @classmethod
    def load(cls, project: str | Path | None = None) -> "Results":
        """Every ``results/*.json`` of the project (default: the project found from the cwd)."""
        folder = results_dir(project)
        return cls({p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))})

    @classmethod
    def of(cls, *numbers: Numbers, params: dict | None = None) -> "Results":
        """Results made of numbers in memory, as if each chapter had saved them (for tests)."""
        return cls({type(n).CHAPTER: {"chapter": type(n).CHAPTER, "contract": CONTRACT_VERSION,
                                      "params": contract.plain(params or {}), "numbers": contract.plain(n)}
                    for n in numbers})

    def has(self, kind: type[Numbers]) -> bool:
        """Whether the chapter of ``kind`` has results."""
        return kind.CHAPTER in self.blobs

    def get(self, kind: type[N]) -> N:
        """The numbers of one chapter as its contract class (``contract.Transfer``, ...)."""
        chapter = kind.CHAPTER
        if chapter not in self._typed:
            if chapter not in self.blobs:
                raise KeyError(f"no results for chapter {chapter!r}; have {sorted(self.blobs)}")
            blob = self.blobs[chapter]
            rerun = f"`python -m grokpaper run --chapter {chapter}` rewrites it"
            if blob.get("contract") != CONTRACT_VERSION:
                raise ContractError(f"results/{chapter}.json was written under results contract "
                                    f"{blob.get('contract', 'none (before the contract)')}, not {CONTRACT_VERSION}: {rerun}")
            try:
                self._typed[chapter] = contract.parse(kind, blob["numbers"], f"results/{chapter}.json: numbers")
            except ContractError as e:
                raise ContractError(f"{e} ({rerun})") from None
        return self._typed[chapter]

    def params(self, chapter: str | type[Numbers]) -> dict:
        """The resolved parameters a chapter ran with (a chapter name or its contract class)."""
        name = chapter if isinstance(chapter, str) else chapter.CHAPTER
        if name not in self.blobs:
            raise KeyError(f"no results for chapter {name!r}; have {sorted(self.blobs)}")
        return self.blobs[name]["params"]

    sources = property(lambda self: self.get(contract.Sources), doc="01-sources")
    transfer = property(lambda self: self.get(contract.Transfer), doc="02-transfer")
    retention = property(lambda self: self.get(contract.Retention), doc="03-retention")
    agreement = property(lambda self: self.get(contract.Agreement), doc="04-agreement")
    circuits = property(lambda self: self.get(contract.Circuits), doc="05-circuits")
    statistics = property(lambda self: self.get(contract.Statistics), doc="06-statistics")
    dynamics = property(lambda self: self.get(contract.Dynamics), doc="07-dynamics")
    audit = property(lambda self: self.get(contract.Audit), doc="08-audit")
    runs = property(lambda self: self.get(contract.Runs), doc="09-runs")
    inside = property(lambda self: self.get(contract.Inside), doc="10-inside-transfer")
    relearning = property(lambda self: self.get(contract.Relearning), doc="11-relearning")
    what_transfers = property(lambda self: self.get(contract.WhatTransfers), doc="12-what-transfers")
    task_tokens = property(lambda self: self.get(contract.TaskTokens), doc="13-task-tokens")
    replay = property(lambda self: self.get(contract.Replay), doc="14-replay")
    multitask = property(lambda self: self.get(contract.Multitask), doc="15-multitask")
    similarity = property(lambda self: self.get(contract.Similarity), doc="16-similarity")


def check_contract(results: Results) -> list[str]:
    """Every chapter of the contract with results, loaded as its class: the chapters loaded
    (ContractError on the first file that does not match; KeyError for a results file of a
    chapter the contract does not know)."""
    unknown = sorted(set(results.blobs) - set(CONTRACT))
    if unknown:
        raise KeyError(f"results of chapters the contract does not know: {unknown} (contract: {sorted(CONTRACT)})")
    return [chapter for chapter, kind in CONTRACT.items() if results.has(kind) and results.get(kind)]


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


def summary_text(d: contract.Described | contract.SeedSummary, digits: int = 0, percent: bool = False,
                 bounds: tuple | None = None) -> str:
    """'1,234 (95 % CI 1,100–1,370; n = 5)', saying how many runs never reached and when no CI exists;
    '150 in each of the 3 runs' when every run has the same value.

    ``bounds`` truncates the interval to the quantity's range; percentages are shares, so
    with ``percent`` it defaults to (0, 1): a t-interval of accuracies near 0 or 1 can
    otherwise reach below 0 % or above 100 %. Epoch counts take ``EPOCH_RANGE`` (a few
    widely spread seeds give t-intervals below 0 epochs)."""
    if bounds is None and percent:
        bounds = SHARE_RANGE
    total, reached = d.n_total, d.n_reached
    missing = total - reached
    if reached == 0:
        return f"never reached (0 of {total} runs)"
    level = round(100 * d.confidence)
    if reached > 1 and d.min is not None and d.min == d.max:
        # No spread, so no interval to give: "150 in each of the 3 runs" reads better than "150 (CI 150-150)".
        text = f"{fmt(d.mean, digits, percent)} in each of the {reached} runs"
        return text + (f" that reached it; {missing} of {total} runs never did" if missing else "")
    if is_missing(d.ci_low):
        inside = f"n = {reached}, no CI"
    else:
        low, high = clip_interval(d.ci_low, d.ci_high, bounds)
        inside = f"{level} % CI {fmt(low, digits, percent)}–{fmt(high, digits, percent)}; n = {reached}"
    text = f"{fmt(d.mean, digits, percent)} ({inside})"
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


def bound_sign(bound) -> str:
    """'≥ ' before a ratio that is a lower bound (a censored run entered at its cap), '≤ ' before
    an upper bound, '' otherwise (None, NaN, "mixed")."""
    return {"lower": "≥ ", "upper": "≤ "}.get(bound if isinstance(bound, str) else "", "")


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
