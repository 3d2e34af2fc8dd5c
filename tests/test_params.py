"""Profiles: the real profiles load, every bad value is rejected with a message that names the
file, the key and the allowed values, and strings from papermill's CLI are read as YAML."""

from pathlib import Path

import pytest
import yaml

from grokpaper.config import (
    CHAPTER_SCHEMA, STUDY_SCHEMA, ParamsError, chapter_params, load_profile, project_root,
    resolve_in_notebook,
)

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
    s = prof.study
    assert (s["p"], s["seeds"], s["frac_train"], s["eval_every"], s["device"]) == (113, [42, 7, 99, 314, 123], 0.3, 10, "auto")
    assert (s["source_task"], s["transfer_task"], s["lr"], s["weight_decay"]) == ("add", "subtract", 1e-3, 1.0)
    assert (s["grokked_max_epochs"], s["grokked_hold_epochs"],
            s["memorized_fixed_epochs"], s["transfer_max_epochs"], s["transfer_hold_epochs"],
            s["checkpoint_every"]) == (50000, 100, 2000, 30000, None, 1000)
    assert s["thresholds"] == [0.9, 0.95, 0.99, 0.999]
    assert prof.chapters == {"05-circuits": {"min_neuron_count": 5},
                             "06-statistics": {"confidence": 0.95, "n_bootstrap": 10000, "outlier_z": 2.0},
                             "07-dynamics": {"early_epochs": 100, "late_epochs": 1000, "collapse_drop": 0.05}}


def test_smoke_profile_loads_and_is_small():
    prof = load_profile(ROOT / "params" / "smoke.yaml")
    assert prof.name == "smoke" and prof.study["p"] == 23 and prof.study["seeds"] == [1, 2]
    assert set(prof.study) == set(STUDY_SCHEMA) and set(prof.chapters) == set(CHAPTER_SCHEMA)


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
    (lambda d: d["chapters"]["06-statistics"].update(n_bootstrap=10), "chapters.06-statistics.n_bootstrap", ">= 100"),
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
    assert study["lr"] == 1e-3 and study["weight_decay"] == 1.0 and isinstance(study["weight_decay"], float)


def test_chapter_params_merges_study_chapter_and_overrides():
    smoke = ROOT / "params" / "smoke.yaml"
    got = chapter_params("06-statistics", smoke, {"seeds": "[1, 2, 3]", "n_bootstrap": "500",
                                                  "transfer_hold_epochs": "null", "lr": 0.01})
    assert got["seeds"] == [1, 2, 3] and got["n_bootstrap"] == 500 and got["transfer_hold_epochs"] is None
    assert got["lr"] == 0.01 and got["confidence"] == 0.95 and got["p"] == 23
    assert "min_neuron_count" not in got  # another chapter's parameter
    assert set(chapter_params("01-anything", smoke)) == set(STUDY_SCHEMA)


def test_chapter_params_rejects_bad_overrides():
    smoke = ROOT / "params" / "smoke.yaml"
    with pytest.raises(ParamsError, match="takes no parameter 'min_neuron_count'; allowed keys: p, seeds"):
        chapter_params("06-statistics", smoke, {"min_neuron_count": 3})
    with pytest.raises(ParamsError, match=r"seeds = \[1, 1\] is not allowed; allowed: a non-empty list of distinct"):
        chapter_params("06-statistics", smoke, {"seeds": "[1, 1]"})
    with pytest.raises(ParamsError, match="not valid YAML"):
        chapter_params("06-statistics", smoke, {"seeds": "[1,"})


def test_resolve_in_notebook_reads_profile_and_non_none_values(monkeypatch):
    monkeypatch.chdir(FIXTURE)  # the project is found from the cwd, as in a kernel
    namespace = {"profile": "smoke", "p": None, "seeds": "[5, 6]", "confidence": 0.9,
                 "min_neuron_count": 99, "unrelated": 1}
    got = resolve_in_notebook("06-statistics", namespace)
    assert got["p"] == 23 and got["seeds"] == [5, 6] and got["confidence"] == 0.9
    assert "min_neuron_count" not in got  # not a parameter of this chapter: ignored


def test_project_root(tmp_path):
    assert project_root(FIXTURE / "chapters") == FIXTURE
    assert project_root(tmp_path) == ROOT  # fallback: the package's parent directory
