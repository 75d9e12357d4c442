"""Run the jobs through Dagster (the same assets the UI shows) from Python or the CLI.

A run holds the DuckDB file's run lock (pipeline/core/run_lock.py) from before its Dagster run
starts until its outcome is read: a second run on the same file waits up to
`operations.lock_wait_seconds`, then fails naming the holder. A command that reports more
(the CLI's summary) holds the lock around the run and its report with `exclusive`, so what it
reports is what its own run wrote. A stop signal (pipeline/core/stop_signals.py) ends the run
at the step it is in; the run's outcome then says whether its plan had already become current.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb

from pipeline.backtest.compare import BACKTEST_JOB
from pipeline.core import progress, stop_signals, warehouse
from pipeline.core.run_lock import WarehouseBusyError, run_lock
from pipeline.core.settings import PlanSettings, load_settings
from pipeline.definitions import RunPlaces, build_definitions
from pipeline.defs.jobs import VALIDATE_JOB
from pipeline.defs.resources import settings_object
from pipeline.exports.summary import data_quality_lines
from pipeline.ingestion.mapping import MappingError, load_mapping
from pipeline.ingestion.usage_weeks import usage_weeks, week_range_tags
from pipeline.plan import store as plan_store

WRITTEN_PLAN_SQL = "SELECT run_id FROM plans.plan_runs WHERE dagster_run_id = ? AND status <> 'failed'"
DAGSTER_FOLDER = ".dagster"


class PlanRunError(RuntimeError):
    """The run failed and changed nothing; the message is the first cause, in the user's terms
    (one line per problem when the input breaks several rules)."""


@dataclass(frozen=True)
class PlanOutcome:
    """What a finished run left behind. `plan_id`: the plan version the run wrote (`written`),
    else, for a job that writes none, the current plan; `current`: plan_id is the current plan;
    `status` of the written version (succeeded = made current, needs_review = held back for
    `reasons`); `warning`: why a run whose plan became current did not finish the steps after it."""

    plan_id: str
    dagster_run_id: str
    db: Path
    written: bool
    current: bool
    warning: str = ""
    status: str = plan_store.CURRENT_ONCE
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunOutput:
    """What a run prints on stderr: progress lines (one per finished step) and Dagster's own logs."""

    progress: bool = False
    verbose: bool = False


def run_definitions(input_dir: str | Path, settings: PlanSettings, db: str | Path,
                    mapping: str | Path | None = None) -> dg.Definitions:
    """The code location bound to one run: these places and these (already parsed) settings."""
    places = RunPlaces(input_dir=str(Path(input_dir).resolve()), db=str(Path(db).resolve()),
                       mapping=str(Path(mapping).resolve()) if mapping else "")
    return build_definitions(settings, places, settings_object(settings))


@contextlib.contextmanager
def exclusive(db: str | Path, settings: PlanSettings, holder: str) -> Iterator[None]:
    """Hold the run lock of `db` for the block (waiting up to operations.lock_wait_seconds); runs
    inside join it. Raises PlanRunError naming the holder when the file stays busy (and
    WarehouseFileError when `db` cannot be a DuckDB file, before any lock file is made)."""
    warehouse.check_file(db)
    lock = contextlib.ExitStack()
    try:
        lock.enter_context(run_lock(db, holder, settings.operations.lock_wait_seconds))
    except WarehouseBusyError as exc:
        raise PlanRunError(str(exc)) from exc
    with lock:
        yield


def _root_cause(error: dg.SerializableErrorInfo | None) -> str:
    """The innermost error message of a step failure (the user's exception, not Dagster's)."""
    message = "unknown error"
    while error is not None:
        message = error.message.strip()
        error = error.cause
    return message.split(": ", 1)[1] if message.startswith(("pipeline.", "models.")) else message


def failure_message(result: dg.ExecuteInProcessResult | None) -> str:
    """A failed blocking check's own description first (Dagster also reports it as a step
    failure, which only names the check), else the first failed step's cause, else why the run
    could not start."""
    events = result.all_events if result is not None else []
    for event in events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if evaluation and evaluation.blocking and not evaluation.passed:
                return (f"blocking check failed: {evaluation.check_name} on "
                        f"{evaluation.asset_key.to_user_string()}: {evaluation.description}")
    for event in events:
        if event.is_step_failure and event.step_failure_data:
            return f"step {event.step_key} failed: {_root_cause(event.step_failure_data.error)}"
    for event in events:  # failed before any step ran (e.g. a resource could not start)
        error = getattr(event.event_specific_data, "error", None)
        if event.event_type_value in ("RESOURCE_INIT_FAILURE", "RUN_FAILURE") and error is not None:
            return _root_cause(error)
    return "the run failed (run again with --verbose for Dagster's logs)"


