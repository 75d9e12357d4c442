"""Benchmark the usage roll-up (sql/staging/usage_features.sql) on DuckDB and on Spark over the same files.

    .venv/bin/python benchmarks/bench_usage_rollup.py --accounts 5000 --days 1460

Generates a month-partitioned Parquet usage dataset (usage/month=YYYY-MM/*.parquet, as a data
lake keeps it): every account uses 3 products every day for --days days before the plan date.
Both engines read that dataset directly and roll it up for the plan date and the training
snapshots of the default settings. DuckDB reads it through a view in the warehouse file; Spark
(`--master`, default local[2]) through `pipeline.engines.spark_engine`, the result landing in the same
DuckDB file as the plan run would. Prints usage rows, result rows, wall seconds per engine
(Spark's session start apart) and checks both results hold the same rows.

Spark is not expected to win on one 2-core machine; the point is that the same SQL runs
unchanged where the data outgrows one machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.core import warehouse  # noqa: E402
from pipeline.core.settings import DEFAULT_CONFIG, SparkSettings, load_settings  # noqa: E402

ROLLUP = "usage_features"


def generate_usage(folder: Path, accounts: int, days: int, as_of: str) -> int:
    """Write the usage dataset into folder/usage/; returns its rows."""
    import duckdb

    with duckdb.connect() as con:
        con.execute(f"""
            COPY (
                SELECT
                    'A' || lpad(CAST(a AS VARCHAR), 8, '0') AS account_id,
                    'P0' || p AS product_id,
                    CAST(DATE '{as_of}' - CAST(1 + d AS INTEGER) AS DATE) AS "date",
                    CAST(hash(a, p, d) % 40 AS BIGINT) AS active_users,
                    CAST(hash(d, p, a) % 500 AS BIGINT) AS events,
                    strftime(DATE '{as_of}' - CAST(1 + d AS INTEGER), '%Y-%m') AS month
                FROM range({accounts}) AS t1 (a), range(1, 4) AS t2 (p), range({days}) AS t3 (d)
            ) TO '{folder / "usage"}' (FORMAT parquet, PARTITION_BY (month))""")
        return int(con.execute(f"SELECT count(*) FROM read_parquet('{folder}/usage/**/*.parquet')").fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=5_000, help="accounts (default 5,000)")
    parser.add_argument("--days", type=int, default=1460, help="days of usage per account and product (default 1,460: 4 years, every training snapshot)")
    parser.add_argument("--master", default="local[2]", help="Spark master URL (default local[2])")
    args = parser.parse_args()

    from pipeline.engines.spark_engine import SparkEngine, spark_session

    settings = load_settings(DEFAULT_CONFIG)
    spark_settings = SparkSettings(master=args.master, options=settings.engine.spark.options)
    params = settings.sql_params()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        rows = generate_usage(folder, args.accounts, args.days, settings.as_of.isoformat())
        print(f"usage dataset: {rows:,} rows, {args.accounts:,} accounts x 3 products x {args.days} days "
              f"({time.perf_counter() - started:.1f}s to generate)")
        with warehouse.connect(folder / "bench.duckdb") as con:
            con.execute("CREATE TABLE raw.subscriptions AS SELECT DATE '2015-01-01' AS start_date")
            warehouse.build_table(con, "snapshot_dates", params)
            snapshots = warehouse.table_rows(con, "work.snapshot_dates")
            con.execute(f"""CREATE VIEW raw.usage AS SELECT * FROM
                read_parquet('{folder}/usage/**/*.parquet', hive_partitioning = true)""")
            con.execute("CREATE SCHEMA spark")

            started = time.perf_counter()
            duck_rows = warehouse.build_table(con, ROLLUP, params)
            duck_seconds = time.perf_counter() - started

            started = time.perf_counter()
            spark_session(spark_settings.master, spark_settings.app_name, tuple(sorted(spark_settings.options.items())))
            start_seconds = time.perf_counter() - started
            started = time.perf_counter()
            spark_rows = SparkEngine(spark_settings, folder / "usage").build(con, ROLLUP, params, schema="spark")
            spark_seconds = time.perf_counter() - started
            differing = con.execute(f"""SELECT count(*) FROM (
                (SELECT * FROM work.{ROLLUP} EXCEPT ALL SELECT * FROM spark.{ROLLUP})
                UNION ALL (SELECT * FROM spark.{ROLLUP} EXCEPT ALL SELECT * FROM work.{ROLLUP}))""").fetchone()[0]

    print(f"roll-up for {snapshots} snapshot dates -> {duck_rows:,} rows (snapshot x account x product)")
    print(f"{'engine':<22}{'seconds':>9}{'usage rows/s':>16}")
    print(f"{'duckdb':<22}{duck_seconds:>9.1f}{rows / duck_seconds:>16,.0f}")
    print(f"{'spark ' + args.master:<22}{spark_seconds:>9.1f}{rows / spark_seconds:>16,.0f}"
          f"   (+{start_seconds:.1f}s session start)")
    print(f"same rows on both engines: {differing == 0 and duck_rows == spark_rows} "
          f"({differing} rows differ bit for bit)")


if __name__ == "__main__":
    main()
