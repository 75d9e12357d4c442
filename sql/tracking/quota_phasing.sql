-- quota_phasing: one row per month of the plan year (month_index 1-12).
-- Key: month_index. Plan month k runs [month_start, month_end) = [plan_start + (k-1) months,
-- plan_start + k months). weight = the month's share of the yearly quota (the 12 weights sum
-- to 1): 1/12 each when phasing = 'flat'; when 'seasonal', the month's share of won expansion
-- ARR over the phasing_history_years before plan_start (same plan month of each past year),
-- falling back to flat when that history has no bookings. basis says which was used.
WITH opportunities AS (
    SELECT close_date, amount FROM raw.opportunities
    WHERE type = 'expansion' AND stage = 'won'
),

months AS (
    SELECT
        k AS month_index,
        CAST($plan_start::DATE + to_months(CAST(k - 1 AS INTEGER)) AS DATE) AS month_start,
        CAST($plan_start::DATE + to_months(CAST(k AS INTEGER)) AS DATE) AS month_end
    FROM range(1, 13) AS r(k)
),

history AS (
    SELECT
        -- whole plan months between plan_start and the close date, folded onto the plan year
        12 * (year(close_date) - year($plan_start::DATE)) + month(close_date) - month($plan_start::DATE)
            - CASE WHEN day(close_date) < day($plan_start::DATE) THEN 1 ELSE 0 END AS months_from_start,
        amount
    FROM opportunities
    WHERE close_date >= $plan_start::DATE - to_years(CAST($phasing_history_years AS INTEGER))
      AND close_date < $plan_start::DATE
),

seasonal AS (  -- exact sums (docs/method.md)
    SELECT (months_from_start % 12 + 12) % 12 + 1 AS month_index,
        CAST(sum(CAST(amount AS DECIMAL(38, 6))) AS DOUBLE) AS booked
    FROM history
    GROUP BY 1
),

booked_total AS (
    SELECT coalesce(CAST(sum(CAST(booked AS DECIMAL(38, 6))) AS DOUBLE), 0) AS total FROM seasonal
)

SELECT
    m.month_index,
    m.month_start,
    m.month_end,
    CASE
        WHEN $phasing = 'seasonal' AND t.total > 0 THEN coalesce(s.booked, 0) / t.total
        ELSE 1.0 / 12
    END AS weight,
    CASE
        WHEN $phasing = 'flat' THEN 'flat'
        WHEN t.total > 0 THEN 'seasonal'
        ELSE 'flat (no expansion bookings in the history)'
    END AS basis
FROM months AS m
CROSS JOIN booked_total AS t
LEFT JOIN seasonal AS s USING (month_index)
ORDER BY m.month_index
