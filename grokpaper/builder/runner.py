"""Chapter runner: executes the chapter notebooks (``chapters/NN-name.py``, jupytext percent
files) with papermill into ``chapters/NN-name.ipynb``, in dependency order, skipping the
chapters whose inputs did not change (what is stale, and why, is ``plan.py``'s to say).

Only the runner writes ``results/``: it names a staging folder to the kernel
(``$GROKPAPER_RESULTS_DIR``, read by ``report.save_numbers``) and moves what the chapter saved
into ``results/`` once the chapter succeeded. A notebook executed any other way (plain
papermill, Jupyter) keeps its numbers inside the notebook it produces. After executing
chapters it deletes the article's frozen execution when its inputs changed (``freeze.py``).
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path

import nbformat
import yaml

import grokpaper
from grokpaper.builder.freeze import invalidate_freeze
from grokpaper.builder.plan import (
    PACKAGE_DIR,
    RESULTS,
    ChapterError,
    PlanItem,
    build_items,
    build_profile,
    chapter_graph,
    check_build,
    describe_problems,
    executed_code,
    file_sha256,
    fill_captions,
    foreign_results,
    papermill_parameters,
    plan,
    repair_command,
    unreadable_results,
    why_foreign,
    without_cell_options,
)
from grokpaper.builder.training import describe, measure_rate, refusal, runs_to_train, trains
from grokpaper.config import ParamsError, load_profile, project_root
from grokpaper.core.files import atomic_path
from grokpaper.core.status import watch_training
from grokpaper.core.study import StudySettings
from grokpaper.paper.provenance import git_commit

# The profile of the committed build: a run of another profile does not replace it unless told to.
PAPER_PROFILE = "paper"


class ChapterInterrupted(KeyboardInterrupt):
    """Ctrl-C while a chapter executed; the message says where training stopped and resumes."""


class ChapterFailed(RuntimeError):
    """A chapter raised while executing; ``results`` holds every chapter's outcome."""

    def __init__(self, message: str, results: list):
        super().__init__(message)
        self.results = results


