"""Chapter runner: executes the chapter notebooks (``chapters/NN-name.py``, jupytext percent
files) with papermill into ``chapters/NN-name.ipynb``, in dependency order, skipping the
chapters whose inputs did not change.

A chapter's input hash covers what can change its outputs: its code cells (not its prose, nor
the Quarto cell options such as captions at the top of a cell, which Python reads as comments),
its resolved parameters, the source of the grokpaper modules it imports (transitively), and
the input hashes of the chapters it depends on. An executed notebook records its hash in
``metadata.grokpaper``; a chapter is up to date when that hash equals the current one.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import datetime as dt
import hashlib
import json
import os
import platform
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path

import jupytext
import nbformat

import grokpaper
from grokpaper.params import (
    ParamsError, all_keys, chapter_params, chapter_schema, load_profile, project_root,
)
from grokpaper.provenance import git_commit

HASH_VERSION = 2  # bump when the definition of the input hash changes (2: cell options left out)
PACKAGE_DIR = Path(grokpaper.__file__).resolve().parent
PACKAGE = PACKAGE_DIR.name


class ChapterError(ParamsError):
    """A chapter set that cannot be run: unknown chapter, bad metadata, cycle (a ParamsError,
    so one `except ParamsError` catches everything rejected before anything runs)."""


class ChapterFailed(RuntimeError):
    """A chapter raised while executing; ``results`` holds every chapter's outcome."""

    def __init__(self, message: str, results: list):
        super().__init__(message)
        self.results = results


# --- chapters and their graph -------------------------------------------------------------
@dataclass
class Chapter:
    """One chapter: its source file, header metadata and the notebook read from it."""

    name: str
    path: Path  # chapters/NN-name.py
    title: str
    depends_on: list[str]
    notebook: nbformat.NotebookNode

    @property
    def ipynb(self) -> Path:
        return self.path.with_suffix(".ipynb")

    @property
    def failed_ipynb(self) -> Path:
        return self.path.with_name(self.name + ".failed.ipynb")


def _read_chapter(path: Path) -> Chapter:
    nb = jupytext.read(path, fmt="py:percent")
    meta = nb.metadata.get("grokpaper") or nb.metadata.get("jupyter", {}).get("grokpaper")
    if not isinstance(meta, dict) or "title" not in meta:
        raise ChapterError(f"{path}: the header needs `jupyter: grokpaper: title: ...` (and depends_on)")
    deps = meta.get("depends_on") or []
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise ChapterError(f"{path}: grokpaper.depends_on must be a list of chapter names; got {deps!r}")
    if not any("parameters" in c.metadata.get("tags", []) for c in nb.cells if c.cell_type == "code"):
        raise ChapterError(f"{path}: no code cell tagged 'parameters' (`# %% tags=[\"parameters\"]`)")
    for i, cell in enumerate(nb.cells):  # stable ids: no churn in the committed notebooks
        cell.id = f"cell-{i}"
    # papermill (and a user's plain `papermill` on the executed notebook) needs a kernelspec
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return Chapter(path.stem, path, str(meta["title"]), list(deps), nb)


def chapter_graph(project: str | Path | None = None) -> dict[str, Chapter]:
    """All chapters of the project (``chapters/*.py``), keyed by name, in dependency order
    (ties by name). An unknown dependency or a cycle is a ChapterError."""
    root = Path(project) if project else project_root()
    found = {c.name: c for c in map(_read_chapter, sorted((root / "chapters").glob("*.py")))}
    for c in found.values():
        for d in c.depends_on:
            if d not in found:
                raise ChapterError(f"{c.path}: depends_on '{d}', which is not a chapter; chapters: "
                                   f"{', '.join(found) or 'none'}")
    ordered: dict[str, Chapter] = {}
    while len(ordered) < len(found):
        ready = [n for n, c in found.items() if n not in ordered and all(d in ordered for d in c.depends_on)]
        if not ready:
            stuck = [n for n in found if n not in ordered]
            raise ChapterError(f"dependency cycle among chapters: {', '.join(stuck)} "
                               f"({'; '.join(f'{n} -> {found[n].depends_on}' for n in stuck)})")
        ordered[ready[0]] = found[ready[0]]
    return ordered


