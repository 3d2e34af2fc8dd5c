"""No training behind the user's back: what `run` would train before executing its chapters,
said by `run --dry-run` (the runs, their model-epochs, the wall time from a rate measured here),
and refused by `run` at paper scale without `--train`.

A fake project: the runner fixture's three chapters plus one that opens a ``Study`` (as the
paper's 01-sources does). Nothing here executes a chapter: the refusal comes before that."""

import re
import shutil
from pathlib import Path

from grokpaper.__main__ import main
from grokpaper.builder.plan import chapter_graph, plan
from grokpaper.builder.training import (
    PAPER_SCALE_P,
    cost_lines,
    describe,
    measured_cost,
    refusal,
    runs_to_train,
    trains,
)
from grokpaper.config import chapter_params
from grokpaper.core.store import RunStore
from grokpaper.core.study import Study, StudySettings

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "runner_project"
TRAINER = '''# ---
# jupyter:
#   grokpaper:
#     title: Sources (trains)
#     depends_on: []
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% tags=["parameters"]
profile = "smoke"

# %%
from grokpaper.config import resolve_in_notebook
from grokpaper.core.study import Study

P = resolve_in_notebook("01-sources", globals())
sources = Study.from_params(P, progress=False).sources()
'''
SMALL = {"seeds": [1], "grokked_max_epochs": 30, "transfer_max_epochs": 20}


