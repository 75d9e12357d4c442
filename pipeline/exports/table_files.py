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


def _source(con: duckdb.DuckDBPyConnection, sheet: Sheet, params: dict) -> str:
    """The SQL the table's files are written from: its frame when it is in memory with the query's column
    types (the query then runs once: at 1,000,000 accounts the top items' ranking took 3 s; a HUGEINT
    sum comes back from polars as DECIMAL, then the query again), else its query."""
    if sheet.frame is None:
        return sheet.sql
    con.register(FRAME_VIEW, sheet.frame)
    frame_sql = f"SELECT * FROM {FRAME_VIEW}"
    if sheet.sql is None or _describe(con, frame_sql, {}) == _describe(con, sheet.sql, _used(params, sheet.sql)):
        return frame_sql
    return sheet.sql


def _used(params: dict, sql: str) -> dict:
    return {k: v for k, v in params.items() if f"${k}" in sql}


def write_table_files(con: duckdb.DuckDBPyConnection, tables: PlanTables, sheet: Sheet, csv_path: Path,
                      parquet_path: Path) -> None:
    """One table as Parquet (exact values) and CSV (text cells safe for spreadsheets, see cells.py)."""
    source = _source(con, sheet, tables.params)
    params = _used(tables.params, source)
    con.execute(f"COPY ({source}) TO {literal(str(parquet_path))} (FORMAT parquet)", params)
    # the CSV from the Parquet file just written (in its row order), so the query runs once (at 1,000,000
    # accounts the whitespace items' query and sort were a third of the two files' time), when the file
    # reads back with the query's column types (a HUGEINT sum comes back DOUBLE: then the query again)
    written = f"SELECT * FROM read_parquet({literal(str(parquet_path))})"
    if _describe(con, written, {}) == _describe(con, source, params):
        _copy_csv(con, written, {}, csv_path)
    else:
        _copy_csv(con, source, params, csv_path)
    if sheet.frame is not None:
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
