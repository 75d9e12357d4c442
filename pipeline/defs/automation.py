"""When refresh_job runs by itself: weekly (operations.refresh_cron) and when a file of the
input folder is added or changed (one run per change; needs the Dagster daemon)."""

import dagster as dg

from pipeline.input_watch import changed_files, folder_state, run_key
from pipeline.resources import PlanInputs, resources_from_env


@dg.definitions
def automation() -> dg.Definitions:
    ops = resources_from_env()["plan_config"].load().operations
    weekly = dg.ScheduleDefinition(
        name="weekly_refresh", job_name="refresh_job", cron_schedule=ops.refresh_cron,
        execution_timezone=ops.timezone, default_status=dg.DefaultScheduleStatus.RUNNING,
        description="The weekly refresh: new data, EEV and drift against the published plan.",
    )

    @dg.sensor(job_name="refresh_job", minimum_interval_seconds=ops.sensor_interval_seconds,
               default_status=dg.DefaultSensorStatus.RUNNING)
    def input_folder_sensor(context: dg.SensorEvaluationContext, plan_inputs: PlanInputs):
        """Starts refresh_job when a file of the input folder is added, changed or removed. The
        cursor is the folder's files with sizes and mtimes; the first look only records it."""
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
        return dg.RunRequest(run_key=run_key(state), tags={"quota_plan/changed_files": ", ".join(changed)[:200]})

    return dg.Definitions(schedules=[weekly], sensors=[input_folder_sensor])
