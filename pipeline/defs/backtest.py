"""Backtest assets (group "backtest", run by backtest_job, never by plan_job): the plan's quotas
next to the expansion ARR actually won afterwards, under three quota schemes, and a chart."""

import time

import dagster as dg
import polars as pl

from models.charts import backtest_chart, markdown_image
from pipeline.backtest.compare import BACKTEST_GROUP, backtest_chart_path, backtest_params
from pipeline.core.settings import PlanSettings
from pipeline.defs.resources import Warehouse
from pipeline.defs.sql_asset import markdown_preview, sql_asset, table_result

# backtest_params reads the latest input dates (raw tables) and the plan's as-of (plan_version)
backtest_results = sql_asset("backtest_results", group=BACKTEST_GROUP, params=backtest_params, schema="main",
                             params_read=("plan_version", "raw_subscriptions"))
backtest_summary = sql_asset("backtest_summary", group=BACKTEST_GROUP, schema="main")


@dg.asset(group_name=BACKTEST_GROUP, deps=["backtest_summary"], kinds={"matplotlib"})
def backtest_report(
    context: dg.AssetExecutionContext, warehouse: Warehouse, settings: dg.ResourceParam[PlanSettings]
) -> dg.MaterializeResult:
    """Chart of every rep's attainment under each quota scheme, saved beside the DuckDB file as
    artifacts/backtest_<as_of>.png, with the summary table in the metadata."""
    started = time.perf_counter()
    as_of = settings.as_of
    with warehouse.connect() as con:
        reps = con.sql("SELECT scheme, attainment FROM main.backtest_results ORDER BY scheme_order, rep_id").pl()
        chart = backtest_chart(
            reps.with_columns(pl.col("attainment").cast(pl.Float64)),
            backtest_chart_path(warehouse.path, as_of),
            f"Backtest of the plan as of {as_of}: attainment per rep by quota scheme",
        )
        return table_result(
            context, con, "main.backtest_summary", started, asset_key="backtest_report",
            metadata={
                "chart": dg.MetadataValue.path(str(chart)),
                "attainment_chart": dg.MetadataValue.md(markdown_image(chart, "attainment per rep")),
                "summary": dg.MetadataValue.md(markdown_preview(con, "main.backtest_summary", limit=100)),
            },
        )
