-- whitespace_items: what each customer could still buy, on each snapshot date.
-- Grain: (snapshot_date, account_id, product_id, kind); whitespace = units x price_used, annual
-- money, >= 0. Every candidate is an item, filtered by nothing but what the account could buy (the
-- models score them all; the peer figures are features): every seat product held, every product
-- of a family not held, every next tier. kind is
--   seat       - a seat product held. units = potential seats - licensed seats (0 at or above the
--                potential); potential = the
--                larger of (peers' seats per employee at seat_percentile x employees) and, when
--                recent active users >= usage_pressure_threshold x licensed seats, (active users
--                x usage_pressure_headroom), each rounded up to whole seats. price_used = the
--                effective price per seat (ARR / quantity; list price when ARR is 0).
--                benchmark = the peers' seats per employee. Unknown (0 or missing) employees:
--                no peer potential, only usage pressure can give seats.
--   cross_sell - a product not held, of no family held (no lower tier of a family held; the
--                next tier is an upgrade), whatever share of peers holds it. price_used =
--                benchmark = the holders' ARR for it at cross_sell_percentile (the list price
--                when no peer holds it); units = size factor = employees / holders' median
--                employees, capped at cross_sell_scale_cap (1 when the size is unknown or no
--                peer holds it). peer_share = share of peers holding it (0-1).
--   upgrade    - the next tier of a family held (none at the top tier); product_id is the tier
--                the account would move to. units = units held; price_used = next tier list
--                price - price per unit paid (0 when already paid at or above it); benchmark =
--                next tier list price.
-- units_held: licensed seats (seat), units held of the lower tier(s) (upgrade), 0 (cross_sell);
-- potential_units: the seat potential (seat only, NULL otherwise).
-- Every item names its peer level and peer count (NULL for upgrades) and the percentile used; an item
-- of the plan snapshot also has a one-line reason a rep can read (NULL on the training snapshots, where
-- nothing reads it: formatting those 2.5M reasons took 60% of the step at 100,000 accounts). Numbers are
-- rounded as decimals before formatting (6 places, then the places shown, half away from zero):
-- 69 / 120 shows as 0.58 although its double is 0.57499..., and DuckDB and Spark print alike.
-- Rows are in no particular order (every reader sorts; sorting 5M wide rows here would cost
-- more than the rest).
WITH plan_snapshot AS (
    SELECT snapshot_date AS plan_date FROM work.snapshot_dates WHERE role = 'plan'
),

customers AS (
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
    SELECT snapshot_date, account_id, product_id, quantity, price_per_unit, unit, family, tier_rank
    FROM work.holdings
),

products AS (
    SELECT product_id, product_name, list_price, family, tier_rank FROM raw.products
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
        p.product_name,
        h.quantity,
        h.price_per_unit,
        c.employees,
        b.seat_peer_level,
        b.seat_peer_count,
        b.seats_per_employee,
        u.recent_active_users,
        -- rounded to 6 decimals first so that 0.26 x 200 is 52 seats, not 53
        coalesce(ceil(round(b.seats_per_employee * c.employees, 6)), 0) AS peer_seats,
        CASE WHEN u.recent_active_users >= $usage_pressure_threshold * h.quantity
            THEN ceil(round(u.recent_active_users * $usage_pressure_headroom, 6)) END AS usage_seats
    FROM holdings AS h
    JOIN customers AS c USING (snapshot_date, account_id)
    JOIN benchmarks AS b USING (snapshot_date, industry, size_band, product_id)
    JOIN products AS p USING (product_id)
    LEFT JOIN product_usage AS u USING (snapshot_date, account_id, product_id)
    WHERE h.unit = 'seat'
),

seat_items AS (
    SELECT
        *,
        greatest(peer_seats, coalesce(usage_seats, 0)) AS potential_units,
        greatest(greatest(peer_seats, coalesce(usage_seats, 0)) - quantity, 0) AS units
    FROM seat_potential
    WHERE price_per_unit > 0
),

