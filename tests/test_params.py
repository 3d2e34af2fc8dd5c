"""Profiles: the real profiles load, every bad value is rejected with a message that names the
file, the key and the allowed values, and strings from papermill's CLI are read as YAML. Every
parameter is defined once (grokpaper/config.py): the profiles, StudySettings, the chapters'
parameters cell and the package define none of their own."""

import ast
import dataclasses
from pathlib import Path

import jupytext
import pytest
import yaml

import grokpaper.core.data
from grokpaper import config
from grokpaper.config import (
    CHAPTER_PARAMS,
    ParamsError,
    StudyParams,
    all_keys,
    chapter_params,
    chapter_schema,
    load_profile,
    project_root,
    resolve_in_notebook,
)
from grokpaper.core.study import StudySettings

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "runner_project"


def write_profile(tmp_path, edit, name="bad"):
    """A copy of the smoke profile with ``edit(data)`` applied, written to tmp_path/<name>.yaml."""
    data = yaml.safe_load((ROOT / "params" / "smoke.yaml").read_text())
    edit(data)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_paper_profile_has_the_documented_values():
    prof = load_profile(ROOT / "params" / "paper.yaml")
    s = prof.study.as_dict()
    assert (s["p"], s["seeds"], s["frac_train"], s["eval_every"], s["device"]) == (113, [42, 7, 99, 314, 123], 0.3, 10, "auto")
    assert (s["source_task"], s["transfer_task"], s["lr"], s["weight_decay"]) == ("add", "subtract", 1e-3, 1.0)
    assert (s["grokked_max_epochs"], s["grokked_hold_epochs"],
            s["memorized_fixed_epochs"], s["transfer_max_epochs"], s["transfer_hold_epochs"],
            s["checkpoint_every"]) == (50000, 100, 2000, 30000, None, 1000)
    assert s["thresholds"] == [0.9, 0.95, 0.99, 0.999]
    assert {c: section.as_dict() for c, section in prof.chapters.items()} == {
                            "05-circuits": {"min_neuron_count": 5},
                             "06-statistics": {"outlier_z": 2.0},
                             "07-dynamics": {"early_epochs": 100, "late_epochs": 1000, "collapse_drop": 0.05},
                             "10-inside-transfer": {"missing_runs": "wait"}, "11-relearning": {"missing_runs": "wait"},
                             "12-what-transfers": {"missing_runs": "wait", "ablation_draws": 50},
                             **{c: {"missing_runs": "wait"} for c in ("13-task-tokens", "14-replay", "15-multitask",
                                                                      "16-similarity")}}
    assert (s["task_max_epochs"], s["random_table_max_epochs"], s["replay_share"], s["ill_posed_epochs"]) == (
        30000, 5000, 0.1, 3000)
    assert s["similarity_targets"] == ["subtract", "multiply", "x2xyy2", "random"]


def test_smoke_profile_loads_and_is_small():
    prof = load_profile(ROOT / "params" / "smoke.yaml")
    assert prof.name == "smoke" and prof.study.p == 23 and prof.study.seeds == (1, 2)
    assert prof.for_chapter("06-statistics")["seeds"] == [1, 2]  # lists, as in the profile and the results
    assert set(prof.chapters) == set(CHAPTER_PARAMS)


def test_every_profile_file_starts_with_a_comment():
    for path in (ROOT / "params").glob("*.yaml"):
        assert path.read_text().startswith("#"), path


@pytest.mark.parametrize("edit, key, allowed", [
    (lambda d: d["study"].update(seeds=[1, 1]), "study.seeds", "distinct integers"),
    (lambda d: d["study"].update(seeds=[]), "study.seeds", "non-empty list"),
    (lambda d: d["study"].update(p="abc"), "study.p", "an integer >= 3"),
    (lambda d: d["study"].update(p=2), "study.p", "an integer >= 3"),
    (lambda d: d["study"].update(p=True), "study.p", "an integer >= 3"),
    (lambda d: d["study"].update(frac_train=1.5), "study.frac_train", "(0, 1)"),
    (lambda d: d["study"].update(device="gpu"), "study.device", "one of auto, cpu, cuda"),
    (lambda d: d["study"].update(transfer_task="sub"), "study.transfer_task", "add, subtract, multiply"),
    (lambda d: d["study"].update(lr=0), "study.lr", "> 0"),
    (lambda d: d["study"].update(thresholds=[0.5, 1.5]), "study.thresholds", "(0, 1]"),
    (lambda d: d["study"].update(grokked_hold_epochs=None), "study.grokked_hold_epochs", ">= 0"),
    (lambda d: d["study"].update(n_bootstrap=10), "study.n_bootstrap", ">= 100"),
])
def test_bad_value_names_file_key_value_and_allowed(tmp_path, edit, key, allowed):
    path = write_profile(tmp_path, edit)
    with pytest.raises(ParamsError) as e:
        load_profile(path)
    msg = str(e.value)
    assert str(path) in msg and key in msg and allowed in msg


