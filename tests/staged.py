"""A real DuckDB file with the staged tables built by the real SQL, for tests with known answers.

The transforms are built in the order the asset graph gives (pipeline.core.sql_graph), with the
parameters the assets bind."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import duckdb

from pipeline.core import warehouse
from pipeline.core.settings import PlanSettings
from pipeline.core.sql_graph import in_dependency_order, sql_deps
from pipeline.core.warehouse import build_table, sql_files
from pipeline.defs.tracking import TRACKING_TABLES
from pipeline.ingestion.ingest import ingest_inputs
from pipeline.staging.state import account_state_params, write_segment_bands
from pipeline.tracking.period import TrackingPeriod, register_rules, tracking_params


def transforms_upstream(name: str) -> list[str]:
    """The `sql/` transforms `name` needs (itself included), in dependency order."""
    needed, todo = set(), [name]
    while todo:
        step = todo.pop()
        if step not in needed and step in sql_files():
            needed.add(step)
            todo.extend(sql_deps(step))
    return in_dependency_order(needed)


def build_steps(con: duckdb.DuckDBPyConnection, settings: PlanSettings, steps: Iterable[str]) -> None:
    """Build `work.<step>` for each step, in dependency order, with the plan's parameters."""
    for step in in_dependency_order(steps):
        params = account_state_params(settings, con) if step == "account_state" else settings.sql_params()
        build_table(con, step, params)


def build_whitespace(input_dir: Path, db: Path, settings: PlanSettings) -> Path:
    """Load an input folder into a real DuckDB file and build every table up to whitespace_items
    with the real SQL (the same functions the Dagster assets call); returns the file."""
    with warehouse.connect(db) as con:
        ingest_inputs(con, input_dir)
        write_segment_bands(con, settings)
        build_steps(con, settings, transforms_upstream("whitespace_items"))
    return db


def build_tracking(con: duckdb.DuckDBPyConnection, settings: PlanSettings, period: TrackingPeriod) -> None:
    """Every tracking table into work.* (the SQL and parameters the tracking assets use)."""
    register_rules(con, settings)
    for table in in_dependency_order(TRACKING_TABLES):
        build_table(con, table, tracking_params(settings, period))
