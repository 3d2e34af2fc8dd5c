"""Chapter runner on a fake three-chapter project (05 <- 06, 05 <- 07) with a one-page article:
what executes when, what is recorded, failures, plain papermill on an executed notebook, the
build check that render relies on, and the committed paper build a smoke run must not replace.

Kernel start-ups dominate the runtime: the project is executed once per module and copied
(notebooks included) for each test, so each test executes only what it is about."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import grokpaper
from grokpaper.__main__ import main
from grokpaper.builder import render
from grokpaper.builder.plan import (
    ChapterError,
    chapter_graph,
    check_build,
    module_closure,
    papermill_parameters,
    plan,
    why_foreign,
    without_cell_options,
)
from grokpaper.builder.runner import ChapterFailed, run
from grokpaper.config import ParamsError
from grokpaper.paper.report import numbers_in_notebook

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "runner_project"
A, B, C = "05-circuits", "06-statistics", "07-dynamics"


def executed(results):
    return [r.chapter for r in results if r.status == "executed"]


def notebook_bytes(project):
    return {p.name: p.read_bytes() for p in sorted((project / "chapters").glob("*.ipynb"))}


def build_bytes(project):
    """Every executed notebook and results file of the project, by path."""
    paths = [*(project / "chapters").glob("*.ipynb"), *(project / "results").glob("*")]
    return {p.relative_to(project).as_posix(): p.read_bytes() for p in sorted(paths)}


def numbers(project, chapter):
    return json.loads((project / "results" / f"{chapter}.json").read_text())["numbers"]


def report_text(project, **kwargs):
    """The offline report's HTML page as text (HTML only: the PDF adds nothing here)."""
    page = render.build(project, formats=("html",), offline=True, quiet=True, **kwargs)["html"]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.read_text()))


def edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    project = tmp_path_factory.mktemp("executed") / "project"
    shutil.copytree(FIXTURE, project)
    return project, run("smoke", project=project, echo=False)


@pytest.fixture
def project(first_run, tmp_path):
    """A copy of the executed project (up to date)."""
    dest = tmp_path / "project"
    shutil.copytree(first_run[0], dest)
    return dest


def test_first_run_executes_all_and_records_the_run(first_run):
    project, results = first_run
    assert executed(results) == [A, B, C]
    b = numbers(project, B)
    assert b["seeds"] == [1, 2] and b["a"]["min_neuron_count"] == 5
    nb = nbformat.read(project / "chapters" / f"{B}.ipynb", as_version=4)
    meta = nb.metadata["grokpaper"]
    assert meta["title"] == "Chapter B (fake statistics)" and meta["depends_on"] == [A]
    assert len(meta["input_hash"]) == 64 and meta["profile"] == "smoke"
    assert meta["params"]["outlier_z"] == 2.0 and meta["params"]["p"] == 23
    assert meta["package_version"] == grokpaper.__version__ and meta["git_commit"] == "unknown"
    assert meta["duration_s"] > 0 and meta["started"].endswith("+00:00")
    assert {"grokpaper/__init__.py", "grokpaper/config.py", "grokpaper/paper/report.py"} <= set(meta["hash_inputs"]["modules"])
    # the results file the run wrote, with its hash: what tells the runner's results from any other
    results_file = project / "results" / f"{B}.json"
    assert meta["results"] == {f"results/{B}.json": hashlib.sha256(results_file.read_bytes()).hexdigest()}
    assert check_build(project) == {}
    assert nb.metadata["papermill"]["parameters"] == {"profile": "smoke"}
    assert nb.metadata["papermill"]["input_path"] == f"chapters/{B}.py"
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    assert ["parameters"] in tags and ["injected-parameters"] in tags  # plain papermill needs the tag


def test_second_run_executes_nothing(project):
    before = notebook_bytes(project)
    assert executed(run("smoke", project=project, echo=False)) == []
    assert notebook_bytes(project) == before
    assert all(not i.execute for i in plan("smoke", project=project))


