-- csm_source_bonus: one row per CSM with a credited deal in the plan year up to `through`
-- (csm_id NULL = deals without a CSM). Key: csm_id. csm_credit = expansion ARR credited to the
-- CSM over all sources (CSMs carry no quota: information only). csm_sourced_* = CSM-sourced
-- deals closed by the expansion rep; csm_source_bonus = sum of csm_bonus_rate x the rep's
-- commission on those deals (per deal in expansion_credits); deals_without_commission_rate
-- counts those left out because the rep's segment is unknown. Money: annual ARR / currency.
WITH credits AS (
    SELECT * FROM work.expansion_credits
),

reps AS (
    SELECT rep_id AS csm_id, name FROM raw.reps
)

SELECT
    c.csm_id,
    any_value(r.name) AS name,
    count(*) AS credited_deals,
    CAST(sum(CAST(c.csm_credit AS DECIMAL(38, 6))) AS DOUBLE) AS csm_credit,  -- exact sums (docs/method.md)
    count(*) FILTER (WHERE c.csm_bonus_rate > 0) AS csm_sourced_deals,
    coalesce(CAST(sum(CAST(c.amount AS DECIMAL(38, 6))) FILTER (WHERE c.csm_bonus_rate > 0) AS DOUBLE), 0) AS csm_sourced_amount,
    coalesce(CAST(sum(CAST(c.rep_commission AS DECIMAL(38, 6))) FILTER (WHERE c.csm_bonus_rate > 0) AS DOUBLE), 0) AS rep_commission,
    coalesce(CAST(sum(CAST(c.csm_source_bonus AS DECIMAL(38, 6))) AS DOUBLE), 0) AS csm_source_bonus,
    count(*) FILTER (WHERE c.csm_bonus_rate > 0 AND c.rep_commission IS NULL) AS deals_without_commission_rate
FROM credits AS c
LEFT JOIN reps AS r USING (csm_id)
GROUP BY c.csm_id
ORDER BY c.csm_id NULLS LAST
