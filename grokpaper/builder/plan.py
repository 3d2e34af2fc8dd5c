"""Which chapters are stale, and why: the chapters and their dependency graph, each chapter's
input hash, the plan of a run, and the check that the executed build is one consistent build.

A chapter's input hash covers what can change its outputs: its code cells (not its prose, nor
the Quarto cell options such as captions at the top of a cell, which Python reads as comments),
its resolved parameters, the source of the grokpaper modules it imports (transitively), and
the input hashes of the chapters it depends on. An executed notebook records its hash in
``metadata.grokpaper``; a chapter is up to date when that hash equals the current one and the
results files its run wrote (``results/NN-name.json``, recorded with their sha256) are unchanged.

``check_build`` says which chapters of the executed build are stale and which results files
the runner did not write; the runner (``runner.py``) executes what ``plan`` says, and the report
build (``render.py``) refuses a build that ``check_build`` finds inconsistent.

**Chapters waiting for runs.** A chapter may name in its header the sets of runs it reads
(``runs: [probes]``, sets of ``python -m grokpaper train all --runs``), or the part of the task
set it reads (``runs: [tasks:sequential, tasks:replay/grokked]``: an experiment, and a condition),
and take the parameter ``missing_runs``. With ``missing_runs: wait`` (the paper profile: those runs take hours, on the
committed runs' CPU kernels) and some of those runs not in the store, the chapter is *waiting*:
``plan`` does not execute it (nor the chapters that read its results) and says which command
trains the runs, and ``check_build`` leaves it out of the build as long as it has no executed
notebook, so the report builds without it. Once the runs are stored, it is a chapter without an
executed notebook like any other: ``run`` executes it, and ``render`` refuses the build until then.
With ``missing_runs: train`` (smoke) the chapter trains what is missing when it executes.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import jupytext
import nbformat

import grokpaper
from grokpaper.config import (
    ParamsError,
    StudyParams,
    all_keys,
    chapter_params,
    chapter_schema,
    load_profile,
    project_root,
)
from grokpaper.core.files import file_sha256
from grokpaper.core.parallel import RUN_SETS, jobs
from grokpaper.core.store import RunStore
from grokpaper.core.study import SCRATCH, TASK_CONDITIONS, TASK_EXPERIMENTS, StudySettings
from grokpaper.paper.verdicts import ALPHA

HASH_VERSION = 2  # bump when the definition of the input hash changes (2: cell options left out)
PACKAGE_DIR = Path(grokpaper.__file__).resolve().parent
PACKAGE = PACKAGE_DIR.name
RESULTS = "results"  # the project's results folder: written by the runner only


class ChapterError(ParamsError):
    """A chapter set that cannot be run: unknown chapter, bad metadata, cycle (a ParamsError,
    so one `except ParamsError` catches everything rejected before anything runs)."""


# --- chapters and their graph -------------------------------------------------------------
@dataclass
class Chapter:
    """One chapter: its source file, header metadata and the notebook read from it."""

    name: str
    path: Path  # chapters/NN-name.py
    title: str
    depends_on: list[str]
    notebook: nbformat.NotebookNode
    runs: list[str] = field(default_factory=list)  # the sets of `train all --runs` it reads (waiting, above)

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
    runs = meta.get("runs") or []
    if not isinstance(runs, list) or not all(isinstance(r, str) for r in runs):
        raise ChapterError(f"{path}: grokpaper.runs must be a list of run sets ({', '.join(RUN_SETS)}); got {runs!r}")
    for entry in runs:
        try:
            run_part(entry)
        except ValueError as e:
            raise ChapterError(f"{path}: grokpaper.runs must be a list of run sets ({', '.join(RUN_SETS)}) or parts "
                               f"of the task set; {e}") from None
    if not any("parameters" in c.metadata.get("tags", []) for c in nb.cells if c.cell_type == "code"):
        raise ChapterError(f"{path}: no code cell tagged 'parameters' (`# %% tags=[\"parameters\"]`)")
    for i, cell in enumerate(nb.cells):  # stable ids: no churn in the committed notebooks
        cell.id = f"cell-{i}"
    # papermill (and a user's plain `papermill` on the executed notebook) needs a kernelspec
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return Chapter(path.stem, path, str(meta["title"]), list(deps), nb, list(runs))


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


def _descendants(name: str, graph: dict[str, Chapter]) -> set[str]:
    """The chapters that read ``name``'s results, directly or through other chapters."""
    return {n for n in graph if name in _ancestors(n, graph)}


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


