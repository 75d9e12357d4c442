"""Jobs. plan_job: the whole plan, from the input folder to a new published plan version."""

import dagster as dg

plan_job = dg.define_asset_job(
    "plan_job",
    selection=dg.AssetSelection.all(),
    description="Ingest, validate, score whitespace, build territories and quotas, publish a plan version.",
)
