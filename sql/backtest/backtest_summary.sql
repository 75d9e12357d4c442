-- backtest_summary: how well each quota scheme of a past plan matched what was won afterwards.
-- Grain: (scheme, segment); segment 'all' = every rep. Over reps with a quota above 0:
--   share_attaining = share of reps whose actual >= quota (0-1);
--   predicted_share_attaining = the share the plan predicted: mean of the reps' p_attain (from
--                     the plan's Monte Carlo of the year), to set beside share_attaining;
--   attainment_cv   = coefficient of variation of attainment (stddev / mean; lower = fairer);
--   mape            = mean |forecast - actual| / actual over reps with actual > 0 (0-1+; for the
--                     eev scheme: how far territory EEV was from what the territory won);
--   forecast_to_actual = total forecast / total actual (1 = unbiased in total).
WITH results AS (
    SELECT * FROM main.backtest_results WHERE quota > 0
),

grouped AS (  -- each rep twice: in its segment and in 'all'
    SELECT *, segment AS summary_segment FROM results
    UNION ALL
    SELECT *, 'all' FROM results
),

means AS (  -- exact sums (docs/method.md)
    SELECT scheme, summary_segment,
        CAST(sum(CAST(attainment AS DECIMAL(38, 12))) AS DOUBLE) / count(*) AS mean_attainment
    FROM grouped
    GROUP BY scheme, summary_segment
)

SELECT  -- exact sums and means (DECIMAL): money in millionths, shares and ratios in trillionths
    min(g.scheme_order) AS scheme_order,
    g.scheme,
    g.summary_segment AS segment,
    count(*) AS reps,
    avg(CAST(g.attained AS DOUBLE)) AS share_attaining,
    CAST(avg(CAST(g.p_attain AS DECIMAL(38, 12))) AS DOUBLE) AS predicted_share_attaining,
    -- stddev_pop / mean, the second pass over the deviations from the exact mean
    sqrt(CAST(sum(CAST(((g.attainment - m.mean_attainment) / nullif(m.mean_attainment, 0)) ** 2 AS DECIMAL(38, 12)))
        AS DOUBLE) / count(*)) AS attainment_cv,
    CAST(avg(CAST(abs(g.forecast - g.actual) / g.actual AS DECIMAL(38, 12))) FILTER (WHERE g.actual > 0) AS DOUBLE)
        AS mape,
    count(*) FILTER (WHERE g.actual = 0) AS reps_without_wins,
    CAST(sum(CAST(g.quota AS DECIMAL(38, 6))) AS DOUBLE) AS total_quota,
    CAST(sum(CAST(g.forecast AS DECIMAL(38, 6))) AS DOUBLE) AS total_forecast,
    CAST(sum(CAST(g.actual AS DECIMAL(38, 6))) AS DOUBLE) AS total_actual,
    CAST(sum(CAST(g.forecast AS DECIMAL(38, 6))) / nullif(sum(CAST(g.actual AS DECIMAL(38, 6))), 0) AS DOUBLE)
        AS forecast_to_actual
FROM grouped AS g
JOIN means AS m USING (scheme, summary_segment)
GROUP BY g.scheme, g.summary_segment, m.mean_attainment
ORDER BY min(g.scheme_order), g.summary_segment = 'all' DESC, g.summary_segment
