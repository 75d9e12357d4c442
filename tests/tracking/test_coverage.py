"""Pipeline coverage over the coverage window and the plan year, through the real SQL on real
DuckDB files: a hand-built plan (tests/tracking/hand_plan.py) with known answers, then the sample
plan run (letters, report, tracking and quota phasing agree on the plan year).

The hand-built plan starts 2026-01-01 with flat phasing; tracked through 2026-03-31 the window is
2026-04-01 .. 2026-09-30 (the rest of plan quarter 2, which that day opens, plus quarter 3), half
the year: R1's window quota is 120,000 / 2 = 60,000, R2's and R3's 50,000, R4's 5,000. Deals are
ae_sourced (the rep is credited 80% of the amount) unless a test says otherwise."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import duckdb
import pytest

from pipeline.core import warehouse
from pipeline.core.settings import plan_year_end
from pipeline.exports.documents import render_letters
from pipeline.exports.sheets import load_plan_tables
from pipeline.exports.summary import tracking_summary
from pipeline.runner import PlanOutcome
from tests.builders import deal
from tests.tracking.hand_plan import PLAN_START, QUOTAS, Query, track, tracking_settings

COVERAGE_SQL = "SELECT rep_id, window_pipeline, window_quota, coverage, flag FROM work.pipeline_coverage"


def open_deal(opportunity_id: str, amount: float, owner_id: str, expected_close_date: str = "",
              created_date: str = "2026-03-01", **more: str) -> dict:
    """An open expansion deal with the CRM's expected close date (empty: none)."""
    return {**deal(opportunity_id, amount, owner_id=owner_id, stage="open", close_date="", created_date=created_date),
            "expected_close_date": expected_close_date, **more}


def _coverage(query: Query) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in query(COVERAGE_SQL)}


def test_window_coverage_at_exactly_3x_and_2x_and_just_below(tmp_path: Path):
    query = track(tmp_path, [
        open_deal("P1", 225_000, "R1", "2026-05-01"),   # 180,000 credit / 60,000 = exactly 3x
        open_deal("P2", 187_499, "R2", "2026-06-01"),   # 149,999.20 / 50,000: just below 3x
        open_deal("P3", 125_000, "R3", "2026-09-30"),   # 100,000 / 50,000 = exactly 2x
        open_deal("P4", 12_499, "R4", "2026-04-01"),    # 9,999.20 / 5,000: just below 2x
    ])
    got = _coverage(query)
    # the thresholds are inclusive: at 3x healthy, at 2x a warning (not urgent)
    assert got["R1"] == (180_000.0, 60_000.0, 3.0, "healthy")
    assert got["R2"] == pytest.approx((149_999.2, 50_000.0, 2.999984, "warning"))
    assert got["R3"] == (100_000.0, 50_000.0, 2.0, "warning")
    assert got["R4"] == pytest.approx((9_999.2, 5_000.0, 1.99984, "urgent"))
    assert got["R5"] == (0.0, 0.0, None, "no_quota")
    # other thresholds (settings): exactly at the urgent threshold is still only a warning
    strict = track(tmp_path / "strict", [open_deal("P1", 225_000, "R1", "2026-05-01")],
                   tracking_settings(coverage_warning=3.5, coverage_urgent=3.0))
    assert _coverage(strict)["R1"][2:] == (3.0, "warning")


def test_a_rep_ahead_of_pace_with_thin_pipeline_is_never_urgent(tmp_path: Path):
    # through 2026-03-31 the year-to-date quota is a quarter of the year: R1 30,000, R2 and R3 25,000
    query = track(tmp_path, [
        deal("W1", 37_500, owner_id="R1"),                # 30,000 credited: exactly on pace
        deal("W2", 62_500, owner_id="R2"),                # 50,000: ahead of pace
        open_deal("P2", 125_000, "R2", "2026-07-15"),     # 100,000 / 50,000 = 2x
        deal("W3", 31_249, owner_id="R3"),                # 24,999.20: just behind pace
        deal("W4", 12_500, owner_id="R4"),                # 10,000: R4's whole year
    ])
    rows = {r[0]: r[1:] for r in query(
        "SELECT rep_id, credited_ytd, ytd_quota, ahead_of_pace, coverage, flag FROM work.pipeline_coverage")}
    assert rows["R1"] == (30_000.0, 30_000.0, True, 0.0, "ahead_of_pace")   # no pipeline at all, not urgent
    assert rows["R2"] == (50_000.0, 25_000.0, True, 2.0, "warning")         # ahead keeps its coverage flag
    assert rows["R3"] == pytest.approx((24_999.2, 25_000.0, False, 0.0, "urgent"))
    assert rows["R4"] == (10_000.0, 2_500.0, True, 0.0, "quota_met")


