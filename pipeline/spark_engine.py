"""Spark as the engine of the heavy transforms (`engine.name: spark` in the plan settings).

A transform runs on Spark as `pipeline.spark_sql` prints it. Spark reads the usage dataset
where it lies (the input folder's usage file or Parquet folder, or `engine.spark.usage_path` on
a cluster's storage); every other table it reads is per account or smaller and is sent from the
DuckDB file through Arrow. The result comes back into the DuckDB file as `work.<name>`, with
exactly the column types the DuckDB transform would give, so every later step reads the same
table whichever engine built it. pyspark is optional (`pip install '.[spark]'`) and imported
only when Spark is used.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from pipeline import progress
from pipeline.contract import TABLES
from pipeline.settings import SparkSettings
from pipeline.spark_sql import inline_params, spark_sql, tables_read, view_name
from pipeline.warehouse import sql_text

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# Spark settings the transforms rely on: DuckDB's NULL-on-error arithmetic (x / 0, a list index
# out of range) rather than ANSI errors, and no UI port on shared machines. Settings may override.
SESSION_DEFAULTS = {
    "spark.sql.ansi.enabled": "false",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
WIDE_INTEGERS = ("HUGEINT", "UHUGEINT", "UBIGINT")
USAGE_TYPES = {"VARCHAR": "string", "BIGINT": "bigint", "DOUBLE": "double", "DATE": "date", "BOOLEAN": "boolean"}


class SparkUnavailableError(RuntimeError):
    """engine.name is spark but pyspark (or Java) is not there."""


@functools.cache
def spark_session(master: str, app_name: str, options: tuple[tuple[str, str], ...]) -> SparkSession:
    """The process's Spark session for these settings (started once: a JVM takes seconds)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SparkUnavailableError(
            "engine.name is spark but pyspark is not installed: pip install '.[spark]' (needs Java 17+)"
        ) from exc
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in {**SESSION_DEFAULTS, **dict(options)}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


class SparkEngine:
    """Runs `sql/` transforms on Spark for one DuckDB warehouse and one usage source."""

    def __init__(self, settings: SparkSettings, usage_source: str | Path | None) -> None:
        self.settings = settings
        self.usage_source = settings.usage_path or (str(usage_source) if usage_source else None)

    @property
    def session(self) -> SparkSession:
        s = self.settings
        return spark_session(s.master, s.app_name, tuple(sorted(s.options.items())))

    def build(self, con: duckdb.DuckDBPyConnection, name: str, params: Mapping[str, Any], schema: str = "work") -> int:
        """Run transform `name` on Spark into `<schema>.<name>` of the DuckDB file; its row count."""
        started = time.perf_counter()
        for table_schema, table in tables_read(name):
            frame = self._usage() if (table_schema, table) == ("raw", "usage") else self._from_duckdb(
                con, f"{table_schema}.{table}")
            frame.createOrReplaceTempView(view_name(table_schema, table))
        result = self.session.sql(spark_sql(name, params)).toArrow()
        columns = duckdb_columns(con, name, params)
        casts = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in columns)
        con.register("spark_result", result)
        try:
            con.execute(f"CREATE OR REPLACE TABLE {schema}.{name} AS SELECT {casts} FROM spark_result")
        finally:
            con.unregister("spark_result")
        progress.step(f"spark {name}", f"{result.num_rows:,} rows", time.perf_counter() - started)
        return result.num_rows

    def _from_duckdb(self, con: duckdb.DuckDBPyConnection, table: str) -> DataFrame:
        """A warehouse table as a Spark frame; HUGEINT (DuckDB's integer sums) travels as BIGINT,
        since Spark would read it as DECIMAL(38, 0) and divide it as a decimal."""
        described = con.execute(f"DESCRIBE {table}").fetchall()
        columns = ", ".join(
            f'CAST("{row[0]}" AS BIGINT) AS "{row[0]}"' if row[1] in WIDE_INTEGERS else f'"{row[0]}"'
            for row in described
        )
        return self.session.createDataFrame(con.execute(f"SELECT {columns} FROM {table}").fetch_arrow_table())

    def _usage(self) -> DataFrame:
        """The usage dataset with the contract's columns and types (an absent one: empty)."""
        spec = TABLES["usage"]
        if self.usage_source is None:
            columns = ", ".join(f"CAST(NULL AS {USAGE_TYPES[c.type]}) AS {c.name}" for c in spec.columns)
            return self.session.sql(f"SELECT {columns} LIMIT 0")
        source = self.usage_source
        reader = self.session.read
        if source.endswith(".csv"):
            frame = reader.option("header", True).csv(source)
        else:
            frame = reader.parquet(source)
        return frame.selectExpr(*(
            f"CAST(NULLIF(CAST({c.name} AS string), '') AS string) AS {c.name}" if c.type == "VARCHAR"
            else f"CAST({c.name} AS {USAGE_TYPES[c.type]}) AS {c.name}"
            for c in spec.columns
        ))


def duckdb_columns(con: duckdb.DuckDBPyConnection, name: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(column, DuckDB type) of what transform `name` gives on DuckDB (planned, not run)."""
    described = con.execute(f"DESCRIBE {inline_params(sql_text(name), params)}").fetchall()
    return [(str(row[0]), str(row[1])) for row in described]
