-- quota_contributions: one row per rep x account that counts toward the rep's quota.
-- Key: (rep_id, account_id). role, share, eev and eev_share as in territory_shares (the rep's
-- share of the account over the quota period); factor = the segment's quota factor as the plan
-- resolved it (work.quota_factors: the setting, or the 'auto' factor); contribution_unrounded =
-- factor x eev x share. quota = the rep's sum of contribution_unrounded rounded to a multiple of
-- quota_rounding; contribution (DECIMAL, cents) = contribution_unrounded rounded to cents, plus
-- on the rep's largest contribution (ties: lowest account_id) the residual that makes the rep's
-- contributions add up EXACTLY to its quota.
-- A rep's own terms, set by `quota-plan adjust` (docs/adjustments.md; absent from a plan run's
-- rep_plan, hence null): factor_set = the rep's factor instead of the segment's; quota_set = the
-- rep's exact quota (not rounded), its factor then quota_set / the rep's territory EEV.
WITH shares AS (
    SELECT rep_id, account_id, segment, role, share, eev, eev_share FROM work.territory_shares
),

factors AS (
    SELECT segment, factor FROM work.quota_factors
),

rep_terms AS (  -- union by name: the override columns are null where rep_plan does not carry them
    SELECT rep_id, factor_set, quota_set FROM (
        SELECT * FROM work.rep_plan
        UNION ALL BY NAME
        SELECT NULL::VARCHAR AS rep_id, NULL::DOUBLE AS factor_set, NULL::DOUBLE AS quota_set WHERE false
    )
),

territory AS (
    SELECT rep_id, CAST(sum(CAST(eev_share AS DECIMAL(38, 6))) AS DOUBLE) AS territory_eev  -- exact sum (docs/method.md)
    FROM shares GROUP BY rep_id
),

rep_factors AS (  -- null for a rep with no terms of its own: it takes its segment's factor
    SELECT
        r.rep_id,
        r.quota_set,
        coalesce(r.quota_set / nullif(t.territory_eev, 0), r.factor_set) AS factor
    FROM rep_terms AS r
    LEFT JOIN territory AS t USING (rep_id)
),

terms AS (
    SELECT
        s.*,
        coalesce(o.factor, f.factor) AS factor,
        coalesce(o.factor, f.factor) * s.eev * s.share AS contribution_unrounded,
        o.quota_set
    FROM shares AS s
    JOIN factors AS f USING (segment)
    LEFT JOIN rep_factors AS o USING (rep_id)
),

unrounded AS (
    SELECT
        rep_id,
        account_id,
        segment,
        role,
        share,
        eev,
        eev_share,
        factor,
        contribution_unrounded,
        quota_set,
        round(contribution_unrounded, 2)::DECIMAL(18, 2) AS cents,
        row_number() OVER (PARTITION BY rep_id ORDER BY contribution_unrounded DESC, account_id) AS size_rank
    FROM terms
),

rep_quota AS (  -- exact sum (docs/method.md): the rounding sees the same total in any row order
    SELECT
        rep_id,
        coalesce(
            round(any_value(quota_set), 2),
            round(CAST(sum(CAST(contribution_unrounded AS DECIMAL(38, 6))) AS DOUBLE) / $quota_rounding) * $quota_rounding
        )::DECIMAL(18, 2) AS quota,
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
