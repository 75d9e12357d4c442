"""The Dagster code location.

`build_definitions` wires every asset, check, job, schedule and sensor of pipeline/defs/ to
one run's places (input folder, DuckDB file, exports) and settings. The CLI calls it with the
settings it parsed (pipeline/runner.py); `defs` is what `dagster dev -w workspace.yaml` loads:
the places come from the environment (read here, and by the CLI for the same places in
pipeline/commands/common.py) and each run parses the settings file once when it starts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from pipeline.core.progress import progress_logger
from pipeline.core.settings import DEFAULT_CONFIG, PlanSettings, load_settings
from pipeline.defs import backtest, exports, forecast, ingestion, model, plan, refresh, staging, tracking, whitespace
from pipeline.defs.automation import plan_automation
from pipeline.defs.checks import PLAN_CHECKS
from pipeline.defs.jobs import plan_jobs
from pipeline.defs.resources import (
    DEFAULT_DB,
    DEFAULT_INPUT,
    ExportFolder,
    PlanInputs,
    SqlEngine,
    Warehouse,
    settings_from_file,
)
from pipeline.ingestion.usage_weeks import usage_weeks

STAGES = (ingestion, staging, whitespace, model, plan, forecast, tracking, exports, refresh, backtest)
UI_ENVIRONMENT = ("QUOTA_PLAN_INPUT", "QUOTA_PLAN_MAPPING", "QUOTA_PLAN_CONFIG", "QUOTA_PLAN_DB", "QUOTA_PLAN_EXPORTS")


@dataclass(frozen=True)
class RunPlaces:
    """Where a run reads and writes: the input folder (and its source mapping, if any), the
    DuckDB file and the exports folder (empty: exports/ beside the DuckDB file)."""

    input_dir: str = DEFAULT_INPUT
    db: str = DEFAULT_DB
    mapping: str = ""
    exports: str = ""


def stage_assets() -> list[dg.AssetsDefinition]:
    """Every asset the stage modules define at module level (alone or in a list), once."""
    found: dict[int, dg.AssetsDefinition] = {}
    for stage in STAGES:
        for value in vars(stage).values():
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dg.AssetsDefinition):
                    found.setdefault(id(item), item)
    return list(found.values())


def build_definitions(
    settings: PlanSettings, places: RunPlaces, settings_resource: dg.ResourceDefinition
) -> dg.Definitions:
    """The code location for `places`. `settings` times the usage partitions, the retries (of the
    Warehouse resource) and the schedules; `settings_resource` gives every asset of a run its settings."""
    weeks = usage_weeks(settings.operations.usage_start)
    inputs = PlanInputs(path=places.input_dir, mapping=places.mapping)
    schedules, sensors = plan_automation(settings, weeks, inputs, places.db)
    return dg.Definitions(
        assets=[*stage_assets(), ingestion.usage_asset(weeks)],
        asset_checks=PLAN_CHECKS,
        jobs=plan_jobs(),
        schedules=schedules,
        sensors=sensors,
        resources={
            "warehouse": Warehouse(path=places.db, lock_wait_seconds=settings.operations.lock_wait_seconds,
                                   max_retries=settings.operations.max_retries,
                                   retry_delay_seconds=settings.operations.retry_delay_seconds,
                                   memory_limit=settings.operations.duckdb_memory_limit,
                                   temp_directory=settings.operations.duckdb_temp_directory,
                                   threads=settings.operations.duckdb_threads),
            "plan_inputs": inputs,
            "settings": settings_resource,
            "export_folder": ExportFolder(path=places.exports),
            "sql_engine": SqlEngine(),
        },
        loggers={"console": dg.colored_console_logger, "progress": progress_logger},
        executor=dg.in_process_executor,  # DuckDB allows one writing process per file
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The code location of the Dagster UI: QUOTA_PLAN_INPUT, QUOTA_PLAN_MAPPING,
    QUOTA_PLAN_CONFIG, QUOTA_PLAN_DB and QUOTA_PLAN_EXPORTS point it at a folder and files
    (defaults: the `make run` sample, config/plan.yaml, data/quota_plan.duckdb)."""
    env = {name: os.environ.get(name, "") for name in UI_ENVIRONMENT}
    config = Path(env["QUOTA_PLAN_CONFIG"] or DEFAULT_CONFIG).resolve()
    places = RunPlaces(input_dir=env["QUOTA_PLAN_INPUT"] or DEFAULT_INPUT, db=env["QUOTA_PLAN_DB"] or DEFAULT_DB,
                       mapping=env["QUOTA_PLAN_MAPPING"], exports=env["QUOTA_PLAN_EXPORTS"])
    return file_definitions(places, config)


def file_definitions(places: RunPlaces, config: str | Path) -> dg.Definitions:
    """The code location whose runs each parse the settings file `config` once when they start
    (the UI, schedules and sensors); its definitions are timed by the file as it is now."""
    return build_definitions(load_settings(config), places, settings_from_file(config))
