-- eev_drift: each rep's territory EEV today against the reference plan (the published plan,
-- else the current one), as computed by the refresh job; quotas are not changed.
-- Grain: rep_id of the reference plan. plan_territory_eev = the rep's territory EEV in that
-- plan; current_territory_eev = today's EEV (work.account_eev) summed over the same accounts
-- (an account that is gone counts 0); drift = current - plan (money, the data's currency);
-- drift_share = drift / plan (NULL when the plan's EEV is 0); flagged = |drift_share| above
-- the setting operations.drift_alert_share.
WITH plan_quotas AS (
    SELECT rep_id, name, segment, quota, territory_eev FROM plans.quotas WHERE plan_id = $plan_id
),

plan_territories AS (
    SELECT account_id, rep_id FROM plans.territories WHERE plan_id = $plan_id
),

today AS (
    SELECT account_id, eev FROM work.account_eev
),

books AS (  -- the exact sum the plan's territory_eev is (docs/method.md): no drift when nothing changed
    SELECT t.rep_id, CAST(sum(CAST(coalesce(d.eev, 0) AS DECIMAL(38, 6))) AS DOUBLE) AS eev
    FROM plan_territories AS t
    LEFT JOIN today AS d USING (account_id)
    GROUP BY t.rep_id
),

drift AS (
    SELECT
        q.rep_id,
        q.name,
        q.segment,
        q.quota,
        q.territory_eev AS plan_territory_eev,
        coalesce(b.eev, 0) AS current_territory_eev,
        coalesce(b.eev, 0) - q.territory_eev AS drift,
        CASE WHEN q.territory_eev > 0 THEN (coalesce(b.eev, 0) - q.territory_eev) / q.territory_eev END
            AS drift_share
    FROM plan_quotas AS q
    LEFT JOIN books AS b USING (rep_id)
)

SELECT
    CAST($plan_id AS VARCHAR) AS plan_id,
    *,
    coalesce(abs(drift_share) > $drift_alert_share, false) AS flagged
FROM drift
ORDER BY rep_id
