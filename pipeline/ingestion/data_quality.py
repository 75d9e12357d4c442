"""The data-quality report of a run: rows read per file, set aside by rule (with example keys),
derived, loaded, and what the plan does without (no usage, renewal dates or owners).

Written as work.data_quality and work.rejected_rows (the rows set aside, each as JSON), both
versioned with the plan (pipeline/plan/store.py) and printed in the run summary. Nothing is
dropped silently: every row read is either loaded or counted here under the rule that set it
aside (a source mapping's set-aside rules, and the extra copies of exact duplicate rows when
operations.duplicate_rows is set_aside, which the load leaves in its connection's
`duplicates.SET_ASIDE`).
"""

from __future__ import annotations

import duckdb
import polars as pl

from pipeline.ingestion.duplicates import RULE as DUPLICATE_RULE
from pipeline.ingestion.duplicates import SET_ASIDE, SET_ASIDE_COLUMNS, SET_ASIDE_TABLE
from pipeline.ingestion.ingest import IngestResult
from pipeline.ingestion.map_inputs import REJECTED_FILE, MappedInputs, QualityRow
from pipeline.ingestion.violations import EXAMPLES

# (table, what the plan does without it, SQL counting the rows concerned; 0 = not degraded)
DEGRADATIONS: tuple[tuple[str, str, str], ...] = (
    (
        "usage", "no usage table: the model uses no usage features",
        "SELECT CASE WHEN bool_or(has_usage) THEN 0 ELSE (SELECT count(*) FROM raw.accounts) END FROM raw.input_files",
    ),
    (
        "accounts", "no renewal date: no blackout window for these accounts",
        "SELECT count(*) FILTER (WHERE renewal_date IS NULL) FROM raw.accounts",
    ),
    (
        "accounts",
        ("no current owner (self-serve ones included): an expansion account without one is "
         "placed fresh, not rebalanced from its owner (see 'new placed' per segment)"),
        "SELECT count(*) FILTER (WHERE owner_id IS NULL) FROM raw.accounts",
    ),
)
SCHEMA = {"step": pl.String, "table": pl.String, "file": pl.String, "rule": pl.String, "rows": pl.Int64,
          "examples": pl.String}
REJECTED_SCHEMA = SET_ASIDE_COLUMNS  # the columns of work.rejected_rows


def record_data_quality(
    con: duckdb.DuckDBPyConnection, ingest: IngestResult, mapped: MappedInputs | None
) -> None:
    """Write work.data_quality (in report order, `position` first) and work.rejected_rows."""
    if mapped is None:
        report = [QualityRow("read", t, ingest.files[t], "", n) for t, n in ingest.read.items() if t in ingest.files]
    else:
        report = list(mapped.report)
    report += _set_aside_lines(con)
    report += [QualityRow("loaded", t, f"raw.{t}", "", n) for t, n in ingest.tables.items()]
    for table, rule, sql in DEGRADATIONS:
        row = con.execute(sql).fetchone()
        if row and row[0]:
            report.append(QualityRow("degraded", table, "", rule, int(row[0])))
    quality = pl.DataFrame(  # noqa: F841  (read by the SQL below)
        [(r.step, r.table, r.file, r.rule, r.rows, r.examples) for r in report], schema=SCHEMA, orient="row"
    ).with_row_index("position", offset=1)
    con.execute("CREATE OR REPLACE TABLE work.data_quality AS SELECT * FROM quality ORDER BY position")
    con.execute(f"CREATE OR REPLACE TABLE work.rejected_rows ({REJECTED_SCHEMA})")
    if mapped is not None:
        rejected = str(mapped.folder / REJECTED_FILE)
        con.execute("INSERT INTO work.rejected_rows SELECT * FROM read_parquet(?)", [rejected])
    _keep_set_aside(con)


def record_usage_load(con: duckdb.DuckDBPyConnection, file: str, weeks: str, rows: int) -> None:
    """Add the weekly usage load (it runs after the other tables) to work.data_quality: the
    extra copies of duplicate rows it set aside (also added to work.rejected_rows, replacing those
    of an earlier usage load), then the rows loaded."""
    lines = [*_set_aside_lines(con), QualityRow("loaded", "usage", file, f"weeks {weeks}", rows)]
    con.executemany(
        "INSERT INTO work.data_quality SELECT coalesce(max(position), 0) + 1, ?, ?, ?, ?, ?, ? FROM work.data_quality",
        [[r.step, r.table, r.file, r.rule, r.rows, r.examples] for r in lines],
    )
    con.execute("DELETE FROM work.rejected_rows WHERE \"table\" = 'usage' AND rule = ?", [DUPLICATE_RULE])
    _keep_set_aside(con)


def _set_aside_lines(con: duckdb.DuckDBPyConnection) -> list[QualityRow]:
    """One 'set aside' line per table and rule of the rows the last load set aside (none: empty)."""
    if not _has_set_aside(con):
        return []
    found = con.execute(
        f"SELECT \"table\", file, rule, count(*), list(DISTINCT example_key ORDER BY example_key)[:{EXAMPLES}] "
        f"FROM {SET_ASIDE} GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    return [QualityRow("set aside", t, file, rule, int(n), ", ".join(map(str, keys))) for t, file, rule, n, keys in found]


def _keep_set_aside(con: duckdb.DuckDBPyConnection) -> None:
    """Add the rows the last load set aside to work.rejected_rows."""
    if _has_set_aside(con):
        con.execute(f"INSERT INTO work.rejected_rows SELECT * FROM {SET_ASIDE} ORDER BY ALL")


def _has_set_aside(con: duckdb.DuckDBPyConnection) -> bool:
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?", [SET_ASIDE_TABLE]
    ).fetchone()
    return bool(found and found[0])
