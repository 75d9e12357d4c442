"""Spark as the engine of the heavy SQL: each transpiled transform gives the DuckDB rows on
Spark local[2], and a plan made with `engine.name: spark` is the DuckDB plan.

Tolerance: floats compare within 1e-9 relative (and 1e-9 absolute, for values near 0); the two
engines add floats in different orders, so the last bits of sums and averages may differ.
Everything else (keys, texts, dates, integers) must be equal."""

from __future__ import annotations

import csv
import math
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipeline.core import warehouse
from pipeline.core.settings import load_settings
from pipeline.core.sql_graph import tables_read
from pipeline.engines.spark_engine import SparkEngine
from pipeline.engines.spark_sql import SPARK_TRANSFORMS, TranspileError, spark_sql, to_spark
from pipeline.ingestion.duplicates import ADVICE, RULE
from pipeline.ingestion.ingest import InputContractError, ingest_inputs, ingest_usage_window, input_file
from pipeline.ingestion.usage_weeks import changed_weeks, usage_weeks
from pipeline.runner import PlanOutcome, PlanRunError, run_plan
from pipeline.sample_data import generate_sample
from pipeline.staging.state import account_state_params, write_segment_bands
from tests.builders import TEST_CONFIG, edge_inputs, export_plan_tables, settings_with
from tests.staged import build_steps

REL_TOL = ABS_TOL = 1e-9


def partitioned_usage(source: Path, target: Path) -> Path:
    """A copy of an input folder whose usage is a month-partitioned Parquet dataset
    (usage/month=YYYY-MM/*.parquet), the layout a data lake keeps usage in."""
    shutil.copytree(source, target)
    usage = next(target.glob("usage.*"))
    with duckdb.connect() as con:
        con.execute(f"""COPY (SELECT account_id, product_id, CAST("date" AS DATE) AS "date",
                                     CAST(active_users AS BIGINT) AS active_users, CAST(events AS BIGINT) AS events,
                                     strftime(CAST("date" AS DATE), '%Y-%m') AS month
                              FROM read_csv('{usage}', all_varchar = true))
                        TO '{target / "usage"}' (FORMAT parquet, PARTITION_BY (month))""")
    usage.unlink()
    return target


SPARK_SAMPLE_ACCOUNTS = 250  # Spark's time here grows with the usage rows; every transform still gives rows


@pytest.fixture(scope="module")
def spark_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 250-account sample (seed 11, 55,083 usage rows): smaller than the session's 800-account
    one, since Spark's checks and transforms take seconds per 100,000 usage rows on 2 cores."""
    folder = tmp_path_factory.mktemp("spark_sample") / "input"
    generate_sample(folder, accounts=SPARK_SAMPLE_ACCOUNTS, seed=11)
    return folder


@pytest.fixture(scope="module")
def lake_inputs(spark_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return partitioned_usage(spark_sample, tmp_path_factory.mktemp("lake") / "input")


@pytest.fixture(scope="module")
def lake_plans(lake_inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dg.DagsterInstance, PlanOutcome]]:
    """The lake planned twice from the same files, with `engine.name: duckdb` and `spark`, each
    with its Dagster instance; each plan's DuckDB file keeps the transforms it built in work.*."""
    plans = {}
    for engine in ("duckdb", "spark"):
        folder = Path(tmp_path_factory.mktemp(f"{engine}_plan"))
        instance = dg.DagsterInstance.ephemeral()
        config = settings_with(folder, section="engine", name=engine)
        plans[engine] = instance, run_plan(lake_inputs, config, folder / f"{engine}.duckdb", instance=instance)
    return plans


