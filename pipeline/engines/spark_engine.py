"""Spark as the engine of the heavy transforms (`engine.name: spark` in the plan settings).

A transform runs on Spark as `pipeline.engines.spark_sql` prints it. Spark reads the usage dataset
where it lies (the input folder's usage file or Parquet folder, or `engine.spark.usage_path` on
a cluster's storage); every other table it reads is per account or smaller and is sent from the
DuckDB file through Arrow. The result comes back into the DuckDB file as `work.<name>`, with
exactly the column types the DuckDB transform would give, so every later step reads the same
table whichever engine built it. pyspark is optional (`pip install '.[spark]'`) and imported
only when Spark is used.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
from sqlglot import exp

from pipeline.core.settings import SparkSettings
from pipeline.core.sql_graph import tables_read
from pipeline.core.warehouse import sql_text
from pipeline.engines.spark_sql import inline_params, spark_sql, to_spark, view_name
from pipeline.ingestion.contract import SQL_TYPES, TABLES
from pipeline.ingestion.ingest import InputContractError, Violation, check_rules, date_window, staging_plan

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
SPARK_TO_DUCKDB_TYPES = {
    "string": "VARCHAR", "bigint": "BIGINT", "int": "INTEGER", "smallint": "SMALLINT", "tinyint": "TINYINT",
    "double": "DOUBLE", "float": "FLOAT", "date": "DATE", "timestamp": "TIMESTAMP", "timestamp_ntz": "TIMESTAMP",
    "boolean": "BOOLEAN",
}
# the contract's column types as Spark names (VARCHAR -> string, ...)
CONTRACT_SPARK_TYPES = {duck: spark for spark, duck in SPARK_TO_DUCKDB_TYPES.items() if duck in SQL_TYPES}


class SparkUnavailableError(RuntimeError):
    """engine.name is spark but Spark cannot start: pyspark or Java missing, a bad master URL."""


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
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # no Java, a wrong master URL, a cluster that refuses the driver
        raise SparkUnavailableError(
            f"could not start Spark with master {master!r} (engine.spark.master): {str(exc).strip()[:300]}; "
            "Spark 4 needs Java 17+ on PATH or in JAVA_HOME"
        ) from exc
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
        return result.num_rows

    def check_usage(self, con: duckdb.DuckDBPyConnection, start: dt.date | None, end: dt.date | None) -> int:
        """Check the usage rows dated in [start, end) (None: unbounded) on Spark against every
        usage rule of the contract: the rules and staging casts a DuckDB load uses, transpiled.
        Raise InputContractError (file, column, rule, count, example keys) when any breaks;
        return the rows checked. Nothing is copied: the roll-up reads the dataset in place."""
        if self.usage_source is None:
            return 0
        from py4j.protocol import Py4JJavaError
        from pyspark.errors import PySparkException

        spec, path = TABLES["usage"], Path(self.usage_source)
        try:
            source = self._usage_source()
            source.createOrReplaceTempView("usage_source")
            source_types = {f.name.lower(): duckdb_type(f.dataType.simpleString()) for f in source.schema.fields}
            items, staged, problems = staging_plan(spec, path, source_types)
            runner = SparkSql(self.session)
            runner.execute(f'CREATE OR REPLACE TEMP VIEW {staged.relation} AS SELECT * FROM (SELECT '
                           f'{", ".join(items)} FROM usage_source) WHERE "date" IS NULL OR ({date_window(start, end)})')
            self._from_duckdb(con, "raw.accounts").createOrReplaceTempView(view_name("raw", "accounts"))
            rows, violations = check_rules(runner, {"usage": staged}, loaded={"accounts": "raw.accounts"})
        except (PySparkException, Py4JJavaError) as exc:  # unreadable: missing, not Parquet, mixed types
            reason = " ".join(str(exc).strip().splitlines()[:1])[:500]
            raise InputContractError([Violation(path.name, None, "readable", None, detail=reason)]) from exc
        if problems or violations:
            raise InputContractError(problems + violations)
        return rows["usage"]

    def _usage_source(self) -> DataFrame:
        """The usage dataset as stored: Parquet (a file or a partitioned folder) with its own
        types, or CSV as text."""
        source = str(self.usage_source)
        if source.endswith(".csv"):
            return self.session.read.option("header", True).csv(source)
        return self.session.read.parquet(source)

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
            columns = ", ".join(f"CAST(NULL AS {CONTRACT_SPARK_TYPES[c.type]}) AS {c.name}" for c in spec.columns)
            return self.session.sql(f"SELECT {columns} LIMIT 0")
        return self._usage_source().selectExpr(*(
            f"NULLIF(CAST({c.name} AS string), '') AS {c.name}" if c.type == "VARCHAR"
            else f"CAST({c.name} AS {CONTRACT_SPARK_TYPES[c.type]}) AS {c.name}"
            for c in spec.columns
        ))


class SparkSql:
    """Runs DuckDB-dialect SQL on Spark with the interface the contract checks use."""

    def __init__(self, session: SparkSession) -> None:
        self.session = session

    def execute(self, query: str, /) -> SparkRows:
        return SparkRows([tuple(row) for row in self.session.sql(to_spark(query)).collect()])


class SparkRows:
    def __init__(self, rows: list[tuple]) -> None:
        self.rows = rows

    def fetchone(self) -> tuple | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[tuple]:
        return self.rows


def duckdb_type(spark_type: str) -> str:
    """A Spark column type (simpleString) under the DuckDB name the staging casts expect."""
    return SPARK_TO_DUCKDB_TYPES.get(spark_type) or exp.DataType.build(spark_type, dialect="spark").sql("duckdb")


def duckdb_columns(con: duckdb.DuckDBPyConnection, name: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(column, DuckDB type) of what transform `name` gives on DuckDB (planned, not run)."""
    described = con.execute(f"DESCRIBE {inline_params(sql_text(name), params)}").fetchall()
    return [(str(row[0]), str(row[1])) for row in described]
