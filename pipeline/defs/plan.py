"""The plan: scored whitespace, account EEV and segments, the reps of the plan, territories,
quotas, and the step that writes an immutable plan version (made current; publishing to reps
is the separate `quota-plan publish`)."""

import time

import dagster as dg
import polars as pl

from pipeline.core.settings import PlanSettings
from pipeline.defs.resources import Warehouse
from pipeline.defs.sql_asset import markdown_table, sql_asset, table_result
from pipeline.exports.sheets import segment_summary, summary_figures
from pipeline.plan.scenarios import extra_reps
from pipeline.plan.store import PLAN_TABLES, PlanRun, write_plan_version
from pipeline.plan.territory.assign import BalanceRules, BookLimits, assign_territories, place_unsegmented_reps

PLAN_GROUP = "plan"
REP_PLAN_SCHEMA = {"rep_id": pl.String, "name": pl.String, "segment": pl.String, "capacity": pl.Float64,
                   "manager_id": pl.String}
scored_whitespace = sql_asset("scored_whitespace", group=PLAN_GROUP)
account_eev = sql_asset("account_eev", group=PLAN_GROUP)
territory_moves = sql_asset("territory_moves", group=PLAN_GROUP)
territory_balance = sql_asset("territory_balance", group=PLAN_GROUP)
balance_diagnosis = sql_asset("balance_diagnosis", group=PLAN_GROUP)
quota_contributions = sql_asset("quota_contributions", group=PLAN_GROUP)
quotas = sql_asset("quotas", group=PLAN_GROUP)
quota_history = sql_asset("quota_history", group=PLAN_GROUP)
plan_review = sql_asset("plan_review", group=PLAN_GROUP)
rep_capacity_months = sql_asset("rep_capacity_months", group=PLAN_GROUP)
quota_months = sql_asset("quota_months", group=PLAN_GROUP)
segment_headcount = sql_asset("segment_headcount", group=PLAN_GROUP)

# Accounts to assign, with their current owner and whether they are locked to it: the input
# column accounts.locked (false when absent, carried by the plan-date rows of account_state), or
# the account listed in territory.locked_accounts.
ASSIGNABLE_SQL = """
SELECT e.account_id, e.segment, e.eev, e.owner_id,
       s.locked OR list_contains($locked_accounts, e.account_id) AS locked
FROM work.account_eev AS e JOIN work.account_state AS s ON s.account_id = e.account_id AND s.role = 'plan'
WHERE e.segment <> 'self_serve'
ORDER BY e.account_id
"""


# the reps of the plan with their capacity for the plan year, and a scenario's hypothetical reps (`hired`)
REPS_SQL = """
SELECT r.rep_id, r.name, r.segment, c.plan_capacity AS capacity, r.manager_id
FROM raw.reps AS r
JOIN work.rep_capacity_months AS c ON c.rep_id = r.rep_id AND c.month_index = 1
WHERE c.plan_capacity > 0
UNION ALL SELECT * FROM hired
ORDER BY rep_id
"""


