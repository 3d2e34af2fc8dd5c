"""The claims (``claims.yaml``): loading them, each field checked, and judging them against the
evidence: every number of a claim by its kind's rule, the claim's verdict, its consistency with
the document, and the same again without the runs that never converged."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import pandas as pd
import yaml

from grokpaper.analysis.stats import is_missing
from grokpaper.paper import contract, inference
from grokpaper.paper.audit.consistency import CONSISTENCY
from grokpaper.paper.audit.estimates import RunValues, describe_estimate, reason_number, shown_as, statistic
from grokpaper.paper.audit.printed import parse_printed, plain_text
from grokpaper.paper.audit.quantities import NOT_PER_SEED, QUANTITIES, quantity_fields
from grokpaper.paper.audit.rules import KINDS, RULES, combine, tolerance
from grokpaper.paper.evidence import Evidence
from grokpaper.paper.verdicts import INCONSISTENT, NOT_TESTABLE

PAPER_SECTIONS = ("methods", "sources", "transfer", "retention", "agreement", "circuits", "statistics",
                  "dynamics", "inside", "relearning", "what-transfers", "resources", "future-work")
# The document's future-work hypotheses: judged in chapter 16 on the family of chapters 13-16 (their
# runs are not the audit's, and the audit of chapter 08 does not wait for them).
FUTURE_WORK = "future-work"
CLAIMS_FILE = Path(__file__).parent.parent / "claims.yaml"
CLAIM_FIELDS = ("id", "quote", "section", "paper_section", "also_in", "replaces", "provenance", "inconsistent",
                "untestable", "tested_part", "checks")
CHECK_FIELDS = ("printed", "value", "kind", "of", "op", "direction", "threshold", "also", "explains", "seeds")


class ClaimError(ValueError):
    """A malformed claim: the message names the file, the claim's id and the field."""


@dataclass(frozen=True)
class Check:
    """One number of a claim: as printed, its kind, what it is compared against, and the seeds it
    is about (None: every seed)."""

    printed: str
    kind: str
    of: dict
    op: str | None = None
    direction: str | None = None
    threshold: float | None = None
    also: tuple = ()
    explains: str | None = None
    value: str | None = None   # the number printed words stand for ("random chance" -> "1/113")
    seeds: tuple[int, ...] | None = None

    def spec(self) -> dict:
        return {"op": self.op, "direction": self.direction, "threshold": self.threshold}


@dataclass(frozen=True)
class Claim:
    """One quantitative claim of the design document (an entry of claims.yaml)."""

    id: str
    quote: str
    section: str
    paper_section: str
    checks: tuple = ()
    also_in: tuple = ()
    replaces: tuple = ()
    provenance: str = ""
    inconsistent: dict | None = None
    untestable: str = ""
    # where the checks test only part of the quote: 'its ... part only (...)', said beside the verdict where quoted
    tested_part: str = ""


