"""The article's frozen execution: Quarto's freeze folder ``_freeze/<article>/``, kept only while
it was made from the current inputs.

Quarto's ``freeze: auto`` re-executes the article only when its own source changes, but the
article also reads ``results/*.json`` and imports the package. So its freeze entry is deleted
whenever the inputs recorded in it (``freeze_inputs``: the article, results/*.json, the
package modules it imports, the build check) differ from the current ones
(``invalidate_freeze``: the runner after executing chapters, and the report build before
rendering), and stamped with them after ``quarto render`` (``stamp_freeze``). Deleting it is
Quarto's documented way to force re-execution.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from grokpaper.builder.manuscript import article_code, article_name
from grokpaper.builder.plan import check_build, module_closure

FREEZE_DIR = "_freeze"              # Quarto's project freezer
RUNNER_VERSION = "2"                # bump to invalidate frozen results written by older code (2: modules, build check)


def freeze_inputs(project: Path, article: Path, problems: dict | None = None) -> dict:
    """What the article's execution depends on, by sha256: its source, results/*.json, the
    package modules its code imports (transitively), and the build's consistency report
    (``plan.check_build``, which the stale banner shows; ``problems`` if already computed)."""
    sha = lambda path: hashlib.sha256(path.read_bytes()).hexdigest()  # noqa: E731
    return {
        "version": RUNNER_VERSION,
        "article": sha(article),
        "results": {path.name: sha(path) for path in sorted((project / "results").glob("*.json"))},
        "modules": module_closure(article_code(article)),
        "build-problems": check_build(project) if problems is None else problems,
    }


def inputs_fingerprint(project: Path, article: Path, problems: dict | None = None) -> str:
    """sha256 of ``freeze_inputs``: a freeze record made from other inputs is stale."""
    inputs = json.dumps(freeze_inputs(project, article, problems), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(inputs.encode()).hexdigest()


def freeze_entry(project: Path, article: Path) -> Path:
    """Quarto's freeze folder of the article: `_freeze/<article without suffix>/`."""
    return project / FREEZE_DIR / article.relative_to(project).with_suffix("")


def freeze_file(project: Path, article: Path) -> Path:
    """Quarto's freeze location for the article's HTML execution results."""
    return freeze_entry(project, article) / "execute-results" / "html.json"


def _freeze_records(project: Path, article: Path) -> list[Path]:
    """The execution records in the article's freeze folder, one per format Quarto executed."""
    return sorted((freeze_entry(project, article) / "execute-results").glob("*.json"))


def _stamp(record_path: Path) -> str | None:
    try:
        return (json.loads(record_path.read_text(encoding="utf-8")).get("grokpaper") or {}).get("inputs-sha256")
    except (json.JSONDecodeError, AttributeError, OSError):
        return None


def invalidate_freeze(project: Path, problems: dict | None = None, fingerprint: str | None = None) -> Path | None:
    """Delete the article's freeze folder unless each record in it was made from the current
    inputs (``freeze_inputs``); returns the folder deleted, or None. Deleting it is Quarto's
    documented way to make `quarto render` execute the article again; a record Quarto wrote
    itself (not stamped by ``stamp_freeze``) counts as made from unknown inputs."""
    project = Path(project).resolve()
    article = project / article_name(project)
    entry = freeze_entry(project, article)
    if not entry.is_dir() or not article.is_file():
        return None
    fingerprint = fingerprint or inputs_fingerprint(project, article, problems)
    records = _freeze_records(project, article)
    if records and all(_stamp(record) == fingerprint for record in records):
        return None
    shutil.rmtree(entry)
    return entry


def stamp_freeze(project: Path, article: Path, fingerprint: str) -> None:
    """After `quarto render`: record in each freeze record of the current article source the
    inputs it was made from (Quarto keeps only its source hash; it ignores the extra key)."""
    for path in _freeze_records(project, article):
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("hash") == quarto_source_hash(article):
            record["grokpaper"] = {"inputs-sha256": fingerprint, "writer": "quarto render, stamped by grokpaper.builder.render"}
            path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def quarto_source_hash(article: Path) -> str:
    """Quarto's freeze hash: md5 of the source with LF line endings."""
    text = article.read_text(encoding="utf-8").replace("\r\n", "\n")
    return hashlib.md5(text.encode("utf-8")).hexdigest()
