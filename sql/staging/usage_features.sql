-- usage_features: product usage before each snapshot date.
-- Grain: (snapshot_date, account_id, product_id); product_id is NULL for usage rows not tied
-- to a product (account-level usage). Averages of active_users over the 30, 90 and 180 days
-- before the snapshot; usage_trend = 30-day average / 180-day average - 1 and
-- usage_trend_90d = 90-day average / 180-day average - 1 (0 = flat; NULL without usage).
-- recent_active_users is the average over the window setting usage_window_days.
-- Over the year before the snapshot (dates in [snapshot - 12 months, snapshot)), for the model's
-- account growth and engagement features (sql/whitespace/item_features.sql):
--   active_users_90d_year_ago   the 90-day average of active users 12 months earlier
--   events_per_user_90d         events / active users, both summed over the 90 days
--   usage_slope_1y              yearly log growth of active users: the least-squares slope of
--                               round(ln(1 + active_users), 9) on the days before the snapshot over
--                               the year, per year of 365.25 days (from exact integer and DECIMAL
--                               sums, so the engines agree bit for bit); NULL
--                               when that year's usage spans fewer than growth_min_days days
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

windows AS (
    SELECT snapshot_date, CAST(snapshot_date - INTERVAL 12 MONTH AS DATE) AS year_ago FROM snapshots
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
        sum(u.active_users) FILTER (WHERE u.date >= s.snapshot_date - 180)
            / count(u.active_users) FILTER (WHERE u.date >= s.snapshot_date - 180) AS active_users_180d,
        sum(u.active_users) FILTER (WHERE u.date >= s.snapshot_date - $usage_window_days)
            / count(u.active_users) FILTER (WHERE u.date >= s.snapshot_date - $usage_window_days)
            AS recent_active_users,
        sum(u.events) FILTER (WHERE u.date >= s.snapshot_date - 90) AS events_90d,
        sum(u.active_users) FILTER (WHERE u.date >= s.snapshot_date - 90) AS active_user_days_90d,
        sum(u.active_users) FILTER (WHERE u.date < s.year_ago AND u.date >= s.year_ago - 90)
            / count(u.active_users) FILTER (WHERE u.date < s.year_ago AND u.date >= s.year_ago - 90)
            AS active_users_90d_year_ago,
        -- least-squares sums over the year: t = whole days before the snapshot, y = ln(1 + active users)
        count(u.active_users) FILTER (WHERE u.date >= s.year_ago) AS n_1y,
        sum(datediff('day', u.date, s.snapshot_date)) FILTER (WHERE u.date >= s.year_ago) AS t_1y,
        sum(datediff('day', u.date, s.snapshot_date) * datediff('day', u.date, s.snapshot_date))
            FILTER (WHERE u.date >= s.year_ago) AS tt_1y,
        -- ln(1 + active users) in whole billionths, cut with floor (the engines' round of a double
        -- can part at a half; floor of the same double cannot): exact integer sums
        sum(CAST(floor(ln(1 + u.active_users) * 1e9) AS BIGINT)) FILTER (WHERE u.date >= s.year_ago) AS y_1y,
        sum(datediff('day', u.date, s.snapshot_date) * CAST(floor(ln(1 + u.active_users) * 1e9) AS BIGINT))
            FILTER (WHERE u.date >= s.year_ago) AS ty_1y,
        datediff('day', min(u.date) FILTER (WHERE u.date >= s.year_ago),
            max(u.date) FILTER (WHERE u.date >= s.year_ago))
            AS span_days_1y
    FROM usage AS u
    JOIN windows AS s ON u.date < s.snapshot_date AND u.date >= s.year_ago - 90
    JOIN planned_accounts AS k ON k.snapshot_date = s.snapshot_date AND k.account_id = u.account_id
    GROUP BY s.snapshot_date, u.account_id, u.product_id
)

SELECT
    snapshot_date, account_id, product_id, active_users_30d, active_users_90d, active_users_180d,
    recent_active_users, events_90d, active_users_90d_year_ago,
    CAST(events_90d AS DOUBLE) / nullif(active_user_days_90d, 0) AS events_per_user_90d,
    CASE WHEN span_days_1y >= $growth_min_days AND n_1y * tt_1y > t_1y * t_1y
        -- the exact integer sums become doubles through their text (parsing is correctly rounded on
        -- every engine; DuckDB's cast of a 128-bit integer is not), then rounded like the other features
        THEN round(-365.25e-9 * CAST(CAST(n_1y * ty_1y - t_1y * y_1y AS VARCHAR) AS DOUBLE)
            / CAST(CAST(n_1y * tt_1y - t_1y * t_1y AS VARCHAR) AS DOUBLE), 9)
    END AS usage_slope_1y,
    CASE WHEN active_users_180d > 0 THEN coalesce(active_users_30d, 0) / active_users_180d - 1 END
        AS usage_trend,
    CASE WHEN active_users_180d > 0 THEN coalesce(active_users_90d, 0) / active_users_180d - 1 END
        AS usage_trend_90d
FROM windowed
WHERE active_users_180d IS NOT NULL  -- the products used in the 180 days before the snapshot
ORDER BY snapshot_date, account_id, product_id
