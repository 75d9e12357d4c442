"""Plan versions: immutable snapshots of the plan tables and the pointer to the current one.

Every output table lives in schema `plans` with a leading `plan_id` column; a run appends
its rows under a new plan_id and moves the pointer `plans.current_plan` in the SAME
transaction, so readers see either the previous plan or the new one, never a mix. The
views `main.<table>` show the current plan without the plan_id column.

Publishing is a separate, deliberate step (`quota-plan publish`): `plans.published_plans`
records each published plan with a note and a digest of its rows; the latest one is THE
published plan (the one reps were given). A plan is published at most once and is never
modified: every write to the store first verifies the digests of the published plans.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

import duckdb

from pipeline.core.warehouse import table_exists, transaction

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
    "quota_factors": "quota_factors",
    "attainment_forecast": "attainment_forecast",
    "amount_spread": "amount_spread",
}


class PlanStoreError(ValueError):
    """A request the plan store refuses (unknown plan, re-publishing, an altered published plan)."""


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
    con.execute(
        """CREATE TABLE IF NOT EXISTS plans.published_plans (
            plan_id VARCHAR PRIMARY KEY, published_at TIMESTAMP, note VARCHAR, columns_json VARCHAR,
            digest VARCHAR)"""
    )


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
        _refuse_if_published_altered(con)
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


def published_plan_id(con: duckdb.DuckDBPyConnection) -> str | None:
    """The plan last marked as published, if any."""
    if not table_exists(con, "plans", "published_plans"):
        return None
    row = con.execute("SELECT plan_id FROM plans.published_plans ORDER BY published_at DESC LIMIT 1").fetchone()
    return row[0] if row else None


def reference_plan_id(con: duckdb.DuckDBPyConnection) -> str:
    """The plan a refresh is compared with: the published plan, else the current one."""
    plan_id = published_plan_id(con) or current_plan_id(con)
    if plan_id is None:
        raise PlanStoreError("no plan to compare with in this DuckDB file: run plan_job first")
    return plan_id


def mark_published(con: duckdb.DuckDBPyConnection, plan_id: str, note: str) -> None:
    """Mark a succeeded plan version as THE published plan, with a note; refuse a plan that does
    not exist, a failed run, or a plan already published (published plans are never re-written)."""
    with transaction(con):
        _ensure_tables(con)
        _refuse_if_published_altered(con)
        row = con.execute("SELECT status FROM plans.plan_runs WHERE run_id = ?", [plan_id]).fetchone()
        if row is None:
            raise PlanStoreError(f"no plan {plan_id} in this DuckDB file (see `quota-plan plans`)")
        if row[0] != "succeeded":
            raise PlanStoreError(f"{plan_id} is a {row[0]} run, not a plan version; only plans can be published")
        done = con.execute(
            "SELECT published_at, note FROM plans.published_plans WHERE plan_id = ?", [plan_id]
        ).fetchone()
        if done is not None:
            raise PlanStoreError(
                f"plan {plan_id} was already published on {done[0]:%Y-%m-%d %H:%M:%S} ({done[1]!r}); "
                "a published plan is never modified: run a new plan and publish that"
            )
        columns = {table: _plan_columns(con, table) for table in PLAN_TABLES}
        con.execute(
            "INSERT INTO plans.published_plans VALUES (?, current_timestamp, ?, ?, ?)",
            [plan_id, note, json.dumps(columns), _plan_digest(con, plan_id, columns)],
        )
        con.execute(
            "CREATE OR REPLACE VIEW main.published_plans AS SELECT plan_id, published_at, note, digest "
            "FROM plans.published_plans"
        )


def altered_published_plans(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Published plans whose rows no longer match the digest taken when they were published."""
    if not table_exists(con, "plans", "published_plans"):
        return []
    published = con.execute("SELECT plan_id, columns_json, digest FROM plans.published_plans ORDER BY 1").fetchall()
    return [plan_id for plan_id, columns, digest in published
            if _plan_digest(con, plan_id, json.loads(columns)) != digest]


def _refuse_if_published_altered(con: duckdb.DuckDBPyConnection) -> None:
    if altered := altered_published_plans(con):
        raise PlanStoreError(
            f"published plan(s) {', '.join(altered)} no longer match the rows that were published "
            "(someone changed plans.* by hand); restore the DuckDB file from a backup before writing to it"
        )


def _plan_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE plans.{table}").fetchall() if r[0] != "plan_id"]


def _plan_digest(con: duckdb.DuckDBPyConnection, plan_id: str, columns: dict[str, list[str]]) -> str:
    """md5 over every plan table's rows (these columns, sorted text), in table order."""
    parts = []
    for table in sorted(columns):
        row = ", ".join(f'"{c}"' for c in columns[table])
        part = con.execute(
            f"SELECT md5(coalesce(string_agg(r, chr(10) ORDER BY r), '')) FROM "
            f"(SELECT CAST(row({row}) AS VARCHAR) AS r FROM plans.{table} WHERE plan_id = ?)",
            [plan_id],
        ).fetchone()
        parts.append(f"{table}:{part[0] if part else ''}")
    return hashlib.md5("\n".join(parts).encode()).hexdigest()