def test_unknown_and_missing_keys(tmp_path):
    path = write_profile(tmp_path, lambda d: d["study"].update(sedes=[1]))
    with pytest.raises(ParamsError, match=r"unknown key study\.sedes; allowed keys: p, seeds, frac_train"):
        load_profile(path)
    path = write_profile(tmp_path, lambda d: d["chapters"].update({"99-nope": {"x": 1}}))
    with pytest.raises(ParamsError, match=r"unknown key chapters\.99-nope; chapters that take parameters: 05-circuits"):
        load_profile(path)
    path = write_profile(tmp_path, lambda d: d["chapters"]["07-dynamics"].pop("late_epochs"))
    with pytest.raises(ParamsError, match=r"missing key\(s\) chapters\.07-dynamics\.late_epochs"):
        load_profile(path)
    path = write_profile(tmp_path, lambda d: d.update(extra=1))
    with pytest.raises(ParamsError, match="unknown key extra; allowed keys: study, chapters"):
        load_profile(path)


def test_divide_needs_prime_p(tmp_path):
    path = write_profile(tmp_path, lambda d: d["study"].update(p=22, transfer_task="divide"))
    with pytest.raises(ParamsError, match="prime"):
        load_profile(path)


def test_unknown_profile_lists_profiles():
    with pytest.raises(ParamsError, match="no profile 'nope'.*profiles: paper, smoke"):
        load_profile("nope", project=FIXTURE)


def test_numbers_yaml_reads_as_strings_are_accepted(tmp_path):
    # PyYAML reads 1e-3 (no dot) as a string: a float field still accepts it
    path = write_profile(tmp_path, lambda d: d["study"].update(lr="1e-3", weight_decay=1))
    study = load_profile(path).study
    assert study.lr == 1e-3 and study.weight_decay == 1.0 and isinstance(study.weight_decay, float)


def test_chapter_params_merges_study_chapter_and_overrides():
    smoke = ROOT / "params" / "smoke.yaml"
    got = chapter_params("06-statistics", smoke, {"seeds": "[1, 2, 3]", "n_bootstrap": "500",
                                                  "transfer_hold_epochs": "null", "lr": 0.01})
    assert got["seeds"] == [1, 2, 3] and got["n_bootstrap"] == 500 and got["transfer_hold_epochs"] is None
    assert got["lr"] == 0.01 and got["confidence"] == 0.95 and got["p"] == 23
    assert "min_neuron_count" not in got  # another chapter's parameter
    assert list(chapter_params("01-anything", smoke)) == [f.name for f in dataclasses.fields(StudyParams)]


def test_chapter_params_rejects_bad_overrides():
    smoke = ROOT / "params" / "smoke.yaml"
    with pytest.raises(ParamsError, match="takes no parameter 'min_neuron_count'; allowed keys: p, seeds"):
        chapter_params("06-statistics", smoke, {"min_neuron_count": 3})
    with pytest.raises(ParamsError, match=r"seeds = \[1, 1\] is not allowed; allowed: a non-empty list of distinct"):
        chapter_params("06-statistics", smoke, {"seeds": "[1, 1]"})
    with pytest.raises(ParamsError, match="not valid YAML"):
        chapter_params("06-statistics", smoke, {"seeds": "[1,"})


