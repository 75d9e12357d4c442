"""An adjusted plan version: the parent plan's tables, the checked adjustments applied, and the
plan's own SQL re-run for what depends on them (no second copy of any rule).

Taken from the parent as they are: whitespace items, account EEV, the model and its metrics,
data quality, the amount spread and the segments' quota factors (the factor each segment's reps
are measured against). Changed by the adjustments: territories (move_account, lock_account) and
the reps of the plan (set_capacity; set_quota, change_quota_pct and set_factor as the rep's own
quota terms, work.rep_plan.factor_set / quota_set, kept by later adjustments of the plan in
plans.quota_overrides). Re-run on them with the parent's settings: territory shares, the Monte
Carlo of the year (same seed: a rep whose territory did not change gets the same draws), quota
contributions, quotas, balance and its diagnosis, quota history, predicted attainment, the
review; then the tracking tables (quota phasing, attainment, coverage) and the exports of the new
version, and the review gate decides whether it becomes current (promote_plan).

The recomputation uses the DuckDB file's work schema, as a plan run does (scratch of the latest
run); nothing in plans.* changes before every row has passed its checks.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from pipeline.core import warehouse
from pipeline.core.run_lock import run_lock
from pipeline.core.settings import OperationsSettings, PlanSettings
from pipeline.core.sql_graph import in_dependency_order
from pipeline.core.warehouse import build_table, table_exists
from pipeline.plan.adjustments import ADJUSTED_REASON, AdjustmentsError
from pipeline.plan.adjustments.queries import (
    ADJUSTED_ROWS,
    AGAINST_RULE_SQL,
    AUDIT_SQL,
    METHODS_SQL,
    OVERRIDES_SQL,
    PARENT_SQL,
    REP_PLAN_SQL,
    TERRITORIES_SQL,
    UNCARRIED_SQL,
)
from pipeline.plan.adjustments.reading import AdjustmentsFile, read_adjustments
from pipeline.plan.adjustments.rules import Adjustment, check_adjustments, plan_facts
from pipeline.plan.forecast import write_booking_draws
from pipeline.plan.store import (
    ADJUSTMENT_TABLES,
    CURRENT_ONCE,
    NEEDS_REVIEW,
    PLAN_TABLES,
    PlanDecision,
    PlanRun,
    PlanStoreError,
    promote_plan,
    record_failed_run,
    write_plan_version,
)
from pipeline.tracking.period import (
    TRACKING_TABLES,
    publish_tracking,
    record_period,
    register_rules,
    tracked_period,
    tracking_params,
)

# the plan's transforms re-run on the adjusted territories and reps, before and after the Monte Carlo
BEFORE_DRAWS = ("territory_shares", "forecast_items")
AFTER_DRAWS = ("quota_contributions", "quotas", "territory_moves", "territory_balance", "balance_diagnosis",
               "quota_history", "attainment_forecast", "plan_review", "quota_months", "segment_headcount")
WRITTEN_HERE = ("territories", "rep_plan", "territory_methods", "rep_booking_draws")
ADJUSTABLE = (CURRENT_ONCE, NEEDS_REVIEW)  # plan versions an adjustment may start from

@dataclass(frozen=True)
class Table:
    """Rows of a query, column names first."""

    columns: list[str]
    rows: list[tuple]


@dataclass(frozen=True)
class AdjustedPlan:
    """What `adjust_plan` wrote: the new plan version, its parent, the review gate's decision,
    the audit rows, each rep's quota against the rule and where the exports are."""

    plan_id: str
    parent_id: str
    decision: PlanDecision
    audit: Table
    against_rule: Table
    exports: Path


def _execute(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> duckdb.DuckDBPyConnection:
    """Run `sql` with the parameters it names (DuckDB refuses others)."""
    return con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})


