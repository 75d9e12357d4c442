"""The Excel workbook an analyst works in: one named Excel table per sheet (`Quotas`, `TopItems`, ...),
headers in words (pipeline.exports.columns.header), number formats by column meaning (money
`#,##0`, shares as percent, counts `#,##0`, dates as dates), totals and notes outside the tables
(so sorting and filtering never mix them in), and formulas where an analyst expects them: on the
Quotas sheet, quota before rounding = factor x territory EEV and quota = that rounded, so an edited
factor shows its effect (each formula cell also holds the plan's value, for readers that do not
recalculate).

The sheets are written by the builders in SHEET_BUILDERS, in order; a new sheet (e.g. the
adjustments sheet) is one more builder: a function taking the `WorkbookWriter`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from pipeline.exports.adjustments_sheet import write_adjustments_sheet
from pipeline.exports.cells import WORKBOOK_OPTIONS
from pipeline.exports.column_widths import column_widths_px
from pipeline.exports.columns import COUNT, DATE, DECIMAL, MONEY, PERCENT, SCORE, column_kind, header
from pipeline.exports.sheets import PlanTables

TABLE_STYLE = "Table Style Light 9"
GAP_ROWS = 1  # blank rows between a table and the totals or notes under it
DATE_FORMAT, DATETIME_FORMAT, COUNT_FORMAT, DECIMAL_FORMAT = "yyyy-mm-dd", "yyyy-mm-dd hh:mm:ss", "#,##0", "#,##0.00"
SCORE_FORMAT = "0.000"
WRITTEN_ELSEWHERE = ("summary", "quotas")  # sheets with a builder of their own


def table_name(key: str) -> str:
    """The Excel table name of a sheet: `quota_factors` -> `QuotaFactors`."""
    return "".join(word.capitalize() for word in key.split("_"))


def _unique(headers: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for text in headers:
        seen[text] = seen.get(text, 0) + 1
        out.append(text if seen[text] == 1 else f"{text} ({seen[text]})")
    return out


@dataclass
class WorkbookWriter:
    """The open workbook, its formats and the plan: what every sheet builder writes with."""

    book: xlsxwriter.Workbook
    tables: PlanTables
    formats: dict[str, Format] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)  # the table sheets' rows as written
    items_per_rep: int | None = None  # Top items per rep, when the cell budget shortened the sheet

    def __post_init__(self) -> None:
        cfg = self.tables.settings.exports
        numbers = {MONEY: f'"{cfg.currency_symbol}"#,##0', PERCENT: cfg.percent_format, COUNT: COUNT_FORMAT,
                   DECIMAL: DECIMAL_FORMAT, SCORE: SCORE_FORMAT, DATE: DATE_FORMAT, "datetime": DATETIME_FORMAT}
        self.formats = {kind: self.book.add_format({"num_format": number}) for kind, number in numbers.items()}
        self.formats["bold"] = self.book.add_format({"bold": True})
        self.formats |= {f"bold_{kind}": self.book.add_format({"bold": True, "num_format": number})
                         for kind, number in numbers.items()}

    def kind_format(self, name: str, dtype: pl.DataType, bold: bool = False) -> Format | None:
        kind = "datetime" if isinstance(dtype, pl.Datetime) else column_kind(name, dtype)
        return self.formats.get(f"bold_{kind}" if bold else kind)

    def table(self, title: str, key: str, frame: pl.DataFrame,
              formulas: dict[str, Callable[[str], str]] | None = None) -> tuple[Worksheet, int]:
        """A sheet holding `frame` as the Excel table `table_name(key)`, formatted by column meaning;
        `formulas` maps a column to its formula (given the table name), written with the frame's value
        as the cached result. Returns the sheet and the first free row under the table."""
        sheet = self.book.add_worksheet(title)
        headers = _unique([header(c) for c in frame.columns])
        widths = column_widths_px(frame, headers, self.tables.settings.exports.max_column_width_px,
                                  sheet.default_date_width, frozenset(formulas or {}))
        for col, ((name, dtype), width) in enumerate(zip(frame.schema.items(), widths, strict=True)):
            sheet.set_column_pixels(col, col, width, self.kind_format(name, dtype))
        for row, values in enumerate(frame.iter_rows(), start=1):
            sheet.write_row(row, 0, values)
        name = table_name(key)
        for name_of_column, formula in (formulas or {}).items():
            col = frame.columns.index(name_of_column)
            text = formula(name)
            for row, value in enumerate(frame[name_of_column].to_list(), start=1):
                sheet.write_formula(row, col, text, None, value)
        last = max(frame.height, 1)
        sheet.add_table(0, 0, last, max(frame.width - 1, 0), {
            "name": name, "style": TABLE_STYLE, "autofilter": True, "columns": [{"header": h} for h in headers]})
        sheet.freeze_panes(1, 0)
        return sheet, last + 1 + GAP_ROWS

    def notes(self, sheet: Worksheet, first_row: int, notes: list[tuple[str, object]]) -> None:
        """Label / value lines under a table (dates as dates)."""
        for row, (label, value) in enumerate(notes, start=first_row):
            sheet.write_string(row, 0, label, self.formats["bold"])
            if isinstance(value, dt.datetime):
                sheet.write_datetime(row, 1, value, self.formats["datetime"])
            elif isinstance(value, dt.date):
                sheet.write_datetime(row, 1, dt.datetime.combine(value, dt.time()), self.formats[DATE])
            else:
                sheet.write_string(row, 1, str(value))


def _ref(table: str, column: str) -> str:
    return f"{table}[[#This Row],[{column}]]"


def summary_sheet(writer: WorkbookWriter) -> None:
    """Segments as a table; the total row and the plan's lineage under it, outside the table."""
    tables = writer.tables
    summary = tables.frame("summary")
    segments, total = summary.filter(pl.col("segment") != "total"), summary.filter(pl.col("segment") == "total")
    sheet, row = writer.table("Summary", "summary", segments)
    for col, (name, dtype) in enumerate(total.schema.items()):
        value = total[name][0] if total.height else None
        if col == 0:
            sheet.write_string(row, 0, "Total", writer.formats["bold"])
        elif value is not None:
            sheet.write_number(row, col, value, writer.kind_format(name, dtype, bold=True))
    writer.notes(sheet, row + 1 + GAP_ROWS, _lineage(writer))