def test_resolve_in_notebook_reads_profile_and_injected_values(monkeypatch):
    monkeypatch.chdir(FIXTURE)  # the project is found from the cwd, as in a kernel
    # what a kernel's globals hold after `papermill ... -p profile smoke -p seeds "[5, 6]" -p confidence 0.9`
    namespace = {"profile": "smoke", "seeds": "[5, 6]", "confidence": 0.9, "p": None, "unrelated": 1,
                 "In": [], "resolve_in_notebook": resolve_in_notebook}
    got = resolve_in_notebook("06-statistics", namespace)
    assert got["p"] == 23 and got["seeds"] == [5, 6] and got["confidence"] == 0.9  # None: not given
    assert got == chapter_params("06-statistics", "smoke", {"seeds": [5, 6], "confidence": 0.9})
    assert resolve_in_notebook("06-statistics", {"profile": "smoke"}) == chapter_params("06-statistics", "smoke")


@pytest.mark.parametrize("injected, message", [
    ({"confidence": 1.5}, r"papermill parameter confidence=1\.5 \(profile .*smoke\.yaml\): confidence = 1\.5 is not "
                          r"allowed; allowed: a number in \(0, 1\) \(confidence level of every interval, caption and audit verdict\)"),
    ({"seeds": "[3, 3]"}, r"seeds = \[3, 3\] is not allowed; allowed: a non-empty list of distinct integers >= 0"),
    ({"transfer_task": "sub"}, r"transfer_task = 'sub' is not allowed; allowed: one of add, subtract, multiply, divide"),
    ({"min_neuron_count": 3}, r"chapter 06-statistics takes no parameter 'min_neuron_count'; allowed keys: p, seeds"),
    ({"profile": "nope"}, r"no profile 'nope'.*profiles: paper, smoke"),
])
def test_an_injected_parameter_is_checked_with_the_same_messages(monkeypatch, injected, message):
    monkeypatch.chdir(FIXTURE)
    with pytest.raises(ParamsError, match=message):
        resolve_in_notebook("06-statistics", {"profile": "smoke", **injected})


def test_project_root(tmp_path):
    assert project_root(FIXTURE / "chapters") == FIXTURE
    assert project_root(tmp_path) == ROOT  # fallback: the package's parent directory


# --- every parameter is defined once ------------------------------------------------------

def _declared(tree: ast.AST, cls: str | None = None) -> list[str]:
    """Names declared as dataclass-style fields (``name: type = ...``) in the class bodies of a
    module (of the class ``cls`` only, if given)."""
    return [stmt.target.id for node in ast.walk(tree) if isinstance(node, ast.ClassDef) and cls in (None, node.name)
            for stmt in node.body if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)]


