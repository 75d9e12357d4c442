-- quota_history: each rep's, segment's and the whole plan's quota next to the expansion ARR won
-- in the 12 months before the plan date on the same accounts: the comparison a CRO makes first.
-- Grain: one row per level x key. level = 'rep' (key = rep_id), 'segment' (key = segment) or
-- 'plan' (key = 'all'); segment is null on the plan row. trailing_bookings = the amount of the
-- won expansion opportunities (raw.opportunities: type expansion, stage won) closed in
-- [as_of - 12 months, as_of) on the accounts the rep / segment holds in this plan's territories
-- (renewals and new logos never count). quota_to_bookings = quota / trailing_bookings (null when
-- nothing was won). company_target = territory.company_target on the plan row (null when not set),
-- quota_to_target = quota / company_target. Money: annual ARR.
WITH won AS (  -- exact sums (docs/method.md)
    SELECT account_id, CAST(sum(CAST(amount AS DECIMAL(38, 6))) AS DOUBLE) AS bookings
    FROM raw.opportunities
    WHERE type = 'expansion' AND stage = 'won'
      AND close_date >= $as_of::DATE - INTERVAL 12 MONTH AND close_date < $as_of::DATE
    GROUP BY account_id
),

held AS (
    SELECT t.rep_id, coalesce(w.bookings, 0) AS bookings
    FROM work.territories AS t
    LEFT JOIN won AS w USING (account_id)
),

reps AS (
    SELECT q.rep_id, q.segment, q.quota,
        coalesce(CAST(sum(CAST(h.bookings AS DECIMAL(38, 6))) AS DOUBLE), 0) AS trailing_bookings
    FROM work.quotas AS q
    LEFT JOIN held AS h USING (rep_id)
    GROUP BY ALL
),

levels AS (  -- exact sums (docs/method.md)
    SELECT 'rep' AS level, rep_id AS key, segment, quota, trailing_bookings FROM reps
    UNION ALL
    SELECT 'segment', segment, segment, CAST(sum(CAST(quota AS DECIMAL(38, 6))) AS DOUBLE),
        CAST(sum(CAST(trailing_bookings AS DECIMAL(38, 6))) AS DOUBLE)
    FROM reps GROUP BY segment
    UNION ALL
    SELECT 'plan', 'all', NULL, coalesce(CAST(sum(CAST(quota AS DECIMAL(38, 6))) AS DOUBLE), 0),
        coalesce(CAST(sum(CAST(trailing_bookings AS DECIMAL(38, 6))) AS DOUBLE), 0)
    FROM reps
)

SELECT
    level,
    key,
    segment,
    quota,
    trailing_bookings,
    CASE WHEN trailing_bookings > 0 THEN quota / trailing_bookings END AS quota_to_bookings,
    CASE WHEN level = 'plan' THEN $company_target::DOUBLE END AS company_target,
    CASE WHEN level = 'plan' THEN quota / $company_target::DOUBLE END AS quota_to_target
FROM levels
ORDER BY list_position(['plan', 'segment', 'rep'], level), key
