"""In-year tracking of a plan: credit splits, CSM source bonus, attainment and pipeline
coverage. The assets read the tracked plan's tables (plans.quotas, plans.territories,
plans.account_eev of the plan the run wrote, else of the current plan), so they run after
plan_version in plan_job and on their own in tracking_job, and publish their tables together
at the end (pipeline/tracking/period.py)."""

import time

import dagster as dg
import duckdb

from pipeline.core.settings import PlanSettings
from pipeline.defs.resources import Warehouse
from pipeline.defs.sql_asset import sql_asset, table_result
from pipeline.tracking.period import (
    TRACKING_TABLES,
    publish_tracking,
    record_period,
    recorded_period,
    register_rules,
    tracked_period,
    tracking_params,
)

GROUP = "tracking"


@dg.multi_asset(
    specs=[
        dg.AssetSpec("credit_rules", group_name=GROUP, deps=["plan_version", "raw_opportunities"], kinds={"duckdb"},
                     description="The attribution matrix of the settings. Grain: source x size tier; [min_amount, "
                     "max_amount) in deal ARR, rep_share and csm_share 0-1, rule = readable text."),
        dg.AssetSpec("commission_rates", group_name=GROUP, kinds={"duckdb"},
                     description="Expansion rep commission rate per segment (0-1), from the settings."),
        dg.AssetSpec("tracking_period", group_name=GROUP, deps=["plan_version", "raw_opportunities"], kinds={"duckdb"},
                     description="The tracked plan of this run (the plan the run wrote, else the current plan), "
                     "its plan year [plan_start, plan_end) and the tracking date `through`. One row."),
    ],
    can_subset=False,
)
def credit_rules(context: dg.AssetExecutionContext, warehouse: Warehouse, settings: dg.ResourceParam[PlanSettings]):
    """work.credit_rules and work.commission_rates from the tracking settings, and the period of
    this tracking run (work.tracking_period: the tracked plan, its year, the tracking date)."""
    started = time.perf_counter()
    with warehouse.connect() as con:
        register_rules(con, settings)
        period = tracked_period(con, settings, context.run_id)
        record_period(con, period)
        yield table_result(
            context, con, "work.credit_rules", started, asset_key="credit_rules",
            metadata={"plan_id": period.plan_id, "plan_start": str(period.plan_start), "through": str(period.through)},
        )
        yield table_result(context, con, "work.commission_rates", started, asset_key="commission_rates")
        yield table_result(context, con, "work.tracking_period", started, asset_key="tracking_period")


def _params(settings: PlanSettings, con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    return tracking_params(settings, recorded_period(con))


# the tracking tables, each published by tracking_version; _params reads the period credit_rules decided
tracking_tables = [sql_asset(name, group=GROUP, params=_params, params_read=("tracking_period",))
                   for name in TRACKING_TABLES]


@dg.asset(
    group_name=GROUP,
    deps=[*TRACKING_TABLES, "tracking_period"],
    kinds={"duckdb"},
)
def tracking_version(
    context: dg.AssetExecutionContext, warehouse: Warehouse, settings: dg.ResourceParam[PlanSettings]
) -> dg.MaterializeResult:
    """Publishes the tracking tables of the tracked plan together (plans.<table> rows of that plan,
    one transaction) and logs the run in main.tracking_runs (plan_id, plan year, through date)."""
    started = time.perf_counter()
    with warehouse.connect() as con:
        period = recorded_period(con)
        publish_tracking(con, period, context.run_id, TRACKING_TABLES)
        defaulted, flags, window = con.execute(
            "SELECT (SELECT count(*) FROM work.expansion_credits WHERE source_defaulted), "
            "(SELECT string_agg(flag || ' ' || n, ', ' ORDER BY flag) FROM "
            "(SELECT flag, count(*) AS n FROM work.pipeline_coverage GROUP BY flag)), "
            "(SELECT any_value(window_start || ' to ' || window_end || ' (exclusive)') FROM work.pipeline_coverage)"
        ).fetchone()
        if defaulted:
            context.log.warning(
                f"{defaulted} won expansion deals have no source: credited by the "
                f"'{settings.tracking.missing_source}' rule (tracking.missing_source)"
            )
        return table_result(
            context, con, "main.tracking_runs", started,
            metadata={"plan_id": period.plan_id, "through": str(period.through),
                      "deals_without_source": int(defaulted), "coverage_flags": flags or "",
                      "coverage_window": window or ""},
        )
