-- account_state: what was known about each account on each snapshot date.
-- Grain: (snapshot_date, account_id); key of the same name. known_employees = employees when
-- above 0, else NULL (an account of unknown size for peer benchmarks). Only data dated strictly before
-- the snapshot is used (a subscription line counts as the contract says: active on a date d when
-- start_date <= d < end_date). Money: annual ARR. Training snapshots keep a seeded sample of
-- accounts (md5 of account_id and seed against train_sample_cutoff) to bound the training panel;
-- the plan snapshot keeps all. account_name, owner_id, csm_id and locked are the accounts table's
-- current values on every snapshot; the plan-date rows carry them to account_eev, the territories
-- and the plan checks, which do not read raw.accounts themselves. segment: the segment that names the
-- account (work.segment_accounts, named), else the band holding its ACV that takes it (a restricted band
-- only takes the accounts work.segment_accounts lists for it; settings and the segment check leave one).
WITH snapshots AS (
    SELECT snapshot_date, role FROM work.snapshot_dates
),

accounts AS (
    SELECT * FROM raw.accounts
),

subscriptions AS (
    -- money and usage are summed as DECIMAL: a total does not depend on the order rows are added in,
    -- so DuckDB and Spark give the same double bit for bit
    SELECT account_id, product_id, CAST(arr AS DECIMAL(38, 6)) AS arr, start_date, end_date FROM raw.subscriptions
),

expansion_deals AS (
    SELECT account_id, created_date, close_date, stage, CAST(amount AS DECIMAL(38, 6)) AS amount
    FROM raw.opportunities
    WHERE type = 'expansion'
),

bands AS (
    SELECT segment, min_acv, max_acv, restricted FROM work.segment_bands
),

named AS (
    SELECT account_id, segment FROM work.segment_accounts WHERE named
),

dimension_members AS (
    SELECT account_id, segment FROM work.segment_accounts WHERE NOT named
),

account_snapshots AS (
    SELECT s.snapshot_date, s.role, a.*
    FROM snapshots AS s
    CROSS JOIN accounts AS a
    WHERE s.role = 'plan'
        OR substr(md5(concat(a.account_id, ':', CAST($seed AS VARCHAR))), 1, 8) <= $train_sample_cutoff
),

acv AS (
    SELECT
        x.snapshot_date,
        x.account_id,
        sum(s.arr) FILTER (
            WHERE s.start_date <= x.snapshot_date
                AND (s.end_date IS NULL OR s.end_date > x.snapshot_date)
        ) AS acv,
        sum(s.arr) FILTER (
            WHERE s.start_date <= CAST(x.snapshot_date - INTERVAL 12 MONTH AS DATE)
                AND (s.end_date IS NULL OR s.end_date > CAST(x.snapshot_date - INTERVAL 12 MONTH AS DATE))
        ) AS acv_12m_ago,
        count(DISTINCT s.product_id) FILTER (
            WHERE s.start_date <= x.snapshot_date
                AND (s.end_date IS NULL OR s.end_date > x.snapshot_date)
        ) AS products_held
    FROM account_snapshots AS x
    JOIN subscriptions AS s ON s.account_id = x.account_id
    GROUP BY x.snapshot_date, x.account_id
),

deal_history AS (
    SELECT
        x.snapshot_date,
        x.account_id,
        count(*) FILTER (WHERE d.stage = 'won' AND d.close_date < x.snapshot_date) AS prior_expansion_wins,
        count(*) FILTER (WHERE d.stage = 'lost' AND d.close_date < x.snapshot_date) AS prior_expansion_losses,
        datediff('day', max(d.close_date) FILTER (WHERE d.stage = 'won' AND d.close_date < x.snapshot_date),
            x.snapshot_date) AS days_since_last_win,
        coalesce(sum(d.amount) FILTER (
            WHERE d.created_date < x.snapshot_date
                AND (d.close_date IS NULL OR d.close_date >= x.snapshot_date)
        ), 0) AS open_pipeline
    FROM account_snapshots AS x
    JOIN expansion_deals AS d ON d.account_id = x.account_id AND d.created_date < x.snapshot_date
    GROUP BY x.snapshot_date, x.account_id
),

renewal AS (
    -- next renewal on or after the snapshot: the given renewal_date on the plan date when it
    -- is still ahead, otherwise the next anniversary of it (contracts renew yearly)
    SELECT
        snapshot_date,
        account_id,
        CASE
            WHEN role = 'plan' AND renewal_date >= snapshot_date THEN renewal_date
            ELSE CAST(renewal_date + INTERVAL (
                year(snapshot_date) - year(renewal_date)
                + CASE WHEN renewal_date + INTERVAL (year(snapshot_date) - year(renewal_date)) YEAR
                    < snapshot_date THEN 1 ELSE 0 END) YEAR AS DATE)
        END AS next_renewal_date
    FROM account_snapshots
    WHERE renewal_date IS NOT NULL
),

state AS (
    SELECT
        x.snapshot_date,
        x.role,
        x.account_id,
        coalesce(x.industry, 'unknown') AS industry,
        coalesce(x.region, 'unknown') AS region,
        x.employees,
        CASE WHEN x.employees > 0 THEN x.employees END AS known_employees,
        CASE
            WHEN x.employees IS NULL THEN 'unknown'
            ELSE CAST($size_band_labels[array_length(list_filter($size_band_edges, lambda e: e <= x.employees)) + 1] AS VARCHAR)
        END AS size_band,
        datediff('day', x.customer_since, x.snapshot_date) AS tenure_days,
        CAST(coalesce(a.acv, 0) AS DOUBLE) AS acv,
        CAST(coalesce(a.acv_12m_ago, 0) AS DOUBLE) AS acv_12m_ago,
        coalesce(a.products_held, 0) AS products_held,
        r.next_renewal_date,
        datediff('day', x.snapshot_date, r.next_renewal_date) AS days_to_renewal,
        coalesce(d.prior_expansion_wins, 0) AS prior_expansion_wins,
        coalesce(d.prior_expansion_losses, 0) AS prior_expansion_losses,
        d.days_since_last_win,
        CAST(coalesce(d.open_pipeline, 0) AS DOUBLE) AS open_pipeline,
        x.owner_id,
        x.csm_id,
        x.account_name,
        x.locked
    FROM account_snapshots AS x
    LEFT JOIN acv AS a USING (snapshot_date, account_id)
    LEFT JOIN deal_history AS d USING (snapshot_date, account_id)
    LEFT JOIN renewal AS r USING (snapshot_date, account_id)
    WHERE x.role = 'plan' OR coalesce(a.acv, 0) > 0
)

SELECT
    state.*,
    CASE WHEN state.acv_12m_ago > 0 THEN state.acv / state.acv_12m_ago - 1 END AS acv_growth,
    coalesce(named.segment, bands.segment) AS segment
FROM state
-- the band holding the account's ACV that takes it (exactly one: pipeline/staging/segments.py checks it)
JOIN bands ON state.acv >= bands.min_acv AND (bands.max_acv IS NULL OR state.acv < bands.max_acv)
LEFT JOIN dimension_members AS m ON m.account_id = state.account_id AND m.segment = bands.segment
LEFT JOIN named ON named.account_id = state.account_id
WHERE NOT bands.restricted OR m.account_id IS NOT NULL
ORDER BY state.snapshot_date, state.account_id