@pytest.fixture(scope="module", params=["sample_lake", "edges_without_usage"])
def both_engines(request: pytest.FixtureRequest, lake_plans: dict[str, tuple[dg.DagsterInstance, PlanOutcome]],
                 tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, tuple[Path, str]]]:
    """Where each engine's build of every Spark transform lies: (DuckDB file, schema) per engine.
    Two data sets: the sample with month-partitioned usage (the two plans' work.* tables, each
    transform built from the same DuckDB-built inputs), and the hand-built segment edges without
    any usage (one DuckDB file: schema work built by DuckDB, schema spark by Spark)."""
    if request.param == "sample_lake":
        return request.param, {engine: (plan.db, "work") for engine, (_, plan) in lake_plans.items()}
    settings = load_settings(TEST_CONFIG)
    folder = tmp_path_factory.mktemp("engines")
    inputs = edge_inputs(folder / "edges")
    db = folder / "engines.duckdb"
    with warehouse.connect(db) as con:
        ingest_inputs(con, inputs)
        write_segment_bands(con, settings)
        build_steps(con, settings, ["snapshot_dates", *SPARK_TRANSFORMS])
        con.execute("CREATE SCHEMA spark")
        engine = SparkEngine(settings.engine.spark, input_file(inputs, "usage"))
        for name in SPARK_TRANSFORMS:
            params = account_state_params(settings, con) if name == "account_state" else settings.sql_params()
            engine.build(con, name, params, schema="spark")
    return request.param, {"duckdb": (db, "work"), "spark": (db, "spark")}


def _rows(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple]:
    rows = con.execute(f"SELECT * FROM {table}").fetchall()
    return sorted(rows, key=lambda row: [(v is None, v if v is not None else 0) for v in row])


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return a == b


@pytest.mark.parametrize("name", SPARK_TRANSFORMS)
def test_transpiled_transform_gives_the_duckdb_rows_on_spark(
        both_engines: tuple[str, dict[str, tuple[Path, str]]], name: str):
    data_set, built = both_engines
    described, rows = {}, {}
    for engine, (db, schema) in built.items():
        with warehouse.connect(db, read_only=True) as con:
            described[engine] = con.execute(f"DESCRIBE {schema}.{name}").fetchall()
            rows[engine] = _rows(con, f"{schema}.{name}")
    assert described["spark"] == described["duckdb"]
    on_duckdb, on_spark = rows["duckdb"], rows["spark"]
    assert len(on_duckdb) == len(on_spark)
    assert on_duckdb or data_set == "edges_without_usage", "the sample gives rows in every table"
    differing = [(d, s) for d, s in zip(on_duckdb, on_spark, strict=True)
                 if not all(_same(a, b) for a, b in zip(d, s, strict=True))]
    assert not differing, f"{len(differing)} rows differ, e.g. {differing[:2]}"


def test_spark_reads_usage_from_the_input_dataset_not_the_warehouse():
    assert ("raw", "usage") in tables_read("usage_features")
    sql = spark_sql("usage_features", load_settings(TEST_CONFIG).sql_params())
    assert "raw_usage" in sql and "raw.usage" not in sql and "$" not in sql


@pytest.mark.parametrize(("duckdb_sql", "spark"), [
    ("SELECT format('{} holds {:,} seats at {:,.0f} ({:.1f}%)', a, b, c, d) AS r",
     "FORMAT_STRING('%s holds %,d seats at %,.0f (%.1f%%)', a, b, CAST(c AS DOUBLE), CAST(d AS DOUBLE))"),
    ("SELECT CAST(d + INTERVAL (n + 1) MONTH AS DATE) AS e", "CAST(d + MAKE_YM_INTERVAL(0, n + 1) AS DATE)"),
    ("SELECT quantile_cont(x, 0.75) AS q FROM raw.t", "PERCENTILE(x, 0.75) AS q\nFROM raw_t"),
    ("SELECT regexp_full_match(s, '[0-9]+') AS ok", "s RLIKE '^(?:[0-9]+)$' AS ok"),
])
def test_rewrites_sqlglot_lacks(duckdb_sql: str, spark: str):
    assert spark in to_spark(duckdb_sql)


