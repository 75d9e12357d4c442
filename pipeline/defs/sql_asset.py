"""Thin Dagster wiring shared by the asset modules.

`sql_asset` turns `sql/<name>.sql` into an asset that builds table `work.<name>` (or another
schema's); its deps are the writers of the tables its SQL reads (`pipeline.core.sql_graph`) and its
description is the SQL file's header comment (grain, key, units), so the UI shows what the
table means. `table_result` reports row counts, timing and a preview of any table.
"""


import time
from collections.abc import Callable, Sequence
from typing import Any

import dagster as dg
import duckdb

from pipeline.core.progress import log_step
from pipeline.core.settings import PlanSettings
from pipeline.core.sql_graph import sql_deps
from pipeline.core.warehouse import sql_text, table_rows
from pipeline.defs.resources import PlanInputs, SqlEngine, Warehouse
from pipeline.engines.spark_sql import SPARK_TRANSFORMS

PREVIEW_ROWS = 5
ParamsFn = Callable[[PlanSettings, duckdb.DuckDBPyConnection], dict[str, Any]]


def sql_description(name: str) -> str:
    """The leading `--` comment block of sql/<name>.sql, as plain text."""
    lines = []
    for line in sql_text(name).splitlines():
        if not line.startswith("--"):
            break
        lines.append(line[2:].strip())
    return "\n".join(lines)


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], decimals: int = 3) -> str:
    """Rows as a Markdown table (floats to `decimals` decimals), for Dagster metadata."""
    def cell(v: Any) -> str:
        return "" if v is None else f"{v:,.{decimals}f}" if isinstance(v, float) else str(v)

    header = "| " + " | ".join(columns) + " |"
    rule = "|" + "---|" * len(columns)
    return "\n".join([header, rule, *("| " + " | ".join(cell(v) for v in row) + " |" for row in rows)])


def markdown_preview(con: duckdb.DuckDBPyConnection, table: str, limit: int = PREVIEW_ROWS) -> str:
    """The first rows of a table as a Markdown table."""
    rel = con.sql(f"SELECT * FROM {table} LIMIT {int(limit)}")
    return markdown_table(rel.columns, rel.fetchall())


def table_result(
    context: dg.AssetExecutionContext,
    con: duckdb.DuckDBPyConnection,
    table: str,
    started: float,
    metadata: dict[str, Any] | None = None,
    asset_key: str | None = None,
) -> dg.MaterializeResult:
    """Materialization metadata for one table: rows, seconds, preview, and extras."""
    rows = table_rows(con, table)
    seconds = time.perf_counter() - started
    step = asset_key or context.asset_key.to_user_string()  # the asset's name, as the UI shows it
    log_step(context, step, f"{rows:,} {table}", seconds)
    return dg.MaterializeResult(
        asset_key=asset_key,
        metadata={
            "table": table,
            "dagster/row_count": rows,
            "seconds": round(seconds, 3),
            "preview": dg.MetadataValue.md(markdown_preview(con, table)),
            **(metadata or {}),
        },
    )


def _default_params(settings: PlanSettings, con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    return settings.sql_params()


def sql_asset(
    name: str,
    group: str,
    params: ParamsFn = _default_params,
    schema: str = "work",
    params_read: Sequence[str] = (),
) -> dg.AssetsDefinition:
    """An asset that runs sql/<name>.sql into <schema>.<name> with the plan's bound parameters.
    Its deps are read off the SQL; `params_read`: assets the `params` function reads too."""

    kinds = {"duckdb", "spark"} if name in SPARK_TRANSFORMS else {"duckdb"}  # the engines it may run on
    deps = sorted({*sql_deps(name), *params_read})

    @dg.asset(name=name, deps=deps, group_name=group, description=sql_description(name), kinds=kinds)
    def _asset(
        context: dg.AssetExecutionContext, warehouse: Warehouse, settings: dg.ResourceParam[PlanSettings],
        plan_inputs: PlanInputs, sql_engine: SqlEngine,
    ) -> dg.MaterializeResult:
        started = time.perf_counter()
        with warehouse.connect() as con:
            sql_engine.build(con, name, params(settings, con), settings, plan_inputs.contract_folder(warehouse),
                             schema=schema)
            return table_result(context, con, f"{schema}.{name}", started,
                                metadata={"engine": sql_engine.engine_for(name, settings)})

    return _asset
