-- attainment: one row per expansion rep of the tracked plan ($plan_id) x period of the plan year that has
-- started by `through`: each month, each quarter (plan months 1-3, 4-6, ...) and the year to
-- date. Key: (rep_id, period, period_index). period_start / period_end: [start, end).
-- phased_quota = quota x the period's phasing weight (quota_phasing); for the year to date it is
-- quota x the weights of the months elapsed, the current month pro rata by days up to `through`.
-- A month or quarter still running (complete = false) is measured against its full phased quota;
-- the year to date is complete once `through` is the plan year's last day.
-- credited_arr = the rep's expansion credits (rep_credit) closed in the period up to `through`;
-- attainment = credited_arr / phased_quota, NULL when phased_quota is 0. Money: annual ARR.
WITH reps AS (
    SELECT rep_id, name, segment, quota FROM plans.quotas WHERE plan_id = $plan_id
),

months AS (
    SELECT month_index, month_start, month_end, weight FROM work.quota_phasing
),

credits AS (
    SELECT rep_id, close_date, rep_credit FROM work.expansion_credits
),

elapsed AS (
    SELECT
        *,
        greatest(0, least(1,
            date_diff('day', month_start, least(month_end, $through::DATE + 1))
            / date_diff('day', month_start, month_end))) AS elapsed_share
    FROM months
),

periods AS (  -- the months' weights added in month order (compensated: fsum; docs/method.md)
    SELECT 'month' AS period, month_index AS period_index, month_start AS period_start,
           month_end AS period_end, month_end <= $through::DATE + 1 AS complete, weight
    FROM elapsed WHERE month_start <= $through
    UNION ALL
    SELECT 'quarter', (month_index - 1) // 3 + 1, min(month_start), max(month_end),
           max(month_end) <= $through::DATE + 1, list_aggregate(list(weight ORDER BY month_index), 'fsum')
    FROM elapsed GROUP BY (month_index - 1) // 3 + 1 HAVING min(month_start) <= $through
    UNION ALL
    SELECT 'year_to_date', 1, min(month_start), $through::DATE + 1, max(month_end) <= $through::DATE + 1,
           list_aggregate(list(weight * elapsed_share ORDER BY month_index), 'fsum')
    FROM elapsed
),

credited AS (
    SELECT r.rep_id, p.period, p.period_index,
        coalesce(CAST(sum(CAST(c.rep_credit AS DECIMAL(38, 6))) AS DOUBLE), 0) AS credited_arr  -- exact sum
    FROM reps AS r
    CROSS JOIN periods AS p
    LEFT JOIN credits AS c
      ON c.rep_id = r.rep_id AND c.close_date >= p.period_start AND c.close_date < p.period_end
    GROUP BY ALL
)

SELECT
    r.rep_id,
    r.name,
    r.segment,
    p.period,
    p.period_index,
    p.period_start,
    p.period_end,
    p.complete,
    r.quota,
    p.weight AS quota_share,
    r.quota * p.weight AS phased_quota,
    c.credited_arr,
    c.credited_arr / nullif(r.quota * p.weight, 0) AS attainment
FROM reps AS r
CROSS JOIN periods AS p
JOIN credited AS c USING (rep_id, period, period_index)
ORDER BY r.rep_id, list_position(['month', 'quarter', 'year_to_date'], p.period), p.period_index
