"""What the quota letters show, read with set-based SQL in bounded size: per rep with a quota,
the `letter_top_accounts` accounts with the most EEV (with their main whitespace items), one
summary row for the rest of the book, the accounts gained and lost (territory_moves, largest EEV
first, up to the same number each) and the joint-planning accounts with their CSM. Memory grows
with the number of reps, never with the number of accounts.

Frames (PlanTables.extras):
    letter_accounts  rep x listed account: rank, account, ACV, EEV, share of territory EEV,
                     contribution (factor x EEV), renewal, blackout window, anchor, joint planning
    letter_items     listed account x item: product name, kind, whitespace, p_close, expected amount,
                     EEV (items with p_close >= letter_min_p_close, largest EEV first)
    letter_rest      rep: accounts not listed, their EEV and contribution, and how many renew
    letter_moves     rep x moved account: direction (gained / lost), other rep, EEV, reason;
                     `total` = how many the rep gained (or lost) in all
    letter_joint     rep x joint-planning account: CSM id and name; `total` = all such accounts
    territory_counts accounts assigned and moved (the report's key figures)
    largest_moves    the report's largest moves (account and rep names)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb
import polars as pl

from pipeline.core.warehouse import table_exists

if TYPE_CHECKING:
    from pipeline.exports.sheets import PlanTables

BOOKS = """
WITH books AS (
    SELECT t.rep_id, t.account_id, a.account_name, a.acv, a.eev, a.renewal_date, a.blackout_start,
           a.blackout_end, a.joint_planning, a.csm_id, coalesce(t.anchor, false) AS anchor,
           a.eev / nullif(q.territory_eev, 0) AS share, q.factor * a.eev AS contribution,
           row_number() OVER (PARTITION BY t.rep_id ORDER BY a.eev DESC, t.account_id) AS rank
    FROM plans.territories AS t
    JOIN plans.account_eev AS a USING (plan_id, account_id)
    JOIN plans.quotas AS q USING (plan_id, rep_id)
    WHERE t.plan_id = $plan_id AND q.quota > 0
)
"""

ACCOUNTS_SQL = BOOKS + """
SELECT * EXCLUDE (csm_id) FROM books WHERE rank <= $top ORDER BY rep_id, rank
"""

ITEMS_SQL = BOOKS + """
SELECT w.account_id, {product_name} AS product_name, w.kind, w.whitespace, w.p_close, w.expected_amount, w.eev
FROM plans.whitespace_items AS w
JOIN books AS b ON b.account_id = w.account_id AND b.rank <= $top
{products_join}
WHERE w.plan_id = $plan_id AND w.p_close >= $min_p_close
QUALIFY row_number() OVER (PARTITION BY w.account_id ORDER BY w.eev DESC, w.product_id, w.kind) <= $per_account
ORDER BY w.account_id, w.eev DESC, w.product_id, w.kind
"""

REST_SQL = BOOKS + """
SELECT rep_id, count(*) AS accounts,
       CAST(sum(CAST(eev AS DECIMAL(38, 6))) AS DOUBLE) AS eev,  -- exact sum (docs/method.md)
       sum(contribution) AS contribution,
       count(*) FILTER (WHERE blackout_start <= $period_end AND blackout_end >= $period_start) AS renewing
FROM books WHERE rank > $top GROUP BY rep_id ORDER BY rep_id
"""

MOVES_SQL = """
WITH moves AS (
    SELECT 'gained' AS direction, m.to_rep_id AS rep_id, m.from_rep_id AS other_rep_id, m.account_id, m.eev, m.reason
    FROM plans.territory_moves AS m WHERE m.plan_id = $plan_id AND m.to_rep_id IS NOT NULL
    UNION ALL
    SELECT 'lost', m.from_rep_id, m.to_rep_id, m.account_id, m.eev, m.reason
    FROM plans.territory_moves AS m WHERE m.plan_id = $plan_id AND m.from_rep_id IS NOT NULL
)
SELECT m.rep_id, m.direction, m.account_id, a.account_name, m.other_rep_id, {other_rep} AS other_rep, m.eev,
       m.reason, count(*) OVER (PARTITION BY m.rep_id, m.direction) AS total
