"""Each table of the export as `csv/<key>.csv` and `parquet/<key>.parquet`, written by DuckDB `COPY`
from the table's SQL (streamed: a million-account table never becomes a Python frame) or, for the
small tables built in memory, from the frame registered as a view; the CSV from the Parquet file when
it reads back with the same column types. Same query, same bytes."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from pipeline.exports.cells import csv_text_sql, literal, quoted
from pipeline.exports.sheets import PlanTables, Sheet

NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                 "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL")
FRAME_VIEW = "export_frame"
PART = ".part"


def _source(con: duckdb.DuckDBPyConnection, sheet: Sheet) -> str:
    if sheet.sql is not None:
        return sheet.sql
    con.register(FRAME_VIEW, sheet.frame)
    return f"SELECT * FROM {FRAME_VIEW}"


def write_table_files(con: duckdb.DuckDBPyConnection, tables: PlanTables, sheet: Sheet, csv_path: Path,
                      parquet_path: Path) -> None:
    """One table as Parquet (exact values) and CSV (text cells safe for spreadsheets, see cells.py)."""
    source = _source(con, sheet)
    params = {k: v for k, v in tables.params.items() if f"${k}" in source}
    con.execute(f"COPY ({source}) TO {literal(str(parquet_path))} (FORMAT parquet)", params)
    # the CSV from the Parquet file just written (in its row order), so the query runs once (at 1,000,000
    # accounts the whitespace items' query and sort were a third of the two files' time), when the file
    # reads back with the query's column types (a HUGEINT sum comes back DOUBLE: then the query again)
    written = f"SELECT * FROM read_parquet({literal(str(parquet_path))})"
    if _describe(con, written, {}) == _describe(con, source, params):
        _copy_csv(con, written, {}, csv_path)
    else:
        _copy_csv(con, source, params, csv_path)
    if sheet.sql is None:
        con.unregister(FRAME_VIEW)


def write_frame_csv(frame: pl.DataFrame, csv_path: Path) -> None:
    """A table built in memory as CSV, written as the export's tables are."""
    with duckdb.connect() as con:
        con.register(FRAME_VIEW, frame)
        _copy_csv(con, f"SELECT * FROM {FRAME_VIEW}", {}, csv_path)


def _describe(con: duckdb.DuckDBPyConnection, source: str, params: dict) -> list[tuple]:
    """(name, type, ...) of each column of `source` (the query is planned, not run)."""
    return con.execute(f"DESCRIBE ({source})", params).fetchall()


def _copy_csv(con: duckdb.DuckDBPyConnection, source: str, params: dict, csv_path: Path) -> None:
    """The rows of `source` as CSV: numbers bare, every other cell quoted, text cells formula-safe."""
    columns = _describe(con, source, params)
    numeric = {name for name, dtype, *_ in columns if dtype.startswith(NUMERIC_TYPES)}
    text = {name for name, dtype, *_ in columns if dtype == "VARCHAR"}
    select = ", ".join(csv_text_sql(name) if name in text else quoted(name) for name, *_ in columns)
    quote = [quoted(name) for name, *_ in columns if name not in numeric]
    # PRESERVE_ORDER: the rows in the source's ORDER BY (without it, a large table's parallel write came out
    # in a different order run to run: 766,763 whitespace items at 100,000 accounts)
    options = "FORMAT csv, HEADER false, PRESERVE_ORDER true" + (f", FORCE_QUOTE ({', '.join(quote)})" if quote else "")
    part = csv_path.with_name(csv_path.name + PART)
    con.execute(f"COPY (SELECT {select} FROM ({source})) TO {literal(str(part))} ({options})", params)
    with csv_path.open("wb") as out, part.open("rb") as body:
        out.write((",".join(quoted(name) for name, *_ in columns) + "\n").encode())
        while chunk := body.read(1 << 20):
            out.write(chunk)
    part.unlink()
