"""In-year tracking through the real SQL on real DuckDB files: tiny hand-built inputs with known
answers for every rule (attribution matrix, tier edges, exclusions, bonus, phasing), then the
sample plan end to end (plan_job, tracking_job, CLI). Pipeline coverage: test_coverage.py."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml

from pipeline.cli import main
from pipeline.core import warehouse
from pipeline.core.settings import PlanSettings, SettingsError, load_settings
from pipeline.runner import PlanOutcome
from tests.builders import account_with_acv, deal, write_inputs
from tests.tracking.hand_plan import PLAN_START, Query, track, tracking_settings


def _credits(query: Query) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in query(
        "SELECT opportunity_id, rep_credit, csm_credit, rule, source_used, source_defaulted "
        "FROM work.expansion_credits")}


def test_every_matrix_cell_and_the_tier_edges(tmp_path: Path):
    query = track(tmp_path, [
        deal("CS1", 10_000, "csm_sourced"),
        deal("CS2", 24_999.99, "csm_sourced"),
        deal("CS3", 25_000, "csm_sourced"),        # edge: 25K tier
        deal("CS4", 99_999.99, "csm_sourced"),
        deal("CS5", 100_000, "csm_sourced"),       # edge: above-100K tier
        deal("CS6", 250_000, "csm_sourced"),
        deal("AE1", 50_000, "ae_sourced"),
        deal("JT1", 40_000, "joint"),
        deal("CC1", 30_000, "csm_closed"),
        deal("AO1", 20_000, "add_on"),
    ])
    got = _credits(query)
    expected = {  # amount x the design's split, by hand
        "CS1": (7_000, 3_000), "CS2": (17_499.993, 7_499.997), "CS3": (15_000, 10_000),
        "CS4": (59_999.994, 39_999.996), "CS5": (55_000, 45_000), "CS6": (137_500, 112_500),
        "AE1": (40_000, 10_000), "JT1": (20_000, 20_000), "CC1": (0, 30_000), "AO1": (0, 0),
    }
    assert set(got) == set(expected)
    for deal_id, (rep, csm) in expected.items():
        assert got[deal_id][:2] == pytest.approx((rep, csm)), deal_id
    assert got["CS3"][2] == "csm_sourced, 25,000 <= amount < 100,000: rep 60% / CSM 40%"
    assert got["CS5"][2] == "csm_sourced, amount >= 100,000: rep 55% / CSM 45%"
    assert got["AO1"][2] == "add_on, any amount: no expansion credit"
    assert not any(r[4] for r in got.values())  # no source defaulted


def test_renewals_new_logos_and_deals_outside_the_period_are_not_credited(tmp_path: Path):
    query = track(tmp_path, [
        deal("EX1", 10_000),
        deal("RN1", 80_000, None, kind="renewal"),
        deal("NL1", 60_000, "ae_sourced", kind="new_logo"),
        deal("OLD", 10_000, close_date="2025-12-31"),       # before the plan year
        deal("LATE", 10_000, close_date="2026-04-01"),      # after `through`: still open then
        deal("AO1", 5_000, "add_on"),
    ])
    assert set(_credits(query)) == {"EX1", "AO1"}
    assert query("SELECT opportunity_id, status FROM work.expansion_deals ORDER BY 1") == [
        ("AO1", "won"), ("EX1", "won"), ("LATE", "open")]
    # add-on credits nothing; renewals never reach attainment
    assert query("SELECT credited_arr FROM work.attainment WHERE rep_id = 'R1' AND period = 'year_to_date'") == [
        (8_000.0,)]


def test_a_deal_without_source_gets_the_reported_default(tmp_path: Path):
    query = track(tmp_path, [deal("NS1", 10_000, None)])
    assert _credits(query)["NS1"] == (5_000, 5_000, "joint, any amount: rep 50% / CSM 50%", "joint", True)
    other = track(tmp_path / "ae", [deal("NS1", 10_000, None)], tracking_settings(missing_source="ae_sourced"))
    assert _credits(other)["NS1"][:2] == (8_000, 2_000)


def test_csm_source_bonus_arithmetic(tmp_path: Path):
    deals = [
        deal("CS1", 50_000, "csm_sourced", owner_id="R2"),           # rep 30,000 x 10% x 7.5% = 225
        deal("CS2", 10_000, "csm_sourced", owner_id="R1"),           # rep 7,000 x 10% x 7.5% = 52.5
        deal("AE1", 50_000, "ae_sourced", owner_id="R2"),            # not CSM-sourced: no bonus
        deal("CC1", 50_000, "csm_closed", owner_id="R2"),            # closed by the CSM: no bonus
    ]
    query = track(tmp_path, deals)
    per_deal = dict(query("SELECT opportunity_id, csm_source_bonus FROM work.expansion_credits"))
    assert per_deal == pytest.approx({"CS1": 225.0, "CS2": 52.5, "AE1": 0.0, "CC1": 0.0})
    assert query("SELECT csm_id, csm_sourced_deals, csm_sourced_amount, rep_commission, csm_source_bonus, "
                 "csm_credit FROM work.csm_source_bonus") == [
        ("C1", 2, 60_000.0, pytest.approx(3_700.0), pytest.approx(277.5), pytest.approx(20_000 + 3_000 + 10_000 + 50_000))]
    rates = {"high_velocity": 0.10, "mid_market": 0.12, "enterprise": 0.10}
    other = track(tmp_path / "b", deals, tracking_settings(csm_bonus_rate=0.10, commission_rate=rates))
    assert dict(other("SELECT opportunity_id, csm_source_bonus FROM work.expansion_credits")) == pytest.approx(
        {"CS1": 30_000 * 0.12 * 0.10, "CS2": 7_000 * 0.10 * 0.10, "AE1": 0.0, "CC1": 0.0})


def _attainment(query: Query, rep: str = "R1") -> dict[tuple[str, int], tuple]:
    return {(r[0], r[1]): r[2:] for r in query(
        f"SELECT period, period_index, phased_quota, credited_arr, attainment, complete FROM work.attainment "
        f"WHERE rep_id = '{rep}'")}


def test_attainment_with_flat_phasing(tmp_path: Path):
    # R1: quota 120,000; ae_sourced 80%: 12,500 in January credits 10,000, 25,000 in March 20,000
    query = track(tmp_path, [deal("J", 12_500, close_date="2026-01-20"), deal("M", 25_000, close_date="2026-03-02")],
                   through=dt.date(2026, 3, 15))
    got = _attainment(query)
    assert set(got) == {("month", 1), ("month", 2), ("month", 3), ("quarter", 1), ("year_to_date", 1)}
    assert got[("month", 1)] == pytest.approx((10_000, 10_000, 1.0, True))
    assert got[("month", 2)] == pytest.approx((10_000, 0, 0.0, True))
    assert got[("month", 3)] == pytest.approx((10_000, 20_000, 2.0, False))  # running month: full month quota
    assert got[("quarter", 1)] == pytest.approx((30_000, 30_000, 1.0, False))
    ytd_quota = 120_000 * (2 / 12 + 15 / 31 / 12)  # two months and 15 of March's 31 days
    assert got[("year_to_date", 1)] == pytest.approx((ytd_quota, 30_000, 30_000 / ytd_quota, False))


def test_attainment_with_seasonal_phasing_learned_from_bookings(tmp_path: Path):
    old = {"created_date": "2022-01-01"}
    history = [deal("H1", 300, close_date="2025-03-10", **old), deal("H2", 100, close_date="2024-06-05", **old),
               deal("H3", 999, close_date="2022-03-01", **old),  # older than phasing_history_years: ignored
               deal("H4", 50, stage="lost", close_date="2025-03-11", **old)]  # lost: not a booking
    query = track(tmp_path, [*history, deal("M", 25_000, close_date="2026-03-02")],
                   tracking_settings(phasing="seasonal"), through=dt.date(2026, 3, 15))
    weights = dict(query("SELECT month_index, weight FROM work.quota_phasing WHERE weight > 0"))
    assert weights == pytest.approx({3: 0.75, 6: 0.25})
    got = _attainment(query)
    assert got[("month", 1)] == pytest.approx((0, 0, None, True))  # no quota in January: no ratio
    assert got[("month", 3)] == pytest.approx((90_000, 20_000, 20_000 / 90_000, False))
    assert got[("year_to_date", 1)][:2] == pytest.approx((120_000 * 0.75 * 15 / 31, 20_000))
    flat = track(tmp_path / "none", [deal("M", 25_000, close_date="2026-03-02")], tracking_settings(phasing="seasonal"))
    assert flat("SELECT DISTINCT weight, basis FROM work.quota_phasing") == [
        (pytest.approx(1 / 12), "flat (no expansion bookings in the history)")]


def _tier(min_amount: float, rep: float, csm: float) -> dict[str, float]:
    return {"min_amount": min_amount, "rep_share": rep, "csm_share": csm}


@pytest.mark.parametrize(("matrix", "change", "message"), [
    ({"joint": [_tier(0, 0.7, 0.4)]}, {}, "> 1"),
    ({"csm_sourced": [_tier(0, 1.2, 0)]}, {}, "less than or equal to 1"),
    ({"csm_sourced": [_tier(10, 0.7, 0.3)]}, {}, "start at min_amount 0"),
    ({"csm_sourced": [_tier(0, 0.7, 0.3), _tier(0, 0.6, 0.4)]}, {}, "increase strictly"),
    ({"referral": [_tier(0, 0.5, 0.5)]}, {}, "exactly the sources"),
    ({}, {"csm_bonus_rate": 0.12}, "outside 0.05-0.10"),
    ({}, {"missing_source": "guess"}, "missing_source"),
    ({}, {"coverage_warning": 2.0, "coverage_urgent": 3.0}, "coverage_urgent"),
])
def test_tracking_settings_are_validated(tmp_path: Path, matrix: dict, change: dict, message: str):
    raw = load_settings().model_dump(mode="json")
    raw["tracking"] = {**raw["tracking"], "attribution": {**raw["tracking"]["attribution"], **matrix}, **change}
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(SettingsError, match=message):
        load_settings(path)


def test_yaml_matrix_is_the_design_default():
    assert load_settings().tracking == PlanSettings.model_fields["tracking"].default


def test_plan_run_tracks_the_sample(sample_plan: PlanOutcome):
    with warehouse.connect(sample_plan.db, read_only=True) as con:
        (through, max_date), = con.execute(
            "SELECT through, (SELECT max(greatest(created_date, coalesce(close_date, created_date))) "
            "FROM raw.opportunities) FROM main.tracking_runs").fetchall()
        assert through == max_date and through > PLAN_START
        counts = dict(con.execute(
            "SELECT 'credits', count(*) FROM main.expansion_credits UNION ALL "
            "SELECT 'open', count(*) FROM main.expansion_deals WHERE status = 'open' UNION ALL "
            "SELECT 'csm', count(*) FROM main.csm_source_bonus WHERE csm_source_bonus > 0").fetchall())
        assert min(counts.values()) > 0, counts
        # credits are exactly the won expansion deals closed in the plan year up to `through`
        assert con.execute(
            "SELECT count(*) FROM raw.opportunities WHERE type = 'expansion' AND stage = 'won' "
            "AND close_date BETWEEN ? AND ?", [PLAN_START, through]).fetchone()[0] == counts["credits"]
        # identities: year-to-date credits agree between attainment, coverage and the credits
        assert con.execute("""
            SELECT count(*) FROM main.pipeline_coverage AS c
            JOIN main.attainment AS a ON a.rep_id = c.rep_id AND a.period = 'year_to_date'
            LEFT JOIN (SELECT rep_id, sum(rep_credit) AS s FROM main.expansion_credits GROUP BY 1) AS e
              ON e.rep_id = c.rep_id
            WHERE abs(a.credited_arr - c.credited_ytd) > 1e-6 OR abs(c.credited_ytd - coalesce(e.s, 0)) > 1e-6
               OR abs(c.remaining_quota - greatest(c.quota - c.credited_ytd, 0)) > 1e-6""").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM main.pipeline_coverage").fetchone() == con.execute(
            "SELECT count(*) FROM main.quotas").fetchone()


def test_track_verb_reruns_tracking_as_of_a_date(sample_inputs: Path, sample_plan: PlanOutcome, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]):
    db = tmp_path / "plan.duckdb"
    shutil.copy(sample_plan.db, db)
    assert main(["track", "--input", str(sample_inputs), "--db", str(db), "--through", "2026-02-15"]) == 0
    stdout = capsys.readouterr().out
    assert "through 2026-02-15" in stdout and "quota" in stdout
    with warehouse.connect(db, read_only=True) as con:
        reps = con.execute("SELECT count(*) FROM main.quotas").fetchone()[0]
        assert con.execute("SELECT count(*), arg_max(through, created_at) FROM main.tracking_runs").fetchone() == (
            2, dt.date(2026, 2, 15))
        assert con.execute("SELECT max(close_date) <= DATE '2026-02-15' FROM main.expansion_credits").fetchone() == (
            True,)
        # one summary line per rep, flagged
        assert sum(line.startswith("R0") for line in stdout.splitlines()) == reps
        before = con.execute("SELECT * FROM main.pipeline_coverage ORDER BY ALL").fetchall()
    # bad input: the tracking job stops with one message, the tracking tables stay as they were
    bad = write_inputs(tmp_path / "bad", {"accounts": [account_with_acv("A1", 10_000)] * 2})
    assert main(["track", "--input", str(bad), "--db", str(db)]) == 1
    assert "accounts.csv" in capsys.readouterr().err
    with warehouse.connect(db, read_only=True) as con:
        assert con.execute("SELECT * FROM main.pipeline_coverage ORDER BY ALL").fetchall() == before
        assert con.execute("SELECT count(*) FROM main.tracking_runs").fetchone() == (2,)
