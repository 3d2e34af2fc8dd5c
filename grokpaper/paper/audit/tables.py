"""The audit as the chapter and the article show it: verdict counts, the appendix table, the
central claims, and the typed numbers saved for the article (chapter 08)."""

from __future__ import annotations

import pandas as pd

from grokpaper.paper import contract
from grokpaper.paper.audit.rules import MARGINS
from grokpaper.paper.verdicts import CATEGORIES, DATA_VERDICTS, INCONSISTENT


def verdict_counts(rows: list[contract.AuditRow]) -> dict:
    """Claims per category (every category, zeros included), the total, how many depend on a
    non-converged run, and the data verdicts of the claims inconsistent within the document."""
    counts = {c: sum(r.verdict == c for r in rows) for c in CATEGORIES}
    counts["total"] = len(rows)
    counts["depend on a non-converged run"] = sum(bool(r.depends_on) for r in rows)
    inconsistent = [r for r in rows if r.verdict == INCONSISTENT]
    counts["inconsistent, by what the data say"] = {v: sum(r.data_verdict == v for r in inconsistent)
                                                    for v in DATA_VERDICTS}
    return counts


def verdict_text(row: contract.AuditRow) -> str:
    """A row's verdict for a table: the category, the data verdict of an inconsistent claim, and
    the runs it depends on."""
    text = row.verdict
    if row.verdict == INCONSISTENT:
        text += f" (data: {row.data_verdict})"
    if row.depends_on:
        text += f"; depends on {', '.join(row.depends_on)}"
    return text


def appendix_table(rows: list[contract.AuditRow]) -> pd.DataFrame:
    """The full audit as the appendix shows it: claim (with where the document prints it), the
    verdict, and the reason (which states what the rerun gives for each number of the quote, and
    the tolerance it was judged with)."""
    return pd.DataFrame({
        "claim": [f"{r.claim} ({r.section})" for r in rows],
        "verdict": [verdict_text(r) for r in rows],
        "reason": [r.reason + (f". Provenance: {r.provenance}" if r.provenance else "") for r in rows],
    })


def margins_text() -> dict[str, str]:
    """The practical margin of each kind of quantity, in words (Methods states them)."""
    return {unit: margin.words for unit, margin in MARGINS.items()}


def audit_numbers(rows: list[contract.AuditRow], profile: str, params: dict, central) -> contract.Audit:
    """The audit the article quotes (chapter 08): every claim's row, the verdict counts, the ids
    of the central claims shown in the main text, the confidence level and the margins."""
    return contract.Audit(profile=profile, p=params["p"], n_seeds=len(params["seeds"]),
                          counts=contract.typed(contract.VerdictCounts, verdict_counts(rows)), central=list(central),
                          claims={r.id: r for r in rows}, confidence=params["confidence"], margins=margins_text())


def counts_table(rows: list[contract.AuditRow]) -> pd.DataFrame:
    """The verdict counts as a two-column table (category, claims), zeros included."""
    counts = verdict_counts(rows)
    out = [{"verdict": c, "claims": counts[c]} for c in CATEGORIES]
    out.append({"verdict": "total", "claims": counts["total"]})
    return pd.DataFrame(out)


def summary_table(rows: list[contract.AuditRow], ids) -> pd.DataFrame:
    """The central claims for the main text: claim, what the rerun gives, verdict."""
    by_id = {r.id: r for r in rows}
    chosen = [by_id[i] for i in ids if i in by_id]
    return pd.DataFrame({
        "claim": [r.claim for r in chosen],
        "this rerun": ["; ".join(f"{c.printed} → {c.reproduced}" for c in r.checks) or "–" for r in chosen],
        "verdict": [verdict_text(r) for r in chosen],
    })
