"""Train a profile's runs on a Dask cluster, one run per task (for CPUs).

On a small CPU one model's step is too small to keep several cores busy: on the
project's 2-core machine, two single-threaded processes train 1.2x as many model-epochs per
second as one process using both cores (`benchmarks/cpu_workers.py`, `benchmarks/RESULTS.md`).
``train_all`` hands every missing run of a profile to Dask distributed as one task: by default
to a local cluster of ``workers`` single-threaded worker processes that it starts, or to a
running cluster (``scheduler="tcp://HOST:PORT"``, e.g. Slurm jobs started with dask-jobqueue).
A grokked or memorized transfer is a task that depends on its seed's source run (its future
is an argument), so it starts once the source is stored; random-init transfers depend on
nothing. Tasks start seed by seed (task priorities), so a stopped study leaves whole seeds
finished. The client hands the cluster no more runs than it has threads, each once its source
has finished, and the next as one ends: a task Dask has placed on a busy worker is not reliably
moved to one that falls idle. Runs already stored are not submitted.

A task runs ``python -m grokpaper train ...`` for its run, the command that trains it by hand,
in a process of its own (log: ``<store>/logs/<label>.log``): the same single-run batch, so it
goes to the same store entry as the chapters ask for, an interrupted run resumes from its own
checkpoint when ``train all`` (or the command) is started again, and Ctrl-C reaches the
trainer as a signal it checkpoints on. Two workers that ask for the same run at once train it
once: the store locks a run while it trains (``RunStore.lock``).

Each worker of the local cluster gets cores // workers threads (at least one), through
``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS``, which the training process passes to
``torch.set_num_threads``. Left alone, every process would start one torch thread per core,
and processes sharing the cores then oversubscribe them: threads spin waiting for each other
(one test went from 0.9 s to 97 s). The workers of another cluster use the thread count their
environment gives them (Dask's default: one). A GPU does not need any of this: there the
chapters train all models as one batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from grokpaper.core.status import STATUS_FILE_ENV, read_status
from grokpaper.core.store import RunStore, config_key, display_path
from grokpaper.core.study import CONDITIONS, CONTROLS, StudySettings

# Seconds the training processes get to checkpoint and exit after Ctrl-C.
INTERRUPT_WAIT_S = 120


@dataclass(frozen=True)
class Job:
    """One run to train: its label, its CLI arguments, its store key, the key it waits for."""

    label: str
    args: tuple[str, ...]
    key: str
    needs: str | None = None


class RunFailed(RuntimeError):
    """A run's training process failed, or finished without storing its run; the message says
    how long it ran, its exit status and where its log is."""


# The sets of runs ``train all --runs`` trains: the study's own runs; the probe reruns (each
# source and transfer again with probes, stopping at the top threshold held); the relearning runs;
# the controls and transplants (``study.CONTROLS``: what carries the transfer).
RUN_SETS = ("study", "probes", "relearn", "controls", "tasks")


def jobs(settings: StudySettings, runs: str = "study") -> list[Job]:
    """Every run of a set (``RUN_SETS``) of a profile, in the order to start them, seed by seed
    (a stopped study leaves whole seeds finished). ``study``: each seed's source and
    random-init transfer first (neither waits for anything), then its transfers from the
    source. ``probes``, ``relearn`` and ``controls`` put the study's runs they need first (its
    sources; for relearning its transfers too; skipped when stored, as in the paper profile): a
    probe run or a control waits for its seed's source (its reference, and a control's weights),
    a relearning run for its transfer run (its init)."""
    if runs not in RUN_SETS:
        raise ValueError(f"runs must be one of {', '.join(RUN_SETS)}, got {runs!r}")
    study = _study_jobs(settings)
    if runs == "study":
        return study
    out = []
    for s in settings.seeds:
        source = config_key(settings.source_config(s))
        if runs == "controls":
            # The grokked transfer's probe rerun gives the chapter its matched point (first at the top
            # threshold): the same run as in the probe set (same key), trained once.
            out.append(Job(f"probe transfer grokked seed {s}", ("probe-transfer", "--seeds", str(s), "--condition",
                                                                "grokked"),
                           config_key(settings.probe_transfer_config(s, "grokked")), source))
            out += [Job(f"control {c} seed {s}", ("controls", "--seeds", str(s), "--control", c),
                        config_key(settings.control_config(s, c)), source) for c in CONTROLS]
        elif runs == "tasks":
            out += [Job(f"task {e} {c} -> {t} seed {s}", ("tasks", "--seeds", str(s), "--experiment", e, "--condition", c,
                                                         "--target", t),
                        config_key(settings.task_config(s, e, c, t)), source)
                    for e, c, t in settings.task_designs() if s in settings.task_seeds(e)]
        elif runs == "probes":
            out.append(Job(f"probe source seed {s}", ("probe-sources", "--seeds", str(s)),
                           config_key(settings.probe_source_config(s)), source))
            out += [Job(f"probe transfer {c} seed {s}", ("probe-transfer", "--seeds", str(s), "--condition", c),
                        config_key(settings.probe_transfer_config(s, c)), source) for c in _random_first()]
        else:
            out += [Job(f"relearn {c} seed {s}", ("relearn", "--seeds", str(s), "--condition", c),
                        config_key(settings.relearn_config(s, c)), config_key(settings.transfer_config(s, c)))
                    for c in _random_first()]
    # Probe runs and controls need only the sources of the study; relearning needs its transfer runs as well.
    needed = study if runs == "relearn" else [job for job in study if job.args[0] == "sources"]
    return needed + out


def _random_first() -> list[str]:
    return ["random"] + [c for c in CONDITIONS if c != "random"]


def _study_jobs(settings: StudySettings) -> list[Job]:
    out = []
    for s in settings.seeds:
        source = config_key(settings.source_config(s))
        out.append(Job(f"source seed {s}", ("sources", "--seeds", str(s)), source))
        for condition in _random_first():
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


def worker_env(workers: int, cores: int | None = None) -> dict[str, str]:
    """The environment variables of a local worker process: its share of the cores as threads."""
    threads = str(threads_per_worker(workers, cores))
    return {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}


def train_all(settings: StudySettings, profile: str, workers: int = 2, store: RunStore | None = None,
              overrides: tuple[str, ...] = (), scheduler: str | None = None, poll_s: float = 2.0, log=None,
              status_every_s: float = 60.0, runs: str = "study") -> int:
    """Train every missing run of the set ``runs`` (``RUN_SETS``) of ``settings`` on a local Dask
    cluster of ``workers`` processes, or
    on the running cluster at ``scheduler``; returns the number of failed runs. Each run's output
    goes to ``<store>/logs/<label>.log``; every ``status_every_s`` seconds one line per running run
    says where it is. Ctrl-C stops the runs at the end of their current epoch, checkpointed, and
    logs where each resumes. Raises RuntimeError when transfers could not start because their
    source failed, or when the scheduler cannot be reached. The local cluster's workers are
    spawned processes: a script that calls this needs the ``if __name__ == "__main__":`` guard."""
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    log = log or _print_with_time
    store = store or RunStore()
    every = jobs(settings, runs)
    pending = [j for j in every if not store.has(j.key)]
    if scheduler:
        where = f"on the Dask cluster at {scheduler}"
    else:
        threads = threads_per_worker(workers)
        where = (f"with {workers} worker{'s' * (workers != 1)}, "
                 f"{threads} thread{'s' * (threads != 1)} each")
    log(f"{len(every) - len(pending)} runs already stored, {len(pending)} to train {where}")
    if not pending:
        return 0
    # Workers of another cluster may run in another folder: they get absolute paths (the store
    # must be on a filesystem they share, at the same path), and a profile given as a file by
    # its absolute path (a name they look up in their own params/).
    store_root = store.root.resolve()
    logs = store_root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    profile_arg = str(Path(profile).resolve()) if Path(profile).is_file() else str(profile)
    command = ("--profile", profile_arg, *[arg for o in overrides for arg in ("-p", o)])
    owner = uuid.uuid4().hex  # this call's runs, told apart from other clients' on a shared cluster
    with _dask_client(workers, scheduler) as client:
        running: list[str] = []  # labels of the runs training now, in the order they started

        def started(event):  # a worker says it started a run (called in the client's event-loop thread)
            running.append(event[1])
            log(f"start: {event[1]}")

        client.subscribe_topic(owner, started)
        futures = {}  # store key -> the future of its task
        queue = list(enumerate(pending))  # (position, job) not yet handed to the cluster
        remaining = {}  # future -> job, submitted and not yet seen done

        def submit_ready() -> None:
            # Hand the cluster no more runs than it has threads, each once what it needs has finished:
            # Dask places a task on a worker when it is submitted and did not move queued runs to a
            # worker that fell idle (one of `train all --workers 2` sat idle with six runs pending).
            # A transfer from a source that failed still goes: its task fails at once, unstarted.
            free = max(1, sum(client.nthreads().values())) - sum(not f.done() for f in remaining)
            waiting = {job.key for _, job in queue}
            for item in list(queue):
                if free <= 0:
                    break
                position, job = item
                source = futures.get(job.needs)
                if job.needs in waiting or (source is not None and not source.done()):
                    continue  # its source still waits or trains
                queue.remove(item)
                futures[job.key] = client.submit(_train_run, job, command, str(store_root), owner, source,
                                                 key=f"{_file_name(job.label)}-{owner}", priority=-position)
                remaining[futures[job.key]] = job
                free -= 1

        failed, orphaned = 0, set()
        last_status = time.monotonic()
        try:
            submit_ready()
            while remaining or queue:
                for future, job in list(remaining.items()):
                    if not future.done():
                        continue
                    del remaining[future]
                    if job.label in running:
                        running.remove(job.label)
                    if future.status == "finished":
                        log(f"done: {job.label} in {future.result():.1f} min")
                    elif job.needs in futures and futures[job.needs].status == "error":
                        orphaned.add(job)
                    else:
                        failed += 1
                        error = future.exception()
                        log(f"FAILED: {job.label} " + (str(error) if isinstance(error, RunFailed)
                                                       else f"({type(error).__name__}: {error})"))
                submit_ready()
                if running and time.monotonic() - last_status >= status_every_s:
                    last_status = time.monotonic()
                    for label in list(running):
                        status = read_status(_status_path(logs, label))
                        if status:
                            log(f"  {label}: {status['line']}")
                time.sleep(poll_s)
        except KeyboardInterrupt:
            # Ctrl-C reached this process alone (the runs' processes have sessions of their own,
            # the local workers leave it to the client): start nothing more, pass it on to each
            # running run once (it checkpoints at the end of its epoch and exits), wait for them
            # to write their checkpoints, then say where each one resumes.
            client.cancel(list(futures.values()))
            stopped = {label for labels in client.run(_signal_runs, owner, signal.SIGINT, INTERRUPT_WAIT_S).values()
                       for label in labels}
            for label in [job.label for job in pending if job.label in stopped]:
                status = read_status(_status_path(logs, label))
                log(f"interrupted: {label}" + (f": {status['line']}" if status else ""))
            raise
        finally:
            # Stop what still runs (after a second Ctrl-C, or an error here); resume checkpoints stay.
            client.run(_signal_runs, owner, signal.SIGTERM, 0)
    if orphaned:
        raise RuntimeError(f"{len(orphaned)} transfers wait for source runs that failed: "
                           + ", ".join(j.label for j in pending if j in orphaned))
    return failed


@contextlib.contextmanager
def _dask_client(workers: int, scheduler: str | None):
    """A Dask client of the cluster at ``scheduler``, or of a local cluster of ``workers``
    single-threaded worker processes with their share of the cores as torch threads, started
    here and closed on leaving."""
    from distributed import Client, LocalCluster  # a slow import (0.7 s), only `train all` needs it

    if scheduler:
        try:
            client = Client(scheduler, timeout="30s")
        except OSError as err:
            raise RuntimeError(f"cannot reach the Dask scheduler at {scheduler}: {err}") from None
        with client:
            yield client
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      env=worker_env(workers)) as cluster, Client(cluster) as client:
        client.run(_leave_ctrl_c_to_the_client)
        yield client


# On a worker: the training processes of each client's runs, and the clients whose runs were
# stopped (none of theirs starts after that). Task threads and the worker's event loop share them.
_RUNS: dict[str, dict[str, subprocess.Popen]] = {}
_STOPPED: set[str] = set()
_RUNS_LOCK = threading.Lock()


def _train_run(job: Job, command: tuple[str, ...], store_root: str, owner: str, source_done=None) -> float:
    """The Dask task of one run, on a worker: train it with ``python -m grokpaper train ...`` in a
    process of its own; returns the minutes it took. Raises RunFailed if the process fails or
    leaves the run unstored (then no transfer from it starts). ``source_done``: the result of the
    source run's task, passed only so that Dask waits for it."""
    from distributed import get_worker  # imported by the worker already; slow elsewhere (see _dask_client)

    logs = Path(store_root) / "logs"
    env = {**training_env(os.environ), "GROKPAPER_STORE": store_root,
           STATUS_FILE_ENV: str(_status_path(logs, job.label))}
    started = time.time()
    with open(_log_path(logs, job.label), "a") as out, _RUNS_LOCK:
        if owner in _STOPPED:
            raise RunFailed("not started: its `train all` was stopped")
        # A session of its own: Ctrl-C reaches the run once, passed on by the client (a second
        # one would stop it before it checkpoints).
        proc = subprocess.Popen([sys.executable, "-m", "grokpaper", "train", *job.args, *command], stdout=out,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)
        _RUNS.setdefault(owner, {})[job.label] = proc
    get_worker().log_event(owner, job.label)
    try:
        returncode = proc.wait()
    finally:
        with _RUNS_LOCK:
            _RUNS[owner].pop(job.label, None)
    minutes = (time.time() - started) / 60
    if returncode != 0:
        raise RunFailed(f"in {minutes:.1f} min (exit {returncode}; see {_log_path(logs, job.label)})")
    if not RunStore(store_root).has(job.key):
        raise RunFailed(f"in {minutes:.1f} min: exit 0, but run {job.key} is not in the run store at {store_root} (does the "
                        f"worker run this version of grokpaper? see {_log_path(logs, job.label)})")
    return minutes


