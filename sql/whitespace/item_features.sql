-- item_features: the model's view of each whitespace item, on each snapshot date.
-- Grain: (snapshot_date, account_id, product_id, kind), the same as whitespace_items. In no order (sorting
-- 3.2M rows of 45 columns took a third of the step at 100,000 accounts): readers order what they read.
-- Training snapshots keep at most max_training_rows items, the model's whole panel (model.max_training_rows):
-- those with the smallest md5 of (snapshot_date, account_id, product_id, kind, seed), a seeded sample of the
-- keys only (md5 gives the same sample on DuckDB and on Spark; keys are distinct, so are their md5s). At
-- 100,000 accounts that is 200,000 of 2.5M training items: the features of the rest were never used.
-- The plan snapshot keeps every item.
-- Features come only from data before the snapshot (account_state, usage_features). On
-- training snapshots, label = 1 when an expansion opportunity on this account and product was
-- won with close_date in [snapshot, snapshot + horizon); won_amount is what those deals booked.
-- On the plan snapshot label and won_amount are NULL (the future is not known).
-- Columns (log_x = ln(1 + x) of a money or count figure, rounded to 9 decimals since the engines'
-- ln differ in the last bit; days are whole days to or from the snapshot; usage columns are NULL
-- when the item's product has no usage before the snapshot):
--   kind, unit, log_list_price       the item: whitespace kind, product unit, annual list price
--   log_whitespace                   the item's whitespace (annual money)
--   log_units, log_price_used        its units and price used (whitespace = units x price used)
--   log_benchmark                    the peer figure behind it (seats per employee, peers' ARR for
--                                    the product, next tier list price)
--   peer_share                       cross-sell: share of peers holding the product (0-1)
--   log_units_held                   licensed seats (seat), units of the lower tier (upgrade)
--   log_potential_units              seat: the peer / usage seat potential
--   log_employees                    the account's employees (NULL when unknown)
--   segment, industry, region,       the account's ACV segment, industry, region and employee
--   size_band                        size band
--   log_acv, acv_growth              ACV on the snapshot; ACV / ACV 12 months earlier - 1
--   products_held                    product breadth: distinct products active on the snapshot
--   tenure_days                      days since customer_since
--   days_to_renewal                  days to the next renewal
--   prior_expansion_wins, _losses    expansion deals won / lost before the snapshot
--   days_since_last_win              recency: days since the last won expansion (NULL: never)
--   log_open_pipeline                open expansion pipeline (created before, not closed by it)
--   log_active_users_30d/_90d/_180d  usage level: mean active users of the product, 30/90/180 days
--   usage_trend, usage_trend_90d     usage trend: 30-day (90-day) mean / 180-day mean - 1
--   seat_utilisation                 90-day mean active users / licensed seats of the product
--   log_account_active_users         90-day mean active users over all the account's products
--   account_utilisation              those active users / all seats the account holds
--   account_usage_growth             ln((1 + 90-day mean active users) / (1 + the same 12 months earlier)) over
--                                    the account's products used on both dates, minus the median of the
--                                    snapshot's accounts (growing faster or slower than the typical customer;
--                                    seasons and calendar effects shared by all cancel)
--   account_usage_slope              mean over the account's products of usage_slope_1y (work.usage_features),
--                                    minus the snapshot's median: the same growth from a shorter history
--   account_engagement               mean over the account's products of ln(events per active user) minus the
--                                    product's median on the snapshot: how intensively its users use them
--   expansion_deal_rate              expansion deals closed (won or lost) per year of the tenure the deal
--                                    history covers (NULL when that is under deal_rate_min_days)
--   expansion_win_rate               share of those deals won (NULL without any)
WITH keyed_items AS (
    SELECT
        w.*,
        s.role,
        CASE WHEN s.role = 'train' THEN md5(concat_ws(':', CAST(w.snapshot_date AS VARCHAR), w.account_id,
            w.product_id, w.kind, CAST($seed AS VARCHAR))) END AS sample_key
    FROM work.whitespace_items AS w
    JOIN work.snapshot_dates AS s USING (snapshot_date)
),

sample_cutoff AS (
    -- the largest sample_key the training panel keeps: the max_training_rows-th smallest
    SELECT max(sample_key) AS cutoff
    FROM (SELECT sample_key FROM keyed_items WHERE role = 'train' ORDER BY sample_key LIMIT $max_training_rows)
),

