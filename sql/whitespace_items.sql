-- whitespace_items: what each customer could still buy, on each snapshot date.
-- Grain: (snapshot_date, account_id, product_id, kind); kind is
--   seat       - more seats of a seat product held: (potential seats - licensed seats) x price
--                per seat paid; potential = peer percentile of seats per employee x employees,
--                raised to active users x headroom when usage presses on the licence;
--   cross_sell - a product not held (and of no family held), offered when enough peers hold
--                it: peer percentile of its ARR x (employees / peers' median), capped;
--   upgrade    - the next tier of a family held: (next tier list price - price per unit paid)
--                x units held; product_id is the tier the account would move to.
-- whitespace is annual money, never negative; items with no whitespace are left out. Every
-- item keeps the columns that explain it (peer level and count, percentile, benchmark, price
-- used, units) and a one-line reason.
WITH customers AS (
    SELECT snapshot_date, account_id, industry, size_band, employees
    FROM work.account_state
    WHERE acv > 0
),

holdings AS (
    SELECT * FROM work.holdings
),

products AS (
    SELECT product_id, product_name, list_price, unit, family, tier_rank FROM raw.products
),

benchmarks AS (
    SELECT * FROM work.peer_benchmarks
),

product_usage AS (
    SELECT snapshot_date, account_id, product_id, recent_active_users
    FROM work.usage_features
    WHERE product_id IS NOT NULL
),

seat_potential AS (
    SELECT
        h.snapshot_date,
        h.account_id,
        h.product_id,
        h.quantity,
        h.price_per_unit,
        c.employees,
        b.seat_peer_level,
        b.seat_peer_count,
        b.seats_per_employee,
        u.recent_active_users,
        ceil(b.seats_per_employee * c.employees) AS peer_potential_seats,
        CASE WHEN u.recent_active_users >= $usage_pressure_threshold * h.quantity
            THEN ceil(u.recent_active_users * $usage_pressure_headroom) END AS usage_potential_seats
    FROM holdings AS h
    JOIN customers AS c USING (snapshot_date, account_id)
    JOIN benchmarks AS b USING (snapshot_date, industry, size_band, product_id)
    LEFT JOIN product_usage AS u USING (snapshot_date, account_id, product_id)
    WHERE h.unit = 'seat'
),

seat_items AS (
    SELECT
        snapshot_date,
        account_id,
        product_id,
        'seat' AS kind,
        greatest(coalesce(peer_potential_seats, 0), coalesce(usage_potential_seats, 0)) - quantity
            AS units,
        price_per_unit AS price_used,
        seat_peer_level AS peer_level,
        seat_peer_count AS peer_count,
        $seat_percentile AS percentile,
        seats_per_employee AS benchmark,
        format('{} of {} seats licensed; peers ({}, {} holders) run {:.3f} seats per employee at p{}'
            || ' -> {} seats for {} employees{}; {:.0f} per seat',
            CAST(units AS BIGINT), CAST(quantity AS BIGINT), seat_peer_level, seat_peer_count,
            coalesce(seats_per_employee, 0), CAST(round($seat_percentile * 100) AS INTEGER),
            CAST(coalesce(peer_potential_seats, 0) AS BIGINT), coalesce(CAST(employees AS VARCHAR), 'unknown'),
            CASE WHEN usage_potential_seats IS NOT NULL
                THEN format('; usage presses: {:.0f} active users -> {} seats',
                    recent_active_users, CAST(usage_potential_seats AS BIGINT))
                ELSE '' END,
            price_per_unit) AS reason
    FROM seat_potential
),

family_held AS (
    SELECT DISTINCT h.snapshot_date, h.account_id, h.family
    FROM holdings AS h
    WHERE h.family IS NOT NULL
),

cross_sell_items AS (
    SELECT
        c.snapshot_date,
        c.account_id,
        p.product_id,
        'cross_sell' AS kind,
        least(greatest(coalesce(c.employees / nullif(b.peer_median_employees, 0), 1),
            1 / $cross_sell_scale_cap), $cross_sell_scale_cap) AS units,
        b.peer_product_arr AS price_used,
        b.cross_sell_peer_level AS peer_level,
        b.cross_sell_peer_count AS peer_count,
        $cross_sell_percentile AS percentile,
        b.cross_sell_peer_share AS benchmark,
        format('{:.0f}% of peers ({}, {} accounts) hold {}; they pay {:.0f} at p{}; size factor {:.2f}',
            100 * b.cross_sell_peer_share, b.cross_sell_peer_level, b.cross_sell_peer_count,
            p.product_name, b.peer_product_arr, CAST(round($cross_sell_percentile * 100) AS INTEGER),
            units) AS reason
    FROM customers AS c
    JOIN benchmarks AS b USING (snapshot_date, industry, size_band)
    JOIN products AS p USING (product_id)
    ANTI JOIN holdings AS h USING (snapshot_date, account_id, product_id)
    ANTI JOIN family_held AS f USING (snapshot_date, account_id, family)
    WHERE b.cross_sell_peer_share >= $cross_sell_min_peer_share
        AND b.peer_product_arr > 0
),

next_tiers AS (
    SELECT
        lower_tier.product_id,
        arg_min(upper_tier.product_id, upper_tier.tier_rank) AS next_product_id,
        min(upper_tier.tier_rank) AS next_tier_rank
    FROM products AS lower_tier
    JOIN products AS upper_tier
        ON upper_tier.family = lower_tier.family AND upper_tier.tier_rank > lower_tier.tier_rank
    GROUP BY lower_tier.product_id
),

upgrade_items AS (
    SELECT
        h.snapshot_date,
        h.account_id,
        n.next_product_id AS product_id,
        'upgrade' AS kind,
        h.quantity AS units,
        p.list_price - h.price_per_unit AS price_used,
        CAST(NULL AS VARCHAR) AS peer_level,
        CAST(NULL AS BIGINT) AS peer_count,
        CAST(NULL AS DOUBLE) AS percentile,
        p.list_price AS benchmark,
        format('{} -> {}: list {:.0f} vs {:.0f} paid per unit, x {} units',
            h.product_id, p.product_name, p.list_price, h.price_per_unit, CAST(h.quantity AS BIGINT)) AS reason
    FROM holdings AS h
    JOIN next_tiers AS n USING (product_id)
    JOIN products AS p ON p.product_id = n.next_product_id
    ANTI JOIN holdings AS already ON already.snapshot_date = h.snapshot_date
        AND already.account_id = h.account_id AND already.product_id = n.next_product_id
),

all_items AS (
    SELECT * FROM seat_items
    UNION ALL BY NAME
    SELECT * FROM cross_sell_items
    UNION ALL BY NAME
    SELECT * FROM upgrade_items
)

SELECT
    snapshot_date,
    account_id,
    product_id,
    kind,
    units * price_used AS whitespace,
    units,
    price_used,
    peer_level,
    peer_count,
    percentile,
    benchmark,
    reason
FROM all_items
WHERE units * price_used > 0
ORDER BY snapshot_date, account_id, product_id, kind
