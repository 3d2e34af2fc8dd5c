"""`grokpaper train all` on Dask (grokpaper.core.parallel): dependency order, same store entries as
the chapters, nothing retrained (also when two workers ask for a run at once), bad input refused,
an existing cluster (`--scheduler`) giving the local run's results, Ctrl-C."""

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

import grokpaper.core.study as study_module
from grokpaper.__main__ import _use_thread_count_from_environment, main
from grokpaper.config import chapter_params
from grokpaper.core.parallel import jobs, store_files, threads_per_worker, train_all, worker_env
from grokpaper.core.status import read_status
from grokpaper.core.store import RunStore
from grokpaper.core.study import CONDITIONS, Study, StudySettings
from terminal import sigint_as_at_a_terminal

ROOT = Path(__file__).resolve().parents[1]
OVERRIDES = {"grokked_max_epochs": "60", "memorized_fixed_epochs": "20", "transfer_max_epochs": "30",
             "checkpoint_every": "20"}
INTERRUPTED = ("interrupted; finished runs are stored, and the same command carries on from the last "
               "checkpoint of the others")


def settings(**more) -> StudySettings:
    return StudySettings.from_params(chapter_params("01-sources", "smoke", {**OVERRIDES, **more}))


def test_jobs_go_seed_by_seed_and_transfers_from_sources_after_their_source():
    order = jobs(settings())
    labels = [j.label for j in order]
    assert labels[:4] == ["source seed 1", "transfer random seed 1", "transfer grokked seed 1",
                          "transfer memorized seed 1"]
    assert all(j.needs is None for j in order if "random" in j.label)
    by_key = {j.key: i for i, j in enumerate(order)}
    for i, job in enumerate(order):
        if job.needs:
            assert by_key[job.needs] < i
    assert len(order) == len(set(j.key for j in order)) == 2 * (1 + len(CONDITIONS))


def test_train_all_fills_the_store_the_chapters_read(tmp_path):
    # One seed: its source, then its transfers, on two workers (the order over seeds is
    # test_jobs_go_seed_by_seed_and_transfers_from_sources_after_their_source's).
    one_seed = settings(seeds=[1])
    store = RunStore(tmp_path)
    lines = []
    overrides = (*(f"{k}={v}" for k, v in OVERRIDES.items()), "seeds=[1]")
    assert train_all(one_seed, "smoke", workers=2, store=store, overrides=overrides, poll_s=0.2, log=lines.append) == 0
    assert all(store.has(j.key) for j in jobs(one_seed))
    runs = 1 + len(CONDITIONS)
    assert sum(line.startswith("start:") for line in lines) == sum(line.startswith("done:") for line in lines) == runs
    # The chapters' own entry point finds every run stored: nothing is trained again.
    study = Study(one_seed, store=store, progress=False)
    assert len(study.transfers()) == len(CONDITIONS) and len(study.sources()) == 1
    again = []
    train_all(one_seed, "smoke", workers=2, store=store, overrides=overrides, poll_s=0.2, log=again.append)
    threads = threads_per_worker(2)
    assert again == [f"{runs} runs already stored, 0 to train with 2 workers, "
                     f"{threads} thread{'s' * (threads != 1)} each"]
    files = store_files(one_seed, store)
    assert {p.parent.name for p in files} == {j.key for j in jobs(one_seed)}
    assert not any("resume" in str(p) for p in files)  # finished runs leave no resume checkpoint


def test_bad_worker_count_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        train_all(settings(), "smoke", workers=0, store=RunStore(tmp_path))
    assert not (tmp_path / "logs").exists()


def test_transfers_from_a_failed_source_never_start(tmp_path):
    lines = []
    with pytest.raises(RuntimeError, match="^3 transfers wait for source runs that failed: transfer grokked seed 1, "
                                           "transfer memorized seed 1, transfer memorized-fixed seed 1$"):
        # Every training process stops at the unknown parameter, before training.
        train_all(settings(seeds=[1]), "smoke", workers=1, store=RunStore(tmp_path), overrides=("no_such_key=1",),
                  poll_s=0.2, log=lines.append)
    failed = [line for line in lines if line.startswith("FAILED")]
    assert [line.split(" in ")[0] for line in failed] == ["FAILED: source seed 1", "FAILED: transfer random seed 1"]
    assert "(exit 2; see " in failed[0] and sum(line.startswith("start:") for line in lines) == 2
    assert "takes no parameter 'no_such_key'" in (tmp_path / "logs" / "source-seed-1.log").read_text()


