"""Exports: the workbook, CSV/Parquet, quota letters and plan report of the plan a run just
published, with the key figures and charts in the asset's metadata."""

import time

import dagster as dg

from models.charts import markdown_image
from pipeline.core.progress import log_step
from pipeline.defs.resources import ExportFolder, Warehouse
from pipeline.exports.files import export_plan
from pipeline.plan.store import current_plan_id


@dg.asset(group_name="plan", deps=["plan_version", "tracking_version"], kinds={"excel", "html"})
def plan_exports(context: dg.AssetExecutionContext, warehouse: Warehouse,
                 export_folder: ExportFolder) -> dg.MaterializeResult:
    """The current plan as files people open, in exports/<plan_id>/ beside the DuckDB file:
    Excel workbook, CSV and Parquet per table, one quota letter per rep (HTML), plan report
    with charts (HTML), charts as PNG."""
    started = time.perf_counter()
    with warehouse.connect() as con:
        plan_id = current_plan_id(con) or ""
        result = export_plan(con, export_folder.for_plan(warehouse.path, plan_id), plan_id, warehouse.artifact_dir)
    seconds = time.perf_counter() - started
    context.log.info("\n".join(result.where()))
    log_step(context, "plan_exports", f"{len(result.sheets)} sheets, {len(result.letters)} letters in {result.folder}",
             seconds)
    charts = {}
    for key, path in result.charts.items():
        charts[f"chart_{key}"] = dg.MetadataValue.md(markdown_image(path, key))
        charts[f"chart_{key}_file"] = dg.MetadataValue.path(str(path))
    return dg.MaterializeResult(metadata={
        "plan_id": plan_id,
        "folder": dg.MetadataValue.path(str(result.folder)),
        "workbook": dg.MetadataValue.path(str(result.workbook)),
        "report": dg.MetadataValue.path(str(result.report)),
        "letters": len(result.letters),
        "sheets": dg.MetadataValue.json(result.sheets),
        "seconds": round(seconds, 3),
        **{name: dg.MetadataValue.float(value) for name, value in result.figures.items()},
        **charts,
    })
