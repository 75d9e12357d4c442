-- scored_whitespace: the plan's whitespace items with their close probability and EEV.
-- Grain: (account_id, product_id, kind) on the plan date. eev = whitespace x p_close x capture
-- (capture: share of an item's whitespace that a won deal books; 1 = textbook EEV).
WITH plan_items AS (
    SELECT w.*
    FROM work.whitespace_items AS w
    JOIN work.snapshot_dates AS s ON s.snapshot_date = w.snapshot_date AND s.role = 'plan'
),

scores AS (
    SELECT account_id, product_id, kind, p_close, capture FROM work.item_scores
)

SELECT
    i.account_id,
    i.product_id,
    i.kind,
    i.whitespace,
    s.p_close,
    s.capture,
    i.whitespace * s.p_close * s.capture AS eev,
    i.units,
    i.price_used,
    i.peer_level,
    i.peer_count,
    i.percentile,
    i.benchmark,
    i.reason,
    i.peer_share
FROM plan_items AS i
JOIN scores AS s USING (account_id, product_id, kind)
ORDER BY i.account_id, i.product_id, i.kind
