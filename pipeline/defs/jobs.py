"""Jobs.

- plan_job: the annual plan, from the input folder to a new plan version (made current),
  then the in-year tracking of that plan and its exports.
- refresh_job: new data in, features (of the plan date only), p_close (with the plan's
  trained model), whitespace and EEV recomputed, and each rep's drift against the published
  plan in work.eev_drift. It never touches territories, quotas or plan versions.
- rebalance_job: territories and quotas from the current EEV (the owners of the current plan
  are kept where the balance allows), written as a new plan version, then tracked and exported.
- In each job that writes a plan version, the last step (current_plan) makes it current unless
  it needs review (pipeline/plan/store.py).
- tracking_job: re-ingests the input folder (the latest CRM data, usage left as it is) and
  re-runs the tracking assets against the CURRENT plan, without re-planning; scheduled by
  tracking.schedule (automation.py).
- backtest_job: the plan as of a past date (into its own DuckDB file), then the backtest
  assets that compare it with what was won afterwards.
- scenario_base_job, scenario_job, scenario_promote_job (`quota-plan scenarios`,
  pipeline/plan/scenario_runs.py): everything before the reps once (ingestion, model, EEV), then per
  scenario the segment bands and the plan from the reps on, written as a draft version (no
  tracking, exports or current_plan); promoting a scenario plans it again with tracking, exports
  and the review gate.
- validate_job: ingestion only (files, source mapping, contract, data-quality report), run by
  `quota-plan validate` into a scratch DuckDB file: nothing is planned.

No job has a retry policy: a Dagster RetryPolicy re-runs a step after ANY error, an input error
and a stop signal included. A step is retried only when the Warehouse resource sees a transient
(I/O) error and requests it (pipeline/defs/resources.py, operations.max_retries); every other
failure is final, and a stopped run stays stopped."""

import dagster as dg

from pipeline.backtest.compare import BACKTEST_GROUP, BACKTEST_JOB
from pipeline.defs.model import MODEL_TABLES
from pipeline.defs.staging import PLAN_DATE_ONLY_TAG

REFRESH_ONLY = ("eev_drift",)
TRACKING_GROUP = "tracking"
INGESTION_GROUP = "ingestion"
VALIDATE_JOB = "validate_job"
SCENARIO_BASE_JOB, SCENARIO_JOB, SCENARIO_PROMOTE_JOB = "scenario_base_job", "scenario_job", "scenario_promote_job"
MODEL_TRAINING = ("close_probability_model", *MODEL_TABLES)  # the refresh scores with the plan's model


def plan_jobs() -> list:
    """The jobs of the code location."""
    everything = dg.AssetSelection.all() - dg.AssetSelection.assets(*REFRESH_ONLY)
    plan_job = dg.define_asset_job(
        "plan_job",
        selection=everything - dg.AssetSelection.groups(BACKTEST_GROUP),
        description="Ingest, validate, score whitespace, build territories and quotas, write a plan version, "
        "then track it (credits, attainment, coverage) and export it.",
    )
    refresh_job = dg.define_asset_job(
        "refresh_job",
        selection=(  # EEV and everything it is computed from, then the drift (which reads the published plan)
            (dg.AssetSelection.assets("account_eev").upstream() | dg.AssetSelection.assets(*REFRESH_ONLY))
            .required_multi_asset_neighbors() - dg.AssetSelection.assets(*MODEL_TRAINING)
        ),
        description="New data in; features, p_close, whitespace and EEV recomputed for the plan date (no "
        "training snapshots); each rep's territory EEV drift against the published plan in work.eev_drift. "
        "Quotas and plan versions are untouched.",
        tags={PLAN_DATE_ONLY_TAG: "true"},
    )
    rebalance_job = dg.define_asset_job(
        "rebalance_job",
        selection=(dg.AssetSelection.assets("rep_plan").downstream() - dg.AssetSelection.groups(BACKTEST_GROUP))
        .required_multi_asset_neighbors(),
        description="Territories and quotas from the current EEV (run refresh_job first), as a new plan version, "
        "tracked and exported like a plan.",
    )
    tracking_job = dg.define_asset_job(
        "tracking_job",
        selection=dg.AssetSelection.groups(INGESTION_GROUP, TRACKING_GROUP) - dg.AssetSelection.assets(
            "raw_usage", "raw_usage_week_fingerprints"),
        description="Re-ingest the inputs and measure the current plan: expansion credits, CSM source bonus, "
        "attainment and pipeline coverage.",
    )
    backtest_job = dg.define_asset_job(
        BACKTEST_JOB,
        selection=everything - dg.AssetSelection.groups(TRACKING_GROUP) - dg.AssetSelection.assets("plan_exports"),
        description="Plan as of a past date (quota-plan backtest --as-of DATE), then compare every rep's quota "
        "with the expansion ARR won afterwards, next to flat and ACV-proportional quotas of the same total.",
    )
    validate_job = dg.define_asset_job(
        VALIDATE_JOB,
        selection=dg.AssetSelection.groups(INGESTION_GROUP),
        description="Check the input folder (files, source mapping, contract) and write its data-quality report; "
        "no plan (quota-plan validate runs it into a scratch DuckDB file).",
    )
    return [plan_job, refresh_job, rebalance_job, tracking_job, backtest_job, validate_job, *scenario_jobs()]


def scenario_jobs() -> list:
    """The jobs of `quota-plan scenarios`: the shared upstream, a draft variant, a promoted variant."""
    variant = (
        dg.AssetSelection.assets("segment_bands") | dg.AssetSelection.assets("rep_plan").downstream()
    ) - dg.AssetSelection.groups(TRACKING_GROUP, BACKTEST_GROUP) - dg.AssetSelection.assets(
        "plan_exports", "current_plan", *REFRESH_ONLY)
    shared = dg.AssetSelection.assets("rep_plan", "plan_version").upstream() - dg.AssetSelection.assets(
        "rep_plan").downstream() - dg.AssetSelection.assets("territory_methods")  # territories' second table
    promoted = variant | dg.AssetSelection.groups(TRACKING_GROUP) | dg.AssetSelection.assets(
        "plan_exports", "current_plan")
    return [
        dg.define_asset_job(SCENARIO_BASE_JOB, selection=shared.required_multi_asset_neighbors(),
                            description="What scenarios share: ingestion, whitespace, the model and EEV."),
        dg.define_asset_job(SCENARIO_JOB, selection=variant.required_multi_asset_neighbors(),
                            description="One scenario from the reps on (run scenario_base_job first), written "
                            "as a draft plan version that is never current."),
        dg.define_asset_job(SCENARIO_PROMOTE_JOB, selection=promoted.required_multi_asset_neighbors(),
                            description="A chosen scenario planned again from the reps on, tracked, exported and "
                            "made current through the review gate."),
    ]
