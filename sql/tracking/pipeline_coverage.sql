-- pipeline_coverage: one row per expansion rep of the tracked plan ($plan_id), as of `through`. Key: rep_id.
-- Money: annual ARR; coverage: a ratio (3.0 = 3x).
-- The coverage window [window_start, window_end) runs from the day after `through` to the end of
-- the plan quarter that day falls in plus coverage_next_quarters quarters, clipped to the plan
-- year (empty once `through` is the plan year's last day). window_quota = the quota phased over
-- the window: quota x the quota_phasing weight of each month, pro rata by the month's days in it.
-- credited_ytd / ytd_quota = the rep's credits and phased quota for the year to date (attainment);
-- ahead_of_pace = credited_ytd >= ytd_quota; remaining_quota = greatest(quota - credited_ytd, 0).
-- open_deals / open_pipeline = the rep's open expansion deals on `through` (amount);
-- qualified_pipeline = what the qualified ones would credit the rep if they closed (amount x
-- rep_share of their rule, so add-on and CSM-closed deals add 0); window_deals / window_pipeline =
-- the qualified ones whose expected_close_date (expansion_deals) falls in the window.
-- coverage = window_pipeline / window_quota (NULL when window_quota is 0). flag, first that holds:
-- 'no_quota' (quota 0), 'quota_met' (credited_ytd >= quota), 'no_window_quota' (window_quota 0),
-- 'healthy' (coverage >= coverage_warning), 'warning' (>= coverage_urgent), 'ahead_of_pace' (below
-- coverage_urgent but ahead of pace: never urgent), else 'urgent'. The thresholds are inclusive:
-- with the defaults exactly 3x is healthy and exactly 2x a warning.
-- won_deals, lost_deals, opp_to_close_rate = won, lost and won / (won + lost) of the rep's
-- expansion deals closed in the plan year so far (the rate NULL without any); discovery-to-opportunity conversion needs discovery stages the input
-- contract does not have (only open / won / lost), so it is not computed.
WITH reps AS (
    SELECT rep_id, name, segment, quota FROM plans.quotas WHERE plan_id = $plan_id
),

months AS (
    SELECT month_index, month_start, month_end, weight FROM work.quota_phasing
),

year_to_date AS (
    SELECT rep_id, credited_arr AS credited_ytd, phased_quota AS ytd_quota
    FROM work.attainment
    WHERE period = 'year_to_date'
),

deals AS (
    SELECT rep_id, status, qualified, expected_close_date, amount * rep_share AS rep_credit, amount
    FROM work.expansion_deals
),

first_month AS (  -- the plan month holding the window's first day (none after the plan year)
    SELECT month_index FROM months
    WHERE month_start <= $through::DATE + 1 AND $through::DATE + 1 < month_end
),

coverage_window AS (
    SELECT
        $through::DATE + 1 AS window_start,
        coalesce(max(m.month_end), $through::DATE + 1) AS window_end
    FROM first_month AS f
    JOIN months AS m ON (m.month_index - 1) // 3 <= (f.month_index - 1) // 3 + $coverage_next_quarters
),

window_share AS (  -- share of the yearly quota phased over the window (fsum in month order, docs/method.md)
    SELECT
        w.window_start,
        w.window_end,
        coalesce(list_aggregate(list(m.weight * greatest(0, date_diff('day', greatest(m.month_start, w.window_start),
                                                                      least(m.month_end, w.window_end)))
                                     / date_diff('day', m.month_start, m.month_end) ORDER BY m.month_index), 'fsum'),
                 0) AS share
    FROM coverage_window AS w
    LEFT JOIN months AS m ON m.month_end > w.window_start AND m.month_start < w.window_end
    GROUP BY ALL
),

by_rep AS (  -- exact sums (docs/method.md)
    SELECT
        d.rep_id,
        count(*) FILTER (WHERE d.status = 'open') AS open_deals,
        coalesce(CAST(sum(CAST(d.amount AS DECIMAL(38, 6))) FILTER (WHERE d.status = 'open') AS DOUBLE), 0) AS open_pipeline,
        coalesce(CAST(sum(CAST(d.rep_credit AS DECIMAL(38, 6))) FILTER (WHERE d.qualified) AS DOUBLE), 0) AS qualified_pipeline,
        count(*) FILTER (WHERE d.qualified AND in_window) AS window_deals,
        coalesce(CAST(sum(CAST(d.rep_credit AS DECIMAL(38, 6))) FILTER (WHERE d.qualified AND in_window) AS DOUBLE), 0) AS window_pipeline,
        count(*) FILTER (WHERE d.status = 'won') AS won_deals,
        count(*) FILTER (WHERE d.status = 'lost') AS lost_deals
    FROM (
        SELECT d.*, d.expected_close_date >= w.window_start AND d.expected_close_date < w.window_end AS in_window
        FROM deals AS d
        CROSS JOIN coverage_window AS w
    ) AS d
    GROUP BY d.rep_id
),

measured AS (
    SELECT
        r.rep_id, r.name, r.segment, r.quota,
        coalesce(y.credited_ytd, 0) AS credited_ytd,
        coalesce(y.ytd_quota, 0) AS ytd_quota,
        coalesce(y.credited_ytd, 0) >= coalesce(y.ytd_quota, 0) AS ahead_of_pace,
        greatest(r.quota - coalesce(y.credited_ytd, 0), 0) AS remaining_quota,
        s.window_start,
        s.window_end,
        r.quota * s.share AS window_quota,
        coalesce(b.open_deals, 0) AS open_deals,
        coalesce(b.open_pipeline, 0) AS open_pipeline,
        coalesce(b.qualified_pipeline, 0) AS qualified_pipeline,
        coalesce(b.window_deals, 0) AS window_deals,
        coalesce(b.window_pipeline, 0) AS window_pipeline,
        coalesce(b.won_deals, 0) AS won_deals,
        coalesce(b.lost_deals, 0) AS lost_deals
    FROM reps AS r
    CROSS JOIN window_share AS s
    LEFT JOIN year_to_date AS y USING (rep_id)
    LEFT JOIN by_rep AS b USING (rep_id)
),

covered AS (
    SELECT *, window_pipeline / nullif(window_quota, 0) AS coverage FROM measured
)

SELECT
    rep_id, name, segment, quota, credited_ytd, ytd_quota, ahead_of_pace, remaining_quota,
    window_start, window_end, window_quota, open_deals, open_pipeline, qualified_pipeline,
    window_deals, window_pipeline, coverage,
    CASE
        WHEN quota <= 0 THEN 'no_quota'
        WHEN credited_ytd >= quota THEN 'quota_met'
        WHEN window_quota <= 0 THEN 'no_window_quota'
        WHEN coverage >= $coverage_warning THEN 'healthy'
        WHEN coverage >= $coverage_urgent THEN 'warning'
        WHEN ahead_of_pace THEN 'ahead_of_pace'
        ELSE 'urgent'
    END AS flag,
    won_deals,
    lost_deals,
    won_deals / nullif(won_deals + lost_deals, 0) AS opp_to_close_rate
FROM covered
ORDER BY rep_id
