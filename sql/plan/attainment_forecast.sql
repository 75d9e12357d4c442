-- attainment_forecast: one row per active expansion rep of the plan: the predicted distribution of
-- the rep's bookings and attainment over the plan year. Key: rep_id.
-- From the Monte Carlo of the year (rep_booking_draws: each item of the territory won with its
-- p_close, booking a gamma-distributed amount around its expected amount, times the rep's share):
--   expected_bookings = mean over draws (= territory_eev up to Monte Carlo error; annual money);
--   p10/p50/p90_bookings = 10th / 50th / 90th percentile over draws (annual money);
--   p10/p50/p90_attainment = those bookings / quota (fractions; NULL when quota is 0);
--   p_attain = share of draws with bookings >= quota, the probability that the rep attains
--              (0-1; NULL when quota is 0). Quota is the plan's rounded quota (work.quotas).
WITH quotas AS (
    SELECT rep_id, name, segment, factor, territory_eev, quota FROM work.quotas
),

draws AS (
    SELECT rep_id, bookings FROM work.rep_booking_draws
),

distribution AS (
    SELECT
        d.rep_id,
        count(*) AS draws,
        CAST(avg(CAST(d.bookings AS DECIMAL(38, 6))) AS DOUBLE) AS expected_bookings,  -- exact sum: any row order
        quantile_cont(d.bookings, 0.1) AS p10_bookings,
        quantile_cont(d.bookings, 0.5) AS p50_bookings,
        quantile_cont(d.bookings, 0.9) AS p90_bookings,
        avg(CAST(d.bookings >= q.quota AS DOUBLE)) AS share_of_draws_attaining
    FROM draws AS d
    JOIN quotas AS q USING (rep_id)
    GROUP BY d.rep_id
)

SELECT
    q.rep_id,
    q.name,
    q.segment,
    q.factor,
    q.territory_eev,
    q.quota,
    d.draws,
    d.expected_bookings,
    d.p10_bookings,
    d.p50_bookings,
    d.p90_bookings,
    d.p10_bookings / nullif(q.quota, 0) AS p10_attainment,
    d.p50_bookings / nullif(q.quota, 0) AS p50_attainment,
    d.p90_bookings / nullif(q.quota, 0) AS p90_attainment,
    CASE WHEN q.quota > 0 THEN d.share_of_draws_attaining END AS p_attain
FROM quotas AS q
JOIN distribution AS d USING (rep_id)
ORDER BY q.rep_id
