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


@dg.multi_asset(
    specs=[
        dg.AssetSpec(f"raw_{name}", group_name="ingestion", kinds={"duckdb"}, description=spec.description)
        for name, spec in TABLES.items()
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
