"""What changed between two plan versions: per-rep quota changes, account moves and the
adjustments that made them.

All read the immutable versions in schema `plans` (never the main.* views), so a diff of two
plan_ids gives the same answer whatever plan is current. The adjustments of a diff A -> B are
those recorded (plans.adjustments, `quota-plan adjust`) in B and in its parents back to A, or,
when A is not one of B's parents, back to the plan run B's adjustments started from; an account
an adjustment moved gives that adjustment as its reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from pipeline.core.warehouse import table_exists
from pipeline.plan.store import PLAN_VERSION_SQL

QUOTA_CHANGES_SQL = """
WITH a AS (SELECT rep_id, segment, accounts, quota FROM plans.quotas WHERE plan_id = $plan_a),
     b AS (SELECT rep_id, segment, accounts, quota FROM plans.quotas WHERE plan_id = $plan_b)
SELECT coalesce(b.rep_id, a.rep_id) AS rep_id, coalesce(b.segment, a.segment) AS segment,
       a.accounts AS accounts_a, b.accounts AS accounts_b, a.quota AS quota_a, b.quota AS quota_b,
       coalesce(b.quota, 0) - coalesce(a.quota, 0) AS change,
       (coalesce(b.quota, 0) - coalesce(a.quota, 0)) / nullif(a.quota, 0) AS change_share
FROM a FULL JOIN b USING (rep_id)
WHERE a.quota IS DISTINCT FROM b.quota OR a.accounts IS DISTINCT FROM b.accounts
ORDER BY rep_id
"""

# the adjustments of B and of its parents back to (not including) A; depth 0 = recorded in B
LINEAGE_SQL = """
WITH RECURSIVE chain(plan_id, depth) AS (
    SELECT CAST($plan_b AS VARCHAR), 0
    UNION ALL
    SELECT r.parent_plan_id, c.depth + 1
    FROM chain AS c
    JOIN plans.plan_runs AS r ON r.run_id = c.plan_id
    WHERE c.plan_id <> $plan_a AND r.parent_plan_id IS NOT NULL
),
lineage AS (
    SELECT j.plan_id, c.depth, j.adjustment, j.kind, j.rep_id, j.account_id, j.old_value, j.new_value, j.reason,
           j.adjusted_by, j.adjusted_at
    FROM plans.adjustments AS j
    JOIN chain AS c USING (plan_id)
    WHERE c.plan_id <> $plan_a
)
"""
NO_LINEAGE_SQL = """
WITH lineage AS (
    SELECT NULL::VARCHAR AS plan_id, NULL::INTEGER AS depth, NULL::BIGINT AS adjustment, NULL::VARCHAR AS kind,
           NULL::VARCHAR AS rep_id, NULL::VARCHAR AS account_id, NULL::VARCHAR AS old_value,
           NULL::VARCHAR AS new_value, NULL::VARCHAR AS reason, NULL::VARCHAR AS adjusted_by,
           NULL::TIMESTAMP AS adjusted_at
    WHERE false
)
"""

ADJUSTMENTS_SQL = """
SELECT plan_id, adjustment, kind, rep_id, account_id, old_value, new_value, reason, adjusted_by, adjusted_at
FROM lineage
ORDER BY depth DESC, adjustment
"""

ACCOUNT_MOVES_SQL = """,
adjusted AS (  -- the latest adjustment that gave an account its rep
    SELECT account_id,
           first(format('adjustment in {} by {}: {}', plan_id, adjusted_by, reason) ORDER BY depth, adjustment DESC)
               AS reason
    FROM lineage
    WHERE kind = 'move_account' OR (kind = 'lock_account' AND rep_id IS NOT NULL)
    GROUP BY account_id
),
a AS (SELECT account_id, rep_id FROM plans.territories WHERE plan_id = $plan_a),
b AS (SELECT account_id, segment, rep_id, previous_rep_id, reason FROM plans.territories WHERE plan_id = $plan_b),
eev AS (SELECT account_id, eev FROM plans.account_eev WHERE plan_id = $plan_b)
SELECT coalesce(b.account_id, a.account_id) AS account_id, b.segment, a.rep_id AS rep_a, b.rep_id AS rep_b,
       eev.eev,
       CASE WHEN m.reason IS NOT NULL THEN m.reason
            WHEN b.rep_id IS NULL THEN 'not assigned in ' || $plan_b
            WHEN b.previous_rep_id IS NOT DISTINCT FROM a.rep_id THEN b.reason
            ELSE 'owner in the input was ' || coalesce(b.previous_rep_id, 'none') END AS reason
FROM a FULL JOIN b USING (account_id)
LEFT JOIN eev ON eev.account_id = coalesce(b.account_id, a.account_id)
LEFT JOIN adjusted AS m ON m.account_id = coalesce(b.account_id, a.account_id)
WHERE a.rep_id IS DISTINCT FROM b.rep_id
ORDER BY account_id
"""


class PlanNotFoundError(ValueError):
    """A plan_id that is not a stored plan version."""


@dataclass(frozen=True)
class PlanDiff:
    """Rows of the three parts of a diff (column names first)."""

    quota_columns: list[str]
    quota_changes: list[tuple]
    move_columns: list[str]
    account_moves: list[tuple]
    adjustment_columns: list[str]
    adjustments: list[tuple]


def _check_plans(con: duckdb.DuckDBPyConnection, plan_ids: tuple[str, str]) -> None:
    known = []
    if table_exists(con, "plans", "plan_runs"):
        known = [r[0] for r in con.execute(
            f"SELECT run_id FROM plans.plan_runs WHERE {PLAN_VERSION_SQL} ORDER BY run_id").fetchall()]
    missing = [p for p in plan_ids if p not in known]
    if missing:
        raise PlanNotFoundError(f"no plan version {', '.join(missing)}; stored plans: {', '.join(known) or 'none'}")


def diff_plans(con: duckdb.DuckDBPyConnection, plan_a: str, plan_b: str) -> PlanDiff:
    """Per-rep quota changes, account owner changes and adjustments from plan_a to plan_b."""
    _check_plans(con, (plan_a, plan_b))
    params = {"plan_a": plan_a, "plan_b": plan_b}
    quotas = con.execute(QUOTA_CHANGES_SQL, params)
    quota_columns, quota_rows = [d[0] for d in quotas.description], quotas.fetchall()
    lineage = LINEAGE_SQL if table_exists(con, "plans", "adjustments") else NO_LINEAGE_SQL
    moves = con.execute(lineage + ACCOUNT_MOVES_SQL, params)
    move_columns, move_rows = [d[0] for d in moves.description], moves.fetchall()
    adjustments = con.execute(lineage + ADJUSTMENTS_SQL, {k: v for k, v in params.items() if f"${k}" in lineage})
    return PlanDiff(quota_columns, quota_rows, move_columns, move_rows,
                    [d[0] for d in adjustments.description], adjustments.fetchall())