def _lineage(writer: WorkbookWriter) -> list[tuple[str, object]]:
    tables = writer.tables
    run = tables.run
    start, end = tables.settings.plan_period()
    notes: list[tuple[str, object]] = [
        ("Plan", tables.plan_id), ("As of", run["as_of"]), ("Plan period from", start), ("Plan period to", end),
        ("Created", tables.created_at), ("Model version", run["model_version"]),
        ("Chosen model", tables.model.get("chosen", "")), ("Data fingerprint", run["data_fingerprint"]),
        ("Settings hash", run["settings_hash"]),
    ]
    if tables.model.get("fallback_reason"):
        notes.append(("Model fallback", tables.model["fallback_reason"]))
    if writer.items_per_rep is not None:
        notes.append(("Top items", f"the largest {writer.items_per_rep} per rep (exports.workbook_max_cells); "
                      "every item is in the CSV/Parquet files"))
    notes += [("Not in this workbook", f"{title}: too many rows, see the CSV/Parquet files")
              for title in writer.left_out]
    return notes


def quotas_sheet(writer: WorkbookWriter) -> None:
    """One row per rep; quota before rounding = factor x territory EEV and quota = that rounded to the
    plan's rounding, as formulas."""
    rounding = writer.tables.settings.quota_rounding
    factor, eev, unrounded = header("factor"), header("territory_eev"), header("quota_unrounded")
    writer.table("Quotas", "quotas", writer.tables.frame("quotas"), formulas={
        "quota_unrounded": lambda t: f"={_ref(t, factor)}*{_ref(t, eev)}",
        "quota": lambda t: f"=ROUND({_ref(t, unrounded)}/{rounding:g},0)*{rounding:g}",
    })


def table_sheets(writer: WorkbookWriter) -> None:
    """Every other table of the plan that fits the workbook, one sheet each, in the plan's order."""
    for sheet in writer.tables.sheets.values():
        if sheet.key in writer.frames:
            writer.table(sheet.title, sheet.key, writer.frames[sheet.key])


def _top_items_per_rep(frame: pl.DataFrame, items: int) -> pl.DataFrame:
    """The first `items` rows of each rep (the Top items frame is ordered by rep, largest EEV first)."""
    return frame.filter(pl.int_range(pl.len()).over("rep_id") < items)


def fit_to_budget(writer: WorkbookWriter) -> None:
    """Which table sheets the workbook holds (writer.frames), within exports.workbook_max_cells cells
    (rows x columns; Summary, Quotas and New adjustments are always written): the sheets in the plan's
    order while they fit; Top items, when whole it would not fit, keeps as many items per rep as fit
    (at least one); a sheet that does not fit goes to writer.left_out (CSV/Parquet only)."""
    cells_left = writer.tables.settings.exports.workbook_max_cells
    for sheet in writer.tables.sheets.values():
        frame = sheet.frame
        if sheet.key in WRITTEN_ELSEWHERE or frame is None:
            continue
        if sheet.key == "top_items" and frame.height * frame.width > cells_left:
            reps = frame["rep_id"].n_unique()
            writer.items_per_rep = max(1, cells_left // (reps * frame.width))
            frame = _top_items_per_rep(frame, writer.items_per_rep)
        if frame.height * frame.width > cells_left:
            writer.left_out.append(sheet.title)
            continue
        writer.frames[sheet.key] = frame
        cells_left -= frame.height * frame.width


def new_adjustments_sheet(writer: WorkbookWriter) -> None:
    """The New adjustments sheet, ready to fill in and read back by `quota-plan adjust`."""
    write_adjustments_sheet(writer.book, writer.tables)


SHEET_BUILDERS: list[Callable[[WorkbookWriter], None]] = [summary_sheet, quotas_sheet, table_sheets,
                                                          new_adjustments_sheet]


def write_workbook(tables: PlanTables, path: Path) -> list[str]:
    """The workbook of a plan; returns the titles of the tables too long for it (CSV/Parquet only)."""
    left_out = [s.title for s in tables.sheets.values() if s.frame is None and s.key != "whitespace_items"]
    with xlsxwriter.Workbook(str(path), WORKBOOK_OPTIONS) as book:
        book.set_properties({"title": f"Quota plan {tables.plan_id}", "author": "quota-plan",
                             "created": tables.created_at, "comments": f"plan as of {tables.run['as_of']}"})
        writer = WorkbookWriter(book, tables, left_out=left_out)
        fit_to_budget(writer)
        for build in SHEET_BUILDERS:
            build(writer)
    return writer.left_out