def _check(c, where: str, wordings: list[str]) -> Check:
    """One entry of a claim's ``checks``, each field checked (``ClaimError`` naming it)."""
    if not isinstance(c, dict):
        raise ClaimError(f"{where}: each check must be a mapping of fields ({', '.join(CHECK_FIELDS)}); got {c!r}")
    unknown = [k for k in c if k not in CHECK_FIELDS]
    if unknown:
        raise ClaimError(f"{where}: check field {unknown[0]!r} is unknown; a check has {', '.join(CHECK_FIELDS)}")
    if c.get("kind") not in KINDS:
        raise ClaimError(f"{where}: field 'kind' must be one of {', '.join(KINDS)}; got {c.get('kind')!r}")
    of = c.get("of")
    if not isinstance(of, dict) or of.get("quantity") not in QUANTITIES:
        raise ClaimError(f"{where}: field 'of.quantity' must be one of {', '.join(QUANTITIES)}")
    allowed = quantity_fields(of["quantity"])
    for key in of:
        if key != "quantity" and key not in allowed:
            raise ClaimError(f"{where}: field 'of.{key}' is not an argument of quantity {of['quantity']!r} "
                             f"(it takes {', '.join(allowed) or 'none'}); a claim about some seeds names them "
                             "in the check's 'seeds' field")
    if "printed" not in c:
        raise ClaimError(f"{where}: field 'printed' is missing")
    printed = str(c["printed"])
    bare = printed.lstrip("~").replace("p = ", "").replace("p < ", "")
    if not any(bare in plain_text(w) for w in wordings):
        raise ClaimError(f"{where}: field 'printed': the value {printed!r} is not in the quote")
    if c["kind"] in ("per-run", "p-value") and not c.get("op"):
        raise ClaimError(f"{where}: field 'op' is missing; a {c['kind']} check needs it")
    if c["kind"] == "effect" and c.get("direction") not in ("<", ">"):
        raise ClaimError(f"{where}: field 'direction' must be '<' or '>' (the side of the null the claimed "
                         f"effect lies on); got {c.get('direction')!r}")
    seeds = c.get("seeds")
    if seeds is not None:
        if (not isinstance(seeds, list) or not seeds
                or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)):
            raise ClaimError(f"{where}: field 'seeds' must be a non-empty list of integer seeds, e.g. [42]; got {seeds!r}")
        if of["quantity"] in NOT_PER_SEED:
            raise ClaimError(f"{where}: field 'seeds' cannot restrict quantity {of['quantity']!r}: it is computed "
                             "over every seed (or from the setup); restrict a per-run quantity instead")
        seeds = tuple(seeds)
    return Check(printed, c["kind"], dict(of), c.get("op"), c.get("direction"), c.get("threshold"),
                 tuple(c.get("also", ())), c.get("explains"), None if c.get("value") is None else str(c["value"]),
                 seeds)


def load_claims(path: str | Path = CLAIMS_FILE) -> list[Claim]:
    """The claims of ``claims.yaml``, validated: unique ids and quotes, known fields, kinds,
    quantities and their arguments, consistency checks and paper sections, each printed value
    inside its quote (or, for a claim stated elsewhere too, in one of its other wordings). A
    malformed claim raises one ``ClaimError`` naming the claim and the field."""
    entries = yaml.safe_load(Path(path).read_text())
    claims, ids, quotes = [], set(), set()
    for entry in entries:
        where = f"{Path(path).name}, claim {entry.get('id', '?')!r}" if isinstance(entry, dict) else Path(path).name
        if not isinstance(entry, dict):
            raise ClaimError(f"{where}: each claim must be a mapping of fields ({', '.join(CLAIM_FIELDS)}); got {entry!r}")
        unknown = [k for k in entry if k not in CLAIM_FIELDS]
        if unknown:
            raise ClaimError(f"{where}: field {unknown[0]!r} is unknown; a claim has {', '.join(CLAIM_FIELDS)}")
        for key in ("id", "quote", "section", "paper_section"):
            if not entry.get(key):
                raise ClaimError(f"{where}: field {key!r} is missing")
        if entry["id"] in ids or entry["quote"] in quotes:
            raise ClaimError(f"{where}: field 'id' or 'quote' appears twice; one claim, one entry (list other places under also_in)")
        ids.add(entry["id"])
        quotes.add(entry["quote"])
        if entry["paper_section"] not in PAPER_SECTIONS:
            raise ClaimError(f"{where}: field 'paper_section' must be one of {', '.join(PAPER_SECTIONS)}")
        if bool(entry.get("checks")) == bool(entry.get("untestable")):
            raise ClaimError(f"{where}: field 'checks' or 'untestable': give one of them (untestable: why no rerun can test it)")
        if entry.get("inconsistent") and entry["inconsistent"].get("check") not in CONSISTENCY:
            raise ClaimError(f"{where}: field 'inconsistent.check' must be one of {', '.join(CONSISTENCY)}")
        wordings = [entry["quote"]] + [a["text"] for a in entry.get("also_in", [])]
        checks = tuple(_check(c, where, wordings) for c in entry.get("checks", []))
        claims.append(Claim(entry["id"], entry["quote"], entry["section"], entry["paper_section"], checks,
                            tuple((a["section"], a["text"]) for a in entry.get("also_in", [])),
                            tuple(entry.get("replaces", ())), " ".join(str(entry.get("provenance", "")).split()),
                            entry.get("inconsistent"), " ".join(str(entry.get("untestable", "")).split()),
                            " ".join(str(entry.get("tested_part", "")).split())))
    return claims


