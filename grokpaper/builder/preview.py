"""``make preview`` (``python -m grokpaper preview``): build the report, serve ``_manuscript/`` on
localhost and build it again whenever its sources change, as ``quarto preview`` does for a
Quarto user. Pages reload by themselves after each build.

What it watches: the article (``paper.qmd``), ``_quarto.yml``, the bibliography, the project's
Lua filters, each chapter's source (``chapters/*.py``), and what a chapter run in another shell
writes (``chapters/*.ipynb``, ``results/*.json``). What it does on a change: it copies each
up-to-date chapter's prose (markdown cells, captions and other cell options) into its executed
notebook, as the runner does, and renders the HTML again. It never executes a chapter nor trains:
editing a chapter's prose re-executes nothing in this project, and a chapter whose code changed
is shown stale (the report's warning names it) until ``python -m grokpaper run`` re-executes it.
The PDF is left to ``make report``.
"""

from __future__ import annotations

import functools
import http.server
import json
import signal
import sys
import threading
import time
from pathlib import Path

from grokpaper.builder.manuscript import OUTPUT_DIR, RenderError, article_name, quarto_config
from grokpaper.builder.plan import check_build, describe_problems
from grokpaper.builder.render import build
from grokpaper.builder.runner import sync_prose
from grokpaper.config import ParamsError, project_root

BUILD_PATH = "/__preview__/build"  # the build counter the pages poll
# Added to each HTML page served (not to the files): reload when a new build is done.
RELOAD_SCRIPT = """<script>
(function () {
  var seen = null;
  function poll() {
    fetch("%s", {cache: "no-store"}).then(function (r) { return r.text(); }).then(function (n) {
      if (seen !== null && n !== seen) { location.reload(); }
      seen = n;
    }).catch(function () {}).finally(function () { setTimeout(poll, 1000); });
  }
  poll();
})();
</script>""" % BUILD_PATH


def watched_files(project: Path) -> list[Path]:
    """The files whose change rebuilds the preview: the article, ``_quarto.yml``, its
    bibliography and Lua filters, the chapters' sources and executed notebooks, the results."""
    config = quarto_config(project)
    named = [article_name(project), "_quarto.yml", "references.bib", *(config.get("filters") or [])]
    files = [project / name for name in named if isinstance(name, str)]
    for pattern in ("chapters/*.py", "chapters/*.ipynb", "results/*.json"):
        files += sorted(project.glob(pattern))
    return [path for path in dict.fromkeys(files) if path.is_file()]


def snapshot(project: Path) -> dict[Path, tuple[int, int]]:
    """Each watched file's modification time and size: a change in either is an edit."""
    out = {}
    for path in watched_files(project):
        try:
            stat = path.stat()
        except FileNotFoundError:  # deleted between the listing and now
            continue
        out[path] = (stat.st_mtime_ns, stat.st_size)
    return out


