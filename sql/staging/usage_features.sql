-- usage_features: product usage before each snapshot date.
-- Grain: (snapshot_date, account_id, product_id); product_id is NULL for usage rows not tied
-- to a product (account-level usage). Averages of active_users over the 30, 90 and 180 days
-- before the snapshot; usage_trend = 30-day average / 180-day average - 1 and
-- usage_trend_90d = 90-day average / 180-day average - 1 (0 = flat; NULL without usage).
-- recent_active_users is the average over the window setting usage_window_days.
-- Only the accounts of account_state on each date (every account on the plan date, the seeded
-- training sample of customers on the training snapshots): no later step reads any other.
WITH snapshots AS (
    SELECT snapshot_date FROM work.snapshot_dates
),

planned_accounts AS (
    SELECT snapshot_date, account_id FROM work.account_state
),

usage AS (
    SELECT account_id, product_id, date, active_users, events FROM raw.usage
),

windowed AS (
    SELECT
        s.snapshot_date,
        u.account_id,
        u.product_id,
        -- averages as exact integer sums / counts (avg() rounds differently on DuckDB and Spark)
        sum(u.active_users) FILTER (WHERE u.date >= s.snapshot_date - 30)
            / count(u.active_users) FILTER (WHERE u.date >= s.snapshot_date - 30) AS active_users_30d,
        sum(u.active_users) FILTER (WHERE u.date >= s.snapshot_date - 90)
            / count(u.active_users) FILTER (WHERE u.date >= s.snapshot_date - 90) AS active_users_90d,
        sum(u.active_users) / count(u.active_users) AS active_users_180d,
        sum(u.active_users) FILTER (WHERE u.date >= s.snapshot_date - $usage_window_days)
            / count(u.active_users) FILTER (WHERE u.date >= s.snapshot_date - $usage_window_days)
            AS recent_active_users,
        sum(u.events) FILTER (WHERE u.date >= s.snapshot_date - 90) AS events_90d
    FROM usage AS u
    JOIN snapshots AS s ON u.date < s.snapshot_date AND u.date >= s.snapshot_date - 180
    JOIN planned_accounts AS k ON k.snapshot_date = s.snapshot_date AND k.account_id = u.account_id
    GROUP BY s.snapshot_date, u.account_id, u.product_id
)

SELECT
    *,
    CASE WHEN active_users_180d > 0 THEN coalesce(active_users_30d, 0) / active_users_180d - 1 END
        AS usage_trend,
    CASE WHEN active_users_180d > 0 THEN coalesce(active_users_90d, 0) / active_users_180d - 1 END
        AS usage_trend_90d
FROM windowed
ORDER BY snapshot_date, account_id, product_id
