"""The paper's version (README, "Versions"): one version in the report's front matter,
CITATION.cff and CHANGELOG.md's top entry, whose results fingerprint is that of the committed
results/, so that a build with other results cannot keep the old version; and the helpers that
compute a CHANGELOG entry (`changes`) and write a new version (`release`)."""

import copy
import math
import re
import shutil
from pathlib import Path

import pytest
import yaml

from grokpaper.__main__ import main
from grokpaper.builder.offline import split_front_matter
from grokpaper.builder.release import (
    changelog_entries,
    changes,
    citation_version,
    front_matter_version,
    results_at,
    results_fingerprint,
    summary,
    version_problems,
)

ROOT = Path(__file__).resolve().parents[1]


def test_front_matter_citation_and_changelog_give_the_committed_results_one_version():
    assert version_problems(ROOT) == []
    assert front_matter_version(ROOT) == citation_version(ROOT) == changelog_entries(ROOT)[0]["version"]
    versions = [tuple(map(int, e["version"].split("."))) for e in changelog_entries(ROOT)]
    assert versions == sorted(versions, reverse=True) and len(set(versions)) == len(versions)


def test_citation_cff_has_what_cff_1_2_0_requires_and_cites_this_paper():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["message"] and cff["type"] in ("software", "dataset")
    assert cff["title"] == split_front_matter((ROOT / "paper.qmd").read_text())[0]["title"]
    assert cff["authors"] and all(isinstance(a, dict) and (a.get("name") or a.get("family-names")) for a in cff["authors"])
    assert isinstance(cff["version"], str) and cff["date-released"] == changelog_entries(ROOT)[0]["date"]
    assert set(cff["license"]) == {"MIT", "CC-BY-4.0"}
    license_text = (ROOT / "LICENSE").read_text()
    assert "MIT License" in license_text and "CC BY 4.0" in license_text


def test_the_fingerprint_ignores_provenance_and_last_bit_noise_but_not_a_changed_number():
    results = results_at(ROOT)
    before = results_fingerprint(results)
    rebuilt = copy.deepcopy(results)  # the same numbers, built at another commit on another machine
    rebuilt["09-runs"]["numbers"]["provenance"]["git commit"] = "0123abc"
    test = rebuilt["06-statistics"]["numbers"]["family"]["first 99.9%: random vs grokked"]
    test["estimate"] = math.nextafter(test["estimate"], 0)  # 35.005193184805215 -> ...21, as a rebuild here gave
    assert results_fingerprint(rebuilt) == before
    rebuilt["08-audit"]["numbers"]["counts"]["supported"] += 1
    assert results_fingerprint(rebuilt) != before


def test_changes_names_what_changed_between_two_builds():
    old = results_at(ROOT)
    new = copy.deepcopy(old)
    counts = new["08-audit"]["numbers"]["counts"]
    counts["supported"] += 1
    counts["contradicted by the data"] -= 1
    table = new["02-transfer"]["numbers"]["table"]
    first = table["condition"].index("grokked")
    table["first 99.9%"][first] = None  # a grokked run that never got there
    lines = changes(summary(old), summary(new))
    assert lines[0] == f"- Results fingerprint: `{results_fingerprint(new)}`"
    was = old["08-audit"]["numbers"]["counts"]
    total, depend = was["total"], was["depend on a non-converged run"]
    assert re.search(rf"contradicted by the data {was['contradicted by the data']}, .*supported {was['supported']} "
                     rf"\(of {total}; {depend} depend on a non-converged run\) -> .*contradicted by the data "
                     rf"{counts['contradicted by the data']}, .*supported {counts['supported']} \(of {total};",
                     lines[2]), lines[2]
    assert any(line.startswith("- Transfer from grokked: 5 of 5 runs reached 99.9 %, median 480 epochs -> 4 of 5 runs")
               for line in lines), lines
    assert "- Transfer from random: 4 of 5 runs reached 99.9 %, median 19,805 epochs" in lines
    assert any(line.startswith("- Speed-up of grokked over random init") and "≥ 35.0×" in line for line in lines)
    assert changes(summary(old), summary(old))[0].endswith("(unchanged)")


@pytest.fixture
def project(tmp_path):
    """The files the version lives in, and the committed results, in a folder that is not a git checkout."""
    dest = tmp_path / "project"
    dest.mkdir()
    for name in ("_quarto.yml", "paper.qmd", "CITATION.cff", "CHANGELOG.md"):
        shutil.copy(ROOT / name, dest / name)
    shutil.copytree(ROOT / "results", dest / "results")
    return dest


def test_release_writes_the_new_version_in_all_three_places(project, capsys):
    old = front_matter_version(project)
    (project / "results" / "08-audit.json").write_text(
        (project / "results" / "08-audit.json").read_text().replace('"supported": 2', '"supported": 3'))
    assert any("results/ changed since version" in p for p in version_problems(project))
    assert main(["release", "9.1", "--date", "2030-01-02", "--project", str(project)]) == 0
    assert "git tag -a paper-v9.1" in capsys.readouterr().out
    assert front_matter_version(project) == citation_version(project) == "9.1"
    top = changelog_entries(project)[0]
    assert (top["version"], top["date"], top["fingerprint"]) == ("9.1", "2030-01-02", results_fingerprint(results_at(project)))
    assert "WHAT CHANGED AND WHY" in top["text"] and changelog_entries(project)[1]["version"] == old
    assert yaml.safe_load((project / "CITATION.cff").read_text())["date-released"] == "2030-01-02"
    assert version_problems(project) == []
    # not after the last version, not X.Y, not a date: refused, nothing written
    before = {p.name: p.read_text() for p in project.iterdir() if p.is_file()}
    for args in (["9.0"], ["9.1"], ["9.x"], ["9.2", "--date", "2 Jan 2030"]):
        assert main(["release", *args, "--project", str(project)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 4
    assert {p.name: p.read_text() for p in project.iterdir() if p.is_file()} == before


def test_changes_compares_a_git_revision_with_the_working_tree(capsys):
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: no earlier build to compare with")
    assert main(["changes", "--from", "HEAD", "--project", str(ROOT)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Results of the working tree against HEAD:") and "- Claims audit (verdicts):" in out
    assert main(["changes", "--from", "no-such-revision", "--project", str(ROOT)]) == 2
    assert "no git revision 'no-such-revision'" in capsys.readouterr().err
