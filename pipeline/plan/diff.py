"""What changed between two plan versions: per-rep quota changes and account moves.

Both read the immutable versions in schema `plans` (never the main.* views), so a diff of two
plan_ids gives the same answer whatever plan is current.
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

ACCOUNT_MOVES_SQL = """
WITH a AS (SELECT account_id, rep_id FROM plans.territories WHERE plan_id = $plan_a),
     b AS (SELECT account_id, segment, rep_id, previous_rep_id, reason FROM plans.territories WHERE plan_id = $plan_b),
     eev AS (SELECT account_id, eev FROM plans.account_eev WHERE plan_id = $plan_b)
SELECT coalesce(b.account_id, a.account_id) AS account_id, b.segment, a.rep_id AS rep_a, b.rep_id AS rep_b,
       eev.eev,
       CASE WHEN b.rep_id IS NULL THEN 'not assigned in ' || $plan_b
            WHEN b.previous_rep_id IS NOT DISTINCT FROM a.rep_id THEN b.reason
            ELSE 'owner in the input was ' || coalesce(b.previous_rep_id, 'none') END AS reason
FROM a FULL JOIN b USING (account_id)
LEFT JOIN eev ON eev.account_id = coalesce(b.account_id, a.account_id)
WHERE a.rep_id IS DISTINCT FROM b.rep_id
ORDER BY account_id
"""


class PlanNotFoundError(ValueError):
    """A plan_id that is not a stored plan version."""


@dataclass(frozen=True)
class PlanDiff:
    """Rows of the two parts of a diff (column names first)."""

    quota_columns: list[str]
    quota_changes: list[tuple]
    move_columns: list[str]
    account_moves: list[tuple]


def _check_plans(con: duckdb.DuckDBPyConnection, plan_ids: tuple[str, str]) -> None:
    known = []
    if table_exists(con, "plans", "plan_runs"):
        known = [r[0] for r in con.execute(
            f"SELECT run_id FROM plans.plan_runs WHERE {PLAN_VERSION_SQL} ORDER BY run_id").fetchall()]
    missing = [p for p in plan_ids if p not in known]
    if missing:
        raise PlanNotFoundError(f"no plan version {', '.join(missing)}; stored plans: {', '.join(known) or 'none'}")


def diff_plans(con: duckdb.DuckDBPyConnection, plan_a: str, plan_b: str) -> PlanDiff:
    """Per-rep quota changes and account owner changes from plan_a to plan_b."""
    _check_plans(con, (plan_a, plan_b))
    params = {"plan_a": plan_a, "plan_b": plan_b}
    quotas = con.execute(QUOTA_CHANGES_SQL, params)
    quota_columns, quota_rows = [d[0] for d in quotas.description], quotas.fetchall()
    moves = con.execute(ACCOUNT_MOVES_SQL, params)
    return PlanDiff(quota_columns, quota_rows, [d[0] for d in moves.description], moves.fetchall())