@pytest.mark.parametrize("duckdb_sql", [
    "SELECT format('{:>10}', a)",           # an fmt field printf-style formatting has no twin for
    "SELECT format(t, a) FROM x",           # a format string that is not a constant
    "SELECT d + INTERVAL (n) DAY AS e",     # only year-month intervals are rewritten
])
def test_constructs_spark_cannot_take_are_refused_when_transpiling(duckdb_sql: str):
    with pytest.raises(TranspileError):
        to_spark(duckdb_sql)


def test_plan_with_spark_engine_equals_the_duckdb_plan(
        lake_inputs: Path, lake_plans: dict[str, tuple[dg.DagsterInstance, PlanOutcome]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch):
    """Byte for byte: the same current-plan tables (model versions included) from the same inputs."""
    on_duckdb = lake_plans["duckdb"][1]
    instance, on_spark = lake_plans["spark"]
    config = settings_with(tmp_path, section="engine", name="spark")
    engines = {
        name: instance.get_latest_materialization_event(dg.AssetKey(name)).asset_materialization.metadata["engine"].value
        for name in SPARK_TRANSFORMS
    }
    assert engines == dict.fromkeys(SPARK_TRANSFORMS, "spark")
    with warehouse.connect(on_spark.db, read_only=True) as con:
        assert warehouse.table_rows(con, "raw.usage") == 0  # read in place, never copied
        checked = con.execute("SELECT file, rows FROM work.data_quality WHERE step = 'loaded' AND \"table\" = 'usage'")
        file, rows = checked.fetchone()
    assert file == f"checked on Spark, read in place: {lake_inputs / 'usage'}" and rows > 0
    # a refresh of a Spark plan checks every week again, without scanning the usage locally first
    monkeypatch.setattr("pipeline.ingestion.usage_weeks.file_usage_fingerprints", lambda folder: pytest.fail("scanned"))
    weeks = usage_weeks(load_settings(config).operations.usage_start)
    keys = weeks.get_partition_keys()
    assert changed_weeks(weeks, lake_inputs, on_spark.db) == (keys[0], keys[-1])
    assert export_plan_tables(on_spark.db, tmp_path / "spark") == export_plan_tables(on_duckdb.db, tmp_path / "duck")


def test_bad_usage_in_the_lake_gets_the_same_contract_error_on_spark(
        lake_inputs: Path, lake_plans: dict[str, tuple[dg.DagsterInstance, PlanOutcome]], tmp_path: Path):
    """Spark checks usage with the contract's own rules: the message is the DuckDB load's, word
    for word (file, column, rule, count, example keys), and the last good plan stays current."""
    good = lake_plans["spark"][1]
    lake = tmp_path / "lake"
    shutil.copytree(lake_inputs, lake)
    bad = lake / "usage" / "month=2025-12" / "late_rows.parquet"
    with duckdb.connect() as con:
        con.execute(f"""COPY (SELECT account_id, product_id, "date", CAST(active_users AS BIGINT) AS active_users,
                                     CAST(events AS BIGINT) AS events
                              FROM (VALUES ('A9999999', 'P01', DATE '2025-12-02', 3, 10),
                                           ('A0000001', 'P01', DATE '2025-12-03', -2, 10),
                                           ('A0000002', NULL, NULL, 1, 10))
                                   AS v (account_id, product_id, "date", active_users, events))
                        TO '{bad}' (FORMAT parquet)""")
    messages = {}
    shutil.copy(good.db, tmp_path / "spark.duckdb")  # the good Spark plan is current there
    for engine in ("duckdb", "spark"):
        (tmp_path / engine).mkdir()
        config, db = settings_with(tmp_path / engine, section="engine", name=engine), tmp_path / f"{engine}.duckdb"
        with pytest.raises(PlanRunError) as err:
            run_plan(lake, config, db, instance=dg.DagsterInstance.ephemeral())
        messages[engine] = str(err.value)
    with warehouse.connect(tmp_path / "spark.duckdb", read_only=True) as con:
        assert con.execute("SELECT plan_id FROM plans.current_plan").fetchall() == [(good.plan_id,)]
    assert "usage: column account_id: rule 'exists in accounts.account_id': 1 row breaks it (e.g. A9999999)" in \
        messages["spark"]
    assert "usage: column active_users: rule '>= 0': 1 row breaks it (e.g. A0000001 / P01 / 2025-12-03)" in \
        messages["spark"]
    assert "usage: column date: rule 'not null': 1 row breaks it (e.g. A0000002 / NULL / NULL)" in messages["spark"]
    assert messages["spark"] == messages["duckdb"]


def test_unreadable_usage_dataset_is_a_contract_error_on_spark(lake_inputs: Path, tmp_path: Path):
    settings = load_settings(settings_with(tmp_path, section="engine", name="spark"))
    lake = tmp_path / "lake"
    shutil.copytree(lake_inputs, lake)
    (lake / "usage" / "month=2025-12" / "notes.parquet").write_text("not parquet")
    with warehouse.connect(tmp_path / "check.duckdb") as con:
        ingest_inputs(con, lake_inputs)
        with pytest.raises(InputContractError, match=r"^usage: rule 'readable': .+"):
            SparkEngine(settings.engine.spark, lake / "usage").check_usage(con, None, None)


def test_csv_usage_is_checked_on_spark_like_a_duckdb_load(spark_sample: Path, tmp_path: Path):
    """Text usage (CSV) goes through the text patterns and casts: same rows, same violations."""
    folder = tmp_path / "input"
    shutil.copytree(spark_sample, folder)
    usage = folder / "usage.csv"
    settings = load_settings(TEST_CONFIG)
    with warehouse.connect(tmp_path / "check.duckdb") as con:
        ingest_inputs(con, folder, skip=("usage",))
        engine = SparkEngine(settings.engine.spark, usage)
        assert engine.check_usage(con, None, None) == ingest_usage_window(con, folder, None, None) > 0
        with usage.open("a", newline="") as handle:
            csv.writer(handle, lineterminator="\n").writerows([("A0000001", "P01", "2025/12/03", "3", "1"),
                                          ("A0000002", "P01", "2025-12-04", "1.5", "2"),
                                          ("A0000003", "", "2025-12-05", "", "x")])
        with pytest.raises(InputContractError) as on_duckdb:
            ingest_usage_window(con, folder, None, None)
        with pytest.raises(InputContractError) as on_spark:
            engine.check_usage(con, None, None)
    assert str(on_spark.value) == str(on_duckdb.value)
    assert "usage.csv: column date: rule 'type: date YYYY-MM-DD': 1 row breaks it" in str(on_spark.value)
    assert "usage.csv: column active_users: rule 'type: integer': 1 row breaks it" in str(on_spark.value)


def test_duplicate_usage_rows_are_rejected_on_spark_as_on_duckdb(spark_sample: Path, tmp_path: Path):
    """Spark checks usage where it lies with the same SQL: the same message, word for word."""
    folder = tmp_path / "input"
    shutil.copytree(spark_sample, folder)
    usage = folder / "usage.csv"
    lines = usage.read_text().splitlines(keepends=True)
    usage.write_text("".join([*lines, lines[4]]))  # data row 3 twice
    with warehouse.connect(tmp_path / "check.duckdb") as con:
        ingest_inputs(con, folder, skip=("usage",))
        with pytest.raises(InputContractError) as on_duckdb:
            ingest_usage_window(con, folder, None, None)
        with pytest.raises(InputContractError) as on_spark:
            SparkEngine(load_settings(TEST_CONFIG).engine.spark, usage).check_usage(con, None, None)
    key = " / ".join(lines[4].split(",")[:3])  # account_id / product_id / date
    assert str(on_spark.value) == str(on_duckdb.value) == f"usage.csv: rule '{RULE}': 1 row breaks it (e.g. {key}); {ADVICE}"
