"""Staged tables: segment bands from the settings, snapshot dates, and the point-in-time
account, holding and usage state every later step reads."""

import time

import dagster as dg

from pipeline.core.settings import PlanSettings
from pipeline.core.sql_graph import sql_deps
from pipeline.core.warehouse import build_table
from pipeline.defs.resources import Warehouse
from pipeline.defs.sql_asset import sql_asset, sql_description, table_result
from pipeline.staging.state import account_state_params, write_segment_bands

# Run tag of jobs that only score the plan date (refresh_job): no training snapshots are built.
PLAN_DATE_ONLY_TAG = "quota_plan/plan_date_only"


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "segment_bands", group_name="staging", deps=["raw_accounts"], kinds={"duckdb"},
            description="ACV bands of the plan settings. Grain: segment. [min_acv, max_acv) in annual money; "
            "max_acv NULL for the top band; quota_factor 0-1 as the settings give it (0 for self_serve, never "
            "assigned; NULL for 'auto': the factor the plan uses is work.quota_factors'); restricted = the band "
            "takes only the accounts work.segment_accounts lists for it (it narrows by dimension values); "
            "book_min / book_max (accounts per full-capacity rep) and target_eev_per_rep as the settings give them."),
        dg.AssetSpec(
            "segment_accounts", group_name="staging", deps=["raw_accounts"], kinds={"duckdb"},
            description="Accounts a segment takes by name or by dimension value. Grain: account_id x segment; "
            "named = listed in the segment's accounts (it goes there whatever its ACV), else its dimension values "
            "are the segment's (it goes there when its ACV is in the band)."),
    ],
    can_subset=False,
)
def segment_bands(context: dg.AssetExecutionContext, warehouse: Warehouse, settings: dg.ResourceParam[PlanSettings]):
    """The segments of the settings as tables; stops when accounts hold dimension values no segment takes."""
    started = time.perf_counter()
    with warehouse.connect() as con:
        write_segment_bands(con, settings)
        yield table_result(context, con, "work.segment_bands", started, asset_key="segment_bands")
        yield table_result(context, con, "work.segment_accounts", started, asset_key="segment_accounts")


@dg.asset(group_name="staging", deps=sql_deps("snapshot_dates"), kinds={"duckdb"},
          description=sql_description("snapshot_dates"))
def snapshot_dates(
    context: dg.AssetExecutionContext, warehouse: Warehouse, settings: dg.ResourceParam[PlanSettings]
) -> dg.MaterializeResult:
    started = time.perf_counter()
    params = settings.sql_params()
    plan_date_only = context.run.tags.get(PLAN_DATE_ONLY_TAG) == "true"
    if plan_date_only:
        params["max_snapshots"] = 0
    with warehouse.connect() as con:
        build_table(con, "snapshot_dates", params)
        return table_result(context, con, "work.snapshot_dates", started,
                            metadata={"training_snapshots": not plan_date_only})


account_state = sql_asset("account_state", group="staging", params=account_state_params)
holdings = sql_asset("holdings", group="staging")
usage_features = sql_asset("usage_features", group="staging")
