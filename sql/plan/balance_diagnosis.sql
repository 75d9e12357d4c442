-- balance_diagnosis: why reps of an expansion segment are outside the balance tolerance, and what
-- would fix it. Grain: segment x cause; key (segment, cause); a row only where reps are out of
-- tolerance. cause = their out_of_tolerance_reason (work.quotas): anchor, locked_accounts,
-- book_size_limits, unresolved. reps_out / rep_ids = those reps; largest_deviation = their largest
-- |balance_deviation|; full_rep_target_eev = one full-capacity rep's EEV target (the segment's EEV
-- / its capacity; annual money). accounts / account_ids / accounts_eev = the accounts behind the
-- cause: the segment's anchors (anchor), the locked accounts of the reps they hold above their
-- band (locked_accounts). accounts_to_split / parts_needed (anchor) = anchors larger than a
-- full-capacity rep's band (target x (1 + balance_tolerance)) and into how many parts within one
-- band they would split; reps_needed (anchor, more anchors than full-capacity reps, none too
-- large) = full-capacity reps to add so that, at the smaller targets that headcount gives, every
-- anchor has a full-capacity rep of its own and fits its band while the segment's accounts still
-- fill every book minimum (null when no headcount does it). explanation = why, fix = what would
-- fix it: sentences with the figures.
WITH reps AS (
    SELECT rep_id, segment, capacity, accounts, owned_eev, balance_deviation, out_of_tolerance_reason
    FROM work.quotas
),

territories AS (
    SELECT account_id, segment, rep_id, anchor, locked FROM work.territories
),

accounts AS (
    SELECT account_id, eev FROM work.account_eev
),

methods AS (
    SELECT segment, method, book_min, book_max FROM work.territory_methods
),

segments AS (
    SELECT
        r.segment,
        count(*) AS reps,
        CAST(sum(CAST(r.capacity AS DECIMAL(38, 12))) AS DOUBLE) AS capacity,  -- exact sums (docs/method.md)
        count(*) FILTER (WHERE r.capacity >= 1 - 1e-9) AS full_reps,
        sum(r.accounts) AS accounts,
        CAST(sum(CAST(r.owned_eev AS DECIMAL(38, 6))) AS DOUBLE) AS eev,
        CAST(sum(CAST(r.owned_eev AS DECIMAL(38, 6))) / sum(CAST(r.capacity AS DECIMAL(38, 12))) AS DOUBLE)
            AS full_rep_target_eev,
        CAST(sum(CAST(r.owned_eev AS DECIMAL(38, 6))) / sum(CAST(r.capacity AS DECIMAL(38, 12))) AS DOUBLE)
            * (1 + $balance_tolerance) AS full_band_top,
        sum(ceil(m.book_min * r.capacity - 1e-9)) AS book_min_total,
        any_value(m.book_min) AS book_min,
        any_value(m.book_max) AS book_max,
        any_value(m.method) AS method
    FROM reps AS r
    JOIN methods AS m USING (segment)
    GROUP BY r.segment
),

out_of_tolerance AS (
    SELECT
        segment,
        out_of_tolerance_reason AS cause,
        count(*) AS reps_out,
        count(*) FILTER (WHERE balance_deviation > 0) AS reps_above,
        string_agg(rep_id, ', ' ORDER BY rep_id) AS rep_ids,
        max(abs(balance_deviation)) AS largest_deviation
    FROM reps
    WHERE out_of_tolerance_reason IS NOT NULL
    GROUP BY segment, out_of_tolerance_reason
),

segment_accounts AS (
    SELECT t.account_id, t.segment, t.rep_id, t.anchor, t.locked, a.eev, s.full_band_top
    FROM territories AS t
    JOIN accounts AS a USING (account_id)
    JOIN segments AS s USING (segment)
),

anchors AS (
    SELECT
        segment,
        count(*) AS accounts,
        string_agg(account_id, ', ' ORDER BY eev DESC, account_id) AS account_ids,
        CAST(sum(CAST(eev AS DECIMAL(38, 6))) AS DOUBLE) AS accounts_eev,  -- exact sum (docs/method.md)
        max(eev) AS largest_eev,
        count(*) FILTER (WHERE eev > full_band_top) AS accounts_to_split,
        CAST(sum(ceil(eev / full_band_top)) FILTER (WHERE eev > full_band_top) AS BIGINT) AS parts_needed,
        string_agg(account_id, ', ' ORDER BY eev DESC, account_id) FILTER (WHERE eev > full_band_top) AS split_ids
    FROM segment_accounts
    WHERE anchor
    GROUP BY segment
),

locked AS (  -- the locked accounts of the reps they hold above their band
    SELECT
        a.segment,
        count(*) AS accounts,
        string_agg(a.account_id, ', ' ORDER BY a.eev DESC, a.account_id) AS account_ids,
        CAST(sum(CAST(a.eev AS DECIMAL(38, 6))) AS DOUBLE) AS accounts_eev  -- exact sum (docs/method.md)
    FROM segment_accounts AS a
    JOIN reps AS r USING (rep_id)
    WHERE a.locked AND r.out_of_tolerance_reason = 'locked_accounts' AND r.balance_deviation > 0
    GROUP BY a.segment
),

tries AS (  -- 1, 2, ... more full-capacity reps, as long as the largest anchor fits the smaller band
    SELECT
        s.segment,
        s.eev,
        s.capacity,
        s.full_reps,
        unnest(range(1, greatest(CAST(floor(s.eev * (1 + $balance_tolerance) / a.largest_eev - s.capacity) AS BIGINT),
                                 0) + 1)) AS added
    FROM segments AS s
    JOIN anchors AS a USING (segment)
    WHERE a.accounts_to_split = 0 AND a.accounts > s.full_reps
),

