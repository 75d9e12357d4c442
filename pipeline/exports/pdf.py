"""HTML pages printed to PDF by headless Chromium, as a browser's "Save as PDF" would (the page's
own @page size and margins, no header or footer). One browser per worker prints many pages over
the DevTools protocol on a pipe (`--remote-debugging-pipe`: JSON messages ending in NUL on file
descriptors 3 and 4), so a thousand letters cost one browser start per worker, not a thousand.
Each page is set as the content of the one tab's document (`Page.setDocumentContent`) rather than
loaded by navigating to its file: the same PDF, without a page load per letter (so a page must be
self-contained, as the letters are: inline style, no linked files).
A PDF's only times, its creation and modification dates, are set to the plan's created_at, and the
tagged PDF's structure ids are renumbered, so the same plan gives the same bytes. Without Chromium
the pages stay HTML only (`chromium()` is None; the export's summary says so)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run")
PIPE_IN, PIPE_OUT = 3, 4  # the file descriptors Chromium reads commands from and writes replies to
# Run by the child before the browser: its two pipe ends become fds 3 and 4 (moved above 9 first, as
# they may already be 3 or 4), then it becomes the browser; no other descriptor is inherited.
WIRE = (f"import fcntl, os, sys; ends = [fcntl.fcntl(int(fd), fcntl.F_DUPFD, 10) for fd in sys.argv[1:3]]; "
        f"os.dup2(ends[0], {PIPE_IN}); os.dup2(ends[1], {PIPE_OUT}); os.execv(sys.argv[3], sys.argv[3:])")
END = b"\0"
CLOSE_TIMEOUT_SECONDS = 30
PDF_DATES = re.compile(rb"(/(?:CreationDate|ModDate) \(D:)\d{14}")
# The tagged PDF's structure ids are the browser's DOM node ids, counted since it started and with
# gaps that depend on the pages printed before: renumbered 0, 1, 2, ... in their order (same width,
# so no byte offset moves), a page gets the same ids whichever pages it followed.
NODE_IDS = re.compile(rb"\(node(\d{8})\)")
PDF = ".pdf"
PRINT = {"preferCSSPageSize": True, "printBackground": True, "displayHeaderFooter": False}


class PrintError(RuntimeError):
    """Chromium failed to print a page (the message names it)."""


def chromium() -> str | None:
    """The headless browser that prints PDFs, None when none is installed."""
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


class _Browser:
    """One headless Chromium and one tab, driven over the DevTools pipe."""

    def __init__(self, browser: str, profile: str) -> None:
        to_browser, self._commands = os.pipe()
        self._replies, from_browser = os.pipe()
        self._process = subprocess.Popen(
            [sys.executable, "-c", WIRE, str(to_browser), str(from_browser), browser, *FLAGS,
             f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            pass_fds=(to_browser, from_browser), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser)
        os.close(from_browser)
        self._out: IO[bytes] = os.fdopen(self._commands, "wb", buffering=0)
        self._in: IO[bytes] = os.fdopen(self._replies, "rb", buffering=0)
        self._buffer, self._next = b"", 0
        target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self._frame = self._call("Page.getFrameTree", session=True)["frameTree"]["frame"]["id"]

    def _send(self, method: str, params: dict[str, Any] | None, session: bool) -> int:
        self._next += 1
        message = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self._session
        self._out.write(json.dumps(message).encode() + END)
        return self._next

    def _receive(self) -> dict[str, Any]:
        while END not in self._buffer:
            chunk = self._in.read(1 << 20)
            if not chunk:
                raise PrintError("Chromium closed its DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(END, 1)
        return json.loads(raw)

    def _call(self, method: str, params: dict[str, Any] | None = None, session: bool = False) -> dict[str, Any]:
        sent = self._send(method, params, session)
        while (reply := self._receive()).get("id") != sent:
            pass
        if "error" in reply:
            raise PrintError(f"Chromium {method}: {reply['error']}")
        return reply["result"]

    def print_page(self, html: str) -> bytes:
        """The PDF of one self-contained HTML page, set as the tab's document."""
        self._call("Page.setDocumentContent", {"frameId": self._frame, "html": html}, session=True)
        return base64.b64decode(self._call("Page.printToPDF", PRINT, session=True)["data"])

    def close(self) -> None:
        try:
            self._send("Browser.close", None, session=False)
            self._process.wait(timeout=CLOSE_TIMEOUT_SECONDS)
        finally:
            if self._process.poll() is None:
                self._process.kill()
            self._out.close()
            self._in.close()


def _reproducible(pdf: bytes, created: dt.datetime) -> bytes:
    """The PDF with the plan's created_at as its dates and its structure ids numbered 0, 1, 2, ..."""
    stamp = created.strftime("%Y%m%d%H%M%S").encode()
    pdf = PDF_DATES.sub(lambda m: m.group(1) + stamp, pdf)
    ids = sorted({int(m.group(1)) for m in NODE_IDS.finditer(pdf)})
    rank = {node: i for i, node in enumerate(ids)}
    return NODE_IDS.sub(lambda m: b"(node%08d)" % rank[int(m.group(1))], pdf)


def _print_all(browser: str, pages: list[Path], created: dt.datetime) -> list[Path]:
    with tempfile.TemporaryDirectory(prefix="quota-plan-chromium-") as profile:
        tab = _Browser(browser, profile)
        try:
            for page in pages:
                pdf = tab.print_page(page.read_text(encoding="utf-8"))
                page.with_suffix(PDF).write_bytes(_reproducible(pdf, created))
        finally:
            tab.close()
    return [page.with_suffix(PDF) for page in pages]


def print_pdfs(pages: list[Path], created: dt.datetime, workers: int) -> list[Path]:
    """Each page printed to a PDF beside it by `workers` browsers; [] without Chromium."""
    browser = chromium()
    if browser is None or not pages:
        return []
    shares = [pages[i::workers] for i in range(min(workers, len(pages)))]
    with ThreadPoolExecutor(max_workers=len(shares)) as pool:
        list(pool.map(lambda share: _print_all(browser, share, created), shares))
    return [page.with_suffix(PDF) for page in pages]