def test_each_worker_gets_its_share_of_the_cores_as_threads(monkeypatch):
    assert [threads_per_worker(w, cores=16) for w in (1, 2, 3, 4, 32)] == [16, 8, 5, 4, 1]
    assert threads_per_worker(2, cores=2) == 1 and threads_per_worker(3, cores=2) == 1
    assert worker_env(workers=2, cores=8) == {"OMP_NUM_THREADS": "4", "MKL_NUM_THREADS": "4"}
    # The training process hands that count to torch (the test suite runs with 1 thread: tests/conftest.py).
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    try:
        _use_thread_count_from_environment()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)


def test_two_workers_asking_for_the_same_run_at_once_train_it_once(tmp_path, monkeypatch):
    trained, train = [], study_module.train

    def slow_train(runs, *args, **kwargs):  # long enough that the other asks while this one trains
        trained.append([run.name for run in runs])
        time.sleep(0.5)
        return train(runs, *args, **kwargs)

    monkeypatch.setattr(study_module, "train", slow_train)
    start, got, errors = threading.Barrier(2), [], []

    def ask():
        start.wait()
        try:
            got.append(Study(settings(seeds=[1]), RunStore(tmp_path), progress=False).transfers(("random",))[0])
        except Exception as err:
            errors.append(err)

    askers = [threading.Thread(target=ask) for _ in range(2)]
    for thread in askers:
        thread.start()
    for thread in askers:
        thread.join()
    assert errors == [] and trained == [["transfer-random-seed1"]]
    assert got[0].stored.key == got[1].stored.key and got[0].curve.equals(got[1].curve)


