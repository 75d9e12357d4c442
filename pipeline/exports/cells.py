"""Text from the data as spreadsheet cells that stay text (docs/threat-model.md, "Spreadsheet
cells"; OWASP, CSV Injection).

A name such as `=HYPERLINK("http://...","click")` must not become a live formula or link:
- Workbook: every string is written as a string cell (xlsxwriter would otherwise turn text
  starting with `=` into a formula and text starting with `http://` into a hyperlink), so
  Excel shows the text as it is in the data.
- CSV: a text cell that starts with one of FORMULA_STARTS gets a single quote in front
  (`'=HYPERLINK(...)`), and every text cell is written in double quotes (so a `;` inside a
  name does not start a new cell where Excel reads CSV with `;`). Numbers are numbers: a
  negative amount stays `-1200.0`. The Parquet files keep the exact values.
"""

from __future__ import annotations

import polars as pl

FORMULA_STARTS = "=+-@\t\r"  # OWASP: a cell starting with one of these may run as a formula
TEXT_PREFIX = "'"
WORKBOOK_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
CSV_QUOTE_STYLE = "non_numeric"  # every text, date and boolean cell in double quotes; numbers bare


def csv_text(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with TEXT_PREFIX in front of every text cell that starts with a formula character."""
    text = pl.col(pl.String, pl.Categorical, pl.Enum).cast(pl.String)
    formula = text.str.head(1).is_in(list(FORMULA_STARTS))
    return frame.with_columns(pl.when(formula).then(TEXT_PREFIX + text).otherwise(text).name.keep())


def write_csv(frame: pl.DataFrame, path: str) -> None:
    """One table as CSV for other tools, its text cells safe to open in a spreadsheet."""
    csv_text(frame).write_csv(path, quote_style=CSV_QUOTE_STYLE)