def execute_job(
    job_name: str, input_dir: str | Path, settings: PlanSettings, db: str | Path, mapping: str | Path | None,
    instance: dg.DagsterInstance | None, run_id: str, weeks: tuple[str, str] | None = None,
    output: RunOutput = RunOutput(),
) -> dg.ExecuteInProcessResult | None:
    """Check the mapping and input folder, then run one job of the code location in-process
    with these settings; None when a stop signal ended it. A job with weekly usage partitions
    loads the weeks first..last (default: every week, i.e. the whole usage file)."""
    if not Path(input_dir).is_dir():
        raise PlanRunError(f"input folder not found: {input_dir}")
    warehouse.check_file(db)  # a wrong --db fails here, before Dagster starts
    if mapping:
        try:
            load_mapping(mapping)
        except MappingError as exc:
            raise PlanRunError(str(exc)) from exc
    keys = usage_weeks(settings.operations.usage_start).get_partition_keys()
    weeks = weeks or (keys[0], keys[-1])
    if unknown := [w for w in weeks if w not in keys]:
        raise PlanRunError(f"not a usage week: {', '.join(unknown)} (weeks are the Mondays {keys[0]} .. {keys[-1]})")
    try:  # a stop while the job is being built counts as a stop of the run, like one during it
        job = run_definitions(input_dir, settings, db, mapping).resolve_job_def(job_name)
        steps = len(job.asset_layer.selected_asset_keys)
        result = job.execute_in_process(
            instance=instance or default_instance(db), raise_on_error=False, run_id=run_id,
            run_config=progress.run_config(steps, show_progress=output.progress, verbose=output.verbose),
            tags=week_range_tags(job.partitions_def, *weeks) if job.partitions_def else None,
        )
    except (KeyboardInterrupt, dg.DagsterExecutionInterruptedError):
        if stop_signals.received() is None:
            raise
        result = None
    stop_signals.settle()
    return result


def dagster_home(db: str | Path) -> Path:
    """The Dagster home of the DuckDB file `db` when DAGSTER_HOME is not set: `.dagster/` beside it
    (`make ui` starts the UI on data/.dagster, the home of data/quota_plan.duckdb)."""
    return Path(db).resolve().parent / DAGSTER_FOLDER


def default_instance(db: str | Path) -> dg.DagsterInstance:
    """The persistent Dagster instance the CLI, the UI, schedules and sensors share, so every run
    shows in the UI's history: DAGSTER_HOME's when it is set, else `dagster_home(db)` (created)."""
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    home = dagster_home(db)
    home.mkdir(parents=True, exist_ok=True)
    return dg.DagsterInstance.from_config(str(home))


def plan_settings(
    config: str | Path | PlanSettings, as_of: dt.date | None = None, through: dt.date | None = None,
    effective_date: dt.date | None = None,
) -> PlanSettings:
    """The run's settings: parsed from the file `config` with the dates overridden, or as given."""
    if isinstance(config, PlanSettings):
        return config
    return load_settings(config, as_of=as_of, through=through, effective_date=effective_date)


def run_outcome(con: duckdb.DuckDBPyConnection, result: dg.ExecuteInProcessResult | None, run_id: str,
             db: str | Path) -> PlanOutcome:
    """Read, under the run lock, what the run left: its plan version and whether it is current.
    A failed or stopped run that made no plan of its own current is noted in plan_runs and raised."""
    has_runs = warehouse.table_exists(con, "plans", "plan_runs")
    written = con.execute(WRITTEN_PLAN_SQL, [run_id]).fetchone() if has_runs else None
    current = plan_store.current_plan_id(con)
    plan_id = written[0] if written else current or ""
    is_current = bool(plan_id) and plan_id == current
    stopped = stop_signals.received()
    if result is not None and result.success:
        decision = plan_store.plan_decision(con, plan_id) if written else None
        return PlanOutcome(plan_id, run_id, Path(db), written=bool(written), current=is_current,
                           status=decision.status if decision else plan_store.CURRENT_ONCE,
                           reasons=decision.reasons if decision else ())
    if written and is_current:  # a step after plan_version failed, or the stop came after it
        why = f"stopped by {stop_signals.signal_name(stopped)}" if stopped else failure_message(result)
        return PlanOutcome(plan_id, run_id, Path(db), written=True, current=True,
                           warning=f"plan {plan_id} is current, but the run did not finish: {why}")
    kept = f"plan {current} stays current" if current else "no plan is current yet"
    message = (f"stopped by {stop_signals.signal_name(stopped)} before the run finished" if stopped
               else failure_message(result))
    plan_store.record_failed_run(con, run_id, message)
    if stopped:
        raise stop_signals.StopRequested(stopped, f"nothing was written; {kept}")
    raise PlanRunError(message)


