"""Plan versions: immutable snapshots of the plan tables and the pointer to the current one.

Every output table lives in schema `plans` with a leading `plan_id` column. A run first writes
its rows under a new plan_id (status `pending`: stored, not current), then tracks and exports
that version, and only then, as the run's last step, decides in one transaction (`promote_plan`):
with no review reason (plans.plan_review, severity 'review') or with `review.accept_degraded`, the
pointer `plans.current_plan` moves to it (status `succeeded`); otherwise it stays `needs_review`
and the previous plan stays current. A run that fails or is killed before that leaves at most a
`pending` version nobody reads. The views `main.<table>` show the current plan without the
plan_id column.

Publishing is a separate, deliberate step (`quota-plan publish`): `plans.published_plans`
records each published plan with a note and a digest of its rows; the latest one is THE
published plan (the one reps were given). A plan is published at most once and is never
modified: every write to the store first verifies the digests of the published plans.

An adjusted plan (`quota-plan adjust`, pipeline/plan/adjustments/) is a plan version like any
other, whose lineage names its parent plan and the adjustments file (plan_runs.parent_plan_id,
adjustments_file, adjustments_digest, note); it also writes ADJUSTMENT_TABLES, which a published
plan's digest covers when the store has them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
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
    "balance_diagnosis": "balance_diagnosis",
    "model_metrics": "model_metrics",
    "model_info": "model_info",
    "data_quality": "data_quality",
    "rejected_rows": "rejected_rows",
    "feature_importances": "feature_importances",
    "quota_history": "quota_history",
    "plan_review": "plan_review",
    "quota_factors": "quota_factors",
    "attainment_forecast": "attainment_forecast",
    "amount_spread": "amount_spread",
    "rep_capacity_months": "rep_capacity_months",
    "quota_months": "quota_months",
    "segment_headcount": "segment_headcount",
    "plan_reps": "rep_plan",
}
# tables only an adjusted plan version writes (published table -> work table): the audit trail of its
# adjustments and the quota terms they set per rep (pipeline/plan/adjustments/)
ADJUSTMENT_TABLES = {"adjustments": "adjustments", "quota_overrides": "quota_overrides"}
PENDING, CURRENT_ONCE, NEEDS_REVIEW, FAILED = "pending", "succeeded", "needs_review", "failed"
DRAFT = "draft"  # a scenario's plan version (pipeline/plan/scenario_runs.py): never current, never published
PLAN_VERSION_SQL = "run_id LIKE 'P%'"  # rows of plans.plan_runs that are plan versions (not failed runs)


class PlanStoreError(ValueError):
    """A request the plan store refuses (unknown plan, re-publishing, an altered published plan)."""


@dataclass(frozen=True)
class PlanRun:
    """Lineage of one plan version; an adjusted plan also names its parent plan, the adjustments
    file (its path and md5) and the note it was adjusted with."""

    as_of: dt.date
    settings_hash: str
    data_fingerprint: str
    model_version: str
    dagster_run_id: str
    settings_json: str
    parent_plan_id: str | None = None
    adjustments_file: str | None = None
    adjustments_digest: str | None = None
    note: str | None = None


def _ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """CREATE TABLE IF NOT EXISTS plans.plan_runs (
            run_id VARCHAR PRIMARY KEY, as_of DATE, settings_hash VARCHAR, data_fingerprint VARCHAR,
            model_version VARCHAR, created_at TIMESTAMP, status VARCHAR, dagster_run_id VARCHAR,
            settings_json VARCHAR, message VARCHAR)"""
    )
    con.execute("ALTER TABLE plans.plan_runs ADD COLUMN IF NOT EXISTS review_reasons VARCHAR")
    con.execute("ALTER TABLE plans.plan_runs ADD COLUMN IF NOT EXISTS acknowledged VARCHAR")
    for column in ("parent_plan_id", "adjustments_file", "adjustments_digest", "note"):
        con.execute(f"ALTER TABLE plans.plan_runs ADD COLUMN IF NOT EXISTS {column} VARCHAR")
    con.execute("CREATE TABLE IF NOT EXISTS plans.current_plan (plan_id VARCHAR)")
    con.execute(
        """CREATE TABLE IF NOT EXISTS plans.published_plans (
            plan_id VARCHAR PRIMARY KEY, published_at TIMESTAMP, note VARCHAR, columns_json VARCHAR,
            digest VARCHAR)"""
    )


def _next_plan_id(con: duckdb.DuckDBPyConnection) -> str:
    row = con.execute(
        f"SELECT max(CAST(substr(run_id, 2) AS INTEGER)) FROM plans.plan_runs WHERE {PLAN_VERSION_SQL}"
    ).fetchone()
    return f"P{(row[0] or 0) + 1:04d}"


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


def write_plan_version(con: duckdb.DuckDBPyConnection, run: PlanRun,
                       tables: Mapping[str, str] = PLAN_TABLES) -> str:
    """Write the work tables (published table -> work table) as a new plan version, `pending` (not
    current), atomically."""
    with transaction(con):
        _ensure_tables(con)
        _refuse_if_published_altered(con)
        plan_id = _next_plan_id(con)
        for table, source in tables.items():
            _append_version(con, table, source, plan_id)
        con.execute(
            "INSERT INTO plans.plan_runs (run_id, as_of, settings_hash, data_fingerprint, model_version, created_at, "
            "status, dagster_run_id, settings_json, parent_plan_id, adjustments_file, adjustments_digest, note) "
            "VALUES (?, ?, ?, ?, ?, current_timestamp, ?, ?, ?, ?, ?, ?, ?)",
            [plan_id, run.as_of, run.settings_hash, run.data_fingerprint, run.model_version, PENDING,
             run.dagster_run_id, run.settings_json, run.parent_plan_id, run.adjustments_file,
             run.adjustments_digest, run.note],
        )
        con.execute("CREATE OR REPLACE VIEW main.plan_runs AS SELECT * FROM plans.plan_runs")
    return plan_id


@dataclass(frozen=True)
class PlanDecision:
    """What became of a written plan version: made current, or held for review (and why)."""

    plan_id: str
    status: str
    reasons: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def current(self) -> bool:
        return self.status == CURRENT_ONCE


def review_lines(con: duckdb.DuckDBPyConnection, plan_id: str, severity: str) -> tuple[str, ...]:
    """The plan's review reasons (severity 'review') or warnings, one line each."""
    rows = con.execute(
        "SELECT message FROM plans.plan_review WHERE plan_id = ? AND severity = ? "
        "ORDER BY segment NULLS FIRST, reason", [plan_id, severity]).fetchall()
    return tuple(r[0] for r in rows)


