-- quota_factors: one row per expansion segment: the quota factor the plan uses, how it was
-- chosen and the share of reps it predicts to attain. Key: segment (listed by ACV band).
-- From the Monte Carlo of the year (rep_booking_draws) over the segment's reps with territory
-- EEV > 0 (reps): a rep attains in a draw when its simulated bookings >= factor x its territory
-- EEV, i.e. when ratio = bookings / territory EEV >= factor (quota rounding left aside).
--   target_share    = quota.target_attainment_share (0-1);
--   target_factor   = the highest factor whose predicted share attaining is at least target_share:
--                     the ceil(target_share x n)-th largest ratio of the segment's n rep-draws
--                     (NULL without reps); may lie outside 0.60-0.75;
--   factor          = the setting's quota_factor (method 'setting'), or for 'auto' (method 'auto')
--                     target_factor kept inside [quota_factor_min, quota_factor_max] (the lowest
--                     factor when there is nothing to simulate); note says which case applied;
--   attaining_share = predicted share of reps attaining at factor (mean over draws = mean of the
--                     reps' P(attain)); p10_attaining_share / p90_attaining_share = its 10th / 90th
--                     percentile over draws (the luck of one year);
--   attainment_cv   = predicted spread of attainment across the segment's reps: the mean over draws
--                     of stddev_pop / mean of attainment (independent of the factor);
--   reps, draws     = the reps simulated (territory EEV > 0) and the simulated years.
WITH settings AS (
    SELECT segment, min_acv, quota_factor AS fixed_factor FROM work.segment_bands WHERE segment <> 'self_serve'
),

reps AS (
    SELECT rep_id, segment FROM work.rep_plan
),

territory AS (
    SELECT rep_id, CAST(sum(CAST(eev_share AS DECIMAL(38, 6))) AS DOUBLE) AS territory_eev  -- exact sum (docs/method.md)
    FROM work.territory_shares GROUP BY rep_id
),

draws AS (
    SELECT rep_id, draw, bookings FROM work.rep_booking_draws
),

ratios AS (
    SELECT r.segment, d.rep_id, d.draw, d.bookings / t.territory_eev AS ratio
    FROM draws AS d
    JOIN reps AS r USING (rep_id)
    JOIN territory AS t USING (rep_id)
    WHERE t.territory_eev > 0
),

ranked AS (
    SELECT
        segment,
        ratio,
        row_number() OVER (PARTITION BY segment ORDER BY ratio DESC) AS position,
        count(*) OVER (PARTITION BY segment) AS rep_draws
    FROM ratios
),

reaching AS (
    SELECT segment, max(ratio) AS target_factor
    FROM ranked
    WHERE position = CAST(ceil(CAST($target_attainment_share AS DOUBLE) * rep_draws) AS BIGINT)
    GROUP BY segment
),

resolved AS (
    SELECT
        s.segment,
        s.min_acv,
        s.fixed_factor,
        r.target_factor,
        coalesce(
            s.fixed_factor,
            least(greatest(coalesce(r.target_factor, $quota_factor_min), $quota_factor_min), $quota_factor_max)
        ) AS factor,
        CASE
            WHEN s.fixed_factor IS NOT NULL THEN 'quota_factor set in the settings'
            WHEN r.target_factor IS NULL THEN 'auto: no rep with territory EEV to simulate, lowest factor of the range'
            WHEN r.target_factor < $quota_factor_min THEN 'auto: target share not reached inside the range, lowest factor'
            WHEN r.target_factor > $quota_factor_max THEN 'auto: target share exceeded at the highest factor of the range'
            ELSE 'auto: highest factor reaching the target share'
        END AS note
    FROM settings AS s
    LEFT JOIN reaching AS r USING (segment)
),

per_draw AS (  -- exact sums (docs/method.md)
    SELECT
        x.segment,
        x.draw,
        count(*) AS reps,
        count(*) FILTER (WHERE x.ratio >= f.factor) AS attaining,
        CAST(sum(CAST(x.ratio AS DECIMAL(38, 12))) AS DOUBLE) / count(*) AS mean
    FROM ratios AS x
    JOIN resolved AS f USING (segment)
    GROUP BY x.segment, x.draw
),

draw_figures AS (  -- stddev_pop / mean, the second pass over the deviations from the exact mean
    SELECT
        p.segment,
        p.reps,
        p.attaining,
        p.attaining / p.reps AS attaining_share,
        sqrt(CAST(sum(CAST(((x.ratio - p.mean) / nullif(p.mean, 0)) ** 2 AS DECIMAL(38, 12))) AS DOUBLE) / p.reps)
            AS attainment_cv
    FROM ratios AS x
    JOIN per_draw AS p USING (segment, draw)
    GROUP BY p.segment, p.draw, p.reps, p.attaining, p.mean
),

predicted AS (
    SELECT
        segment,
        max(reps) AS reps,
        count(*) AS draws,
        sum(attaining) / sum(reps) AS attaining_share,
        quantile_cont(attaining_share, 0.1) AS p10_attaining_share,
        quantile_cont(attaining_share, 0.9) AS p90_attaining_share,
        CAST(avg(CAST(attainment_cv AS DECIMAL(38, 12))) AS DOUBLE) AS attainment_cv
    FROM draw_figures
    GROUP BY segment
)

SELECT
    f.segment,
    f.factor,
    CASE WHEN f.fixed_factor IS NULL THEN 'auto' ELSE 'setting' END AS method,
    f.note,
    CAST($target_attainment_share AS DOUBLE) AS target_share,
    f.target_factor,
    coalesce(p.reps, 0) AS reps,
    coalesce(p.draws, 0) AS draws,
    p.attaining_share,
    p.p10_attaining_share,
    p.p90_attaining_share,
    p.attainment_cv
FROM resolved AS f
LEFT JOIN predicted AS p USING (segment)
ORDER BY f.min_acv
