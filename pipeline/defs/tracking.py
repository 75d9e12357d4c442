"""In-year tracking against the current plan: credit splits, CSM source bonus, attainment and
pipeline coverage. The assets read the plan's published tables (main.quotas,
main.territories, main.account_eev), so they run after plan_version in plan_job and on their
own in tracking_job, and publish their tables together at the end."""

import time

import dagster as dg
import duckdb

from pipeline.resources import PlanConfig, Warehouse
from pipeline.settings import PlanSettings
from pipeline.sql_assets import sql_asset, table_result
from pipeline.tracking import current_period, publish_tracking, register_rules, tracking_params

GROUP = "tracking"


@dg.asset(group_name=GROUP, deps=["plan_version", "raw_opportunities"], kinds={"duckdb"})
def credit_rules(
    context: dg.AssetExecutionContext, warehouse: Warehouse, plan_config: PlanConfig
) -> dg.MaterializeResult:
    """The attribution matrix of the settings. Grain: source x size tier; [min_amount,
    max_amount) in deal ARR, rep_share and csm_share 0-1, rule = readable text. Also writes
    work.commission_rates (segment -> expansion rep commission rate 0-1)."""
    started = time.perf_counter()
    settings = plan_config.load()
    with warehouse.connect() as con:
        register_rules(con, settings)
        period = current_period(con, settings)
        return table_result(
            context, con, "work.credit_rules", started,
            metadata={"plan_id": period.plan_id, "plan_start": str(period.plan_start), "through": str(period.through)},
        )


def _params(settings: PlanSettings, con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    return tracking_params(settings, current_period(con, settings))


quota_phasing = sql_asset("quota_phasing", deps=["credit_rules", "raw_opportunities"], group=GROUP, params=_params)
expansion_deals = sql_asset(
    "expansion_deals", deps=["credit_rules", "raw_opportunities", "raw_accounts", "plan_version"],
    group=GROUP, params=_params,
)
expansion_credits = sql_asset(
    "expansion_credits", deps=["expansion_deals", "raw_reps", "plan_version"], group=GROUP, params=_params
)
csm_source_bonus = sql_asset("csm_source_bonus", deps=["expansion_credits", "raw_reps"], group=GROUP, params=_params)
attainment = sql_asset("attainment", deps=["expansion_credits", "quota_phasing"], group=GROUP, params=_params)
pipeline_coverage = sql_asset(
    "pipeline_coverage", deps=["expansion_deals", "expansion_credits"], group=GROUP, params=_params
)


@dg.asset(
    group_name=GROUP,
    deps=["quota_phasing", "expansion_deals", "expansion_credits", "csm_source_bonus", "attainment",
          "pipeline_coverage"],
    kinds={"duckdb"},
)
def tracking_version(
    context: dg.AssetExecutionContext, warehouse: Warehouse, plan_config: PlanConfig
) -> dg.MaterializeResult:
    """Publishes the tracking tables to main.* together (one transaction) and logs the run in
    main.tracking_runs (plan_id, plan year, through date)."""
    started = time.perf_counter()
    settings = plan_config.load()
    with warehouse.connect() as con:
        period = current_period(con, settings)
        publish_tracking(con, period, context.run_id)
        defaulted, flags = con.execute(
            "SELECT (SELECT count(*) FROM main.expansion_credits WHERE source_defaulted), "
            "(SELECT string_agg(flag || ' ' || n, ', ' ORDER BY flag) FROM "
            "(SELECT flag, count(*) AS n FROM main.pipeline_coverage GROUP BY flag))"
        ).fetchone()
        if defaulted:
            context.log.warning(
                f"{defaulted} won expansion deals have no source: credited by the "
                f"'{settings.tracking.missing_source}' rule (tracking.missing_source)"
            )
        return table_result(
            context, con, "main.tracking_runs", started,
            metadata={"plan_id": period.plan_id, "through": str(period.through),
                      "deals_without_source": int(defaulted), "coverage_flags": flags or ""},
        )
