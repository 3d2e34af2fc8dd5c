"""Report build: `quarto render` when Quarto is installed, otherwise the same manuscript
built offline from the same sources with pandoc (HTML) and typst (PDF).

The offline build mimics a Quarto *manuscript* project (see `_quarto.yml`):

1. execute the article's `{python}` cells and inline `` `{python} expr` `` expressions in a
   fresh Python process (cwd = project), frozen in Quarto's own freeze file
   `_freeze/<article>/execute-results/html.json`, reused while its inputs are unchanged
   (`freeze_inputs`: the article, results/*.json, the package modules it imports, the
   build's consistency report);
2. replace `{{< embed chapters/NN-name.ipynb#label >}}` with the stored output of the
   labelled cell (figure + fig-cap, or table + tbl-cap) and a "Source:" link;
3. number figures/tables/sections/equations and resolve `@fig-...` style references with
   `render_assets/crossref.lua` (run before --citeproc);
4. write `_manuscript/index.html` (one self-contained page), `_manuscript/<article>.pdf`
   (pandoc -> typst -> `typst.compile`) and a notebook view
   `_manuscript/chapters/NN-name-preview.html` beside a copy of each notebook -- the
   names Quarto gives them.

Either way the build first checks that the executed chapters and results are one consistent
build (`runner.check_build`) and refuses otherwise, unless told `allow_stale` (the article
then shows `report.stale_banner`). Quarto's `freeze: auto` re-executes the article only when
its own source changes, so before `quarto render` the article's freeze entry `_freeze/<article>/`
is deleted whenever its recorded inputs differ from the current ones (`invalidate_freeze`; the
runner does the same after executing chapters), and stamped with them afterwards.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

ASSETS = Path(__file__).with_name("render_assets")
OUTPUT_DIR = "_manuscript"          # Quarto's output directory for manuscript projects
FREEZE_DIR = "_freeze"              # Quarto's project freezer
HIDDEN_TAGS = {"parameters", "injected-parameters"}
RUNNER_VERSION = "2"                # bump to invalidate frozen results written by older code (2: modules, build check)

EMBED_RE = re.compile(r"\{\{<\s*embed\s+([^\s>#]+)(?:#([^\s>]+))?\s*([^>]*?)\s*>\}\}")
INLINE_RE = re.compile(r"`\{python\}\s+([^`]+?)`")
FENCE_RE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")
PYTHON_CELL_RE = re.compile(r"^\{python[\s,}]")
NOTEBOOK_SKIP_DIRS = {"_manuscript", "_freeze", ".venv", "venv", "node_modules", "tests", "store"}


class RenderError(ValueError):
    """A problem in the report sources (bad embed, unknown reference, failing cell...)."""


class StaleBuildError(RenderError):
    """The executed chapters and results are not one consistent build (``runner.check_build``):
    a report from them would mix numbers computed from different inputs."""

    def __init__(self, problems: dict[str, list[str]], profile: str | None):
        from grokpaper.build.runner import describe_problems

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
    Refuses (StaleBuildError) a build whose chapters or results are stale unless ``allow_stale``.
    Returns {format: output path} (offline) or {"quarto": output dir}."""
    from grokpaper.build.runner import build_profile, check_build, describe_problems

    project = Path(project_dir).resolve()
    formats = tuple(formats)
    bad = [f for f in formats if f not in ("html", "pdf")]
    if bad:
        raise ValueError(f"formats: unknown {bad}; allowed values are 'html' and 'pdf'")
    problems = check_build(project)
    if problems and not allow_stale:
        raise StaleBuildError(problems, build_profile(project))
    if problems and not quiet:
        print(f"[render] --allow-stale: the report opens with a warning naming these:\n{describe_problems(problems)}",
              file=sys.stderr)
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

    t0 = time.perf_counter()
    config = project_config(project)
    outdir = project / OUTPUT_DIR
    outdir.mkdir(exist_ok=True)
    notebooks = discover_notebooks(project, config)
    filters = config["filters"]

    markdown = execute_article(project, article, fingerprint)
    meta, body = split_front_matter(markdown)
    outputs = {}
    with tempfile.TemporaryDirectory(prefix="grokpaper-render-") as tmp:
        work = Path(tmp)
        body = resolve_embeds(body, project, article.parent, work)
        meta = article_metadata(meta, project, notebooks, formats, article)
        source = work / "article.md"
        source.write_text(join_front_matter(meta, body), encoding="utf-8")
        jobs = []
        if "html" in formats:
            jobs.append(lambda: render_html(source, outdir / "index.html", filters))
            jobs += [lambda nb=nb: render_notebook_view(project, nb, outdir, filters) for nb in notebooks]
        if "pdf" in formats:
            jobs.append(lambda: render_pdf(source, outdir / f"{article.stem}.pdf", filters))
        with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
            for result in pool.map(lambda job: job(), jobs):
                if result is not None:
                    outputs.update(result)
    if not quiet:
        for fmt, path in outputs.items():
            print(f"[render] {fmt}: {path.relative_to(project)}")
        print(f"[render] offline build done in {time.perf_counter() - t0:.1f} s")
    return outputs