def test_deals_closing_outside_the_window_or_unqualified_are_not_counted(tmp_path: Path):
    qualified = {"pipeline_stage": "Proposal"}
    query = track(tmp_path, [
        open_deal("PAST", 10_000, "R1", "2026-03-31", **qualified),     # past due on `through`
        open_deal("FIRST", 10_000, "R1", "2026-04-01", **qualified),    # the window's first day
        open_deal("LAST", 20_000, "R1", "2026-09-30", **qualified),     # its last day
        open_deal("AFTER", 40_000, "R1", "2026-10-01", **qualified),    # the day after the window
        open_deal("NEXT", 80_000, "R1", "2027-01-15", **qualified),     # after the plan year
        open_deal("EARLY", 160_000, "R1", "2026-05-01", pipeline_stage="Discovery"),  # not qualified yet
        open_deal("NOSTAGE", 320_000, "R1", "2026-05-01"),              # no stage: not qualified
        # won after `through`: open on that day; its actual close date is not an expected one
        {**deal("LATER", 640_000, owner_id="R1", close_date="2026-05-05", created_date="2026-03-01"),
         "pipeline_stage": "Proposal"},
    ], tracking_settings(qualified_stages=["Proposal", "Negotiation"]))
    row = query("SELECT open_deals, open_pipeline, qualified_pipeline, window_deals, window_pipeline, window_quota, "
                "coverage, flag FROM work.pipeline_coverage WHERE rep_id = 'R1'")[0]
    assert row == pytest.approx((8, 1_280_000, 0.8 * (10_000 + 10_000 + 20_000 + 40_000 + 80_000 + 640_000),
                                 2, 0.8 * 30_000, 60_000, 0.4, "urgent"))
    deals = dict(query("SELECT opportunity_id, qualified FROM work.expansion_deals"))
    assert [d for d, q in sorted(deals.items()) if not q] == ["EARLY", "NOSTAGE"]
    assert query("SELECT expected_close_date, expected_close_from FROM work.expansion_deals "
                 "WHERE opportunity_id = 'LATER'") == [(None, None)]  # no won history to estimate from
    # without qualified_stages every open deal is qualified: EARLY and NOSTAGE join the window
    every = track(tmp_path / "every", [open_deal("EARLY", 160_000, "R1", "2026-05-01", pipeline_stage="Discovery"),
                                       open_deal("NOSTAGE", 320_000, "R1", "2026-05-01")])
    assert _coverage(every)["R1"][0] == pytest.approx(0.8 * 480_000)


def test_expected_close_from_the_typical_sales_cycle(tmp_path: Path):
    def won(opportunity_id: str, cycle_days: int, close: dt.date = dt.date(2025, 6, 1)) -> dict:
        return deal(opportunity_id, 1_000, close_date=str(close), created_date=str(close - dt.timedelta(cycle_days)))

    through = dt.date(2026, 3, 31)

    def opened(opportunity_id: str, age_days: int) -> dict:
        return open_deal(opportunity_id, 50_000, "R1", created_date=str(through - dt.timedelta(age_days)))

    query = track(tmp_path, [
        won("C30", 30), won("C60", 60), won("C90", 90), won("C120", 120),
        won("LATE", 200, close=dt.date(2026, 5, 1)),   # won after `through`: not known then
        {**won("LOST", 400), "stage": "lost"},          # lost deals are no sales cycle
        opened("A50", 50),      # won cycles longer than 50 days: 60, 90, 120 -> median 90
        opened("A100", 100),    # longer than 100: 120
        opened("A130", 130),    # no won deal took that long: no expected close, not counted
        {**opened("CRM", 50), "expected_close_date": "2026-12-01"},  # the CRM's date wins
    ])
    got = {r[0]: r[1:] for r in query("SELECT opportunity_id, expected_close_date, expected_close_from "
                                      "FROM work.expansion_deals WHERE status = 'open'")}
    assert got == {
        "A50": (through - dt.timedelta(50) + dt.timedelta(90), "typical_cycle"),    # 2026-05-10
        "A100": (through - dt.timedelta(100) + dt.timedelta(120), "typical_cycle"),  # 2026-04-20
        "A130": (None, None),
        "CRM": (dt.date(2026, 12, 1), "crm"),
        "LATE": (None, None),  # open on `through`, its actual close date unused; 169 days old: no estimate
    }
    assert _coverage(query)["R1"][:1] == (0.8 * 100_000,)  # A50 and A100 fall in the window


