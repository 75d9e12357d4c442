-- quotas: one row per active expansion rep of the plan.
-- Key: rep_id. territory_eev = sum of eev over the rep's accounts; quota_unrounded =
-- factor x territory_eev (capacity is already inside the EEV share); quota = quota_unrounded
-- rounded to the nearest multiple of quota_rounding. A rep with no accounts gets quota 0.
WITH reps AS (
    SELECT rep_id, name, segment, capacity FROM work.rep_plan
),

territories AS (
    SELECT account_id, rep_id FROM work.territories
),

accounts AS (
    SELECT account_id, eev FROM work.account_eev
),

bands AS (
    SELECT segment, quota_factor FROM work.segment_bands
),

books AS (
    SELECT t.rep_id, count(*) AS accounts, sum(a.eev) AS territory_eev
    FROM territories AS t
    JOIN accounts AS a USING (account_id)
    GROUP BY t.rep_id
)

SELECT
    r.rep_id,
    r.name,
    r.segment,
    r.capacity,
    coalesce(b.accounts, 0) AS accounts,
    coalesce(b.territory_eev, 0) AS territory_eev,
    bands.quota_factor AS factor,
    bands.quota_factor * coalesce(b.territory_eev, 0) AS quota_unrounded,
    round(bands.quota_factor * coalesce(b.territory_eev, 0) / $quota_rounding) * $quota_rounding AS quota
FROM reps AS r
JOIN bands USING (segment)
LEFT JOIN books AS b USING (rep_id)
ORDER BY r.rep_id
