"""In-year tracking against the current plan: the tracking period, the settings tables the SQL
joins (attribution matrix, commission rates), the SQL parameters and the publish step.

The plan year runs [plan_start, plan_year_end(plan_start)) = [plan_start, plan_start + 12 months)
(pipeline.core.settings.plan_year_end, the one definition the letters and report use too) where
plan_start is the as_of of the CURRENT plan version (not the settings file, which may have
changed since). Tracking is
measured as of `through`: the settings' tracking.through, else the latest opportunity date in
the data (plan_start when there is none), kept inside the plan year.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import polars as pl

from pipeline.core.settings import PlanSettings, plan_year_end
from pipeline.core.warehouse import transaction
from pipeline.plan.store import current_plan_id


class TrackingError(RuntimeError):
    """Tracking cannot run: there is no current plan to track."""


@dataclass(frozen=True)
class TrackingPeriod:
    """The plan year being tracked and the day it is measured on."""

    plan_id: str
    plan_start: dt.date
    plan_end: dt.date
    through: dt.date


def current_period(con: duckdb.DuckDBPyConnection, settings: PlanSettings) -> TrackingPeriod:
    """The current plan's year and the tracking date (setting, else latest opportunity date)."""
    plan_id = current_plan_id(con)
    if plan_id is None:
        raise TrackingError("no current plan in the DuckDB file: run the plan before tracking it")
    start = con.execute("SELECT as_of FROM plans.plan_runs WHERE run_id = ?", [plan_id]).fetchone()[0]
    through = settings.tracking.through or con.execute(
        "SELECT max(greatest(created_date, coalesce(close_date, created_date))) FROM raw.opportunities"
    ).fetchone()[0] or start
    end = plan_year_end(start)
    through = max(start, min(through, end - dt.timedelta(days=1)))
    return TrackingPeriod(plan_id, start, end, through)


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
    """Replace main.<table> for every tracking table and log the run, in one transaction.

    Tracking tables are not plan versions: each tracking run replaces them (the plan it was
    measured against and the date are in main.tracking_runs)."""
    with transaction(con):
        for table in tables:
            con.execute(f"CREATE OR REPLACE TABLE main.{table} AS SELECT * FROM work.{table}")
        con.execute(
            "CREATE TABLE IF NOT EXISTS main.tracking_runs (plan_id VARCHAR, plan_start DATE, plan_end DATE, "
            "through DATE, dagster_run_id VARCHAR, created_at TIMESTAMP)"
        )
        con.execute(
            "INSERT INTO main.tracking_runs VALUES (?, ?, ?, ?, ?, current_timestamp)",
            [period.plan_id, period.plan_start, period.plan_end, period.through, dagster_run_id],
        )
