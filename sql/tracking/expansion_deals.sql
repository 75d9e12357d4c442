-- expansion_deals: one row per expansion opportunity that matters to the plan year as of the
-- tracking date `through`: won or lost with close_date in [plan_start, through], or open on
-- `through` (created by then and not yet closed). Renewals and new logos are never here.
-- Key: opportunity_id. status = won | lost | open as of `through`. source_used = the deal's
-- source, or the missing_source setting when null (source_defaulted = true). rule, rep_share,
-- csm_share = the attribution-matrix cell (credit_rules) of source_used and the amount's size
-- tier (min_amount <= amount < max_amount). rep_id = the deal owner, else the account's rep
-- in the tracked plan's territories (rep_from says which); csm_id = the deal's CSM, else the
-- account's CSM (csm_from). Money: deal amount, annual ARR.
-- qualified = an open deal at or past qualification: its pipeline_stage is one of the
-- qualified_stages setting (every open deal when that is null); false for closed deals.
-- Open deals only (NULL for closed ones): expected_close_date = the CRM's expected close date (expected_close_from = 'crm'), else
-- created_date + the typical sales cycle ('typical_cycle'): the median created-to-close days of
-- the won expansion deals closed by `through` that took longer than this deal has been open, so
-- always after `through`; NULL when no won deal ever took that long. A deal's actual close date
-- after `through` is never used (no look-ahead in a back-dated tracking run).
WITH opportunities AS (
    SELECT opportunity_id, account_id, created_date, close_date, stage, amount, source, owner_id, csm_id,
           expected_close_date, pipeline_stage
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
),

won_cycles AS (  -- created-to-close days of the won expansion deals known on `through`
    SELECT date_diff('day', created_date, close_date) AS cycle_days, count(*) AS deals
    FROM opportunities
    WHERE stage = 'won' AND close_date <= $through
    GROUP BY ALL
),

open_ages AS (  -- days each open deal has been open on `through`
    SELECT DISTINCT date_diff('day', created_date, $through::DATE) AS age_days FROM sourced WHERE status = 'open'
),

longer_cycles AS (  -- per age, the won cycles longer than it, counted in cycle order
    SELECT
        a.age_days,
        c.cycle_days,
        sum(c.deals) OVER (PARTITION BY a.age_days ORDER BY c.cycle_days) AS deals_up_to,
        sum(c.deals) OVER (PARTITION BY a.age_days) AS deals_longer
    FROM open_ages AS a
    JOIN won_cycles AS c ON c.cycle_days > a.age_days
),

typical_cycle AS (  -- the (lower) median of those cycles
    SELECT age_days, min(cycle_days) FILTER (WHERE 2 * deals_up_to >= deals_longer) AS cycle_days
    FROM longer_cycles
    GROUP BY age_days
),

dated AS (
    SELECT
        d.*,
        CASE WHEN d.status = 'open' THEN
            coalesce(list_contains($qualified_stages::VARCHAR[], d.pipeline_stage), $qualified_stages IS NULL)
        ELSE false END AS qualified,
        CASE WHEN d.status = 'open' THEN
            coalesce(d.expected_close_date, d.created_date + CAST(t.cycle_days AS INTEGER))
        END AS expected_close,
        CASE
            WHEN d.status <> 'open' THEN NULL
            WHEN d.expected_close_date IS NOT NULL THEN 'crm'
            WHEN t.cycle_days IS NOT NULL THEN 'typical_cycle'
        END AS expected_close_from
    FROM sourced AS d
    LEFT JOIN typical_cycle AS t ON d.status = 'open' AND t.age_days = date_diff('day', d.created_date, $through::DATE)
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
    CASE WHEN d.csm_id IS NOT NULL THEN 'deal' WHEN a.csm_id IS NOT NULL THEN 'account' END AS csm_from,
    d.pipeline_stage,
    d.qualified,
    d.expected_close AS expected_close_date,
    d.expected_close_from
FROM dated AS d
JOIN rules AS r
  ON r.source = d.source_used AND d.amount >= r.min_amount AND (r.max_amount IS NULL OR d.amount < r.max_amount)
LEFT JOIN territories AS t USING (account_id)
LEFT JOIN accounts AS a USING (account_id)
ORDER BY d.opportunity_id
