"""Numbers as the design document prints them: the value, and the precision its digits imply."""

from __future__ import annotations

import re
from dataclasses import dataclass

APPROX = 0.10    # relative tolerance of a "~" claim


@dataclass(frozen=True)
class Printed:
    """A number as the document prints it: its value (fractions for percentages), the rounding
    tolerance its digits imply, and for p-values the relation ("<" or "=")."""

    text: str
    value: float | None
    tolerance: float = 0.0
    approx: bool = False
    percent: bool = False
    relation: str | None = None


_NUMBER = r"[+\-−]?\d[\d,]*(?:\.\d+)?"


def parse_printed(text: str) -> Printed:
    """Value and precision of a printed number: "5,545" -> 5545 +- 0.5; "33.14%" -> 0.3314
    +- 0.00005; "-1.000" -> -1 +- 0.0005; "~8,000" -> 8000 +- 10 %; "~67k" -> 67,000 +- 10 %;
    "4.8x" -> 4.8 +- 0.05; "1/113" -> 1/113 exactly; "p < 0.001" -> 0.001 with relation "<".
    Words ("not significant") give no value."""
    t = str(text).strip()
    m = re.fullmatch(r"p\s*([<=])\s*(\d*\.?\d+)", t)
    if m:
        digits = m.group(2)
        return Printed(t, float(digits), half_unit(digits), relation=m.group(1))
    m = re.fullmatch(r"(\d+)/(\d+)", t)
    if m:
        return Printed(t, int(m.group(1)) / int(m.group(2)))
    approx = t.startswith("~")
    body = t.lstrip("~").strip()
    m = re.fullmatch(rf"({_NUMBER})\s*(%|x|k)?", body)
    if not m:
        return Printed(t, None)
    digits, suffix = m.group(1).replace("−", "-"), m.group(2)
    scale = {"%": 0.01, "k": 1000.0}.get(suffix, 1.0)
    value = float(digits.replace(",", "")) * scale
    tolerance = APPROX * abs(value) if approx else half_unit(digits) * scale
    return Printed(t, value, tolerance, approx, suffix == "%")


def half_unit(digits: str) -> float:
    """Half a unit of the last printed digit: '1.000' -> 0.0005, '5,545' -> 0.5."""
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    return 0.5 * 10 ** -decimals


def plain_text(text: str) -> str:
    """Text as compared with the document: '**' bold marks dropped, whitespace collapsed."""
    return " ".join(str(text).replace("**", "").split())
