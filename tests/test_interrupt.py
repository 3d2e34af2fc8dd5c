"""Ctrl-C during `python -m grokpaper train`: one line, exit 130, and the same command resumes
to the very result of an uninterrupted run; the status a watcher (the chapter runner) shows."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

from grokpaper.config import chapter_params
from grokpaper.core.status import STATUS_FILE_ENV, watch_training
from grokpaper.core.store import RunStore
from grokpaper.core.study import Study, StudySettings

OVERRIDES = {"transfer_max_epochs": 120, "checkpoint_every": 50}
COMMAND = [sys.executable, "-m", "grokpaper", "train", "transfer", "--profile", "smoke", "--condition", "random",
           "--seeds", "1", *[arg for k, v in OVERRIDES.items() for arg in ("-p", f"{k}={v}")]]


def _wait_for(condition, what: str, timeout_s: float = 120):
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


@pytest.mark.slow  # a training process started twice and interrupted: 7 s on 2 shared cores
def test_ctrl_c_prints_one_line_exits_130_and_the_same_command_resumes(tmp_path):
    env = {**os.environ, "GROKPAPER_STORE": str(tmp_path / "store")}
    lines = []
    # As the chapter runner does: watch the status, and pass Ctrl-C on to the training process.
    with watch_training(lines.append, every_s=0.1, forward_interrupts=True) as watch:
        env[STATUS_FILE_ENV] = os.environ[STATUS_FILE_ENV]
        first = subprocess.Popen(COMMAND, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_for(lambda: any(re.search(r"epoch ([2-9]\d|1[01]\d) of 120", line) for line in lines),
                  "the status line to pass epoch 20")
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C at the watcher: forwarded, not raised here
        _, stderr = first.communicate(timeout=120)
    assert STATUS_FILE_ENV not in os.environ  # the watcher cleans up after itself
    assert re.fullmatch(r"epoch \d+ of 120, 1 of 1 runs training, test acc % \[\d+\](, checkpoint at epoch \d+)?",
                        lines[0])
    assert first.returncode == 130
    assert "Traceback" not in stderr
    message = stderr.strip().splitlines()[-1]  # (tqdm's bar updates are \r-separated lines before it)
    stopped = re.fullmatch(r"interrupted at epoch (\d+); the same command resumes from epoch (\d+)", message)
    assert stopped and stopped[1] == stopped[2] and 20 <= int(stopped[1]) < 120, message
    assert watch.interrupted_message() == message

    again = subprocess.run(COMMAND, env={**env, STATUS_FILE_ENV: ""}, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"| {stopped[1]}/120 " in again.stderr  # the bar starts where the first run stopped
    assert "120/120" in again.stderr.split("\r")[-1]

    settings = StudySettings.from_params(chapter_params("01-sources", "smoke", {**OVERRIDES, "seeds": [1]}))
    uninterrupted = Study(settings, RunStore(tmp_path / "reference"), progress=False).transfers(("random",))[0]
    resumed = RunStore(tmp_path / "store").load(uninterrupted.stored.key)
    assert resumed.curve.equals(uninterrupted.curve)
    assert all(torch.equal(resumed.params()[k], v) for k, v in uninterrupted.params().items())
    assert not any((tmp_path / "store" / "resume").iterdir())  # stored: the checkpoint is gone
