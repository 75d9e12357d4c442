"""Exact duplicate rows of an input table: rows whose every column is equal (extra columns
included, values compared after the contract's type conversion, empty cells equal).

A subscription line given twice would double the account's ACV, a usage row given twice its
events; such rows are never summed silently. By default (`operations.duplicate_rows: reject`) they
break the rule 'no exact duplicate rows', counted as the extra copies (a row given three times
counts 2), with the table's key as example. With `set_aside` the first copy in file order is
loaded and the extra copies go to `SET_ASIDE`, a temp table of the load's connection, from which
the data-quality report takes them into work.rejected_rows and counts them (rows read = rows
loaded + rows set aside).

The count and the examples are plain SQL over the staged relation (Spark checks usage with the
same queries); setting copies aside is DuckDB's (it deletes rows of the staged temp table).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pipeline.ingestion.violations import EXAMPLES, Violation

if TYPE_CHECKING:
    import duckdb

    from pipeline.ingestion.ingest import SqlConnection, StagedTable

DuplicateRows = Literal["reject", "set_aside"]  # operations.duplicate_rows
RULE = "no exact duplicate rows"
ADVICE = "remove the extra copies, or set operations.duplicate_rows: set_aside to load one copy of each"
SET_ASIDE_TABLE = "_ingest_set_aside"
SET_ASIDE = f"temp.main.{SET_ASIDE_TABLE}"
SET_ASIDE_COLUMNS = "\"table\" VARCHAR, file VARCHAR, rule VARCHAR, example_key VARCHAR, record VARCHAR"
_COPY_ROWS = "temp.main._ingest_copy_rows"


def extra_copies(con: SqlConnection, table: StagedTable) -> int:
    """How many rows of the staged table repeat an earlier row exactly."""
    row = con.execute(f"SELECT coalesce(sum(__copies - 1), 0) FROM ({_repeated(table)}) AS repeated").fetchone()
    return int(row[0]) if row else 0


def duplicate_violation(con: SqlConnection, table: StagedTable) -> Violation | None:
    """The rule 'no exact duplicate rows' broken by the staged table, or None."""
    copies = extra_copies(con, table)
    if not copies:
        return None
    found = con.execute(
        f"SELECT DISTINCT {table.spec.key_sql()} AS example_key FROM ({_repeated(table)}) AS repeated "
        f"ORDER BY example_key LIMIT {EXAMPLES}"
    ).fetchall()
    return Violation(table.file_name, None, RULE, copies, tuple(str(r[0]) for r in found), advice=ADVICE)


def set_aside_duplicates(con: duckdb.DuckDBPyConnection, table: StagedTable, label: str) -> int:
    """Move the extra copies of each repeated row of the staged table into SET_ASIDE (file shown
    as `label`), keeping the first copy in file order; returns how many were moved."""
    copies = extra_copies(con, table)
    if not copies:
        return 0
    columns = ", ".join(_q(c) for c in table.columns)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {_COPY_ROWS} AS SELECT row_id FROM ("
        f"SELECT rowid AS row_id, row_number() OVER (PARTITION BY {columns} ORDER BY rowid) AS copy "
        f"FROM {table.relation}) WHERE copy > 1"
    )
    flags = [c for c in table.columns if c.startswith("__bad_")]
    data = f"* EXCLUDE ({', '.join(_q(c) for c in flags)})" if flags else "*"
    con.execute(f"CREATE TEMP TABLE IF NOT EXISTS {SET_ASIDE} ({SET_ASIDE_COLUMNS})")
    con.execute(
        f"INSERT INTO {SET_ASIDE} SELECT ?, ?, ?, {table.spec.key_sql()}, CAST(to_json(t) AS VARCHAR) "
        f"FROM (SELECT {data} FROM {table.relation} WHERE rowid IN (SELECT row_id FROM {_COPY_ROWS})) AS t",
        [table.spec.name, label, RULE],
    )
    con.execute(f"DELETE FROM {table.relation} WHERE rowid IN (SELECT row_id FROM {_COPY_ROWS})")
    con.execute(f"DROP TABLE {_COPY_ROWS}")
    return copies


def forget_set_aside(con: duckdb.DuckDBPyConnection) -> None:
    """Drop SET_ASIDE: a load starts with nothing set aside, and a failed load leaves nothing."""
    con.execute(f"DROP TABLE IF EXISTS {SET_ASIDE}")


def _repeated(table: StagedTable) -> str:
    """SQL: one row per repeated row of the staged table: its columns and `__copies`, how often it
    is given. Grouping every row by every column costs a hash table as large as the table, so the
    rows are first narrowed to those whose hash of all columns is given more than once (equal rows
    have equal hashes; found by sorting the hashes, the cheapest way to DuckDB, see docs/benchmarks.md),
    and only those few are grouped by their columns (so a hash collision is never a duplicate)."""
    columns = ", ".join(_q(c) for c in table.columns)
    hashes = f"SELECT hash({columns}) AS __hash FROM {table.relation}"
    repeated_hashes = (f"SELECT __hash FROM (SELECT __hash, lag(__hash) OVER (ORDER BY __hash) AS __previous "
                       f"FROM ({hashes}) AS hashed) AS sorted WHERE __hash = __previous")
    return (f"SELECT {columns}, count(*) AS __copies FROM {table.relation} "
            f"WHERE hash({columns}) IN ({repeated_hashes}) GROUP BY {columns} HAVING count(*) > 1")


def _q(identifier: str) -> str:
    """A quoted SQL identifier (an extra column's name comes from the file's header)."""
    return '"' + identifier.replace('"', '""') + '"'
