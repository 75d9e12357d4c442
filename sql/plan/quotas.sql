-- quotas: one row per active expansion rep of the plan.
-- Key: rep_id. accounts = accounts the rep owns in the plan; territory_eev = sum of eev x share
-- over the rep's quota contributions (= sum of the owned accounts' eev unless a mid-year
-- rebalance splits moved accounts by time); factor = the segment's factor as the plan resolved it
-- (work.quota_factors); quota_unrounded = sum of factor x eev x share (factor x territory_eev;
-- capacity is already inside the EEV share); quota = quota_unrounded rounded to the nearest
-- multiple of quota_rounding = the exact sum of the rep's contributions.
-- A rep with no accounts gets quota 0. Balance (the one definition: the balance check, the
-- workbook, the report, territory_balance and the run summary read these columns):
-- owned_eev = sum of the eev of the accounts the rep owns in the plan (= territory_eev unless a
-- mid-year rebalance splits moved accounts by time); target_eev = the segment's owned_eev x the
-- rep's capacity / the segment's capacity; balance_deviation = owned_eev / target_eev - 1 (0 when
-- the target is 0).
WITH reps AS (
    SELECT rep_id, name, segment, capacity FROM work.rep_plan
),

contributions AS (
    SELECT rep_id, role, eev, eev_share, contribution_unrounded, contribution FROM work.quota_contributions
),

factors AS (  -- the segment's factor as the plan resolved it: the setting, or 'auto'
    SELECT segment, factor FROM work.quota_factors
),

books AS (
    SELECT
        rep_id,
        count(*) FILTER (WHERE role = 'owner') AS accounts,
        sum(eev_share) AS territory_eev,
        sum(eev) FILTER (WHERE role = 'owner') AS owned_eev,
        sum(contribution_unrounded) AS quota_unrounded,
        sum(contribution) AS quota
    FROM contributions
    GROUP BY rep_id
),

targets AS (
    SELECT
        r.rep_id,
        sum(coalesce(b.owned_eev, 0)) OVER (PARTITION BY r.segment) * r.capacity
            / sum(r.capacity) OVER (PARTITION BY r.segment) AS target_eev,
        coalesce(b.owned_eev, 0) AS owned_eev
    FROM reps AS r
    LEFT JOIN books AS b USING (rep_id)
)

SELECT
    r.rep_id,
    r.name,
    r.segment,
    r.capacity,
    coalesce(b.accounts, 0) AS accounts,
    coalesce(b.territory_eev, 0) AS territory_eev,
    f.factor,
    coalesce(b.quota_unrounded, 0) AS quota_unrounded,
    CAST(coalesce(b.quota, 0) AS DOUBLE) AS quota,
    t.owned_eev,
    t.target_eev,
    CASE WHEN t.target_eev > 0 THEN t.owned_eev / t.target_eev - 1 ELSE 0 END AS balance_deviation
FROM reps AS r
JOIN factors AS f USING (segment)
JOIN targets AS t USING (rep_id)
LEFT JOIN books AS b USING (rep_id)
ORDER BY r.rep_id
