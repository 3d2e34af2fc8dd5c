"""Train a profile's runs as parallel processes, one run each (for CPUs).

On a small CPU one model's step is too small to keep several cores busy: on the
project's 2-core machine, two single-threaded processes train 1.2x as many model-epochs per
second as one process using both cores (`benchmarks/cpu_workers.py`, `benchmarks/RESULTS.md`).
``train_all`` is a small scheduler: it starts ``python -m grokpaper train ...`` for one run at
a time per worker, seed by seed in dependency order (a grokked or memorized transfer waits for
its seed's source run; random-init transfers need nothing), and skips runs already stored.

Each worker gets cores // workers threads (at least one), through ``OMP_NUM_THREADS`` and
``MKL_NUM_THREADS`` (the worker passes it to ``torch.set_num_threads``). Left alone, every
process would start one torch thread per core, and processes sharing the cores then
oversubscribe them: threads spin waiting for each other (one test went from 0.9 s to 97 s).

Every run is the same single-run batch that ``python -m grokpaper train`` trains, so it goes
to the same store entry as the chapters would ask for, and an interrupted run resumes from
its own checkpoint when the scheduler (or the chapter) is started again. A GPU does not need
this: there the chapters train all models as one batch.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from grokpaper.core.status import STATUS_FILE_ENV, read_status
from grokpaper.core.store import RunStore, config_key, display_path
from grokpaper.core.study import CONDITIONS, StudySettings


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


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """Torch threads for each of ``workers`` processes sharing ``cores``: cores // workers, at least 1."""
    return max(1, (cores or available_cores()) // workers)


def worker_env(store: RunStore, workers: int, cores: int | None = None) -> dict[str, str]:
    """The environment of a worker process: the store, and its share of the cores as threads."""
    threads = str(threads_per_worker(workers, cores))
    return {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
            "GROKPAPER_STORE": str(store.root)}


def train_all(settings: StudySettings, profile: str, workers: int, store: RunStore | None = None,
              overrides: tuple[str, ...] = (), poll_s: float = 2.0, log=None, status_every_s: float = 60.0) -> int:
    """Train every missing run of ``settings`` with ``workers`` parallel processes; returns the
    number of failed jobs. Each job's output goes to ``<store>/logs/<label>.log``; every
    ``status_every_s`` seconds one line per running job says where it is. Ctrl-C stops the
    workers at the end of their current epoch, checkpointed, and logs where each resumes."""
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    log = log or _print_with_time
    store = store or RunStore()
    every = jobs(settings)
    pending = [j for j in every if not store.has(j.key)]
    env = worker_env(store, workers)
    threads = int(env["OMP_NUM_THREADS"])
    log(f"{len(every) - len(pending)} runs already stored, {len(pending)} to train with {workers} "
        f"worker{'s' * (workers != 1)}, {threads} thread{'s' * (threads != 1)} each")
    logs = store.root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    extra = [arg for o in overrides for arg in ("-p", o)]
    running: dict[subprocess.Popen, tuple[Job, float]] = {}
    failed = 0
    last_status = time.monotonic()
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
                job_env = {**env, STATUS_FILE_ENV: str(_status_path(logs, job))}
                with open(_log_path(logs, job), "a") as out:
                    cmd = [sys.executable, "-m", "grokpaper", "train", *job.args, "--profile", profile, *extra]
                    # A session of its own: Ctrl-C reaches the worker once, from the scheduler
                    # below (a second one would stop it before it checkpoints).
                    running[subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=job_env,
                                             start_new_session=True)] = (job, time.time())
                log(f"start: {job.label}")
            if running and time.monotonic() - last_status >= status_every_s:
                last_status = time.monotonic()
                for job, _ in running.values():
                    status = read_status(_status_path(logs, job))
                    if status:
                        log(f"  {job.label}: {status['line']}")
            time.sleep(poll_s)
    except KeyboardInterrupt:
        # Pass Ctrl-C on to the workers: each checkpoints at the end of its epoch and exits.
        # Give them time to write their checkpoints, then say where each one resumes.
        for proc in running:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc, (job, _) in running.items():
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                pass
            status = read_status(_status_path(logs, job))
            log(f"interrupted: {job.label}" + (f": {status['line']}" if status else ""))
        raise
    finally:
        for proc in running:  # stop what is still running; their resume checkpoints stay
            if proc.poll() is None:
                proc.terminate()
    return failed


def store_files(settings: StudySettings, store: RunStore | None = None) -> list[Path]:
    """The store files of a profile's finished runs, and the store's manifest if it has one: what
    the project commits (``python -m grokpaper train all --list-files``). Resume checkpoints of
    unfinished runs are not among them: they never enter git (``unfinished_note`` says how an
    unfinished run is carried instead)."""
    store = store or RunStore()
    out = [f for job in jobs(settings) if store.has(job.key) for f in store.files(job.key)]
    return out + ([store.manifest] if store.manifest.is_file() else [])


def write_manifest(settings: StudySettings, store: RunStore | None = None) -> Path:
    """Write the store's manifest (``MANIFEST.sha256``): every file of the profile's finished runs
    with its sha256 (``python -m grokpaper train all --write-manifest``)."""
    store = store or RunStore()
    return store.write_manifest([job.key for job in jobs(settings) if store.has(job.key)])


def unfinished_note(settings: StudySettings, store: RunStore | None = None) -> str | None:
    """None when every run of the profile is stored; else which runs are not, and how an
    unfinished run goes to another machine: its resume checkpoint, copied by hand, not git."""
    store = store or RunStore()
    missing = [job.label for job in jobs(settings) if not store.has(job.key)]
    if not missing:
        return None
    resume = display_path(store.root / "resume")
    checkpoints = len(list((store.root / "resume").glob("*.pt")))
    return (f"{len(missing)} run{'s' * (len(missing) != 1)} of the profile not finished, not listed: "
            f"{', '.join(missing)}. Resume checkpoints ({resume}/: {checkpoints} file{'s' * (checkpoints != 1)}) "
            f"stay out of git. To carry an unfinished run to another machine, copy {resume}/ into its store by "
            f"hand (e.g. rsync -a {resume}/ HOST:PROJECT/store/resume/) and run the command that started it there "
            "(a checkpoint belongs to its batch: `train all` or the chapter), which resumes it; or keep training "
            "where it is.")


def _print_with_time(message: str) -> None:
    print(time.strftime("%H:%M:%S"), message, flush=True)


def _log_path(logs: Path, job: Job) -> Path:
    return logs / (job.label.replace(" ", "-") + ".log")


def _status_path(logs: Path, job: Job) -> Path:
    return logs / (job.label.replace(" ", "-") + ".status.json")
