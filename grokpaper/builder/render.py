"""Report build: `quarto render` when Quarto is installed, otherwise the same manuscript built
offline from the same sources (``offline.py``: pandoc for HTML, typst for the PDF).

Either way the build first checks that the executed chapters and results are one consistent
build (``plan.check_build``) and refuses otherwise, unless told `allow_stale` (the article
then shows ``report.stale_banner``). Chapters waiting for runs (``plan.waiting_chapters``) are
left out, and named. Then it deletes the article's frozen execution if it was
made from other inputs (``freeze.invalidate_freeze``), so Quarto re-executes it, and after
`quarto render` stamps the new freeze record with the inputs it was made from.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from grokpaper.builder.freeze import inputs_fingerprint, invalidate_freeze, stamp_freeze
from grokpaper.builder.manuscript import OUTPUT_DIR, RenderError, article_name
from grokpaper.builder.offline import build_offline
from grokpaper.builder.plan import (
    build_profile,
    chapter_graph,
    check_build,
    describe_problems,
    repair_command,
    unreadable_results,
    waiting_chapters,
)
from grokpaper.config import ParamsError


class StaleBuildError(RenderError):
    """The executed chapters and results are not one consistent build (``plan.check_build``):
    a report from them would mix numbers computed from different inputs."""

    def __init__(self, problems: dict[str, list[str]], profile: str | None):
        self.problems = problems
        super().__init__(
            "the executed chapters and results are not one consistent build; a report from them would mix "
            f"numbers from different inputs:\n{describe_problems(problems)}\n"
            f"Re-execute them with `python -m grokpaper run --profile {profile or '<profile>'}`, or render "
            "anyway with --allow-stale (the report then opens with a warning naming them).")


# --------------------------------------------------------------------------- entry point

def build(project_dir=".", formats=("html", "pdf"), offline=False, quiet=False, allow_stale=False) -> dict:
    """Render the manuscript: run `quarto render` if Quarto is on PATH (unless offline),
    else build `_manuscript/index.html` and `_manuscript/<article>.pdf` with pandoc + typst.
    Refuses (StaleBuildError) a build whose chapters or results are stale unless ``allow_stale``,
    and (RenderError, one line naming the file and the fix) a results file that is not valid JSON.
    Returns {format: output path} (offline) or {"quarto": output dir}."""
    project = Path(project_dir).resolve()
    formats = tuple(formats)
    bad = [f for f in formats if f not in ("html", "pdf")]
    if bad:
        raise ValueError(f"formats: unknown {bad}; allowed values are 'html' and 'pdf'")
    broken = unreadable_results(project)
    if broken:  # the article reads every results file: no report from a broken one, stale or not
        graph, profile = chapter_graph(project), build_profile(project)
        raise RenderError("; ".join(f"{rel} {why}: the article cannot read it; {repair_command(rel, graph, profile)}"
                                    for rel, why in broken.items()))
    problems = check_build(project)
    if problems and not allow_stale:
        raise StaleBuildError(problems, build_profile(project))
    if problems and not quiet:
        print(f"[render] --allow-stale: the report opens with a warning naming these:\n{describe_problems(problems)}",
              file=sys.stderr)
    waiting = waiting_chapters(project)
    if waiting and not quiet:
        print("[render] built without the chapters waiting for runs:\n"
              + describe_problems({name: [why] for name, why in waiting.items()}), file=sys.stderr)
    article = project / article_name(project)
    if not article.is_file():
        raise RenderError(f"manuscript article {article.name!r} not found in {project}")
    fingerprint = inputs_fingerprint(project, article, problems)
    removed = invalidate_freeze(project, problems, fingerprint)
    if removed and not quiet:
        print(f"[render] inputs of {article.name} changed: removed {removed.relative_to(project)}/ so it re-executes")

    quarto = None if offline else shutil.which("quarto")
    if quarto:
        # all formats of _quarto.yml by default; one of them with --to (html, or typst for the PDF)
        args = [quarto, "render"] if len(set(formats)) > 1 else [quarto, "render", "--to", {"html": "html", "pdf": "typst"}[formats[0]]]
        subprocess.run(args, cwd=project, check=True)
        stamp_freeze(project, article, fingerprint)
        return {"quarto": project / OUTPUT_DIR}

    return build_offline(project, article, formats, fingerprint, quiet)


# --------------------------------------------------------------------------- CLI

def add_cli(subparsers) -> None:
    """Register the `render` subcommand on an argparse subparsers object."""
    p = subparsers.add_parser("render", help="build the report (_manuscript/index.html and PDF)")
    p.add_argument("--offline", action="store_true", help="use pandoc + typst even if quarto is installed")
    p.add_argument("--project", default=".", help="project directory (default: .)")
    p.add_argument("--to", choices=["html", "pdf"], action="append", help="format(s) to build (default: both)")
    p.add_argument("--allow-stale", action="store_true",
                   help="build even if chapters are stale or results were not written by the runner; the "
                        "report then opens with a warning naming them")
    p.set_defaults(func=cli_render)


def cli_render(args) -> int:
    """`python -m grokpaper render`: build the report, print clear errors for bad sources."""
    try:
        build(args.project, formats=tuple(args.to or ("html", "pdf")), offline=args.offline,
              allow_stale=args.allow_stale)
    except ParamsError as e:  # a chapter source the build check cannot read (bad header, cycle)
        print(f"render error: {e}", file=sys.stderr)
        return 2
    except RenderError as e:
        print(f"render error: {e}", file=sys.stderr)
        return 2
    return 0
