"""Pictures of the exports for the README and docs/exports.md, from a plan's export folder:

    docs/images/quota_letter.png   the first page of a quota letter's PDF (pdftoppm, poppler-utils)
    docs/images/report.png         the top of the plan report in headless Chromium at 1,280 px
    docs/images/workbook.png       the workbook's Quotas sheet read back with openpyxl and drawn as a
                                   spreadsheet (sheet tabs, formula bar, cells in their number formats)

    .venv/bin/python docs/export_figures.py FOLDER   # an export folder (data/exports/quota_plan/P0001)

docs/figures.py calls `write_export_pictures` on the plan it makes, so one run refreshes every picture.
"""

from __future__ import annotations

import datetime as dt
import html
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

IMAGES = ROOT / "docs" / "images"
LETTER, REPORT, WORKBOOK = IMAGES / "quota_letter.png", IMAGES / "report.png", IMAGES / "workbook.png"
LETTER_DPI = 80
REPORT_SIZE = (1280, 1500)
WORKBOOK_SIZE = (1280, 400)
WORKBOOK_ROWS = 14  # data rows of the Quotas sheet drawn
FORMULA_CELL = "J2"  # the cell whose formula the drawn formula bar shows
STYLE = """<style>
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 12px; margin: 0; background: #fff; }
.bar { background: #f3f3f3; border-bottom: 1px solid #ccc; padding: 6px 10px; }
.bar b { display: inline-block; width: 3rem; }
table { border-collapse: collapse; margin: 0; }
th.col, td.row { background: #efefef; color: #555; font-weight: normal; text-align: center; min-width: 2rem; }
td, th { border: 1px solid #d9d9d9; padding: 3px 6px; white-space: nowrap; }
tr.header td { background: #4C72B0; color: #fff; font-weight: bold; }
tr.band td.cell { background: #eef2fa; }
td.num { text-align: right; } td.formula { color: #1a5e20; }
.tabs { border-top: 1px solid #ccc; padding: 6px 10px; background: #f3f3f3; }
.tabs span { padding: 3px 8px; margin-right: 4px; border: 1px solid #ccc; background: #fff; }
.tabs span.active { font-weight: bold; border-bottom: 2px solid #4C72B0; }
</style>"""


def _shown(value: object, number_format: str) -> str:
    """A cell as a spreadsheet shows it under its number format (the formats the workbook uses)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if number_format == "yyyy-mm-dd" else value.isoformat(sep=" ")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if number_format.endswith("%"):
        return f"{value:.1%}"
    if number_format.startswith('"'):
        symbol = number_format.split('"')[1]
        return f"{'-' if value < 0 else ''}{symbol}{abs(value):,.0f}"
    decimals = number_format.split(".")[1].count("0") if "." in number_format else 0
    return f"{value:,.{decimals}f}"


def workbook_page(workbook: Path) -> str:
    """The Quotas sheet of a workbook as an HTML picture of a spreadsheet."""
    import openpyxl
    from openpyxl.utils import get_column_letter

    formulas = openpyxl.load_workbook(workbook)
    values = openpyxl.load_workbook(workbook, data_only=True)
    sheet, cached = formulas["Quotas"], values["Quotas"]
    width = sheet.max_column
    rows = ["<tr><th class='col'></th>" + "".join(f"<th class='col'>{get_column_letter(c)}</th>"
                                                 for c in range(1, width + 1)) + "</tr>"]
    for r in range(1, WORKBOOK_ROWS + 2):
        cells = []
        for c in range(1, width + 1):
            cell, value = sheet.cell(r, c), cached.cell(r, c).value
            kind = "num" if isinstance(value, int | float) and not isinstance(value, bool) else ""
            kind += " formula" if cell.data_type == "f" else ""
            cells.append(f"<td class='cell {kind}'>{html.escape(_shown(value, cell.number_format))}</td>")
        band = "header" if r == 1 else "band" if r % 2 else ""
        rows.append(f"<tr class='{band}'><td class='row'>{r}</td>{''.join(cells)}</tr>")
    tabs = "".join(f"<span class='{'active' if name == 'Quotas' else ''}'>{html.escape(name)}</span>"
                   for name in formulas.sheetnames[:12])
    formula = html.escape(str(sheet[FORMULA_CELL].value))
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'>{STYLE}</head><body>"
            f"<div class='bar'><b>{FORMULA_CELL}</b> {formula}</div><table>{''.join(rows)}</table>"
            f"<div class='tabs'>{tabs} ...</div></body></html>")


def _screenshot(page: Path, png: Path, size: tuple[int, int]) -> None:
    from pipeline.exports.pdf import FLAGS, chromium

    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}",
                        "--hide-scrollbars", f"--screenshot={png}", page.resolve().as_uri()],
                       capture_output=True, check=True, timeout=120)


def write_export_pictures(folder: Path) -> list[Path]:
    """The letter, report and workbook pictures of one export folder into docs/images/."""
    IMAGES.mkdir(exist_ok=True)
    letter = min((folder / "letters").glob("*.pdf"))
    with tempfile.TemporaryDirectory() as scratch:
        stem = Path(scratch) / "letter"
        subprocess.run([shutil.which("pdftoppm"), "-png", "-r", str(LETTER_DPI), "-f", "1", "-l", "1",
                        "-singlefile", str(letter), str(stem)], check=True, timeout=120)
        shutil.copy(stem.with_suffix(".png"), LETTER)
        _screenshot(folder / "report.html", REPORT, REPORT_SIZE)
        page = Path(scratch) / "workbook.html"
        page.write_text(workbook_page(next(folder.glob("quota_plan_*.xlsx"))), encoding="utf-8")
        _screenshot(page, WORKBOOK, WORKBOOK_SIZE)
    return [LETTER, REPORT, WORKBOOK]


if __name__ == "__main__":
    for path in write_export_pictures(Path(sys.argv[1])):
        print(f"wrote {path}")
