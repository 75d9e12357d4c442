"""Ingestion: the input folder loaded into `raw.*`, checked against every contract rule.

All tables but usage are validated together and replaced in one transaction; usage is loaded
by weekly partitions (only the run's weeks are checked and replaced). Bad input stops the run
here, names file, column, rule, count and example keys, and leaves the previous raw tables
(and everything downstream) as they were. With a source mapping the input folder is first
mapped to contract tables in mapped_inputs/<db stem>/ beside the DuckDB file, and that folder is
what is validated and loaded."""

import time

import dagster as dg

from pipeline.core.settings import PlanSettings
from pipeline.defs.resources import PlanInputs, SqlEngine, Warehouse
from pipeline.defs.sql_asset import table_result
from pipeline.ingestion.contract import TABLES
from pipeline.ingestion.data_quality import record_data_quality, record_usage_load
from pipeline.ingestion.ingest import USAGE_FINGERPRINTS, ingest_inputs
from pipeline.ingestion.map_inputs import apply_mapping
from pipeline.ingestion.mapping import load_mapping
from pipeline.ingestion.usage_weeks import week_bounds

LOADED_BY_WEEK = ("usage",)

GRAIN = {
    "accounts": "one row per customer account (key account_id)",
    "products": "the price list, one row per product (key product_id); list_price is annual per unit",
    "subscriptions": "what each account holds: one row per contract line (annual arr, start/end dates)",
    "usage": "product usage per account, product and day or week (empty when the file is absent)",
    "opportunities": "CRM history and open pipeline, one row per opportunity (key opportunity_id)",
    "reps": "the sales and CS team, one row per rep (key rep_id); capacity 0-1 of a full book",
}
# tables raw_inputs writes besides the contract tables: asset key -> (table, what it holds)
INGESTION_RECORDS = {
    "raw_input_files": ("raw.input_files", "one row per input table: file, rows, content hash and the run's data "
                        "fingerprint"),
    "data_quality": ("work.data_quality", "the run's data-quality report: one row per check or load line, in "
                     "report order (position)"),
    "rejected_rows": ("work.rejected_rows", "rows set aside (by a source mapping's rules, or extra copies of exact "
                      "duplicate rows): table, file, rule, example key and the whole row as JSON"),
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(f"raw_{name}", group_name="ingestion", kinds={"duckdb"},
                     description=f"Validated input table raw.{name}: {GRAIN[name]}.")
        for name in TABLES
        if name not in LOADED_BY_WEEK
    ] + [
        dg.AssetSpec(key, group_name="ingestion", kinds={"duckdb"}, description=f"{table}: {meaning}.")
        for key, (table, meaning) in INGESTION_RECORDS.items()
    ],
    can_subset=False,
)
def raw_inputs(
    context: dg.AssetExecutionContext, warehouse: Warehouse, plan_inputs: PlanInputs,
    settings: dg.ResourceParam[PlanSettings],
):
    """Validated raw input tables, one asset per contract table (usage: see raw_usage), the
    input files' fingerprints (raw.input_files), the run's data-quality report
    (work.data_quality) and the rows set aside (work.rejected_rows)."""
    started = time.perf_counter()
    mapped = None
    if plan_inputs.mapping:
        mapped = apply_mapping(plan_inputs.path, load_mapping(plan_inputs.mapping), warehouse.mapped_inputs_dir)
    duplicate_rows = settings.operations.duplicate_rows
    segments = tuple(s.name for s in settings.segments)
    with warehouse.connect() as con:
        if mapped is None:
            result = ingest_inputs(con, plan_inputs.path, skip=LOADED_BY_WEEK, duplicate_rows=duplicate_rows,
                                   segments=segments)
        else:
            sources = [*mapped.source_files, plan_inputs.mapping_file]
            result = ingest_inputs(con, mapped.folder, fingerprint_of=sources, file_labels=mapped.file_labels,
                                   skip=LOADED_BY_WEEK, duplicate_rows=duplicate_rows,
                                   segments=segments)
        record_data_quality(con, result, mapped)
        for name in result.tables:
            yield table_result(
                context, con, f"raw.{name}", started,
                metadata={"file": result.files.get(name, "(absent)"), "data_fingerprint": result.data_fingerprint,
                          "mapping": plan_inputs.mapping or "(none)"},
                asset_key=f"raw_{name}",
            )
        for key, (table, _) in INGESTION_RECORDS.items():
            yield table_result(context, con, table, started, asset_key=key)


def _run_weeks(context: dg.AssetExecutionContext, weeks: dg.WeeklyPartitionsDefinition) -> tuple[str, str]:
    """The first and last usage week of the run: its partition range, or every week when it was
    launched without one (plan_job from the UI's launchpad: the whole usage file, as the CLI loads it)."""
    if context.has_partition_key_range:
        return context.partition_key_range.start, context.partition_key_range.end
    keys = weeks.get_partition_keys()
    return keys[0], keys[-1]


def usage_asset(weeks: dg.WeeklyPartitionsDefinition) -> dg.AssetsDefinition:
    """raw_usage over the weekly partitions `weeks` (from operations.usage_start), with the
    per-week fingerprints it keeps. A run without a partition (the UI's launchpad, where plan_job
    then needs no partition chosen) loads every week."""

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                "raw_usage", deps=["raw_accounts"], group_name="ingestion", kinds={"duckdb"},
                description=f"Validated input table raw.usage: {GRAIN['usage']}. Partitioned by week (Monday); "
                "a run replaces exactly its weeks' rows (delete-then-insert in one transaction)."),
            dg.AssetSpec(
                f"raw_{USAGE_FINGERPRINTS}", deps=["raw_accounts"], group_name="ingestion", kinds={"duckdb"},
                description=f"raw.{USAGE_FINGERPRINTS}: one row per loaded usage week (rows, order-free content "
                "hash), compared with the usage file to find restated weeks; empty when usage is read in place."),
        ],
        partitions_def=weeks, backfill_policy=dg.BackfillPolicy.single_run(), can_subset=False,
    )
    def raw_usage(
        context: dg.AssetExecutionContext, warehouse: Warehouse, plan_inputs: PlanInputs,
        settings: dg.ResourceParam[PlanSettings], sql_engine: SqlEngine,
    ):
        started = time.perf_counter()
        first, last = _run_weeks(context, weeks)
        start, end = week_bounds(weeks, first, last)
        with warehouse.connect() as con:
            loaded, kept_in = sql_engine.load_usage(con, settings, plan_inputs.contract_folder(warehouse), start, end)
            record_usage_load(con, kept_in, f"{first} .. {last}", loaded)
            yield table_result(
                context, con, "raw.usage", started, asset_key="raw_usage",
                metadata={"weeks": f"{first} .. {last}", "rows_loaded": loaded, "usage_kept_in": kept_in,
                          "dates": f"{start or 'beginning'} .. {end or 'end'} (end excluded)"},
            )
            yield table_result(context, con, f"raw.{USAGE_FINGERPRINTS}", started,
                               asset_key=f"raw_{USAGE_FINGERPRINTS}")

    return raw_usage
