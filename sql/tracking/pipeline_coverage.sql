-- pipeline_coverage: one row per expansion rep of the tracked plan ($plan_id), as of `through`.
-- Key: rep_id. credited_ytd = the rep's expansion credits in the plan year so far;
-- remaining_quota = greatest(quota - credited_ytd, 0). open_pipeline = amount of the rep's open
-- expansion deals on `through`; qualified_pipeline = the part the rep would be credited if they
-- closed (amount x rep_share of the attribution rule, so add_on and CSM-closed deals add 0).
-- coverage = qualified_pipeline / remaining_quota. flag: 'no_quota' (quota 0), 'quota_met'
-- (remaining quota 0: coverage NULL, no division by zero), 'urgent' (coverage < coverage_urgent),
-- 'warning' (< coverage_warning), else 'ok' (exactly 3x is ok, exactly 2x a warning with the
-- defaults). opp_to_close_rate = won / (won + lost) of the rep's expansion deals closed in the
-- plan year so far (NULL without any); discovery-to-opportunity conversion needs discovery
-- stages the input contract does not have (only open / won / lost), so it is not computed.
WITH reps AS (
    SELECT rep_id, name, segment, quota FROM plans.quotas WHERE plan_id = $plan_id
),

deals AS (
    SELECT rep_id, status, amount, rep_share FROM work.expansion_deals
),

credits AS (
    SELECT rep_id, sum(rep_credit) AS credited_ytd FROM work.expansion_credits GROUP BY rep_id
),

by_rep AS (
    SELECT
        rep_id,
        count(*) FILTER (WHERE status = 'open') AS open_deals,
        coalesce(sum(amount) FILTER (WHERE status = 'open'), 0) AS open_pipeline,
        coalesce(sum(amount * rep_share) FILTER (WHERE status = 'open'), 0) AS qualified_pipeline,
        count(*) FILTER (WHERE status = 'won') AS won_deals,
        count(*) FILTER (WHERE status = 'lost') AS lost_deals
    FROM deals
    GROUP BY rep_id
),

measured AS (
    SELECT
        r.rep_id, r.name, r.segment, r.quota,
        coalesce(c.credited_ytd, 0) AS credited_ytd,
        greatest(r.quota - coalesce(c.credited_ytd, 0), 0) AS remaining_quota,
        coalesce(b.open_deals, 0) AS open_deals,
        coalesce(b.open_pipeline, 0) AS open_pipeline,
        coalesce(b.qualified_pipeline, 0) AS qualified_pipeline,
        coalesce(b.won_deals, 0) AS won_deals,
        coalesce(b.lost_deals, 0) AS lost_deals
    FROM reps AS r
    LEFT JOIN credits AS c USING (rep_id)
    LEFT JOIN by_rep AS b USING (rep_id)
)

SELECT
    *,
    qualified_pipeline / nullif(remaining_quota, 0) AS coverage,
    CASE
        WHEN quota <= 0 THEN 'no_quota'
        WHEN remaining_quota = 0 THEN 'quota_met'
        WHEN qualified_pipeline < $coverage_urgent * remaining_quota THEN 'urgent'
        WHEN qualified_pipeline < $coverage_warning * remaining_quota THEN 'warning'
        ELSE 'ok'
    END AS flag,
    won_deals / nullif(won_deals + lost_deals, 0) AS opp_to_close_rate
FROM measured
ORDER BY rep_id
