-- subscriptions_from_won_deals: subscriptions derived from won opportunities, for a source with
-- no billing data (a CRM export). Grain: one line per won deal; key (account_id, product_id,
-- start_date). A won deal is a line from its close date for $window_months months (end_date
-- exclusive), quantity = the deal's quantity (the seats of its product line; 1 when the source gives none),
-- arr = the deal's amount annualised (x 12 / window_months): an account
-- holds a product from its first won deal for as long as it keeps buying it, and its ACV on a
-- date is the annual run rate of what it bought in the window before that date (point in time:
-- no deal closed later counts). Reads the mapped
-- opportunities (text columns, already mapped to contract values); a value that does not convert
-- is reported by the contract check of opportunities, so TRY_CAST loses nothing here.
WITH won AS (
    SELECT
        account_id,
        product_id,
        TRY_CAST(close_date AS DATE) AS close_date,
        TRY_CAST(amount AS DOUBLE) AS amount,
        coalesce(TRY_CAST(quantity AS BIGINT), 1) AS quantity,
        opportunity_id
    FROM mapped_opportunities
    WHERE stage = 'won' AND account_id IS NOT NULL AND product_id IS NOT NULL
)

SELECT
    account_id,
    product_id,
    quantity,
    amount * 12 / $window_months AS arr,
    close_date AS start_date,
    CAST(close_date + to_months($window_months) AS DATE) AS end_date,
    opportunity_id AS source_opportunity_id
FROM won
WHERE close_date IS NOT NULL AND amount IS NOT NULL
ORDER BY account_id, product_id, start_date, opportunity_id
