-- territory_balance: one row per expansion segment: how evenly its territories are balanced.
-- Key: segment. A rep's target = the segment's EEV x the rep's capacity / the segment's capacity;
-- deviation = territory EEV / target - 1. balance_cv = coefficient of variation of EEV per unit
-- of capacity across the segment's reps; max_min_ratio = highest / lowest EEV per unit of
-- capacity (null when a rep holds no EEV); share_within_tolerance / share_within_report_band =
-- share of reps whose |deviation| <= balance_tolerance / report_band; largest_deviation = the
-- largest |deviation|; accounts_moved / eev_moved = accounts taken from one rep and given to
-- another and their EEV; accounts_placed = new accounts given a first owner; method = solver.
WITH reps AS (
    SELECT rep_id, segment, capacity FROM work.rep_plan
),

territories AS (
    SELECT account_id, segment, rep_id FROM work.territories
),

accounts AS (
    SELECT account_id, eev FROM work.account_eev
),

moves AS (
    SELECT segment, from_rep_id, eev FROM work.territory_moves
),

methods AS (
    SELECT segment, method FROM work.territory_methods
),

held AS (
    SELECT t.rep_id, count(*) AS accounts, sum(a.eev) AS eev
    FROM territories AS t
    JOIN accounts AS a USING (account_id)
    GROUP BY t.rep_id
),

per_rep AS (
    SELECT
        r.segment,
        r.rep_id,
        coalesce(h.accounts, 0) AS accounts,
        coalesce(h.eev, 0) AS eev,
        coalesce(h.eev, 0) / r.capacity AS eev_per_capacity,
        sum(coalesce(h.eev, 0)) OVER (PARTITION BY r.segment) * r.capacity
            / sum(r.capacity) OVER (PARTITION BY r.segment) AS target
    FROM reps AS r
    LEFT JOIN held AS h USING (rep_id)
),

deviations AS (
    SELECT *, CASE WHEN target > 0 THEN eev / target - 1 ELSE 0 END AS deviation FROM per_rep
),

balance AS (
    SELECT
        segment,
        count(*) AS reps,
        sum(accounts) AS accounts,
        sum(eev) AS territory_eev,
        coalesce(stddev_pop(eev_per_capacity) / nullif(avg(eev_per_capacity), 0), 0) AS balance_cv,
        max(eev_per_capacity) / nullif(min(eev_per_capacity), 0) AS max_min_ratio,
        avg(CAST(abs(deviation) <= $balance_tolerance + 1e-9 AS DOUBLE)) AS share_within_tolerance,
        avg(CAST(abs(deviation) <= $report_band + 1e-9 AS DOUBLE)) AS share_within_report_band,
        max(abs(deviation)) AS largest_deviation
    FROM deviations
    GROUP BY segment
),

moved AS (
    SELECT
        segment,
        count(*) FILTER (WHERE from_rep_id IS NOT NULL) AS accounts_moved,
        coalesce(sum(eev) FILTER (WHERE from_rep_id IS NOT NULL), 0) AS eev_moved,
        count(*) FILTER (WHERE from_rep_id IS NULL) AS accounts_placed
    FROM moves
    GROUP BY segment
)

SELECT
    m.segment,
    m.method,
    coalesce(b.reps, 0) AS reps,
    coalesce(b.accounts, 0) AS accounts,
    coalesce(b.territory_eev, 0) AS territory_eev,
    b.balance_cv,
    b.max_min_ratio,
    b.share_within_tolerance,
    b.share_within_report_band,
    b.largest_deviation,
    coalesce(mv.accounts_moved, 0) AS accounts_moved,
    coalesce(mv.eev_moved, 0) AS eev_moved,
    coalesce(mv.accounts_placed, 0) AS accounts_placed
FROM methods AS m
LEFT JOIN balance AS b USING (segment)
LEFT JOIN moved AS mv USING (segment)
ORDER BY m.segment
