"""Dagster resources: where the warehouse file, the input folder and the exports are, which
engine runs the heavy SQL, and the run's plan settings.

The settings reach every asset of a run as one frozen `PlanSettings` object (resource key
`settings`, parameter type `dg.ResourceParam[PlanSettings]`): the CLI parses the YAML once and
binds the object to the run (`settings_object`); the UI, schedules and sensors bind
`settings_from_file`, which parses the file once when a run starts (so an edit of the YAML
takes effect at the next run, never in the middle of one). Nothing here reads the environment.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from pipeline.core import warehouse
from pipeline.core.run_lock import run_lock
from pipeline.core.settings import PlanSettings, load_settings
from pipeline.core.stop_signals import interruptible
from pipeline.engines.spark_sql import SPARK_TRANSFORMS
from pipeline.ingestion.ingest import ingest_usage_window, input_file, keep_usage_in_place

if TYPE_CHECKING:
    from pipeline.engines.spark_engine import SparkEngine

DEFAULT_DB = "data/quota_plan.duckdb"
DEFAULT_INPUT = "data/sample"
SETTINGS_DATES = ("as_of", "track_through", "effective_date")  # run config of settings_from_file


# Failures worth a retry: the file system or a DuckDB file held by another program. A file that
# is missing or may not be read is not: it stays so until someone acts. Anything else (bad input,
# an impossible plan, a bug) is permanent and never retried.
TRANSIENT_ERRORS = (OSError, duckdb.IOException)
PERMANENT_OS_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)


def is_transient(error: BaseException) -> bool:
    """Whether a step failing with `error` is worth a retry (see TRANSIENT_ERRORS)."""
    return isinstance(error, TRANSIENT_ERRORS) and not isinstance(error, PERMANENT_OS_ERRORS)


def _retry_number() -> int:
    """How often the running step was retried already (0: its first attempt, or not in a step)."""
    for context_type in (dg.AssetExecutionContext, dg.AssetCheckExecutionContext):
        with contextlib.suppress(dg.DagsterInvariantViolationError):
            return context_type.get().retry_number
    return 0


class Warehouse(dg.ConfigurableResource):
    """The embedded DuckDB file every asset reads and writes. A run holds the file's run lock
    from its first step to its end (the in-process executor sets a resource up once per run),
    whether it was started by the CLI, the UI, a schedule or a sensor, and opens the file once:
    each step works on its own cursor of that connection (opening and closing, i.e.
    checkpointing, the file at every step cost about 70 ms a step on a small plan, and more the
    larger the file). A step that fails drops the connection (a half-done transaction is rolled
    back), so the next step or a retry opens the file afresh. A step failing with a transient
    error inside `connect` is retried `max_retries` times, waiting `retry_delay_seconds` and
    doubling; nothing else is ever retried."""

    path: str = DEFAULT_DB
    lock_wait_seconds: float = 30.0
    max_retries: int = 2
    retry_delay_seconds: float = 2.0
    memory_limit: str = ""  # DuckDB limits of every step's connection (warehouse.DuckDBLimits)
    temp_directory: str = ""
    threads: int = 0
    _run_lock: contextlib.ExitStack = PrivateAttr(default_factory=contextlib.ExitStack)
    _in_run: bool = PrivateAttr(default=False)
    _run_connection: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        holder = f"Dagster run {context.run_id}" if context.run_id else "a Dagster run"
        self._run_lock.enter_context(run_lock(self.path, holder, self.lock_wait_seconds))
        self._in_run = True

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self._close_run_connection()
        self._in_run = False
        self._run_lock.close()

    def _close_run_connection(self) -> None:
        if self._run_connection is not None:
            self._run_connection.close()
            self._run_connection = None

    @contextlib.contextmanager
    def _step_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of the run's connection (opened at the first step), or outside a run a
        connection of its own."""
        if not self._in_run:
            with warehouse.connect(self.path, limits=self.limits) as con:
                yield con
            return
        if self._run_connection is None:
            self._run_connection = warehouse.open_connection(self.path, limits=self.limits)
        cursor = self._run_connection.cursor()
        try:
            yield cursor
        except BaseException:
            cursor.close()
            self._close_run_connection()
            raise
        cursor.close()

    @contextlib.contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one step, interrupted by a stop signal (pipeline/core/stop_signals.py).
        A transient error raised inside requests a retry of the step; any other error becomes a
        Failure that is never retried."""
        try:
            with self._step_connection() as con, interruptible(con):
                yield con
        except dg.Failure:
            raise
        except Exception as exc:
            if is_transient(exc):
                policy = dg.RetryPolicy(max_retries=self.max_retries, delay=self.retry_delay_seconds,
                                        backoff=dg.Backoff.EXPONENTIAL)
                raise dg.RetryRequested(max_retries=self.max_retries,
                                        seconds_to_wait=policy.calculate_delay(_retry_number() + 1)) from exc
            raise dg.Failure(description=str(exc), allow_retries=False) from exc

    @property
    def limits(self) -> warehouse.DuckDBLimits:
        """DuckDB's memory limit, spill folder and threads for this warehouse's connections."""
        return warehouse.DuckDBLimits(self.memory_limit, self.temp_directory, self.threads)

    @property
    def artifact_dir(self) -> Path:
        """Folder beside the DuckDB file for model artifacts and charts."""
        return warehouse.artifact_dir(self.path)

    @property
    def mapped_inputs_dir(self) -> Path:
        """Folder where a mapped input folder is written: <db folder>/mapped_inputs/<db stem>/."""
        return warehouse.output_dir(self.path, "mapped_inputs")


class PlanInputs(dg.ConfigurableResource):
    """The input folder (one file per contract table), or a source export read through the
    mapping file `mapping` (empty: no mapping)."""

    path: str = DEFAULT_INPUT
    mapping: str = ""

    @property
    def mapping_file(self) -> Path:
        return Path(self.mapping)

    def contract_folder(self, warehouse: Warehouse) -> str:
        """The folder holding the contract tables: the input folder, or its mapped copy."""
        return str(warehouse.mapped_inputs_dir) if self.mapping else self.path


class SqlEngine(dg.ConfigurableResource):
    """Where the heavy set-based transforms run, as the plan settings' `engine` says: DuckDB in
    the warehouse file (default), or Spark (`pipeline.engines.spark_engine`) for the usage roll-up, the
    point-in-time state and the whitespace/feature SQL, their results landing in the same
    `work.<name>` tables. Every other transform always runs on DuckDB."""

    def engine_for(self, name: str, settings: PlanSettings) -> str:
        """The engine transform `name` runs on: spark or duckdb."""
        return "spark" if settings.engine.name == "spark" and name in SPARK_TRANSFORMS else "duckdb"

    def build(
        self, con: duckdb.DuckDBPyConnection, name: str, params: Mapping[str, Any], settings: PlanSettings,
        contract_folder: str | Path, schema: str = "work",
    ) -> int:
        if self.engine_for(name, settings) == "spark":
            return _spark(settings, contract_folder).build(con, name, params, schema=schema)
        return warehouse.build_table(con, name, params, schema=schema)

    def load_usage(
        self, con: duckdb.DuckDBPyConnection, settings: PlanSettings, contract_folder: str | Path,
        start: dt.date | None, end: dt.date | None,
    ) -> tuple[int, str]:
        """Check the usage rows dated in [start, end) against the contract; DuckDB then copies them
        into raw.usage, Spark leaves them where they lie. Returns the rows and what was done."""
        if settings.engine.name == "spark":
            engine = _spark(settings, contract_folder)
            rows = engine.check_usage(con, start, end)
            keep_usage_in_place(con)
            return rows, f"checked on Spark, read in place: {engine.usage_source}"
        loaded = ingest_usage_window(con, contract_folder, start, end,
                                     duplicate_rows=settings.operations.duplicate_rows)
        return loaded, "raw.usage"


def _spark(settings: PlanSettings, contract_folder: str | Path) -> SparkEngine:
    from pipeline.engines.spark_engine import SparkEngine  # noqa: PLC0415 (pyspark is optional)

    return SparkEngine(settings.engine.spark, input_file(contract_folder, "usage"))


class ExportFolder(dg.ConfigurableResource):
    """Where a run writes the exports of its plan: <path>/<plan_id>/, by default
    <db folder>/exports/<db stem>/<plan_id>/ (data/exports/quota_plan/P0001/ for `make run`), so
    plan ids, which restart at P0001 in every DuckDB file, never collide between files."""

    path: str = ""

    def for_plan(self, db: str | Path, plan_id: str) -> Path:
        root = Path(self.path) if self.path else warehouse.output_dir(db, "exports")
        return root / plan_id


def settings_object(settings: PlanSettings) -> dg.ResourceDefinition:
    """The `settings` resource of a run whose settings were parsed before it started (the CLI)."""
    return dg.ResourceDefinition.hardcoded_resource(settings, "the run's plan settings, parsed once")


def settings_from_file(settings_path: str | Path) -> dg.ResourceDefinition:
    """The `settings` resource of the UI, schedules and sensors: the file parsed once when a run
    starts. Run config may override the plan date, the tracking date and the rebalance date
    (`settings_run_config`)."""

    @dg.resource(
        config_schema={
            "settings_path": dg.Field(str, default_value=str(settings_path)),
            **{name: dg.Field(str, default_value="", is_required=False) for name in SETTINGS_DATES},
        },
        description="the plan settings file, parsed once per run",
    )
    def settings(init_context: dg.InitResourceContext) -> PlanSettings:
        config = init_context.resource_config

        def day(name: str) -> dt.date | None:
            return dt.date.fromisoformat(config[name]) if config.get(name) else None

        return load_settings(config["settings_path"], as_of=day("as_of"), through=day("track_through"),
                             effective_date=day("effective_date"))

    return settings


def settings_run_config(plan_date: dt.date) -> dict:
    """Run config that gives one run of `settings_from_file` the plan date `plan_date`: how
    scheduled and sensor-started refreshes measure EEV "now"."""
    return {"resources": {"settings": {"config": {"as_of": plan_date.isoformat()}}}}