def _table(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> Table:
    result = _execute(con, sql, params)
    return Table([d[0] for d in result.description], result.fetchall())


def quotas_against_rule(con: duckdb.DuckDBPyConnection, plan_id: str, settings: PlanSettings) -> Table:
    """Per rep of a plan: territory EEV, its segment's factor, the quota that rule gives (rounded to
    quota_rounding), the plan's quota and the difference (money and share of the rule's quota)."""
    return _table(con, AGAINST_RULE_SQL, {"plan_id": plan_id, "quota_rounding": settings.quota_rounding})


def _parent(con: duckdb.DuckDBPyConnection, parent_id: str) -> tuple[PlanSettings, tuple]:
    row = con.execute(PARENT_SQL, [parent_id]).fetchone() if table_exists(con, "plans", "plan_runs") else None
    if row is None:
        raise PlanStoreError(f"no plan {parent_id} in this DuckDB file (see `quota-plan plans`)")
    if row[0] not in ADJUSTABLE:
        raise PlanStoreError(f"plan {parent_id} is a {row[0]} version; only a finished plan "
                             f"({' or '.join(ADJUSTABLE)}) can be adjusted")
    return PlanSettings.model_validate_json(row[5]), row


def _requests(adjustments: list[Adjustment]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"position": n, "source_row": a.row, "kind": a.kind, "rep_id": a.rep_id, "account_id": a.account_id,
          "number": a.number, "flag": a.flag, "value": a.value, "reason": a.reason}
         for n, a in enumerate(adjustments, start=1)],
        schema={"position": pl.Int64, "source_row": pl.Int64, "kind": pl.String, "rep_id": pl.String,
                "account_id": pl.String, "number": pl.Float64, "flag": pl.Boolean, "value": pl.String,
                "reason": pl.String},
    )


def _load_parent(con: duckdb.DuckDBPyConnection, parent_id: str, settings: PlanSettings) -> None:
    """work.<table> := the parent's rows of every published table the adjustments do not change."""
    recomputed = {*BEFORE_DRAWS, *AFTER_DRAWS, *WRITTEN_HERE}
    for table, source in PLAN_TABLES.items():
        if source not in recomputed:
            con.execute(f"CREATE OR REPLACE TABLE work.{source} AS SELECT * EXCLUDE (plan_id) FROM plans.{table} "
                        "WHERE plan_id = ?", [parent_id])
    standing = ("SELECT rep_id, factor_set, quota_set FROM plans.quota_overrides WHERE plan_id = $parent"
                if table_exists(con, "plans", "quota_overrides") else
                "SELECT NULL::VARCHAR AS rep_id, NULL::DOUBLE AS factor_set, NULL::DOUBLE AS quota_set WHERE false")
    con.register("parent_overrides", _execute(con, standing, {"parent": parent_id}).pl())
    con.register("book_limits", pl.DataFrame([{"segment": s.name, "book_min": s.book_min, "book_max": s.book_max}
                                              for s in settings.segments]))


def _rebuild(con: duckdb.DuckDBPyConnection, parent_id: str, settings: PlanSettings,
             adjustments: list[Adjustment]) -> None:
    """The adjusted plan's work tables, by the plan's own SQL and Monte Carlo."""
    con.register(ADJUSTED_ROWS, _requests(adjustments))
    _load_parent(con, parent_id, settings)
    given = {"parent": parent_id, "quota_rounding": settings.quota_rounding, "adjusted_reason": ADJUSTED_REASON}
    for table, sql in (("territories", TERRITORIES_SQL), ("quota_overrides", OVERRIDES_SQL),
                       ("rep_plan", REP_PLAN_SQL), ("territory_methods", METHODS_SQL)):
        _execute(con, f"CREATE OR REPLACE TABLE work.{table} AS {sql}", given)
    params = settings.sql_params()
    for step in BEFORE_DRAWS:
        build_table(con, step, params)
    write_booking_draws(con, settings.forecast.draws, settings.seed)
    for step in in_dependency_order(AFTER_DRAWS):
        build_table(con, step, params)