@functools.lru_cache(maxsize=1024)  # keyed by the source text: parsing dominates a build check
def _imported_modules(code: str, current: str | None = None) -> frozenset[str]:
    """Package modules imported by ``code`` (``current``: the module the code is in, for
    relative imports). Imports anywhere count, including inside functions."""
    tree = _parse_python(code)
    if tree is None:  # unparsable: fall back to a plain text search
        return frozenset(re.findall(rf"\b({PACKAGE}(?:\.\w+)*)", code))
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
    return frozenset(found)


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


# Placeholders a caption (``#| fig-cap:`` / ``#| tbl-cap:``) may hold, filled from the chapter's
# resolved parameters when the runner writes the executed notebook: a caption then states the
# level its numbers used, whatever the profile or override.
CAPTION_VALUES = {"{level}": lambda params: f"{100 * params['confidence']:g} % confidence level",
                  "{top}": lambda params: f"{100 * max(params['thresholds']):g} %",   # the top threshold
                  "{hold}": lambda params: f"{params['probe_hold_epochs']:,} epochs",
                  "{cap}": lambda params: f"{params['transfer_max_epochs']:,} epochs",
                  "{task_cap}": lambda params: f"{params['task_max_epochs']:,} epochs",        # runs with task tokens
                  "{table_cap}": lambda params: f"{params['random_table_max_epochs']:,} epochs",   # the random table's
                  "{ill_posed_epochs}": lambda params: f"{params['ill_posed_epochs']:,} epochs",
                  "{n_permutations}": lambda params: f"{params['n_permutations']:,}",
                  "{replay_share}": lambda params: f"{100 * params['replay_share']:g} %",
                  "{dense_until}": lambda params: f"{params['probe_dense_until']:,} epochs",
                  "{min_neurons}": lambda params: f"{params['probe_min_neurons']:,}",
                  "{alpha}": lambda params: f"{ALPHA:g}"}   # the family-wise level of every verdict


def fill_captions(source: str, params: dict) -> str:
    """A code cell's source with the placeholders of its caption options (``CAPTION_VALUES``)
    filled from the chapter's resolved parameters; other lines unchanged."""
    lines = source.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if not line.startswith("#|"):
            break
        if line.startswith(("#| fig-cap:", "#| tbl-cap:")):
            for placeholder, value in CAPTION_VALUES.items():
                if placeholder in line:
                    line = line.replace(placeholder, value(params))
            lines[i] = line
    return "".join(lines)


def executed_code(nb) -> list[str]:
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
    record: dict | None = None  # the run record of the executed notebook as it is now
    waiting: str | None = None  # why it cannot execute yet: runs not stored (``waiting_for_runs``)

    @property
    def recorded_profile(self) -> str | None:
        """The profile the executed notebook was run with (None: no executed notebook)."""
        return (self.record or {}).get("profile")


def _recorded(path: Path) -> dict | None:
    """The grokpaper run record of an executed notebook (plus the parameters papermill last
    injected, under "papermill_parameters"), or None."""
    if not path.is_file():
        return None
    try:  # plain JSON, not nbformat: only the metadata is needed, and validation is slow
        meta = json.loads(path.read_text(encoding="utf-8"))["metadata"]
    except Exception:  # unreadable or not a notebook: treat as absent
        return None
    record = dict(meta.get("grokpaper") or {})
    record["papermill_parameters"] = (meta.get("papermill") or {}).get("parameters")
    return record