# --------------------------------------------------------------------------- project

def _quarto_config(project: Path) -> dict:
    cfg_path = project / "_quarto.yml"
    cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8")) if cfg_path.is_file() else {}
    return cfg or {}


def article_name(project: Path) -> str:
    """The manuscript's article file, relative to the project (`manuscript: article:` in
    `_quarto.yml`; default index.qmd if present, as Quarto, else paper.qmd)."""
    manuscript = _quarto_config(project).get("manuscript") or {}
    return manuscript.get("article") or ("index.qmd" if (project / "index.qmd").exists() else "paper.qmd")


def project_config(project: Path) -> dict:
    """The manuscript settings the offline build needs from `_quarto.yml`:
    article file (default index.qmd, as Quarto) and the notebooks list/render globs."""
    cfg = _quarto_config(project)
    manuscript = cfg.get("manuscript") or {}
    article = article_name(project)
    notebooks = manuscript.get("notebooks") or []
    if isinstance(notebooks, (str, dict)):
        notebooks = [notebooks]
    render = (cfg.get("project") or {}).get("render") or []
    filters = cfg.get("filters") or []
    if isinstance(filters, str):
        filters = [filters]
    # "quarto" marks where Quarto's own filters run; here they (crossref, citeproc) always run last.
    filters = [f for f in filters if f != "quarto"]
    for f in filters:  # filter extensions (by name) and JSON filters are Quarto's to run, not this build's
        if not (isinstance(f, str) and f.endswith(".lua")):
            raise RenderError(f"_quarto.yml filters: {f!r} is not a Lua filter file; the offline build runs .lua files only")
        if not (project / f).is_file():
            raise RenderError(f"_quarto.yml filters: {f!r} not found in {project}")
    return {"article": article, "notebooks": notebooks, "render": render,
            "filters": [project / f for f in filters]}


def discover_notebooks(project: Path, config: dict) -> list[dict]:
    """Notebooks linked under "Notebooks": `manuscript: notebooks:` if given, else the
    `.ipynb` files among `project: render:` globs, else every `.ipynb` in the project."""
    found: list[dict] = []
    if config["notebooks"]:
        for nb in config["notebooks"]:
            entry = {"notebook": nb} if isinstance(nb, str) else dict(nb)
            found.append(entry)
    else:
        paths = []
        globs = [g for g in config["render"] if str(g).endswith(".ipynb")]
        if globs:
            for g in globs:
                paths += sorted(project.glob(g))
        else:
            for p in sorted(project.rglob("*.ipynb")):
                rel = p.relative_to(project)
                if any(part.startswith((".", "_")) or part in NOTEBOOK_SKIP_DIRS for part in rel.parts[:-1]):
                    continue
                paths.append(p)
        found = [{"notebook": p.relative_to(project).as_posix()} for p in dict.fromkeys(paths)]
    for entry in found:
        path = project / entry["notebook"]
        if not path.is_file():
            raise RenderError(f"_quarto.yml manuscript notebook {entry['notebook']!r} not found")
        entry.setdefault("title", notebook_title(read_notebook(path), path))
        entry["preview"] = preview_name(entry["notebook"])
    return found