def training_env(worker_environ) -> dict[str, str]:
    """A training process's environment, from its Dask worker's: without the allocator setting
    that Dask gives its workers.

    Dask's nanny starts every worker with ``MALLOC_TRIM_THRESHOLD_=65536``
    (``distributed.nanny.pre-spawn-environ``), so that a worker hands freed memory back to the
    system at once. Inherited by a training process, it turns off glibc's adaptive thresholds:
    every large activation of every step is then mapped and unmapped, and the process spends
    about as long in the kernel, faulting pages in, as training (two capped paper-profile runs
    side by side: 29-31 s against 16.4 s each, 27 s of system time against 3 s; see
    benchmarks/RESULTS.md). A value other than Dask's was set by someone on purpose and is kept."""
    import dask.config  # distributed's settings are registered once distributed is imported, as on a worker

    env = dict(worker_environ)
    dask_value = dask.config.get("distributed.nanny.pre-spawn-environ", {}).get("MALLOC_TRIM_THRESHOLD_")
    if dask_value is not None and env.get("MALLOC_TRIM_THRESHOLD_") == str(dask_value):
        del env["MALLOC_TRIM_THRESHOLD_"]
    return env


async def _signal_runs(owner: str, signum: int, wait_s: float) -> list[str]:
    """Run by the client on every worker: send ``signum`` to the training processes of ``owner``'s
    runs and wait up to ``wait_s`` seconds for them to exit (on SIGINT each checkpoints at the end
    of its epoch); none of ``owner``'s runs starts after this. Returns the labels of those runs."""
    with _RUNS_LOCK:
        _STOPPED.add(owner)
        runs = dict(_RUNS.get(owner, {}))
    for proc in runs.values():
        if proc.poll() is None:
            proc.send_signal(signum)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and any(proc.poll() is None for proc in runs.values()):
        await asyncio.sleep(0.2)  # the worker's event loop: its tasks go on reporting meanwhile
    return list(runs)


