-- plan_review: every reason this plan should not be sent as it is. Grain: one row per reason x
-- segment (segment null for the whole plan). severity = 'review' (the plan is written but held:
-- not made current until acknowledged, unless review.accept_degraded) or 'warning' (reported only).
-- reps = how many reps the reason concerns (null when it is about the plan or a segment as a whole),
-- examples = up to five of their rep_ids; figure and threshold = the measured value and the limit
-- it breaks (shares 0-1, ratios, money); message = the one line the summary prints.
-- Reasons: no_quota (total quota 0), rep_without_accounts, rep_zero_quota (accounts but quota 0),
-- rep_holds_segment (one rep owns more than review.max_rep_share_of_segment of a segment's EEV),
-- segment_out_of_tolerance (more than review.max_share_reps_out_of_tolerance of a segment's reps
-- outside territory.balance_tolerance), more_reps_than_accounts, model_base_rates (the close
-- probability is the base rate), quota_vs_bookings (quota over trailing 12-month bookings,
-- quota_history, outside review.history_review_band: review; outside history_warning_band:
-- warning), no_trailing_bookings (quota set where nothing was won in the 12 months before).
WITH reps AS (
    SELECT rep_id, segment, accounts, quota, owned_eev, balance_deviation FROM work.quotas
),

segment_accounts AS (
    SELECT segment, count(*) AS accounts FROM work.territories GROUP BY segment
),

segments AS (
    SELECT
        r.segment,
        count(*) AS reps,
        CAST(sum(CAST(r.owned_eev AS DECIMAL(38, 6))) AS DOUBLE) AS eev,  -- exact sums (docs/method.md)
        count(*) FILTER (WHERE abs(r.balance_deviation) > $balance_tolerance + 1e-9) AS reps_out,
        any_value(coalesce(a.accounts, 0)) AS accounts
    FROM reps AS r
    LEFT JOIN segment_accounts AS a USING (segment)
    GROUP BY r.segment
),

history AS (
    SELECT level, segment, quota, trailing_bookings, quota_to_bookings
    FROM work.quota_history WHERE level IN ('plan', 'segment')
),

model AS (
    SELECT chosen, fallback_reason FROM work.model_info
),

rep_reasons AS (
    SELECT
        reason,
        segment,
        count(*) AS reps,
        string_agg(rep_id, ', ' ORDER BY rep_id) FILTER (WHERE rank <= 5) AS examples,
        max(figure) AS figure
    FROM (
        SELECT
            reason, segment, rep_id, figure,
            row_number() OVER (PARTITION BY reason, segment ORDER BY rep_id) AS rank
        FROM (
            SELECT 'rep_without_accounts' AS reason, segment, rep_id, NULL::DOUBLE AS figure
            FROM reps WHERE accounts = 0
            UNION ALL
            SELECT 'rep_zero_quota', segment, rep_id, NULL FROM reps WHERE accounts > 0 AND quota <= 0
            UNION ALL
            SELECT 'rep_holds_segment', r.segment, r.rep_id, r.owned_eev / s.eev
            FROM reps AS r JOIN segments AS s USING (segment)
            WHERE s.reps > 1 AND s.eev > 0 AND r.owned_eev / s.eev > $max_rep_share_of_segment
        )
    )
    GROUP BY reason, segment
),

reasons AS (
    SELECT 'no_quota' AS reason, 'review' AS severity, NULL AS segment, NULL::BIGINT AS reps, NULL AS examples,
           -- exact sums (docs/method.md)
           coalesce(CAST(sum(CAST(quota AS DECIMAL(38, 6))) AS DOUBLE), 0) AS figure, 0.0 AS threshold,
           format('total quota is {:,.0f}: no rep has anything to sell (no EEV, or no rep in the plan)',
                  coalesce(CAST(sum(CAST(quota AS DECIMAL(38, 6))) AS DOUBLE), 0)) AS message
    FROM reps HAVING coalesce(CAST(sum(CAST(quota AS DECIMAL(38, 6))) AS DOUBLE), 0) <= 0
    UNION ALL
    SELECT reason, 'review', r.segment, r.reps, r.examples, r.figure,
           CASE reason WHEN 'rep_holds_segment' THEN $max_rep_share_of_segment END,
           CASE reason
               WHEN 'rep_without_accounts' THEN format('{}: {} of {} reps have no accounts ({})',
                                                       r.segment, r.reps, s.reps, r.examples)
               WHEN 'rep_zero_quota' THEN format('{}: {} of {} reps have accounts but a quota of 0 ({})',
                                                 r.segment, r.reps, s.reps, r.examples)
               ELSE format('{}: {} holds {:.0f}% of the segment''s EEV (limit {:.0f}%)',
                           r.segment, r.examples, 100 * r.figure, 100 * $max_rep_share_of_segment)
           END
    FROM rep_reasons AS r JOIN segments AS s USING (segment)
    UNION ALL
    SELECT 'segment_out_of_tolerance', 'review', segment, reps_out, NULL, reps_out / reps,
           $max_share_reps_out_of_tolerance,
           format('{}: {} of {} reps ({:.0f}%) are outside the balance tolerance of +/-{:.0f}%',
                  segment, reps_out, reps, 100 * reps_out / reps, 100 * $balance_tolerance)
    FROM segments WHERE reps > 1 AND reps_out / reps > $max_share_reps_out_of_tolerance
    UNION ALL
    SELECT 'more_reps_than_accounts', 'review', segment, reps, NULL, reps, accounts,
           format('{}: {} reps for {} accounts', segment, reps, accounts)
    FROM segments WHERE reps > accounts
    UNION ALL
    SELECT 'model_base_rates', 'review', NULL, NULL, NULL, NULL, NULL,
           'close probabilities are base rates, not a model: ' || coalesce(fallback_reason, 'no model beat the base rate')
    FROM model WHERE chosen = 'base_rate' OR fallback_reason IS NOT NULL
    UNION ALL
    SELECT 'quota_vs_bookings',
           CASE WHEN quota_to_bookings < $history_review_band[1] OR quota_to_bookings > $history_review_band[2]
                THEN 'review' ELSE 'warning' END,
           segment, NULL, NULL, quota_to_bookings,
           CASE WHEN quota_to_bookings < $history_warning_band[1] THEN $history_warning_band[1]
                ELSE $history_warning_band[2] END,
           format('{}: quota {:,.0f} is {:.0f}% of the {:,.0f} expansion ARR won on the same accounts in the '
                  '12 months before the plan date (expected {:.0f}%-{:.0f}%)',
                  coalesce(segment, 'plan'), quota, 100 * quota_to_bookings, trailing_bookings,
                  100 * $history_warning_band[1], 100 * $history_warning_band[2])
    FROM history
    WHERE quota_to_bookings < $history_warning_band[1] OR quota_to_bookings > $history_warning_band[2]
    UNION ALL
    SELECT 'no_trailing_bookings', 'warning', segment, NULL, NULL, quota, NULL,
           format('{}: quota {:,.0f} on accounts where no expansion was won in the 12 months before the plan date',
                  coalesce(segment, 'plan'), quota)
    FROM history WHERE trailing_bookings = 0 AND quota > 0
)

SELECT reason, severity, segment, reps, examples, figure, threshold, message
FROM reasons
ORDER BY severity, segment NULLS FIRST, reason