# --- execution ----------------------------------------------------------------------------
@dataclass
class ChapterResult:
    """The outcome for one chapter: 'executed', 'up to date', 'failed', 'not run' or 'waiting'
    (for runs that are not stored: ``plan.waiting_for_runs``; ``reasons`` says which and how)."""

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
def _kernel_env(results_dir: Path):
    """The environment a kernel starts with: the same grokpaper as the runner, wherever the
    project is, and the folder where ``save_numbers`` writes the chapter's results."""
    from grokpaper.paper.report import RESULTS_DIR_ENV  # report brings scipy (1.6 s): only when a chapter executes

    before = {key: os.environ.get(key) for key in ("PYTHONPATH", RESULTS_DIR_ENV)}
    paths = [str(PACKAGE_DIR.parent)] + ([before["PYTHONPATH"]] if before["PYTHONPATH"] else [])
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)
    os.environ[RESULTS_DIR_ENV] = str(results_dir)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class _UnknownParameterWarnings(logging.Filter):
    """Drops papermill's "Passed unknown parameter: KEY", logged for every key the parameters cell
    does not assign: a chapter's parameters cell assigns only the profile (the parameters are
    defined in grokpaper/config.py), and ``plan`` checked every key before anything ran."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Passed unknown parameter")


@contextlib.contextmanager
def _no_unknown_parameter_warnings():
    papermill_log, quiet = logging.getLogger("papermill"), _UnknownParameterWarnings()
    papermill_log.addFilter(quiet)
    try:
        yield
    finally:
        papermill_log.removeFilter(quiet)


def _publish_results(staged: Path, root: Path) -> dict[str, str]:
    """Move the results files a chapter saved into the staging folder to ``results/``, each in
    one rename; returns {path relative to the project: sha256} for the run record."""
    written = {}
    for path in sorted(staged.glob("*.json")):
        target = root / RESULTS / path.name
        with atomic_path(target) as tmp:
            tmp.write_bytes(path.read_bytes())
        written[f"{RESULTS}/{path.name}"] = file_sha256(target)
    return written


def _write_atomic(nb, path: Path):
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp.ipynb", dir=path.parent)
    os.close(fd)
    try:
        nbformat.write(nb, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


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
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = fill_captions(cell.source, item.params)
    nb.metadata["grokpaper"] = {"title": item.chapter.title, "depends_on": item.chapter.depends_on, **record}
    _write_atomic(nb, final)


def _first_line(source: str) -> str:
    lines = [line for line in source.splitlines() if line.strip() and not line.startswith("#|")]
    return lines[0].strip() if lines else ""


def _status_echo(name: str, width: int, tty: bool):
    """How a training status line reaches the console: rewritten in place on a terminal, one line
    per update (every 30 s) in a log."""
    if tty:
        columns = shutil.get_terminal_size().columns
        return lambda line: print(f"\r{name.ljust(width)}  {line}"[:columns].ljust(columns), end="", flush=True)
    return lambda line: print(f"{name.ljust(width)}  {line}", flush=True)


def execute_chapter(item: PlanItem, profile: str, root: Path, git: str, echo=None) -> ChapterResult:
    """Execute one chapter with papermill into a temp file; on success move it to
    ``NN-name.ipynb``, on failure to ``NN-name.failed.ipynb`` (the last good notebook stays).
    While it trains, ``echo`` gets the trainer's status line (epoch, runs, test accuracy); Ctrl-C
    makes the trainer checkpoint and stop, and raises ``ChapterInterrupted`` saying where the same
    command resumes."""
    import papermill  # slow import (0.9 s): only when a chapter executes
    from papermill.exceptions import PapermillExecutionError  # with papermill

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
    # The chapter saves its numbers here; they reach results/ only if the chapter succeeds, so a
    # failure leaves the last good notebook and the last good results together.
    staged = Path(tempfile.mkdtemp(prefix=f"grokpaper-{ch.name}-results-"))
    start = time.perf_counter()
    error = None
    tty, training = sys.stdout.isatty(), None
    try:
        with _kernel_env(staged), _no_unknown_parameter_warnings(), \
                watch_training(echo or (lambda line: None), every_s=2.0 if tty else 30.0,
                               forward_interrupts=True) as training:
            nb = papermill.execute_notebook(
                copy.deepcopy(ch.notebook), tmp, parameters=papermill_parameters(item.overrides, profile),
                kernel_name="python3", cwd=str(root), progress_bar=False, log_output=False,
                extra_arguments=["--IPKernelApp.log_level=ERROR"])  # no kernel start-up chatter
    except PapermillExecutionError as e:
        if e.ename == "TrainingInterrupted":  # Ctrl-C reached the trainer, which checkpointed and stopped
            os.unlink(tmp)
            shutil.rmtree(staged, ignore_errors=True)
            raise ChapterInterrupted(f"{ch.name}: {training.interrupted_message()}") from None
        # name the cell as the author sees it: its index among the cells of the .py source
        index = next((i for i, c in enumerate(ch.notebook.cells) if c.source == e.source), e.cell_index)
        error = f"cell {index} (`{_first_line(e.source)}`): {e.ename}: {e.evalue}".rstrip()
    except KeyboardInterrupt:  # Ctrl-C while nothing trained, or a second one
        os.unlink(tmp)
        shutil.rmtree(staged, ignore_errors=True)
        message = training.interrupted_message() if training else None
        raise ChapterInterrupted(f"{ch.name}: {message or 'interrupted before anything trained'}") from None
    except Exception as e:  # kernel died, timeout, ...: still a failure of this chapter
        error = f"{type(e).__name__}: {e}"
    if tty and echo:
        print("\r" + " " * shutil.get_terminal_size().columns + "\r", end="", flush=True)  # clear the status line
    seconds = time.perf_counter() - start
    record["duration_s"] = round(seconds, 2)
    try:
        if error is None:
            record["results"] = _publish_results(staged, root)
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
        shutil.rmtree(staged, ignore_errors=True)


def _sync_prose(item: PlanItem) -> bool:
    """Copy the source's markdown cells, cell options (captions, labels) and title into an
    up-to-date executed notebook, so a prose or caption edit needs no re-execution. Returns
    whether the notebook changed."""
    ch = item.chapter
    executed = nbformat.read(ch.ipynb, as_version=4)
    tags = lambda c: c.metadata.get("tags", [])  # noqa: E731
    injected = [c for c in executed.cells if "injected-parameters" in tags(c)]
    ran = [c for c in executed.cells if c.cell_type == "code" and "injected-parameters" not in tags(c)]
    if [without_cell_options(c.source) for c in ran] != executed_code(ch.notebook):
        return False  # cannot align cells: leave the notebook as it is
    ran_iter, cells = iter(ran), []
    for cell in ch.notebook.cells:
        if cell.cell_type == "code":
            done = copy.deepcopy(next(ran_iter))  # outputs kept; options as in the source now
            done.source = fill_captions(cell.source, item.params)
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


def sync_prose(project: str | Path | None = None) -> list[str]:
    """Copy the prose (markdown cells, captions and other cell options, titles) of every
    up-to-date chapter of the executed build into its executed notebook, executing nothing;
    returns the chapters whose notebook changed. A stale chapter is left as it is."""
    root = Path(project).resolve() if project else project_root()
    items = build_items(root).values()
    return [item.chapter.name for item in items if isinstance(item, PlanItem) and not item.reasons and _sync_prose(item)]


def _line(result: ChapterResult, width: int) -> str:
    name = result.chapter.ljust(width)
    if result.status == "executed":
        return f"{name}  executed    {result.seconds:6.1f} s  ({'; '.join(result.reasons)})"
    if result.status == "failed":
        return f"{name}  FAILED      {result.seconds:6.1f} s  {result.error}\n{'':{width}}  kept: {result.notebook}"
    if result.status == "not run":
        return f"{name}  not run     ({result.error})"
    if result.status == "waiting":
        return f"{name}  {result.reasons[0]} (the report builds without it)"
    return f"{name}  up to date" + ("  (prose updated)" if result.reasons else "")


def paper_build_replaced(items: list[PlanItem], profile: str) -> list[str]:
    """The chapters of a ``paper`` build that a run of another profile would re-execute,
    replacing the committed notebooks and results."""
    if profile == PAPER_PROFILE:
        return []
    return [i.chapter.name for i in items if i.execute and i.recorded_profile == PAPER_PROFILE]


def run(profile: str = "smoke", chapters: list[str] | None = None, overrides: dict | None = None,
        force: bool = False, project: str | Path | None = None, echo: bool = True,
        downstream: bool = True, replace_paper_build: bool = False, train: bool = False) -> list[ChapterResult]:
    """Execute the stale chapters of the selection, their stale upstream chapters and (unless
    ``downstream`` is False) the chapters downstream that become stale, in order. Everything is
    validated before anything executes; a run of another profile refuses to replace a ``paper``
    build unless ``replace_paper_build``, and a run that would train runs at paper scale refuses
    unless ``train`` (``training.refusal``). Raises ChapterFailed (with ``results``) if a chapter
    fails; chapters downstream of it are not run."""
    root = Path(project).resolve() if project else project_root()
    items = plan(profile, chapters, overrides, force, root, downstream)
    prof_name = load_profile(profile, root).name
    replaced = paper_build_replaced(items, prof_name)
    if replaced and not replace_paper_build:
        raise ChapterError(
            f"the executed chapters and results/ are the {PAPER_PROFILE} build; this {prof_name} run would "
            f"replace {', '.join(replaced)}. Pass --replace-paper-build to replace them (`git checkout -- "
            f"chapters results _freeze` brings the committed build back), or run the {prof_name} profile "
            f"in a copy of the project that has no executed chapters")
    pending = runs_to_train(items, root)
    if pending and not train and refusal(pending, prof_name):
        raise ChapterError(refusal(pending, prof_name))
    removed = _remove_unreadable_results(items, root, prof_name)
    git = git_commit(root) if any(i.execute for i in items) else None
    width = max([len(i.chapter.name) for i in items] + [10])
    if echo:
        for rel, why in removed.items():
            print(f"{rel} {why}: removed; {Path(rel).stem} re-executes and writes it again")
        if pending:
            print("\n".join(describe(pending, None)[:2]).replace("would train", "trains", 1), flush=True)
    results, broken = [], set()
    for item in items:
        ch = item.chapter
        blocked = [d for d in ch.depends_on if d in broken]
        if blocked:
            broken.add(ch.name)
            result = ChapterResult(ch.name, "not run", error=f"upstream {', '.join(blocked)} failed")
        elif item.waiting:
            result = ChapterResult(ch.name, "waiting", reasons=[item.waiting])
        elif item.execute:
            if echo and sys.stdout.isatty():
                print(f"{ch.name.ljust(width)}  running ...", end="\r", flush=True)
            result = execute_chapter(item, prof_name, root, git,
                                     _status_echo(ch.name, width, sys.stdout.isatty()) if echo else None)
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
    counts = {s: sum(r.status == s for r in results) for s in ("executed", "up to date", "waiting", "failed", "not run")}
    if echo:
        print(", ".join(f"{v} {k}" for k, v in counts.items() if v or k == "executed"))
    problems = check_build(root) if echo or counts["executed"] else {}
    if counts["executed"]:
        # The article reads results/: Quarto's frozen execution of it is out of date now.
        removed = invalidate_freeze(root, problems)
        if echo and removed:
            print(f"removed {removed.relative_to(root)}/: the article re-executes at the next render")
    if echo and problems:
        fix = ("the same command without --only re-executes them" if not downstream else
               f"python -m grokpaper run --profile {build_profile(root) or prof_name} re-executes them")
        print(f"not consistent yet, so render refuses ({fix}):\n{describe_problems(problems)}")
    if counts["failed"]:
        failed = [r for r in results if r.status == "failed"]
        raise ChapterFailed("; ".join(f"chapter {r.chapter} failed at {r.error} (notebook kept at {r.notebook})"
                                      for r in failed), results)
    return results


def _remove_unreadable_results(items: list[PlanItem], root: Path, profile: str) -> dict[str, str]:
    """Delete the results files that are not valid JSON (truncated, corrupt) and whose chapter
    executes in this run, before any chapter executes: a chapter reads every results file
    (``Results.load``), its own and those of chapters after it included, so one broken file
    would fail it. Returns {file: why} of those removed. A broken file that no executing chapter
    rewrites is a ChapterError naming the file and the command that repairs it."""
    broken = unreadable_results(root)
    if not broken or not any(i.execute for i in items):
        return {}
    executing = {i.chapter.name for i in items if i.execute}
    kept = {rel: why for rel, why in broken.items() if Path(rel).stem not in executing}
    if kept:
        graph = chapter_graph(root)
        raise ChapterError("; ".join(f"{rel} {why}, and this run does not rewrite it: {repair_command(rel, graph, profile)}"
                                     for rel, why in kept.items()))
    for rel in broken:
        (root / rel).unlink()
    return broken


# --- command line -------------------------------------------------------------------------
def parse_overrides(pairs: list[str] | None) -> dict:
    """``["seeds=[1, 2]", "p=23"]`` -> {"seeds": [1, 2], "p": 23} (values read as YAML)."""
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
                   help="this chapter, its stale upstream chapters and the chapters downstream that "
                        "become stale; repeatable")
    p.add_argument("--only", action="store_true",
                   help="with --chapter: leave the chapters downstream stale (render refuses until they "
                        "re-execute)")
    p.add_argument("-p", "--param", action="append", metavar="KEY=VALUE",
                   help="override a parameter (value read as YAML); repeatable")
    p.add_argument("--force", action="store_true", help="re-execute the selected chapters even if up to date")
    p.add_argument("--dry-run", action="store_true",
                   help="print what would execute and why, and the results files the runner did not "
                        "write; execute nothing")
    p.add_argument("--train", action="store_true",
                   help="train the runs the chapters need that are not stored, also at paper scale (p >= 100: "
                        "hours each on a CPU); without it such a run stops before training, naming them "
                        "(--dry-run lists them with an estimate of the wall time)")
    p.add_argument("--replace-paper-build", action="store_true",
                   help=f"let a run of another profile replace the {PAPER_PROFILE} build in chapters/ and "
                        "results/ (`git checkout -- chapters results _freeze` brings it back)")
    p.add_argument("--project", default=None, help="project directory (default: found from the cwd)")
    p.set_defaults(func=run_command)


def _print_dry_run(items: list[PlanItem], profile: str, project: str | Path | None, replace_paper_build: bool) -> None:
    width = max([len(i.chapter.name) for i in items] + [10])
    for i in items:
        what = (f"would execute  ({'; '.join(i.reasons)})" if i.execute else
                f"{i.waiting} (the report builds without it)" if i.waiting else "up to date")
        print(f"{i.chapter.name.ljust(width)}  {what}")
    waiting = sum(bool(i.waiting) for i in items)
    print(f"{sum(i.execute for i in items)} would execute" + (f", {waiting} waiting for runs" if waiting else ""))
    training = [i for i in items if i.execute and trains(i.chapter)]
    if training:
        root = Path(project).resolve() if project else project_root()
        pending = runs_to_train(items, root)
        rate = measure_rate(StudySettings.from_params(training[0].params)) if pending else None
        print("\n".join(describe(pending, rate, load_profile(profile, project).name)))
    executing = {i.chapter.name for i in items if i.execute}
    graph = chapter_graph(project)
    for rel, why in unreadable_results(project).items():
        what = (f"run removes it and re-executes {Path(rel).stem}, which writes it again" if Path(rel).stem in executing
                else f"run refuses: {repair_command(rel, graph, load_profile(profile, project).name)}")
        print(f"{rel} {why}: {what}")
    foreign = [rel for rel in foreign_results(project, graph) if Path(rel).stem not in executing]
    if foreign:
        print("results the runner did not write (render refuses them):\n"
              + describe_problems({rel: [why_foreign(rel, graph)] for rel in foreign}))
    replaced = paper_build_replaced(items, load_profile(profile, project).name)
    if replaced and not replace_paper_build:
        print(f"refused without --replace-paper-build: it would replace the {PAPER_PROFILE} build of "
              f"{', '.join(replaced)}")


def run_command(args) -> int:
    """The ``run`` subcommand; returns the exit status."""
    try:
        if args.only and not args.chapter:
            raise ParamsError("--only needs --chapter NAME: the chapters to execute without their downstream")
        overrides = parse_overrides(args.param)
        if args.dry_run:
            items = plan(args.profile, args.chapter, overrides, args.force, args.project, not args.only)
            _print_dry_run(items, args.profile, args.project, args.replace_paper_build)
            return 0
        run(args.profile, args.chapter, overrides, args.force, args.project,
            downstream=not args.only, replace_paper_build=args.replace_paper_build, train=args.train)
        return 0
    except (ParamsError, ChapterError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ChapterFailed as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except ChapterInterrupted as e:  # one line, no traceback: where training stopped and resumes
        print(f"\n{e}", file=sys.stderr)
        return 130
