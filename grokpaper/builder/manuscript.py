"""The manuscript project as the report build reads it: ``_quarto.yml``'s article and output
folder, and the article's Python (its `{python}` cells and inline `` `{python} expr` ``
expressions), found outside fenced code blocks as Quarto finds them.

Read by the freeze handling (which modules the article imports) and by the offline build
(which executes the article).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

OUTPUT_DIR = "_manuscript"          # Quarto's output directory for manuscript projects

INLINE_RE = re.compile(r"`\{python\}\s+([^`]+?)`")
FENCE_RE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")
PYTHON_CELL_RE = re.compile(r"^\{python[\s,}]")


class RenderError(ValueError):
    """A problem in the report sources (bad embed, unknown reference, failing cell...)."""


def quarto_config(project: Path) -> dict:
    cfg_path = project / "_quarto.yml"
    cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8")) if cfg_path.is_file() else {}
    return cfg or {}


def article_name(project: Path) -> str:
    """The manuscript's article file, relative to the project (`manuscript: article:` in
    `_quarto.yml`; default index.qmd if present, as Quarto, else paper.qmd)."""
    manuscript = quarto_config(project).get("manuscript") or {}
    return manuscript.get("article") or ("index.qmd" if (project / "index.qmd").exists() else "paper.qmd")


def parse_cell_options(source: str) -> tuple[dict, str]:
    """Quarto `#| key: value` option lines at the top of a cell -> (options, remaining code)."""
    lines = source.splitlines()
    opts = []
    while lines and lines[0].startswith("#|"):
        line = lines.pop(0)
        opts.append(line[3:] if line[2:3] == " " else line[2:])
    options = {}
    if opts:
        try:
            options = yaml.safe_load("\n".join(opts)) or {}
        except yaml.YAMLError as e:
            raise RenderError(f"bad '#|' cell options {opts!r}: {e}") from None
    return options, "\n".join(lines)


def markdown_segments(body: str):
    """Split markdown into ("text", str) / ("python", (options, code, raw)) / ("code", str)
    pieces, so that inline expressions are only looked for outside code blocks."""
    out, text, lines, i = [], [], body.splitlines(keepends=True), 0
    while i < len(lines):
        m = FENCE_RE.match(lines[i].rstrip("\n"))
        if not m:
            text.append(lines[i])
            i += 1
            continue
        indent, fence, info = m.groups()
        j = i + 1
        while j < len(lines):
            close = FENCE_RE.match(lines[j].rstrip("\n"))
            if close and close.group(2)[0] == fence[0] and len(close.group(2)) >= len(fence) and not close.group(3).strip():
                break
            j += 1
        block = "".join(lines[i:j + 1])
        out.append(("text", "".join(text)))
        text = []
        if PYTHON_CELL_RE.match(info.strip()):
            options, code = parse_cell_options("".join(lines[i + 1:j]))
            out.append(("python", (options, code, block)))
        else:
            out.append(("code", block))
        i = j + 1
    out.append(("text", "".join(text)))
    return out


def front_and_body(article: Path) -> tuple[str, str]:
    """The article's source split into its front matter block (as text) and its body."""
    source = article.read_text(encoding="utf-8").replace("\r\n", "\n")
    meta_text = re.match(r"\A---[ \t]*\n.*?\n(?:---|\.\.\.)[ \t]*\n", source, re.S)
    return (meta_text.group(0), source[meta_text.end():]) if meta_text else ("", source)


def python_of(segments: list) -> tuple[list[str], list[str]]:
    """The code of the `{python}` cells that execute (not `eval: false`) and the inline expressions."""
    cells = [seg[1] for kind, seg in segments if kind == "python" and seg[0].get("eval", True) is not False]
    inline = [m.group(1) for kind, seg in segments if kind == "text" for m in INLINE_RE.finditer(seg)]
    return cells, inline


def article_code(article: Path) -> list[str]:
    """The Python the article executes: its `{python}` cells and inline expressions."""
    cells, inline = python_of(markdown_segments(front_and_body(article)[1]))
    return cells + inline