# ----------------------------------------------------------------------------- evaluation

def _with_top(text: str, evidence: Evidence) -> str:
    """A claim's field with ``{top}`` read as the build's highest threshold ('99.9%')."""
    return text.replace("{top}", evidence.top_threshold if evidence.params.get("thresholds") else "99.9%")


def _quantity(check: Check, evidence: Evidence, family, **replace_args):
    args = {k: v for k, v in check.of.items() if k != "quantity"}
    args.update(replace_args)
    args = {k: _with_top(v, evidence) if isinstance(v, str) else v for k, v in args.items()}
    return QUANTITIES[check.of["quantity"]](evidence, family, **args)


def _statistic_text(kind: str, s) -> str:
    """What the rerun gives for a check, in words (the statistic its verdict judged)."""
    if isinstance(s, RunValues):
        shown = ", ".join(reason_number(v, s.unit) if not is_missing(v) else "censored" for _, v in s.values)
        return f"{len(s.values)} {s.items}: {shown}"
    if kind in ("p-value", "effect"):
        return "n/a" if is_missing(s.p_holm) else f"Holm p = {s.p_holm:.3g} (effect {describe_estimate(s)})"
    return describe_estimate(s)


def _reproduced_value(kind: str, s) -> tuple:
    """(value, ci_low, ci_high, bound) of a check's statistic for the saved row (per-run values:
    none; a p-value check: its Holm-corrected p)."""
    if isinstance(s, RunValues):
        return None, None, None, None
    if kind in ("p-value", "effect"):
        return s.p_holm, None, None, None
    return s.value, s.ci_low, s.ci_high, s.bound


def _unit(s) -> str:
    return getattr(s, "unit", "value")


def evaluate_check(check: Check, evidence: Evidence, family) -> contract.CheckRow:
    """One number of a claim: its reproduced value, tolerance and verdict (with the values of the
    ``also`` conditions, and for a claim about some seeds the value over every seed, beside it)."""
    x = parse_printed(check.value or check.printed)
    seeds = list(check.seeds) if check.seeds else None
    about = evidence.only_seeds(check.seeds) if check.seeds else evidence
    confidence = evidence.confidence
    try:
        q = _quantity(check, about, family)
    except KeyError as missing:
        return contract.CheckRow(check.printed, check.kind, NOT_TESTABLE,
                                 f"no reproduced value: {str(missing).strip(chr(39))}", None, None, None, None, "n/a",
                                 None, "", seeds)
    s = statistic(check.kind, q, confidence)
    tol = tolerance(check.kind, x, _unit(s))
    verdict, reason = RULES[check.kind](x, s, check.spec(), tol)
    if check.seeds:
        reason = f"seed {', '.join(map(str, check.seeds))} alone: {reason}"
        everyone = statistic(check.kind, _quantity(check, evidence, family), confidence)
        reason += f" [all seeds: {_statistic_text(check.kind, shown_as(everyone, x.text))}]"
    if check.explains == "perfect_subtraction_share":
        reason = (f"{check.printed} is the share of b = 0 pairs in the original split, what a model that does "
                  "subtraction perfectly scores on addition there; each run is judged against its own split's "
                  f"share (addition accuracy minus that share, claimed 0 within the printed precision): {reason}")
    for other in check.also:
        # What an ``also`` entry replaces: a family test's id, a speed-up's denominator, else the
        # model or condition the check reads.
        key = {"family_test": "test", "speedup": "denominator"}.get(
            check.of["quantity"], "model" if "model" in check.of else "condition")
        try:
            other_q = _quantity(check, about, family, **{key: other})
            other_s = shown_as(statistic(check.kind, other_q, confidence), x.text)
            reason += f" [{_with_top(other, evidence)}: {_statistic_text(check.kind, other_s)}]"
        except KeyError:
            pass
    value, low, high, bound = _reproduced_value(check.kind, s)
    return contract.CheckRow(check.printed, check.kind, verdict, reason, value, low, high, bound,
                             _statistic_text(check.kind, shown_as(s, x.text)), tol.size, tol.words, seeds)


