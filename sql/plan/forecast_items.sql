-- forecast_items: the plan's whitespace items that can book for a rep, as the Monte Carlo of the
-- year sees them. Grain: (account_id, product_id, kind), items of accounts in a rep's territory
-- (territory_shares) with p_close > 0 and amount_if_won > 0 (the others never book).
-- p_close = probability the item is won within the plan year (0-1); amount_if_won = what a win is
-- expected to book (annual money): THE definition of the amount given a win, the item's
-- expected_amount (the booking-amount model's E[booked | win]), so p_close x amount_if_won = the
-- item's eev; amount_cv = its kind's spread of the amount around that (amount_spread).
WITH items AS (
    SELECT account_id, product_id, kind, p_close, expected_amount AS amount_if_won
    FROM work.scored_whitespace
),

held AS (
    SELECT DISTINCT account_id FROM work.territory_shares
),

spread AS (
    SELECT kind, amount_cv FROM work.amount_spread
)

SELECT
    i.account_id,
    i.product_id,
    i.kind,
    i.p_close,
    i.amount_if_won,
    s.amount_cv
FROM items AS i
JOIN spread AS s USING (kind)
WHERE i.p_close > 0 AND i.amount_if_won > 0 AND i.account_id IN (SELECT account_id FROM held)
ORDER BY i.account_id, i.product_id, i.kind
