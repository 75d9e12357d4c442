-- quotas: one row per active expansion rep of the plan.
-- Key: rep_id. accounts = accounts the rep owns in the plan; territory_eev = sum of eev x share
-- over the rep's quota contributions (= sum of the owned accounts' eev unless a mid-year
-- rebalance splits moved accounts by time); factor = the segment's factor as the plan resolved it
-- (work.quota_factors), or the rep's own factor its contributions apply when `quota-plan adjust`
-- set its factor or quota (quota_contributions); quota_unrounded = sum of factor x eev x share (factor x territory_eev;
-- capacity is already inside the EEV share); quota = quota_unrounded rounded to the nearest
-- multiple of quota_rounding = the exact sum of the rep's contributions.
-- A rep with no accounts gets quota 0. Balance (the one definition: the balance check, the
-- workbook, the report, territory_balance and the run summary read these columns):
-- owned_eev = sum of the eev of the accounts the rep owns in the plan (= territory_eev unless a
-- mid-year rebalance splits moved accounts by time); target_eev = the segment's owned_eev x the
-- rep's capacity / the segment's capacity; balance_deviation = owned_eev / target_eev - 1 (0 when
-- the target is 0). anchors / anchor_eev = the anchor accounts the rep owns (territories.anchor)
-- and their EEV. out_of_tolerance_reason (null when |balance_deviation| <= balance_tolerance):
-- 'anchor' = above its band because its anchors alone exceed the band's top, or below it while
-- such a rep in its segment takes the EEV it lacks (within tolerance of its capacity share of
-- what the pinned reps leave); 'locked_accounts' = the same with the rep's locked accounts and
-- anchors together; 'book_size_limits' = above its band with a book at its minimum or below it
-- with a full book (the segment's limits x capacity, as the assignment applies them);
-- 'unresolved' = none of these (no single account move brings it back).
WITH reps AS (
    SELECT rep_id, name, segment, capacity FROM work.rep_plan
),

territories AS (
    SELECT account_id, rep_id, anchor, locked FROM work.territories
),

accounts AS (
    SELECT account_id, eev FROM work.account_eev
),

limits AS (
    SELECT segment, book_min, book_max FROM work.territory_methods
),

contributions AS (
    SELECT rep_id, role, eev, eev_share, factor, contribution_unrounded, contribution FROM work.quota_contributions
),

factors AS (  -- the segment's factor as the plan resolved it: the setting, or 'auto'
    SELECT segment, factor FROM work.quota_factors
),

books AS (  -- exact sums (DECIMAL: money in millionths, capacity in trillionths; docs/method.md)
    SELECT
        rep_id,
        count(*) FILTER (WHERE role = 'owner') AS accounts,
        CAST(sum(CAST(eev_share AS DECIMAL(38, 6))) AS DOUBLE) AS territory_eev,
        CAST(sum(CAST(eev AS DECIMAL(38, 6))) FILTER (WHERE role = 'owner') AS DOUBLE) AS owned_eev,
        CAST(sum(CAST(contribution_unrounded AS DECIMAL(38, 6))) AS DOUBLE) AS quota_unrounded,
        sum(contribution) AS quota,
        max(factor) FILTER (WHERE role = 'owner') AS factor  -- one factor per rep's own accounts
    FROM contributions
    GROUP BY rep_id
),

targets AS (  -- exact window sums (docs/method.md)
    SELECT
        r.rep_id,
        CAST(sum(CAST(coalesce(b.owned_eev, 0) AS DECIMAL(38, 6))) OVER (PARTITION BY r.segment) AS DOUBLE) * r.capacity
            / CAST(sum(CAST(r.capacity AS DECIMAL(38, 12))) OVER (PARTITION BY r.segment) AS DOUBLE) AS target_eev,
        coalesce(b.owned_eev, 0) AS owned_eev
    FROM reps AS r
    LEFT JOIN books AS b USING (rep_id)
),

fixed AS (  -- per rep: the anchors it owns, and the EEV that cannot leave it (anchors and locked accounts); exact sums
    SELECT
        t.rep_id,
        count(*) FILTER (WHERE t.anchor) AS anchors,
        coalesce(CAST(sum(CAST(a.eev AS DECIMAL(38, 6))) FILTER (WHERE t.anchor) AS DOUBLE), 0) AS anchor_eev,
        coalesce(CAST(sum(CAST(a.eev AS DECIMAL(38, 6))) FILTER (WHERE t.anchor OR t.locked) AS DOUBLE), 0) AS fixed_eev
    FROM territories AS t
    JOIN accounts AS a USING (account_id)
    GROUP BY t.rep_id
),

pinned AS (  -- per rep: balance_deviation (the one definition) and whether what cannot leave it pins it above its band
    SELECT
        r.rep_id,
        r.segment,
        r.capacity,
        coalesce(b.accounts, 0) AS accounts,
        t.owned_eev,
        t.target_eev,
        CASE WHEN t.target_eev > 0 THEN t.owned_eev / t.target_eev - 1 ELSE 0 END AS balance_deviation,
        coalesce(f.anchors, 0) AS anchors,
        coalesce(f.anchor_eev, 0) AS anchor_eev,
        coalesce(f.anchor_eev, 0) > t.target_eev * (1 + $balance_tolerance) + 1e-9 AS anchor_pinned,
        coalesce(f.fixed_eev, 0) > t.target_eev * (1 + $balance_tolerance) + 1e-9 AS pinned,
        greatest(floor(m.book_max * r.capacity + 1e-9), 1) AS book_max,
        ceil(m.book_min * r.capacity - 1e-9) AS book_min
    FROM reps AS r
    JOIN targets AS t USING (rep_id)
    LEFT JOIN books AS b USING (rep_id)
    LEFT JOIN fixed AS f USING (rep_id)
    LEFT JOIN limits AS m USING (segment)
),

unpinned AS (  -- per segment: the EEV and capacity the pinned reps leave to the others (exact sums)
    SELECT
        segment,
        bool_or(pinned) AS any_pinned,
        bool_or(anchor_pinned) AS any_anchor_pinned,
        CAST(sum(CAST(owned_eev AS DECIMAL(38, 6))) FILTER (WHERE NOT pinned) AS DOUBLE) AS eev,
        CAST(sum(CAST(capacity AS DECIMAL(38, 12))) FILTER (WHERE NOT pinned) AS DOUBLE) AS capacity
    FROM pinned
    GROUP BY segment
),

reasons AS (
    SELECT
        p.rep_id,
        p.balance_deviation,
        p.anchors,
        p.anchor_eev,
        CASE
            WHEN abs(p.balance_deviation) <= $balance_tolerance + 1e-9 THEN NULL
            WHEN p.balance_deviation > 0 AND p.anchor_pinned THEN 'anchor'
            WHEN p.balance_deviation > 0 AND p.pinned THEN 'locked_accounts'
            WHEN p.balance_deviation < 0 AND u.any_pinned
                AND p.owned_eev >= u.eev * p.capacity / u.capacity * (1 - $balance_tolerance) - 1e-9
                THEN CASE WHEN u.any_anchor_pinned THEN 'anchor' ELSE 'locked_accounts' END
            WHEN (p.balance_deviation > 0 AND p.accounts <= p.book_min)
                OR (p.balance_deviation < 0 AND p.accounts >= p.book_max)
                THEN 'book_size_limits'
            ELSE 'unresolved'
        END AS out_of_tolerance_reason
    FROM pinned AS p
    JOIN unpinned AS u USING (segment)
)

SELECT
    r.rep_id,
    r.name,
    r.segment,
    r.capacity,
    coalesce(b.accounts, 0) AS accounts,
    coalesce(b.territory_eev, 0) AS territory_eev,
    coalesce(b.factor, f.factor) AS factor,
    coalesce(b.quota_unrounded, 0) AS quota_unrounded,
    CAST(coalesce(b.quota, 0) AS DOUBLE) AS quota,
    t.owned_eev,
    t.target_eev,
    o.balance_deviation,
    o.anchors,
    o.anchor_eev,
    o.out_of_tolerance_reason
FROM reps AS r
JOIN factors AS f USING (segment)
JOIN targets AS t USING (rep_id)
JOIN reasons AS o USING (rep_id)
LEFT JOIN books AS b USING (rep_id)
ORDER BY r.rep_id
