"""Reader checks of the built report, for the tests: the HTML page opened in headless Chromium
as a reader would open it (what it shows, whether everything loaded), and a screenshot.

Needs Debian's ``chromium`` (``.ci/run`` installs it); the tests that use it skip without it.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path


def chromium_path() -> str | None:
    """The headless browser used by reader_check/screenshot, if installed."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _chromium(args: list, timeout: float) -> subprocess.CompletedProcess:
    browser = chromium_path()
    if not browser:
        raise RuntimeError("chromium not installed (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory(prefix="grokpaper-chromium-") as profile:
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--hide-scrollbars", f"--user-data-dir={profile}"]
        return subprocess.run([browser, *flags, *args], capture_output=True, text=True, timeout=timeout)


_CHECK_SCRIPT = """
<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var text = document.body.innerText;
  var external = Array.prototype.slice.call(document.querySelectorAll('[src],link[href]'))
    .map(function (e) { return e.getAttribute('src') || e.getAttribute('href'); })
    .filter(function (s) { return s && !/^(data:|#)/.test(s); });
  var r = {
    title: document.title,
    images: imgs.length,
    images_loaded: imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length,
    figures: document.querySelectorAll('figure').length,
    tables: document.querySelectorAll('table').length,
    math: document.querySelectorAll('math').length,
    unresolved_refs: text.match(/\\?\\?|@(fig|tbl|sec|eq)-[\\w-]+/g) || [],
    external_resources: external,
    horizontal_overflow: document.documentElement.scrollWidth > window.innerWidth + 1
  };
  document.body.setAttribute('data-reader-check', JSON.stringify(r));
});
</script>
"""


def reader_check(html_path, timeout: float = 60) -> dict:
    """Open the page in headless Chromium as a reader would and report what it shows:
    image count and how many loaded, figures, tables, MathML elements, unresolved
    references ('??', '@fig-...'), resources that are not embedded, horizontal overflow."""
    html_path = Path(html_path).resolve()
    probe = html_path.with_name(f".reader-check-{os.getpid()}-{html_path.name}")
    text = html_path.read_text(encoding="utf-8")
    text = text.replace("</body>", _CHECK_SCRIPT + "</body>") if "</body>" in text else text + _CHECK_SCRIPT
    probe.write_text(text, encoding="utf-8")
    try:
        proc = _chromium(["--dump-dom", "--virtual-time-budget=10000", "--window-size=1100,1800",
                          probe.as_uri()], timeout)
    finally:
        probe.unlink(missing_ok=True)
    m = re.search(r'data-reader-check="([^"]*)"', proc.stdout)
    if not m:
        raise RuntimeError(f"chromium gave no reader-check result (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(html.unescape(m.group(1)))


def screenshot(html_path, png_path, width: int = 1100, height: int = 1800, timeout: float = 60) -> Path:
    """A PNG of the page as headless Chromium draws it (window width x height)."""
    html_path, png_path = Path(html_path).resolve(), Path(png_path).resolve()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    proc = _chromium([f"--screenshot={png_path}", f"--window-size={width},{height}",
                      "--virtual-time-budget=5000", html_path.as_uri()], timeout)
    if not png_path.is_file():
        raise RuntimeError(f"chromium wrote no screenshot (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return png_path
