-- quota_contributions: one row per rep x account that counts toward the rep's quota.
-- Key: (rep_id, account_id). role = 'owner' (the plan's rep) or 'previous_owner' (mid-year
-- rebalance only: the owner before territory.effective_date, if still an active rep of the plan).
-- share = fraction of the quota period the rep holds the account (1 without a mid-year move;
-- previous owner: days from as_of to effective_date / plan_period_days; owner: the rest);
-- eev_share = eev x share; contribution_unrounded = factor of the account's segment x eev_share.
-- quota = the rep's sum of contribution_unrounded rounded to a multiple of quota_rounding;
-- contribution (DECIMAL, cents) = contribution_unrounded rounded to cents, plus on the rep's
-- largest contribution (ties: lowest account_id) the residual that makes the rep's
-- contributions add up EXACTLY to its quota.
WITH reps AS (
    SELECT rep_id FROM work.rep_plan
),

territories AS (
    SELECT account_id, segment, rep_id, previous_rep_id, moved FROM work.territories
),

accounts AS (
    SELECT account_id, eev FROM work.account_eev
),

bands AS (
    SELECT segment, quota_factor FROM work.segment_bands
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
),

unrounded AS (
    SELECT
        h.rep_id,
        h.account_id,
        h.segment,
        h.role,
        h.share,
        a.eev,
        a.eev * h.share AS eev_share,
        b.quota_factor AS factor,
        b.quota_factor * a.eev * h.share AS contribution_unrounded,
        round(b.quota_factor * a.eev * h.share, 2)::DECIMAL(18, 2) AS cents,
        row_number() OVER (
            PARTITION BY h.rep_id ORDER BY b.quota_factor * a.eev * h.share DESC, h.account_id
        ) AS size_rank
    FROM holders AS h
    JOIN accounts AS a USING (account_id)
    JOIN bands AS b USING (segment)
),

rep_quota AS (
    SELECT
        rep_id,
        (round(sum(contribution_unrounded) / $quota_rounding) * $quota_rounding)::DECIMAL(18, 2) AS quota,
        sum(cents) AS cents_total
    FROM unrounded
    GROUP BY rep_id
)

SELECT
    u.rep_id,
    u.account_id,
    u.segment,
    u.role,
    u.share,
    u.eev,
    u.eev_share,
    u.factor,
    u.contribution_unrounded,
    CAST(u.cents + CASE WHEN u.size_rank = 1 THEN q.quota - q.cents_total ELSE 0 END AS DECIMAL(18, 2)) AS contribution
FROM unrounded AS u
JOIN rep_quota AS q USING (rep_id)
ORDER BY u.rep_id, u.account_id
