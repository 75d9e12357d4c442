"""Jobs and schedules.

plan_job: the whole plan, from the input folder to a new published plan version, then the
in-year tracking of that plan (the tracking assets depend on plan_version).
tracking_job: re-ingests the input folder (the latest CRM data) and re-runs the tracking
assets against the CURRENT plan, without re-planning; scheduled by tracking.schedule
(schedules.py).
backtest_job: the same plan (run as of a past date into its own DuckDB file) and then the
backtest assets that compare it with what was won afterwards."""

import dagster as dg

from pipeline.backtest import BACKTEST_GROUP, BACKTEST_JOB

plan_job = dg.define_asset_job(
    "plan_job",
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups(BACKTEST_GROUP),
    description="Ingest, validate, score whitespace, build territories and quotas, publish a plan version, "
    "then track it (credits, attainment, coverage).",
)

tracking_job = dg.define_asset_job(
    "tracking_job",
    selection=dg.AssetSelection.groups("ingestion", "tracking"),
    description="Re-ingest the inputs and measure the current plan: expansion credits, CSM source bonus, "
    "attainment and pipeline coverage.",
)

backtest_job = dg.define_asset_job(
    BACKTEST_JOB,
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups("tracking"),
    description="Plan as of a past date (quota-plan backtest --as-of DATE), then compare every rep's quota "
    "with the expansion ARR won afterwards, next to flat and ACV-proportional quotas of the same total.",
)
