-- backtest_results: a plan made as of a past date, against what its reps actually won afterwards.
-- Grain: (scheme, rep_id); one row per active expansion rep of the plan and quota scheme.
-- actual = expansion ARR won (opportunities of type expansion, stage won, close_date in
-- [as_of, as_of + backtest_months)) on the accounts of the rep's territory in that plan.
-- forecast: what the scheme expects of the rep; every scheme splits the same total per segment
-- (the segment's territory EEV), so only the split differs:
--   eev              the rep's territory EEV (the plan's own method);
--   flat             the segment total shared in proportion to rep capacity;
--   acv_proportional the segment total shared in proportion to the territory's ACV.
-- quota = factor x forecast (unrounded); attainment = actual / quota (NULL when quota is 0);
-- attained = attainment >= 1; p_attain = the plan's predicted probability that the rep attains
-- this quota: the share of the plan's simulated years (work.rep_booking_draws) whose bookings
-- >= quota (NULL when quota is 0). Money: annual ARR.
WITH quotas AS (
    SELECT rep_id, segment, capacity, factor, territory_eev FROM work.quotas
),

territories AS (
    SELECT account_id, rep_id FROM work.territories
),

draws AS (
    SELECT rep_id, bookings FROM work.rep_booking_draws
),

accounts AS (
    SELECT account_id, acv FROM work.account_eev
),

actual_wins AS (  -- exact sums (docs/method.md)
    SELECT account_id, CAST(sum(CAST(amount AS DECIMAL(38, 6))) AS DOUBLE) AS won
    FROM raw.opportunities
    WHERE type = 'expansion'
        AND stage = 'won'
        AND close_date >= CAST($as_of AS DATE)
        AND close_date < CAST(CAST($as_of AS DATE) + to_months($backtest_months) AS DATE)
    GROUP BY account_id
),

reps AS (  -- exact sums (docs/method.md)
    SELECT
        q.rep_id,
        q.segment,
        q.capacity,
        q.factor,
        q.territory_eev,
        coalesce(CAST(sum(CAST(a.acv AS DECIMAL(38, 6))) AS DOUBLE), 0) AS territory_acv,
        coalesce(CAST(sum(CAST(w.won AS DECIMAL(38, 6))) AS DOUBLE), 0) AS actual
    FROM quotas AS q
    LEFT JOIN territories AS t USING (rep_id)
    LEFT JOIN accounts AS a USING (account_id)
    LEFT JOIN actual_wins AS w USING (account_id)
    GROUP BY q.rep_id, q.segment, q.capacity, q.factor, q.territory_eev
),

segment_totals AS (  -- exact sums (docs/method.md)
    SELECT
        segment,
        CAST(sum(CAST(territory_eev AS DECIMAL(38, 6))) AS DOUBLE) AS eev,
        CAST(sum(CAST(capacity AS DECIMAL(38, 12))) AS DOUBLE) AS capacity,
        CAST(sum(CAST(territory_acv AS DECIMAL(38, 6))) AS DOUBLE) AS acv
    FROM reps
    GROUP BY segment
),

forecasts AS (
    SELECT 1 AS scheme_order, 'eev' AS scheme, r.*, r.territory_eev AS forecast
    FROM reps AS r
    UNION ALL
    SELECT 2, 'flat', r.*, coalesce(s.eev * r.capacity / nullif(s.capacity, 0), 0)
    FROM reps AS r JOIN segment_totals AS s USING (segment)
    UNION ALL
    SELECT 3, 'acv_proportional', r.*, coalesce(s.eev * r.territory_acv / nullif(s.acv, 0), 0)
    FROM reps AS r JOIN segment_totals AS s USING (segment)
),

predicted AS (
    SELECT f.scheme, f.rep_id, avg(CAST(d.bookings >= f.factor * f.forecast AS DOUBLE)) AS share_of_draws_attaining
    FROM forecasts AS f
    JOIN draws AS d USING (rep_id)
    GROUP BY f.scheme, f.rep_id
)

SELECT
    scheme_order,
    scheme,
    rep_id,
    segment,
    capacity,
    territory_eev,
    territory_acv,
    forecast,
    factor * forecast AS quota,
    actual,
    actual / nullif(factor * forecast, 0) AS attainment,
    actual >= factor * forecast AND factor * forecast > 0 AS attained,
    CASE WHEN factor * forecast > 0 THEN p.share_of_draws_attaining END AS p_attain
FROM forecasts
LEFT JOIN predicted AS p USING (scheme, rep_id)
ORDER BY scheme_order, rep_id
