"""Training status for a watcher in another process: one line, rewritten at most once a second.

A chapter trains inside a Jupyter kernel that papermill runs: nothing the kernel prints
reaches the runner's console, and whatever it printed would end up in the committed
notebook. So the trainer keeps its status out of the notebook: when ``$GROKPAPER_STATUS_FILE``
names a file, ``train`` rewrites that file (atomically, as JSON) with the epoch, the runs
still training, their test accuracy and the last checkpoint. ``watch_training`` is the other
end: it sets the variable for the processes started inside it (papermill's kernel, training
workers) and hands every new status line to a callback, such as a print to the console.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

STATUS_FILE_ENV = "GROKPAPER_STATUS_FILE"


def describe(status: dict) -> str:
    """One line for a person: epoch, runs still training, their test accuracy, last checkpoint."""
    line = f"epoch {status['epoch']:,} of {status['max_epochs']:,}, {status['active']} of {status['runs']} runs training"
    accs = status.get("test_acc") or []
    if accs:
        shown = " ".join(f"{100 * a:.0f}" for a in accs) if len(accs) <= 12 else \
            f"min {100 * min(accs):.0f}, max {100 * max(accs):.0f}"
        line += f", test acc % [{shown}]"
    if status.get("checkpoint_epoch"):  # None or 0: no checkpoint yet
        line += f", checkpoint at epoch {status['checkpoint_epoch']:,}"
    if status.get("state") == "interrupted":
        line = interrupted_message(status["epoch"], status.get("resumes_from"))
    elif status.get("state") == "finished":
        line = f"finished at epoch {status['epoch']:,} ({status['runs']} run{'s' * (status['runs'] != 1)})"
    return line


def interrupted_message(epoch: int, resumes_from: int | None) -> str:
    """The one line shown when training stops on Ctrl-C."""
    if resumes_from is None:
        return f"interrupted at epoch {epoch:,}; nothing was checkpointed, so the same command starts again from epoch 0"
    return f"interrupted at epoch {epoch:,}; the same command resumes from epoch {resumes_from:,}"


class StatusFile:
    """The trainer's end: writes the status to one file, at most every ``every_s`` seconds."""

    def __init__(self, path: str | Path, every_s: float = 1.0):
        self.path = Path(path)
        self.every_s = every_s
        self._last_write = -float("inf")

    @classmethod
    def from_env(cls) -> "StatusFile | None":
        """The file named by ``$GROKPAPER_STATUS_FILE``, or None when nobody watches."""
        path = os.environ.get(STATUS_FILE_ENV)
        return cls(path) if path else None

    def write(self, status: dict, force: bool = False) -> None:
        """Replace the file's content with ``status`` (skipped if the last write was under
        ``every_s`` ago, unless ``force``). A failed write never stops training."""
        now = time.monotonic()
        if not force and now - self._last_write < self.every_s:
            return
        self._last_write = now
        record = {**status, "pid": os.getpid(), "time": time.time(), "line": describe(status)}
        try:
            # Written beside the target and renamed: a reader never sees half a line.
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(record))
            os.replace(tmp, self.path)
        except OSError:
            pass


def read_status(path: str | Path) -> dict | None:
    """The last status written to ``path``, or None if there is none (yet) or it is unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


@dataclass
class TrainingWatch:
    """What ``watch_training`` yields: the status file and the last status read from it."""

    path: Path
    last: dict | None = None
    interrupt_sent: bool = False

    def refresh(self) -> dict | None:
        """Read the status file again; returns its status (None if unreadable) and keeps the last good one."""
        status = read_status(self.path)
        if status is not None:
            self.last = status
        return status

    def training_now(self) -> bool:
        """Whether a process is training right now (per its last status)."""
        status = self.refresh()
        return status is not None and status.get("state") == "training" and _alive(status.get("pid"))

    def interrupt_training(self) -> bool:
        """Send Ctrl-C (SIGINT) to the process that is training, so that it checkpoints at the
        end of its current epoch and stops; returns whether there was one to interrupt."""
        if not self.training_now():
            return False
        os.kill(self.last["pid"], signal.SIGINT)
        self.interrupt_sent = True
        return True

    def interrupted_message(self) -> str | None:
        """The trainer's own one line if it stopped on an interrupt, else the line for an
        interrupt now (resuming from its last checkpoint), or None if nothing trained."""
        status = self.refresh() or self.last
        if status is None or status.get("state") == "finished":
            return None
        if status.get("state") == "interrupted":
            return interrupted_message(status["epoch"], status.get("resumes_from"))
        return interrupted_message(status["epoch"], status.get("checkpoint_epoch"))


@contextlib.contextmanager
def watch_training(echo: Callable[[str], None], every_s: float = 2.0, forward_interrupts: bool = False):
    """While the block runs, point ``$GROKPAPER_STATUS_FILE`` (inherited by the processes
    started in it) at a fresh file, and pass each new status line to ``echo`` at most every
    ``every_s`` seconds. With ``forward_interrupts`` (main thread only), Ctrl-C while a
    process trains is sent to that process instead (it checkpoints and stops; see
    ``TrainingWatch.interrupt_training``); otherwise Ctrl-C raises KeyboardInterrupt as usual."""
    folder = Path(tempfile.mkdtemp(prefix="grokpaper-status-"))
    watch = TrainingWatch(folder / "status.json")
    previous_env = os.environ.get(STATUS_FILE_ENV)
    os.environ[STATUS_FILE_ENV] = str(watch.path)
    stop = threading.Event()

    def follow():
        shown = None
        while not stop.wait(every_s):
            status = watch.refresh()
            if status is not None and status.get("line") != shown:
                shown = status["line"]
                echo(shown)

    thread = threading.Thread(target=follow, name="grokpaper-status", daemon=True)
    thread.start()
    previous_handler = None
    if forward_interrupts and threading.current_thread() is threading.main_thread():
        def on_sigint(signum, frame):
            if watch.interrupt_sent or not watch.interrupt_training():
                raise KeyboardInterrupt  # nothing training (or a second Ctrl-C): stop here
        previous_handler = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield watch
    finally:
        if previous_handler is not None:
            signal.signal(signal.SIGINT, previous_handler)
        stop.set()
        thread.join()
        watch.refresh()
        if previous_env is None:
            os.environ.pop(STATUS_FILE_ENV, None)
        else:
            os.environ[STATUS_FILE_ENV] = previous_env
        shutil.rmtree(folder, ignore_errors=True)


def _alive(pid) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
