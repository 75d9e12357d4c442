"""The SQL of an adjusted plan (pipeline/plan/adjustments/apply.py): the parent's rows with the
checked adjustments applied (territories, the reps' quota terms, rep_plan, the territory
methods), the check that a set quota is carried, the audit rows and each rep's quota against the
rule. `$parent` is the parent plan_id; the checked rows are the registered view ADJUSTED_ROWS."""

from __future__ import annotations

ADJUSTED_ROWS = "adjustment_requests"  # the checked rows, registered on the connection for the SQL below

PARENT_SQL = ("SELECT status, as_of, settings_hash, data_fingerprint, model_version, settings_json "
              "FROM plans.plan_runs WHERE run_id = ?")

TERRITORIES_SQL = f"""
WITH parent AS (
    SELECT * EXCLUDE (plan_id) FROM plans.territories WHERE plan_id = $parent
),

changes AS (  -- per account: the rep it goes to (a move, or a lock to a rep) and its lock
    SELECT
        account_id,
        any_value(rep_id) FILTER (WHERE rep_id IS NOT NULL) AS rep_id,
        any_value(flag) FILTER (WHERE kind = 'lock_account') AS locked,
        string_agg(reason, '; ' ORDER BY position) AS reason
    FROM {ADJUSTED_ROWS}
    WHERE kind IN ('move_account', 'lock_account')
    GROUP BY account_id
),

adjusted AS (
    SELECT
        p.*,
        coalesce(c.rep_id, p.rep_id) AS new_rep_id,
        c.rep_id IS NOT NULL AND c.rep_id IS DISTINCT FROM p.rep_id AS changed_hands,
        c.reason AS why,
        c.locked AS new_locked
    FROM parent AS p
    LEFT JOIN changes AS c USING (account_id)
)

SELECT * EXCLUDE (new_rep_id, changed_hands, why, new_locked) REPLACE (
    new_rep_id AS rep_id,
    previous_rep_id IS DISTINCT FROM new_rep_id AS moved,
    CASE WHEN NOT changed_hands THEN reason
         WHEN previous_rep_id IS DISTINCT FROM new_rep_id THEN $adjusted_reason || why END AS reason,
    coalesce(new_locked, locked) AS locked
)
FROM adjusted
ORDER BY account_id
"""

# the reps' own quota terms: the parent's (kept from its adjustments), replaced per rep by this file's
OVERRIDES_SQL = f"""
WITH requests AS (
    SELECT rep_id, kind, number FROM {ADJUSTED_ROWS}
    WHERE kind IN ('set_quota', 'change_quota_pct', 'set_factor')
),

parent AS (
    SELECT rep_id, quota FROM plans.quotas WHERE plan_id = $parent
),

new AS (
    SELECT
        r.rep_id,
        CASE WHEN r.kind = 'set_factor' THEN r.number END AS factor_set,
        CASE r.kind
            WHEN 'set_quota' THEN r.number
            WHEN 'change_quota_pct' THEN round(p.quota * (1 + r.number) / $quota_rounding) * $quota_rounding
        END AS quota_set
    FROM requests AS r
    JOIN parent AS p USING (rep_id)
)

SELECT rep_id, CAST(factor_set AS DOUBLE) AS factor_set, CAST(quota_set AS DOUBLE) AS quota_set FROM new
UNION ALL
SELECT rep_id, factor_set, quota_set FROM parent_overrides WHERE rep_id NOT IN (SELECT rep_id FROM new)
ORDER BY rep_id
"""

REP_PLAN_SQL = f"""
SELECT q.rep_id, q.name, q.segment, coalesce(c.number, q.capacity) AS capacity, o.factor_set, o.quota_set
FROM plans.quotas AS q
LEFT JOIN (SELECT rep_id, number FROM {ADJUSTED_ROWS} WHERE kind = 'set_capacity') AS c USING (rep_id)
LEFT JOIN work.quota_overrides AS o USING (rep_id)
WHERE q.plan_id = $parent
ORDER BY q.rep_id
"""

