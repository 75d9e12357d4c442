-- quotas: one row per active expansion rep of the plan.
-- Key: rep_id. accounts = accounts the rep owns in the plan; territory_eev = sum of eev x share
-- over the rep's quota contributions (= sum of the owned accounts' eev unless a mid-year
-- rebalance splits moved accounts by time); quota_unrounded = sum of factor x eev x share
-- (factor x territory_eev; capacity is already inside the EEV share); quota = quota_unrounded
-- rounded to the nearest multiple of quota_rounding = the exact sum of the rep's contributions.
-- A rep with no accounts gets quota 0.
WITH reps AS (
    SELECT rep_id, name, segment, capacity FROM work.rep_plan
),

contributions AS (
    SELECT rep_id, role, eev_share, contribution_unrounded, contribution FROM work.quota_contributions
),

bands AS (
    SELECT segment, quota_factor FROM work.segment_bands
),

books AS (
    SELECT
        rep_id,
        count(*) FILTER (WHERE role = 'owner') AS accounts,
        sum(eev_share) AS territory_eev,
        sum(contribution_unrounded) AS quota_unrounded,
        sum(contribution) AS quota
    FROM contributions
    GROUP BY rep_id
)

SELECT
    r.rep_id,
    r.name,
    r.segment,
    r.capacity,
    coalesce(b.accounts, 0) AS accounts,
    coalesce(b.territory_eev, 0) AS territory_eev,
    bands.quota_factor AS factor,
    coalesce(b.quota_unrounded, 0) AS quota_unrounded,
    CAST(coalesce(b.quota, 0) AS DOUBLE) AS quota
FROM reps AS r
JOIN bands USING (segment)
LEFT JOIN books AS b USING (rep_id)
ORDER BY r.rep_id