def evaluate(claim: Claim, evidence: Evidence, family) -> contract.AuditRow:
    """One audit row: every check of the claim, the claim's data verdict (``combine``), its
    consistency with the document, and its category. An error in a check names the claim."""
    if claim.untestable:
        checks, data = [], NOT_TESTABLE
        reason = claim.untestable
    else:
        checks = []
        for c in claim.checks:
            try:
                checks.append(evaluate_check(c, evidence, family))
            except Exception as err:
                raise ClaimError(f"claims.yaml, claim {claim.id!r}, check {c.printed!r}: "
                                 f"{type(err).__name__}: {err}") from err
        data = combine(c.verdict for c in checks)
        reason = "; ".join(f"{c.printed}: {c.reason}" if len(checks) > 1 else c.reason for c in checks)
    inconsistency = None
    if claim.inconsistent:
        args = {k: v for k, v in claim.inconsistent.items() if k != "check"}
        inconsistency = CONSISTENCY[claim.inconsistent["check"]](**args)
    category = INCONSISTENT if inconsistency else data
    if inconsistency:
        reason = f"inconsistent: {inconsistency}; on the data ({data}): {reason}"
    return contract.AuditRow(
        id=claim.id, claim=claim.quote, section=claim.section, paper_section=claim.paper_section,
        also_in=[f"{s}: {t}" for s, t in claim.also_in], replaces=list(claim.replaces), provenance=claim.provenance,
        checks=checks, data_verdict=data, inconsistency=inconsistency, verdict=category, reason=reason,
        without_nonconverged=data, depends_on=[])


def audit(results, claims: list[Claim] | None = None) -> list[contract.AuditRow]:
    """Every claim (by default those of ``claims.yaml`` but the future-work hypotheses, which
    ``future_work_audit`` judges) on all runs and again without the runs that never converged
    (``Evidence.nonconverged``); a row whose data verdict differs says it depends on them."""
    claims = [c for c in load_claims() if c.paper_section != FUTURE_WORK] if claims is None else claims
    evidence = Evidence.from_results(results) if not isinstance(results, Evidence) else results
    rows = _audit_once(claims, evidence)
    dropped = evidence.nonconverged()
    if not dropped:
        return rows
    out = []
    for row, alt in zip(rows, _audit_once(claims, evidence.without(dropped))):
        depends = [] if alt.data_verdict == row.data_verdict else [str(r) for r in dropped]
        reason = row.reason
        if depends:
            runs = ", ".join(f"{r} ({r.why})" for r in dropped)
            reason += f". Depends on {runs}: without it the data say {alt.data_verdict}"
        out.append(replace(row, without_nonconverged=alt.data_verdict, depends_on=depends, reason=reason))
    return out


def _audit_once(claims, evidence: Evidence) -> list[contract.AuditRow]:
    try:
        family = inference.family(evidence, evidence.confidence)
    except KeyError:
        family = None
    return [evaluate(c, evidence, family) for c in claims]


def future_work_audit(task_family: dict[str, contract.TaskFamilyTest], params: dict,
                      claims: list[Claim] | None = None, notes: dict[str, str] | None = None) -> list[contract.AuditRow]:
    """The design document's future-work hypotheses (``FUTURE_WORK``), each judged by its checks'
    rule (a claimed effect's) on its test in the family of chapters 13-16 (``task_family``: Holm
    within that family), as chapter 08 judges the other claims on chapter 06's family. ``params``:
    the chapter's (its confidence level and thresholds); ``notes``: per test, what its chapter says
    of it beside the numbers (its verdict row's reason: seeds left out, a ceiling), added to the
    row's reason."""
    claims = [c for c in (load_claims() if claims is None else claims) if c.paper_section == FUTURE_WORK]
    notes = notes or {}
    family = pd.DataFrame([{**asdict(t), "method": "paired test" if t.effect != "trend" else "Page's trend test",
                            "note": ""} for t in task_family.values()],
                          columns=[*(f.name for f in fields(contract.TaskFamilyTest)), "method", "note"])
    evidence = Evidence(params=params)
    rows = []
    for c in claims:
        row = evaluate(c, evidence, family)
        said = [notes[check.of["test"]] for check in c.checks if notes.get(check.of.get("test"))]
        rows.append(replace(row, reason=row.reason + "".join(f". The chapter's verdict row: {n}" for n in said)))
    return rows