def preview_name(notebook: str) -> str:
    """Quarto's name for a notebook's rendered view: chapters/x.ipynb -> chapters/x-preview.html."""
    return str(Path(notebook).with_suffix("")) + "-preview.html"


def read_notebook(path: Path) -> dict:
    """A notebook as plain JSON (nbformat 4); cheaper than nbformat for read-only use."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise RenderError(f"{path}: not a valid notebook ({e})") from None


def notebook_title(nb: dict, path: Path) -> str:
    """Title of a notebook: metadata grokpaper.title / title, else its first '# ' heading,
    else the file name."""
    meta = nb.get("metadata", {})
    for value in ((meta.get("grokpaper") or {}).get("title"), meta.get("title")):
        if value:
            return str(value)
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in _text(cell.get("source")).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.name


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else (value or "")


# --------------------------------------------------------------------------- front matter

def split_front_matter(text: str) -> tuple[dict, str]:
    """(YAML front matter as a dict, body) of a .qmd/.md text."""
    m = re.match(r"\A---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", text, re.S)
    if not m:
        return {}, text
    return yaml.safe_load(m.group(1)) or {}, text[m.end():]


def join_front_matter(meta: dict, body: str) -> str:
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n\n" + body


def article_metadata(meta: dict, project: Path, notebooks: list, formats, article: Path) -> dict:
    """Front matter for pandoc: absolute bibliography/csl paths, the Notebooks and
    Other formats lists for the sidebar, and defaults Quarto would apply."""
    meta = dict(meta)
    for key in ("bibliography", "csl"):
        if meta.get(key):
            values = meta[key] if isinstance(meta[key], list) else [meta[key]]
            resolved = []
            for v in values:
                path = (article.parent / v).resolve()
                if not path.is_file():
                    raise RenderError(f"{article.name}: {key} file {v!r} not found")
                resolved.append(str(path))
            meta[key] = resolved if len(resolved) > 1 else resolved[0]
    meta.setdefault("lang", "en")
    meta.setdefault("link-citations", True)
    meta["notebooks"] = [{"title": nb["title"], "href": nb["preview"], "file": Path(nb["notebook"]).name}
                         for nb in notebooks]
    if "pdf" in formats:
        meta["other-formats"] = [{"title": "PDF", "href": f"{article.stem}.pdf"}]
    if "pagetitle" not in meta and "title" in meta:
        meta["pagetitle"] = str(meta["title"])
    return meta


# --------------------------------------------------------------------------- execution

# Runs in a fresh interpreter (cwd = project): executes the article's cells in one
# namespace, then evaluates the inline expressions. Cell stdout and displayed objects are
# captured so `#| output: asis` cells can emit markdown.
_RUNNER = r'''
import contextlib, io, json, sys, traceback, ast
job = json.load(open(sys.argv[1], encoding="utf-8"))
ns = {"__name__": "__main__"}
buf = io.StringIO()

def display(*objs, **kwargs):
    for obj in objs:
        md = getattr(obj, "_repr_markdown_", None)
        print(md() if md else obj, file=buf)

try:
    import IPython.display as _ipd
    _ipd.display = display
except Exception:
    pass
ns["display"] = display

def run(code, name):
    tree = ast.parse(code, name)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, name, "exec"), ns)
    if last is not None:
        value = eval(compile(ast.Expression(last.value), name, "eval"), ns)
        if value is not None:
            display(value)

result = {"cells": [], "inline": []}
for i, code in enumerate(job["cells"]):
    buf.seek(0); buf.truncate()
    try:
        with contextlib.redirect_stdout(buf):
            run(code, f"<{job['article']} cell {i + 1}>")
    except BaseException:
        result["error"] = f"python cell {i + 1} of {job['article']} failed:\n" + traceback.format_exc()
        break
    result["cells"].append(buf.getvalue())
else:
    for expr in job["inline"]:
        try:
            result["inline"].append(str(eval(expr, ns)))
        except BaseException:
            result["error"] = f"inline expression `{{python}} {expr}` in {job['article']} failed:\n" + traceback.format_exc()
            break
json.dump(result, open(sys.argv[2], "w", encoding="utf-8"))
'''


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


def _segments(body: str):
    """Split markdown into ("text", str) / ("python", (options, code, raw)) / ("code", str)
    pieces, so that inline expressions are only looked for outside code blocks."""
    out, text, lines, i = [], [], body.splitlines(keepends=True), 0
    while i < len(lines):
        m = FENCE_RE.match(lines[i].rstrip("\n"))
        if not m:
            text.append(lines[i]); i += 1
            continue
        indent, fence, info = m.groups()
        j = i + 1
        while j < len(lines):
            close = FENCE_RE.match(lines[j].rstrip("\n"))
            if close and close.group(2)[0] == fence[0] and len(close.group(2)) >= len(fence) and not close.group(3).strip():
                break
            j += 1
        block = "".join(lines[i:j + 1])
        out.append(("text", "".join(text))); text = []
        if PYTHON_CELL_RE.match(info.strip()):
            options, code = parse_cell_options("".join(lines[i + 1:j]))
            out.append(("python", (options, code, block)))
        else:
            out.append(("code", block))
        i = j + 1
    out.append(("text", "".join(text)))
    return out


def _front_and_body(article: Path) -> tuple[str, str]:
    """The article's source split into its front matter block (as text) and its body."""
    source = article.read_text(encoding="utf-8").replace("\r\n", "\n")
    meta_text = re.match(r"\A---[ \t]*\n.*?\n(?:---|\.\.\.)[ \t]*\n", source, re.S)
    return (meta_text.group(0), source[meta_text.end():]) if meta_text else ("", source)


