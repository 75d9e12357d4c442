"""Text from the data as spreadsheet cells that stay text (docs/threat-model.md, "Spreadsheet
cells"; OWASP, CSV Injection).

A name such as `=HYPERLINK("http://...","click")` must not become a live formula or link:
- Workbook: every string is written as a string cell (xlsxwriter would otherwise turn text
  starting with `=` into a formula and text starting with `http://` into a hyperlink), so
  Excel shows the text as it is in the data.
- CSV: a text cell that starts with one of FORMULA_STARTS gets a single quote in front
  (`'=HYPERLINK(...)`), and every text, date and boolean cell and the header are written in
  double quotes (so a `;` inside a name does not start a new cell where Excel reads CSV with
  `;`). Numbers are numbers: a negative amount stays `-1200.0`. The Parquet files keep the
  exact values. Both are written by DuckDB `COPY` (pipeline.exports.table_files), streamed.
"""

from __future__ import annotations

FORMULA_STARTS = "=+-@\t\r"  # OWASP: a cell starting with one of these may run as a formula
TEXT_PREFIX = "'"
WORKBOOK_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}


def quoted(identifier: str) -> str:
    """A quoted SQL identifier (a name from the catalog), any `"` in it doubled."""
    return '"' + identifier.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A SQL string literal (for a file path in COPY), any `'` in it doubled."""
    return "'" + text.replace("'", "''") + "'"


def csv_text_sql(column: str) -> str:
    """The SQL of a text column as a CSV cell: TEXT_PREFIX in front when it starts like a formula (one
    anchored regexp_replace: at 7.7M whitespace items a CASE on left() took 9 s more than plain text)."""
    starts = "".join(f"\\x{ord(c):02x}" for c in FORMULA_STARTS)  # each as \xhh in one character class
    name, pattern, replacement = quoted(column), literal(f"^([{starts}])"), literal(TEXT_PREFIX + r"\1")
    return f"regexp_replace({name}, {pattern}, {replacement}) AS {name}"
