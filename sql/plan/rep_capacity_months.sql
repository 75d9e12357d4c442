-- rep_capacity_months: the capacity of each active expansion rep in each month of the plan year.
-- Grain: (rep_id, month_index), month_index 1-12; plan month k runs [month_start, month_end) =
-- [as_of + (k-1) months, as_of + k months). capacity = the reps table's capacity (0-1 of a full book).
-- available_share = share of the month's days the rep is on the team and not on leave: from
-- start_date (inclusive) to end_date (the departure, exclusive), less [leave_start, leave_end); 1 when
-- the reps table gives no dates. tenure_months = whole months from start_date to the later of
-- month_start and start_date (NULL without a start_date); ramp_factor = ramp_schedule[tenure_months /
-- ramp_period_months + 1] (capacity.ramp_schedule: the share of capacity in each ramp period of
-- tenure), 1 past the schedule or without a start_date. month_capacity = capacity x ramp_factor x
-- available_share. plan_capacity = capacity x the mean of ramp_factor x available_share over the 12
-- months: the rep's capacity for the year, which work.rep_plan, the territories and the quotas use
-- (= capacity for a rep on the team all year and past the ramp).
WITH reps AS (
    SELECT rep_id, capacity, start_date, end_date, leave_start, leave_end
    FROM raw.reps
    WHERE role = 'expansion_rep' AND active
),

months AS (
    SELECT
        k AS month_index,
        CAST($as_of::DATE + to_months(CAST(k - 1 AS INTEGER)) AS DATE) AS month_start,
        CAST($as_of::DATE + to_months(CAST(k AS INTEGER)) AS DATE) AS month_end
    FROM range(1, 13) AS r(k)
),

rep_months AS (
    SELECT
        r.*,
        m.month_index,
        m.month_start,
        m.month_end,
        datediff('day', m.month_start, m.month_end) AS month_days,
        -- days on the team: [greatest(month_start, start_date), least(month_end, end_date))
        greatest(datediff('day', greatest(m.month_start, coalesce(r.start_date, m.month_start)),
                          least(m.month_end, coalesce(r.end_date, m.month_end))), 0) AS team_days,
        -- days of leave inside those: the leave's overlap with the month and the time on the team
        CASE WHEN r.leave_start IS NOT NULL THEN
            greatest(datediff('day',
                              greatest(m.month_start, coalesce(r.start_date, m.month_start), r.leave_start),
                              least(m.month_end, coalesce(r.end_date, m.month_end), r.leave_end)), 0)
        ELSE 0 END AS leave_days,
        CASE WHEN r.start_date IS NOT NULL THEN
            12 * (year(greatest(m.month_start, r.start_date)) - year(r.start_date))
                + month(greatest(m.month_start, r.start_date)) - month(r.start_date)
                - CASE WHEN day(greatest(m.month_start, r.start_date)) < day(r.start_date) THEN 1 ELSE 0 END
        END AS tenure_months
    FROM reps AS r
    CROSS JOIN months AS m
),

shares AS (
    SELECT
        *,
        CAST(team_days - leave_days AS DOUBLE) / month_days AS available_share,
        coalesce(CAST($ramp_schedule AS DOUBLE[])[tenure_months // $ramp_period_months + 1], 1.0) AS ramp_factor
    FROM rep_months
),

years AS (  -- summed in month order: the same double on every run
    SELECT rep_id, list_sum(list(ramp_factor * available_share ORDER BY month_index)) AS available_months
    FROM shares
    GROUP BY rep_id
)

SELECT
    rep_id,
    month_index,
    month_start,
    month_end,
    capacity,
    tenure_months,
    ramp_factor,
    available_share,
    capacity * ramp_factor * available_share AS month_capacity,
    capacity * (y.available_months / 12) AS plan_capacity
FROM shares
JOIN years AS y USING (rep_id)
ORDER BY rep_id, month_index