@contextlib.contextmanager
def dask_cluster(folder: Path, workers: int = 2):
    """A Dask scheduler and ``workers`` single-threaded workers on localhost, started with the
    ``dask`` command line as on a cluster; yields the scheduler's address, stops them on leaving."""
    from distributed import Client  # a slow import, only this test needs it

    dask = [sys.executable, "-m", "dask"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    scheduler_file = folder / "scheduler.json"
    started = []
    try:
        started.append(subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                         "--scheduler-file", str(scheduler_file)], env=env, cwd=folder,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        deadline = time.monotonic() + 60
        while not scheduler_file.is_file():
            assert time.monotonic() < deadline and started[0].poll() is None, "the Dask scheduler did not start"
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        started.append(subprocess.Popen([*dask, "worker", address, "--nworkers", str(workers), "--nthreads", "1",
                                         "--no-dashboard", "--local-directory", str(folder)], env=env, cwd=folder,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(workers, timeout=120)
        yield address
    finally:
        for proc in reversed(started):  # the worker command's group holds its nannies and workers
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(started):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.mark.slow
def test_runs_sent_to_a_running_cluster_equal_a_local_run(tmp_path, monkeypatch, capsys):
    one_seed = settings(seeds=[1])
    monkeypatch.setenv("GROKPAPER_STORE", str(tmp_path / "cluster"))
    with dask_cluster(tmp_path) as address:
        assert main(["train", "all", "--profile", "smoke", "--seeds", "1", "--scheduler", address,
                     *[arg for k, v in OVERRIDES.items() for arg in ("-p", f"{k}={v}")]]) == 0
    out = capsys.readouterr().out
    assert f"0 runs already stored, {1 + len(CONDITIONS)} to train on the Dask cluster at {address}" in out
    assert out.count("done: ") == 1 + len(CONDITIONS) and "FAILED" not in out

    local = Study(one_seed, RunStore(tmp_path / "local"), progress=False)
    expected = [*local.sources().values(), *(run.stored for run in local.transfers())]
    cluster = RunStore(tmp_path / "cluster")
    assert sorted(p.name for p in (cluster.root / "runs").iterdir()) == sorted(run.key for run in expected)
    for run in expected:
        got = cluster.load(run.key)
        assert got.config == run.config and got.curve.equals(run.curve)
        assert {k: v for k, v in got.result.items() if k != "wall_s"} == \
               {k: v for k, v in run.result.items() if k != "wall_s"}
        assert all(torch.equal(got.params()[k], v) for k, v in run.params().items())


@pytest.mark.slow
def test_ctrl_c_stops_every_run_at_a_checkpoint_with_one_line(tmp_path):
    """Ctrl-C at the terminal (SIGINT to the whole process group, local cluster included): each
    running run checkpoints and says where it resumes, the command prints one line and exits 130,
    and no training process is left behind."""
    long = {**OVERRIDES, "grokked_max_epochs": "5000", "grokked_hold_epochs": "5000", "transfer_max_epochs": "5000",
            "extended_max_epochs": "5000"}  # an extended run's cap is at least the transfers' (config checks it)
    command = [sys.executable, "-m", "grokpaper", "train", "all", "--profile", "smoke", "--seeds", "1",
               "--workers", "2", *[arg for k, v in long.items() for arg in ("-p", f"{k}={v}")]]
    proc = subprocess.Popen(command, env={**os.environ, "GROKPAPER_STORE": str(tmp_path)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=sigint_as_at_a_terminal)
    try:
        deadline = time.monotonic() + 180
        # Both runs of the first round (the seed's source and random-init transfer) checkpointed.
        while sum(bool((read_status(f) or {}).get("checkpoint_epoch")) for f in (tmp_path / "logs").glob("*.status.json")) < 2:
            assert time.monotonic() < deadline and proc.poll() is None, "the runs did not reach their first checkpoint"
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert INTERRUPTED in err.splitlines() and "Traceback" not in err
    stopped = re.findall(r"interrupted: (.+?): interrupted at epoch (\d+); the same command resumes from epoch (\d+)", out)
    assert {label for label, *_ in stopped} == {"source seed 1", "transfer random seed 1"}, out
    assert all(int(resumes) >= 20 for _, _, resumes in stopped)
    assert len(list((tmp_path / "resume").glob("*.pt"))) == 2
    pids = [read_status(f)["pid"] for f in (tmp_path / "logs").glob("*.status.json")]
    assert not [pid for pid in pids if _alive(pid)], "a training process outlived `train all`"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_training_processes_do_without_the_allocator_setting_dask_gives_its_workers():
    import dask.config
    import distributed  # noqa: F401  (registers distributed's settings, as on a worker)

    from grokpaper.core.parallel import training_env

    dasks = str(dask.config.get("distributed.nanny.pre-spawn-environ")["MALLOC_TRIM_THRESHOLD_"])  # 65536 today
    worker = {"PATH": "/bin", "OMP_NUM_THREADS": "1", "MALLOC_TRIM_THRESHOLD_": dasks}
    assert training_env(worker) == {"PATH": "/bin", "OMP_NUM_THREADS": "1"}
    chosen = str(int(dasks) * 16)
    assert training_env({**worker, "MALLOC_TRIM_THRESHOLD_": chosen})["MALLOC_TRIM_THRESHOLD_"] == chosen
    assert "MALLOC_TRIM_THRESHOLD_" not in training_env({"PATH": "/bin"})
    assert worker["MALLOC_TRIM_THRESHOLD_"] == dasks  # the worker's own environment is not changed


class _FakeFuture:
    def __init__(self, job, source, ticks):
        self.job, self.source, self.ticks_left, self.status = job, source, ticks, "pending"

    def done(self):
        return self.status in ("finished", "error")

    def result(self):
        return 0.0


class _FakeCluster:
    """Two single-thread workers whose runs take ``ticks`` polls each (by label), run in the order
    handed over; it records how many runs train at each poll and what was handed over while
    its source still trained."""

    def __init__(self, ticks):
        self.ticks, self.futures, self.busy, self.early = ticks, [], [], []

    def nthreads(self):
        return {"worker-1": 1, "worker-2": 1}

    def submit(self, fn, job, command, store_root, owner, source, key, priority):
        if source is not None and not source.done():
            self.early.append(job.label)
        self.futures.append(_FakeFuture(job, source, self.ticks(job.label)))
        return self.futures[-1]

    def tick(self):
        training = [f for f in self.futures if not f.done()][:2]   # two workers
        self.busy.append(len(training))
        for f in training:
            f.ticks_left -= 1
            if f.ticks_left <= 0:
                f.status = "finished"

    def subscribe_topic(self, *args):
        pass

    def run(self, *args, **kwargs):
        return {}

    def cancel(self, *args):
        pass


def test_the_client_keeps_every_worker_busy_and_hands_over_a_transfer_once_its_source_is_stored(tmp_path, monkeypatch):
    # Seed 1's source trains long; its random-init transfer and seed 2's runs are short. Dask, given every
    # run at once, once left a worker idle with runs pending; the client now hands them over one by one.
    import grokpaper.core.parallel as parallel
    two = settings(seeds=[1, 2])
    cluster = _FakeCluster(lambda label: 6 if label == "source seed 1" else 1)
    monkeypatch.setattr(parallel, "_dask_client", lambda workers, scheduler: contextlib.nullcontext(cluster))
    monkeypatch.setattr(parallel.time, "sleep", lambda s: cluster.tick())
    assert train_all(two, "smoke", workers=2, store=RunStore(tmp_path), poll_s=0, log=lambda line: None) == 0
    pending = len(jobs(two))
    assert len(cluster.futures) == pending and cluster.early == []
    # both workers train while two or more runs are ready: seed 1's transfers from its source must wait for it
    assert cluster.busy[:5] == [2, 2, 2, 2, 2] and max(cluster.busy) == 2
