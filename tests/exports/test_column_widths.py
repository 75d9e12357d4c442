"""Column widths from the frame (pipeline.exports.column_widths) against xlsxwriter's own autofit
on the same cells: both workbooks read back with openpyxl, width for width."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import polars as pl
import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from pipeline.exports.cells import WORKBOOK_OPTIONS
from pipeline.exports.column_widths import column_widths_px

MAX_WIDTH = 300
FRAME = pl.DataFrame({
    "short_text": ["a", None, "", "iii", "WWW"],
    "long_text": ["x" * 10, "W" * 80, "two\nlines", "é" * 12, None],  # capped at MAX_WIDTH
    "lines": ["one line\nand a much longer second line", "mm", None, "", "i"],
    "count": [1, 123456, None, -7, 0],
    "money": [0.5, 1234567.25, None, -1.0, 1e20],
    "quota": [100.0, -5_000_000.0, 0.0, None, 42.5],  # a formula column: only values above 0 count
    "flag": [True, None, True, True, None],
    "as_of": [dt.date(2026, 1, 1)] * 5,
    "empty": pl.Series([None] * 5, dtype=pl.String),
})
HEADERS = ["Short", "A long text column", "Lines", "Count", "Money", "Quota", "Flag", "As of", "Nothing in it"]


def _widths(path: Path) -> list[float | None]:
    sheet = openpyxl.load_workbook(path).active
    return [sheet.column_dimensions[xl_col_to_name(col)].width if xl_col_to_name(col) in sheet.column_dimensions
            else None for col in range(FRAME.width)]


def _write(path: Path, widths: list[int] | None) -> None:
    with xlsxwriter.Workbook(str(path), WORKBOOK_OPTIONS) as book:
        sheet = book.add_worksheet("T")
        for col, width in enumerate(widths or []):
            sheet.set_column_pixels(col, col, width)
        for row, values in enumerate(FRAME.iter_rows(), start=1):
            sheet.write_row(row, 0, values)
        col = FRAME.columns.index("quota")
        for row, value in enumerate(FRAME["quota"].to_list(), start=1):
            sheet.write_formula(row, col, "=1+1", None, value)
        sheet.add_table(0, 0, FRAME.height, FRAME.width - 1, {"columns": [{"header": h} for h in HEADERS]})
        if widths is None:
            sheet.autofit(max_width=MAX_WIDTH)


def test_widths_from_the_frame_are_the_widths_autofit_gives_the_cells(tmp_path: Path):
    with xlsxwriter.Workbook(str(tmp_path / "probe.xlsx")) as book:
        date_px = book.add_worksheet().default_date_width
    ours = column_widths_px(FRAME, HEADERS, MAX_WIDTH, date_px, frozenset({"quota"}))
    _write(tmp_path / "autofit.xlsx", None)
    _write(tmp_path / "ours.xlsx", ours)
    assert _widths(tmp_path / "ours.xlsx") == _widths(tmp_path / "autofit.xlsx")
    assert ours[1] == MAX_WIDTH  # the cap binds
    assert len(set(ours)) > 5  # the columns really differ, so the comparison means something
