-- peer_benchmarks: what peers hold and pay, per peer group and product.
-- Grain: (snapshot_date, industry, size_band, product_id) for every industry x size band that
-- has customers. Peers are customers of the same industry and size band; a group that is too
-- small (min_peer_group) falls back along: industry + size band -> industry -> size band -> all.
-- Seat benchmarks need min_peer_group HOLDERS of the product; cross-sell benchmarks need
-- min_peer_group accounts in the group. peer_level says which level was used.
WITH customers AS (
    SELECT snapshot_date, account_id, industry, size_band, employees
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
        GROUPING(c.industry, c.size_band) AS level_bits,
        count(*) AS holders,
        quantile_cont(h.quantity / c.employees, $seat_percentile) FILTER (WHERE c.employees > 0)
            AS seats_per_employee,
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
        GROUPING(industry, size_band) AS level_bits,
        count(*) AS peers,
        median(employees) AS peers_median_employees
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
    SELECT DISTINCT c.snapshot_date, c.industry, c.size_band, p.product_id
    FROM customers AS c
    CROSS JOIN products AS p
),

candidates AS (
    -- each cell paired with its four candidate peer groups
    SELECT
        cells.*,
        l.level_bits,
        l.peer_level,
        g.peers,
        coalesce(hs.holders, 0) AS holders,
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
        snapshot_date, industry, size_band, product_id,
        min(level_bits) FILTER (WHERE holders >= $min_peer_group OR level_bits = 3) AS seat_bits,
        min(level_bits) FILTER (WHERE peers >= $min_peer_group OR level_bits = 3) AS cross_sell_bits
    FROM candidates
    GROUP BY ALL
)

SELECT
    ch.snapshot_date,
    ch.industry,
    ch.size_band,
    ch.product_id,
    s.peer_level AS seat_peer_level,
    s.holders AS seat_peer_count,
    s.seats_per_employee,
    x.peer_level AS cross_sell_peer_level,
    x.peers AS cross_sell_peer_count,
    x.holders AS cross_sell_holders,
    x.holders / x.peers AS cross_sell_peer_share,
    x.product_arr AS peer_product_arr,
    x.median_employees AS peer_median_employees
FROM chosen_levels AS ch
JOIN candidates AS s
    ON (s.snapshot_date, s.industry, s.size_band, s.product_id, s.level_bits)
    = (ch.snapshot_date, ch.industry, ch.size_band, ch.product_id, ch.seat_bits)
JOIN candidates AS x
    ON (x.snapshot_date, x.industry, x.size_band, x.product_id, x.level_bits)
    = (ch.snapshot_date, ch.industry, ch.size_band, ch.product_id, ch.cross_sell_bits)
ORDER BY ch.snapshot_date, ch.industry, ch.size_band, ch.product_id