def run_plan(
    input_dir: str | Path,
    config: str | Path | PlanSettings,
    db: str | Path,
    as_of: dt.date | None = None,
    instance: dg.DagsterInstance | None = None,
    mapping: str | Path | None = None,
    job_name: str = "plan_job",
    effective_date: dt.date | None = None,
    weeks: tuple[str, str] | None = None,
    output: RunOutput = RunOutput(),
) -> PlanOutcome:
    """Materialize the whole plan (and its tracking), or another job of it such as the backtest;
    raise PlanRunError with one clear message when it failed and made no plan current
    (StopRequested when a stop signal ended it). `mapping`: a source mapping file (mappings/*.yaml)
    applied to the input first; `effective_date` makes it a mid-year rebalance (overrides
    territory.effective_date); `weeks`: the usage weeks first..last to load (default all).
    `config`: the settings file, or settings already parsed (then `as_of` and `effective_date` are
    not applied). A written plan held for review is not current: see outcome.status and .reasons."""
    settings = plan_settings(config, as_of=as_of, effective_date=effective_date)
    run_id = str(uuid.uuid4())
    with exclusive(db, settings, f"{job_name} run {run_id}"):
        result = execute_job(job_name, input_dir, settings, db, mapping, instance, run_id, weeks, output)
        with warehouse.connect(db) as con:
            return run_outcome(con, result, run_id, db)


def run_tracking(
    input_dir: str | Path,
    config: str | Path | PlanSettings,
    db: str | Path,
    through: dt.date | None = None,
    instance: dg.DagsterInstance | None = None,
    mapping: str | Path | None = None,
    output: RunOutput = RunOutput(),
) -> str:
    """Re-ingest the inputs and track the current plan (tracking_job); returns the Dagster run id.
    On failure the previous tracking tables stay as they were."""
    settings = plan_settings(config, through=through)
    run_id = str(uuid.uuid4())
    with exclusive(db, settings, f"tracking_job run {run_id}"):
        result = execute_job("tracking_job", input_dir, settings, db, mapping, instance, run_id, output=output)
        if result is None:
            raise stop_signals.stop_requested("the tracking tables stay as they were")
        if not result.success:
            raise PlanRunError(failure_message(result))
    return run_id


def run_backtest(
    input_dir: str | Path, config: str | Path | PlanSettings, db: str | Path, as_of: dt.date,
    instance: dg.DagsterInstance | None = None, mapping: str | Path | None = None, output: RunOutput = RunOutput(),
) -> PlanOutcome:
    """Plan as of ``as_of`` into ``db`` and compare with what was won afterwards (backtest_job);
    `config` given as parsed settings must already carry that as_of."""
    return run_plan(input_dir, config, db, as_of=as_of, instance=instance, mapping=mapping, job_name=BACKTEST_JOB,
                    output=output)


def validate_inputs(
    input_dir: str | Path, config: str | Path | PlanSettings, mapping: str | Path | None = None,
    instance: dg.DagsterInstance | None = None, output: RunOutput = RunOutput(),
) -> list[str]:
    """Check the input folder (files, source mapping, every contract rule) as a plan run would,
    into a scratch DuckDB file, without planning; returns the data-quality report's lines.
    Raises PlanRunError listing every problem (one per line) when the folder breaks the contract."""
    settings = plan_settings(config)
    with tempfile.TemporaryDirectory(prefix="quota-plan-validate-") as scratch:
        db = Path(scratch) / "validate.duckdb"
        result = execute_job(VALIDATE_JOB, input_dir, settings, db, mapping, instance, str(uuid.uuid4()),
                          output=output)
        if result is None:
            raise stop_signals.stop_requested("nothing was checked")
        if not result.success:
            raise PlanRunError(failure_message(result))
        with warehouse.connect(db) as con:  # the report reads main.data_quality, as a plan's does
            con.execute("CREATE VIEW main.data_quality AS SELECT * FROM work.data_quality")
            return data_quality_lines(con)
