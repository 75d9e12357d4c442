"""Checks on the model and the plan's outputs, each naming the rule, count and example keys.

The identities and the model check are blocking: a failure stops everything downstream in the
run (so no plan version is written). The balance of territories is a warning (the book-size
limits can make perfect balance impossible; the plan is still valid and territory_balance
reports it). The input contract is enforced by ingestion itself, before anything is written.
"""

import re

import dagster as dg
import duckdb

from pipeline.core.settings import PlanSettings
from pipeline.defs.resources import Warehouse

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
           LEFT JOIN (SELECT account_id, CAST(sum(CAST(eev AS DECIMAL(38, 6))) AS DOUBLE) AS eev,
                             CAST(sum(CAST(whitespace AS DECIMAL(38, 6))) AS DOUBLE) AS ws  -- the plan's exact sums
                      FROM work.scored_whitespace GROUP BY account_id) AS i USING (account_id)
           WHERE abs(a.eev - coalesce(i.eev, 0)) > 1e-6 * greatest(1, abs(a.eev))
              OR abs(a.whitespace - coalesce(i.ws, 0)) > 1e-6 * greatest(1, abs(a.whitespace))""",
    ),
    (
        "account_eev", "one_row_per_account", "every account of the plan date (account_state) appears exactly once",
        """SELECT account_id FROM work.account_state ANTI JOIN work.account_eev USING (account_id)
           WHERE role = 'plan'
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
        "territories", "locked_accounts_stay", "a locked account keeps its owner when the owner is a rep of its segment",
        """SELECT t.account_id FROM work.territories AS t JOIN work.rep_plan AS r ON r.rep_id = t.previous_rep_id
           WHERE t.locked AND r.segment = t.segment AND t.rep_id <> t.previous_rep_id""",
    ),
    (
        "quotas", "quota_is_factor_times_territory_eev",
        ("territory_eev = sum of its accounts' eev x share; quota = sum of factor x eev x share within rounding, "
         "with the segment's factor as resolved in quota_factors"),
        """SELECT q.rep_id FROM work.quotas AS q
           LEFT JOIN work.quota_factors AS qf ON qf.segment = q.segment
           LEFT JOIN (SELECT c.rep_id, CAST(sum(CAST(c.eev * c.share AS DECIMAL(38, 6))) AS DOUBLE) AS eev,
                             CAST(sum(CAST(f.factor * c.eev * c.share AS DECIMAL(38, 6))) AS DOUBLE) AS quota
                      FROM work.quota_contributions AS c
                      JOIN work.territories AS t USING (account_id)
                      JOIN work.account_eev AS a USING (account_id)
                      JOIN work.quota_factors AS f ON f.segment = a.segment
                      WHERE c.eev = a.eev AND (c.rep_id = t.rep_id OR c.rep_id = t.previous_rep_id)
                      GROUP BY c.rep_id) AS s USING (rep_id)
           WHERE abs(q.territory_eev - coalesce(s.eev, 0)) > 1e-6 * greatest(1, q.territory_eev)
              OR abs(q.quota_unrounded - coalesce(s.quota, 0)) > 1e-6 * greatest(1, q.territory_eev)
              OR abs(q.quota - q.quota_unrounded) > $half_rounding + 1e-6
              OR q.factor IS DISTINCT FROM qf.factor""",
    ),
    (
        "quotas", "contributions_add_up_to_quota", "each rep's quota contributions add up exactly to its quota",
        """SELECT q.rep_id FROM work.quotas AS q
           LEFT JOIN (SELECT rep_id, sum(contribution) AS total FROM work.quota_contributions GROUP BY rep_id) AS c
             USING (rep_id)
           WHERE CAST(q.quota AS DECIMAL(18, 2)) <> coalesce(c.total, 0)""",
    ),
]
BALANCE = (
    "quotas", "territory_eev_balanced",
    "each rep's balance_deviation (owned EEV against its capacity-proportional target, sql/plan/quotas.sql) is "
    "within territory.balance_tolerance",
    """SELECT rep_id FROM work.quotas WHERE abs(balance_deviation) > $balance_tolerance + 1e-9""",
)
EXAMPLES = 5


