"""Ingestion: the input folder loaded into `raw.*`, checked against every contract rule.

All tables are validated together and replaced in one transaction: bad input stops the run
here, names file, column, rule, count and example keys, and leaves the previous raw tables
(and everything downstream) as they were."""

import time

import dagster as dg

from pipeline.contract import TABLES
from pipeline.data_quality import record_data_quality
from pipeline.ingest import ingest_inputs
from pipeline.map_inputs import apply_mapping
from pipeline.mapping import load_mapping
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
    """Validated raw input tables, one asset per contract table. With a source mapping the input
    folder is first mapped to contract tables in the staging folder beside the DuckDB file, and
    that folder is validated. Writes the run's data-quality report (work.data_quality) and the
    rows set aside (work.rejected_rows)."""
    started = time.perf_counter()
    mapped = None
    if plan_inputs.mapping:
        mapped = apply_mapping(plan_inputs.path, load_mapping(plan_inputs.mapping), warehouse.staging_dir)
    with warehouse.connect() as con:
        if mapped is None:
            result = ingest_inputs(con, plan_inputs.path)
        else:
            sources = [*mapped.source_files, plan_inputs.mapping_file]
            result = ingest_inputs(con, mapped.folder, fingerprint_of=sources, file_labels=mapped.file_labels)
        record_data_quality(con, result, mapped)
        for name in TABLES:
            yield table_result(
                context, con, f"raw.{name}", started,
                metadata={"file": result.files.get(name, "(absent)"), "data_fingerprint": result.data_fingerprint,
                          "mapping": plan_inputs.mapping or "(none)"},
                asset_key=f"raw_{name}",
            )
