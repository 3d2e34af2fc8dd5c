"""Train a profile's runs as parallel single-threaded processes, one run each (for CPUs).

On a small CPU one model's step is too small to keep several cores busy: on the
project's 2-core machine, two single-threaded processes train 1.2x as many model-epochs per
second as one process using both cores (`benchmarks/cpu_workers.py`, `benchmarks/RESULTS.md`).
``train_all`` is a small scheduler: it starts ``python -m grokpaper train ...`` for one run at a time per worker with
``OMP_NUM_THREADS=1``, seed by seed in dependency order (a grokked or memorized transfer
waits for its seed's source run; random-init transfers need nothing), and skips runs
already stored.

Every run is the same single-run batch that ``python -m grokpaper train`` trains, so it goes
to the same store entry as the chapters would ask for, and an interrupted run resumes from
its own checkpoint when the scheduler (or the chapter) is started again. A GPU does not need
this: there the chapters train all models as one batch.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from grokpaper.store import RunStore, config_key
from grokpaper.study import CONDITIONS, StudySettings


@dataclass(frozen=True)
class Job:
    """One run to train: its label, its CLI arguments, its store key, the key it waits for."""

    label: str
    args: tuple[str, ...]
    key: str
    needs: str | None = None


def jobs(settings: StudySettings) -> list[Job]:
    """Every run of a profile, in the order to start them: seed by seed (a stopped study leaves
    whole seeds finished), each seed's source and random-init transfer first (neither waits
    for anything), then its transfers from the source."""
    out = []
    for s in settings.seeds:
        source = config_key(settings.source_config(s))
        out.append(Job(f"source seed {s}", ("sources", "--seeds", str(s)), source))
        for condition in ["random"] + [c for c in CONDITIONS if c != "random"]:
            out.append(Job(f"transfer {condition} seed {s}",
                           ("transfer", "--seeds", str(s), "--condition", condition),
                           config_key(settings.transfer_config(s, condition)),
                           None if condition == "random" else source))
    return out


def train_all(settings: StudySettings, profile: str, workers: int, store: RunStore | None = None,
              overrides: tuple[str, ...] = (), poll_s: float = 2.0, log=None) -> int:
    """Train every missing run of ``settings`` with ``workers`` parallel processes; returns the
    number of failed jobs. Each job's output goes to ``<store>/logs/<label>.log``."""
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    log = log or _print_with_time
    store = store or RunStore()
    every = jobs(settings)
    pending = [j for j in every if not store.has(j.key)]
    log(f"{len(every) - len(pending)} runs already stored, {len(pending)} to train with {workers} workers")
    logs = store.root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "GROKPAPER_STORE": str(store.root)}
    extra = [arg for o in overrides for arg in ("-p", o)]
    running: dict[subprocess.Popen, tuple[Job, float]] = {}
    failed = 0
    try:
        while pending or running:
            for proc, (job, started) in list(running.items()):
                if proc.poll() is not None:
                    del running[proc]
                    ok = proc.returncode == 0 and store.has(job.key)
                    failed += not ok
                    log(f"{'done' if ok else 'FAILED'}: {job.label} in {(time.time() - started) / 60:.1f} min"
                        + ("" if ok else f" (exit {proc.returncode}; see {_log_path(logs, job)})"))
            ready = [j for j in pending if j.needs is None or store.has(j.needs)]
            if pending and not ready and not running:  # what they wait for failed
                raise RuntimeError(f"{len(pending)} transfers wait for source runs that failed: "
                                   + ", ".join(j.label for j in pending))
            while ready and len(running) < workers:
                job = ready.pop(0)
                pending.remove(job)
                with open(_log_path(logs, job), "a") as out:
                    cmd = [sys.executable, "-m", "grokpaper", "train", *job.args, "--profile", profile, *extra]
                    running[subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)] = (job, time.time())
                log(f"start: {job.label}")
            time.sleep(poll_s)
    finally:
        for proc in running:  # interrupted: stop the workers; their resume checkpoints stay
            proc.terminate()
    return failed


def store_files(settings: StudySettings, store: RunStore | None = None) -> list[Path]:
    """The store files of a profile's runs as they stand: every finished entry and the resume
    checkpoint of every unfinished run. Committing them carries a study that takes longer than
    one sitting to another machine (``python -m grokpaper train all --list-files``)."""
    store = store or RunStore()
    out = []
    for job in jobs(settings):
        if store.has(job.key):
            out += sorted(p for p in store.entry(job.key).iterdir() if p.is_file())
        elif store.resume_path([job.key]).exists():
            out.append(store.resume_path([job.key]))
    return out


def _print_with_time(message: str) -> None:
    print(time.strftime("%H:%M:%S"), message, flush=True)


def _log_path(logs: Path, job: Job) -> Path:
    return logs / (job.label.replace(" ", "-") + ".log")