@dg.asset(group_name=PLAN_GROUP, deps=["raw_reps", "rep_capacity_months", "account_eev"], kinds={"polars"})
def rep_plan(context: dg.AssetExecutionContext, warehouse: Warehouse,
             settings: dg.ResourceParam[PlanSettings]) -> dg.MaterializeResult:
    """Active expansion reps of the plan. Grain: rep_id. segment from the reps table, or (when
    null) the segment with the most EEV per unit of capacity; capacity 0-1 of a full book for the plan
    year (work.rep_capacity_months' plan_capacity: ramp, leave and departure included; a rep with none
    in the plan year is left out); manager_id = reps.manager_id (null when the input has none). A
    scenario's hypothetical reps (scenario.extra_reps) are added as NEW-<segment>-<n>, full
    capacity, no manager."""
    started = time.perf_counter()
    with warehouse.connect() as con:
        hired = pl.DataFrame(extra_reps(settings), schema=REP_PLAN_SCHEMA)  # noqa: F841  (read by the SQL below)
        reps = con.sql(REPS_SQL).pl()
        accounts = con.sql("SELECT segment, eev FROM work.account_eev WHERE segment <> 'self_serve'").pl()
        segments = [s.name for s in settings.segments]
        planned = place_unsegmented_reps(reps, accounts, segments)  # noqa: F841  (read by the SQL below)
        con.execute("CREATE OR REPLACE TABLE work.rep_plan AS SELECT * FROM planned ORDER BY rep_id")
        return table_result(context, con, "work.rep_plan", started)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "territories", group_name=PLAN_GROUP, deps=["rep_plan", "account_eev", "account_state"], kinds={"polars"},
            description="Territory of every account in an expansion segment. Grain: account_id. rep_id = the "
            "assigned expansion rep; previous_rep_id = the current owner (accounts.owner_id); moved = owner changed; "
            "reason = why the account changed hands (null if it did not); locked = kept with its owner; anchor = EEV "
            "above territory.anchor_share of a full-capacity rep's target (placed first, one per rep where possible)."),
        dg.AssetSpec("territory_methods", group_name=PLAN_GROUP, kinds={"polars"},
                     description="How each segment's territories were assigned. Grain: segment; method = the "
                     "assignment method used (MILP or heuristic); book_min / book_max = the book-size limits "
                     "applied (accounts per full-capacity rep, scaled by capacity)."),
    ],
    can_subset=False,
)
def territories(context: dg.AssetExecutionContext, warehouse: Warehouse, settings: dg.ResourceParam[PlanSettings]):
    """Rebalanced from the current owners with as few moves as it takes to bring every rep
    within the balance tolerance of its capacity-proportional EEV target, anchor accounts first."""
    started = time.perf_counter()
    limits = {s.name: BookLimits(s.name, s.book_min, s.book_max) for s in settings.segments}
    rules = settings.territory
    balance = BalanceRules(rules.balance_tolerance, rules.milp_max_variables, rules.milp_max_nodes,
                           rules.milp_time_limit_seconds, rules.anchor_share)
    with warehouse.connect() as con:
        accounts = con.execute(ASSIGNABLE_SQL, {"locked_accounts": rules.locked_accounts}).pl()
        reps = con.sql("SELECT rep_id, segment, capacity FROM work.rep_plan").pl()
        result = assign_territories(accounts, reps, limits, balance)
        assigned = result.territories  # noqa: F841  (read by the SQL below)
        methods = result.methods.select("segment", "method", "book_min", "book_max")  # noqa: F841
        con.execute("CREATE OR REPLACE TABLE work.territories AS SELECT * FROM assigned ORDER BY account_id")
        con.execute("CREATE OR REPLACE TABLE work.territory_methods AS SELECT * FROM methods ORDER BY segment")
        seconds = {f"seconds_{r['segment']}": round(r["seconds"], 3) for r in result.methods.to_dicts()}
        moved = int(result.territories["moved"].sum()) if result.territories.height else 0
        anchors = int(result.territories["anchor"].sum()) if result.territories.height else 0
        yield table_result(context, con, "work.territories", started, asset_key="territories",
                           metadata={"accounts_moved": moved, "anchors": anchors, **seconds,
                                     **{f"method_{r['segment']}": r["method"] for r in result.methods.to_dicts()}})
        yield table_result(context, con, "work.territory_methods", started, asset_key="territory_methods")


@dg.asset(
    group_name=PLAN_GROUP,
    # every table a plan version copies (pipeline.plan.store.PLAN_TABLES), and its lineage
    deps=sorted({*PLAN_TABLES.values(), "raw_input_files"}),
    kinds={"duckdb"},
)
def plan_version(
    context: dg.AssetExecutionContext, warehouse: Warehouse, settings: dg.ResourceParam[PlanSettings]
) -> dg.MaterializeResult:
    """Writes the run as an immutable plan version (plans.* with a plan_id), pending: it becomes
    current only at the run's last step (current_plan), after its tracking and exports."""
    started = time.perf_counter()
    with warehouse.connect() as con:
        fingerprint = con.execute("SELECT any_value(data_fingerprint) FROM raw.input_files").fetchone()[0]
        model_version = con.execute("SELECT model_version FROM work.model_info").fetchone()[0]
        plan_id = write_plan_version(
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
        summary = segment_summary(con, plan_id, settings)
        return table_result(
            context, con, "main.plan_runs", started,
            metadata={"plan_id": plan_id, **summary_figures(summary),
                      "segments": dg.MetadataValue.md(markdown_table(summary.columns, summary.rows()))},
        )
