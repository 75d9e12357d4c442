-- holdings: what each customer holds on each snapshot date.
-- Grain: (snapshot_date, account_id, product_id). quantity in units (seats, or 1 for flat
-- products), arr in annual money; price_per_unit = arr / quantity (the effective price paid).
WITH customers AS (
    SELECT snapshot_date, account_id FROM work.account_state WHERE acv > 0
),

subscriptions AS (
    SELECT account_id, product_id, quantity, arr, start_date, end_date FROM raw.subscriptions
),

products AS (
    SELECT product_id, list_price, unit, family, tier_rank FROM raw.products
),

active_lines AS (
    SELECT c.snapshot_date, s.account_id, s.product_id, s.quantity, s.arr
    FROM customers AS c
    JOIN subscriptions AS s
        ON s.account_id = c.account_id
        AND s.start_date <= c.snapshot_date
        AND (s.end_date IS NULL OR s.end_date > c.snapshot_date)
),

held AS (
    -- money and usage are summed as DECIMAL: a total does not depend on the order rows are added in,
    -- so DuckDB and Spark give the same double bit for bit
    SELECT snapshot_date, account_id, product_id, sum(quantity) AS quantity,
        CAST(sum(CAST(arr AS DECIMAL(38, 6))) AS DOUBLE) AS arr
    FROM active_lines
    GROUP BY snapshot_date, account_id, product_id
)

SELECT
    held.*,
    CASE WHEN held.arr > 0 THEN held.arr / held.quantity ELSE p.list_price END AS price_per_unit,
    p.list_price,
    p.unit,
    p.family,
    p.tier_rank
FROM held
JOIN products AS p USING (product_id)
ORDER BY held.snapshot_date, held.account_id, held.product_id
