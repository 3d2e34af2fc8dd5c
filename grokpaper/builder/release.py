"""The paper's versions: one per committed build whose results differ from the last one's.

A build's version is in three places that must agree: the report's front matter (the
``subtitle`` "Version X.Y" that ``_quarto.yml`` gives the article, read by Quarto and by the
offline build alike), ``CITATION.cff`` (``version``) and the top entry of ``CHANGELOG.md``,
which also records the build's *results fingerprint*. The fingerprint is a sha256 over every
chapter's parameters and numbers in ``results/*.json`` with the provenance left out and floats
rounded to 10 significant digits, so that the same numbers rebuilt on another machine (which
differ in the last bits) keep their version, and any other change of the results asks for a new
one (``tests/test_release.py`` fails until it has it).

``python -m grokpaper changes`` prints what changed in the results between two builds (the
claims audit's verdict counts, runs, epochs to the highest threshold per condition, the
speed-ups); ``python -m grokpaper release X.Y`` writes the new version into all three places,
with a CHANGELOG entry computed the same way, for the author to complete in words.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
import statistics
import subprocess
import sys
from pathlib import Path

import yaml

from grokpaper.builder.manuscript import article_name, quarto_config
from grokpaper.builder.offline import split_front_matter
from grokpaper.builder.plan import RESULTS
from grokpaper.config import project_root
from grokpaper.paper.contract import FIRST, epochs_column, family_test_id

CHANGELOG = "CHANGELOG.md"
CITATION = "CITATION.cff"
TAG_PREFIX = "paper-v"
VERSION_RE = re.compile(r"^\d+\.\d+$")
SUBTITLE_RE = re.compile(r"^Version (\d+\.\d+)$")
ENTRY_RE = re.compile(r"^## (\d+\.\d+) \((\d{4}-\d{2}-\d{2})\)", re.M)
FINGERPRINT_RE = re.compile(r"^- Results fingerprint: `([0-9a-f]{16})`", re.M)
HIGHEST = 0.999  # the threshold the paper's headline speaks of: 99.9 % test accuracy
RANDOM = "random"


class ReleaseError(ValueError):
    """The version files disagree or cannot be read; the message names the file and the fix."""


# --- the three places of the version ------------------------------------------------------
def front_matter_version(project: Path) -> str:
    """The version the report's front matter shows: "Version X.Y" as the article's subtitle, from
    the article's own front matter or else from ``_quarto.yml`` (as Quarto merges them)."""
    front, _ = split_front_matter((project / article_name(project)).read_text(encoding="utf-8"))
    subtitle = front.get("subtitle", quarto_config(project).get("subtitle"))
    m = SUBTITLE_RE.match(str(subtitle or ""))
    if not m:
        raise ReleaseError(f"_quarto.yml: subtitle {subtitle!r} is not 'Version X.Y' (the paper's version in the "
                           "report's front matter); `python -m grokpaper release X.Y` writes it")
    return m[1]


def citation_version(project: Path) -> str:
    """``version`` of ``CITATION.cff``."""
    path = project / CITATION
    if not path.is_file():
        raise ReleaseError(f"{CITATION} not found in {project}")
    return str((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("version"))


def changelog_entries(project: Path) -> list[dict]:
    """The entries of ``CHANGELOG.md``, newest first: {"version", "date", "fingerprint", "text"}."""
    path = project / CHANGELOG
    if not path.is_file():
        raise ReleaseError(f"{CHANGELOG} not found in {project}")
    text = path.read_text(encoding="utf-8")
    heads = list(ENTRY_RE.finditer(text))
    entries = []
    for head, after in zip(heads, heads[1:] + [None]):
        body = text[head.start():after.start() if after else len(text)]
        fingerprint = FINGERPRINT_RE.search(body)
        entries.append({"version": head[1], "date": head[2], "fingerprint": fingerprint[1] if fingerprint else None,
                        "text": body})
    if not entries:
        raise ReleaseError(f"{CHANGELOG}: no entry '## X.Y (YYYY-MM-DD)'")
    return entries


def version_problems(project: Path) -> list[str]:
    """What keeps the version files from describing the committed build, one line each: the
    three versions disagree, or the results changed since the top CHANGELOG entry (empty: fine)."""
    problems = []
    top = changelog_entries(project)[0]
    shown, cited = front_matter_version(project), citation_version(project)
    if not shown == cited == top["version"]:
        problems.append(f"the versions disagree: front matter (_quarto.yml subtitle) {shown}, {CITATION} {cited}, "
                        f"{CHANGELOG} top entry {top['version']}; `python -m grokpaper release X.Y` writes all three")
    now = results_fingerprint(results_at(project))
    if top["fingerprint"] != now:
        problems.append(f"results/ changed since version {top['version']} (fingerprint {now}, {CHANGELOG} says "
                        f"{top['fingerprint']}): a new build is a new version; `python -m grokpaper changes` shows "
                        "what changed and `python -m grokpaper release X.Y` records it")
    return problems


# --- a build's results ----------------------------------------------------------------------
def _git(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(project), *args], capture_output=True, text=True)