candidates AS (  -- accounts that are anchors at the largest headcount tried (smallest target)
    SELECT c.segment, c.eev
    FROM segment_accounts AS c
    JOIN (SELECT segment, min(eev / (capacity + added)) AS target FROM tries GROUP BY segment) AS t USING (segment)
    WHERE c.eev > $anchor_share * t.target
),

headcount AS (  -- anchors at each headcount tried, where the accounts still fill every book minimum
    SELECT t.segment, t.added, t.full_reps + t.added AS full_reps, count(c.eev) AS anchors
    FROM tries AS t
    JOIN segments AS s USING (segment)
    LEFT JOIN candidates AS c ON c.segment = t.segment AND c.eev > $anchor_share * t.eev / (t.capacity + t.added)
    WHERE s.book_min_total + t.added * s.book_min <= s.accounts
    GROUP BY t.segment, t.added, t.full_reps
),

needed AS (
    SELECT segment, min(added) AS reps_needed FROM headcount WHERE anchors <= full_reps GROUP BY segment
)

SELECT
    o.segment,
    o.cause,
    o.reps_out,
    o.rep_ids,
    o.largest_deviation,
    s.full_rep_target_eev,
    CASE o.cause WHEN 'anchor' THEN an.accounts WHEN 'locked_accounts' THEN lk.accounts END AS accounts,
    CASE o.cause WHEN 'anchor' THEN an.account_ids WHEN 'locked_accounts' THEN lk.account_ids END AS account_ids,
    CASE o.cause WHEN 'anchor' THEN an.accounts_eev WHEN 'locked_accounts' THEN lk.accounts_eev END AS accounts_eev,
    CASE WHEN o.cause = 'anchor' THEN an.accounts_to_split END AS accounts_to_split,
    CASE WHEN o.cause = 'anchor' THEN an.parts_needed END AS parts_needed,
    CASE WHEN o.cause = 'anchor' THEN n.reps_needed END AS reps_needed,
    CASE o.cause
        WHEN 'anchor' THEN format(
            '{} anchor account(s) (EEV above {:.0f}% of a full-capacity rep''s target of {:,.0f}; largest {:,.0f} '
            '= {:.2f}x that target) on {} full-capacity rep(s) keep {} rep(s) outside +/-{:.0f}% ({} above, {} '
            'below): {}',
            an.accounts, 100 * $anchor_share, s.full_rep_target_eev, an.largest_eev,
            an.largest_eev / s.full_rep_target_eev, s.full_reps, o.reps_out, 100 * $balance_tolerance,
            o.reps_above, o.reps_out - o.reps_above, o.rep_ids)
        WHEN 'locked_accounts' THEN format(
            '{} locked account(s) (EEV {:,.0f}) keep {} rep(s) outside +/-{:.0f}% ({} above, {} below): {}',
            lk.accounts, lk.accounts_eev, o.reps_out, 100 * $balance_tolerance, o.reps_above,
            o.reps_out - o.reps_above, o.rep_ids)
        WHEN 'book_size_limits' THEN format(
            '{} rep(s) at a book-size limit ({}-{} accounts per full-capacity rep) outside +/-{:.0f}%: above target '
            'with the smallest book allowed or below it with a full book: {}',
            o.reps_out, s.book_min, s.book_max, 100 * $balance_tolerance, o.rep_ids)
        ELSE format(
            '{} rep(s) outside +/-{:.0f}% with no anchor, locked account or book-size limit to blame; no single '
            'account move brings them back: {}', o.reps_out, 100 * $balance_tolerance, o.rep_ids)
    END AS explanation,
    CASE
        WHEN o.cause = 'anchor' AND an.accounts_to_split > 0 THEN format(
            'split {} into {} parts, each within one rep''s band (at most {:,.0f}); more reps would only lower the '
            'targets', an.split_ids, an.parts_needed, s.full_band_top)
        WHEN o.cause = 'anchor' AND n.reps_needed IS NOT NULL THEN format(
            'add {} full-capacity rep(s) ({} in all): one anchor each, every anchor within its band, every book '
            'still at least {} accounts per full-capacity rep', n.reps_needed, s.full_reps + n.reps_needed, s.book_min)
        WHEN o.cause = 'anchor' AND an.accounts > s.full_reps THEN format(
            'split the smallest anchors: no headcount within the book-size limits gives each of the {} anchors a '
            'full-capacity rep of its own', an.accounts)
        WHEN o.cause = 'anchor' THEN
            'give each anchor a full-capacity rep of its own: unlock the locked anchors that share a rep, or make '
            'room in a full book'
        WHEN o.cause = 'locked_accounts' THEN format(
            'unlock {} (accounts.locked, territory.locked_accounts) so they can be balanced', lk.account_ids)
        WHEN o.cause = 'book_size_limits' THEN format(
            'widen book_min / book_max of segment {} ({}-{} now)', o.segment, s.book_min, s.book_max)
        WHEN s.method = 'heuristic' THEN format(
            'let the MILP solve the segment: territory.milp_max_variables at least {} (accounts x reps)',
            s.accounts * s.reps)
        ELSE 'raise territory.milp_max_nodes, or widen territory.balance_tolerance'
    END AS fix
FROM out_of_tolerance AS o
JOIN segments AS s USING (segment)
LEFT JOIN anchors AS an USING (segment)
LEFT JOIN locked AS lk USING (segment)
LEFT JOIN needed AS n USING (segment)
ORDER BY o.segment, o.cause
