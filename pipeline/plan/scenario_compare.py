"""The comparison of a batch of scenarios: what each would make of each segment.

scenario_comparison: one row per scenario x segment, plus one row per scenario for all segments
(segment 'all segments'), in the order the scenarios were given, segments by ACV band.
reps = expansion reps of the scenario's plan (hypothetical ones included); factor = the quota
factor it resolved (null on the all-segments row); quota = total quota; trailing_bookings = expansion
ARR won in the 12 months before the plan date on the same accounts; quota_to_bookings = quota /
trailing_bookings; reps_out_of_tolerance = reps outside the balance tolerance; max_deviation =
the largest |balance_deviation| (fraction); moves_vs_current = accounts whose rep differs from the
current plan's when the batch ran (null when there was none); attaining_share = predicted share
of reps attaining their quota (plans.quota_factors; on the all-segments row weighted by reps).
Money: annual ARR in the data's currency; shares 0-1.
"""

from __future__ import annotations

import duckdb
import polars as pl

ALL_SEGMENTS = "all segments"
COMPARISON_SQL = f"""
WITH runs AS (
    SELECT plan_id, position, scenario, base_plan_id FROM plans.scenarios WHERE batch_id = $batch_id
),

reps AS (
    SELECT q.plan_id, coalesce(q.segment, '{ALL_SEGMENTS}') AS segment, count(*) AS reps,
           CAST(sum(CAST(q.quota AS DECIMAL(38, 6))) AS DOUBLE) AS quota,  -- exact sums (docs/method.md)
           count(q.out_of_tolerance_reason) AS reps_out_of_tolerance,
           max(abs(q.balance_deviation)) AS max_deviation
    FROM plans.quotas AS q JOIN runs USING (plan_id)
    GROUP BY GROUPING SETS ((q.plan_id, q.segment), (q.plan_id))
),

history AS (
    SELECT h.plan_id, coalesce(h.segment, '{ALL_SEGMENTS}') AS segment, h.trailing_bookings, h.quota_to_bookings
    FROM plans.quota_history AS h JOIN runs USING (plan_id)
    WHERE h.level IN ('segment', 'plan')
),

factors AS (
    SELECT f.plan_id, coalesce(f.segment, '{ALL_SEGMENTS}') AS segment,
           CASE WHEN f.segment IS NOT NULL THEN any_value(f.factor) END AS factor,
           CAST(sum(CAST(f.attaining_share * f.reps AS DECIMAL(38, 12))) AS DOUBLE) / nullif(sum(f.reps), 0)
               AS attaining_share
    FROM plans.quota_factors AS f JOIN runs USING (plan_id)
    GROUP BY GROUPING SETS ((f.plan_id, f.segment), (f.plan_id))
),

moves AS (
    SELECT s.plan_id, coalesce(s.segment, '{ALL_SEGMENTS}') AS segment,
           CASE WHEN any_value(r.base_plan_id) IS NOT NULL
                THEN count(*) FILTER (WHERE c.rep_id IS DISTINCT FROM s.rep_id) END AS moves_vs_current
    FROM plans.territories AS s
    JOIN runs AS r USING (plan_id)
    LEFT JOIN plans.territories AS c ON c.plan_id = r.base_plan_id AND c.account_id = s.account_id
    GROUP BY GROUPING SETS ((s.plan_id, s.segment), (s.plan_id))
),

bands AS (
    SELECT segment, row_number() OVER (ORDER BY min_acv) AS band FROM work.segment_bands
)

SELECT runs.scenario, reps.segment, reps.reps, factors.factor, reps.quota, history.trailing_bookings,
       history.quota_to_bookings, reps.reps_out_of_tolerance, reps.max_deviation, moves.moves_vs_current,
       factors.attaining_share, runs.plan_id
FROM runs
JOIN reps USING (plan_id)
LEFT JOIN history USING (plan_id, segment)
LEFT JOIN factors USING (plan_id, segment)
LEFT JOIN moves USING (plan_id, segment)
LEFT JOIN bands USING (segment)
ORDER BY runs.position, reps.segment = '{ALL_SEGMENTS}' DESC, bands.band, reps.segment
"""


def scenario_comparison(con: duckdb.DuckDBPyConnection, batch_id: str) -> pl.DataFrame:
    """The comparison table of a batch (see the module docstring)."""
    return con.execute(COMPARISON_SQL, {"batch_id": batch_id}).pl()
