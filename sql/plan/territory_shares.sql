-- territory_shares: one row per rep x account that counts toward the rep's quota and forecast.
-- Key: (rep_id, account_id). role = 'owner' (the plan's rep) or 'previous_owner' (mid-year
-- rebalance only: the owner before territory.effective_date, if still an active rep of the plan).
-- share = fraction of the quota period the rep holds the account (1 without a mid-year move;
-- previous owner: days from as_of to effective_date / plan_period_days; owner: the rest), so the
-- rep is credited with that share of whatever the account books; eev = the account's EEV;
-- eev_share = eev x share (annual money). The quota factor is applied later (quota_contributions).
WITH reps AS (
    SELECT rep_id FROM work.rep_plan
),

territories AS (
    SELECT account_id, segment, rep_id, previous_rep_id, moved FROM work.territories
),

accounts AS (
    SELECT account_id, eev FROM work.account_eev
),

period AS (
    SELECT coalesce(
        least(greatest(datediff('day', CAST($as_of AS DATE), CAST($effective_date AS DATE)) / $plan_period_days, 0), 1),
        0
    ) AS previous_share
),

split AS (
    SELECT
        t.*,
        CASE WHEN t.moved AND t.previous_rep_id IN (SELECT rep_id FROM reps) THEN p.previous_share ELSE 0 END
            AS previous_share
    FROM territories AS t
    CROSS JOIN period AS p
),

holders AS (
    SELECT account_id, segment, rep_id, 'owner' AS role, 1 - previous_share AS share FROM split
    UNION ALL
    SELECT account_id, segment, previous_rep_id AS rep_id, 'previous_owner' AS role, previous_share AS share
    FROM split WHERE previous_share > 0
)

SELECT
    h.rep_id,
    h.account_id,
    h.segment,
    h.role,
    h.share,
    a.eev,
    a.eev * h.share AS eev_share
FROM holders AS h
JOIN accounts AS a USING (account_id)
ORDER BY h.rep_id, h.account_id
