"""How the article writes an interval: one function for every ``*_values`` module, so that an
interval reads the same wherever a sentence states one."""

from __future__ import annotations

from grokpaper.analysis.stats import is_missing
from grokpaper.paper.report import fmt


def ci(low, high, confidence: float, digits: int = 1, scale: float = 1.0, signed: bool = False,
       to: bool = False) -> str:
    """'95 % CI 14.4–85.2' (bounds times ``scale``, ``digits`` decimals), or '' when a bound is
    missing. Between the bounds a dash, or ' to ' where a dash could read as a minus sign (a bound
    below 0), for ``signed`` bounds ('+2.0 to +31.0') and when ``to`` asks for it."""
    if is_missing(low) or is_missing(high):
        return ""
    if signed:
        a, b = f"{scale * low:+.{digits}f}", f"{scale * high:+.{digits}f}"
    else:
        a, b = fmt(scale * low, digits), fmt(scale * high, digits)
    between = " to " if signed or to or low < 0 else "–"
    return f"{round(100 * confidence)} % CI {a}{between}{b}"