def _why_stale(item: PlanItem, record: dict | None, root: Path) -> list[str]:
    if record is None:
        return ["no executed notebook"]
    if "input_hash" not in record:
        return ["the notebook has no run record"]
    ran_with = papermill_parameters(record.get("overrides") or {}, record.get("profile"))
    if record["papermill_parameters"] != ran_with:  # e.g. `papermill x.ipynb x.ipynb -p ...` by hand
        return ["re-executed outside the runner"]
    return _inputs_changed(item, record) + _results_changed(record, root)


def _inputs_changed(item: PlanItem, record: dict) -> list[str]:
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


def _results_changed(record: dict, root: Path) -> list[str]:
    """Why the results files a chapter's run wrote (recorded with their sha256) no longer are
    what it wrote: missing, rewritten since (say by a plain papermill run of an older version of
    the package), or never recorded (executed by an older version of the runner)."""
    if "results" not in record:
        return ["its results files are not recorded (executed by an older version of the runner)"]
    reasons = []
    for rel, sha in record["results"].items():
        path = root / rel
        if not path.is_file():
            reasons.append(f"{rel} is missing")
        elif file_sha256(path) != sha:
            broken = _unreadable_json(path)
            reasons.append(f"{rel} {broken}" if broken else f"{rel} was changed after the runner wrote it")
    return reasons


