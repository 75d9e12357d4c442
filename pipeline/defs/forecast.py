"""The predicted attainment: the year simulated from every item's win probability and amount,
the quota factor of each segment resolved from it ('auto' aims at quota.target_attainment_share),
and each rep's P10/P50/P90 attainment and P(attain) at the plan's quota.

Order in the plan: territories -> territory_shares, amount_spread -> forecast_items ->
rep_booking_draws -> quota_factors -> quota_contributions -> quotas -> attainment_forecast."""

import time

import dagster as dg

from pipeline.core.settings import PlanSettings
from pipeline.defs.plan import PLAN_GROUP
from pipeline.defs.resources import Warehouse
from pipeline.defs.sql_asset import sql_asset, table_result
from pipeline.plan.forecast import write_booking_draws

territory_shares = sql_asset("territory_shares", group=PLAN_GROUP)
amount_spread = sql_asset("amount_spread", group=PLAN_GROUP)
forecast_items = sql_asset("forecast_items", group=PLAN_GROUP)
quota_factors = sql_asset("quota_factors", group=PLAN_GROUP)
attainment_forecast = sql_asset("attainment_forecast", group=PLAN_GROUP)


@dg.asset(group_name=PLAN_GROUP, deps=["forecast_items", "territory_shares", "rep_plan"], kinds={"numpy"})
def rep_booking_draws(
    context: dg.AssetExecutionContext, warehouse: Warehouse, settings: dg.ResourceParam[PlanSettings]
) -> dg.MaterializeResult:
    """The Monte Carlo of the plan year (pipeline/plan/forecast.py). Grain: (rep_id, draw), every
    active expansion rep x forecast.draws simulated years (draw 1..N, seeded by `seed`). bookings =
    what the rep books that year (annual money): each forecast item won with its p_close, booking a
    gamma-distributed amount around amount_if_won (its kind's amount_cv), times the rep's share."""
    started = time.perf_counter()
    with warehouse.connect() as con:
        territories = write_booking_draws(con, settings.forecast.draws, settings.seed)
        return table_result(context, con, "work.rep_booking_draws", started,
                            metadata={"draws": settings.forecast.draws, "items": len(territories.p_close),
                                      "reps": len(territories.rep_ids)})