items AS (
    SELECT
        snapshot_date, account_id, product_id, kind, whitespace, units, price_used, benchmark, peer_share,
        units_held, potential_units
    FROM keyed_items
    WHERE role = 'plan' OR sample_key <= (SELECT cutoff FROM sample_cutoff)
),

state AS (
    SELECT * FROM work.account_state
),

snapshots AS (
    SELECT snapshot_date, role FROM work.snapshot_dates
),

products AS (
    SELECT product_id, list_price, unit FROM raw.products
),

product_usage AS (
    SELECT
        snapshot_date, account_id, product_id, active_users_30d, active_users_90d, active_users_180d,
        usage_trend, usage_trend_90d
    FROM work.usage_features
    WHERE product_id IS NOT NULL
),

account_usage AS (
    SELECT
        snapshot_date,
        account_id,
        CAST(sum(CAST(active_users_90d AS DECIMAL(38, 9))) AS DOUBLE) AS account_active_users_90d,
        sum(events_90d) AS account_events_90d
    FROM work.usage_features
    GROUP BY snapshot_date, account_id
),

product_engagement AS (
    SELECT
        snapshot_date,
        account_id,
        round(ln(events_per_user_90d), 9)
            - round(quantile_cont(round(ln(events_per_user_90d), 9), 0.5)
                OVER (PARTITION BY snapshot_date, product_id), 10)
            AS engagement
    FROM work.usage_features
    WHERE product_id IS NOT NULL AND events_per_user_90d > 0
),