def _assigned_at_top(source: str) -> set[str]:
    """Names a chapter's code assigns outside functions and classes (also in loops and with-blocks)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def test_each_parameter_is_defined_once():
    """The four places the issue found (the schema, StudySettings' defaults, the profiles, the
    chapters' parameters cell) are one: config.py declares each parameter once; StudySettings
    declares none; a chapter assigns none (it reads them from ``P``); the profiles give values
    (next test)."""
    config_fields = _declared(ast.parse((ROOT / "grokpaper" / "config.py").read_text()))
    assert sorted(k for k in config_fields if k in all_keys()) == sorted(all_keys())
    assert len(set(all_keys())) == len(all_keys())  # no chapter parameter shadows another or a study one
    assert _declared(ast.parse((ROOT / "grokpaper" / "core" / "study.py").read_text()), "StudySettings") == []
    for path in sorted((ROOT / "chapters").glob("*.py")):
        code = "\n".join(c.source for c in jupytext.read(path, fmt="py:percent").cells if c.cell_type == "code")
        assert _assigned_at_top(code) & set(all_keys()) == set(), path


def test_the_schema_is_the_dataclass_fields_and_the_profiles_give_their_values():
    assert list(StudyParams.schema()) == [f.name for f in dataclasses.fields(StudyParams)]
    for chapter, section in CHAPTER_PARAMS.items():
        assert list(chapter_schema(chapter)) == [f.name for f in dataclasses.fields(StudyParams) + dataclasses.fields(section)]
    for path in sorted((ROOT / "params").glob("*.yaml")):  # values only: exactly the fields, in their order
        data = yaml.safe_load(path.read_text())
        assert list(data["study"]) == list(StudyParams.schema()), path
        assert {c: list(v) for c, v in data["chapters"].items()} == {c: list(s.schema()) for c, s in CHAPTER_PARAMS.items()}
    # no defaults anywhere: a value comes from a profile (or an override), never from the code
    for section in (StudyParams, StudySettings, *CHAPTER_PARAMS.values()):
        assert all(f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
                   for f in dataclasses.fields(section)), section


def test_study_settings_are_the_study_parameters():
    assert issubclass(StudySettings, StudyParams)
    assert [f.name for f in dataclasses.fields(StudySettings)] == [f.name for f in dataclasses.fields(StudyParams)]
    settings = StudySettings.from_params(chapter_params("06-statistics", ROOT / "params" / "paper.yaml"))
    assert settings.as_dict() == load_profile(ROOT / "params" / "paper.yaml").study.as_dict()
    assert settings.seeds == (42, 7, 99, 314, 123) and hash(settings)  # frozen, lists as tuples


@pytest.mark.parametrize("change, message", [
    ({"p": 2}, r"StudySettings: p = 2 is not allowed; allowed: an integer >= 3"),
    ({"seeds": ()}, r"StudySettings: seeds = \(\) is not allowed; allowed: a non-empty list of distinct integers"),
    ({"seeds": (1, 1)}, r"seeds = \(1, 1\) is not allowed; allowed: a non-empty list of distinct integers >= 0"),
    ({"transfer_max_epochs": 0}, r"transfer_max_epochs = 0 is not allowed; allowed: an integer >= 1"),
    ({"device": "tpu"}, r"device = 'tpu' is not allowed; allowed: one of auto, cpu, cuda"),
    ({"lr": "fast"}, r"lr = 'fast' is not allowed; allowed: a number > 0"),
    ({"transfer_hold_epochs": -1}, r"transfer_hold_epochs = -1 is not allowed; allowed: an integer >= 0, or null"),
    ({"p": 22, "transfer_task": "divide"}, r"task 'divide' needs a prime p"),
])
def test_settings_made_in_code_are_checked_by_the_same_rules(change, message):
    settings = StudySettings.from_params(chapter_params("01-sources", ROOT / "params" / "smoke.yaml"))
    with pytest.raises(ParamsError, match=message):
        dataclasses.replace(settings, **change)
    with pytest.raises(ParamsError, match=r"StudySettings: missing parameter\(s\) thresholds"):
        StudySettings.from_params({k: v for k, v in settings.as_dict().items() if k != "thresholds"})


def test_the_allowed_values_in_words_follow_from_the_declaration():
    schema = chapter_schema("06-statistics")
    assert {k: schema[k].allowed for k in ("p", "seeds", "frac_train", "device", "lr", "transfer_hold_epochs",
                                           "thresholds", "n_bootstrap")} == {
        "p": "an integer >= 3", "seeds": "a non-empty list of distinct integers >= 0",
        "frac_train": "a number in (0, 1)", "device": "one of auto, cpu, cuda", "lr": "a number > 0",
        "transfer_hold_epochs": "an integer >= 0, or null", "thresholds": "a non-empty list of numbers in (0, 1]",
        "n_bootstrap": "an integer >= 100"}


def test_tasks_are_named_once():
    assert grokpaper.core.data.TASKS is config.TASKS
    assigned = [path.relative_to(ROOT).as_posix() for path in sorted((ROOT / "grokpaper").rglob("*.py"))
                for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, (ast.Assign, ast.AnnAssign))
                for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
                if isinstance(target, ast.Name) and target.id == "TASKS"]
    assert assigned == ["grokpaper/config.py"]
    assert StudyParams.schema()["source_task"].allowed == "one of " + ", ".join(config.TASKS)


def _parameters_cell(path: Path) -> str:
    notebook = jupytext.read(path, fmt="py:percent")
    (cell,) = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    return cell.source


def test_every_chapter_has_the_same_short_parameters_cell():
    """The parameters cell holds what a papermill user sets: the profile. Every other value comes
    from the profile, or from a key papermill injects after the cell (checked by resolve_in_notebook)."""
    paths = sorted((ROOT / "chapters").glob("*.py")) + sorted((FIXTURE / "chapters").glob("*.py"))
    cells = {path.relative_to(ROOT).as_posix(): _parameters_cell(path) for path in paths}
    assert len(cells) >= 9 + 3 and len(set(cells.values())) == 1, cells
    (cell,) = set(cells.values())
    assigned = [t.id for node in ast.parse(cell).body for t in node.targets]
    assert assigned == ["profile"] and len(cell.splitlines()) <= 4


# ----------------------------------------------------------------------------- one confidence level

def test_no_caption_and_no_signature_fixes_a_confidence_level():
    """The level reaches every interval from ``study.confidence``: a caption names it with the
    placeholder the runner fills, and no function of the package defaults to one."""
    import ast
    import re

    hard_coded = re.compile(r"\b\d{2}(\.\d+)? ?% (t-)?(interval|CI|confidence)")
    for chapter in sorted((ROOT / "chapters").glob("*.py")):
        for line in chapter.read_text().splitlines():
            if line.startswith(("#| fig-cap:", "#| tbl-cap:")):
                assert not hard_coded.search(line), f"{chapter.name}: a caption fixes the level: {line[:120]}"
    for module in sorted((ROOT / "grokpaper").rglob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args
                positional = args.posonlyargs + args.args
                defaults = dict(zip([a.arg for a in positional][len(positional) - len(args.defaults):], args.defaults))
                defaults.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None})
                assert not {"confidence", "n_boot", "n_bootstrap"} & set(defaults), \
                    f"{module.relative_to(ROOT)}: {node.name} gives a default level or resample count"


def test_the_runner_fills_the_level_into_captions():
    from grokpaper.builder.plan import fill_captions

    source = '#| label: tbl-x\n#| tbl-cap: "Means with t-intervals at the study\'s {level}."\nprint("{level}")\n'
    filled = fill_captions(source, {"confidence": 0.99})
    assert "at the study's 99 % confidence level." in filled
    assert filled.endswith('print("{level}")\n')          # code is never touched


def test_the_runner_fills_the_hold_window_and_the_cap_into_captions():
    from grokpaper.builder.plan import fill_captions

    source = '#| label: fig-x\n#| fig-cap: "Stopped after {hold} at the top, or at the cap of {cap}."\nx = 1\n'
    filled = fill_captions(source, {"confidence": 0.95, "probe_hold_epochs": 1000, "transfer_max_epochs": 30000})
    assert "Stopped after 1,000 epochs at the top, or at the cap of 30,000 epochs." in filled
    # the runs with task tokens and the random table have caps of their own
    source = '#| label: fig-y\n#| fig-cap: "Capped at {task_cap}; the random table at {table_cap}."\nx = 1\n'
    filled = fill_captions(source, {"task_max_epochs": 30000, "random_table_max_epochs": 5000})
    assert "Capped at 30,000 epochs; the random table at 5,000 epochs." in filled
    source = '#| label: fig-z\n#| fig-cap: "A short run of {ill_posed_epochs}."\nx = 1\n'
    assert "A short run of 3,000 epochs." in fill_captions(source, {"ill_posed_epochs": 3000})
    source = ('#| label: tbl-w\n#| tbl-cap: "Held {top} for {hold}; {replay_share} replayed; {n_permutations} draws; at '
              'least {min_neurons} neurons; up to {dense_until}."\nx = "{top}"\n')
    filled = fill_captions(source, {"thresholds": [0.9, 0.99, 0.999], "probe_hold_epochs": 1000, "replay_share": 0.1,
                                    "n_permutations": 100000, "probe_min_neurons": 5, "probe_dense_until": 1000})
    assert ("Held 99.9 % for 1,000 epochs; 10 % replayed; 100,000 draws; at least 5 neurons; up to 1,000 epochs."
            in filled) and filled.endswith('x = "{top}"\n')


def test_the_runner_fills_the_verdicts_level_into_captions():
    from grokpaper.builder.plan import fill_captions
    from grokpaper.paper.verdicts import ALPHA

    source = '#| label: tbl-x\n#| tbl-cap: "Supported when the corrected p is below {alpha}."\nx = 1\n'
    assert f"Supported when the corrected p is below {ALPHA:g}." in fill_captions(source, {"confidence": 0.95})
