-- scored_whitespace: the plan's whitespace items with their close probability, expected amount and EEV.
-- Grain: (account_id, product_id, kind) on the plan date. Money: annual ARR.
--   p_close          P(the item is won within the horizon), 0-1 (the close-probability model)
--   expected_amount  E[booked amount | won] (the amount model; amount_basis says how it was set:
--                    learned, median (too few won deals of the kind), ceiling (capped at the
--                    whitespace), whitespace (no won deal in the history) or textbook
--                    (model.expected_amount = whitespace: the amount is the whitespace))
--   eev              p_close x expected_amount: the item's expected booking
--   capture          expected_amount / whitespace, the share of the whitespace a win is expected
--                    to book (NULL when the whitespace is 0); eev = whitespace x p_close x capture
--   reason           the whitespace's reason, then how the EEV is made of its two parts
WITH plan_items AS (
    SELECT w.*
    FROM work.whitespace_items AS w
    JOIN work.snapshot_dates AS s ON s.snapshot_date = w.snapshot_date AND s.role = 'plan'
),

scores AS (
    SELECT account_id, product_id, kind, p_close, expected_amount, amount_basis FROM work.item_scores
),

scored AS (
    SELECT
        i.*,
        s.p_close,
        s.expected_amount,
        s.amount_basis,
        s.p_close * s.expected_amount AS eev
    FROM plan_items AS i
    JOIN scores AS s USING (account_id, product_id, kind)
)

SELECT
    account_id,
    product_id,
    kind,
    whitespace,
    p_close,
    expected_amount,
    amount_basis,
    expected_amount / nullif(whitespace, 0) AS capture,
    eev,
    units,
    price_used,
    peer_level,
    peer_count,
    percentile,
    benchmark,
    reason || format('. EEV {:,.0f} = {:.1f}% close probability x {:,.0f} booked if won ({})',
        round(CAST(eev AS DECIMAL(18, 6))), round(CAST(100 * p_close AS DECIMAL(18, 6)), 1),
        round(CAST(expected_amount AS DECIMAL(18, 6))),
        CASE amount_basis
            WHEN 'learned' THEN format('learned from won {} deals of accounts like this one', kind)
            WHEN 'median' THEN format('median won {} deal: too few won deals of the kind to learn from', kind)
            WHEN 'ceiling' THEN 'the learned amount capped at the whitespace'
            WHEN 'whitespace' THEN 'the whitespace: no won deal in the history'
            ELSE 'the whitespace (textbook EEV)'
        END) AS reason,
    peer_share
FROM scored
ORDER BY account_id, product_id, kind