def _unreadable_json(path: Path) -> str | None:
    """Why a results file cannot be read as a JSON object ("is not valid JSON ..."), or None."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        return "is not valid JSON (not UTF-8 text): truncated or corrupt"
    except json.JSONDecodeError as e:
        return f"is not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}): truncated or corrupt"
    return None if isinstance(value, dict) else f"is not valid results JSON (a {type(value).__name__}, not an object)"


def unreadable_results(project: str | Path | None = None) -> dict[str, str]:
    """The results files (``results/*.json``) that cannot be read as JSON objects (a truncated
    or corrupt file, which ``Results.load`` would fail on): {path relative to the project: why}."""
    root = Path(project).resolve() if project else project_root()
    found = {f"{RESULTS}/{path.name}": _unreadable_json(path) for path in sorted((root / RESULTS).glob("*.json"))}
    return {rel: why for rel, why in found.items() if why}


def repair_command(rel: str, graph: dict[str, Chapter], profile: str | None) -> str:
    """What rewrites an unreadable results file, as one clause: the run that re-executes its
    chapter (or deleting it, when no chapter writes it), or `git checkout` of the committed file."""
    chapter = Path(rel).stem
    if chapter not in graph:
        return "no chapter writes it: delete it"
    return (f"`python -m grokpaper run --profile {profile or '<profile>'}` re-executes {chapter} and writes it "
            f"again (or `git checkout -- {rel}` restores the committed file)")


def _plan_item(ch: Chapter, params: dict, overrides: dict, upstream: dict, root: Path) -> PlanItem:
    """One chapter's input hash for these parameters and upstream input hashes, and why its
    executed notebook and results are stale against it (no reasons: up to date)."""
    code = executed_code(ch.notebook)
    hash_inputs = {"code": _sha256(_canonical(code)), "modules": module_closure(code), "upstream": upstream}
    record = _recorded(ch.ipynb)
    item = PlanItem(ch, False, [], input_hash(hash_inputs["code"], params, hash_inputs["modules"], upstream),
                    params, overrides, hash_inputs, record)
    item.reasons = _why_stale(item, record, root)
    item.execute = bool(item.reasons)
    return item


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


# --- chapters waiting for runs ------------------------------------------------------------
def run_store(root: Path) -> RunStore:
    """The run store a chapter of the project reads: ``$GROKPAPER_STORE``, else ``store/`` in the project."""
    return RunStore(os.environ.get("GROKPAPER_STORE") or Path(root) / "store")


def run_part(entry: str) -> tuple[str, str | None, str | None]:
    """A chapter's ``runs:`` entry as (run set, experiment, condition): 'probes' -> ('probes', None,
    None); 'tasks:replay/grokked' -> ('tasks', 'replay', 'grokked'), the part of the task set a
    chapter reads, so that it waits for those runs only. ValueError naming what is allowed."""
    name, _, part = entry.partition(":")
    if name not in RUN_SETS:
        raise ValueError(f"{entry!r}: the run set must be one of {', '.join(RUN_SETS)}")
    if not part:
        return name, None, None
    experiment, _, condition = part.partition("/")
    if name != "tasks" or experiment not in TASK_EXPERIMENTS:
        raise ValueError(f"{entry!r}: only the task set has parts, 'tasks:<experiment>[/<condition>]' with an "
                         f"experiment of {', '.join(TASK_EXPERIMENTS)}")
    if condition and condition not in (*TASK_CONDITIONS, SCRATCH):
        raise ValueError(f"{entry!r}: the condition must be one of {', '.join((*TASK_CONDITIONS, SCRATCH))}")
    return name, experiment, condition or None


def part_jobs(settings: StudySettings, entry: str) -> list:
    """The jobs of a chapter's ``runs:`` entry (``run_part``): a whole set, or the task runs of one
    experiment (and condition). ChapterError when a part names no run of the profile (a typo would
    otherwise wait for nothing)."""
    name, experiment, condition = run_part(entry)
    every = jobs(settings, name)
    if experiment is None:
        return every

    def arg(job, flag):
        return job.args[job.args.index(flag) + 1] if flag in job.args else None

    chosen = [j for j in every if arg(j, "--experiment") == experiment
              and (condition is None or arg(j, "--condition") == condition)]
    if not chosen:
        raise ChapterError(f"runs entry {entry!r} names no run of this profile's task set")
    return chosen


def waiting_for_runs(ch: Chapter, params: dict, profile: str, root: Path, overrides: dict | None = None) -> str | None:
    """Why ``ch`` cannot execute yet with these resolved parameters: with ``missing_runs: wait``,
    how many runs of each set (or part of the task set) its header names (``runs:``) are not
    stored, and the command that trains just those (with the study ``overrides`` given): a part's
    own ``train tasks --experiment ...``, not the whole set, which goes seed by seed through every
    experiment. None when none is missing, when the chapter trains what is missing, or when it
    reads no run set."""
    if not ch.runs or params.get("missing_runs") != "wait":
        return None
    settings, store = StudySettings.from_params(params), run_store(root)
    extra = "".join(f" -p {shlex.quote(f'{k}={json.dumps(v)}')}" for k, v in (overrides or {}).items()
                    if k in StudyParams.schema())
    parts = []
    for entry in ch.runs:
        name, experiment, condition = run_part(entry)
        try:
            every = part_jobs(settings, entry)
        except ChapterError as e:
            raise ChapterError(f"{ch.path}: {e}") from None
        missing = sum(not store.has(job.key) for job in every)
        if not missing:
            continue
        are, them = ("is", "it") if missing == 1 else ("are", "them")
        if experiment is None:
            parts.append(f"{missing} of the {len(every)} runs of `train all --runs {name}` {are} not stored; "
                         f"`python -m grokpaper train all --runs {name} --profile {profile}{extra}` trains {them}")
        else:
            which = f"{experiment}{f' from {condition}' if condition else ''}"
            command = f"train tasks --experiment {experiment}{f' --condition {condition}' if condition else ''}"
            parts.append(f"{missing} of the {len(every)} task runs ({which}) {are} not stored; "
                         f"`python -m grokpaper {command} --profile {profile}{extra}` trains {them}")
    return "waiting for runs: " + "; ".join(parts) if parts else None


def waiting_chapters(project: str | Path | None = None, graph: dict[str, Chapter] | None = None) -> dict[str, str]:
    """The chapters the executed build leaves out because they wait for runs, {chapter: why}: each
    chapter without an executed notebook whose runs are not stored (``waiting_for_runs`` under the
    profile the build was executed with), and each chapter without one that reads its results."""
    root = Path(project).resolve() if project else project_root()
    graph = graph or chapter_graph(root)
    profile = build_profile(root)
    out: dict[str, str] = {}
    if profile is None:
        return out
    for name, ch in graph.items():
        if _recorded(ch.ipynb) is not None:
            continue
        upstream = [d for d in ch.depends_on if d in out]
        if upstream:
            out[name] = f"waiting for {', '.join(upstream)}"
            continue
        try:
            params = chapter_params(name, profile, {}, root)
        except ParamsError:  # check_build names it as a chapter without an executed notebook
            continue
        why = waiting_for_runs(ch, params, profile, root)
        if why:
            out[name] = why
    return out


def plan(profile: str = "smoke", chapters: list[str] | None = None, overrides: dict | None = None,
         force: bool = False, project: str | Path | None = None, downstream: bool = True) -> list[PlanItem]:
    """What ``run`` would execute and why, in order: the selected chapters (all by default),
    their upstream chapters and, unless ``downstream`` is False, every chapter that reads their
    results (it executes if the selection's new results make it stale) with its own upstream
    chapters (each executes only if stale). Validates every chapter's parameters first."""
    root = Path(project).resolve() if project else project_root()
    graph = chapter_graph(root)
    prof = load_profile(profile, root)
    if chapters:
        targets = {_find_chapter(c, graph) for c in chapters}
        wanted = set(targets).union(*(_ancestors(t, graph) for t in targets))
        if downstream:
            below = set().union(*(_descendants(t, graph) for t in targets))
            # a downstream chapter's input hash needs all its upstream chapters, also those that
            # are not upstream of the targets (chapter 08 reads 04, which 06 does not)
            wanted |= below.union(*(_ancestors(d, graph) for d in below))
    else:
        targets = wanted = set(graph)
    names = [n for n in graph if n in wanted]
    per_chapter = _split_overrides(overrides, names, graph)
    params = {n: chapter_params(n, prof, per_chapter[n], root) for n in names}  # all validated first

    items: dict[str, PlanItem] = {}
    for n in names:
        upstream = {d: items[d].input_hash for d in graph[n].depends_on}
        item = _plan_item(graph[n], params[n], {k: params[n][k] for k in per_chapter[n]}, upstream, root)
        if force and n in targets:
            item.reasons = item.reasons or ["forced"]
            item.execute = True
        if item.execute:
            blocked = [d for d in graph[n].depends_on if items[d].waiting]
            item.waiting = (f"waiting for {', '.join(blocked)}" if blocked else
                            waiting_for_runs(graph[n], params[n], prof.name, root, per_chapter[n]))
        if item.waiting:
            if chapters and n in targets:
                raise ChapterError(f"{n} cannot execute: {item.waiting} (or give -p missing_runs=train to train "
                                   "them in the chapter)")
            item.execute = False
        items[n] = item
    return list(items.values())


# --- is the executed build consistent? ----------------------------------------------------
def foreign_results(project: str | Path | None = None, graph: dict[str, Chapter] | None = None) -> list[str]:
    """The results files (``results/*.json``, relative to the project) that no executed
    chapter's run record claims: the runner did not write them."""
    root = Path(project).resolve() if project else project_root()
    claimed = set()
    for ch in (graph or chapter_graph(root)).values():
        claimed |= set((_recorded(ch.ipynb) or {}).get("results") or {})
    found = [f"{RESULTS}/{path.name}" for path in sorted((root / RESULTS).glob("*.json"))]
    return [rel for rel in found if rel not in claimed]


def check_build(project: str | Path | None = None) -> dict[str, list[str]]:
    """What keeps the executed build from making one consistent report: {chapter: why} for each
    chapter whose notebook or results are stale against its inputs (checked with the profile
    and overrides it was executed with), {results file: why} for each results file the runner
    did not write. Empty for a consistent build, and for a project without chapter sources.
    Chapters waiting for runs (``waiting_chapters``) are left out of the build, not stale."""
    root = Path(project).resolve() if project else project_root()
    graph = chapter_graph(root)
    if not graph:  # not a runner project (e.g. hand-made notebooks): nothing to check against
        return {}
    problems = {name: item.reasons if isinstance(item, PlanItem) else item
                for name, item in build_items(root, graph).items()
                if (item.reasons if isinstance(item, PlanItem) else item)}
    for rel in foreign_results(root, graph):
        if Path(rel).stem not in problems:  # a stale chapter's own results file is named with it
            problems[rel] = [why_foreign(rel, graph)]
    return problems


def build_items(project: str | Path | None = None, graph: dict[str, Chapter] | None = None) -> dict[str, PlanItem | list[str]]:
    """Each chapter of the executed build, checked against the profile and overrides it was
    executed with: its ``PlanItem`` (``reasons`` empty when it is up to date), or the reasons it
    cannot be checked (no executed notebook, parameters that no longer resolve)."""
    root = Path(project).resolve() if project else project_root()
    out: dict[str, PlanItem | list[str]] = {}
    hashes: dict[str, str | None] = {}
    graph = graph or chapter_graph(root)
    waiting = waiting_chapters(root, graph)  # left out of the build until their runs are stored
    for name, ch in graph.items():
        record = _recorded(ch.ipynb)
        hashes[name] = None
        if name in waiting:
            continue
        if record is None or "profile" not in record:
            out[name] = ["no executed notebook" if record is None else "the notebook has no run record"]
            continue
        overrides = record.get("overrides") or {}
        try:
            params = chapter_params(name, record["profile"], overrides, root)
        except ParamsError as e:
            out[name] = [f"the parameters it was executed with no longer resolve: {e}"]
            continue
        item = _plan_item(ch, params, overrides, {d: hashes[d] for d in ch.depends_on}, root)
        hashes[name] = item.input_hash
        out[name] = item
    return out


def why_foreign(rel: str, graph: dict[str, Chapter]) -> str:
    """Why a results file no run record claims is there, and what to do about it."""
    chapter = Path(rel).stem
    if chapter in graph:
        return (f"not written by the runner (a plain papermill or Jupyter run of an older version of the "
                f"package, or an edit by hand); re-executing {chapter} replaces it")
    return "no chapter writes it (left by a removed or renamed chapter, or written by hand); delete it"


def build_profile(project: str | Path | None = None) -> str | None:
    """The profile most executed chapters of the build ran with (None: nothing executed)."""
    root = Path(project).resolve() if project else project_root()
    profiles = [(_recorded(ch.ipynb) or {}).get("profile") for ch in chapter_graph(root).values()]
    profiles = [p for p in profiles if p]
    return max(set(profiles), key=profiles.count) if profiles else None


def describe_problems(problems: dict[str, list[str]], indent: str = "  ") -> str:
    """``check_build``'s findings, one line per chapter or file: its name, then its reasons."""
    width = max([len(name) for name in problems] + [0])
    return "\n".join(f"{indent}{name.ljust(width)}  {'; '.join(reasons)}" for name, reasons in problems.items())


def papermill_parameters(overrides: dict, profile: str) -> dict:
    # None in a notebook means "take the profile's value", so an override *to* null travels as
    # the string "null" (strings are read as YAML by resolve_in_notebook).
    return {"profile": profile, **{k: ("null" if v is None else v) for k, v in overrides.items()}}
