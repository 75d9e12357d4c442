-- expansion_credits: one row per closed-won expansion deal of the plan year up to `through`.
-- Key: opportunity_id. rep_credit = amount x rep_share and csm_credit = amount x csm_share
-- (annual ARR) by the attribution-matrix rule applied (see expansion_deals; add_on deals get
-- 0 / 0). rep_commission = rep_credit x commission_rate of the rep's segment (the plan's
-- segment of the rep, else the reps table's, else the account's). csm_source_bonus =
-- csm_bonus_rate x rep_commission on CSM-sourced deals closed by the rep (rep_share > 0),
-- else 0; NULL when the rep's segment (so the commission rate) is unknown.
WITH deals AS (
    SELECT * FROM work.expansion_deals WHERE status = 'won'
),

plan_reps AS (
    SELECT rep_id, segment FROM plans.quotas WHERE plan_id = $plan_id
),

reps AS (
    SELECT rep_id, segment FROM raw.reps
),

accounts AS (
    SELECT account_id, segment FROM plans.account_eev WHERE plan_id = $plan_id
),

rates AS (
    SELECT segment, commission_rate FROM work.commission_rates
),

credited AS (
    SELECT
        d.*,
        d.amount * d.rep_share AS rep_credit,
        d.amount * d.csm_share AS csm_credit,
        coalesce(p.segment, r.segment, a.segment) AS rep_segment
    FROM deals AS d
    LEFT JOIN plan_reps AS p USING (rep_id)
    LEFT JOIN reps AS r USING (rep_id)
    LEFT JOIN accounts AS a USING (account_id)
),

commissioned AS (
    SELECT c.*, rt.commission_rate, c.rep_credit * rt.commission_rate AS rep_commission
    FROM credited AS c
    LEFT JOIN rates AS rt ON rt.segment = c.rep_segment
)

SELECT
    opportunity_id, account_id, close_date, amount, source, source_used, source_defaulted, rule,
    rep_id, rep_from, csm_id, csm_from, rep_share, csm_share, rep_credit, csm_credit,
    rep_segment, commission_rate, rep_commission,
    CASE WHEN source_used = 'csm_sourced' AND rep_share > 0 THEN $csm_bonus_rate ELSE 0 END AS csm_bonus_rate,
    CASE WHEN source_used = 'csm_sourced' AND rep_share > 0 THEN $csm_bonus_rate * rep_commission ELSE 0 END
        AS csm_source_bonus
FROM commissioned
ORDER BY opportunity_id
