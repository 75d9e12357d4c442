-- quota_months: each rep's quota phased over the months of the plan year by the rep's capacity.
-- Grain: (rep_id, month_index), month_index 1-12 as work.rep_capacity_months. month_capacity = the
-- rep's capacity that month (ramp, leave and departure included, 0-1); capacity_share = month_capacity /
-- the rep's capacity summed over the year (the 12 shares sum to 1); quota = the rep's yearly quota
-- (work.quotas, annual money) x capacity_share in cents, the cents left by rounding on the rep's last
-- month with capacity, so the 12 months sum to the yearly quota exactly. A ramping rep's quota is
-- low in the first months and full once ramped; a rep on the team all year past the ramp gets 1/12 a
-- month.
WITH quotas AS (
    SELECT rep_id, segment, quota FROM work.quotas
),

capacity AS (
    SELECT rep_id, month_index, month_start, month_end, month_capacity FROM work.rep_capacity_months
),

years AS (  -- summed in month order: the same double on every run
    SELECT
        rep_id,
        list_sum(list(month_capacity ORDER BY month_index)) AS year_capacity,
        max(month_index) FILTER (WHERE month_capacity > 0) AS last_month
    FROM capacity
    GROUP BY rep_id
),

phased AS (
    SELECT
        c.rep_id,
        q.segment,
        c.month_index,
        c.month_start,
        c.month_end,
        c.month_capacity,
        c.month_capacity / y.year_capacity AS capacity_share,
        y.last_month,
        CAST(q.quota AS DECIMAL(18, 2)) AS year_quota,
        CAST(round(q.quota * c.month_capacity / y.year_capacity, 2) AS DECIMAL(18, 2)) AS rounded
    FROM capacity AS c
    JOIN quotas AS q USING (rep_id)
    JOIN years AS y USING (rep_id)
    WHERE y.year_capacity > 0
)

SELECT
    rep_id,
    segment,
    month_index,
    month_start,
    month_end,
    month_capacity,
    capacity_share,
    CASE
        WHEN month_index = last_month
            THEN year_quota - sum(rounded) FILTER (WHERE month_index <> last_month) OVER (PARTITION BY rep_id)
        ELSE rounded
    END AS quota
FROM phased
ORDER BY rep_id, month_index