METHODS_SQL = """
SELECT b.segment, b.method, s.book_min, s.book_max
FROM plans.territory_balance AS b
JOIN book_limits AS s USING (segment)
WHERE b.plan_id = $parent
ORDER BY b.segment
"""

# a quota the reps' terms set that the contributions cannot carry (no EEV left to decompose it into)
UNCARRIED_SQL = """
SELECT o.rep_id, o.quota_set, q.quota
FROM work.quota_overrides AS o
JOIN work.quotas AS q USING (rep_id)
WHERE o.quota_set IS NOT NULL AND q.quota <> round(o.quota_set, 2)
ORDER BY o.rep_id
"""

AUDIT_SQL = f"""
WITH requests AS (
    SELECT * FROM {ADJUSTED_ROWS}
),

before_reps AS (
    SELECT rep_id, quota, factor, capacity FROM plans.quotas WHERE plan_id = $parent
),

after_reps AS (
    SELECT rep_id, quota, factor, capacity FROM work.quotas
),

before_accounts AS (
    SELECT account_id, rep_id, locked FROM plans.territories WHERE plan_id = $parent
),

after_accounts AS (
    SELECT account_id, rep_id, locked FROM work.territories
)

SELECT
    r.position AS adjustment,
    r.source_row,
    r.kind,
    r.rep_id,
    r.account_id,
    r.value,
    CASE
        WHEN r.kind IN ('set_quota', 'change_quota_pct') THEN printf('%.2f', b.quota)
        WHEN r.kind = 'set_factor' THEN CAST(b.factor AS VARCHAR)
        WHEN r.kind = 'set_capacity' THEN CAST(b.capacity AS VARCHAR)
        WHEN r.kind = 'move_account' THEN ba.rep_id
        ELSE ba.rep_id || CASE WHEN ba.locked THEN ' locked' ELSE ' unlocked' END
    END AS old_value,
    CASE
        WHEN r.kind IN ('set_quota', 'change_quota_pct') THEN printf('%.2f', a.quota)
        WHEN r.kind = 'set_factor' THEN CAST(a.factor AS VARCHAR)
        WHEN r.kind = 'set_capacity' THEN CAST(a.capacity AS VARCHAR)
        WHEN r.kind = 'move_account' THEN aa.rep_id
        ELSE aa.rep_id || CASE WHEN aa.locked THEN ' locked' ELSE ' unlocked' END
    END AS new_value,
    r.reason,
    CAST($adjusted_by AS VARCHAR) AS adjusted_by,
    CAST($adjusted_at AS TIMESTAMP) AS adjusted_at,
    CAST($note AS VARCHAR) AS note,
    CAST($file AS VARCHAR) AS file
FROM requests AS r
LEFT JOIN before_reps AS b USING (rep_id)
LEFT JOIN after_reps AS a USING (rep_id)
LEFT JOIN before_accounts AS ba USING (account_id)
LEFT JOIN after_accounts AS aa USING (account_id)
ORDER BY r.position
"""

# how far each rep's quota is from the plan's rule, its segment's factor x its territory EEV
AGAINST_RULE_SQL = """
SELECT
    q.rep_id,
    q.name,
    q.segment,
    q.territory_eev,
    f.factor AS segment_factor,
    round(f.factor * q.territory_eev / $quota_rounding) * $quota_rounding AS quota_by_rule,
    q.quota,
    q.quota - quota_by_rule AS difference,
    (q.quota - quota_by_rule) / nullif(quota_by_rule, 0) AS difference_share
FROM plans.quotas AS q
JOIN plans.quota_factors AS f USING (plan_id, segment)
WHERE q.plan_id = $plan_id
ORDER BY abs(q.quota - quota_by_rule) DESC, q.rep_id
"""