def rebuild(project: Path) -> str:
    """Copy the up-to-date chapters' prose into their notebooks, then render the HTML (stale
    chapters allowed, and named on the page); returns a line saying what was done."""
    start = time.perf_counter()
    synced = sync_prose(project)
    build(project, formats=("html",), quiet=True, allow_stale=True)
    problems = check_build(project)
    line = f"built in {time.perf_counter() - start:.1f} s"
    if synced:
        line += f"; prose of {', '.join(synced)} copied into the executed notebooks (nothing executed)"
    if problems:
        line += ("; stale, shown with a warning on the page until `python -m grokpaper run` re-executes them:\n"
                 + describe_problems(problems))
    return line


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves ``_manuscript/``, uncached, with the reload script in each HTML page and the build
    counter at ``BUILD_PATH``."""

    def __init__(self, *args, state: dict, **kwargs):
        self.state = state
        super().__init__(*args, **kwargs)

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.path.split("?")[0] == BUILD_PATH:
            return self._send(str(self.state["builds"]).encode(), "text/plain")
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        if path.suffix == ".html" and path.is_file():
            page = path.read_text(encoding="utf-8")
            at = page.rfind("</body>")
            page = page[:at] + RELOAD_SCRIPT + page[at:] if at >= 0 else page + RELOAD_SCRIPT
            return self._send(page.encode("utf-8"), "text/html; charset=utf-8")
        return super().do_GET()

    def _send(self, body: bytes, content_type: str):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 (http.server's signature): no line per request
        pass


def serve(project: Path, port: int = 8000, poll_s: float = 0.5, echo=print) -> None:
    """Build the report, serve it on ``http://127.0.0.1:port/`` (0: any free port) and rebuild
    it on every change of ``watched_files``, until Ctrl-C. A failed build is reported in one
    line and the last good one stays served."""
    project = Path(project).resolve()
    echo(f"[preview] {rebuild(project)}")
    # Before "serving" is announced: an edit made as soon as the page is up must differ from
    # this (taken later, it could take in the edit and the edit would never be built).
    seen = snapshot(project)
    state = {"builds": 1}
    handler = functools.partial(_Handler, directory=str(project / OUTPUT_DIR), state=state)
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as err:
        raise RenderError(f"cannot serve on port {port} ({err.strerror}): pick another with --port "
                          "(make preview PORT=...), or --port 0 for any free one") from None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    echo(f"[preview] serving http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops); watching "
         f"{len(watched_files(project))} files: {article_name(project)}, _quarto.yml, chapters/, results/")
    stop_on_term = threading.current_thread() is threading.main_thread()
    if stop_on_term:  # `kill` (SIGTERM) stops it as Ctrl-C does: a job started in the background ignores SIGINT
        before = signal.signal(signal.SIGTERM, _interrupt)
    try:
        while True:
            time.sleep(poll_s)
            now = snapshot(project)
            if now == seen:
                continue
            changed = sorted({p.relative_to(project).as_posix() for p in set(now) ^ set(seen)}
                             | {p.relative_to(project).as_posix() for p in now if seen.get(p, now[p]) != now[p]})
            time.sleep(poll_s)  # let an editor finish writing (several files at once, say)
            try:
                line = rebuild(project)
                state["builds"] += 1
            except (RenderError, ParamsError, json.JSONDecodeError) as err:
                line = f"build failed, still serving the last good one: {str(err).strip().splitlines()[0]}"
            echo(f"[preview] {', '.join(changed)} changed: {line}")
            seen = snapshot(project)  # the build's own writes (prose copied into notebooks) are not edits
    except KeyboardInterrupt:
        echo("[preview] stopped")
    finally:
        server.shutdown()
        server.server_close()
        if stop_on_term:
            signal.signal(signal.SIGTERM, before)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def add_cli(subparsers) -> None:
    """Register the ``preview`` subcommand on an argparse subparsers object."""
    p = subparsers.add_parser("preview", help="build the report, serve it on localhost, rebuild on every edit",
                              description="Build _manuscript/ (HTML), serve it on http://127.0.0.1:PORT/ and build "
                                          "it again when the article, a chapter's prose or the results change; pages "
                                          "reload by themselves. Executes no chapter and trains nothing.")
    p.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default 8000; 0: any free port)")
    p.add_argument("--project", default=None, help="project directory (default: found from the cwd)")
    p.set_defaults(func=preview_command)


def preview_command(args) -> int:
    """``python -m grokpaper preview``: serve and rebuild until Ctrl-C; 2 on bad input or a first build that fails."""
    try:
        if not 0 <= args.port <= 65535:
            raise RenderError(f"--port {args.port}: a port is 0 to 65535 (0: any free port)")
        serve(Path(args.project) if args.project else project_root(), args.port,
              echo=lambda line: print(line, flush=True))
    except (RenderError, ParamsError) as err:
        print(f"preview error: {str(err).strip()}", file=sys.stderr)
        return 2
    return 0