seat_explained AS (
    SELECT
        snapshot_date,
        account_id,
        product_id,
        'seat' AS kind,
        units,
        price_per_unit AS price_used,
        seat_peer_level AS peer_level,
        seat_peer_count AS peer_count,
        $seat_percentile AS percentile,
        seats_per_employee AS benchmark,
        CAST(NULL AS DOUBLE) AS peer_share,
        quantity AS units_held,
        potential_units,
        CASE WHEN plan_date IS NOT NULL THEN
        CASE WHEN employees IS NULL
            THEN format('{:,} more {} seats at {:,.0f} paid per seat: {:,} licensed; employees unknown, '
                || 'so no peer potential',
                CAST(units AS BIGINT), product_name, round(CAST(price_per_unit AS DECIMAL(18, 6))), CAST(quantity AS BIGINT))
            ELSE format('{:,} more {} seats at {:,.0f} paid per seat: {:,} licensed; peers ({}, {} holders) '
                || 'run {:.3f} seats per employee at p{} x {:,} employees = {:,} seats',
                CAST(units AS BIGINT), product_name, round(CAST(price_per_unit AS DECIMAL(18, 6))), CAST(quantity AS BIGINT),
                seat_peer_level, seat_peer_count, round(CAST(seats_per_employee AS DECIMAL(18, 6)), 3),
                CAST(round($seat_percentile * 100) AS INTEGER), CAST(employees AS BIGINT),
                CAST(peer_seats AS BIGINT))
        END
        || CASE WHEN usage_seats IS NULL THEN ''
            ELSE format('; usage presses: {:,.1f} active users >= {:.0f}% of licence, x {} = {:,} seats',
                round(CAST(recent_active_users AS DECIMAL(18, 6)), 1), round(100 * $usage_pressure_threshold), $usage_pressure_headroom,
                CAST(usage_seats AS BIGINT))
        END END AS reason
    FROM seat_items
    LEFT JOIN plan_snapshot ON plan_date = snapshot_date
),

families_held AS (
    SELECT DISTINCT snapshot_date, account_id, family
    FROM holdings
    WHERE family IS NOT NULL
),

cross_sell_items AS (
    SELECT
        c.snapshot_date,
        c.account_id,
        p.product_id,
        'cross_sell' AS kind,
        CASE WHEN c.employees IS NULL OR b.peer_median_employees IS NULL OR b.peer_product_arr IS NULL THEN 1
            ELSE least(c.employees / b.peer_median_employees, $cross_sell_scale_cap) END AS units,
        coalesce(b.peer_product_arr, p.list_price) AS price_used,
        b.cross_sell_peer_level AS peer_level,
        b.cross_sell_peer_count AS peer_count,
        $cross_sell_percentile AS percentile,
        coalesce(b.peer_product_arr, p.list_price) AS benchmark,
        b.cross_sell_peer_share AS peer_share,
        CAST(0 AS DOUBLE) AS units_held,
        CAST(NULL AS DOUBLE) AS potential_units,
        CASE WHEN plan_date IS NOT NULL THEN
        CASE WHEN b.peer_product_arr IS NULL
            THEN format('{} not held: none of {} peers ({}) hold it; list price {:,.0f}',
                p.product_name, b.cross_sell_peer_count, b.cross_sell_peer_level,
                round(CAST(p.list_price AS DECIMAL(18, 6))))
            ELSE format('{} not held: {} of {} peers ({}) hold it and pay {:,.0f} at p{}; {}',
                p.product_name, b.cross_sell_holders, b.cross_sell_peer_count, b.cross_sell_peer_level,
                round(CAST(b.peer_product_arr AS DECIMAL(18, 6))), CAST(round($cross_sell_percentile * 100) AS INTEGER),
                CASE WHEN c.employees IS NULL OR b.peer_median_employees IS NULL
                    THEN 'size unknown, so not scaled'
                    ELSE format('x {:.2f} for {:,} employees vs their median {:,.0f} (cap {})',
                        round(CAST(units AS DECIMAL(18, 6)), 2), CAST(c.employees AS BIGINT), round(CAST(b.peer_median_employees AS DECIMAL(18, 6))), $cross_sell_scale_cap)
                END)
        END END AS reason
    FROM customers AS c
    JOIN benchmarks AS b USING (snapshot_date, industry, size_band)
    JOIN products AS p USING (product_id)
    LEFT JOIN plan_snapshot ON plan_date = c.snapshot_date
    ANTI JOIN holdings AS h USING (snapshot_date, account_id, product_id)
    ANTI JOIN families_held AS f USING (snapshot_date, account_id, family)
),