def _find_chapter(name: str, graph: dict[str, Chapter]) -> str:
    """A chapter by full name (05-circuits), number (05) or name without number (circuits)."""
    if name in graph:
        return name
    hits = [n for n in graph if n.split("-", 1)[0] == name or n.split("-", 1)[-1] == name]
    if len(hits) != 1:
        raise ChapterError(f"no chapter '{name}'" + (f" (ambiguous: {', '.join(hits)})" if hits else "")
                           + f"; chapters: {', '.join(graph) or 'none'}")
    return hits[0]


def _ancestors(name: str, graph: dict[str, Chapter]) -> set[str]:
    out, todo = set(), list(graph[name].depends_on)
    while todo:
        d = todo.pop()
        if d not in out:
            out.add(d)
            todo.extend(graph[d].depends_on)
    return out


# --- input hash ---------------------------------------------------------------------------
def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def _parse_python(code: str) -> ast.AST | None:
    """Parse cell code; IPython magics (``%x``, ``!x``) are blanked out first."""
    try:
        return ast.parse(code)
    except SyntaxError:
        pass
    cleaned = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in code.splitlines())
    try:
        return ast.parse(cleaned)
    except SyntaxError:
        return None


def _module_file(module: str) -> Path | None:
    """The source file of a module of the package (``grokpaper.x`` -> grokpaper/x.py)."""
    parts = module.split(".")[1:]
    base = PACKAGE_DIR.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_modules(code: str, current: str | None = None) -> set[str]:
    """Package modules imported by ``code`` (``current``: the module the code is in, for
    relative imports). Imports anywhere count, including inside functions."""
    tree = _parse_python(code)
    if tree is None:  # unparsable: fall back to a plain text search
        return {m for m in re.findall(rf"\b({PACKAGE}(?:\.\w+)*)", code)}
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            if node.level and current:  # relative import inside the package
                base = current.split(".")
                is_pkg = _module_file(current) is not None and _module_file(current).name == "__init__.py"
                base = base[: len(base) - node.level + (1 if is_pkg else 0)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] != PACKAGE:
                continue
            found.add(module)
            found.update(f"{module}.{a.name}" for a in node.names if _module_file(f"{module}.{a.name}"))
    return found


def module_closure(code: str | list[str]) -> dict[str, str]:
    """The package source files ``code`` (one source, or a notebook's cells) imports,
    transitively: {path relative to the package's parent: sha256 of its source}. Importing
    ``grokpaper.x`` also runs ``grokpaper/__init__.py``."""
    cells = [code] if isinstance(code, str) else code
    todo, seen, files = [m for cell in cells for m in _imported_modules(cell)], set(), {}
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        parts = module.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # parent packages
        path = _module_file(module)
        if path is None:
            continue
        source = path.read_text()
        files[path.relative_to(PACKAGE_DIR.parent).as_posix()] = _sha256(source)
        todo.extend(_imported_modules(source, current=module))
    return dict(sorted(files.items()))


