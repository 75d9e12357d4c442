-- peer_benchmarks: what peers hold and pay, per peer group and product, on each snapshot date.
-- Grain: (snapshot_date, industry, size_band, product_id) for every industry x size band that
-- has customers (accounts with ACV > 0), crossed with every product. Peers of an account are the
-- customers of its industry and employee size band (the account itself included). A group that
-- is too small falls back along: industry + size band -> industry -> size band -> all customers;
-- 'all' is used even when it is still small. peer_level names the level used.
--   seat benchmark: seats_per_employee = the seat_percentile (linear interpolation, DuckDB
--     quantile_cont) of quantity / employees over the peers holding the product whose employees
--     are known (> 0); the level needs min_peer_group such holders; seat_peer_count = them.
--   cross-sell benchmark: the level needs min_peer_group peers; cross_sell_peer_count = peers,
--     cross_sell_holders = peers holding the product, cross_sell_peer_share = holders / peers,
--     peer_product_arr = cross_sell_percentile of the holders' ARR for the product (annual
--     money), peer_median_employees = the holders' median employees (known ones only).
-- Employees of 0 or missing count as unknown size.
WITH customers AS (
    SELECT
        snapshot_date,
        account_id,
        industry,
        size_band,
        known_employees AS employees
    FROM work.account_state
    WHERE acv > 0
),

holdings AS (
    SELECT snapshot_date, account_id, product_id, quantity, arr FROM work.holdings
),

products AS (
    SELECT product_id FROM raw.products
),

levels AS (
    -- level_bits = 2 x GROUPING(industry) + GROUPING(size_band): 0 both kept, 1 industry only,
    -- 2 size band only, 3 all
    SELECT * FROM (VALUES
        (0, 'industry+size_band'), (1, 'industry'), (2, 'size_band'), (3, 'all')
    ) AS v (level_bits, peer_level)
),

holder_stats AS (
    SELECT
        h.snapshot_date,
        h.product_id,
        c.industry,
        c.size_band,
        2 * GROUPING(c.industry) + GROUPING(c.size_band) AS level_bits,
        count(*) AS holders,
        count(c.employees) AS sized_holders,
        quantile_cont(h.quantity / c.employees, $seat_percentile) AS seats_per_employee,
        quantile_cont(h.arr, $cross_sell_percentile) AS product_arr,
        median(c.employees) AS median_employees
    FROM holdings AS h
    JOIN customers AS c USING (snapshot_date, account_id)
    GROUP BY GROUPING SETS (
        (h.snapshot_date, h.product_id, c.industry, c.size_band),
        (h.snapshot_date, h.product_id, c.industry),
        (h.snapshot_date, h.product_id, c.size_band),
        (h.snapshot_date, h.product_id)
    )
),

group_sizes AS (
    SELECT
        snapshot_date,
        industry,
        size_band,
        2 * GROUPING(industry) + GROUPING(size_band) AS level_bits,
        count(*) AS peers
    FROM customers
    GROUP BY GROUPING SETS (
        (snapshot_date, industry, size_band),
        (snapshot_date, industry),
        (snapshot_date, size_band),
        (snapshot_date)
    )
),

cells AS (
    -- every (snapshot, industry, size band) that has customers, crossed with every product
    SELECT g.snapshot_date, g.industry, g.size_band, p.product_id
    FROM group_sizes AS g
    CROSS JOIN products AS p
    WHERE g.level_bits = 0
),

candidates AS (
    -- each cell paired with its four candidate peer groups
    SELECT
        cells.*,
        l.level_bits,
        l.peer_level,
        g.peers,
        coalesce(hs.holders, 0) AS holders,
        coalesce(hs.sized_holders, 0) AS sized_holders,
        hs.seats_per_employee,
        hs.product_arr,
        hs.median_employees
    FROM cells
    CROSS JOIN levels AS l
    JOIN group_sizes AS g
        ON g.snapshot_date = cells.snapshot_date
        AND g.level_bits = l.level_bits
        AND g.industry IS NOT DISTINCT FROM (CASE WHEN l.level_bits IN (0, 1) THEN cells.industry END)
        AND g.size_band IS NOT DISTINCT FROM (CASE WHEN l.level_bits IN (0, 2) THEN cells.size_band END)
    LEFT JOIN holder_stats AS hs
        ON hs.snapshot_date = cells.snapshot_date
        AND hs.product_id = cells.product_id
        AND hs.level_bits = l.level_bits
        AND hs.industry IS NOT DISTINCT FROM g.industry
        AND hs.size_band IS NOT DISTINCT FROM g.size_band
),

chosen_levels AS (
    -- the finest level that is large enough, separately for seat and cross-sell benchmarks
    SELECT
        snapshot_date,
        industry,
        size_band,
        product_id,
        min(level_bits) FILTER (WHERE sized_holders >= $min_peer_group OR level_bits = 3) AS seat_bits,
        min(level_bits) FILTER (WHERE peers >= $min_peer_group OR level_bits = 3) AS cross_sell_bits
    FROM candidates
    GROUP BY snapshot_date, industry, size_band, product_id
)

SELECT
    ch.snapshot_date,
    ch.industry,
    ch.size_band,
    ch.product_id,
    s.peer_level AS seat_peer_level,
    s.sized_holders AS seat_peer_count,
    s.seats_per_employee,
    x.peer_level AS cross_sell_peer_level,
    x.peers AS cross_sell_peer_count,
    x.holders AS cross_sell_holders,
    x.holders / x.peers AS cross_sell_peer_share,
    x.product_arr AS peer_product_arr,
    x.median_employees AS peer_median_employees
FROM chosen_levels AS ch
JOIN candidates AS s
    ON s.snapshot_date = ch.snapshot_date AND s.industry = ch.industry AND s.size_band = ch.size_band
    AND s.product_id = ch.product_id AND s.level_bits = ch.seat_bits
JOIN candidates AS x
    ON x.snapshot_date = ch.snapshot_date AND x.industry = ch.industry AND x.size_band = ch.size_band
    AND x.product_id = ch.product_id AND x.level_bits = ch.cross_sell_bits
ORDER BY ch.snapshot_date, ch.industry, ch.size_band, ch.product_id
