"""The committed runs are the study's data: ``store/MANIFEST.sha256`` lists every file of them with
its sha256, and only finished runs enter git (resume checkpoints never do; an unfinished run is
carried by copying ``store/resume/`` by hand)."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from grokpaper.__main__ import main
from grokpaper.config import chapter_params
from grokpaper.core.files import file_sha256
from grokpaper.core.model import load_checkpoint, save_checkpoint
from grokpaper.core.parallel import jobs, store_files
from grokpaper.core.store import MANIFEST, RunStore
from grokpaper.core.study import StudySettings

ROOT = Path(__file__).resolve().parents[1]
STORE = RunStore(ROOT / "store")
REWRITE = "python -m grokpaper train all --profile paper --write-manifest"


def git(*args) -> subprocess.CompletedProcess | None:
    """A git command in the project; None where the project is not a git checkout."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        return None
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)


def test_the_committed_run_files_are_the_ones_the_manifest_lists():
    assert STORE.manifest.is_file(), f"no {MANIFEST} in store/: write it with `{REWRITE}`"
    assert STORE.manifest_problems() == [], f"the store differs from its manifest; if the runs are right: `{REWRITE}`"
    tracked = git("ls-files", "store")
    if tracked is None:
        pytest.skip("not a git checkout: which store files are committed is unknown here")
    listed = sorted([f"store/{path}" for path in STORE.read_manifest()] + [f"store/{MANIFEST}"])
    assert sorted(tracked.stdout.split()) == listed, f"committed store files not in the manifest, or the reverse: `{REWRITE}`"


def test_the_manifest_lists_the_paper_profile_finished_runs():
    settings = StudySettings.from_params(chapter_params("01-sources", ROOT / "params" / "paper.yaml"))
    files = [f.relative_to(STORE.root).as_posix() for f in store_files(settings, STORE)]
    assert files[-1] == MANIFEST and sorted(files[:-1]) == sorted(STORE.read_manifest())
    assert len({path.split("/")[1] for path in STORE.read_manifest()}) >= 20  # runs, each with its weights


def test_a_changed_or_missing_file_fails_the_check(tmp_path):
    shutil.copytree(STORE.root, tmp_path / "store")
    store = RunStore(tmp_path / "store")
    assert store.manifest_problems() == []
    listed = list(store.read_manifest())
    changed = next(p for p in listed if p.endswith("final.safetensors"))
    missing = next(p for p in listed if p.endswith("curve.csv"))
    data = bytearray((store.root / changed).read_bytes())
    data[-1] ^= 1  # one bit of one weight
    (store.root / changed).write_bytes(bytes(data))
    (store.root / missing).unlink()
    problems = {line.split(": ")[0]: line.split(": ")[1] for line in store.manifest_problems()}
    assert list(problems) == sorted([changed, missing]) and problems[missing] == "missing"
    assert problems[changed].startswith("changed (sha256 ") and "the manifest says" in problems[changed]


def test_resume_checkpoints_never_enter_git():
    if git("status") is None:
        pytest.skip("not a git checkout")
    assert git("ls-files", "store/resume").stdout == ""
    assert git("check-ignore", "-q", "store/resume/0123456789abcdef0123.pt").returncode == 0


def test_list_files_gives_finished_runs_and_the_manifest_and_says_how_unfinished_runs_travel(tmp_path, monkeypatch, capsys):
    store = RunStore(tmp_path / "store")
    monkeypatch.setenv("GROKPAPER_STORE", str(store.root))
    monkeypatch.chdir(tmp_path)
    settings = StudySettings.from_params(chapter_params("01-sources", ROOT / "params" / "smoke.yaml"))
    finished, unfinished, *untouched = jobs(settings)
    for name in ("config.json", "curve.csv", "final.safetensors", "result.json"):  # stand-ins of a stored run
        path = store.entry(finished.key) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}" if name == "config.json" else name)
    store.resume_path([unfinished.key]).parent.mkdir(parents=True)
    store.resume_path([unfinished.key]).write_bytes(b"checkpoint")

    assert main(["train", "all", "--profile", "smoke", "--write-manifest"]) == 0
    err = capsys.readouterr().err
    assert f"wrote store/{MANIFEST}: 4 files of the profile's finished runs" in err
    assert f"{len(untouched) + 1} runs of the profile not finished, not listed: {unfinished.label}" in err
    assert "store/resume/: 1 file) stay out of git" in err and "rsync -a store/resume/" in err
    assert sorted(store.read_manifest()) == [f"runs/{finished.key}/{name}" for name in
                                             ("config.json", "curve.csv", "final.safetensors", "result.json")]

    assert main(["train", "all", "--profile", "smoke", "--list-files"]) == 0
    out = capsys.readouterr().out.split()
    assert out == [f"store/{path}" for path in sorted(store.read_manifest())] + [f"store/{MANIFEST}"]
    assert main(["train", "sources", "--profile", "smoke", "--list-files"]) == 2
    assert "go with `train all`" in capsys.readouterr().out