@pytest.mark.parametrize(("through", "next_quarters", "window", "months_in_window"), [
    (dt.date(2026, 3, 31), 1, ("2026-04-01", "2026-10-01"), 6),            # quarter 2 starts the next day
    (dt.date(2026, 3, 30), 1, ("2026-03-31", "2026-07-01"), 3 + 1 / 31),   # last day of quarter 1 + quarter 2
    (dt.date(2026, 4, 15), 1, ("2026-04-16", "2026-10-01"), 5 + 15 / 30),
    (dt.date(2026, 4, 15), 0, ("2026-04-16", "2026-07-01"), 2 + 15 / 30),  # the rest of the quarter only
    (dt.date(2026, 4, 15), 3, ("2026-04-16", "2027-01-01"), 8 + 15 / 30),  # clipped to the plan year
    (dt.date(2026, 11, 15), 1, ("2026-11-16", "2027-01-01"), 1 + 15 / 30),
    (dt.date(2026, 12, 31), 1, ("2027-01-01", "2027-01-01"), 0),           # the year is over: no window
])
def test_the_window_follows_through_and_the_setting(tmp_path: Path, through: dt.date, next_quarters: int,
                                                     window: tuple[str, str], months_in_window: float):
    query = track(tmp_path, [], tracking_settings(coverage_next_quarters=next_quarters), through=through)
    rows = query("SELECT rep_id, window_start, window_end, window_quota, flag FROM work.pipeline_coverage")
    assert {(str(r[1]), str(r[2])) for r in rows} == {window}
    quota = {r[0]: r[3] for r in rows}
    assert quota == pytest.approx({rep: q * months_in_window / 12 for rep, (_, q) in QUOTAS.items()})
    assert {r[0]: r[4] for r in rows}["R1"] == ("no_window_quota" if months_in_window == 0 else "urgent")


def test_seasonal_phasing_sets_the_window_quota(tmp_path: Path):
    old = {"created_date": "2022-01-01"}
    history = [deal("H4", 300, close_date="2025-04-10", **old), deal("H12", 100, close_date="2024-12-05", **old)]
    query = track(tmp_path, history, tracking_settings(phasing="seasonal"))
    # 75% of the year's quota falls in April, inside the window; December's 25% does not
    assert _coverage(query)["R1"][1] == pytest.approx(0.75 * 120_000)


@pytest.mark.parametrize("start", [dt.date(2026, 1, 1), dt.date(2024, 2, 29), dt.date(2025, 3, 31),
                                   dt.date(2025, 8, 31), dt.date(2025, 12, 31)])
def test_the_plan_year_ends_where_the_sql_says(start: dt.date):
    """plan_year_end (letters, report, tracking) is the end of quota_phasing's 12th month."""
    assert duckdb.sql(f"SELECT CAST(DATE '{start}' + to_months(12) AS DATE)").fetchone()[0] == plan_year_end(start)


def _h1_period(html: str) -> tuple[str, str]:
    return re.search(r"<h1>Expansion quota (\S+) to (\S+)</h1>", html).groups()


def test_letters_report_and_tracking_agree_on_the_plan_year(sample_plan: PlanOutcome):
    with warehouse.connect(sample_plan.db, read_only=True) as con:
        start, end = con.execute("SELECT plan_start, plan_end FROM main.tracking_runs").fetchone()
        phased = con.execute("SELECT min(month_start), max(month_end) FROM main.quota_phasing").fetchone()
        attained = con.execute("SELECT min(period_start), max(period_end) FROM main.attainment "
                               "WHERE period = 'quarter'").fetchone()
        tables = load_plan_tables(con)
        summary = tracking_summary(con, tables.settings)
    last = end - dt.timedelta(days=1)
    assert (start, end) == (PLAN_START, plan_year_end(PLAN_START)) and phased == (start, end)
    assert attained[0] == start and attained[1] <= end
    period = (str(start), str(last))
    folder = warehouse.output_dir(sample_plan.db, "exports") / sample_plan.plan_id
    letters = sorted((folder / "letters").glob("*.html"))
    assert letters and {_h1_period(p.read_text()) for p in letters} == {period}
    assert f"Plan period {start} to {last}" in (folder / "report.html").read_text()
    assert f"(plan year {start} to {last})" in summary[0]
    # the period is the plan year, whatever the model's label horizon (it was the horizon before)
    short = dataclasses.replace(tables, settings=tables.settings.model_copy(
        update={"model": tables.settings.model.model_copy(update={"horizon_months": 3})}))
    assert {_h1_period(html) for html in render_letters(short).values()} == {period}