def test_equal_values_under_another_profile_name_are_up_to_date(project):
    shutil.copy(project / "params" / "smoke.yaml", project / "params" / "other.yaml")
    assert all(not i.execute for i in plan("other", project=project))


def test_prose_edit_executes_nothing_but_updates_the_prose(project):
    edit(project / "chapters" / f"{B}.py", "Reads chapter A's result.", "Reads A's result (edited prose).")
    results = run("smoke", project=project, echo=False)
    assert executed(results) == [] and results[1].reasons == ["prose updated"]
    assert "edited prose" in (project / "chapters" / f"{B}.ipynb").read_text()


def test_caption_edit_executes_nothing_but_updates_the_caption(project):
    # Quarto cell options are comments to Python: a new caption needs no re-execution, here or downstream.
    edit(project / "chapters" / f"{A}.py", "# %%\nout =", '# %%\n#| label: tbl-a\n#| tbl-cap: "A new caption."\nout =')
    results = run("smoke", project=project, echo=False)
    assert executed(results) == [] and results[0].reasons == ["prose updated"]
    nb = nbformat.read(project / "chapters" / f"{A}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "A new caption." in c.source)
    assert cell.outputs and "seeds=" in cell.outputs[0]["text"]  # the outputs of the last execution, kept
    assert executed(run("smoke", project=project, echo=False)) == []


def test_without_cell_options_keeps_everything_after_the_options():
    assert without_cell_options('#| label: fig-x\n#| fig-cap: "c"\nplot()\n#| not an option here\n') == (
        "plot()\n#| not an option here\n")
    assert without_cell_options("x = 1") == "x = 1"


def test_code_change_reexecutes_that_chapter_only(project):
    edit(project / "chapters" / f"{B}.py", "print(out)", "print('B', out)")
    items = {i.chapter.name: i for i in plan("smoke", project=project)}
    assert items[B].reasons == ["code changed"] and not items[A].execute and not items[C].execute
    assert executed(run("smoke", project=project, echo=False)) == [B]


def test_chapter_param_in_profile_reexecutes_it_and_downstream(project):
    edit(project / "params" / "smoke.yaml", "min_neuron_count: 5", "min_neuron_count: 3")
    items = {i.chapter.name: i for i in plan("smoke", project=project)}
    assert items[A].reasons == ["params changed: min_neuron_count 5 -> 3"]
    assert items[B].reasons == [f"upstream {A} changed"]
    assert executed(run("smoke", project=project, echo=False)) == [A, B, C]
    assert numbers(project, C)["a"]["min_neuron_count"] == 3


def test_overrides(project, capsys):
    # a study key applies to every chapter; a chapter key only to the chapters that take it
    assert [i.chapter.name for i in plan("smoke", overrides={"p": 29}, project=project) if i.execute] == [A, B, C]
    assert [i.chapter.name for i in plan("smoke", overrides={"outlier_z": 2.5}, project=project)
            if i.execute] == [B]
    # --chapter --only: the chapter and its stale upstream chapters only; the string is read as YAML
    assert main(["run", "--project", str(project), "--chapter", "05", "--only", "-p", "p=29", "-p", "seeds=[3, 4]"]) == 0
    assert numbers(project, A) == {"p": 29, "seeds": [3, 4], "min_neuron_count": 5}
    out = capsys.readouterr().out
    assert f"{A}  executed" in out and "1 executed" in out
    nb = nbformat.read(project / "chapters" / f"{A}.ipynb", as_version=4)
    assert nb.metadata["papermill"]["parameters"] == {"profile": "smoke", "p": 29, "seeds": [3, 4]}
    # it says which chapters it left stale, and how to re-execute them
    assert "not consistent yet, so render refuses (the same command without --only re-executes them)" in out
    assert f"{B}  upstream {A} changed" in out and re.search(rf"{C} +upstream {A} changed", out)
    # downstream chapters are now stale; the overridden chapter is up to date with the overrides
    items = {i.chapter.name: i for i in plan("smoke", overrides={"p": 29, "seeds": [3, 4]}, project=project)}
    assert not items[A].execute and items[B].execute
    assert main(["run", "--project", str(project), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would execute  (params changed: p 29 -> 23, seeds [3, 4] -> [1, 2])" in out and "1 would execute" in out


@pytest.mark.slow  # three runs of the runner, 7 s (timed on 2 shared cores)
def test_chapter_rerun_executes_the_chapters_downstream_and_leaves_nothing_stale(project, capsys):
    assert main(["run", "--project", str(project), "--chapter", A, "-p", "min_neuron_count=3"]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"{B} +executed", out) and re.search(rf"{C} +executed", out) and "3 executed" in out
    assert numbers(project, B)["a"]["min_neuron_count"] == 3 and numbers(project, C)["a"]["min_neuron_count"] == 3
    assert check_build(project) == {} and "not consistent" not in out
    # a downstream chapter's own key goes with it; another chapter's key is still an error
    assert main(["run", "--project", str(project), "--chapter", A, "-p", "min_neuron_count=3", "-p", "outlier_z=2.5"]) == 0
    assert numbers(project, B)["outlier_z"] == 2.5 and check_build(project) == {}
    assert main(["run", "--project", str(project), "--chapter", C, "-p", "outlier_z=2.5"]) == 2


def test_a_downstream_chapter_brings_its_other_upstream_chapters(tmp_path):
    """--chapter B with C reading A and B (A not upstream of B): C's input hash needs A's, so A is
    planned too (executed only if stale), as chapter 08 reads 04, which 06 does not."""
    project = tmp_path / "project"
    shutil.copytree(FIXTURE, project)
    edit(project / "chapters" / f"{B}.py", f"depends_on: [{A}]", "depends_on: []")
    edit(project / "chapters" / f"{C}.py", f"depends_on: [{A}]", f"depends_on: [{A}, {B}]")
    items = plan("smoke", chapters=[B], overrides={"outlier_z": 2.5}, project=project)
    assert [i.chapter.name for i in items] == [A, B, C] and all(i.execute for i in items)
    assert [i.overrides for i in items] == [{}, {"outlier_z": 2.5}, {}]
    assert [i.chapter.name for i in plan("smoke", chapters=[B], downstream=False, project=project)] == [B]


@pytest.mark.slow  # report builds, 9 s (timed on 2 shared cores)
def test_render_refuses_a_stale_build_and_names_the_chapters(project, capsys):
    assert main(["run", "--project", str(project), "--chapter", A, "--only", "-p", "min_neuron_count=3"]) == 0
    with pytest.raises(render.StaleBuildError) as refused:
        render.build(project, formats=("html",), offline=True, quiet=True)
    assert set(refused.value.problems) == {B, C}
    assert f"{B}  upstream {A} changed" in str(refused.value) and "--allow-stale" in str(refused.value)
    capsys.readouterr()
    assert main(["render", "--project", str(project), "--offline", "--to", "html"]) == 2
    assert re.search(rf"{C} +upstream {A} changed", capsys.readouterr().err)
    assert not (project / "_manuscript" / "index.html").exists()
    # rendered anyway: the article opens with a warning that names them, and quotes the new numbers
    text = report_text(project, allow_stale=True)
    assert "This report mixes results from different inputs" in text
    assert f"{B} : upstream {A} changed" in text and f"{C} : upstream {A} changed" in text
    assert "counted neurons from 3 up" in text
    # re-executed: the banner goes (the freeze record of the stale build is not reused)
    assert [r.chapter for r in run("smoke", overrides={"min_neuron_count": 3}, project=project, echo=False)
            if r.status == "executed"] == [B, C]
    text = report_text(project)
    assert "mixes results" not in text and "counted neurons from 3 up" in text


@pytest.mark.slow  # report builds, 9 s (timed on 2 shared cores)
def test_a_results_change_invalidates_the_frozen_article(project):
    frozen = project / "_freeze" / "paper"
    assert "counted neurons from 5 up" in report_text(project)
    assert (frozen / "execute-results" / "html.json").is_file()
    assert executed(run("smoke", project=project, echo=False)) == [] and frozen.is_dir()  # nothing changed
    run("smoke", overrides={"min_neuron_count": 4}, project=project, echo=False)
    assert not frozen.exists()  # what Quarto's docs prescribe, so `quarto render` executes paper.qmd again
    assert "counted neurons from 4 up" in report_text(project)


def test_null_override_travels_as_yaml_string():
    # None in a notebook means "take the profile's value": an override to null must be a string
    assert papermill_parameters({"transfer_hold_epochs": None, "p": 23}, "smoke") == {
        "profile": "smoke", "transfer_hold_epochs": "null", "p": 23}


@pytest.mark.parametrize("change, args, message", [
    (("study:", "study:\n  sedes: [1]"), [], r"smoke\.yaml: unknown key study\.sedes; allowed keys: p, seeds"),
    (("p: 23", "p: twenty"), [], r"smoke\.yaml: study\.p = 'twenty' is not allowed; allowed: an integer >= 3"),
    (("frac_train: 0.3", "frac_train: 1.3"), [], r"study\.frac_train = 1\.3 is not allowed; allowed: a number in \(0, 1\)"),
    (None, ["-p", "sedes=[1]"], r"-p sedes: unknown parameter; allowed: p, seeds"),
    (None, ["-p", "seeds=[1, 1]"], r"seeds = \[1, 1\] is not allowed; allowed: a non-empty list of distinct"),
    (None, ["-p", "outlier_z=2.5", "--chapter", C], r"-p outlier_z: no selected chapter takes it .*taken by: 06-statistics"),
    (None, ["-p", "seeds"], r"expected key=value"),
    (None, ["--chapter", "nope"], r"no chapter 'nope'; chapters: 05-circuits, 06-statistics, 07-dynamics"),
])
def test_bad_params_rejected_before_anything_runs(project, capsys, change, args, message):
    if change:
        edit(project / "params" / "smoke.yaml", *change)
    before = notebook_bytes(project)
    assert main(["run", "--project", str(project), "--force", *args]) == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert notebook_bytes(project) == before


def test_bad_params_raise_params_error_from_the_api(project):
    with pytest.raises(ParamsError, match="seeds"):
        run("smoke", overrides={"seeds": "[]"}, force=True, project=project, echo=False)


def test_graph_errors(project):
    assert list(chapter_graph(project)) == [A, B, C]
    edit(project / "chapters" / f"{C}.py", f"depends_on: [{A}]", "depends_on: [04-nope]")
    with pytest.raises(ChapterError, match="depends_on '04-nope', which is not a chapter"):
        plan("smoke", project=project)
    edit(project / "chapters" / f"{C}.py", "depends_on: [04-nope]", f"depends_on: [{B}]")
    edit(project / "chapters" / f"{A}.py", "depends_on: []", f"depends_on: [{C}]")
    with pytest.raises(ChapterError, match="dependency cycle among chapters: 05-circuits, 06-statistics, 07-dynamics"):
        plan("smoke", project=project)


def test_failing_chapter_keeps_last_good_notebook_and_stops_downstream(project, capsys):
    source = project / "chapters" / f"{A}.py"
    good_source = source.read_text()
    before, results_before = notebook_bytes(project), build_bytes(project)
    edit(source, "print(out)", "raise RuntimeError('boom')")  # after the chapter saved its numbers
    assert main(["run", "--project", str(project)]) == 1
    captured = capsys.readouterr()
    assert 'cell 3 (`out = ChapterA(P["p"], P["seeds"], P["min_neuron_count"])`): ' \
           "RuntimeError: boom" in captured.err
    assert f"{B}  not run     (upstream {A} failed)" in captured.out
    after = notebook_bytes(project)
    assert set(after) - set(before) == {f"{A}.failed.ipynb"}
    assert {k: v for k, v in after.items() if k in before} == before  # the last good notebooks are untouched
    assert {k: v for k, v in build_bytes(project).items() if k.startswith("results/")} == {
        k: v for k, v in results_before.items() if k.startswith("results/")}  # and the results that go with them
    failed = nbformat.read(project / "chapters" / f"{A}.failed.ipynb", as_version=4)
    assert "boom" in failed.metadata["grokpaper"]["error"]
    assert not list((project / "chapters").glob(".*tmp*"))  # no temp files left behind
    # the API raises, naming the cell; downstream chapters are 'not run'
    with pytest.raises(ChapterFailed, match="cell 3") as e:
        run("smoke", chapters=[B], project=project, echo=False, force=False)
    assert [r.status for r in e.value.results] == ["failed", "not run"]
    # fixed again: up to date with the last good notebook, the stale failure is removed
    source.write_text(good_source)
    assert executed(run("smoke", project=project, echo=False)) == []
    assert not (project / "chapters" / f"{A}.failed.ipynb").exists()


def papermill(project, *args, ok=True):
    env = {**os.environ, "PYTHONPATH": str(Path(grokpaper.__file__).resolve().parent.parent)}
    command = [sys.executable, "-m", "papermill", "--log-level", "ERROR", "--no-progress-bar", *args]
    out = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert (out.returncode == 0) == ok, out.stderr
    return out


def test_plain_papermill_keeps_its_numbers_in_its_notebook(project, tmp_path):
    before = build_bytes(project)
    papermill(project, f"chapters/{B}.ipynb", str(tmp_path / "out.ipynb"), "-p", "seeds", "[7, 8]", "-p", "outlier_z", "2.5")
    assert build_bytes(project) == before  # the project's chapters and results are untouched
    kept = numbers_in_notebook(tmp_path / "out.ipynb")
    assert list(kept) == [B] and kept[B]["numbers"]["seeds"] == [7, 8] and kept[B]["params"]["outlier_z"] == 2.5
    assert all(not i.execute for i in plan("smoke", project=project)) and check_build(project) == {}
    # a chapter notebook re-executed by hand is not taken for up to date
    shutil.copy(tmp_path / "out.ipynb", project / "chapters" / f"{B}.ipynb")
    items = {i.chapter.name: i for i in plan("smoke", project=project)}
    assert items[B].reasons == ["re-executed outside the runner"] and not items[A].execute
    assert check_build(project) == {B: ["re-executed outside the runner"]}


@pytest.mark.slow  # two papermill processes, 5 s (timed on 2 shared cores)
def test_plain_papermill_checks_an_injected_parameter(project, tmp_path):
    """The parameters cell assigns only the profile; a key papermill injects after it is checked
    as an override is, with the same message, before the chapter computes anything."""
    before = build_bytes(project)
    out = papermill(project, f"chapters/{B}.ipynb", str(tmp_path / "out.ipynb"), "-p", "outlier_z", "-1", ok=False)
    assert re.search(r"ParamsError: papermill parameter outlier_z=-1 \(profile .*smoke\.yaml\): outlier_z = -1 "
                     r"is not allowed; allowed: a number > 0", out.stderr), out.stderr[-2000:]
    out = papermill(project, f"chapters/{C}.ipynb", str(tmp_path / "out.ipynb"), "-p", "outlier_z", "2.5", ok=False)
    assert "chapter 07-dynamics takes no parameter 'outlier_z'" in out.stderr, out.stderr[-2000:]
    assert build_bytes(project) == before


def test_results_the_runner_did_not_write_are_named(project, capsys):
    # what an older papermill run left: the chapter's results file rewritten, and a file no chapter writes
    stray = numbers(project, B) | {"outlier_z": 2.5}
    (project / "results" / f"{B}.json").write_text(json.dumps({"chapter": B, "params": {}, "numbers": stray}))
    (project / "results" / "04-gone.json").write_text("{}")
    assert main(["run", "--project", str(project), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"{B}  would execute  (results/{B}.json was changed after the runner wrote it)" in out
    assert "results/04-gone.json  no chapter writes it" in out
    assert check_build(project) == {B: [f"results/{B}.json was changed after the runner wrote it"],
                                    "results/04-gone.json": [why_foreign("results/04-gone.json", chapter_graph(project))]}
    with pytest.raises(render.StaleBuildError, match="04-gone"):
        render.build(project, formats=("html",), offline=True, quiet=True)
    assert executed(run("smoke", project=project, echo=False)) == [B]  # the runner writes it again
    assert numbers(project, B)["outlier_z"] == 2.0
    assert list(check_build(project)) == ["results/04-gone.json"]


def test_a_truncated_results_file_is_rewritten_by_its_chapter_and_named_in_one_line(project, capsys):
    """Chapter B reads every results file, its own included (Results.load, as the paper's chapters
    do): with its own file cut short, `run` re-executes it and succeeds, and `render` says in one
    line which file is broken and what repairs it, with or without --allow-stale."""
    own = project / "results" / f"{B}.json"
    own.write_text(own.read_text()[:40])
    assert main(["run", "--project", str(project), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"{B} +would execute  \(results/{B}\.json is not valid JSON \(.* at line \d+, column \d+\): "
                     r"truncated or corrupt\)", out), out
    assert f"results/{B}.json is not valid JSON" in out and f"run removes it and re-executes {B}" in out
    for allow_stale in ([], ["--allow-stale"]):
        assert main(["render", "--project", str(project), "--offline", "--to", "html", *allow_stale]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert f"results/{B}.json is not valid JSON" in err and "python -m grokpaper run --profile smoke" in err
        assert f"git checkout -- results/{B}.json" in err
    # a run that would not rewrite it refuses before executing anything, naming the file and the fix
    before = notebook_bytes(project)
    assert main(["run", "--project", str(project), "--chapter", A, "--only", "--force"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and f"results/{B}.json is not valid JSON" in err
    assert f"re-executes {B} and writes it again" in err and notebook_bytes(project) == before
    assert main(["run", "--project", str(project)]) == 0
    out = capsys.readouterr().out
    assert f"results/{B}.json is not valid JSON" in out and re.search(rf"{B} +executed", out)
    assert numbers(project, B)["a"]["min_neuron_count"] == 5 and check_build(project) == {}


@pytest.mark.slow  # nine chapter executions, 13 s (timed on 2 shared cores)
def test_a_smoke_run_refuses_to_replace_the_paper_build(project, capsys):
    run("paper", project=project, echo=False)  # the committed build of a real project
    paper_build = build_bytes(project)
    assert main(["run", "--project", str(project), "--profile", "smoke"]) == 2
    err = capsys.readouterr().err
    assert f"are the paper build; this smoke run would replace {A}, {B}, {C}" in err
    assert "--replace-paper-build" in err and "git checkout -- chapters results _freeze" in err
    assert build_bytes(project) == paper_build
    with pytest.raises(ChapterError, match="paper build"):
        run("smoke", chapters=[C], project=project, echo=False)
    assert main(["run", "--project", str(project), "--profile", "smoke", "--dry-run"]) == 0
    assert "refused without --replace-paper-build" in capsys.readouterr().out
    # the paper profile itself, and a smoke run told to, go ahead
    assert executed(run("paper", overrides={"outlier_z": 2.5}, project=project, echo=False)) == [B]
    assert executed(run("smoke", project=project, echo=False, replace_paper_build=True)) == [A, B, C]
    assert numbers(project, A)["p"] == 23 and check_build(project) == {}


WAITING, READER = "10-inside-transfer", "11-relearning"


def waiting_chapter(project, name, depends_on="[]", runs="[probes]"):
    """A chapter that reads a set of runs and must never execute while it waits for them."""
    (project / "chapters" / f"{name}.py").write_text(
        (FIXTURE / "chapters" / f"{A}.py").read_text()
        .replace("title: Chapter A (fake circuits)", f"title: {name}")
        .replace("#     depends_on: []", f"#     depends_on: {depends_on}\n#     runs: {runs}")
        .replace("# %%\nfrom dataclasses", "# %%\nraise RuntimeError('a waiting chapter executed')\n\n# %%\nfrom dataclasses"))


def store_every_run(store, keys):
    for key in keys:
        (store / "runs" / key).mkdir(parents=True, exist_ok=True)
        (store / "runs" / key / "result.json").write_text("{}")


def test_a_chapter_waits_for_runs_that_are_not_stored(project, tmp_path, monkeypatch, capsys):
    from grokpaper.core.parallel import jobs
    from grokpaper.core.study import StudySettings

    store = tmp_path / "store"
    monkeypatch.setenv("GROKPAPER_STORE", str(store))
    waiting_chapter(project, WAITING)
    waiting_chapter(project, READER, depends_on=f"[{WAITING}]", runs="[]")
    edit(project / "params" / "smoke.yaml", f"{WAITING}: {{missing_runs: train}}", f"{WAITING}: {{missing_runs: wait}}")
    # Not stored: the chapter and the one reading its results wait, nothing executes, the build is consistent.
    assert main(["run", "--project", str(project), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"{WAITING}  waiting for runs: 12 of the 12 runs of `train all --runs probes` are not stored; " \
           "`python -m grokpaper train all --runs probes --profile smoke` trains them" in out
    assert f"{READER}       waiting for {WAITING}" in out and "0 would execute, 2 waiting for runs" in out
    results = run("smoke", project=project, echo=False)
    assert [r.status for r in results] == ["up to date"] * 3 + ["waiting"] * 2
    assert check_build(project) == {} and not (project / "chapters" / f"{WAITING}.ipynb").exists()
    assert "Chapter A" in report_text(project)  # the report builds without them
    with pytest.raises(ChapterError, match=f"{WAITING} cannot execute: waiting for runs: .* train all --runs probes"):
        run("smoke", chapters=[WAITING], project=project, echo=False)
    # With the seeds overridden, the command names them.
    items = plan("smoke", overrides={"seeds": [1]}, project=project)
    assert "--profile smoke -p 'seeds=[1]'` trains them" in items[3].waiting
    # Some stored: still waiting, and saying how many are missing.
    settings = StudySettings.from_params(items[3].params)
    every = [job.key for job in jobs(StudySettings.from_params(plan("smoke", project=project)[3].params), "probes")]
    store_every_run(store, every[:5])
    assert "7 of the 12 runs" in plan("smoke", project=project)[3].waiting
    # Every run stored: an ordinary chapter without an executed notebook, which render refuses until it ran.
    store_every_run(store, every)
    items = plan("smoke", project=project)
    assert [i.execute for i in items] == [False] * 3 + [True, True] and not any(i.waiting for i in items)
    assert check_build(project) == {WAITING: ["no executed notebook"], READER: ["no executed notebook"]}
    # missing_runs: train never waits: the chapter trains what is missing when it executes.
    shutil.rmtree(store)
    items = plan("smoke", overrides={"missing_runs": "train"}, project=project)
    assert items[3].execute and items[3].waiting is None and settings.seeds == (1,)


def test_a_chapter_header_names_known_run_sets(project):
    waiting_chapter(project, WAITING, runs="[nope]")
    with pytest.raises(ChapterError, match=r"grokpaper.runs must be a list of run sets \(study, probes, relearn, controls, tasks\)"):
        chapter_graph(project)


def test_module_closure_follows_imports_inside_the_package():
    assert set(module_closure("import grokpaper.config as gp")) == {"grokpaper/__init__.py", "grokpaper/config.py"}
    runner = set(module_closure("%matplotlib inline\nfrom grokpaper.builder import runner"))  # magics are skipped
    assert {"grokpaper/builder/__init__.py", "grokpaper/builder/runner.py", "grokpaper/config.py"} <= runner
    # a module of a sub-package brings its package's __init__.py and, transitively, what it imports
    audit = set(module_closure("from grokpaper.paper import audit"))
    assert {"grokpaper/__init__.py", "grokpaper/paper/__init__.py", "grokpaper/paper/audit/__init__.py",
            "grokpaper/paper/audit/rules.py", "grokpaper/analysis/__init__.py", "grokpaper/analysis/stats.py",
            "grokpaper/core/model.py"} <= audit
    assert module_closure("import json") == {}


def test_provenance_is_dirty_for_code_changes_only(tmp_path):
    import subprocess

    from grokpaper.paper.provenance import git_commit

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                       check=True, capture_output=True)

    for path in ("grokpaper/core/model.py", "results/01.json", "store/resume/x.pt", "chapters/01.ipynb"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("v1")
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "init")
    for path in ("results/01.json", "store/resume/x.pt", "chapters/01.ipynb"):  # what runs rewrite
        (tmp_path / path).write_text("v2")
    assert not git_commit(tmp_path).endswith("-dirty")
    (tmp_path / "grokpaper/core/model.py").write_text("v2")
    assert git_commit(tmp_path).endswith("-dirty")


def test_a_chapter_waits_only_for_the_part_of_the_task_set_it_reads(project, tmp_path, monkeypatch):
    """A chapter reading the sequential runs from random init does not wait for the similarity
    runs: 'tasks:<experiment>[/<condition>]' names the part of the set it reads."""
    from grokpaper.builder.plan import part_jobs, run_part
    from grokpaper.core.parallel import jobs
    from grokpaper.core.study import StudySettings

    assert run_part("tasks:replay/grokked") == ("tasks", "replay", "grokked")
    assert run_part("probes") == ("probes", None, None)
    for bad in ("probes:replay", "tasks:nope", "nope", "tasks:replay/grokd"):
        with pytest.raises(ValueError, match=repr(bad)):
            run_part(bad)
    store = tmp_path / "store"
    monkeypatch.setenv("GROKPAPER_STORE", str(store))
    waiting_chapter(project, WAITING, runs="[tasks:sequential/random]")
    edit(project / "params" / "smoke.yaml", f"{WAITING}: {{missing_runs: train}}", f"{WAITING}: {{missing_runs: wait}}")
    settings = StudySettings.from_params(plan("smoke", project=project)[3].params)
    part = part_jobs(settings, "tasks:sequential/random")
    assert part and all(("--experiment", "sequential") == j.args[3:5] and "random" in j.args for j in part)
    assert "task runs (sequential from random) are not stored; `python -m grokpaper train tasks --experiment " \
           "sequential --condition random --profile smoke` trains them" in plan("smoke", project=project)[3].waiting
    # one run of the part left: the verb agrees with 1
    store_every_run(store, [j.key for j in part[1:]])
    assert f"1 of the {len(part)} task runs (sequential from random) is not stored;" \
        in plan("smoke", project=project)[3].waiting and plan("smoke", project=project)[3].waiting.endswith("trains it")
    # every run of that part stored, the rest of the task set not: the chapter no longer waits
    store_every_run(store, [j.key for j in part])
    assert len(jobs(settings, "tasks")) > len(part) and plan("smoke", project=project)[3].waiting is None
    with pytest.raises(ChapterError, match="names no run of this profile's task set"):
        part_jobs(settings, "tasks:multitask/grokked")


def test_a_chapter_header_names_a_known_part_of_the_task_set(project):
    waiting_chapter(project, WAITING, runs="[tasks:nope]")
    with pytest.raises(ChapterError, match=r"grokpaper.runs must be .* parts of the task set; 'tasks:nope': only the task set"):
        plan("smoke", project=project)
