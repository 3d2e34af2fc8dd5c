"""The parallel CPU scheduler (grokpaper.core.parallel): dependency order, same store entries as
the chapters, nothing retrained, bad input refused."""

import pytest

from grokpaper.config import chapter_params
from grokpaper.core.parallel import jobs, store_files, threads_per_worker, train_all
from grokpaper.core.store import RunStore
from grokpaper.core.study import CONDITIONS, Study, StudySettings

OVERRIDES = {"grokked_max_epochs": "60", "memorized_fixed_epochs": "20", "transfer_max_epochs": "30",
             "checkpoint_every": "20"}


def settings() -> StudySettings:
    return StudySettings.from_params(chapter_params("01-sources", "smoke", OVERRIDES))


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
    store = RunStore(tmp_path)
    lines = []
    overrides = tuple(f"{k}={v}" for k, v in OVERRIDES.items())
    assert train_all(settings(), "smoke", workers=2, store=store, overrides=overrides, poll_s=0.2, log=lines.append) == 0
    assert all(store.has(j.key) for j in jobs(settings()))
    assert sum(line.startswith("done:") for line in lines) == 2 * (1 + len(CONDITIONS))
    # The chapters' own entry point finds every run stored: nothing is trained again.
    study = Study(settings(), store=store, progress=False)
    assert len(study.transfers()) == 2 * len(CONDITIONS) and len(study.sources()) == 2
    again = []
    train_all(settings(), "smoke", workers=2, store=store, overrides=overrides, poll_s=0.2, log=again.append)
    threads = threads_per_worker(2)
    assert again == [f"{2 * (1 + len(CONDITIONS))} runs already stored, 0 to train with 2 workers, "
                     f"{threads} thread{'s' * (threads != 1)} each"]
    files = store_files(settings(), store)
    assert {p.parent.name for p in files} == {j.key for j in jobs(settings())}
    assert not any("resume" in str(p) for p in files)  # finished runs leave no resume checkpoint


def test_bad_worker_count_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        train_all(settings(), "smoke", workers=0, store=RunStore(tmp_path))
    assert not (tmp_path / "logs").exists()


def test_each_worker_gets_its_share_of_the_cores_as_threads(tmp_path, monkeypatch):
    from grokpaper.__main__ import _use_thread_count_from_environment
    from grokpaper.core.parallel import worker_env

    assert [threads_per_worker(w, cores=16) for w in (1, 2, 3, 4, 32)] == [16, 8, 5, 4, 1]
    assert threads_per_worker(2, cores=2) == 1 and threads_per_worker(3, cores=2) == 1
    env = worker_env(RunStore(tmp_path), workers=2, cores=8)
    assert (env["OMP_NUM_THREADS"], env["MKL_NUM_THREADS"], env["GROKPAPER_STORE"]) == ("4", "4", str(tmp_path))
    # The worker hands that count to torch (the test suite runs with 1 thread: tests/conftest.py).
    import torch

    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    try:
        _use_thread_count_from_environment()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)
