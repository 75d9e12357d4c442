-- expansion_deals: one row per expansion opportunity that matters to the plan year as of the
-- tracking date `through`: won or lost with close_date in [plan_start, through], or open on
-- `through` (created by then and not yet closed). Renewals and new logos are never here.
-- Key: opportunity_id. status = won | lost | open as of `through`. source_used = the deal's
-- source, or the missing_source setting when null (source_defaulted = true). rule, rep_share,
-- csm_share = the attribution-matrix cell (credit_rules) of source_used and the amount's size
-- tier (min_amount <= amount < max_amount). rep_id = the deal owner, else the account's rep
-- in the tracked plan's territories (rep_from says which); csm_id = the deal's CSM, else the
-- account's CSM (csm_from). Money: deal amount, annual ARR.
WITH opportunities AS (
    SELECT opportunity_id, account_id, created_date, close_date, stage, amount, source, owner_id, csm_id
    FROM raw.opportunities
    WHERE type = 'expansion'
),

accounts AS (
    SELECT account_id, csm_id FROM raw.accounts
),

territories AS (
    SELECT account_id, rep_id FROM plans.territories WHERE plan_id = $plan_id
),

rules AS (
    SELECT source, min_amount, max_amount, rep_share, csm_share, rule FROM work.credit_rules
),

in_play AS (
    SELECT
        *,
        CASE
            WHEN stage IN ('won', 'lost') AND close_date BETWEEN $plan_start AND $through THEN stage
            WHEN created_date <= $through AND (stage = 'open' OR close_date > $through) THEN 'open'
        END AS status
    FROM opportunities
),

sourced AS (
    SELECT *, coalesce(source, $missing_source) AS source_used, source IS NULL AS source_defaulted
    FROM in_play
    WHERE status IS NOT NULL
)

SELECT
    d.opportunity_id,
    d.account_id,
    d.status,
    d.created_date,
    d.close_date,
    d.amount,
    d.source,
    d.source_used,
    d.source_defaulted,
    r.rule,
    r.rep_share,
    r.csm_share,
    coalesce(d.owner_id, t.rep_id) AS rep_id,
    CASE WHEN d.owner_id IS NOT NULL THEN 'deal_owner' WHEN t.rep_id IS NOT NULL THEN 'territory' END AS rep_from,
    coalesce(d.csm_id, a.csm_id) AS csm_id,
    CASE WHEN d.csm_id IS NOT NULL THEN 'deal' WHEN a.csm_id IS NOT NULL THEN 'account' END AS csm_from
FROM sourced AS d
JOIN rules AS r
  ON r.source = d.source_used AND d.amount >= r.min_amount AND (r.max_amount IS NULL OR d.amount < r.max_amount)
LEFT JOIN territories AS t USING (account_id)
LEFT JOIN accounts AS a USING (account_id)
ORDER BY d.opportunity_id