def results_at(project: Path, rev: str | None = None) -> dict[str, dict]:
    """Every results file of a build, {chapter: contents}: the working tree's (``rev`` None) or
    those of a git revision (a commit, or a tag such as ``paper-v1.0``)."""
    if rev is None:
        return {path.stem: json.loads(path.read_text(encoding="utf-8"))
                for path in sorted((project / RESULTS).glob("*.json"))}
    listed = _git(project, "ls-tree", "--name-only", rev, f"{RESULTS}/")
    if listed.returncode != 0:
        raise ReleaseError(f"no git revision {rev!r} in {project} ({listed.stderr.strip()})")
    out = {}
    for name in sorted(n for n in listed.stdout.split() if n.endswith(".json")):
        out[Path(name).stem] = json.loads(_git(project, "show", f"{rev}:{name}").stdout)
    return out


def _rounded(value):
    """A results value with its floats at 10 significant digits (rebuilds differ in the last bits)."""
    if isinstance(value, float):
        return float(f"{value:.10g}") if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def results_fingerprint(results: dict[str, dict]) -> str:
    """16 hex digits of sha256 over every chapter's parameters and numbers, without provenance
    (the git commit, machine and versions a build ran on), floats to 10 significant digits."""
    kept = {}
    for chapter, blob in sorted(results.items()):
        numbers = blob.get("numbers", blob)
        if isinstance(numbers, dict):
            numbers = {k: v for k, v in numbers.items() if k != "provenance"}
        kept[chapter] = {"params": blob.get("params"), "numbers": numbers}
    text = json.dumps(_rounded(kept), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def summary(results: dict[str, dict]) -> dict:
    """A build's headline numbers, read from its results files (older builds lack some; those are
    None): profile, seeds, runs, model-epochs, the audit's verdict counts, per condition the runs
    that reached 99.9 % test accuracy and their median epochs, and the speed-ups over random init."""
    def numbers(chapter):
        blob = results.get(chapter) or {}
        return blob.get("numbers", blob) if isinstance(blob, dict) else {}

    audit, transfer, runs, stats = numbers("08-audit"), numbers("02-transfer"), numbers("09-runs"), numbers("06-statistics")
    column = epochs_column(FIRST, HIGHEST)
    conditions = {}
    table = transfer.get("table") or {}
    for i, condition in enumerate(table.get("condition", [])):
        epochs = (table.get(column) or [None] * (i + 1))[i]
        entry = conditions.setdefault(condition, {"runs": 0, "reached": []})
        entry["runs"] += 1
        if epochs is not None:
            entry["reached"].append(epochs)
    speedups = {}
    for condition in conditions:
        test = (stats.get("family") or {}).get(family_test_id(column, RANDOM, condition))
        if condition != RANDOM and test:
            speedups[condition] = {k: test.get(k) for k in ("estimate", "ci_low", "ci_high", "bound", "p_holm")}
    return {
        "profile": audit.get("profile"),
        "seeds": audit.get("n_seeds"),
        "runs": runs.get("n_runs"),
        "model_epochs": runs.get("total_epochs"),
        "verdicts": audit.get("counts") or {},
        "conditions": {c: {"runs": e["runs"], "reached": len(e["reached"]),
                           "median": statistics.median(e["reached"]) if e["reached"] else None}
                       for c, e in conditions.items()},
        "speedups": speedups,
        "fingerprint": results_fingerprint(results),
    }


# --- what changed between two builds --------------------------------------------------------
def _num(value, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def _arrow(old, new, text=_num) -> str:
    return text(new) if old == new else f"{text(old)} -> {text(new)}"


def _verdicts(counts: dict) -> str:
    """'supported 2, contradicted by the data 19, ... (of 53; 6 depend on a non-converged run)'."""
    flat = [(k, v) for k, v in counts.items() if isinstance(v, int) and k != "total" and not k.startswith("depend")]
    notes = [f"{v} {k}" for k, v in counts.items() if isinstance(v, int) and k.startswith("depend")]
    of = [f"of {counts['total']}"] if "total" in counts else []
    return ", ".join(f"{k} {v}" for k, v in flat) + (f" ({'; '.join(of + notes)})" if of or notes else "")


def _condition(entry: dict | None) -> str:
    if not entry:
        return "no runs"
    median = "" if entry["median"] is None else f", median {_num(entry['median'])} epochs"
    return f"{entry['reached']} of {entry['runs']} runs reached 99.9 %{median}"


def _speedup(s: dict | None) -> str:
    if not s:
        return "not in that build's results"
    if s.get("estimate") is None:
        return "undefined"
    head = ("≥ " if s.get("bound") == "lower" else "") + f"{s['estimate']:.1f}×"
    interval = "" if s.get("ci_low") is None else f" (95 % CI {s['ci_low']:.1f}–{s['ci_high']:.1f})"
    return head + interval + ("" if s.get("p_holm") is None else f", Holm p = {s['p_holm']:#.2g}")


def changes(old: dict, new: dict) -> list[str]:
    """Markdown lines saying what changed from build ``old`` to build ``new`` (two ``summary``s):
    the fingerprint, scale, verdict counts, each condition's runs to 99.9 % and the speed-ups."""
    lines = [f"- Results fingerprint: `{new['fingerprint']}`" + ("" if old["fingerprint"] != new["fingerprint"]
                                                                else " (unchanged)"),
             f"- Scale: {_arrow(old['seeds'], new['seeds'])} seeds, {_arrow(old['runs'], new['runs'])} runs, "
             f"{_arrow(old['model_epochs'], new['model_epochs'])} model-epochs"]
    if old["verdicts"] == new["verdicts"]:
        lines.append(f"- Claims audit (verdicts): unchanged, {_verdicts(new['verdicts'])}")
    else:
        lines.append(f"- Claims audit (verdicts): {_verdicts(old['verdicts']) or 'n/a'} -> {_verdicts(new['verdicts'])}")
    for condition in sorted(set(old["conditions"]) | set(new["conditions"])):
        before, after = old["conditions"].get(condition), new["conditions"].get(condition)
        text = _condition(after) if before == after else f"{_condition(before)} -> {_condition(after)}"
        lines.append(f"- Transfer from {condition}: {text}")
    for condition in sorted(set(old["speedups"]) | set(new["speedups"])):
        before, after = _speedup(old["speedups"].get(condition)), _speedup(new["speedups"].get(condition))
        lines.append(f"- Speed-up of {condition} over random init (epochs to 99.9 %, geometric mean of the per-seed "
                     f"ratio): {after if before == after else f'{before} -> {after}'}")
    return lines


# --- a new version ------------------------------------------------------------------------
def write_version(project: Path, version: str, date: str, previous: dict | None, rev: str | None) -> None:
    """Write ``version`` into the front matter (``_quarto.yml``'s subtitle), ``CITATION.cff``
    (``version``, ``date-released``) and a new top entry of ``CHANGELOG.md`` with the results'
    changes since ``previous`` (a ``summary``, from revision ``rev``; None: unknown)."""
    if not VERSION_RE.match(version):
        raise ReleaseError(f"version {version!r}: expected X.Y (e.g. 1.1 for a rebuild, 2.0 for a new study design)")
    current = changelog_entries(project)[0]["version"]
    if tuple(map(int, version.split("."))) <= tuple(map(int, current.split("."))):
        raise ReleaseError(f"version {version} is not after {current}, the top entry of {CHANGELOG}")
    quarto = project / "_quarto.yml"
    text = quarto.read_text(encoding="utf-8")
    new_text, n = re.subn(r'^subtitle: .*$', f'subtitle: "Version {version}"', text, flags=re.M)
    if n != 1:
        raise ReleaseError('_quarto.yml: no top-level line `subtitle: "Version X.Y"` to rewrite')
    citation = project / CITATION
    cff = citation.read_text(encoding="utf-8")
    cff, n1 = re.subn(r'^version: .*$', f'version: "{version}"', cff, flags=re.M)
    cff, n2 = re.subn(r'^date-released: .*$', f'date-released: "{date}"', cff, flags=re.M)
    if (n1, n2) != (1, 1):
        raise ReleaseError(f"{CITATION}: needs one top-level `version:` and one `date-released:` line to rewrite")
    new = summary(results_at(project))
    since = (f"Changes in the results since {rev}, computed by `python -m grokpaper changes`:" if previous else
             "The previous build's results were not found (no git tag of the last version): compare by hand with "
             "`python -m grokpaper changes --from REV`.")
    entry = "\n".join([f"## {version} ({date})", "",
                       "WHAT CHANGED AND WHY, in a sentence or two (the study, the code, the build).", "",
                       since, "", *changes(previous or new, new), "", ""])
    log = project / CHANGELOG
    log_text = log.read_text(encoding="utf-8")
    first = ENTRY_RE.search(log_text)
    quarto.write_text(new_text, encoding="utf-8")
    citation.write_text(cff, encoding="utf-8")
    log.write_text(log_text[:first.start()] + entry + log_text[first.start():], encoding="utf-8")


# --- command line -------------------------------------------------------------------------
def add_cli(subparsers) -> None:
    """Register ``changes`` and ``release`` on an argparse subparsers object."""
    p = subparsers.add_parser("changes", help="what changed in the results between two builds (for CHANGELOG.md)",
                              description="Print what changed in results/*.json between two builds: the claims "
                                          "audit's verdict counts, runs, epochs to 99.9 %, speed-ups.")
    p.add_argument("--from", dest="old", metavar="REV",
                   help=f"the earlier build: a git revision (default: the tag {TAG_PREFIX}<version in the front matter>)")
    p.add_argument("--to", dest="new", metavar="REV", help="the later build: a git revision (default: the working tree)")
    p.add_argument("--project", default=None, help="project directory (default: found from the cwd)")
    p.set_defaults(func=changes_command)
    p = subparsers.add_parser("release", help="give the committed build a new version (front matter, CITATION.cff, "
                                              "CHANGELOG.md)",
                              description="Write version X.Y into _quarto.yml's subtitle, CITATION.cff and a new "
                                          "CHANGELOG.md entry whose results changes are computed since the last "
                                          "version's tag; then complete the entry's words, commit, and tag.")
    p.add_argument("version", help="the new version, X.Y")
    p.add_argument("--date", default=None, help="release date YYYY-MM-DD (default: today)")
    p.add_argument("--project", default=None, help="project directory (default: found from the cwd)")
    p.set_defaults(func=release_command)


def _previous_rev(project: Path, rev: str | None) -> str:
    return rev or f"{TAG_PREFIX}{front_matter_version(project)}"


def changes_command(args) -> int:
    """``python -m grokpaper changes``: print the results changes between two builds."""
    project = Path(args.project).resolve() if args.project else project_root()
    try:
        old_rev = _previous_rev(project, args.old)
        old, new = summary(results_at(project, old_rev)), summary(results_at(project, args.new))
    except (ReleaseError, json.JSONDecodeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"Results of {args.new or 'the working tree'} against {old_rev}:")
    print("\n".join(changes(old, new)))
    if old["fingerprint"] == new["fingerprint"]:
        print("The results are the same: no new version needed.")
    else:
        print("The results changed: give the build a new version with `python -m grokpaper release X.Y`.")
    return 0


def release_command(args) -> int:
    """``python -m grokpaper release X.Y``: write the new version and its CHANGELOG entry."""
    project = Path(args.project).resolve() if args.project else project_root()
    date = args.date or dt.date.today().isoformat()
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
            raise ReleaseError(f"--date {date!r}: expected YYYY-MM-DD")
        rev = _previous_rev(project, None)
        try:
            previous = summary(results_at(project, rev))
        except ReleaseError:
            previous, rev = None, None
        write_version(project, args.version, date, previous, rev)
    except (ReleaseError, json.JSONDecodeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"version {args.version}: wrote _quarto.yml (subtitle), {CITATION} and a {CHANGELOG} entry. Next: say in "
          f"words what changed in that entry, commit, then `git tag -a {TAG_PREFIX}{args.version} -m "
          f"\"paper version {args.version}\"`.")
    return 0