def _leave_ctrl_c_to_the_client() -> None:
    """Run by the client on each worker of its local cluster, which shares its terminal: Ctrl-C
    there reaches the workers too, and would kill them. The client passes it on to each run
    instead, so a worker lets it pass: with a handler that does nothing, not by ignoring the
    signal, which would stay ignored in the training processes the worker starts."""
    signal.signal(signal.SIGINT, lambda signum, frame: None)


def store_files(settings: StudySettings, store: RunStore | None = None) -> list[Path]:
    """The store files of a profile's finished runs, and the store's manifest if it has one: what
    the project commits (``python -m grokpaper train all --list-files``). Resume checkpoints of
    unfinished runs are not among them: they never enter git (``unfinished_note`` says how an
    unfinished run is carried instead)."""
    store = store or RunStore()
    out = [f for key in finished_keys(settings, store, every_set=True) for f in store.committed_files(key)]
    return out + ([store.manifest] if store.manifest.is_file() else [])


def write_manifest(settings: StudySettings, store: RunStore | None = None) -> Path:
    """Write the store's manifest (``MANIFEST.sha256``): every file of the profile's finished runs
    with its sha256 (``python -m grokpaper train all --write-manifest``)."""
    store = store or RunStore()
    return store.write_manifest(finished_keys(settings, store, every_set=True))


def finished_keys(settings: StudySettings, store: RunStore, every_set: bool = False) -> list[str]:
    """The store keys of the profile's study runs that are stored, in ``jobs`` order; with
    ``every_set`` also those of every other set and the extended transfer probe runs."""
    keys = [job.key for job in jobs(settings)]
    if every_set:
        keys += [job.key for runs in RUN_SETS[1:] for job in jobs(settings, runs)]
        keys += [config_key(settings.probe_transfer_config(s, c, extended=True))
                 for s in settings.seeds for c in CONDITIONS]
    return [key for key in dict.fromkeys(keys) if store.has(key)]


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


def _file_name(label: str) -> str:
    return label.replace(" ", "-")


def _log_path(logs: Path, label: str) -> Path:
    return logs / (_file_name(label) + ".log")


def _status_path(logs: Path, label: str) -> Path:
    return logs / (_file_name(label) + ".status.json")
