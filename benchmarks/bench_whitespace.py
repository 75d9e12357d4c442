"""Benchmark the whitespace map: N accounts x 20 products, generated directly in DuckDB.

    .venv/bin/python benchmarks/bench_whitespace.py --accounts 1000000

The raw tables (contract columns and types) are generated with SQL: range() and hash-based
pseudo-random values, no CSV. 4 product families of 3 seat tiers and 8 flat add-ons; each
account holds one tier of a family with probability 0.6 and each add-on with probability
0.10-0.45; 1% of accounts have no employee count; two usage rows per seat line in the last 90
days. Staging (account_state, holdings, usage_features) is built first, then peer_benchmarks
and whitespace_items are timed. By default only the plan snapshot is computed (the training
snapshots of a real run use a sample of at most model.max_training_accounts accounts);
--with-training keeps them. Prints rows, wall and CPU seconds per step (CPU / 2 is the wall
time on an otherwise idle 2-core machine) and the peak memory (RSS).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.core import warehouse  # noqa: E402
from pipeline.core.settings import load_settings  # noqa: E402
from pipeline.ingestion.contract import TABLES  # noqa: E402
from pipeline.staging.state import write_segment_bands  # noqa: E402
from tests.staged import build_steps  # noqa: E402

STAGING = ("account_state", "holdings", "usage_features")
TIMED = ("peer_benchmarks", "whitespace_items")

GENERATE = [
    # u(i, salt): a pseudo-random number in [0, 1) from a hash
    "CREATE OR REPLACE TEMP MACRO u(i, salt) AS (hash(i, salt) % 1000003) / 1000003.0",
    """INSERT INTO raw.products BY NAME
    SELECT
        'P' || lpad(CAST(k AS VARCHAR), 2, '0') AS product_id,
        'Product ' || k AS product_name,
        CASE WHEN k < 12 THEN (k // 3 + 1) * 60.0 * (k % 3 + 1) ELSE 1000.0 * (k - 10) END AS list_price,
        CASE WHEN k < 12 THEN 'seat' ELSE 'flat' END AS unit,
        CASE WHEN k < 12 THEN 'F' || (k // 3) END AS family,
        CASE WHEN k < 12 THEN k % 3 + 1 END AS tier_rank
    FROM range(20) AS t (k)""",
    """CREATE TEMP TABLE gen_accounts AS
    SELECT
        i,
        'A' || lpad(CAST(i AS VARCHAR), 8, '0') AS account_id,
        'industry_' || (hash(i, 'industry') % 12) AS industry,
        CASE WHEN u(i, 'no size') < 0.01 THEN NULL
            ELSE CAST(round(pow(10, 0.7 + 3.3 * u(i, 'size'))) AS BIGINT) END AS employees
    FROM range($accounts) AS t (i)""",
    """INSERT INTO raw.accounts BY NAME
    SELECT
        account_id,
        'Account ' || i AS account_name,
        industry,
        ['EMEA', 'NA', 'APAC', 'LATAM'][1 + CAST(hash(i, 'region') % 4 AS BIGINT)] AS region,
        employees,
        DATE '2022-01-01' AS customer_since,
        CAST(DATE '2026-01-01' + CAST(hash(i, 'renewal') % 365 AS INTEGER) AS DATE) AS renewal_date
    FROM gen_accounts""",
    """INSERT INTO raw.subscriptions BY NAME
    WITH offers AS (
        SELECT
            a.i, a.account_id, a.employees, p.product_id, p.list_price, p.unit, p.family, p.tier_rank,
            CASE WHEN u(a.i, p.family || 'tier') < 0.6 THEN 1
                WHEN u(a.i, p.family || 'tier') < 0.9 THEN 2 ELSE 3 END AS chosen_tier
        FROM gen_accounts AS a
        CROSS JOIN raw.products AS p
    ),

    held AS (
        SELECT
            *,
            CASE WHEN unit = 'seat'
                THEN greatest(1, CAST(coalesce(employees, 20) * (0.05 + 0.6 * u(i, product_id)) AS BIGINT))
                ELSE 1 END AS quantity
        FROM offers
        WHERE (family IS NOT NULL AND u(i, family) < 0.6 AND tier_rank = chosen_tier)
            OR (family IS NULL AND u(i, product_id) < 0.1 + 0.05 * (CAST(product_id[2:] AS INTEGER) - 12))
    )

    SELECT
        account_id,
        product_id,
        quantity,
        CASE WHEN u(i, product_id || 'free') < 0.02 THEN 0
            ELSE round(quantity * list_price * (0.7 + 0.3 * u(i, product_id || 'discount')), 2) END AS arr,
        DATE '2024-01-01' AS start_date
    FROM held""",
    """INSERT INTO raw.usage BY NAME
    SELECT
        s.account_id,
        s.product_id,
        CAST(DATE '2026-01-01' - d AS DATE) AS date,
        CAST(s.quantity * (0.5 + 0.6 * u(hash(s.account_id), s.product_id || d)) AS BIGINT) AS active_users,
        100 AS events
    FROM raw.subscriptions AS s
    JOIN raw.products AS p USING (product_id)
    CROSS JOIN (VALUES (20), (50)) AS days (d)
    WHERE p.unit = 'seat'""",
]


def create_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Empty raw tables with the contract's columns and types."""
    for spec in TABLES.values():
        columns = ", ".join(f"{c.name} {c.type}" for c in spec.columns)
        con.execute(f"CREATE OR REPLACE TABLE raw.{spec.name} ({columns})")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(label: str, action: Callable[[], int]) -> tuple[float, float]:
    """Run `action` (returns a row count); print and return its wall and CPU seconds."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    rows = action()
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    print(f"  {label:<28} {wall:8.2f} s wall {cpu:8.2f} s CPU  {rows:>12,} rows", flush=True)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--with-training", action="store_true", help="keep the training snapshots")
    args = parser.parse_args()
    settings = load_settings()
    with tempfile.TemporaryDirectory() as tmp, warehouse.connect(Path(tmp) / "bench.duckdb") as con:
        print(f"== whitespace map: {args.accounts:,} accounts x 20 products (plan date {settings.as_of})")

        def generate() -> int:
            create_raw_tables(con)
            for sql in GENERATE:
                con.execute(sql, {"accounts": args.accounts} if "$accounts" in sql else None)
            return warehouse.table_rows(con, "raw.subscriptions")

        timed("generate raw tables", generate)

        def staging() -> int:
            write_segment_bands(con, settings)
            build_steps(con, settings, ["snapshot_dates"])
            if not args.with_training:
                con.execute("DELETE FROM work.snapshot_dates WHERE role = 'train'")
            build_steps(con, settings, STAGING)
            return warehouse.table_rows(con, "work.holdings")

        timed("staging (state, holdings)", staging)
        wall = cpu = 0.0
        for step in TIMED:
            step_wall, step_cpu = timed(step, lambda step=step: build_steps(con, settings, [step])
                                        or warehouse.table_rows(con, f"work.{step}"))
            wall, cpu = wall + step_wall, cpu + step_cpu
        print(f"  {'whitespace map (both)':<28} {wall:8.2f} s wall {cpu:8.2f} s CPU")
        kinds = con.execute("SELECT kind, count(*), round(sum(whitespace)) FROM work.whitespace_items "
                            "GROUP BY kind ORDER BY kind").fetchall()
        for kind, items, whitespace in kinds:
            print(f"    {kind:<12} {items:>12,} items  {whitespace:>18,.0f} whitespace")
    print(f"  peak memory (RSS)            {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:8.0f} MB")


if __name__ == "__main__":
    main()
