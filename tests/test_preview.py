"""`make preview` (`python -m grokpaper preview`), as a writer uses it: started on a free port, it
serves the report; an edit of the article's prose, or of a chapter's, shows on the page without
executing anything; Ctrl-C stops it. Every wait polls with a time limit (a build here takes a
few seconds, and longer on a busy machine); nothing is timed."""

import _thread
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from grokpaper.builder.preview import serve
from grokpaper.builder.runner import run
from terminal import sigint_as_at_a_terminal
from test_render import make_project

ROOT = Path(__file__).resolve().parents[1]
RUNNER_FIXTURE = Path(__file__).resolve().parent / "fixtures" / "runner_project"
WAIT_S = 180  # the most any one step may take on a loaded 2-core machine
pytestmark = pytest.mark.slow  # report builds


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


class Preview:
    """`python -m grokpaper preview --port 0` on a project, its output lines in a queue."""

    def __init__(self, project: Path):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen([sys.executable, "-m", "grokpaper", "preview", "--port", "0", "--project",
                                      str(project)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, preexec_fn=sigint_as_at_a_terminal)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [self.lines.put(line) for line in self.proc.stdout], daemon=True).start()
        self.url = self.wait_for_line(r"serving (http://127\.0\.0\.1:\d+/)")[1]

    def wait_for_line(self, pattern: str) -> re.Match:
        deadline, seen = time.monotonic() + WAIT_S, []
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                assert self.proc.poll() is None, f"preview exited ({self.proc.returncode}): {''.join(seen)}"
                continue
            seen.append(line)
            if m := re.search(pattern, line):
                return m
        raise AssertionError(f"no line matching {pattern!r} within {WAIT_S} s: {''.join(seen)}")

    def get(self, path: str = "") -> str:
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return response.read().decode("utf-8")

    def wait_for_page(self, path: str, text: str) -> str:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            page = self.get(path)
            if text in page:
                return page
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared on {self.url}{path} within {WAIT_S} s")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)  # Ctrl-C
        return self.proc.wait(timeout=WAIT_S)


def test_preview_serves_the_report_and_shows_an_edit_of_the_article(tmp_path):
    project = make_project(tmp_path / "project")
    preview = Preview(project)
    try:
        page = preview.get()
        assert "A Tiny Test Manuscript" in page and "took 1234 epochs" in re.sub(r"\s+", " ", page)
        assert "/__preview__/build" in page  # the page reloads itself after a rebuild
        build = preview.get("__preview__/build")
        edit(project / "paper.qmd", "# Methods {#sec-methods}\n",
             "# Methods {#sec-methods}\n\nA sentence added while previewing.\n")
        preview.wait_for_page("", "A sentence added while previewing.")
        # the counter moves when the build is done, just after the page is written: wait for that line
        preview.wait_for_line(r"paper\.qmd changed: built in")
        assert preview.get("__preview__/build") != build
    finally:
        code = preview.stop()
    assert code == 0
    with pytest.raises(urllib.error.URLError):
        preview.get()


def test_preview_copies_a_chapters_prose_edit_and_executes_nothing(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(RUNNER_FIXTURE, project)
    run("smoke", project=project, echo=False)
    records = {p.name: re.search(r'"started": "[^"]+"', p.read_text())[0] for p in (project / "chapters").glob("*.ipynb")}
    preview = Preview(project)
    try:
        assert "counted neurons from 5 up" in re.sub(r"\s+", " ", preview.get())
        edit(project / "chapters" / "06-statistics.py", "Reads chapter A's result.", "Reads A's result, edited in preview.")
        preview.wait_for_page("chapters/06-statistics-preview.html", "edited in preview")
        preview.wait_for_line(r"prose of 06-statistics copied into the executed notebooks \(nothing executed\)")
    finally:
        assert preview.stop() == 0
    assert "edited in preview" in (project / "chapters" / "06-statistics.ipynb").read_text()
    assert {p.name: re.search(r'"started": "[^"]+"', p.read_text())[0]
            for p in (project / "chapters").glob("*.ipynb")} == records  # no chapter executed again


def test_an_edit_made_the_moment_the_page_is_served_is_built(tmp_path):
    """The edit is made inside the "serving" line's echo, before serve() goes on: a baseline of the
    watched files taken after that line (as it once was, a race CI lost) would take the edit in and
    never build it."""
    project = make_project(tmp_path / "project")
    lines = []

    def echo(line):
        lines.append(line)
        if "serving http" in line:
            edit(project / "paper.qmd", "# Methods {#sec-methods}\n",
                 "# Methods {#sec-methods}\n\nAn edit made the moment the page is served.\n")
        elif "changed:" in line:
            raise KeyboardInterrupt  # the edit was built: stop serving

    timer = threading.Timer(WAIT_S, _thread.interrupt_main)  # stops a preview that never sees the edit
    timer.start()
    try:
        serve(project, port=0, echo=echo)
    finally:
        timer.cancel()
    assert any(line.startswith("[preview] paper.qmd changed: built in") for line in lines), lines
    assert "An edit made the moment the page is served." in (project / "_manuscript" / "index.html").read_text()