def _code_cells(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def without_cell_options(source: str) -> str:
    """A code cell's source without its leading Quarto options (``#| label: ...``, ``#| fig-cap:
    ...``): comments to Python, read only by the report build, so a caption edit changes no
    output and re-executes nothing (``_sync_prose`` copies it into the executed notebook)."""
    lines = source.splitlines(keepends=True)
    first_code = next((i for i, line in enumerate(lines) if not line.startswith("#|")), len(lines))
    return "".join(lines[first_code:])


def _executed_code(nb) -> list[str]:
    """What a chapter's code cells execute: their sources without the cell options."""
    return [without_cell_options(c) for c in _code_cells(nb)]


def input_hash(code_hash: str, params: dict, modules: dict, upstream: dict) -> str:
    """sha256 over the canonical JSON of the hash inputs (see the module docstring)."""
    return _sha256(_canonical({"version": HASH_VERSION, "code": code_hash, "params": params,
                               "modules": modules, "upstream": upstream}))


# --- plan ---------------------------------------------------------------------------------
@dataclass
class PlanItem:
    """What the runner will do with one chapter, and why."""

    chapter: Chapter
    execute: bool
    reasons: list[str]
    input_hash: str
    params: dict  # resolved, validated
    overrides: dict  # the overrides this chapter takes (validated values)
    hash_inputs: dict  # code hash, module hashes, upstream hashes


def _recorded(path: Path) -> dict | None:
    """The grokpaper run record of an executed notebook (plus the parameters papermill last
    injected, under "_papermill_parameters"), or None."""
    if not path.is_file():
        return None
    try:
        meta = nbformat.read(path, as_version=4).metadata
    except Exception:  # unreadable or not a notebook: treat as absent
        return None
    record = dict(meta.get("grokpaper") or {})
    record["_papermill_parameters"] = meta.get("papermill", {}).get("parameters")
    return record


def _why_stale(item: PlanItem, record: dict | None) -> list[str]:
    if record is None:
        return ["no executed notebook"]
    if "input_hash" not in record:
        return ["the notebook has no run record"]
    ran_with = _papermill_parameters(record.get("overrides") or {}, record.get("profile"))
    if record["_papermill_parameters"] != ran_with:  # e.g. `papermill x.ipynb x.ipynb -p ...` by hand
        return ["re-executed outside the runner"]
    if record.get("input_hash") == item.input_hash:
        return []
    before = record.get("hash_inputs", {})
    reasons = []
    if before.get("code") != item.hash_inputs["code"]:
        reasons.append("code changed")
    old = record.get("params") or {}
    changed = [k for k in sorted(set(old) | set(item.params)) if old.get(k) != item.params.get(k)]
    if changed:
        reasons.append("params changed: " + ", ".join(f"{k} {old.get(k)!r} -> {item.params.get(k)!r}"
                                                      for k in changed))
    old_mods, mods = before.get("modules", {}), item.hash_inputs["modules"]
    touched = [m for m in sorted(set(old_mods) | set(mods)) if old_mods.get(m) != mods.get(m)]
    if touched:
        reasons.append("package code changed: " + ", ".join(touched))
    old_up = before.get("upstream", {})
    reasons += [f"upstream {d} changed" for d, h in item.hash_inputs["upstream"].items() if old_up.get(d) != h]
    return reasons or ["inputs changed (older hash definition)"]


def _split_overrides(overrides: dict | None, names: list[str], graph: dict[str, Chapter]) -> dict[str, dict]:
    """Per chapter, the overrides it takes. A key no chapter of ``names`` takes is an error."""
    overrides = dict(overrides or {})
    per_chapter = {n: {k: v for k, v in overrides.items() if k in chapter_schema(n)} for n in names}
    for key in overrides:
        if key not in all_keys():
            raise ParamsError(f"-p {key}: unknown parameter; allowed: {', '.join(all_keys())}")
        if not any(key in per_chapter[n] for n in names):
            takers = [n for n in graph if key in chapter_schema(n)]
            raise ParamsError(f"-p {key}: no selected chapter takes it (selected: {', '.join(names)}; "
                              f"taken by: {', '.join(takers) or 'no chapter of this project'})")
    return per_chapter


def plan(profile: str = "smoke", chapters: list[str] | None = None, overrides: dict | None = None,
         force: bool = False, project: str | Path | None = None) -> list[PlanItem]:
    """What ``run`` would execute and why, for the selected chapters (all by default) and
    their upstream chapters, in order. Validates every chapter's parameters first."""
    root = Path(project).resolve() if project else project_root()
    graph = chapter_graph(root)
    prof = load_profile(profile, root)
    if chapters:
        targets = {_find_chapter(c, graph) for c in chapters}
        wanted = set(targets).union(*(_ancestors(t, graph) for t in targets))
    else:
        targets = wanted = set(graph)
    names = [n for n in graph if n in wanted]
    per_chapter = _split_overrides(overrides, names, graph)
    params = {n: chapter_params(n, prof, per_chapter[n], root) for n in names}  # all validated first

    items: dict[str, PlanItem] = {}
    for n in names:
        ch = graph[n]
        code = _executed_code(ch.notebook)
        hash_inputs = {
            "code": _sha256(_canonical(code)),
            "modules": module_closure(code),
            "upstream": {d: items[d].input_hash for d in ch.depends_on},
        }
        item = PlanItem(ch, False, [], input_hash(hash_inputs["code"], params[n], hash_inputs["modules"],
                                                  hash_inputs["upstream"]),
                        params[n], {k: params[n][k] for k in per_chapter[n]}, hash_inputs)
        item.reasons = _why_stale(item, _recorded(ch.ipynb))
        if force and n in targets:
            item.reasons = item.reasons or ["forced"]
        item.execute = bool(item.reasons)
        items[n] = item
    return list(items.values())


# --- execution ----------------------------------------------------------------------------
@dataclass
class ChapterResult:
    """The outcome for one chapter: 'executed', 'up to date', 'failed' or 'not run'."""

    chapter: str
    status: str
    seconds: float = 0.0
    reasons: list[str] = field(default_factory=list)
    notebook: Path | None = None
    error: str | None = None


def _version(dist: str) -> str | None:
    try:
        return importlib_metadata.version(dist)
    except importlib_metadata.PackageNotFoundError:
        return None


@contextlib.contextmanager
def _kernel_env():
    """Kernels import the same grokpaper as the runner, wherever the project is."""
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_DIR.parent)] + ([old] if old else []))
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def _write_atomic(nb, path: Path):
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp.ipynb", dir=path.parent)
    os.close(fd)
    try:
        nbformat.write(nb, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _papermill_parameters(overrides: dict, profile: str) -> dict:
    # None in a notebook means "take the profile's value", so an override *to* null travels as
    # the string "null" (strings are read as YAML by resolve_in_notebook).
    return {"profile": profile, **{k: ("null" if v is None else v) for k, v in overrides.items()}}


def _finish(nb, item: PlanItem, root: Path, record: dict, final: Path):
    """Tidy papermill's bookkeeping, add the run record, and write ``final`` atomically."""
    pm = nb.metadata.setdefault("papermill", {})
    pm["input_path"] = item.chapter.path.relative_to(root).as_posix()
    pm["output_path"] = final.relative_to(root).as_posix()
    n_error_cells = 0
    for cell in nb.cells:  # papermill's own cells get stable ids too
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.id = "injected-parameters"
        elif "papermill-error-cell-tag" in cell.metadata.get("tags", []):
            cell.id = f"papermill-error-{n_error_cells}"
            n_error_cells += 1
    nb.metadata["grokpaper"] = {"title": item.chapter.title, "depends_on": item.chapter.depends_on, **record}
    _write_atomic(nb, final)


def _first_line(source: str) -> str:
    lines = [l for l in source.splitlines() if l.strip() and not l.startswith("#|")]
    return lines[0].strip() if lines else ""


def execute_chapter(item: PlanItem, profile: str, root: Path, git: str) -> ChapterResult:
    """Execute one chapter with papermill into a temp file; on success move it to
    ``NN-name.ipynb``, on failure to ``NN-name.failed.ipynb`` (the last good notebook stays)."""
    import papermill  # slow import: only when something executes
    from papermill.exceptions import PapermillExecutionError

    ch = item.chapter
    record = {
        "input_hash": item.input_hash,
        "hash_inputs": item.hash_inputs,
        "profile": profile,
        "params": item.params,
        "overrides": item.overrides,
        "package_version": grokpaper.__version__,
        "git_commit": git,
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "torch": _version("torch"),
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{ch.name}.", suffix=".tmp.ipynb", dir=ch.path.parent)
    os.close(fd)
    start = time.perf_counter()
    error = None
    try:
        with _kernel_env():
            nb = papermill.execute_notebook(
                copy.deepcopy(ch.notebook), tmp, parameters=_papermill_parameters(item.overrides, profile),
                kernel_name="python3", cwd=str(root), progress_bar=False, log_output=False,
                extra_arguments=["--IPKernelApp.log_level=ERROR"])  # no kernel start-up chatter
    except PapermillExecutionError as e:
        # name the cell as the author sees it: its index among the cells of the .py source
        index = next((i for i, c in enumerate(ch.notebook.cells) if c.source == e.source), e.cell_index)
        error = f"cell {index} (`{_first_line(e.source)}`): {e.ename}: {e.evalue}".rstrip()
    except Exception as e:  # kernel died, timeout, ...: still a failure of this chapter
        error = f"{type(e).__name__}: {e}"
    seconds = time.perf_counter() - start
    record["duration_s"] = round(seconds, 2)
    try:
        if error is None:
            _finish(nb, item, root, record, ch.ipynb)
            ch.failed_ipynb.unlink(missing_ok=True)
            return ChapterResult(ch.name, "executed", seconds, item.reasons, ch.ipynb)
        try:
            failed = nbformat.read(tmp, as_version=4)
        except Exception:  # nothing usable was written (e.g. the kernel never started)
            failed = copy.deepcopy(ch.notebook)
        _finish(failed, item, root, {**record, "error": error}, ch.failed_ipynb)
        return ChapterResult(ch.name, "failed", seconds, item.reasons, ch.failed_ipynb, error)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _sync_prose(item: PlanItem) -> bool:
    """Copy the source's markdown cells, cell options (captions, labels) and title into an
    up-to-date executed notebook, so a prose or caption edit needs no re-execution. Returns
    whether the notebook changed."""
    ch = item.chapter
    executed = nbformat.read(ch.ipynb, as_version=4)
    tags = lambda c: c.metadata.get("tags", [])  # noqa: E731
    injected = [c for c in executed.cells if "injected-parameters" in tags(c)]
    ran = [c for c in executed.cells if c.cell_type == "code" and "injected-parameters" not in tags(c)]
    if [without_cell_options(c.source) for c in ran] != _executed_code(ch.notebook):
        return False  # cannot align cells: leave the notebook as it is
    ran_iter, cells = iter(ran), []
    for cell in ch.notebook.cells:
        if cell.cell_type == "code":
            done = copy.deepcopy(next(ran_iter))  # outputs kept; options as in the source now
            done.source = cell.source
            cells.append(done)
            if "parameters" in tags(cell):
                cells.extend(injected)
        else:
            cells.append(copy.deepcopy(cell))
    view = lambda cs: [(c.cell_type, c.source, c.get("attachments")) for c in cs]  # noqa: E731
    meta = executed.metadata.get("grokpaper", {})
    if view(cells) == view(executed.cells) and meta.get("title") == ch.title:
        return False
    executed.cells = cells
    meta["title"] = ch.title
    _write_atomic(executed, ch.ipynb)
    return True


def _line(result: ChapterResult, width: int) -> str:
    name = result.chapter.ljust(width)
    if result.status == "executed":
        return f"{name}  executed    {result.seconds:6.1f} s  ({'; '.join(result.reasons)})"
    if result.status == "failed":
        return f"{name}  FAILED      {result.seconds:6.1f} s  {result.error}\n{'':{width}}  kept: {result.notebook}"
    if result.status == "not run":
        return f"{name}  not run     ({result.error})"
    return f"{name}  up to date" + ("  (prose updated)" if result.reasons else "")


def run(profile: str = "smoke", chapters: list[str] | None = None, overrides: dict | None = None,
        force: bool = False, project: str | Path | None = None, echo: bool = True) -> list[ChapterResult]:
    """Execute the stale chapters of the selection (and their stale upstream chapters) in order.
    Everything is validated before anything executes. Raises ChapterFailed (with ``results``)
    if a chapter fails; chapters downstream of it are not run."""
    root = Path(project).resolve() if project else project_root()
    items = plan(profile, chapters, overrides, force, root)
    prof_name = load_profile(profile, root).name
    git = git_commit(root) if any(i.execute for i in items) else None
    width = max([len(i.chapter.name) for i in items] + [10])
    results, broken = [], set()
    for item in items:
        ch = item.chapter
        blocked = [d for d in ch.depends_on if d in broken]
        if blocked:
            broken.add(ch.name)
            result = ChapterResult(ch.name, "not run", error=f"upstream {', '.join(blocked)} failed")
        elif item.execute:
            if echo and sys.stdout.isatty():
                print(f"{ch.name.ljust(width)}  running ...", end="\r", flush=True)
            result = execute_chapter(item, prof_name, root, git)
            if result.status == "failed":
                broken.add(ch.name)
        else:
            synced = _sync_prose(item)
            ch.failed_ipynb.unlink(missing_ok=True)  # up to date: an older failure is stale
            result = ChapterResult(ch.name, "up to date", reasons=["prose updated"] if synced else [],
                                   notebook=ch.ipynb)
        results.append(result)
        if echo:
            print(_line(result, width), flush=True)
    counts = {s: sum(r.status == s for r in results) for s in ("executed", "up to date", "failed", "not run")}
    if echo:
        print(", ".join(f"{v} {k}" for k, v in counts.items() if v or k == "executed"))
    if counts["failed"]:
        failed = [r for r in results if r.status == "failed"]
        raise ChapterFailed("; ".join(f"chapter {r.chapter} failed at {r.error} (notebook kept at {r.notebook})"
                                      for r in failed), results)
    return results


# --- command line -------------------------------------------------------------------------
def parse_overrides(pairs: list[str] | None) -> dict:
    """``["seeds=[1, 2]", "p=23"]`` -> {"seeds": [1, 2], "p": 23} (values read as YAML)."""
    import yaml

    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ParamsError(f"-p {pair!r}: expected key=value (e.g. -p seeds=[1,2])")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ParamsError(f"-p {pair!r}: the value is not valid YAML") from None
    return out


def add_run_command(subparsers):
    """Register ``run`` on an argparse subparsers object (used by ``python -m grokpaper``)."""
    p = subparsers.add_parser("run", help="execute the stale chapter notebooks with papermill",
                              description="Execute chapters/*.py into chapters/*.ipynb, skipping up-to-date ones.")
    p.add_argument("--profile", default="smoke", help="params/<name>.yaml or a path (default: smoke)")
    p.add_argument("--chapter", action="append", metavar="NAME",
                   help="only this chapter (and its stale upstream chapters); repeatable")
    p.add_argument("-p", "--param", action="append", metavar="KEY=VALUE",
                   help="override a parameter (value read as YAML); repeatable")
    p.add_argument("--force", action="store_true", help="re-execute the selected chapters even if up to date")
    p.add_argument("--dry-run", action="store_true", help="print what would execute and why; execute nothing")
    p.add_argument("--project", default=None, help="project directory (default: found from the cwd)")
    p.set_defaults(func=run_command)


def run_command(args) -> int:
    """The ``run`` subcommand; returns the exit status."""
    try:
        overrides = parse_overrides(args.param)
        if args.dry_run:
            items = plan(args.profile, args.chapter, overrides, args.force, args.project)
            width = max([len(i.chapter.name) for i in items] + [10])
            for i in items:
                what = f"would execute  ({'; '.join(i.reasons)})" if i.execute else "up to date"
                print(f"{i.chapter.name.ljust(width)}  {what}")
            print(f"{sum(i.execute for i in items)} would execute")
            return 0
        run(args.profile, args.chapter, overrides, args.force, args.project)
        return 0
    except (ParamsError, ChapterError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ChapterFailed as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