def promote_plan(con: duckdb.DuckDBPyConnection, plan_id: str, accept_degraded: bool) -> PlanDecision:
    """The last step of a run: make the pending version current when nothing needs review (or the
    settings accept degraded plans), else mark it needs_review; one transaction either way."""
    with transaction(con):
        _ensure_tables(con)
        _refuse_if_published_altered(con)
        status = con.execute("SELECT status FROM plans.plan_runs WHERE run_id = ?", [plan_id]).fetchone()
        if status is None or status[0] != PENDING:
            raise PlanStoreError(f"plan {plan_id} is not a pending plan version (status {status and status[0]})")
        reasons, warnings = review_lines(con, plan_id, "review"), review_lines(con, plan_id, "warning")
        decided = CURRENT_ONCE if accept_degraded or not reasons else NEEDS_REVIEW
        con.execute("UPDATE plans.plan_runs SET status = ?, review_reasons = ? WHERE run_id = ?",
                    [decided, "\n".join(reasons) or None, plan_id])
        if decided == CURRENT_ONCE:
            _make_current(con, plan_id)
    return PlanDecision(plan_id, decided, reasons, warnings)


def _make_current(con: duckdb.DuckDBPyConnection, plan_id: str) -> None:
    con.execute("DELETE FROM plans.current_plan")
    con.execute("INSERT INTO plans.current_plan VALUES (?)", [plan_id])


def plan_decision(con: duckdb.DuckDBPyConnection, plan_id: str) -> PlanDecision:
    """The recorded outcome of a plan version (status, review reasons, warnings)."""
    row = con.execute("SELECT status FROM plans.plan_runs WHERE run_id = ?", [plan_id]).fetchone()
    if row is None:
        raise PlanStoreError(f"no plan {plan_id} in this DuckDB file (see `quota-plan plans`)")
    return PlanDecision(plan_id, row[0], review_lines(con, plan_id, "review"), review_lines(con, plan_id, "warning"))


def plan_of_run(con: duckdb.DuckDBPyConnection, dagster_run_id: str) -> str | None:
    """The plan version a Dagster run wrote, if it wrote one."""
    if not table_exists(con, "plans", "plan_runs"):
        return None
    row = con.execute(
        f"SELECT run_id FROM plans.plan_runs WHERE dagster_run_id = ? AND {PLAN_VERSION_SQL}", [dagster_run_id]
    ).fetchone()
    return row[0] if row else None


def record_failed_run(con: duckdb.DuckDBPyConnection, dagster_run_id: str, message: str) -> None:
    """Note a failed run in plan_runs (and mark the version it wrote, if any, failed); the current
    plan is not touched."""
    with transaction(con):
        _ensure_tables(con)
        con.execute("UPDATE plans.plan_runs SET status = ?, message = ? WHERE dagster_run_id = ? AND status = ?",
                    [FAILED, message, dagster_run_id, PENDING])
        run_id = f"F-{dagster_run_id[:8]}"
        con.execute(
            "INSERT INTO plans.plan_runs (run_id, created_at, status, dagster_run_id, message) "
            "VALUES (?, current_timestamp, ?, ?, ?)",
            [run_id, FAILED, dagster_run_id, message],
        )
        con.execute("CREATE OR REPLACE VIEW main.plan_runs AS SELECT * FROM plans.plan_runs")


def current_plan_id(con: duckdb.DuckDBPyConnection) -> str | None:
    if not table_exists(con, "plans", "current_plan"):
        return None
    row = con.execute("SELECT plan_id FROM plans.current_plan").fetchone()
    return row[0] if row else None


