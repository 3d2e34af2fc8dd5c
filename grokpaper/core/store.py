"""Run store: every training run addressed by a content hash of its full config.

An entry is a folder ``<root>/runs/<key>/`` holding ``config.json``, ``result.json``
(stop reason, epochs, wall time, device, versions, snapshot metrics), ``curve.csv``, the
weights (``final.safetensors``, ``snapshot-<name>.safetensors``) and, for a run trained with
observers, their records (``probes.csv``: one row per probe, beside the curve). The key is the sha256 of
the canonical JSON of the config plus the package version and ``TRAINING_REVISION``, so
asking for an identical run returns the stored one, and any change of config is a new run.

Writes are atomic: an entry is assembled in a temporary folder and renamed into place in
one step, so a killed process never leaves a half-written entry that reads as valid.
Resume checkpoints of unfinished batches live under ``<root>/resume/``; they are working files
of one machine and never enter git (an unfinished run is carried by copying them by hand).

A run is trained under a lock, ``<root>/locks/<key>.lock`` (``RunStore.lock``): processes that
ask for the same missing run at once (workers of ``train all``, on one machine or on a cluster
sharing the store, a chapter) train it once; the others wait, then find it stored.

The manifest, ``<root>/MANIFEST.sha256``, lists every file of a profile's finished runs with its
sha256, in ``sha256sum``'s format (``cd store && sha256sum -c MANIFEST.sha256`` checks it): the
committed runs are the study's data, and the manifest says which bytes they are.

Reads are checked: a truncated or corrupt file raises one ``StoreError`` naming the file and
what to do (delete the entry and train it again, or restore it from git). Nothing else is
touched, so every other run still loads.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

import grokpaper
from grokpaper.config import project_root
from grokpaper.core.files import atomic_path, file_sha256
from grokpaper.core.model import Transformer, load_checkpoint, save_checkpoint

# Bump when a change alters training numerics, so old entries are no longer returned.
TRAINING_REVISION = 1

CURVE_COLUMNS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc")
MANIFEST = "MANIFEST.sha256"


class StoreError(RuntimeError):
    """A file of the run store that cannot be read; the message names it and says what to do."""


class RunNotStored(LookupError):
    """A run asked for read-only is not in the store; the message says how to train it."""


def canonical_json(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def config_key(config: dict) -> str:
    """Content hash of a run config (with the package version and training revision)."""
    payload = {"config": config, "version": grokpaper.__version__, "training_revision": TRAINING_REVISION}
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()[:20]


def default_root() -> Path:
    """``$GROKPAPER_STORE`` if set, else ``store/`` in the project root."""
    if os.environ.get("GROKPAPER_STORE"):
        return Path(os.environ["GROKPAPER_STORE"])
    return project_root() / "store"


def weights_read(config: dict) -> tuple[str, ...] | None:
    """The weights of a run that a chapter reads, by name ("final" or a snapshot's), or None for
    all of them. The study's runs: all (the circuits, retention and agreement chapters read their
    final weights and snapshots). A probe rerun: its snapshot at the first evaluation at the top
    threshold (chapter 10's matched point; its final state lies past the committed run's record,
    which keeps the end). A relearning run: none (chapter 11 reads curves and probes). A control:
    that snapshot and its final weights (chapter 12's causal tests). A run with task tokens: its
    final weights (chapters 15 and 16: key frequencies per task token, the discrete-log basis)."""
    if config.get("kind") == "relearn":
        return ()
    if config.get("kind") == "control":
        return ("first_top", "final")
    if config.get("kind") == "task":  # chapters 13-16: frequencies per task token, the discrete-log basis
        return ("final",)
    if "probes" in config:
        return ("first_top",)
    return None


@dataclass
class StoredRun:
    """A finished run read back from the store."""

    key: str
    path: Path
    config: dict
    result: dict
    curve: pd.DataFrame
    how_to_train: str | None = None  # the command that trains this run, for error messages

    def params(self, which: str = "final"):
        """Weights of the run's final state (``"final"``) or of a named snapshot."""
        return self._checkpoint(which)[0]

    @property
    def probes(self) -> pd.DataFrame:
        """The probe records of a probe run: one row per probe epoch, one column per measure
        (``grokpaper.analysis.probes``). A run without probes raises FileNotFoundError."""
        return self.records("probes")

    def records(self, name: str) -> pd.DataFrame:
        """The records an observer (``name``) kept while this run trained, as stored in ``<name>.csv``."""
        file = self.path / f"{name}.csv"
        if not file.exists():
            kept = sorted(p.stem for p in self.path.glob("*.csv") if p.name != "curve.csv")
            raise FileNotFoundError(f"run {self.key} has no {name} records at {display_path(file)} (records kept: "
                                    f"{kept or 'none'}); only probe runs have probes")
        try:
            table = pd.read_csv(file)
            if "epoch" not in table.columns or table.empty:
                raise ValueError("no epoch column, or no rows")
        except Exception as err:
            raise StoreError(_unreadable(file, self.path, err, self.how_to_train)) from None
        return table

    def model(self, which: str = "final"):
        """The reference ``Transformer`` (hook points, ``run_with_cache``) with these weights."""
        params, cfg = self._checkpoint(which)
        return Transformer(cfg, params)

    def _checkpoint(self, which: str):
        file = self.path / ("final.safetensors" if which == "final" else f"snapshot-{which}.safetensors")
        if not file.exists():
            available = sorted(p.stem for p in self.path.glob("*.safetensors"))
            train = f"`{self.how_to_train}`" if self.how_to_train else "rerun the chapter that trains this run"
            raise FileNotFoundError(
                f"run {self.key} has no weights '{which}' at {display_path(file)} (available: {available or 'none'}). "
                f"Only the paper profile's weights are committed to git; to regenerate them, delete "
                f"{display_path(self.path)}/ and {train} (training is deterministic)."
            )
        try:
            return load_checkpoint(file)
        except Exception as err:
            raise StoreError(_unreadable(file, self.path, err, self.how_to_train)) from None


class RunStore:
    """Content-addressed store of finished runs, with atomic entries."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_root()

    def entry(self, key: str) -> Path:
        return self.root / "runs" / key

    def has(self, key: str) -> bool:
        return (self.entry(key) / "result.json").exists()

    def load(self, key: str, how_to_train: str | None = None) -> StoredRun:
        """Read a stored run; a file that is truncated or corrupt raises ``StoreError`` naming it
        (``how_to_train``, the command that trains the run, goes into that message)."""
        path = self.entry(key)
        if not self.has(key):
            raise KeyError(f"no stored run {key} under {self.root}")

        def read(name: str, parse):
            try:
                return parse(path / name)
            except Exception as err:
                raise StoreError(_unreadable(path / name, path, err, how_to_train)) from None

        config = read("config.json", _json_object)
        result = read("result.json", lambda f: _json_object(f, required=("stop_reason", "epochs_trained")))
        curve = read("curve.csv", lambda f: _curve(f, result["epochs_trained"]))
        return StoredRun(key=key, path=path, config=config, result=result, curve=curve, how_to_train=how_to_train)

    def save(self, key: str, config: dict, outcome, model_config, extra: dict | None = None) -> StoredRun:
        """Store a finished ``train.RunOutcome`` (weights, curve, result) as one atomic entry."""
        final = self.entry(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", suffix=".tmp", dir=final.parent))
        try:
            save_checkpoint(tmp / "final.safetensors", outcome.params, model_config, {"run": key})
            snapshots = {}
            for name, snap in outcome.snapshots.items():
                save_checkpoint(tmp / f"snapshot-{name}.safetensors", snap["params"], model_config, {"run": key})
                snapshots[name] = {k: v for k, v in snap.items() if k != "params"}
            pd.DataFrame(outcome.curve).to_csv(tmp / "curve.csv", index=False)
            for name, rows in getattr(outcome, "records", {}).items():
                if rows:
                    pd.DataFrame(rows).to_csv(tmp / f"{name}.csv", index=False)
            result = {
                "key": key,
                "name": outcome.name,
                "stop_reason": outcome.stop_reason,
                "epochs_trained": outcome.epochs_trained,
                "wall_s": round(outcome.wall_s, 3),
                "snapshots": snapshots,
                "package_version": grokpaper.__version__,
                "training_revision": TRAINING_REVISION,
                **(extra or {}),
            }
            (tmp / "config.json").write_text(json.dumps(config, indent=1, sort_keys=True))
            (tmp / "result.json").write_text(json.dumps(result, indent=1, sort_keys=True))
            try:
                os.rename(tmp, final)  # atomic; fails if another process stored the same run first
            except OSError:
                if not self.has(key):
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return self.load(key)

    @contextlib.contextmanager
    def lock(self, keys: list[str]):
        """Hold an exclusive lock on each run of ``keys`` while the block runs: an ``flock`` on
        ``<root>/locks/<key>.lock``, released when the block ends or the process dies. Taken in
        sorted order, so that two batches sharing runs never wait for each other in a circle."""
        folder = self.root / "locks"
        folder.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as held:
            for key in sorted(set(keys)):
                file = held.enter_context(open(folder / f"{key}.lock", "a"))
                fcntl.flock(file, fcntl.LOCK_EX)
            yield

    def files(self, key: str) -> list[Path]:
        """The files of a stored run's entry, sorted."""
        return sorted(p for p in self.entry(key).iterdir() if p.is_file())

    def committed_files(self, key: str) -> list[Path]:
        """The files of a stored run that the project commits: its record, curve and probe records
        always, and of its weights only those a chapter reads (``weights_read``)."""
        config = json.loads((self.entry(key) / "config.json").read_text())
        keep = weights_read(config)
        return [f for f in self.files(key)
                if f.suffix != ".safetensors" or keep is None or f.stem.removeprefix("snapshot-") in keep]

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    def write_manifest(self, keys: list[str]) -> Path:
        """Write the manifest: every committed file of the stored runs ``keys`` (``committed_files``)
        with its sha256, one ``<sha256>  runs/<key>/<file>`` line each, sorted by path (``sha256sum
        -c`` reads it)."""
        files = sorted(f for key in keys for f in self.committed_files(key))
        lines = [f"{file_sha256(f)}  {f.relative_to(self.root).as_posix()}\n" for f in files]
        with atomic_path(self.manifest) as tmp:
            tmp.write_text("".join(lines))
        return self.manifest

    def read_manifest(self) -> dict[str, str]:
        """The manifest as {path relative to the store: sha256}; empty if there is none."""
        if not self.manifest.is_file():
            return {}
        return {path: sha for sha, path in (line.split("  ", 1) for line in self.manifest.read_text().splitlines())}

    def manifest_problems(self) -> list[str]:
        """Each file the manifest lists that is missing or whose bytes changed, one line each
        (empty: the store holds exactly the files the manifest lists)."""
        problems = []
        for rel, sha in self.read_manifest().items():
            path = self.root / rel
            if not path.is_file():
                problems.append(f"{rel}: missing")
            elif file_sha256(path) != sha:
                problems.append(f"{rel}: changed (sha256 {file_sha256(path)[:12]}..., the manifest says {sha[:12]}...)")
        return problems

    def resume_path(self, batch_keys: list[str]) -> Path:
        """Where a batch of runs keeps its resume checkpoint (keyed by the runs it trains)."""
        digest = hashlib.sha256(canonical_json(sorted(batch_keys)).encode()).hexdigest()[:20]
        return self.root / "resume" / f"{digest}.pt"


def _json_object(file: Path, required: tuple[str, ...] = ()) -> dict:
    value = json.loads(file.read_text())
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, found {type(value).__name__}")
    missing = [k for k in required if k not in value]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    return value


def _curve(file: Path, epochs_trained: int) -> pd.DataFrame:
    """The learning curve, checked whole: every column, no gaps, ending at the last epoch trained
    (a file cut short mid-row or between rows fails here)."""
    curve = pd.read_csv(file)
    missing = [c for c in CURVE_COLUMNS if c not in curve.columns]
    if missing:
        raise ValueError(f"missing columns {', '.join(missing)}")
    if curve.empty or curve[list(CURVE_COLUMNS)].isna().any().any():
        raise ValueError("empty or incomplete rows")
    if int(curve["epoch"].iloc[-1]) != epochs_trained:
        raise ValueError(f"ends at epoch {int(curve['epoch'].iloc[-1])}, but the run trained {epochs_trained} epochs")
    return curve


def _unreadable(file: Path, entry: Path, err: Exception, how_to_train: str | None) -> str:
    """The one message for a store file that cannot be read: which file, why, what to do."""
    lines = str(err).strip().splitlines()
    reason = f"{type(err).__name__}: {lines[0][:200] if lines else 'no message'}"
    train = f"train it again with `{how_to_train}`" if how_to_train else \
        "train it again (`python -m grokpaper train ...` for its seed and condition, or rerun the chapter that trains it)"
    file, entry = display_path(file), display_path(entry)
    return (f"run store file {file} cannot be read ({reason}): it is truncated or corrupt. "
            f"Delete the run's folder {entry}/ and {train}; if the store is committed to git, "
            f"`git checkout -- {entry}` restores it instead. Other runs are not affected.")


def display_path(path: Path) -> Path:
    """A path as the user would type it: relative to the working directory when inside it."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return Path(path)
