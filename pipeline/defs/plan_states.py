"""The review state of a plan version in the Dagster UI: each change (`quota-plan review`,
`approve`, `publish`, `recall`) is reported as an observation of the asset plan_version, with the
plan, its state, who changed it, the comment and the sign-offs still missing."""

from __future__ import annotations

import dagster as dg

from pipeline.plan.approval import PlanState

STATE_ASSET = "plan_version"


def state_metadata(state: PlanState) -> dict[str, object]:
    """The metadata that shows a plan's review state (also on current_plan's materialization)."""
    return {"plan_id": state.plan_id, "review_state": state.state, "sign_off": state.sign_off,
            "sign_off_missing": ", ".join(state.missing) or "none"}


def report_state(instance: dg.DagsterInstance, state: PlanState, by: str, comment: str) -> None:
    """Record the plan's new state as an observation of plan_version in the Dagster instance."""
    instance.report_runless_asset_event(dg.AssetObservation(
        asset_key=STATE_ASSET, metadata={**state_metadata(state), "changed_by": by, "comment": comment or ""}))
