"""Spark as the engine of the heavy SQL: each transpiled transform gives the DuckDB rows on
Spark local[2], and a plan made with `engine.name: spark` is the DuckDB plan.

Tolerance: floats compare within 1e-9 relative (and 1e-9 absolute, for values near 0); the two
engines add floats in different orders, so the last bits of sums and averages may differ.
Everything else (keys, texts, dates, integers) must be equal."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipeline import warehouse
from pipeline.ingest import ingest_inputs
from pipeline.runner import run_plan
from pipeline.settings import DEFAULT_CONFIG, load_settings
from pipeline.spark_engine import SparkEngine
from pipeline.spark_sql import SPARK_TRANSFORMS, spark_sql, tables_read
from pipeline.staging import account_state_params, build_steps, write_segment_bands
from tests.builders import export_plan_tables, settings_with

pytest.importorskip("pyspark", reason="the Spark tests need pyspark: make test installs it")

REL_TOL = ABS_TOL = 1e-9


def partitioned_usage(source: Path, target: Path) -> Path:
    """A copy of an input folder whose usage is a month-partitioned Parquet dataset
    (usage/month=YYYY-MM/*.parquet), the layout a data lake keeps usage in."""
    shutil.copytree(source, target)
    usage = next(target.glob("usage.*"))
    with duckdb.connect() as con:
        con.execute(f"""COPY (SELECT *, strftime(CAST("date" AS DATE), '%Y-%m') AS month
                              FROM read_csv('{usage}', all_varchar = true))
                        TO '{target / "usage"}' (FORMAT parquet, PARTITION_BY (month))""")
    usage.unlink()
    return target


@pytest.fixture(scope="module")
def lake_inputs(sample_inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return partitioned_usage(sample_inputs, tmp_path_factory.mktemp("lake") / "input")


@pytest.fixture(scope="module")
def both_engines(lake_inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB file with every Spark transform built by DuckDB (schema work) and, each from the
    same DuckDB-built inputs, by Spark (schema spark)."""
    settings = load_settings(DEFAULT_CONFIG)
    db = tmp_path_factory.mktemp("engines") / "engines.duckdb"
    with warehouse.connect(db) as con:
        ingest_inputs(con, lake_inputs)
        write_segment_bands(con, settings)
        build_steps(con, settings, ["snapshot_dates", *SPARK_TRANSFORMS])
        con.execute("CREATE SCHEMA spark")
        engine = SparkEngine(settings.engine.spark, lake_inputs / "usage")
        for name in SPARK_TRANSFORMS:
            params = account_state_params(settings, con) if name == "account_state" else settings.sql_params()
            engine.build(con, name, params, schema="spark")
    return db


def _rows(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    rows = con.execute(f"SELECT * FROM {table}").fetchall()
    return sorted(rows, key=lambda row: [(v is None, v if v is not None else 0) for v in row])


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return a == b


@pytest.mark.parametrize("name", SPARK_TRANSFORMS)
def test_transpiled_transform_gives_the_duckdb_rows_on_spark(both_engines: Path, name: str):
    with warehouse.connect(both_engines, read_only=True) as con:
        duck_types = con.execute(f"DESCRIBE work.{name}").fetchall()
        assert con.execute(f"DESCRIBE spark.{name}").fetchall() == duck_types
        on_duckdb, on_spark = _rows(con, f"work.{name}"), _rows(con, f"spark.{name}")
    assert len(on_duckdb) == len(on_spark) > 0
    differing = [(d, s) for d, s in zip(on_duckdb, on_spark, strict=True)
                 if not all(_same(a, b) for a, b in zip(d, s, strict=True))]
    assert not differing, f"{len(differing)} rows differ, e.g. {differing[:2]}"


def test_spark_reads_usage_from_the_input_dataset_not_the_warehouse():
    assert ("raw", "usage") in tables_read("usage_features")
    sql = spark_sql("usage_features", load_settings(DEFAULT_CONFIG).sql_params())
    assert "raw_usage" in sql and "raw.usage" not in sql and "$" not in sql


def test_plan_with_spark_engine_equals_the_duckdb_plan(lake_inputs: Path, tmp_path: Path):
    """Byte for byte: the same current-plan tables (model versions included) from the same inputs."""
    on_duckdb = run_plan(lake_inputs, DEFAULT_CONFIG, tmp_path / "duck.duckdb", instance=dg.DagsterInstance.ephemeral())
    config = settings_with(tmp_path, section="engine", name="spark")
    instance = dg.DagsterInstance.ephemeral()
    on_spark = run_plan(lake_inputs, config, tmp_path / "spark.duckdb", instance=instance)
    engines = {
        name: instance.get_latest_materialization_event(dg.AssetKey(name)).asset_materialization.metadata["engine"].value
        for name in SPARK_TRANSFORMS
    }
    assert engines == dict.fromkeys(SPARK_TRANSFORMS, "spark")
    assert export_plan_tables(on_spark.db, tmp_path / "spark") == export_plan_tables(on_duckdb.db, tmp_path / "duck")
