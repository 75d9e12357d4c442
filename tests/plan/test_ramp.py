"""Capacity with ramp (sql/plan/rep_capacity_months.sql, quota_months.sql, segment_headcount.sql): a
ramping rep's capacity by month, leave and departure, on the real SQL in a real DuckDB file; then the
sample planned with a ramping rep, whose capacity, quota and monthly quota follow."""

from __future__ import annotations

import csv
import math
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from pipeline.core import warehouse
from pipeline.core.settings import load_settings
from pipeline.exports.summary import plan_summary
from pipeline.ingestion.ingest import InputContractError, ingest_inputs
from pipeline.runner import run_plan
from pipeline.staging.state import write_segment_bands
from tests.builders import PRODUCTS, REPS, TEST_CONFIG, account_with_acv, settings_with, subscription, write_inputs

RAMPING = "R0007"  # a full-capacity mid-market rep of the sample, starting two months into the plan year
# plan year 2026-01-01: not there in January and February, then 25% / 50% / 75% a quarter, full in December
RAMP_MONTHS = [0, 0, 0.25, 0.25, 0.25, 0.5, 0.5, 0.5, 0.75, 0.75, 0.75, 1.0]


def _reps_folder(folder: Path, dates: dict[str, dict[str, str]]) -> Path:
    """The builders' tiny book with these reps' dates (the reps file gets the optional date columns)."""
    write_inputs(folder, {"accounts": [account_with_acv("A1", 30000)], "products": PRODUCTS,
                          "subscriptions": [subscription("A1", 30000)], "opportunities": [], "reps": REPS})
    columns = [*REPS[0], "start_date", "end_date", "leave_start", "leave_end"]
    with (folder / "reps.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows({**rep, **dates.get(rep["rep_id"], {})} for rep in REPS)
    return folder


def _capacity_months(tmp_path: Path, dates: dict[str, dict[str, str]], config: Path = TEST_CONFIG) -> dict:
    with duckdb.connect(str(tmp_path / "plan.duckdb")) as con:
        con.execute("CREATE SCHEMA work")
        ingest_inputs(con, _reps_folder(tmp_path / "input", dates))
        warehouse.build_table(con, "rep_capacity_months", load_settings(config).sql_params())
        rows = con.execute("SELECT rep_id, month_index, ramp_factor, available_share, month_capacity, plan_capacity "
                           "FROM work.rep_capacity_months ORDER BY rep_id, month_index").fetchall()
    return {rep: [r[1:] for r in rows if r[0] == rep] for rep in {r[0] for r in rows}}


def test_a_ramping_rep_capacity_by_month_leave_and_departure(tmp_path: Path):
    months = _capacity_months(tmp_path, {
        "R1": {"leave_start": "2026-07-01", "leave_end": "2026-08-01", "end_date": "2026-10-16"},
        "R2": {"start_date": "2026-03-01"},
        "R3": {"start_date": "2025-11-16", "capacity": "0.5"},
    })
    assert [m[3] for m in months["R2"]] == RAMP_MONTHS
    assert months["R2"][0][4] == sum(RAMP_MONTHS) / 12 == 5.5 / 12
    # on the team since 2025-11-16: tenure 1 month on 2026-01-01, ramp quarters turn on the 16th
    assert [m[1] for m in months["R3"]] == [0.25, 0.25, 0.5, 0.5, 0.5, 0.75, 0.75, 0.75, 1, 1, 1, 1]
    assert [m[3] for m in months["R3"]] == [0.5 * f for f in [0.25, 0.25, 0.5, 0.5, 0.5, 0.75, 0.75, 0.75, 1, 1, 1, 1]]
    # fully ramped (no start date); off in July, leaves on 16 October (15 of 31 days), gone after
    assert [m[2] for m in months["R1"]] == [1, 1, 1, 1, 1, 1, 0, 1, 1, 15 / 31, 0, 0]
    assert months["R1"][0][4] == pytest.approx((8 + 15 / 31) / 12)


def test_the_ramp_schedule_is_a_setting(tmp_path: Path):
    config = settings_with(tmp_path, "capacity", ramp_schedule=[0.5, 1.0], ramp_period_months=2)
    months = _capacity_months(tmp_path, {"R2": {"start_date": "2026-03-01"}}, config)
    assert [m[1] for m in months["R2"]] == [0.5, 0.5, 0.5, 0.5, 1, 1, 1, 1, 1, 1, 1, 1]
    assert [m[3] for m in months["R2"]] == [0, 0, 0.5, 0.5, 1, 1, 1, 1, 1, 1, 1, 1]
    assert "C1" not in months  # CSMs carry no expansion capacity


def test_a_departure_before_the_start_breaks_the_contract(tmp_path: Path):
    folder = _reps_folder(tmp_path / "input", {"R2": {"start_date": "2026-03-01", "end_date": "2026-02-01"},
                                               "R3": {"leave_start": "2026-03-01"}})
    with duckdb.connect(str(tmp_path / "plan.duckdb")) as con, pytest.raises(InputContractError) as error:
        ingest_inputs(con, folder)
    assert "reps.csv: column end_date: rule '> start_date': 1 row breaks it (e.g. R2)" in str(error.value)
    assert "reps.csv: column leave_end: rule 'given with leave_start': 1 row breaks it (e.g. R3)" in str(error.value)


def test_the_sample_planned_with_a_ramping_rep(sample_inputs: Path, tmp_path: Path):
    inputs = tmp_path / "input"
    shutil.copytree(sample_inputs, inputs)
    with (sample_inputs / "reps.csv").open() as handle:
        reps = list(csv.DictReader(handle))
    with (inputs / "reps.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*reps[0], "start_date"])
        writer.writeheader()
        writer.writerows({**r, "start_date": "2026-03-01" if r["rep_id"] == RAMPING else ""} for r in reps)
    db = tmp_path / "plan.duckdb"
    assert run_plan(inputs, TEST_CONFIG, db, instance=dg.DagsterInstance.ephemeral()).written
    settings = load_settings(TEST_CONFIG)
    with warehouse.connect(db, read_only=True) as con:
        capacity = con.execute("SELECT capacity, quota, territory_eev, factor FROM main.quotas WHERE rep_id = ?",
                               [RAMPING]).fetchone()
        months = con.execute("SELECT month_capacity, quota FROM main.quota_months WHERE rep_id = ? "
                             "ORDER BY month_index", [RAMPING]).fetchall()
        full = con.execute("SELECT quota FROM main.quota_months WHERE rep_id = 'R0008' ORDER BY month_index").fetchall()
        year_quota = con.execute("SELECT quota FROM main.quotas WHERE rep_id = 'R0008'").fetchone()[0]
        headcount = {r[0]: r[1:] for r in con.execute(
            "SELECT segment, accounts, reps, capacity, reps_needed_at_book_max, reps_allowed_at_book_min, staffing "
            "FROM main.segment_headcount").fetchall()}
        accounts = dict(con.execute("SELECT segment, count(*) FROM main.account_eev GROUP BY 1").fetchall())
        capacities = dict(con.execute("SELECT segment, sum(capacity) FROM main.quotas GROUP BY 1").fetchall())
        summary = plan_summary(con, settings, db)
    assert capacity[0] == 5.5 / 12
    assert capacity[1] == round(capacity[3] * capacity[2] / 1000) * 1000
    assert [m[0] for m in months] == RAMP_MONTHS
    assert sum(m[1] for m in months) == pytest.approx(capacity[1], abs=1e-9)
    # in cents, the rounding's cents on the last month (at most half a cent from each of the 11 others)
    assert [float(m[1]) for m in months] == pytest.approx([capacity[1] * f / 5.5 for f in RAMP_MONTHS], abs=0.06)
    assert [float(q) for q, in full] == pytest.approx([year_quota / 12] * 12, abs=0.06)
    for seg in settings.segments:
        n, reps, cap, needed, allowed, staffing = headcount[seg.name]
        assert n == accounts[seg.name]
        assert cap == pytest.approx(capacities[seg.name])
        assert needed == math.ceil(n / seg.book_max) and allowed == n // seg.book_min
        assert staffing == ("short" if cap < needed else "over" if cap > allowed else "within")
        assert f"{seg.name} has {cap:.1f}, needs {needed}-{allowed} ({staffing})" in summary


def test_headcount_at_book_sizes_and_target_eev_per_rep(tmp_path: Path):
    """mid_market: 90 accounts, EEV 1,000,000, target 150,000 per rep, books 20-40, 1.5 reps of capacity:
    needs ceil(90 / 40) = 3 at book_max, allows floor(90 / 20) = 4 at book_min, ceil(1e6 / 150,000) = 7 at
    its target: short. enterprise: 30 accounts, books 10-20, 2 reps: within (2 to 3)."""
    raw = yaml.safe_load(TEST_CONFIG.read_text())
    raw["segments"][1]["target_eev_per_rep"] = 150_000
    config = tmp_path / "plan.yaml"
    config.write_text(yaml.safe_dump(raw))
    settings = load_settings(config)
    with duckdb.connect(str(tmp_path / "plan.duckdb")) as con:
        con.execute("CREATE SCHEMA work")
        write_segment_bands(con, settings)
        con.execute("CREATE TABLE work.account_eev AS SELECT 'mid_market' AS segment, 1e6 / 90 AS eev FROM range(90) "
                    "UNION ALL SELECT 'enterprise', 1000.0 FROM range(30)")
        con.execute("CREATE TABLE work.rep_plan AS SELECT * FROM (VALUES ('R1', 'mid_market', 1.0), "
                    "('R2', 'mid_market', 0.5), ('R3', 'enterprise', 1.0), ('R4', 'enterprise', 1.0)) "
                    "AS t(rep_id, segment, capacity)")
        warehouse.build_table(con, "segment_headcount", settings.sql_params())
        rows = {r[0]: r[1:] for r in con.execute(
            "SELECT segment, accounts, reps, capacity, reps_needed_at_book_max, reps_allowed_at_book_min, "
            "reps_needed_at_target_eev, staffing FROM work.segment_headcount").fetchall()}
    assert rows["mid_market"] == (90, 2, 1.5, 3, 4, 7, "short")
    assert rows["enterprise"] == (30, 2, 2.0, 2, 3, None, "within")
    assert rows["high_velocity"] == (0, 0, 0, 0, 0, None, "within")