next_tiers AS (
    -- the next tier up in the product's family (ties of tier_rank broken by product_id)
    SELECT
        lower_tier.product_id,
        arg_min(upper_tier.product_id, (upper_tier.tier_rank, upper_tier.product_id)) AS next_product_id
    FROM products AS lower_tier
    JOIN products AS upper_tier
        ON upper_tier.family = lower_tier.family AND upper_tier.tier_rank > lower_tier.tier_rank
    GROUP BY lower_tier.product_id
),

upgrade_lines AS (
    SELECT h.snapshot_date, h.account_id, n.next_product_id AS product_id, h.product_id AS from_product_id,
        h.quantity, h.price_per_unit
    FROM holdings AS h
    JOIN next_tiers AS n USING (product_id)
    ANTI JOIN holdings AS already ON already.snapshot_date = h.snapshot_date
        AND already.account_id = h.account_id AND already.product_id = n.next_product_id
),

upgrade_items AS (
    -- one item per target tier (two held tiers of equal rank share the next tier)
    SELECT
        snapshot_date,
        account_id,
        product_id,
        sum(quantity) AS units,
        CAST(sum(CAST(quantity * price_per_unit AS DECIMAL(38, 6))) AS DOUBLE) / sum(quantity) AS paid_per_unit,
        min(from_product_id) AS from_product_id,
        count(*) AS from_tiers
    FROM upgrade_lines
    GROUP BY snapshot_date, account_id, product_id
),

upgrade_explained AS (
    SELECT
        u.snapshot_date,
        u.account_id,
        u.product_id,
        'upgrade' AS kind,
        u.units,
        greatest(p.list_price - u.paid_per_unit, 0) AS price_used,
        CAST(NULL AS VARCHAR) AS peer_level,
        CAST(NULL AS BIGINT) AS peer_count,
        CAST(NULL AS DOUBLE) AS percentile,
        p.list_price AS benchmark,
        CAST(NULL AS DOUBLE) AS peer_share,
        CAST(u.units AS DOUBLE) AS units_held,
        CAST(NULL AS DOUBLE) AS potential_units,
        CASE WHEN plan_date IS NOT NULL THEN
            format('upgrade {:,} units of {}{} to {}: list {:,.0f} vs {:,.0f} paid per unit',
                CAST(u.units AS BIGINT), f.product_name,
                CASE WHEN u.from_tiers > 1 THEN format(' and {} more tier(s)', u.from_tiers - 1) ELSE '' END,
                p.product_name, round(CAST(p.list_price AS DECIMAL(18, 6))),
                round(CAST(u.paid_per_unit AS DECIMAL(18, 6))))
        END AS reason
    FROM upgrade_items AS u
    JOIN products AS p ON p.product_id = u.product_id
    JOIN products AS f ON f.product_id = u.from_product_id
    LEFT JOIN plan_snapshot ON plan_date = u.snapshot_date
),

all_items AS (
    -- the three kinds select the same columns in the same order
    SELECT * FROM seat_explained
    UNION ALL
    SELECT * FROM cross_sell_items
    UNION ALL
    SELECT * FROM upgrade_explained
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
    reason,
    peer_share,
    units_held,
    potential_units
FROM all_items
