"""HTML pages printed to PDF by headless Chromium, as a browser's "Save as PDF" would (A4 or
Letter per the page's own @page rule, no header or footer). A PDF's only times, its creation
and modification dates, are set to the plan's created_at, so the same plan gives the same bytes.
Without Chromium the pages stay HTML only (`chromium()` is None; the export's summary says so)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--no-pdf-header-footer")
PRINT_TIMEOUT_SECONDS = 120  # one page; Chromium prints a letter in about a second
PDF_DATES = re.compile(rb"(/(?:CreationDate|ModDate) \(D:)\d{14}")
PDF = ".pdf"


class PrintError(RuntimeError):
    """Chromium failed to print a page (the message names it and ends with Chromium's stderr)."""


def chromium() -> str | None:
    """The headless browser that prints PDFs, None when none is installed."""
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def _print(browser: str, page: Path, created: dt.datetime) -> Path:
    pdf = page.with_suffix(PDF)
    with tempfile.TemporaryDirectory(prefix="quota-plan-chromium-") as profile:
        done = subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={pdf}",
                               page.resolve().as_uri()], capture_output=True, text=True,
                              timeout=PRINT_TIMEOUT_SECONDS, check=False)
    if done.returncode != 0 or not pdf.is_file():
        raise PrintError(f"Chromium could not print {page.name}: {done.stderr[-500:]}")
    stamp = created.strftime("%Y%m%d%H%M%S").encode()
    pdf.write_bytes(PDF_DATES.sub(lambda m: m.group(1) + stamp, pdf.read_bytes()))
    return pdf


def print_pdfs(pages: list[Path], created: dt.datetime, workers: int) -> list[Path]:
    """Each page printed to a PDF beside it (`workers` Chromium processes at a time); [] without Chromium."""
    browser = chromium()
    if browser is None or not pages:
        return []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda page: _print(browser, page, created), pages))