def _header(path: Path) -> tuple[list[str], dict]:
    """A safetensors file's ``__metadata__`` keys in file order, and its whole header."""
    blob = path.read_bytes()
    header = json.loads(blob[8:8 + int.from_bytes(blob[:8], "little")])
    return list(header["__metadata__"]), header


def test_weights_saved_again_are_the_committed_bytes_up_to_the_order_of_the_header_metadata(tmp_path):
    """save_checkpoint writes the header's metadata in one order, so the same weights give the
    same bytes: a retrained run matches the manifest. The committed files were written before
    that, in the order of a hash map (it varied from file to file): 22 of the 35 have the order
    kept, model_config first; the other 13 have the same bytes but for that order. None of them is
    rewritten."""
    weights = [rel for rel in STORE.read_manifest() if rel.endswith(".safetensors")]
    same_bytes, reordered = 0, 0
    for rel in weights:
        committed = STORE.root / rel
        params, cfg = load_checkpoint(committed)
        meta = json.loads(_header(committed)[1]["__metadata__"]["meta"])
        save_checkpoint(tmp_path / "again.safetensors", params, cfg, meta)
        again = (tmp_path / "again.safetensors").read_bytes()
        if file_sha256(tmp_path / "again.safetensors") == STORE.read_manifest()[rel]:
            same_bytes += 1
            continue
        order, header = _header(committed)
        assert order == ["meta", "model_config"] and _header(tmp_path / "again.safetensors")[1] == header, rel
        data = 8 + int.from_bytes(again[:8], "little")  # where the tensors start, in both files
        assert again[:8] == committed.read_bytes()[:8] and again[data:] == committed.read_bytes()[data:], rel
        reordered += 1
    # the study's 35 weight files: 22 and 13; the probe reruns committed since (trained by the writer
    # before the fix) are mixed the same way
    assert same_bytes + reordered == len(weights) and same_bytes >= 22 and reordered >= 13


def test_the_same_weights_give_the_same_bytes_every_time(tmp_path):
    params, cfg = load_checkpoint(STORE.root / next(r for r in STORE.read_manifest() if r.endswith(".safetensors")))
    for i in range(12):  # the hash map's order changed from call to call: 12 equal files by chance is 1 in 2,048
        save_checkpoint(tmp_path / f"{i}.safetensors", params, cfg, {"run": "x"})
    assert len({(tmp_path / f"{i}.safetensors").read_bytes() for i in range(12)}) == 1
    assert _header(tmp_path / "0.safetensors")[0] == ["model_config", "meta"]


def test_weights_are_committed_only_where_a_chapter_reads_them(tmp_path):
    """A probe rerun keeps its records, curve and matched-point snapshot, not its other weights; a
    relearning run no weights; a study run all of them."""
    from grokpaper.core.store import weights_read

    store = RunStore(tmp_path)
    for key, config, weights in (("probe", {"kind": "transfer", "probes": {}}, ("final", "first_top", "sustained")),
                                 ("relearn", {"kind": "relearn", "probes": {}}, ("final", "sustained")),
                                 ("study", {"kind": "transfer"}, ("final",))):
        entry = store.entry(key)
        entry.mkdir(parents=True)
        (entry / "config.json").write_text(json.dumps(config))
        for name in ("result.json", "curve.csv", "probes.csv"):
            (entry / name).write_text("x")
        for w in weights:
            (entry / ("final.safetensors" if w == "final" else f"snapshot-{w}.safetensors")).write_bytes(b"w")
    names = {key: [f.name for f in store.committed_files(key)] for key in ("probe", "relearn", "study")}
    assert names["probe"] == ["config.json", "curve.csv", "probes.csv", "result.json", "snapshot-first_top.safetensors"]
    assert names["relearn"] == ["config.json", "curve.csv", "probes.csv", "result.json"]
    assert "final.safetensors" in names["study"]
    assert weights_read({"kind": "control", "probes": {}}) == ("first_top", "final")
