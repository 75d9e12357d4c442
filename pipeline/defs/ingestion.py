"""Ingestion: the input folder loaded into `raw.*`, checked against every contract rule.

All tables are validated together and replaced in one transaction: bad input stops the run
here, names file, column, rule, count and example keys, and leaves the previous raw tables
(and everything downstream) as they were."""

import time

import dagster as dg

from pipeline.contract import TABLES
from pipeline.ingest import ingest_inputs
from pipeline.resources import PlanInputs, Warehouse
from pipeline.sql_assets import table_result


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
    ],
    can_subset=False,
)
def raw_inputs(context: dg.AssetExecutionContext, warehouse: Warehouse, plan_inputs: PlanInputs):
    """Validated raw input tables, one asset per contract table."""
    started = time.perf_counter()
    with warehouse.connect() as con:
        result = ingest_inputs(con, plan_inputs.path)
        for name in TABLES:
            yield table_result(
                context, con, f"raw.{name}", started,
                metadata={"file": result.files.get(name, "(absent)"), "data_fingerprint": result.data_fingerprint},
                asset_key=f"raw_{name}",
            )
