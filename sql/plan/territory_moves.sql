-- territory_moves: one row per account whose owner changes in this plan (and per new account).
-- Key: account_id. from_rep_id = the current owner (accounts.owner_id; null for a new account),
-- to_rep_id = the rep the plan assigns; eev = the account's EEV (annual money); reason = why:
-- new account, rep inactive, segment change, book size, rep over target, rep under target.
-- effective_date = the mid-year rebalance date (territory.effective_date), else the plan date.
WITH territories AS (
    SELECT account_id, segment, rep_id, previous_rep_id, reason FROM work.territories
),

accounts AS (
    SELECT account_id, eev FROM work.account_eev
)

SELECT
    t.account_id,
    t.segment,
    t.previous_rep_id AS from_rep_id,
    t.rep_id AS to_rep_id,
    a.eev,
    t.reason,
    coalesce(CAST($effective_date AS DATE), CAST($as_of AS DATE)) AS effective_date
FROM territories AS t
JOIN accounts AS a USING (account_id)
WHERE t.previous_rep_id IS DISTINCT FROM t.rep_id
ORDER BY t.account_id
