"""Headless Chromium for the export tests: load a page with a fresh profile and measure it, print
it to PDF, count a PDF's pages (pdfinfo, poppler-utils)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.exports.pdf import FLAGS, chromium

LOG_FLAGS = ["--enable-logging=stderr", "--v=0"]
# Appended to a copy of a page: after load, the page's width, its viewport's, and every element that
# sticks out to the right of the viewport or scrolls sideways inside (a cut column in print).
PROBE = """<script>window.addEventListener("load", () => {
  const view = document.documentElement.clientWidth;
  const out = [...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > view + 1
    || (e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== "visible"))
    .map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : ""));
  const p = document.createElement("pre"); p.id = "probe";
  p.textContent = JSON.stringify({scroll: document.documentElement.scrollWidth, view, out});
  document.body.appendChild(p);
});</script>"""


def browser() -> str:
    path = chromium()
    if path is None:
        pytest.fail("headless Chromium is needed: apt-get install -y chromium (make test installs it)")
    return path


def _run(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([browser(), *FLAGS, *LOG_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def open_page(page: Path, profile: Path, screenshot: Path, width: int = 1280, height: int = 2400) -> list[str]:
    """Load a page, take a screenshot; the browser console lines."""
    done = _run([f"--window-size={width},{height}", f"--screenshot={screenshot}", page.resolve().as_uri()], profile)
    return [line for line in done.stderr.splitlines() if ":CONSOLE" in line]


def measure(page: Path, profile: Path, width: int) -> dict:
    """The page's scroll width, viewport width and the elements wider than the viewport at `width` px."""
    probe = page.with_name(f".probe-{width}-{page.name}")
    probe.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    try:
        done = _run([f"--window-size={width},1600", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
                    profile)
    finally:
        probe.unlink()
    return json.loads(re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.DOTALL).group(1).replace("&quot;", '"'))


def pdf_pages(pdf: Path) -> int:
    """Pages of a PDF (pdfinfo from poppler-utils)."""
    tool = shutil.which("pdfinfo")
    if tool is None:
        pytest.fail("pdfinfo is needed: apt-get install -y poppler-utils (make test installs it)")
    info = subprocess.run([tool, str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))


def pdf_text(pdf: Path) -> str:
    """The text of a PDF (pdftotext, poppler-utils), pages separated by form feeds."""
    tool = shutil.which("pdftotext")
    if tool is None:
        pytest.fail("pdftotext is needed: apt-get install -y poppler-utils (make test installs it)")
    return subprocess.run([tool, "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
