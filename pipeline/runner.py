"""Run the jobs through Dagster (the same assets the UI shows) from Python or the CLI.
A run holds the DuckDB file's run lock (taken by the Warehouse resource, pipeline/core/run_lock.py)
from start to end: a second run on the same file waits up to `operations.lock_wait_seconds`,
then fails naming the holder."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from pipeline.backtest.compare import BACKTEST_JOB
from pipeline.core import progress, warehouse
from pipeline.core.run_lock import WarehouseBusyError
from pipeline.core.settings import PlanSettings, load_settings
from pipeline.definitions import RunPlaces, build_definitions
from pipeline.defs.resources import settings_object
from pipeline.ingestion.mapping import MappingError, load_mapping
from pipeline.ingestion.usage_weeks import usage_weeks, week_range_tags
from pipeline.plan import store as plan_store

DAGSTER_FOLDER = ".dagster"
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


class PlanRunError(RuntimeError):
    """The plan run failed; the message is the first cause, in the user's terms."""


@dataclass(frozen=True)
class PlanOutcome:
    """What a plan run left: its plan version and whether it became current (status `succeeded`)
    or is held for review (`needs_review`, with the reasons)."""

    plan_id: str
    dagster_run_id: str
    db: Path
    status: str = plan_store.CURRENT_ONCE
    reasons: tuple[str, ...] = ()

    @property
    def current(self) -> bool:
        return self.status == plan_store.CURRENT_ONCE


def run_definitions(input_dir: str | Path, settings: PlanSettings, db: str | Path,
                    mapping: str | Path | None = None) -> dg.Definitions:
    """The code location bound to one run: these places and these (already parsed) settings."""
    places = RunPlaces(input_dir=str(Path(input_dir).resolve()), db=str(Path(db).resolve()),
                       mapping=str(Path(mapping).resolve()) if mapping else "")
    return build_definitions(settings, places, settings_object(settings))


def _root_cause(error: dg.SerializableErrorInfo | None) -> str:
    """The innermost error message of a step failure (the user's exception, not Dagster's)."""
    message = "unknown error"
    while error is not None:
        message = error.message.strip()
        error = error.cause
    return message.split(": ", 1)[1] if message.startswith(("pipeline.", "models.")) else message


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    """A failed blocking check's own description first (Dagster also reports it as a step
    failure, which only names the check), else the first failed step's cause, else why the run
    could not start."""
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if evaluation and evaluation.blocking and not evaluation.passed:
                return (f"blocking check failed: {evaluation.check_name} on "
                        f"{evaluation.asset_key.to_user_string()}: {evaluation.description}")
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data:
            return f"step {event.step_key} failed: {_root_cause(event.step_failure_data.error)}"
    for event in result.all_events:  # failed before any step ran (e.g. the run lock was not free)
        error = getattr(event.event_specific_data, "error", None)
        if event.event_type_value in ("RESOURCE_INIT_FAILURE", "RUN_FAILURE") and error is not None:
            return _root_cause(error)
    return "the run failed (see the Dagster logs)"


def _execute(
    job_name: str, input_dir: str | Path, settings: PlanSettings, db: str | Path, mapping: str | Path | None,
    instance: dg.DagsterInstance | None, weeks: tuple[str, str] | None = None, show_progress: bool = False,
) -> dg.ExecuteInProcessResult:
    """Check the mapping and input folder, then run one job of the code location in-process
    with these settings. A job with weekly usage partitions loads the weeks first..last
    (default: every week, i.e. the whole usage file)."""
    if not Path(input_dir).is_dir():
        raise PlanRunError(f"input folder not found: {input_dir}")
    if mapping:
        try:
            load_mapping(mapping)
        except MappingError as exc:
            raise PlanRunError(str(exc)) from exc
    job = run_definitions(input_dir, settings, db, mapping).resolve_job_def(job_name)
    keys = usage_weeks(settings.operations.usage_start).get_partition_keys()
    weeks = weeks or (keys[0], keys[-1])
    if unknown := [w for w in weeks if w not in keys]:
        raise PlanRunError(f"not a usage week: {', '.join(unknown)} (weeks are the Mondays {keys[0]} .. {keys[-1]})")
    run_config = QUIET_LOGS
    if show_progress:
        steps = len(job.asset_layer.selected_asset_keys)
        run_config = {"loggers": {**QUIET_LOGS["loggers"], **progress.run_config(steps)["loggers"]}}
    return job.execute_in_process(
        instance=instance or _default_instance(db), raise_on_error=False, run_config=run_config,
        tags=week_range_tags(*weeks) if job.partitions_def else None,
    )


def dagster_home(db: str | Path) -> Path:
    """The Dagster home of the DuckDB file `db` when DAGSTER_HOME is not set: `.dagster/` beside it
    (`make ui` starts the UI on data/.dagster, the home of data/quota_plan.duckdb)."""
    return Path(db).resolve().parent / DAGSTER_FOLDER


def _default_instance(db: str | Path) -> dg.DagsterInstance:
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
    show_progress: bool = False,
) -> PlanOutcome:
    """Materialize the whole plan (and its tracking), or another job of it such as the backtest;
    raise PlanRunError with one clear message on failure. `mapping`: a source mapping file
    (mappings/*.yaml) applied to the input first; `effective_date` makes it a mid-year rebalance
    (overrides territory.effective_date); `weeks`: the usage weeks first..last to load (default all).
    `config`: the settings file, or settings already parsed (then `as_of` and `effective_date` are
    not applied). The outcome's plan_id is the version the run wrote: current afterwards unless
    its status is needs_review (then the previous plan stays current; see outcome.reasons)."""
    settings = plan_settings(config, as_of=as_of, effective_date=effective_date)
    result = _execute(job_name, input_dir, settings, db, mapping, instance, weeks, show_progress)
    if not result.success:
        message = _failure_message(result)
        with contextlib.suppress(WarehouseBusyError):  # held by another run: nothing can be noted now
            with warehouse.connect(db) as con:
                plan_store.record_failed_run(con, result.run_id, message)
        raise PlanRunError(message)
    with warehouse.connect(db, read_only=True) as con:
        plan_id = plan_store.plan_of_run(con, result.run_id) or plan_store.current_plan_id(con) or ""
        decision = plan_store.plan_decision(con, plan_id) if plan_id else None
    return PlanOutcome(plan_id=plan_id, dagster_run_id=result.run_id, db=Path(db),
                       status=decision.status if decision else plan_store.CURRENT_ONCE,
                       reasons=decision.reasons if decision else ())


def run_tracking(
    input_dir: str | Path,
    config: str | Path | PlanSettings,
    db: str | Path,
    through: dt.date | None = None,
    instance: dg.DagsterInstance | None = None,
    mapping: str | Path | None = None,
    show_progress: bool = False,
) -> str:
    """Re-ingest the inputs and track the current plan (tracking_job); returns the Dagster run id.
    On failure the previous tracking tables stay as they were."""
    settings = plan_settings(config, through=through)
    result = _execute("tracking_job", input_dir, settings, db, mapping, instance, show_progress=show_progress)
    if not result.success:
        raise PlanRunError(_failure_message(result))
    return result.run_id


def run_backtest(
    input_dir: str | Path, config: str | Path, db: str | Path, as_of: dt.date,
    instance: dg.DagsterInstance | None = None, show_progress: bool = False,
) -> PlanOutcome:
    """Plan as of ``as_of`` into ``db`` and compare with what was won afterwards (backtest_job)."""
    return run_plan(input_dir, config, db, as_of=as_of, instance=instance, job_name=BACKTEST_JOB,
                    show_progress=show_progress)
