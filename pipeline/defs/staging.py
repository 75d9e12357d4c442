"""Staged tables: segment bands from the settings, snapshot dates, and the point-in-time
account, holding and usage state every later step reads."""

import time

import dagster as dg

from pipeline.resources import PlanConfig, Warehouse
from pipeline.sql_assets import sql_asset, table_result
from pipeline.staging import account_state_params, write_segment_bands


@dg.asset(group_name="staging", kinds={"duckdb"})
def segment_bands(context: dg.AssetExecutionContext, warehouse: Warehouse, plan_config: PlanConfig):
    """ACV bands of the plan settings. Grain: segment. [min_acv, max_acv) in annual money;
    max_acv NULL for the top band; quota_factor 0-1 (0 for self_serve, never assigned)."""
    started = time.perf_counter()
    with warehouse.connect() as con:
        write_segment_bands(con, plan_config.load())
        return table_result(context, con, "work.segment_bands", started)


snapshot_dates = sql_asset("snapshot_dates", deps=["raw_subscriptions"], group="staging")
account_state = sql_asset(
    "account_state",
    deps=["snapshot_dates", "segment_bands", "raw_accounts", "raw_subscriptions", "raw_opportunities"],
    group="staging",
    params=account_state_params,
)
holdings = sql_asset("holdings", deps=["account_state", "raw_subscriptions", "raw_products"], group="staging")
usage_features = sql_asset("usage_features", deps=["snapshot_dates", "raw_usage"], group="staging")