def test_sample_coverage_identities_and_no_urgent_rep_ahead_of_pace(sample_plan: PlanOutcome):
    with warehouse.connect(sample_plan.db, read_only=True) as con:
        assert con.execute("""
            SELECT count(*) FROM main.pipeline_coverage
            WHERE window_pipeline > qualified_pipeline + 1e-6 OR qualified_pipeline > open_pipeline + 1e-6
               OR (window_quota > 0 AND abs(coverage - window_pipeline / window_quota) > 1e-9)
               OR ahead_of_pace <> (credited_ytd >= ytd_quota)
               OR (flag = 'urgent' AND (ahead_of_pace OR coverage >= ?))""",
            [tracking_settings().tracking.coverage_urgent]).fetchone() == (0,)
        # window_pipeline is the rep credit of the qualified open deals expected in the window
        assert con.execute("""
            SELECT count(*) FROM main.pipeline_coverage AS c
            LEFT JOIN (SELECT d.rep_id, sum(d.amount * d.rep_share) AS credit FROM main.expansion_deals AS d
                       JOIN (SELECT DISTINCT window_start, window_end FROM main.pipeline_coverage) AS w
                         ON d.expected_close_date >= w.window_start AND d.expected_close_date < w.window_end
                       WHERE d.qualified GROUP BY 1) AS e USING (rep_id)
            WHERE abs(c.window_pipeline - coalesce(e.credit, 0)) > 1e-6""").fetchone() == (0,)
        assert con.execute("SELECT count(*) FILTER (WHERE expected_close_from = 'typical_cycle'), count(*) "
                           "FROM main.expansion_deals WHERE status = 'open'").fetchone()[0] > 0


def _rows_of(lines: list[str], first_words: set[str]) -> list[list[str]]:
    """The summary's table rows (split into words) whose first word is one of `first_words`."""
    return [line.split() for line in lines if line.split()[:1] and line.split()[0] in first_words]


def test_tracking_summary_with_more_reps_than_lines_gives_segments_then_the_reps_most_behind(
        sample_plan: PlanOutcome):
    with warehouse.connect(sample_plan.db, read_only=True) as con:
        settings = load_plan_tables(con).settings
        every = tracking_summary(con, settings)
        capped = tracking_summary(con, settings.model_copy(
            update={"exports": settings.exports.model_copy(update={"summary_rep_lines": 2})}))
        reps = con.execute(
            "SELECT rep_id, segment, flag, list_position(['urgent', 'warning'], flag) AS rank, coverage "
            "FROM main.pipeline_coverage ORDER BY rank NULLS LAST, coverage NULLS LAST").fetchall()
    rep_ids = {rep for rep, *_ in reps}
    behind = {rep: (rank, coverage) for rep, _, _, rank, coverage in reps}
    assert sorted(r[0] for r in _rows_of(every, rep_ids)) == sorted(rep_ids) and len(reps) > 2  # all, when they fit
    most_behind = [behind[r[0]] for r in _rows_of(capped, rep_ids)]
    assert most_behind == [behind[reps[0][0]], behind[reps[1][0]]]  # the two most behind, in that order
    assert f"the 2 of {len(reps):,} reps most behind" in "\n".join(capped)
    segment_rows = {r[0]: r for r in _rows_of(capped, {segment for _, segment, *_ in reps})}
    assert segment_rows
    for segment, row in segment_rows.items():  # reps, urgent and warning counted per segment
        flags = [flag for _, s, flag, *_ in reps if s == segment]
        assert (int(row[1]), int(row[-2]), int(row[-1])) == (
            len(flags), flags.count("urgent"), flags.count("warning"))
    assert sum(int(row[1]) for row in segment_rows.values()) == len(reps)
