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
)

SELECT
    min(scheme_order) AS scheme_order,
    scheme,
    coalesce(segment, 'all') AS segment,
    count(*) AS reps,
    avg(CAST(attained AS DOUBLE)) AS share_attaining,
    avg(p_attain) AS predicted_share_attaining,
    stddev_pop(attainment) / nullif(avg(attainment), 0) AS attainment_cv,
    avg(abs(forecast - actual) / actual) FILTER (WHERE actual > 0) AS mape,
    count(*) FILTER (WHERE actual = 0) AS reps_without_wins,
    sum(quota) AS total_quota,
    sum(forecast) AS total_forecast,
    sum(actual) AS total_actual,
    sum(forecast) / nullif(sum(actual), 0) AS forecast_to_actual
FROM results
GROUP BY GROUPING SETS ((scheme), (scheme, segment))
ORDER BY scheme_order, segment = 'all' DESC, segment
