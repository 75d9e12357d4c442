-- amount_spread: how far a won item's amount strays from the amount the plan expects of it, per kind.
-- Grain: kind (every kind of the plan's whitespace items). The forecast draws a won item's amount
-- from a gamma law with mean = its expected amount (forecast_items.amount_if_won) and coefficient
-- of variation amount_cv (stddev / mean; 0 = exactly the expected amount).
-- won_items = won items of the training snapshots (label 1, won_amount > 0, whitespace > 0);
-- learned_cv = stddev_samp / mean over them of won_amount / whitespace. The expected amount is
-- whitespace x capture and capture is one number per kind, so this is the CV of won amount /
-- expected amount. amount_cv = forecast.amount_cv when it is a number (basis 'setting'), else
-- learned_cv when won_items >= amount_cv_min_wins (basis 'learned'), else amount_cv_fallback
-- (basis 'fallback').
WITH plan_kinds AS (
    SELECT DISTINCT kind FROM work.scored_whitespace
),

wins AS (
    SELECT kind, won_amount / whitespace AS won_to_whitespace
    FROM work.item_features
    WHERE role = 'train' AND label = 1 AND won_amount > 0 AND whitespace > 0
),

means AS (  -- exact sums (docs/method.md)
    SELECT kind, count(*) AS won_items,
        CAST(sum(CAST(won_to_whitespace AS DECIMAL(38, 12))) AS DOUBLE) / count(*) AS mean
    FROM wins
    GROUP BY kind
),

learned AS (  -- stddev_samp / mean, the second pass over the deviations from the exact mean
    SELECT
        kind,
        m.won_items,
        sqrt(CAST(sum(CAST(((w.won_to_whitespace - m.mean) / m.mean) ** 2 AS DECIMAL(38, 12))) AS DOUBLE)
            / nullif(m.won_items - 1, 0)) AS learned_cv
    FROM wins AS w
    JOIN means AS m USING (kind)
    GROUP BY kind, m.won_items, m.mean
),

chosen AS (
    SELECT
        k.kind,
        coalesce(l.won_items, 0) AS won_items,
        l.learned_cv,
        CASE
            WHEN CAST($amount_cv AS DOUBLE) IS NOT NULL THEN 'setting'
            WHEN coalesce(l.won_items, 0) >= $amount_cv_min_wins AND l.learned_cv IS NOT NULL THEN 'learned'
            ELSE 'fallback'
        END AS basis
    FROM plan_kinds AS k
    LEFT JOIN learned AS l USING (kind)
)

SELECT
    kind,
    won_items,
    learned_cv,
    CASE basis
        WHEN 'setting' THEN CAST($amount_cv AS DOUBLE)
        WHEN 'learned' THEN learned_cv
        ELSE CAST($amount_cv_fallback AS DOUBLE)
    END AS amount_cv,
    basis
FROM chosen
ORDER BY kind