FROM moves AS m
JOIN plans.account_eev AS a ON a.plan_id = $plan_id AND a.account_id = m.account_id
LEFT JOIN plans.quotas AS o ON o.plan_id = $plan_id AND o.rep_id = m.other_rep_id
{reps_join}
QUALIFY row_number() OVER (PARTITION BY m.rep_id, m.direction ORDER BY m.eev DESC NULLS LAST, m.account_id) <= $top
ORDER BY m.rep_id, m.direction, m.eev DESC NULLS LAST, m.account_id
"""

JOINT_SQL = BOOKS + """
SELECT b.rep_id, b.account_id, b.account_name, b.acv, b.eev, b.csm_id, {csm_name} AS csm_name,
       count(*) OVER (PARTITION BY b.rep_id) AS total
FROM books AS b {csm_join}
WHERE b.joint_planning
QUALIFY row_number() OVER (PARTITION BY b.rep_id ORDER BY b.acv DESC, b.account_id) <= $top
ORDER BY b.rep_id, b.acv DESC, b.account_id
"""
CSM_JOIN = "LEFT JOIN raw.reps AS c ON c.rep_id = b.csm_id"
OTHER_REP_JOIN = "LEFT JOIN raw.reps AS r ON r.rep_id = m.other_rep_id"  # reps without a quota (inactive)
# Product names next to codes come from the input's products (raw.products, read by the latest
# run: products rarely change between plan versions); without it the code stands in.
PRODUCT_NAME = "coalesce(p.product_name, w.product_id)"
PRODUCTS_JOIN = "LEFT JOIN raw.products AS p ON p.product_id = w.product_id"

TERRITORY_COUNTS_SQL = """
SELECT count(*) AS assigned, count(*) FILTER (WHERE moved) AS moved FROM plans.territories WHERE plan_id = $plan_id
"""

LARGEST_MOVES_SQL = """
SELECT m.account_id, a.account_name, m.segment, coalesce(f.name, m.from_rep_id) AS from_rep,
       coalesce(t.name, m.to_rep_id) AS to_rep, m.eev, m.reason
FROM plans.territory_moves AS m
JOIN plans.account_eev AS a USING (plan_id, account_id)
LEFT JOIN plans.quotas AS f ON f.plan_id = m.plan_id AND f.rep_id = m.from_rep_id
LEFT JOIN plans.quotas AS t ON t.plan_id = m.plan_id AND t.rep_id = m.to_rep_id
WHERE m.plan_id = $plan_id
ORDER BY m.eev DESC NULLS LAST, m.account_id
LIMIT $largest
"""


def _query(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object]) -> pl.DataFrame:
    return con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql}).pl()


def with_products(sql: str, products: bool) -> str:
    """`sql` with its {product_name} and {products_join} filled in (product names when the file has products)."""
    return sql.format(product_name=PRODUCT_NAME if products else "w.product_id",
                      products_join=PRODUCTS_JOIN if products else "")


def letter_extras(con: duckdb.DuckDBPyConnection, tables: PlanTables, products: bool,
                  moves: bool) -> dict[str, pl.DataFrame]:
    """The bounded frames the letters and the report need (see the module docstring)."""
    cfg = tables.settings.exports
    params = {**tables.params, "top": cfg.letter_top_accounts, "min_p_close": cfg.letter_min_p_close,
              "per_account": cfg.letter_items_per_account, "largest": cfg.report_largest_moves}
    reps = table_exists(con, "raw", "reps")
    extras = {
        "letter_accounts": _query(con, ACCOUNTS_SQL, params),
        "letter_items": _query(con, with_products(ITEMS_SQL, products), params),
        "letter_rest": _query(con, REST_SQL, params),
        "territory_counts": _query(con, TERRITORY_COUNTS_SQL, params),
        "letter_joint": _query(con, JOINT_SQL.format(csm_name="coalesce(c.name, b.csm_id)" if reps else "b.csm_id",
                                                     csm_join=CSM_JOIN if reps else ""), params),
    }
    if moves:
        extras["letter_moves"] = _query(con, MOVES_SQL.format(
            other_rep="coalesce(o.name, r.name, m.other_rep_id)" if reps else "coalesce(o.name, m.other_rep_id)",
            reps_join=OTHER_REP_JOIN if reps else ""), params)
        extras["largest_moves"] = _query(con, LARGEST_MOVES_SQL, params)
    return extras
