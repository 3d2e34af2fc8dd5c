"""Chapter runner on a fake three-chapter project (05 <- 06, 05 <- 07): what executes when,
what is recorded, failures, and plain papermill on an executed notebook.

Kernel start-ups dominate the runtime: the project is executed once per module and copied
(notebooks included) for each test, so each test executes only what it is about."""

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
from grokpaper import runner
from grokpaper.__main__ import main
from grokpaper.params import ParamsError
from grokpaper.runner import (
    ChapterError, ChapterFailed, _papermill_parameters, chapter_graph, module_closure, plan, run,
)

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "runner_project"
A, B, C = "05-circuits", "06-statistics", "07-dynamics"


def executed(results):
    return [r.chapter for r in results if r.status == "executed"]


def notebook_bytes(project):
    return {p.name: p.read_bytes() for p in sorted((project / "chapters").glob("*.ipynb"))}


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
    b = json.loads((project / "results" / f"{B}.json").read_text())
    assert b["seeds"] == [1, 2] and b["a"]["min_neuron_count"] == 5
    nb = nbformat.read(project / "chapters" / f"{B}.ipynb", as_version=4)
    meta = nb.metadata["grokpaper"]
    assert meta["title"] == "Chapter B (fake statistics)" and meta["depends_on"] == [A]
    assert len(meta["input_hash"]) == 64 and meta["profile"] == "smoke"
    assert meta["params"]["confidence"] == 0.95 and meta["params"]["p"] == 23
    assert meta["package_version"] == grokpaper.__version__ and meta["git_commit"] == "unknown"
    assert meta["duration_s"] > 0 and meta["started"].endswith("+00:00")
    assert set(meta["hash_inputs"]["modules"]) == {"grokpaper/__init__.py", "grokpaper/params.py"}
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
    edit(project / "chapters" / f"{A}.py", "# %%\npathlib.Path", '# %%\n#| label: tbl-a\n#| tbl-cap: "A new caption."\npathlib.Path')
    results = run("smoke", project=project, echo=False)
    assert executed(results) == [] and results[0].reasons == ["prose updated"]
    nb = nbformat.read(project / "chapters" / f"{A}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "A new caption." in c.source)
    assert cell.outputs and "'seeds'" in cell.outputs[0]["text"]  # the outputs of the last execution, kept
    assert executed(run("smoke", project=project, echo=False)) == []


def test_without_cell_options_keeps_everything_after_the_options():
    assert runner.without_cell_options('#| label: fig-x\n#| fig-cap: "c"\nplot()\n#| not an option here\n') == (
        "plot()\n#| not an option here\n")
    assert runner.without_cell_options("x = 1") == "x = 1"


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
    assert json.loads((project / "results" / f"{C}.json").read_text())["a"]["min_neuron_count"] == 3


def test_overrides(project, capsys):
    # a study key applies to every chapter; a chapter key only to the chapters that take it
    assert [i.chapter.name for i in plan("smoke", overrides={"p": 29}, project=project) if i.execute] == [A, B, C]
    assert [i.chapter.name for i in plan("smoke", overrides={"confidence": 0.9}, project=project)
            if i.execute] == [B]
    # --chapter: the chapter and its stale upstream chapters only; the string is read as YAML
    assert main(["run", "--project", str(project), "--chapter", "05", "-p", "p=29", "-p", "seeds=[3, 4]"]) == 0
    assert json.loads((project / "results" / f"{A}.json").read_text()) == {"p": 29, "seeds": [3, 4],
                                                                         "min_neuron_count": 5}
    out = capsys.readouterr().out
    assert f"{A}  executed" in out and "1 executed" in out
    nb = nbformat.read(project / "chapters" / f"{A}.ipynb", as_version=4)
    assert nb.metadata["papermill"]["parameters"] == {"profile": "smoke", "p": 29, "seeds": [3, 4]}
    # downstream chapters are now stale; the overridden chapter is up to date with the overrides
    items = {i.chapter.name: i for i in plan("smoke", overrides={"p": 29, "seeds": [3, 4]}, project=project)}
    assert not items[A].execute and items[B].execute
    assert main(["run", "--project", str(project), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would execute  (params changed: p 29 -> 23, seeds [3, 4] -> [1, 2])" in out and "1 would execute" in out


def test_null_override_travels_as_yaml_string():
    # None in a notebook means "take the profile's value": an override to null must be a string
    assert _papermill_parameters({"transfer_hold_epochs": None, "p": 23}, "smoke") == {
        "profile": "smoke", "transfer_hold_epochs": "null", "p": 23}


@pytest.mark.parametrize("change, args, message", [
    (("study:", "study:\n  sedes: [1]"), [], r"smoke\.yaml: unknown key study\.sedes; allowed keys: p, seeds"),
    (("p: 23", "p: twenty"), [], r"smoke\.yaml: study\.p = 'twenty' is not allowed; allowed: an integer >= 3"),
    (("frac_train: 0.3", "frac_train: 1.3"), [], r"study\.frac_train = 1\.3 is not allowed; allowed: a number in \(0, 1\)"),
    (None, ["-p", "sedes=[1]"], r"-p sedes: unknown parameter; allowed: p, seeds"),
    (None, ["-p", "seeds=[1, 1]"], r"seeds = \[1, 1\] is not allowed; allowed: a non-empty list of distinct"),
    (None, ["-p", "confidence=0.9", "--chapter", C], r"-p confidence: no selected chapter takes it .*taken by: 06-statistics"),
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
    before = notebook_bytes(project)
    edit(source, "print(out)", "raise RuntimeError('boom')")
    assert main(["run", "--project", str(project)]) == 1
    captured = capsys.readouterr()
    assert "cell 3 (`pathlib.Path(\"results\").mkdir(exist_ok=True)`): RuntimeError: boom" in captured.err
    assert f"{B}  not run     (upstream {A} failed)" in captured.out
    after = notebook_bytes(project)
    assert set(after) - set(before) == {f"{A}.failed.ipynb"}
    assert {k: v for k, v in after.items() if k in before} == before  # the last good notebooks are untouched
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


def test_plain_papermill_on_an_executed_notebook(project, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(grokpaper.__file__).resolve().parent.parent)}
    papermill = [sys.executable, "-m", "papermill", "--log-level", "ERROR", "--no-progress-bar"]
    out = subprocess.run([*papermill, f"chapters/{B}.ipynb", str(tmp_path / "out.ipynb"), "-p", "seeds", "[7, 8]"],
                         cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads((project / "results" / f"{B}.json").read_text())["seeds"] == [7, 8]
    # a chapter notebook re-executed by hand is not taken for up to date
    shutil.copy(tmp_path / "out.ipynb", project / "chapters" / f"{B}.ipynb")
    items = {i.chapter.name: i for i in plan("smoke", project=project)}
    assert items[B].reasons == ["re-executed outside the runner"] and not items[A].execute


def test_module_closure_follows_imports_inside_the_package():
    assert set(module_closure("import grokpaper.params as gp")) == {"grokpaper/__init__.py", "grokpaper/params.py"}
    runner = set(module_closure("%matplotlib inline\nfrom grokpaper import runner"))  # magics are skipped
    assert {"grokpaper/runner.py", "grokpaper/params.py"} <= runner
    assert module_closure("import json") == {}


def test_provenance_is_dirty_for_code_changes_only(tmp_path):
    import subprocess

    from grokpaper.provenance import git_commit

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                       check=True, capture_output=True)

    for path in ("grokpaper/model.py", "results/01.json", "store/resume/x.pt", "chapters/01.ipynb"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("v1")
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "init")
    for path in ("results/01.json", "store/resume/x.pt", "chapters/01.ipynb"):  # what runs rewrite
        (tmp_path / path).write_text("v2")
    assert not git_commit(tmp_path).endswith("-dirty")
    (tmp_path / "grokpaper/model.py").write_text("v2")
    assert git_commit(tmp_path).endswith("-dirty")