def _check_quotas_carried(con: duckdb.DuckDBPyConnection, file: AdjustmentsFile,
                          adjustments: list[Adjustment]) -> None:
    """A quota set for a rep left without EEV cannot be split into account contributions: refused."""
    rows = {a.rep_id: a.row for a in adjustments if a.rep_id}
    problems = [
        (f"{file.path.name} row {rows[rep]}, column value" if rep in rows else
         f"rep {rep} (quota set by an earlier adjustment)")
        + f": the quota {quota_set:,.2f} of rep {rep} cannot be kept: the adjusted territory has no EEV to carry "
        "it (move accounts to the rep, or set its quota to 0)"
        for rep, quota_set, _ in con.execute(UNCARRIED_SQL).fetchall()
    ]
    if problems:
        raise AdjustmentsError(f"{len(problems)} problem(s) in {file.path.name}, nothing was written:\n"
                               + "\n".join(problems))


def _track(con: duckdb.DuckDBPyConnection, settings: PlanSettings, run_id: str) -> None:
    """The tracking tables of the new version (phasing, credits, attainment, coverage), as tracking_job."""
    period = tracked_period(con, settings, run_id)
    record_period(con, period)
    register_rules(con, settings)
    for table in in_dependency_order(TRACKING_TABLES):
        build_table(con, table, tracking_params(settings, period))
    publish_tracking(con, period, run_id, TRACKING_TABLES)


def adjust_plan(db: Path, parent_id: str, source: Path, note: str, adjusted_by: str) -> AdjustedPlan:
    """Apply the adjustments file `source` to plan `parent_id` of the DuckDB file `db` as a new plan
    version (parent = parent_id), with its audit trail, tracking and exports; the review gate decides
    whether it becomes current. AdjustmentsError (nothing written) when a row breaks a rule."""
    from pipeline.defs.resources import ExportFolder  # (dagster: only when exporting)
    from pipeline.exports.files import export_plan

    file = read_adjustments(source)
    run_id = f"adjust-{uuid.uuid4()}"
    adjusted_at = dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)
    with run_lock(db, f"quota-plan adjust {parent_id}", OperationsSettings().lock_wait_seconds), \
            warehouse.connect(db) as con:
        settings, parent = _parent(con, parent_id)
        adjustments = check_adjustments(file, plan_facts(con, parent_id, settings, file.rows))
        _rebuild(con, parent_id, settings, adjustments)
        _check_quotas_carried(con, file, adjustments)
        con.execute(f"CREATE OR REPLACE TABLE work.adjustments AS {AUDIT_SQL}",
                    {"parent": parent_id, "adjusted_by": adjusted_by, "adjusted_at": adjusted_at, "note": note,
                     "file": file.path.name})
        lineage = PlanRun(as_of=parent[1], settings_hash=parent[2], data_fingerprint=parent[3],
                          model_version=parent[4], dagster_run_id=run_id, settings_json=parent[5],
                          parent_plan_id=parent_id, adjustments_file=str(file.path.resolve()),
                          adjustments_digest=file.digest, note=note)
        plan_id = write_plan_version(con, lineage, {**PLAN_TABLES, **ADJUSTMENT_TABLES})
        for source_table in ADJUSTMENT_TABLES.values():  # work tables only the write needed
            con.execute(f"DROP TABLE work.{source_table}")
        try:
            _track(con, settings, run_id)
            folder = ExportFolder().for_plan(db, plan_id)
            export_plan(con, folder, plan_id, warehouse.artifact_dir(db))
            decision = promote_plan(con, plan_id, settings.review.accept_degraded)
        except Exception as exc:
            record_failed_run(con, run_id, f"{type(exc).__name__}: {exc}")
            raise
        audit = _table(con, "SELECT * EXCLUDE (plan_id) FROM plans.adjustments WHERE plan_id = $plan_id "
                            "ORDER BY adjustment", {"plan_id": plan_id})
        return AdjustedPlan(plan_id, parent_id, decision, audit, quotas_against_rule(con, plan_id, settings), folder)
