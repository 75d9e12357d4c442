-- snapshot_dates: the dates the as-of transforms are computed for.
-- Grain: one row per snapshot_date. role = 'plan' for the plan date (as_of), 'train' for the
-- point-in-time training snapshots: as_of - horizon - k x spacing, so that every training
-- label window [snapshot, snapshot + horizon) closes before the plan date. Snapshots before
-- the first subscription are dropped (no customers yet).
WITH first_subscription AS (
    SELECT min(start_date) AS first_start FROM raw.subscriptions
),

plan_snapshot AS (
    SELECT CAST($as_of AS DATE) AS snapshot_date, 'plan' AS role
),

train_snapshots AS (
    SELECT
        CAST(CAST($as_of AS DATE) - to_months($horizon_months + k * $snapshot_every_months) AS DATE)
            AS snapshot_date,
        'train' AS role
    FROM range($max_snapshots) AS steps (k)
)

SELECT snapshot_date, role FROM plan_snapshot
UNION ALL
SELECT t.snapshot_date, t.role
FROM train_snapshots AS t, first_subscription AS f
WHERE t.snapshot_date > f.first_start
ORDER BY snapshot_date
