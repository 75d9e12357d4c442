-- quota_contributions: one row per rep x account that counts toward the rep's quota.
-- Key: (rep_id, account_id). role, share, eev and eev_share as in territory_shares (the rep's
-- share of the account over the quota period); factor = the segment's quota factor as the plan
-- resolved it (work.quota_factors: the setting, or the 'auto' factor); contribution_unrounded =
-- factor x eev x share. quota = the rep's sum of contribution_unrounded rounded to a multiple of
-- quota_rounding; contribution (DECIMAL, cents) = contribution_unrounded rounded to cents, plus
-- on the rep's largest contribution (ties: lowest account_id) the residual that makes the rep's
-- contributions add up EXACTLY to its quota.
WITH shares AS (
    SELECT rep_id, account_id, segment, role, share, eev, eev_share FROM work.territory_shares
),

factors AS (
    SELECT segment, factor FROM work.quota_factors
),

unrounded AS (
    SELECT
        s.rep_id,
        s.account_id,
        s.segment,
        s.role,
        s.share,
        s.eev,
        s.eev_share,
        f.factor,
        f.factor * s.eev * s.share AS contribution_unrounded,
        round(f.factor * s.eev * s.share, 2)::DECIMAL(18, 2) AS cents,
        row_number() OVER (
            PARTITION BY s.rep_id ORDER BY f.factor * s.eev * s.share DESC, s.account_id
        ) AS size_rank
    FROM shares AS s
    JOIN factors AS f USING (segment)
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
