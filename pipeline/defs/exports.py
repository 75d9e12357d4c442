"""Exports: the workbook, CSV/Parquet, quota letters and plan report of the plan a run just
wrote, with the key figures and charts in the asset's metadata; then the run's last step,
current_plan, which makes that plan current unless it needs review."""

import time

import dagster as dg

from models.charts import markdown_image
from pipeline.core.progress import log_step
from pipeline.defs.resources import ExportFolder, Warehouse
from pipeline.exports.files import export_plan
from pipeline.core.settings import PlanSettings
from pipeline.defs.plan_states import state_metadata
from pipeline.plan.approval import plan_state
from pipeline.plan.store import current_plan_id, plan_of_run, promote_plan


@dg.asset(group_name="plan", deps=["plan_version", "tracking_version"], kinds={"excel", "html"})
def plan_exports(context: dg.AssetExecutionContext, warehouse: Warehouse,
                 export_folder: ExportFolder) -> dg.MaterializeResult:
    """The plan this run wrote (else the current plan) as files people open, in
    exports/<db stem>/<plan_id>/ beside the DuckDB file: Excel workbook, CSV and Parquet per table, one
    quota letter per rep with a quota (HTML and PDF), plan report with charts (HTML), charts as PNG."""
    started = time.perf_counter()
    with warehouse.connect() as con:
        plan_id = plan_of_run(con, context.run_id) or current_plan_id(con) or ""
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
        "letter_pdfs": len(result.letter_pdfs),
        "sheets": dg.MetadataValue.json(result.sheets),
        "seconds": round(seconds, 3),
        **{name: dg.MetadataValue.float(value) for name, value in result.figures.items()},
        **charts,
    })


@dg.asset(group_name="plan", deps=["plan_version", "tracking_version", "plan_exports"], kinds={"duckdb"})
def current_plan(context: dg.AssetExecutionContext, warehouse: Warehouse,
                 settings: dg.ResourceParam[PlanSettings]) -> dg.MaterializeResult:
    """The run's last step: the plan version it wrote becomes THE current plan (main.* views,
    plans.current_plan) when plan_review holds no reason to review it, or the settings accept
    degraded plans (review.accept_degraded); otherwise it is kept as `needs_review` and the
    previous plan stays current. Its tracking and exports are complete by now."""
    started = time.perf_counter()
    with warehouse.connect() as con:
        plan_id = plan_of_run(con, context.run_id)
        if plan_id is None:
            raise dg.Failure("this run wrote no plan version to make current", allow_retries=False)
        decision = promote_plan(con, plan_id, settings.review.accept_degraded)
        review_state = state_metadata(plan_state(con, plan_id))
    for line in decision.warnings:
        context.log.warning(line)
    for line in decision.reasons:
        context.log.warning(f"needs review: {line}")
    log_step(context, "current_plan", f"{plan_id} {'made current' if decision.current else 'needs review'}",
             time.perf_counter() - started)
    return dg.MaterializeResult(metadata={
        **review_state, "status": decision.status, "current": decision.current,
        "review_reasons": dg.MetadataValue.md("\n".join(f"- {r}" for r in decision.reasons) or "none"),
        "warnings": dg.MetadataValue.md("\n".join(f"- {w}" for w in decision.warnings) or "none"),
    })
