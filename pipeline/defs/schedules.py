"""Schedules: tracking_job on the cron of the settings (tracking.schedule)."""

import dagster as dg

from pipeline.defs.jobs import tracking_job
from pipeline.resources import resources_from_env


@dg.definitions
def schedules() -> dg.Definitions:
    settings = resources_from_env()["plan_config"].load()
    return dg.Definitions(
        schedules=[dg.ScheduleDefinition(name="tracking_schedule", job=tracking_job,
                                         cron_schedule=settings.tracking.schedule)]
    )
