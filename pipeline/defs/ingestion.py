"""Ingestion: the input folder loaded into `raw.*`, checked against every contract rule.

All tables but usage are validated together and replaced in one transaction; usage is loaded
by weekly partitions (only the run's weeks are checked and replaced). Bad input stops the run
here, names file, column, rule, count and example keys, and leaves the previous raw tables
(and everything downstream) as they were."""

import time

import dagster as dg

from pipeline.contract import TABLES
from pipeline.ingest import ingest_inputs, ingest_usage_window
from pipeline.resources import PlanInputs, Warehouse, resources_from_env
from pipeline.sql_assets import table_result
from pipeline.usage_weeks import usage_weeks, week_bounds

LOADED_BY_WEEK = ("usage",)


GRAIN = {
    "accounts": "one row per customer account (key account_id)",
    "products": "the price list, one row per product (key product_id); list_price is annual per unit",
    "subscriptions": "what each account holds: one row per contract line (annual arr, start/end dates)",
    "usage": "product usage per account, product and day or week (empty when the file is absent)",
    "opportunities": "CRM history and open pipeline, one row per opportunity (key opportunity_id)",
    "reps": "the sales and CS team, one row per rep (key rep_id); capacity 0-1 of a full book",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(f"raw_{name}", group_name="ingestion", kinds={"duckdb"},
                     description=f"Validated input table raw.{name}: {GRAIN[name]}.")
        for name in TABLES
        if name not in LOADED_BY_WEEK
    ],
    can_subset=False,
)
def raw_inputs(context: dg.AssetExecutionContext, warehouse: Warehouse, plan_inputs: PlanInputs):
    """Validated raw input tables, one asset per contract table (usage: see raw_usage)."""
    started = time.perf_counter()
    with warehouse.connect() as con:
        result = ingest_inputs(con, plan_inputs.path, skip=LOADED_BY_WEEK)
        for name in result.tables:
            yield table_result(
                context, con, f"raw.{name}", started,
                metadata={"file": result.files.get(name, "(absent)"), "data_fingerprint": result.data_fingerprint},
                asset_key=f"raw_{name}",
            )


@dg.definitions
def usage() -> dg.Definitions:
    weeks = usage_weeks(resources_from_env()["plan_config"].load().operations.usage_start)

    @dg.asset(
        name="raw_usage", partitions_def=weeks, backfill_policy=dg.BackfillPolicy.single_run(),
        deps=["raw_accounts"], group_name="ingestion", kinds={"duckdb"},
        description=f"Validated input table raw.usage: {GRAIN['usage']}. Partitioned by week (Monday); "
        "a run replaces exactly its weeks' rows (delete-then-insert in one transaction).",
    )
    def raw_usage(
        context: dg.AssetExecutionContext, warehouse: Warehouse, plan_inputs: PlanInputs
    ) -> dg.MaterializeResult:
        started = time.perf_counter()
        first, last = context.partition_key_range.start, context.partition_key_range.end
        start, end = week_bounds(weeks, first, last)
        with warehouse.connect() as con:
            loaded = ingest_usage_window(con, plan_inputs.path, start, end)
            return table_result(
                context, con, "raw.usage", started,
                metadata={"weeks": f"{first} .. {last}", "rows_loaded": loaded,
                          "dates": f"{start or 'beginning'} .. {end or 'end'} (end excluded)"},
            )

    return dg.Definitions(assets=[raw_inputs, raw_usage])