account_engagement AS (
    SELECT
        snapshot_date,
        account_id,
        -- the mean of values on a grid of 1e-10, added as integers and divided once: the same bits
        -- on every engine (rounding the mean to a number of decimals would leave ties to each
        -- engine's rounding)
        CAST(sum(CAST(round(engagement * 1e10) AS BIGINT)) AS DOUBLE) / count(*) / 1e10 AS engagement
    FROM product_engagement
    GROUP BY snapshot_date, account_id
),

account_growth AS (
    -- money-like sums as DECIMAL: the result does not depend on the order rows are added in
    SELECT
        snapshot_date,
        account_id,
        round(ln((1 + CAST(sum(CAST(active_users_90d AS DECIMAL(38, 9))) AS DOUBLE))
            / (1 + CAST(sum(CAST(active_users_90d_year_ago AS DECIMAL(38, 9))) AS DOUBLE))), 9) AS growth
    FROM work.usage_features
    WHERE product_id IS NOT NULL AND active_users_90d IS NOT NULL AND active_users_90d_year_ago IS NOT NULL
    GROUP BY snapshot_date, account_id
),

account_slope AS (
    SELECT
        snapshot_date,
        account_id,
        CAST(sum(CAST(round(usage_slope_1y, 9) AS DECIMAL(18, 9))) AS DOUBLE) / count(*) AS slope
    FROM work.usage_features
    WHERE product_id IS NOT NULL AND usage_slope_1y IS NOT NULL
    GROUP BY snapshot_date, account_id
),

account_trends AS (
    -- growth set against the snapshot's other accounts (their median). The median of values of 9
    -- decimals may be the mean of two of them, a value of 10 decimals ending in 5: rounded to 10
    -- decimals (not 9, where it would sit on the rounding boundary and the engines' last bits
    -- would decide), so that DuckDB and Spark give the same value
    SELECT
        st.snapshot_date,
        st.account_id,
        round(g.growth - round(quantile_cont(g.growth, 0.5) OVER (PARTITION BY st.snapshot_date), 10), 10)
            AS account_usage_growth,
        round(sl.slope - round(quantile_cont(sl.slope, 0.5) OVER (PARTITION BY st.snapshot_date), 10), 10)
            AS account_usage_slope,
        e.engagement AS account_engagement
    FROM state AS st
    LEFT JOIN account_growth AS g USING (snapshot_date, account_id)
    LEFT JOIN account_slope AS sl USING (snapshot_date, account_id)
    LEFT JOIN account_engagement AS e USING (snapshot_date, account_id)
),

deal_coverage AS (
    -- days before each snapshot that the closed expansion deals of the data cover
    SELECT s.snapshot_date, datediff('day', min(o.close_date), s.snapshot_date) AS covered_days
    FROM snapshots AS s
    JOIN raw.opportunities AS o
        ON o.type = 'expansion' AND o.stage IN ('won', 'lost') AND o.close_date < s.snapshot_date
    GROUP BY s.snapshot_date
),

seats_held AS (
    SELECT snapshot_date, account_id, product_id, quantity FROM work.holdings
),

account_seats AS (
    SELECT snapshot_date, account_id, sum(quantity) AS seats
    FROM work.holdings
    WHERE unit = 'seat'
    GROUP BY snapshot_date, account_id
),

wins AS (
    SELECT
        i.snapshot_date,
        i.account_id,
        i.product_id,
        CAST(sum(CAST(o.amount AS DECIMAL(38, 6))) AS DOUBLE) AS won_amount
    FROM items AS i
    JOIN snapshots AS s ON s.snapshot_date = i.snapshot_date AND s.role = 'train'
    JOIN raw.opportunities AS o
        ON o.account_id = i.account_id
        AND o.product_id = i.product_id
        AND o.type = 'expansion'
        AND o.stage = 'won'
        AND o.close_date >= i.snapshot_date
        AND o.close_date < CAST(i.snapshot_date + INTERVAL ($horizon_months) MONTH AS DATE)
    GROUP BY i.snapshot_date, i.account_id, i.product_id
)

SELECT
    i.snapshot_date,
    s.role,
    i.account_id,
    i.product_id,
    i.kind,
    i.whitespace,
    round(ln(1 + i.whitespace), 9) AS log_whitespace,
    round(ln(1 + i.units), 9) AS log_units,
    round(ln(1 + i.price_used), 9) AS log_price_used,
    round(ln(1 + i.benchmark), 9) AS log_benchmark,
    i.peer_share,
    round(ln(1 + i.units_held), 9) AS log_units_held,
    round(ln(1 + i.potential_units), 9) AS log_potential_units,
    round(ln(1 + st.known_employees), 9) AS log_employees,
    round(ln(1 + p.list_price), 9) AS log_list_price,
    p.unit,
    st.segment,
    st.industry,
    st.region,
    st.size_band,
    round(ln(1 + st.acv), 9) AS log_acv,
    st.acv_growth,
    st.products_held,
    st.tenure_days,
    st.days_to_renewal,
    st.prior_expansion_wins,
    st.prior_expansion_losses,
    st.days_since_last_win,
    round(ln(1 + st.open_pipeline), 9) AS log_open_pipeline,
    pu.active_users_90d / nullif(h.quantity, 0) AS seat_utilisation,
    round(ln(1 + pu.active_users_30d), 9) AS log_active_users_30d,
    round(ln(1 + pu.active_users_90d), 9) AS log_active_users_90d,
    round(ln(1 + pu.active_users_180d), 9) AS log_active_users_180d,
    pu.usage_trend,
    pu.usage_trend_90d,
    round(ln(1 + au.account_active_users_90d), 9) AS log_account_active_users,
    au.account_active_users_90d / nullif(sx.seats, 0) AS account_utilisation,
    tr.account_usage_growth,
    tr.account_usage_slope,
    tr.account_engagement,
    CASE WHEN least(st.tenure_days, dc.covered_days) >= $deal_rate_min_days
        THEN round((st.prior_expansion_wins + st.prior_expansion_losses) * 365.25
            / least(st.tenure_days, dc.covered_days), 9)
    END AS expansion_deal_rate,
    CASE WHEN st.prior_expansion_wins + st.prior_expansion_losses > 0
        THEN round(st.prior_expansion_wins / (st.prior_expansion_wins + st.prior_expansion_losses), 9)
    END AS expansion_win_rate,
    CASE WHEN s.role = 'train' THEN CAST(w.won_amount IS NOT NULL AS INTEGER) END AS label,
    CASE WHEN s.role = 'train' THEN coalesce(w.won_amount, 0) END AS won_amount
FROM items AS i
JOIN snapshots AS s USING (snapshot_date)
JOIN state AS st USING (snapshot_date, account_id)
JOIN products AS p USING (product_id)
LEFT JOIN product_usage AS pu USING (snapshot_date, account_id, product_id)
LEFT JOIN seats_held AS h USING (snapshot_date, account_id, product_id)
LEFT JOIN account_usage AS au USING (snapshot_date, account_id)
LEFT JOIN account_seats AS sx USING (snapshot_date, account_id)
LEFT JOIN account_trends AS tr USING (snapshot_date, account_id)
LEFT JOIN deal_coverage AS dc USING (snapshot_date)
LEFT JOIN wins AS w USING (snapshot_date, account_id, product_id)