def published_plan_id(con: duckdb.DuckDBPyConnection) -> str | None:
    """The plan last marked as published and not recalled since (pipeline/plan/approval.py), if any."""
    if not table_exists(con, "plans", "published_plans"):
        return None
    recalled = ("AND coalesce((SELECT arg_max(s.state, s.seq) FROM plans.plan_states AS s WHERE s.plan_id = p.plan_id "
                "AND s.scope IS NULL), '') <> 'recalled'") if table_exists(con, "plans", "plan_states") else ""
    row = con.execute(
        f"SELECT plan_id FROM plans.published_plans AS p WHERE true {recalled} ORDER BY published_at DESC LIMIT 1"
    ).fetchone()
    return row[0] if row else None


def published_at(con: duckdb.DuckDBPyConnection, plan_id: str) -> dt.datetime | None:
    """When plan_id was published (None: never)."""
    if not table_exists(con, "plans", "published_plans"):
        return None
    row = con.execute("SELECT published_at FROM plans.published_plans WHERE plan_id = ?", [plan_id]).fetchone()
    return row[0] if row else None


def mark_draft(con: duckdb.DuckDBPyConnection, plan_id: str) -> None:
    """A pending version written by a scenario becomes a draft: kept and compared, never made current."""
    with transaction(con):
        _refuse_if_published_altered(con)
        updated = con.execute("UPDATE plans.plan_runs SET status = ? WHERE run_id = ? AND status = ? RETURNING run_id",
                              [DRAFT, plan_id, PENDING]).fetchall()
        if not updated:
            raise PlanStoreError(f"plan {plan_id} is not a pending plan version; only those can become drafts")


def reference_plan_id(con: duckdb.DuckDBPyConnection) -> str:
    """The plan a refresh is compared with: the published plan, else the current one."""
    plan_id = published_plan_id(con) or current_plan_id(con)
    if plan_id is None:
        raise PlanStoreError("no plan to compare with in this DuckDB file: run plan_job first")
    return plan_id


def mark_published(con: duckdb.DuckDBPyConnection, plan_id: str, note: str, acknowledge: str | None = None) -> None:
    """Mark a plan version as THE published plan, with a note; refuse a plan that does not exist,
    a failed or unfinished run, or a plan already published (published plans are never
    re-written). A plan held for review is published only with an acknowledgement (recorded in
    plan_runs.acknowledged); it then becomes the current plan too."""
    with transaction(con):
        _ensure_tables(con)
        status = _publishable_status(con, plan_id, acknowledge)
        if status == NEEDS_REVIEW:
            con.execute("UPDATE plans.plan_runs SET status = ?, acknowledged = ? WHERE run_id = ?",
                        [CURRENT_ONCE, acknowledge, plan_id])
            _make_current(con, plan_id)
        versioned = [*PLAN_TABLES, *(t for t in ADJUSTMENT_TABLES if table_exists(con, "plans", t))]
        columns = {table: _plan_columns(con, table) for table in versioned}
        con.execute(
            "INSERT INTO plans.published_plans VALUES (?, current_timestamp, ?, ?, ?)",
            [plan_id, note, json.dumps(columns), _plan_digest(con, plan_id, columns)],
        )
        con.execute(
            "CREATE OR REPLACE VIEW main.published_plans AS SELECT plan_id, published_at, note, digest "
            "FROM plans.published_plans"
        )


def check_publishable(con: duckdb.DuckDBPyConnection, plan_id: str, acknowledge: str | None = None) -> None:
    """Raise what mark_published would refuse (see there), without publishing."""
    with transaction(con):
        _ensure_tables(con)
        _publishable_status(con, plan_id, acknowledge)


def _publishable_status(con: duckdb.DuckDBPyConnection, plan_id: str, acknowledge: str | None) -> str:
    """The plan's status when it can be published, else PlanStoreError saying why not."""
    _refuse_if_published_altered(con)
    row = con.execute("SELECT status FROM plans.plan_runs WHERE run_id = ?", [plan_id]).fetchone()
    if row is None:
        raise PlanStoreError(f"no plan {plan_id} in this DuckDB file (see `quota-plan plans`)")
    if row[0] == NEEDS_REVIEW and not acknowledge:
        reasons = "; ".join(review_lines(con, plan_id, "review"))
        raise PlanStoreError(f"plan {plan_id} needs review ({reasons}); publish it only with "
                             '--acknowledge "why it can be sent as it is"')
    if row[0] not in (CURRENT_ONCE, NEEDS_REVIEW):
        raise PlanStoreError(f"{plan_id} is a {row[0]} run, not a finished plan version; only those can be "
                             "published")
    done = con.execute(
        "SELECT published_at, note FROM plans.published_plans WHERE plan_id = ?", [plan_id]
    ).fetchone()
    if done is not None:
        raise PlanStoreError(
            f"plan {plan_id} was already published on {done[0]:%Y-%m-%d %H:%M:%S} ({done[1]!r}); "
            "a published plan is never modified: run a new plan and publish that"
        )
    return row[0]


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
