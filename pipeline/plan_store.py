"""Plan versions: immutable snapshots of the plan tables and the pointer to the current one.

Every output table lives in schema `plans` with a leading `plan_id` column; a run appends
its rows under a new plan_id and moves the pointer `plans.current_plan` in the SAME
transaction, so readers see either the previous plan or the new one, never a mix. The
views `main.<table>` show the current plan without the plan_id column.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from pipeline.warehouse import table_exists, transaction

# published table -> the work table it is copied from
PLAN_TABLES = {
    "whitespace_items": "scored_whitespace",
    "account_eev": "account_eev",
    "territories": "territories",
    "quotas": "quotas",
    "quota_contributions": "quota_contributions",
    "territory_moves": "territory_moves",
    "territory_balance": "territory_balance",
    "model_metrics": "model_metrics",
    "model_info": "model_info",
    "data_quality": "data_quality",
    "rejected_rows": "rejected_rows",
    "feature_importances": "feature_importances",
}


@dataclass(frozen=True)
class PlanRun:
    """Lineage of one plan version."""

    as_of: dt.date
    settings_hash: str
    data_fingerprint: str
    model_version: str
    dagster_run_id: str
    settings_json: str


def _ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """CREATE TABLE IF NOT EXISTS plans.plan_runs (
            run_id VARCHAR PRIMARY KEY, as_of DATE, settings_hash VARCHAR, data_fingerprint VARCHAR,
            model_version VARCHAR, created_at TIMESTAMP, status VARCHAR, dagster_run_id VARCHAR,
            settings_json VARCHAR, message VARCHAR)"""
    )
    con.execute("CREATE TABLE IF NOT EXISTS plans.current_plan (plan_id VARCHAR)")


def _next_plan_id(con: duckdb.DuckDBPyConnection) -> str:
    row = con.execute("SELECT count(*) FROM plans.plan_runs WHERE status = 'succeeded'").fetchone()
    return f"P{(row[0] if row else 0) + 1:04d}"


def _append_version(con: duckdb.DuckDBPyConnection, table: str, source: str, plan_id: str) -> None:
    """Copy work.<source> into plans.<table> under plan_id, adding any new columns first."""
    if not table_exists(con, "plans", table):
        con.execute(f"CREATE TABLE plans.{table} AS SELECT ''::VARCHAR AS plan_id, * FROM work.{source} LIMIT 0")
    existing = {r[0] for r in con.execute(f"DESCRIBE plans.{table}").fetchall()}
    for name, dtype, *_ in con.execute(f"DESCRIBE work.{source}").fetchall():
        if name not in existing:
            con.execute(f'ALTER TABLE plans.{table} ADD COLUMN "{name}" {dtype}')
    con.execute(f"INSERT INTO plans.{table} BY NAME SELECT ? AS plan_id, * FROM work.{source}", [plan_id])
    con.execute(
        f"CREATE OR REPLACE VIEW main.{table} AS SELECT * EXCLUDE (plan_id) FROM plans.{table} "
        "WHERE plan_id = (SELECT plan_id FROM plans.current_plan)"
    )


def publish_plan(con: duckdb.DuckDBPyConnection, run: PlanRun) -> str:
    """Write the work tables as a new plan version and make it current, atomically."""
    with transaction(con):
        _ensure_tables(con)
        plan_id = _next_plan_id(con)
        for table, source in PLAN_TABLES.items():
            _append_version(con, table, source, plan_id)
        con.execute(
            "INSERT INTO plans.plan_runs VALUES (?, ?, ?, ?, ?, current_timestamp, 'succeeded', ?, ?, NULL)",
            [plan_id, run.as_of, run.settings_hash, run.data_fingerprint, run.model_version,
             run.dagster_run_id, run.settings_json],
        )
        con.execute("DELETE FROM plans.current_plan")
        con.execute("INSERT INTO plans.current_plan VALUES (?)", [plan_id])
        con.execute("CREATE OR REPLACE VIEW main.plan_runs AS SELECT * FROM plans.plan_runs")
    return plan_id


def record_failed_run(con: duckdb.DuckDBPyConnection, dagster_run_id: str, message: str) -> None:
    """Note a failed run in plan_runs; the current plan is not touched."""
    with transaction(con):
        _ensure_tables(con)
        run_id = f"F-{dagster_run_id[:8]}"
        con.execute(
            "INSERT INTO plans.plan_runs (run_id, created_at, status, dagster_run_id, message) "
            "VALUES (?, current_timestamp, 'failed', ?, ?)",
            [run_id, dagster_run_id, message],
        )
        con.execute("CREATE OR REPLACE VIEW main.plan_runs AS SELECT * FROM plans.plan_runs")


def current_plan_id(con: duckdb.DuckDBPyConnection) -> str | None:
    if not table_exists(con, "plans", "current_plan"):
        return None
    row = con.execute("SELECT plan_id FROM plans.current_plan").fetchone()
    return row[0] if row else None
