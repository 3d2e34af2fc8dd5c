"""The offline Quarto substitute: the same manuscript as `quarto render` makes, built from the
same sources with pandoc (HTML) and typst (PDF), where Quarto is not installed.

It mimics a Quarto *manuscript* project (see `_quarto.yml`):

1. execute the article's `{python}` cells and inline `` `{python} expr` `` expressions in a
   fresh Python process (cwd = project), frozen in Quarto's own freeze file
   `_freeze/<article>/execute-results/html.json`, reused while its inputs are unchanged
   (``freeze.freeze_inputs``);
2. replace `{{< embed chapters/NN-name.ipynb#label >}}` with the stored output of the
   labelled cell (figure + fig-cap, or table + tbl-cap) and a "Source:" link;
3. number figures/tables/sections/equations and resolve `@fig-...` style references with
   `offline_assets/crossref.lua` (run before --citeproc), after the project's own Lua filters;
4. write `_manuscript/index.html` (one self-contained page), `_manuscript/<article>.pdf`
   (pandoc -> typst -> `typst.compile`) and a notebook view
   `_manuscript/chapters/NN-name-preview.html` beside a copy of each notebook -- the
   names Quarto gives them.

pandoc and typst come from the optional dependency group ``offline`` (``pip install -e
".[offline]"``): nothing else in the package needs them, so they are imported where they are used.
"""

from __future__ import annotations

import base64
import copy
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

from grokpaper.builder.freeze import freeze_file, inputs_fingerprint, quarto_source_hash
from grokpaper.builder.manuscript import (
    INLINE_RE,
    OUTPUT_DIR,
    RenderError,
    article_name,
    front_and_body,
    markdown_segments,
    parse_cell_options,
    python_of,
    quarto_config,
)
from grokpaper.builder.plan import PACKAGE_DIR

ASSETS = Path(__file__).with_name("offline_assets")
HIDDEN_TAGS = {"parameters", "injected-parameters"}
EMBED_RE = re.compile(r"\{\{<\s*embed\s+([^\s>#]+)(?:#([^\s>]+))?\s*([^>]*?)\s*>\}\}")
NOTEBOOK_SKIP_DIRS = {"_manuscript", "_freeze", ".venv", "venv", "node_modules", "tests", "store"}


def build_offline(project: Path, article: Path, formats: tuple, fingerprint: str, quiet: bool = False) -> dict:
    """Build `_manuscript/index.html` and `_manuscript/<article>.pdf` (``formats``) of a project
    whose build check passed; ``fingerprint``: the article's current ``freeze.inputs_fingerprint``.
    Returns {format: output path}."""
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

def project_config(project: Path) -> dict:
    """The manuscript settings the offline build needs from `_quarto.yml`:
    article file (default index.qmd, as Quarto) and the notebooks list/render globs."""
    cfg = quarto_config(project)
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
                # Python's glob matches dot files, Quarto's does not: the runner's temporary
                # ".<chapter>.*.tmp.ipynb" (left behind by a killed run) is no chapter.
                paths += sorted(p for p in project.glob(g) if not p.name.startswith("."))
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


# Title-block metadata that `_quarto.yml` may give every document (Quarto merges the project's
# metadata into each document's, the document's own values first): the paper's version is its subtitle.
PROJECT_METADATA = ("title", "subtitle", "author", "date", "keywords", "lang", "license", "copyright")


def article_metadata(meta: dict, project: Path, notebooks: list, formats, article: Path) -> dict:
    """Front matter for pandoc: the article's own, then the title-block metadata of
    `_quarto.yml` it does not set (``PROJECT_METADATA``), absolute bibliography/csl paths, the
    Notebooks and Other formats lists for the sidebar, and defaults Quarto would apply."""
    meta = dict(meta)
    project_meta = quarto_config(project)
    for key in PROJECT_METADATA:
        if key in project_meta and key not in meta:
            meta[key] = project_meta[key]
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

    front, body = front_and_body(article)
    segments = markdown_segments(body)
    cells, inline = python_of(segments)

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
        "grokpaper": {"inputs-sha256": fingerprint, "writer": "grokpaper.builder.render (offline build)"},
    }
    tmp = frozen.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, frozen)
    return markdown


def _run_python(project: Path, article: Path, cells: list, inline: list) -> dict:
    with tempfile.TemporaryDirectory(prefix="grokpaper-exec-") as tmp:
        job, out = Path(tmp) / "job.json", Path(tmp) / "out.json"
        job.write_text(json.dumps({"article": article.name, "cells": cells, "inline": inline}), encoding="utf-8")
        # The project first (its own modules), then this grokpaper, as the chapter runner's kernels
        # get it: the freeze record names this package's modules, so the article must import them
        # and not another installed copy (an editable install of another checkout, say).
        paths = [str(project), str(PACKAGE_DIR.parent)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
        env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=os.pathsep.join(dict.fromkeys(paths)))
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
                   for kind, seg in markdown_segments(body))


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
        import pypandoc  # the optional `offline` extra; pandoc on PATH will do
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


def apostrophes_after_digits(typ: str) -> str:
    """Typst's smart quotes print an apostrophe after a digit as a prime ("seed 42′s"): write
    the apostrophe (U+2019) itself there, as pandoc's HTML does."""
    return re.sub(r"(?<=\d)'(?=[A-Za-z])", "\u2019", typ)


def render_pdf(source: Path, out: Path, filters=()) -> dict:
    """PDF through pandoc's typst writer and the typst Python package."""
    import typst  # the optional `offline` extra: only the offline PDF needs it
    typ = source.with_suffix(".typ")
    run_pandoc([source.name, *_common_args(filters), "-t", "typst", "-s",
                f"--include-in-header={ASSETS / 'article.typ'}", "-V", "abstract-title=Abstract",
                "-V", "papersize=a4", "-V", "margin.x=2.2cm", "-V", "margin.y=2.5cm",
                "-V", "fontsize=10.5pt", "-o", typ.name], cwd=source.parent)
    typ.write_text(apostrophes_after_digits(typ.read_text()))
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
