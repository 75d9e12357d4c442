"""The plan: scored whitespace, account EEV and segments, the reps of the plan, territories,
quotas, and the step that writes an immutable plan version (made current; publishing to reps
is the separate `quota-plan publish`)."""

import time

import dagster as dg
import polars as pl

from pipeline.plan_store import PlanRun, publish_plan
from pipeline.resources import PlanConfig, Warehouse
from pipeline.sql_assets import sql_asset, table_result
from pipeline.territory import BookLimits, assign_territories, place_unsegmented_reps

scored_whitespace = sql_asset("scored_whitespace", deps=["item_scores", "whitespace_items"], group="plan")
account_eev = sql_asset("account_eev", deps=["scored_whitespace", "account_state", "raw_accounts"], group="plan")
quotas = sql_asset("quotas", deps=["territories", "rep_plan", "account_eev", "segment_bands"], group="plan")


@dg.asset(group_name="plan", deps=["raw_reps", "account_eev"], kinds={"polars"})
def rep_plan(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """Active expansion reps of the plan. Grain: rep_id. segment from the reps table, or (when
    null) the segment with the most EEV per unit of capacity; capacity 0-1 of a full book."""
    started = time.perf_counter()
    with warehouse.connect() as con:
        reps = con.sql(
            "SELECT rep_id, name, segment, capacity FROM raw.reps "
            "WHERE role = 'expansion_rep' AND active ORDER BY rep_id"
        ).pl()
        accounts = con.sql("SELECT segment, eev FROM work.account_eev WHERE segment <> 'self_serve'").pl()
        planned = place_unsegmented_reps(reps, accounts)  # noqa: F841  (read by the SQL below)
        con.execute("CREATE OR REPLACE TABLE work.rep_plan AS SELECT * FROM planned ORDER BY rep_id")
        return table_result(context, con, "work.rep_plan", started)


@dg.asset(group_name="plan", deps=["rep_plan", "account_eev"], kinds={"polars"})
def territories(
    context: dg.AssetExecutionContext, warehouse: Warehouse, plan_config: PlanConfig
) -> dg.MaterializeResult:
    """Territory of every account in an expansion segment. Grain: account_id. rep_id = the
    assigned expansion rep; previous_rep_id = the current owner; moved = owner changed.
    EEV per rep is balanced in proportion to capacity, books within the segment's limits."""
    started = time.perf_counter()
    settings = plan_config.load()
    limits = {s.name: BookLimits(s.name, s.book_min, s.book_max) for s in settings.segments}
    with warehouse.connect() as con:
        accounts = con.sql(
            "SELECT account_id, segment, eev, owner_id FROM work.account_eev WHERE segment <> 'self_serve'"
        ).pl()
        reps = con.sql("SELECT rep_id, segment, capacity FROM work.rep_plan").pl()
        assigned = assign_territories(accounts, reps, limits)  # noqa: F841  (read by the SQL below)
        con.execute("CREATE OR REPLACE TABLE work.territories AS SELECT * FROM assigned ORDER BY account_id")
        moved = int(assigned["moved"].sum()) if assigned.height else 0
        return table_result(context, con, "work.territories", started, metadata={"accounts_moved": moved})


@dg.asset(
    group_name="plan",
    deps=["quotas", "territories", "account_eev", "scored_whitespace", "close_probability_model"],
    kinds={"duckdb"},
)
def plan_version(
    context: dg.AssetExecutionContext, warehouse: Warehouse, plan_config: PlanConfig
) -> dg.MaterializeResult:
    """Writes the run as an immutable plan version (plans.* with a plan_id) and moves the
    current-plan pointer in the same transaction; main.* views show the current plan."""
    started = time.perf_counter()
    settings = plan_config.load()
    with warehouse.connect() as con:
        fingerprint = con.execute("SELECT any_value(data_fingerprint) FROM raw.input_files").fetchone()[0]
        model_version = con.execute("SELECT model_version FROM work.model_info").fetchone()[0]
        plan_id = publish_plan(
            con,
            PlanRun(
                as_of=settings.as_of,
                settings_hash=settings.settings_hash(),
                data_fingerprint=fingerprint,
                model_version=model_version,
                dagster_run_id=context.run_id,
                settings_json=settings.model_dump_json(),
            ),
        )
        totals = pl.DataFrame(
            con.sql("SELECT sum(territory_eev) AS eev, sum(quota) AS quota FROM main.quotas").fetchall(),
            schema=["eev", "quota"],
            orient="row",
        )
        return table_result(
            context, con, "main.plan_runs", started,
            metadata={"plan_id": plan_id, "territory_eev": float(totals["eev"][0] or 0),
                      "total_quota": float(totals["quota"][0] or 0)},
        )
