-- territory_balance: one row per expansion segment: how evenly its territories are balanced.
-- Key: segment. Per-rep balance is work.quotas' (one definition there: target_eev = the segment's
-- EEV x the rep's capacity / the segment's capacity; balance_deviation = owned_eev / target_eev - 1).
-- balance_cv = coefficient of variation of EEV per unit
-- of capacity across the segment's reps; max_min_ratio = highest / lowest EEV per unit of
-- capacity (null when a rep holds no EEV); share_within_tolerance / share_within_report_band =
-- share of reps whose |deviation| <= balance_tolerance / report_band; largest_deviation = the
-- largest |deviation|; accounts_moved / eev_moved = accounts taken from one rep and given to
-- another and their EEV; accounts_placed = new accounts given a first owner; method = solver;
-- anchors = anchor accounts of the segment (territories.anchor); reps_out_of_tolerance = reps
-- whose |deviation| > balance_tolerance, reps_out_because_of_anchor = those of them whose
-- out_of_tolerance_reason is 'anchor' (why and what would fix it: balance_diagnosis).
WITH reps AS (
    SELECT segment, rep_id, accounts, owned_eev, capacity, balance_deviation, anchors, out_of_tolerance_reason
    FROM work.quotas
),

moves AS (
    SELECT segment, from_rep_id, eev FROM work.territory_moves
),

methods AS (
    SELECT segment, method FROM work.territory_methods
),

per_capacity AS (
    SELECT
        segment,
        rep_id,
        accounts,
        owned_eev AS eev,
        owned_eev / capacity AS eev_per_capacity,
        balance_deviation AS deviation,
        anchors,
        out_of_tolerance_reason
    FROM reps
),

deviations AS (  -- the segment's mean EEV per capacity from an exact sum, each rep's squared relative deviation from it
    SELECT *, ((eev_per_capacity - mean) / nullif(mean, 0)) ** 2 AS squared_deviation
    FROM (
        SELECT *, CAST(sum(CAST(eev_per_capacity AS DECIMAL(38, 6))) OVER (PARTITION BY segment) AS DOUBLE)
            / count(*) OVER (PARTITION BY segment) AS mean
        FROM per_capacity
    )
),

balance AS (
    SELECT
        segment,
        count(*) AS reps,
        sum(accounts) AS accounts,
        CAST(sum(CAST(eev AS DECIMAL(38, 6))) AS DOUBLE) AS territory_eev,  -- exact sums (docs/method.md)
        coalesce(sqrt(CAST(sum(CAST(squared_deviation AS DECIMAL(38, 12))) AS DOUBLE) / count(*)), 0)
            AS balance_cv,  -- stddev_pop / mean, two passes
        max(eev_per_capacity) / nullif(min(eev_per_capacity), 0) AS max_min_ratio,
        avg(CAST(abs(deviation) <= $balance_tolerance + 1e-9 AS DOUBLE)) AS share_within_tolerance,
        avg(CAST(abs(deviation) <= $report_band + 1e-9 AS DOUBLE)) AS share_within_report_band,
        max(abs(deviation)) AS largest_deviation,
        CAST(sum(anchors) AS BIGINT) AS anchors,
        count(out_of_tolerance_reason) AS reps_out_of_tolerance,
        count(*) FILTER (WHERE out_of_tolerance_reason = 'anchor') AS reps_out_because_of_anchor
    FROM deviations
    GROUP BY segment, mean
),

moved AS (
    SELECT
        segment,
        count(*) FILTER (WHERE from_rep_id IS NOT NULL) AS accounts_moved,
        coalesce(CAST(sum(CAST(eev AS DECIMAL(38, 6))) FILTER (WHERE from_rep_id IS NOT NULL) AS DOUBLE), 0) AS eev_moved,
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
    coalesce(mv.accounts_placed, 0) AS accounts_placed,
    coalesce(b.anchors, 0) AS anchors,
    coalesce(b.reps_out_of_tolerance, 0) AS reps_out_of_tolerance,
    coalesce(b.reps_out_because_of_anchor, 0) AS reps_out_because_of_anchor
FROM methods AS m
LEFT JOIN balance AS b USING (segment)
LEFT JOIN moved AS mv USING (segment)
ORDER BY m.segment