def _python_of(segments: list) -> tuple[list[str], list[str]]:
    """The code of the `{python}` cells that execute (not `eval: false`) and the inline expressions."""
    cells = [seg[1] for kind, seg in segments if kind == "python" and seg[0].get("eval", True) is not False]
    inline = [m.group(1) for kind, seg in segments if kind == "text" for m in INLINE_RE.finditer(seg)]
    return cells, inline


def article_code(article: Path) -> list[str]:
    """The Python the article executes: its `{python}` cells and inline expressions."""
    cells, inline = _python_of(_segments(_front_and_body(article)[1]))
    return cells + inline


def freeze_inputs(project: Path, article: Path, problems: dict | None = None) -> dict:
    """What the article's execution depends on, by sha256: its source, results/*.json, the
    package modules its code imports (transitively), and the build's consistency report
    (``runner.check_build``, which the stale banner shows; ``problems`` if already computed)."""
    from grokpaper.build.runner import check_build, module_closure

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
            record["grokpaper"] = {"inputs-sha256": fingerprint, "writer": "quarto render, stamped by grokpaper.build.render"}
            path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def quarto_source_hash(article: Path) -> str:
    """Quarto's freeze hash: md5 of the source with LF line endings."""
    text = article.read_text(encoding="utf-8").replace("\r\n", "\n")
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def execute_article(project: Path, article: Path, fingerprint: str | None = None) -> str:
    """The article's markdown after executing its python cells and inline expressions,
    reused from the freeze file while its inputs (``freeze_inputs``) are unchanged."""
    frozen = freeze_file(project, article)
    fingerprint = fingerprint or inputs_fingerprint(project, article)
    if frozen.is_file():
        try:
            record = json.loads(frozen.read_text(encoding="utf-8"))
            if (record.get("grokpaper") or {}).get("inputs-sha256") == fingerprint:
                return record["result"]["markdown"]
        except (json.JSONDecodeError, KeyError, TypeError):
            pass  # unreadable or written by another tool: execute again

    front, body = _front_and_body(article)
    segments = _segments(body)
    cells, inline = _python_of(segments)

    result = {"cells": [], "inline": []}
    if cells or inline:
        result = _run_python(project, article, cells, inline)

    cell_out, inline_out = iter(result["cells"]), iter(result["inline"])
    pieces = []
    for kind, seg in segments:
        if kind == "text":
            pieces.append(INLINE_RE.sub(lambda m: next(inline_out), seg))
        elif kind == "code":
            pieces.append(seg)
        else:
            options, code, _raw = seg
            output = next(cell_out) if options.get("eval", True) is not False else ""
            if options.get("echo") is True:
                pieces.append(f"::: {{.cell-code}}\n```python\n{code.strip()}\n```\n:::\n\n")
            if options.get("output") == "asis" and output.strip():
                pieces.append(output.rstrip() + "\n\n")
    markdown = front + "\n" + "".join(pieces)

    frozen.parent.mkdir(parents=True, exist_ok=True)
    record = {
        # Quarto's own freeze record ({hash, result}), so `quarto render` with
        # `freeze: auto` reuses it while paper.qmd is unchanged.
        "hash": quarto_source_hash(article),
        "result": {"engine": "jupyter", "markdown": markdown, "supporting": [], "filters": [], "includes": {}},
        # Our key also covers results/*.json, the modules the article imports and the build check.
        "grokpaper": {"inputs-sha256": fingerprint, "writer": "grokpaper.build.render (offline build)"},
    }
    tmp = frozen.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, frozen)
    return markdown


