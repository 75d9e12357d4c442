"""In-year tracking of a plan: the tracking period, the settings tables the SQL joins
(attribution matrix, commission rates), the SQL parameters and the publish step.

The tracked plan is the version the run wrote (plan_job, rebalance_job: tracked before it is
made current) else the current plan (tracking_job). The plan year runs [plan_start,
plan_year_end(plan_start)) = [plan_start, plan_start + 12 months) (pipeline.core.settings.plan_year_end,
the one definition the letters and report use too) where plan_start is the as_of of that plan
version (not the settings file, which may have changed since). Tracking is measured as of
`through`: the settings' tracking.through, else the latest opportunity date in the data
(plan_start when there is none), kept inside the plan year. The period is decided once per run
(work.tracking_period) and read by every tracking step. Tracking tables are kept per plan
(plans.<table>, replaced by each tracking run of that plan); main.<table> shows the current plan's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import polars as pl

from pipeline.core.settings import PlanSettings, plan_year_end
from pipeline.core.warehouse import transaction
from pipeline.plan.store import current_plan_id, plan_of_run

# the tracking tables, in the order they are computed; each kept per plan by publish_tracking
TRACKING_TABLES = ("quota_phasing", "expansion_deals", "expansion_credits", "csm_source_bonus", "attainment",
                   "pipeline_coverage")


class TrackingError(RuntimeError):
    """Tracking cannot run: there is no current plan to track."""


@dataclass(frozen=True)
class TrackingPeriod:
    """The plan year being tracked and the day it is measured on."""

    plan_id: str
    plan_start: dt.date
    plan_end: dt.date
    through: dt.date


def tracked_period(con: duckdb.DuckDBPyConnection, settings: PlanSettings, dagster_run_id: str) -> TrackingPeriod:
    """The tracked plan's year and the tracking date (setting, else latest opportunity date)."""
    plan_id = plan_of_run(con, dagster_run_id) or current_plan_id(con)
    if plan_id is None:
        raise TrackingError("no current plan in the DuckDB file: run the plan before tracking it")
    start = con.execute("SELECT as_of FROM plans.plan_runs WHERE run_id = ?", [plan_id]).fetchone()[0]
    through = settings.tracking.through or con.execute(
        "SELECT max(greatest(created_date, coalesce(close_date, created_date))) FROM raw.opportunities"
    ).fetchone()[0] or start
    end = plan_year_end(start)
    through = max(start, min(through, end - dt.timedelta(days=1)))
    return TrackingPeriod(plan_id, start, end, through)


def record_period(con: duckdb.DuckDBPyConnection, period: TrackingPeriod) -> None:
    """work.tracking_period: the one row every tracking step of this run reads."""
    con.execute("CREATE OR REPLACE TABLE work.tracking_period (plan_id VARCHAR, plan_start DATE, plan_end DATE, "
                "through DATE)")
    con.execute("INSERT INTO work.tracking_period VALUES (?, ?, ?, ?)",
                [period.plan_id, period.plan_start, period.plan_end, period.through])


def recorded_period(con: duckdb.DuckDBPyConnection) -> TrackingPeriod:
    """The period this run's first tracking step decided (record_period)."""
    return TrackingPeriod(*con.execute("SELECT plan_id, plan_start, plan_end, through FROM work.tracking_period")
                          .fetchone())


def register_rules(con: duckdb.DuckDBPyConnection, settings: PlanSettings) -> None:
    """work.credit_rules (source x size tier -> shares, rule text) and work.commission_rates."""
    rules = pl.DataFrame(  # noqa: F841  (read by the SQL below)
        settings.tracking.credit_rules(), schema_overrides={"max_amount": pl.Float64}
    )
    rates = pl.DataFrame(settings.tracking.commission_table())  # noqa: F841
    con.execute("CREATE OR REPLACE TABLE work.credit_rules AS SELECT * FROM rules")
    con.execute("CREATE OR REPLACE TABLE work.commission_rates AS SELECT * FROM rates")


def tracking_params(settings: PlanSettings, period: TrackingPeriod) -> dict[str, object]:
    """Every value the tracking SQL binds as `$name`."""
    track = settings.tracking
    return {
        "plan_id": period.plan_id,
        "plan_start": period.plan_start,
        "through": period.through,
        "missing_source": track.missing_source,
        "csm_bonus_rate": track.csm_bonus_rate,
        "phasing": track.phasing,
        "phasing_history_years": track.phasing_history_years,
        "coverage_next_quarters": track.coverage_next_quarters,
        "qualified_stages": track.qualified_stages,
        "coverage_warning": track.coverage_warning,
        "coverage_urgent": track.coverage_urgent,
    }


def publish_tracking(
    con: duckdb.DuckDBPyConnection, period: TrackingPeriod, dagster_run_id: str, tables: Sequence[str]
) -> None:
    """Replace the tracked plan's rows of plans.<table> for every tracking table and log the run,
    in one transaction; main.<table> views show the current plan's rows.

    Tracking tables are not plan versions: each tracking run of a plan replaces that plan's rows
    (the date it was measured on is in main.tracking_runs)."""
    with transaction(con):
        for table in tables:
            _replace_plan_rows(con, table, period.plan_id)
        con.execute(
            "CREATE TABLE IF NOT EXISTS main.tracking_runs (plan_id VARCHAR, plan_start DATE, plan_end DATE, "
            "through DATE, dagster_run_id VARCHAR, created_at TIMESTAMP)"
        )
        con.execute(
            "INSERT INTO main.tracking_runs VALUES (?, ?, ?, ?, ?, current_timestamp)",
            [period.plan_id, period.plan_start, period.plan_end, period.through, dagster_run_id],
        )


def _replace_plan_rows(con: duckdb.DuckDBPyConnection, table: str, plan_id: str) -> None:
    """plans.<table> := its other plans' rows + work.<table> under plan_id (columns follow work)."""
    if con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' "
                   "AND table_name = ? AND table_type = 'BASE TABLE'", [table]).fetchone()[0]:
        con.execute(f"DROP TABLE main.{table}")  # tracking kept in main by earlier versions of the tool
    con.execute(f"CREATE TABLE IF NOT EXISTS plans.{table} AS SELECT ''::VARCHAR AS plan_id, * FROM work.{table} "
                "LIMIT 0")
    con.execute(f"CREATE OR REPLACE TABLE plans.{table} AS SELECT * FROM plans.{table} WHERE plan_id <> ? "
                f"UNION ALL BY NAME SELECT ? AS plan_id, * FROM work.{table}", [plan_id, plan_id])
    con.execute(f"CREATE OR REPLACE VIEW main.{table} AS SELECT * EXCLUDE (plan_id) FROM plans.{table} "
                "WHERE plan_id = (SELECT plan_id FROM plans.current_plan)")
