"""The workbook's New adjustments sheet: the adjustments file of `quota-plan adjust`, ready to fill
in (docs/adjustments.md).

Row 1 holds the file's columns (kind, rep_id, account_id, value, reason), the rows below are
empty; `quota-plan adjust PLAN_ID --from <this workbook>` reads them back. Data validation offers
the kinds and the plan's rep ids in their columns. Beside them, after an empty column (where the
reading stops), the reference an analyst fills the sheet from: the plan's reps with their
segment, capacity, factor and quota, and what each kind changes.
"""

from __future__ import annotations

import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from pipeline.exports.sheets import PlanTables
from pipeline.plan.adjustments import COLUMNS, KINDS, SHEET

EXCEL_LAST_ROW = 1_048_575  # the last row of a sheet (0-based): validation covers every row below the header
REP_COLUMNS = {"rep_id": "Rep id", "name": "Name", "segment": "Segment", "capacity": "Capacity", "factor": "Factor",
               "quota": "Quota"}
FILL_IN_WIDTH, REFERENCE_WIDTH, KIND_TEXT_WIDTH = 18, 14, 90  # column widths, in characters


def write_adjustments_sheet(book: xlsxwriter.Workbook, tables: PlanTables) -> None:
    """Add the New adjustments sheet of plan `tables` to the workbook."""
    sheet = book.add_worksheet(SHEET)
    header = book.add_format({"bold": True, "bottom": 1})
    money = book.add_format({"num_format": f'"{tables.settings.exports.currency_symbol}"#,##0'})
    percent = book.add_format({"num_format": tables.settings.exports.percent_format})
    for column, name in enumerate(COLUMNS):
        sheet.write_string(0, column, name, header)
    sheet.set_column(0, len(COLUMNS) - 1, FILL_IN_WIDTH)
    sheet.freeze_panes(1, 0)

    reps = tables.frame("quotas").select(*REP_COLUMNS)
    first = len(COLUMNS) + 1  # one empty column: the reading stops at the first empty header
    formats = {"capacity": percent, "factor": percent, "quota": money}
    for offset, (name, title) in enumerate(REP_COLUMNS.items()):
        sheet.write_string(0, first + offset, title, header)
        for row, value in enumerate(reps[name].to_list(), start=1):
            sheet.write(row, first + offset, value, formats.get(name))
    sheet.set_column(first, first + len(REP_COLUMNS) - 1, REFERENCE_WIDTH)

    kinds = first + len(REP_COLUMNS) + 1
    sheet.write_string(0, kinds, "Kind", header)
    sheet.write_string(0, kinds + 1, "What it changes (value)", header)
    for row, (kind, meaning) in enumerate(KINDS.items(), start=1):
        sheet.write_string(row, kinds, kind)
        sheet.write_string(row, kinds + 1, meaning)
    sheet.set_column(kinds, kinds, FILL_IN_WIDTH)
    sheet.set_column(kinds + 1, kinds + 1, KIND_TEXT_WIDTH)

    sheet.data_validation(1, COLUMNS.index("kind"), EXCEL_LAST_ROW, COLUMNS.index("kind"), {
        "validate": "list", "source": list(KINDS), "error_title": "Unknown kind",
        "error_message": "Choose one of the kinds listed on the right of this sheet."})
    if reps.height:
        rep_ids = (f"={xl_rowcol_to_cell(1, first, row_abs=True, col_abs=True)}:"
                   f"{xl_rowcol_to_cell(reps.height, first, row_abs=True, col_abs=True)}")
        sheet.data_validation(1, COLUMNS.index("rep_id"), EXCEL_LAST_ROW, COLUMNS.index("rep_id"), {
            "validate": "list", "source": rep_ids, "error_title": "Unknown rep",
            "error_message": f"Choose a rep of plan {tables.plan_id} (listed on the right of this sheet)."})