def project_with_a_trainer(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(FIXTURE, project)
    (project / "chapters" / "01-sources.py").write_text(TRAINER)
    return project


def test_the_chapters_that_open_a_study_are_the_ones_that_train():
    graph = chapter_graph(ROOT)
    assert {name for name, chapter in graph.items() if trains(chapter)} == {
        "01-sources", "02-transfer", "03-retention", "04-agreement", "05-circuits", "07-dynamics", "09-runs",
        "10-inside-transfer", "11-relearning", "12-what-transfers", "13-task-tokens", "14-replay", "15-multitask",
        "16-similarity"}


def test_the_runs_to_train_leave_out_stored_runs(tmp_path, monkeypatch):
    project = project_with_a_trainer(tmp_path)
    monkeypatch.setenv("GROKPAPER_STORE", str(tmp_path / "store"))
    pending = runs_to_train(plan("smoke", overrides=SMALL, project=project), project)
    assert [run.label for run in pending] == ["source seed 1", "transfer random seed 1", "transfer grokked seed 1",
                                              "transfer memorized seed 1", "transfer memorized-fixed seed 1"]
    assert [run.max_epochs for run in pending] == [30, 20, 20, 20, 20] and not any(r.paper_scale for r in pending)
    assert refusal(pending) is None  # the smoke scale trains without asking
    settings = StudySettings.from_params(chapter_params("01-sources", "smoke", SMALL, project))
    Study(settings, RunStore(tmp_path / "store"), progress=False).sources()  # the source is stored now
    assert [run.label for run in runs_to_train(plan("smoke", overrides=SMALL, project=project), project)] == [
        "transfer random seed 1", "transfer grokked seed 1", "transfer memorized seed 1", "transfer memorized-fixed seed 1"]
    lines = describe(runs_to_train(plan("smoke", overrides=SMALL, project=project), project), None)
    assert lines == ["would train 4 runs first: transfer random seed 1, transfer grokked seed 1, transfer memorized "
                     "seed 1, transfer memorized-fixed seed 1", "  80 model-epochs: 4 transfers x 20 epochs"]


def test_dry_run_states_the_runs_their_model_epochs_and_the_wall_time_measured_here(tmp_path, monkeypatch, capsys):
    project = project_with_a_trainer(tmp_path)
    monkeypatch.setenv("GROKPAPER_STORE", str(tmp_path / "store"))
    assert main(["run", "--project", str(project), "--profile", "paper", "--dry-run", "-p", "seeds=[42, 5]",
                 "-p", f"p={PAPER_SCALE_P + 13}"]) == 0
    out = capsys.readouterr().out
    assert "4 would execute" in out
    assert (f"would train 10 runs at paper scale (p >= {PAPER_SCALE_P}) first: source seed 42, transfer random seed 42, "
            "transfer grokked seed 42") in out and "transfer memorized-fixed seed 5" in out
    # the fixture's paper profile: sources capped at 600 epochs, transfers at 400 (params/paper.yaml)
    assert "up to 4,400 model-epochs: 2 sources x up to 600 epochs, 8 transfers x 400 epochs" in out
    assert re.search(r"about [\d.]+ (s|min|h) at most on this machine at [\d.,]+ ms per model-epoch \(measured now: "
                     r"\d+ epochs of one model at p = 113, 1 torch thread, in [\d.]+ s", out), out
    assert "`run` trains runs at paper scale only with --train" in out


def test_run_refuses_to_train_at_paper_scale_without_train_in_one_line(tmp_path, monkeypatch, capsys):
    project = project_with_a_trainer(tmp_path)
    monkeypatch.setenv("GROKPAPER_STORE", str(tmp_path / "store"))
    assert main(["run", "--project", str(project), "--profile", "paper", "-p", "seeds=[5]", "-p", "p=113"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: this run would first train 5 runs at paper scale")
    assert "source seed 5, transfer random seed 5" in err and "Pass --train to train them" in err
    assert not list((project / "chapters").glob("*.ipynb")) and not (tmp_path / "store").exists()  # nothing ran


def test_the_committed_build_trains_nothing(capsys):
    assert main(["run", "--project", str(ROOT), "--profile", "paper", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "0 would execute" in out and "would train" not in out


def test_the_measured_cost_of_a_set_counts_its_own_stored_runs_from_their_records(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GROKPAPER_STORE", str(tmp_path / "store"))
    settings = StudySettings.from_params(chapter_params("01-sources", "smoke", SMALL))
    study = Study(settings, RunStore(tmp_path / "store"), progress=False)
    stored = study.sources()[1]
    [cost] = measured_cost(settings, study.store, "study")
    assert (cost.group, cost.runs, cost.stored) == ("study", 5, 1)
    assert cost.model_epochs == stored.result["epochs_trained"] > 0
    assert cost.wall_s == stored.result["wall_s"] and cost.devices == ("cpu",)
    # a set other than the study's leaves out the study runs it needs first (the source)
    [controls] = measured_cost(settings, study.store, "controls")
    assert (controls.runs, controls.stored, controls.model_epochs, controls.devices) == (6, 0, 0, ())
    # the runs with task tokens report per experiment (chapters 13-16 read different ones)
    groups = [c.group for c in measured_cost(settings, study.store, "tasks")]
    assert groups and all(g.startswith("tasks: ") for g in groups) and "tasks: replay" in groups
    assert cost_lines([cost])[0].startswith(f"study: 1 of 5 runs stored, {cost.model_epochs:,} model-epochs, ")
    args = ["train", "all", "--cost", "--profile", "smoke", "-p", "seeds=[1]", "-p", "grokked_max_epochs=30",
            "-p", "transfer_max_epochs=20"]
    assert main(args) == 0 and capsys.readouterr().out.startswith("study: 1 of 5 runs stored")
    assert main(["train", "sources", "--cost"]) == 2
    assert "go with `train all`, not `train sources`" in capsys.readouterr().out


def test_a_cpu_with_other_kernels_than_the_committed_runs_gets_one_notice_with_the_fix():
    from grokpaper.builder.training import kernel_notice

    notice = kernel_notice("AVX512", environ={})
    assert "AVX512 kernels" in notice and "ATEN_CPU_CAPABILITY=avx2" in notice
    assert kernel_notice("AVX2", environ={}) is None
    assert kernel_notice("AVX512", environ={"ATEN_CPU_CAPABILITY": "avx2"}) is None
