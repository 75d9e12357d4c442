"""When jobs run by themselves (needs the Dagster daemon): refresh_job weekly
(operations.refresh_cron) and when a file of the input folder is added or changed (one run
per change; each run loads the usage weeks from the earliest one whose rows changed in the
usage file, see pipeline/ingestion/usage_weeks.py refresh_weeks); tracking_job on tracking.schedule. A
refresh started here measures EEV as of its own day (the tick's date for the schedule, today in UTC for the sensor), not the
settings' as_of; plan_job keeps the settings' date."""

import datetime as dt

import dagster as dg

from pipeline.core.settings import PlanSettings
from pipeline.defs.resources import PlanInputs, settings_run_config
from pipeline.ingestion.input_watch import changed_files, folder_state, run_key
from pipeline.ingestion.usage_weeks import refresh_weeks, week_range_tags


def plan_automation(
    settings: PlanSettings, weeks: dg.WeeklyPartitionsDefinition, inputs: PlanInputs, db: str
) -> tuple[list[dg.ScheduleDefinition], list[dg.SensorDefinition]]:
    """The schedules and the sensor, as the settings time them, for the input folder `inputs`
    and the DuckDB file `db`."""
    ops = settings.operations
    tracking_schedule = dg.ScheduleDefinition(
        name="tracking_schedule", job_name="tracking_job", cron_schedule=settings.tracking.schedule,
        execution_timezone=ops.timezone,
    )

    @dg.schedule(job_name="refresh_job", cron_schedule=ops.refresh_cron, execution_timezone=ops.timezone,
                 default_status=dg.DefaultScheduleStatus.RUNNING)
    def weekly_refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        """The weekly refresh: the changed usage weeks, EEV as of the tick's date and drift against the
        published plan."""
        return dg.RunRequest(run_config=settings_run_config(context.scheduled_execution_time.date()),
                             tags=week_range_tags(weeks, *refresh_weeks(context.instance, weeks, inputs, db)))

    @dg.sensor(job_name="refresh_job", minimum_interval_seconds=ops.sensor_interval_seconds,
               default_status=dg.DefaultSensorStatus.RUNNING)
    def input_folder_sensor(context: dg.SensorEvaluationContext, plan_inputs: PlanInputs):
        """Starts refresh_job when a file of the input folder is added, changed or removed. The
        cursor is the folder's files with sizes and mtimes; the first look only records it. The run
        measures EEV as of today (UTC)."""
        try:
            state = folder_state(plan_inputs.path)
        except FileNotFoundError:
            return dg.SkipReason(f"input folder {plan_inputs.path} not found")
        if state == context.cursor:
            return dg.SkipReason("no file added or changed")
        previous = context.cursor
        context.update_cursor(state)
        if previous is None:
            return dg.SkipReason("watching the input folder from now on")
        changed = changed_files(previous, state)
        return dg.RunRequest(
            run_key=run_key(state),
            run_config=settings_run_config(dt.datetime.now(dt.UTC).date()),
            tags={**week_range_tags(weeks, *refresh_weeks(context.instance, weeks, plan_inputs, db)),
                  "quota_plan/changed_files": ", ".join(changed)[:200]},
        )

    return [weekly_refresh, tracking_schedule], [input_folder_sensor]