def rule_keys(con: duckdb.DuckDBPyConnection, sql: str, settings: PlanSettings) -> list:
    """The sorted keys of the rows that break a rule (its `sql`, with the settings' parameters)."""
    known = {**settings.sql_params(), "half_rounding": settings.quota_rounding / 2}
    params = {k: v for k, v in known.items() if re.search(rf"\${k}\b", sql)}
    return [r[0] for r in con.execute(f"SELECT * FROM ({sql}) ORDER BY 1", params).fetchall()]


def _rule_check(asset: str, name: str, description: str, sql: str, blocking: bool = True) -> dg.AssetChecksDefinition:
    """A check that passes when `sql` returns no keys; a non-blocking one only warns."""

    @dg.asset_check(asset=asset, name=name, description=description, blocking=blocking)
    def _check(warehouse: Warehouse, settings: dg.ResourceParam[PlanSettings]) -> dg.AssetCheckResult:
        with warehouse.connect() as con:
            keys = rule_keys(con, sql, settings)
        return dg.AssetCheckResult(
            passed=not keys,
            severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
            metadata={"rows_breaking_rule": len(keys), "examples": ", ".join(map(str, keys[:EXAMPLES]))},
            description=f"{description}: {len(keys)} rows break it",
        )

    return _check


@dg.asset_check(
    asset="close_probability_model",
    description="the chosen model's calibrated holdout log loss is below the base rate's "
    "(passes with a warning when the plan fell back to base rates on purpose, or when the settings "
    "allow a base-rate plan: model.allow_base_rate_plan)",
    blocking=True,
)
def beats_base_rate(warehouse: Warehouse, settings: dg.ResourceParam[PlanSettings]) -> dg.AssetCheckResult:
    """Blocking: a fitted model that does not beat the base rate on the holdout stops the plan,
    unless the settings knowingly allow a plan on base rates."""
    with warehouse.connect() as con:
        chosen, reason, model_loss, base_loss = con.execute(
            """SELECT i.chosen, i.fallback_reason,
                      (SELECT value FROM work.model_metrics WHERE model = 'chosen' AND segment = 'all'
                         AND metric = 'log_loss'),
                      (SELECT value FROM work.model_metrics WHERE model = 'base_rate' AND segment = 'all'
                         AND metric = 'log_loss')
               FROM work.model_info AS i"""
        ).fetchone()
    if reason is not None:
        return dg.AssetCheckResult(
            passed=True,
            metadata={"warning": f"fell back to base rates: {reason}"},
            description="no holdout comparison: the plan fell back to base rates on purpose",
        )
    gain = None if base_loss is None or model_loss is None else 1 - model_loss / base_loss
    beats = chosen != "base_rate" and gain is not None and gain > 0
    allowed = not beats and settings.model.allow_base_rate_plan
    metadata = {"chosen": chosen, "holdout_log_loss": model_loss, "base_rate_log_loss": base_loss,
                "log_loss_gain": gain}
    if allowed:
        metadata["warning"] = "no model beats the base rate; published on base rates (model.allow_base_rate_plan)"
    return dg.AssetCheckResult(
        passed=beats or allowed,
        metadata=metadata,
        description=(
            f"chosen model {chosen}: holdout log loss {model_loss:.4f} vs base rate {base_loss:.4f}"
            + ("" if beats else "; not better than the base rate, " + (
                "allowed by model.allow_base_rate_plan" if allowed else "so no plan is published"))
        ),
    )


PLAN_CHECKS = [*(_rule_check(*spec) for spec in IDENTITIES), _rule_check(*BALANCE, blocking=False), beats_base_rate]
