-- account_eev: one row per account on the plan date.
-- Key: account_id. acv = ARR of the lines active on the plan date; segment from the ACV bands
-- (self_serve below the first band, not assigned to a rep); whitespace and eev = sums over the
-- account's whitespace items (0 when it has none). Blackout window: the blackout_days before the
-- next renewal, inclusive of blackout_start and blackout_end (= the day before renewal).
-- joint_planning: ACV above the joint-planning threshold. eev_exceeds_acv: EEV above
-- eev_acv_flag_multiple x ACV (an expected year of expansion larger than that multiple of what the
-- account pays today: check the items before setting a quota on it).
WITH plan_state AS (
    SELECT * FROM work.account_state WHERE role = 'plan'
),

items AS (  -- exact sums (docs/method.md)
    SELECT
        account_id,
        count(*) AS whitespace_items,
        CAST(sum(CAST(whitespace AS DECIMAL(38, 6))) AS DOUBLE) AS whitespace,
        CAST(sum(CAST(eev AS DECIMAL(38, 6))) AS DOUBLE) AS eev
    FROM work.scored_whitespace
    GROUP BY account_id
)

SELECT
    st.account_id,
    st.account_name,
    st.acv,
    st.segment,
    coalesce(i.whitespace, 0) AS whitespace,
    coalesce(i.eev, 0) AS eev,
    coalesce(i.whitespace_items, 0) AS whitespace_items,
    st.next_renewal_date AS renewal_date,
    CAST(st.next_renewal_date - to_days($blackout_days) AS DATE) AS blackout_start,
    CAST(st.next_renewal_date - INTERVAL 1 DAY AS DATE) AS blackout_end,
    st.acv > $joint_planning_min_acv AS joint_planning,
    coalesce(i.eev, 0) > $eev_acv_flag_multiple * st.acv AS eev_exceeds_acv,
    st.industry,
    st.region,
    st.size_band,
    st.employees,
    st.owner_id,
    st.csm_id
FROM plan_state AS st
LEFT JOIN items AS i USING (account_id)
ORDER BY st.account_id
