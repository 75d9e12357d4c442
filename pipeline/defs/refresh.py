"""Refresh: drift of each rep's territory EEV against the published (else current) plan."""

from typing import Any

import duckdb

from pipeline.core.settings import PlanSettings
from pipeline.defs.sql_asset import sql_asset
from pipeline.plan.store import reference_plan_id


def _drift_params(settings: PlanSettings, con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    return {**settings.sql_params(), "plan_id": reference_plan_id(con)}


eev_drift = sql_asset("eev_drift", group="refresh", params=_drift_params)
