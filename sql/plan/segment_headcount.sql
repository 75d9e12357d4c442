-- segment_headcount: the expansion reps each segment needs at its book-size limits and at its target
-- EEV per rep, against the reps the plan has. Grain: segment (key), listed by ACV band.
-- accounts / eev = the segment's accounts and their EEV (annual money); reps / capacity = the plan's reps
-- in it and their capacity for the plan year (work.rep_plan, ramp included; 1 = a full book);
-- book_min / book_max / target_eev_per_rep = the segment's settings. In full-capacity reps:
-- reps_needed_at_book_max = ceil(accounts / book_max), the fewest that keep every book within book_max;
-- reps_allowed_at_book_min = floor(accounts / book_min), the most that still give every book book_min
-- (NULL when book_min is 0); reps_needed_at_target_eev = ceil(eev / target_eev_per_rep) (NULL without a
-- target); eev_per_capacity = eev / capacity. staffing = 'short' when capacity < reps_needed_at_book_max
-- (or, with a target, < reps_needed_at_target_eev), 'over' when capacity > reps_allowed_at_book_min,
-- else 'within'.
WITH bands AS (
    SELECT segment, min_acv, book_min, book_max, target_eev_per_rep
    FROM work.segment_bands
    WHERE segment <> 'self_serve'
),

accounts AS (
    -- exact sums (docs/method.md)
    SELECT segment, count(*) AS accounts, coalesce(CAST(sum(CAST(eev AS DECIMAL(38, 6))) AS DOUBLE), 0) AS eev
    FROM work.account_eev GROUP BY segment
),

reps AS (
    SELECT segment, count(*) AS reps, CAST(sum(CAST(capacity AS DECIMAL(38, 12))) AS DOUBLE) AS capacity
    FROM work.rep_plan GROUP BY segment
),

needs AS (
    SELECT
        b.segment,
        b.min_acv,
        coalesce(a.accounts, 0) AS accounts,
        coalesce(a.eev, 0) AS eev,
        coalesce(r.reps, 0) AS reps,
        coalesce(r.capacity, 0) AS capacity,
        b.book_min,
        b.book_max,
        b.target_eev_per_rep,
        CAST(ceil(coalesce(a.accounts, 0) / b.book_max) AS BIGINT) AS reps_needed_at_book_max,
        CASE WHEN b.book_min > 0 THEN CAST(floor(coalesce(a.accounts, 0) / b.book_min) AS BIGINT) END
            AS reps_allowed_at_book_min,
        CAST(ceil(coalesce(a.eev, 0) / b.target_eev_per_rep) AS BIGINT) AS reps_needed_at_target_eev
    FROM bands AS b
    LEFT JOIN accounts AS a USING (segment)
    LEFT JOIN reps AS r USING (segment)
)

SELECT
    segment,
    accounts,
    eev,
    reps,
    capacity,
    book_min,
    book_max,
    target_eev_per_rep,
    reps_needed_at_book_max,
    reps_allowed_at_book_min,
    reps_needed_at_target_eev,
    eev / nullif(capacity, 0) AS eev_per_capacity,
    CASE
        WHEN capacity < greatest(reps_needed_at_book_max, coalesce(reps_needed_at_target_eev, 0)) - 1e-9 THEN 'short'
        WHEN capacity > reps_allowed_at_book_min + 1e-9 THEN 'over'
        ELSE 'within'
    END AS staffing
FROM needs
ORDER BY min_acv, segment