def _run_python(project: Path, article: Path, cells: list, inline: list) -> dict:
    with tempfile.TemporaryDirectory(prefix="grokpaper-exec-") as tmp:
        job, out = Path(tmp) / "job.json", Path(tmp) / "out.json"
        job.write_text(json.dumps({"article": article.name, "cells": cells, "inline": inline}), encoding="utf-8")
        env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=os.pathsep.join(
            [str(project)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])))
        proc = subprocess.run([sys.executable, "-c", _RUNNER, str(job), str(out)], cwd=project,
                              env=env, capture_output=True, text=True)
        if not out.is_file():
            raise RenderError(f"executing {article.name} crashed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
        result = json.loads(out.read_text(encoding="utf-8"))
    if "error" in result:
        raise RenderError(result["error"])
    return result


# --------------------------------------------------------------------------- embeds

def _cell_label(cell: dict) -> str | None:
    options, _ = parse_cell_options(_text(cell.get("source")))
    return str(options["label"]) if "label" in options else None


def resolve_embeds(body: str, project: Path, base: Path, work: Path) -> str:
    """Replace each `{{< embed nb.ipynb#label >}}` with the labelled cell's stored output:
    a numbered figure (image/png + fig-cap) or table (text/markdown + tbl-cap), followed
    by a "Source:" link to the notebook view. PNGs are written to `work/figures/`."""
    cache: dict[Path, dict] = {}
    (work / "figures").mkdir(exist_ok=True)

    def replace(m: re.Match) -> str:
        shortcode, nb_rel, labels = m.group(0), m.group(1), m.group(2)
        nb_path = (base / nb_rel).resolve()
        if not labels:
            raise RenderError(f"{shortcode}: give a cell label after '#' (e.g. {nb_rel}#fig-x)")
        if not nb_path.is_file():
            raise RenderError(f"{shortcode}: notebook {nb_rel} not found (looked for {nb_path})")
        if nb_path not in cache:
            cache[nb_path] = read_notebook(nb_path)
        nb = cache[nb_path]
        by_label = {}
        for cell in nb.get("cells", []):
            if cell.get("cell_type") != "code":
                continue
            label = _cell_label(cell)
            for key in (label, cell.get("id")):
                if key:
                    by_label.setdefault(str(key), cell)
        nb_key = nb_path.relative_to(project).as_posix() if nb_path.is_relative_to(project) else nb_rel
        title = notebook_title(nb, nb_path)
        parts = []
        for label in labels.split(","):
            label = label.strip()
            cell = by_label.get(label)
            if cell is None:
                known = sorted({_cell_label(c) for c in nb.get("cells", []) if c.get("cell_type") == "code"} - {None})
                raise RenderError(f"{shortcode}: notebook {nb_rel} has no cell labelled {label!r}; "
                                  f"labels in it: {', '.join(known) or '(none)'}")
            parts.append(_embed_cell(cell, label, shortcode, nb_rel, work))
            link = f"{preview_name(nb_key)}#{label}"
            parts.append(f"::: {{.embed-source}}\nSource: [{title}]({link}) ({Path(nb_rel).name})\n:::\n")
        return "\n\n" + "\n\n".join(parts) + "\n\n"

    # shortcodes inside fenced code blocks are left alone (documentation of the syntax)
    return "".join(EMBED_RE.sub(replace, seg) if kind == "text" else (seg if kind == "code" else seg[2])
                   for kind, seg in _segments(body))


def _embed_cell(cell: dict, label: str, shortcode: str, nb_rel: str, work: Path) -> str:
    options, _ = parse_cell_options(_text(cell.get("source")))
    outputs = cell.get("outputs") or []
    if not outputs:
        raise RenderError(f"{shortcode}: cell {label!r} in {nb_rel} has no outputs (run the notebook first)")
    pngs = [o["data"]["image/png"] for o in outputs if "image/png" in (o.get("data") or {})]
    markdowns = [_text(o["data"]["text/markdown"]) for o in outputs if "text/markdown" in (o.get("data") or {})]
    if label.startswith("fig-"):
        if not pngs:
            raise RenderError(f"{shortcode}: figure cell {label!r} in {nb_rel} has no image/png output")
        caption = str(options.get("fig-cap", "")).replace("\n", " ")
        alt = str(options.get("fig-alt", caption)).replace('"', "'")
        images = []
        for k, png in enumerate(pngs):
            name = f"figures/{Path(nb_rel).stem}-{label}{'-' + str(k + 1) if k else ''}.png"
            (work / name).write_bytes(base64.b64decode(_text(png)))
            images.append(f'![]({name}){{fig-alt="{alt}"}}')
        # Quarto's div syntax for a cross-referenceable figure: content, then caption.
        return f"::: {{#{label}}}\n" + "\n".join(images) + f"\n\n{caption}\n:::"
    if label.startswith("tbl-"):
        if not markdowns:
            raise RenderError(f"{shortcode}: table cell {label!r} in {nb_rel} has no text/markdown output")
        caption = str(options.get("tbl-cap", "")).replace("\n", " ")
        return f"::: {{#{label}}}\n{markdowns[0].strip()}\n\n{caption}\n:::"
    # any other label: its outputs as they are
    parts = list(markdowns)
    for k, png in enumerate(pngs):
        name = f"figures/{Path(nb_rel).stem}-{label}-{k + 1}.png"
        (work / name).write_bytes(base64.b64decode(_text(png)))
        parts.append(f"![]({name})")
    for o in outputs:
        data = o.get("data") or {}
        if o.get("output_type") == "stream" or (set(data) == {"text/plain"}):
            parts.append("```\n" + (_text(o.get("text")) or _text(data.get("text/plain"))).rstrip() + "\n```")
    return "\n\n".join(parts)


# --------------------------------------------------------------------------- pandoc / typst

def pandoc_path() -> str:
    """The pandoc binary bundled by pypandoc-binary (or pandoc on PATH)."""
    try:
        import pypandoc
        return pypandoc.get_pandoc_path()
    except (ImportError, OSError):
        found = shutil.which("pandoc")
        if not found:
            raise RenderError("pandoc not found: install pypandoc-binary") from None
        return found


def run_pandoc(args: list, cwd: Path) -> None:
    proc = subprocess.run([pandoc_path(), *map(str, args)], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        message = proc.stderr.strip()
        m = re.search(r"grokpaper crossref: (.*)", message)
        raise RenderError(m.group(1) if m else f"pandoc failed ({proc.returncode}):\n{message}")


def _filter_args(filters) -> list:
    """The project's own Lua filters (`filters:` in _quarto.yml); like Quarto, before its built-in steps."""
    return [f"--lua-filter={f}" for f in filters]


def _common_args(filters=()) -> list:
    return ["-f", "markdown", *_filter_args(filters), f"--lua-filter={ASSETS / 'crossref.lua'}", "--citeproc"]


def render_html(source: Path, out: Path, filters=()) -> dict:
    """One self-contained HTML page (images, CSS and math embedded; opens from disk)."""
    tmp = out.with_name(out.name + ".tmp")
    run_pandoc([source.name, *_common_args(filters), "-t", "html5", "-s", "--embed-resources", "--mathml",
                "--toc", "--toc-depth=3", f"--template={ASSETS / 'article.html'}",
                f"--css={ASSETS / 'article.css'}", "-o", tmp], cwd=source.parent)
    os.replace(tmp, out)
    return {"html": out}


def render_pdf(source: Path, out: Path, filters=()) -> dict:
    """PDF through pandoc's typst writer and the typst Python package."""
    import typst
    typ = source.with_suffix(".typ")
    run_pandoc([source.name, *_common_args(filters), "-t", "typst", "-s",
                f"--include-in-header={ASSETS / 'article.typ'}", "-V", "abstract-title=Abstract",
                "-V", "papersize=a4", "-V", "margin.x=2.2cm", "-V", "margin.y=2.5cm",
                "-V", "fontsize=10.5pt", "-o", typ.name], cwd=source.parent)
    tmp = out.with_name(out.name + ".tmp")
    try:
        typst.compile(str(typ), output=str(tmp), root=str(source.parent))
    except Exception as e:  # typst raises its own error type with the compiler diagnostics
        raise RenderError(f"typst could not compile the PDF: {e}") from None
    os.replace(tmp, out)
    return {"pdf": out}


def render_notebook_view(project: Path, entry: dict, outdir: Path, filters=()) -> dict:
    """`_manuscript/<nb>-preview.html`: the executed notebook as a page (parameters cells
    hidden, cells anchored by label), plus a copy of the .ipynb to download."""
    src = project / entry["notebook"]
    nb = read_notebook(src)
    view = copy.deepcopy(nb)
    cells = []
    for cell in view.get("cells", []):
        if HIDDEN_TAGS & set((cell.get("metadata") or {}).get("tags") or []):
            continue
        label = _cell_label(cell) if cell.get("cell_type") == "code" else None
        if label and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", label):
            cell["id"] = label   # pandoc uses the cell id as the anchor: #fig-x links land here
        cells.append(cell)
    view["cells"] = cells
    html_out = outdir / entry["preview"]
    html_out.parent.mkdir(parents=True, exist_ok=True)
    nb_copy = outdir / entry["notebook"]
    shutil.copyfile(src, nb_copy)
    depth = len(Path(entry["notebook"]).parts) - 1
    with tempfile.TemporaryDirectory(prefix="grokpaper-nb-") as tmp:
        view_path = Path(tmp) / src.name
        view_path.write_text(json.dumps(view), encoding="utf-8")
        meta = Path(tmp) / "meta.yaml"
        fields = {"pagetitle": entry["title"],
                  "notebook-view": {"back": "../" * depth + "index.html", "download": src.name}}
        first_md = next((_text(c.get("source")) for c in cells if c.get("cell_type") == "markdown"), "")
        if not first_md.lstrip().startswith("# "):   # the notebook has no title heading of its own
            fields["title"] = entry["title"]
        meta.write_text(yaml.safe_dump(fields), encoding="utf-8")
        run_pandoc([view_path.name, "-f", "ipynb", "-t", "html5", "-s", "--embed-resources", "--mathml",
                    *_filter_args(filters), f"--lua-filter={ASSETS / 'notebook.lua'}",
                    f"--metadata-file={meta}", f"--template={ASSETS / 'article.html'}",
                    f"--css={ASSETS / 'article.css'}", "-o", html_out], cwd=Path(tmp))
    return {f"notebook:{entry['notebook']}": html_out}


# --------------------------------------------------------------------------- reader checks

def chromium_path() -> str | None:
    """The headless browser used by reader_check/screenshot, if installed."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _chromium(args: list, timeout: float) -> subprocess.CompletedProcess:
    browser = chromium_path()
    if not browser:
        raise RuntimeError("chromium not installed (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory(prefix="grokpaper-chromium-") as profile:
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--hide-scrollbars", f"--user-data-dir={profile}"]
        return subprocess.run([browser, *flags, *args], capture_output=True, text=True, timeout=timeout)


_CHECK_SCRIPT = """
<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var text = document.body.innerText;
  var external = Array.prototype.slice.call(document.querySelectorAll('[src],link[href]'))
    .map(function (e) { return e.getAttribute('src') || e.getAttribute('href'); })
    .filter(function (s) { return s && !/^(data:|#)/.test(s); });
  var r = {
    title: document.title,
    images: imgs.length,
    images_loaded: imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length,
    figures: document.querySelectorAll('figure').length,
    tables: document.querySelectorAll('table').length,
    math: document.querySelectorAll('math').length,
    unresolved_refs: text.match(/\\?\\?|@(fig|tbl|sec|eq)-[\\w-]+/g) || [],
    external_resources: external,
    horizontal_overflow: document.documentElement.scrollWidth > window.innerWidth + 1
  };
  document.body.setAttribute('data-reader-check', JSON.stringify(r));
});
</script>
"""


def reader_check(html_path, timeout: float = 60) -> dict:
    """Open the page in headless Chromium as a reader would and report what it shows:
    image count and how many loaded, figures, tables, MathML elements, unresolved
    references ('??', '@fig-...'), resources that are not embedded, horizontal overflow."""
    html_path = Path(html_path).resolve()
    probe = html_path.with_name(f".reader-check-{os.getpid()}-{html_path.name}")
    text = html_path.read_text(encoding="utf-8")
    text = text.replace("</body>", _CHECK_SCRIPT + "</body>") if "</body>" in text else text + _CHECK_SCRIPT
    probe.write_text(text, encoding="utf-8")
    try:
        proc = _chromium(["--dump-dom", "--virtual-time-budget=10000", "--window-size=1100,1800",
                          probe.as_uri()], timeout)
    finally:
        probe.unlink(missing_ok=True)
    m = re.search(r'data-reader-check="([^"]*)"', proc.stdout)
    if not m:
        raise RuntimeError(f"chromium gave no reader-check result (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(html.unescape(m.group(1)))


def screenshot(html_path, png_path, width: int = 1100, height: int = 1800, timeout: float = 60) -> Path:
    """A PNG of the page as headless Chromium draws it (window width x height)."""
    html_path, png_path = Path(html_path).resolve(), Path(png_path).resolve()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    proc = _chromium([f"--screenshot={png_path}", f"--window-size={width},{height}",
                      "--virtual-time-budget=5000", html_path.as_uri()], timeout)
    if not png_path.is_file():
        raise RuntimeError(f"chromium wrote no screenshot (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return png_path


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
    from grokpaper.config import ParamsError

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
