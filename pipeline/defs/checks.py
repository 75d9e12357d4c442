"""Checks on the plan's outputs, each naming the rule, count and example keys.

The identities are blocking: a failure stops everything downstream in the run (so no plan
version is written). The balance of territories is a warning (the book-size limits can make
perfect balance impossible; the plan is still valid). The input contract is enforced by
ingestion itself, before anything is written (stronger than a check after the fact)."""

import re

import dagster as dg

from pipeline.resources import PlanConfig, Warehouse

# asset -> (check name, what it guarantees, SQL returning the keys of rows that break it)
IDENTITIES: list[tuple[str, str, str, str]] = [
    (
        "item_scores", "p_close_in_range", "every plan whitespace item has a p_close in [0, 1]",
        """SELECT account_id || '/' || product_id || '/' || kind FROM work.item_scores
           WHERE p_close IS NULL OR isnan(p_close) OR p_close < 0 OR p_close > 1
           UNION ALL
           SELECT w.account_id || '/' || w.product_id || '/' || w.kind
           FROM work.whitespace_items AS w JOIN work.snapshot_dates AS s
             ON s.snapshot_date = w.snapshot_date AND s.role = 'plan'
           ANTI JOIN work.item_scores AS i USING (account_id, product_id, kind)""",
    ),
    (
        "account_eev", "eev_is_sum_of_items", "each account's eev and whitespace are the sums over its items",
        """SELECT a.account_id FROM work.account_eev AS a
           LEFT JOIN (SELECT account_id, sum(eev) AS eev, sum(whitespace) AS ws
                      FROM work.scored_whitespace GROUP BY account_id) AS i USING (account_id)
           WHERE abs(a.eev - coalesce(i.eev, 0)) > 1e-6 * greatest(1, abs(a.eev))
              OR abs(a.whitespace - coalesce(i.ws, 0)) > 1e-6 * greatest(1, abs(a.whitespace))""",
    ),
    (
        "account_eev", "one_row_per_account", "every input account appears exactly once",
        """SELECT account_id FROM raw.accounts ANTI JOIN work.account_eev USING (account_id)
           UNION ALL
           SELECT account_id FROM work.account_eev GROUP BY account_id HAVING count(*) > 1""",
    ),
    (
        "territories", "assignable_accounts_have_a_rep", "every account of an expansion segment has a rep",
        """SELECT a.account_id FROM work.account_eev AS a
           LEFT JOIN work.territories AS t USING (account_id)
           WHERE a.segment <> 'self_serve' AND t.rep_id IS NULL""",
    ),
    (
        "quotas", "quota_is_factor_times_territory_eev",
        "territory_eev = sum of its accounts' eev; quota = factor x territory_eev within rounding",
        """SELECT q.rep_id FROM work.quotas AS q
           LEFT JOIN (SELECT t.rep_id, sum(a.eev) AS eev FROM work.territories AS t
                      JOIN work.account_eev AS a USING (account_id) GROUP BY t.rep_id) AS s USING (rep_id)
           JOIN work.segment_bands AS b ON b.segment = q.segment
           WHERE abs(q.territory_eev - coalesce(s.eev, 0)) > 1e-6 * greatest(1, q.territory_eev)
              OR abs(q.quota_unrounded - b.quota_factor * q.territory_eev) > 1e-6 * greatest(1, q.territory_eev)
              OR abs(q.quota - q.quota_unrounded) > $half_rounding + 1e-6""",
    ),
]
BALANCE = (
    "quotas", "territory_eev_balanced",
    "each rep's territory EEV per unit of capacity is within operations.balance_tolerance of its segment's",
    """SELECT q.rep_id FROM work.quotas AS q
       JOIN (SELECT segment, sum(territory_eev) / sum(capacity) AS per_capacity FROM work.quotas
             WHERE capacity > 0 GROUP BY segment) AS s USING (segment)
       WHERE q.capacity > 0 AND s.per_capacity > 0
         AND abs(q.territory_eev / q.capacity / s.per_capacity - 1) > $balance_tolerance""",
)
EXAMPLES = 5


def _rule_check(asset: str, name: str, description: str, sql: str, blocking: bool = True) -> dg.AssetChecksDefinition:
    """A check that passes when `sql` returns no keys; a non-blocking one only warns."""

    @dg.asset_check(asset=asset, name=name, description=description, blocking=blocking)
    def _check(warehouse: Warehouse, plan_config: PlanConfig) -> dg.AssetCheckResult:
        settings = plan_config.load()
        known = {**settings.sql_params(), "half_rounding": settings.quota_rounding / 2}
        params = {k: v for k, v in known.items() if re.search(rf"\${k}\b", sql)}
        with warehouse.connect() as con:
            keys = [r[0] for r in con.execute(f"SELECT * FROM ({sql}) ORDER BY 1", params).fetchall()]
        return dg.AssetCheckResult(
            passed=not keys,
            severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
            metadata={"rows_breaking_rule": len(keys), "examples": ", ".join(map(str, keys[:EXAMPLES]))},
            description=f"{description}: {len(keys)} rows break it",
        )

    return _check


@dg.definitions
def checks() -> dg.Definitions:
    return dg.Definitions(
        asset_checks=[*(_rule_check(*spec) for spec in IDENTITIES), _rule_check(*BALANCE, blocking=False)]
    )
