"""Jobs. plan_job: the whole plan, from the input folder to a new published plan version.
backtest_job: the same plan (run as of a past date into its own DuckDB file) and then the
backtest assets that compare it with what was won afterwards."""

import dagster as dg

from pipeline.backtest import BACKTEST_GROUP, BACKTEST_JOB

plan_job = dg.define_asset_job(
    "plan_job",
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups(BACKTEST_GROUP),
    description="Ingest, validate, score whitespace, build territories and quotas, publish a plan version.",
)

backtest_job = dg.define_asset_job(
    BACKTEST_JOB,
    selection=dg.AssetSelection.all(),
    description="Plan as of a past date (quota-plan backtest --as-of DATE), then compare every rep's quota "
    "with the expansion ARR won afterwards, next to flat and ACV-proportional quotas of the same total.",
)
