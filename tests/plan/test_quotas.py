"""Quota contributions and quotas (sql/plan/territory_shares.sql, quota_contributions.sql, quotas.sql) on hand-built
work tables in a real DuckDB file, with known answers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipeline.core import warehouse
from pipeline.core.settings import load_settings
from pipeline.exports.summary import company_target_line
from tests.builders import TEST_CONFIG

# R1 holds three accounts whose factor x eev has awkward cents; A4 moves from R2 to R1.
EEV = {"A1": 10_000.333, "A2": 4_444.4449, "A3": 1_234.5678, "A4": 3_000.0}


def _plan(tmp_path: Path, effective_date: dt.date | None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(tmp_path / "plan.duckdb"))
    con.execute("CREATE SCHEMA work")
    con.execute("CREATE TABLE work.rep_plan AS SELECT * FROM (VALUES ('R1', 'Ann', 'mid_market', 1.0), "
                "('R2', 'Bo', 'mid_market', 0.5)) AS t(rep_id, name, segment, capacity)")
    con.execute("CREATE TABLE work.quota_factors AS SELECT 'mid_market' AS segment, 0.675 AS factor")
    con.execute("CREATE TABLE work.account_eev (account_id VARCHAR, eev DOUBLE)")
    con.executemany("INSERT INTO work.account_eev VALUES (?, ?)", list(EEV.items()))
    con.execute("""CREATE TABLE work.territories AS SELECT *, false AS locked, false AS anchor FROM (VALUES
        ('A1', 'mid_market', 'R1', 'R1', false), ('A2', 'mid_market', 'R1', 'R1', false),
        ('A3', 'mid_market', 'R1', NULL, false), ('A4', 'mid_market', 'R1', 'R2', true))
        AS t(account_id, segment, rep_id, previous_rep_id, moved)""")
    con.execute("CREATE TABLE work.territory_methods AS SELECT 'mid_market' AS segment, 20 AS book_min, 40 AS book_max")
    params = load_settings(TEST_CONFIG, effective_date=effective_date).sql_params()
    warehouse.build_table(con, "territory_shares", params)
    warehouse.build_table(con, "quota_contributions", params)
    warehouse.build_table(con, "quotas", params)
    return con


def test_contributions_add_up_exactly_and_residual_sits_on_the_largest_account(tmp_path: Path):
    con = _plan(tmp_path, effective_date=None)
    quotas = dict(con.execute("SELECT rep_id, quota FROM work.quotas").fetchall())
    total = 0.675 * sum(EEV.values())
    assert quotas == {"R1": round(total / 1000) * 1000, "R2": 0.0}
    rows = {a: (c, u) for a, c, u in con.execute(
        "SELECT account_id, contribution, contribution_unrounded FROM work.quota_contributions WHERE rep_id = 'R1'"
    ).fetchall()}
    assert sum(c for c, _ in rows.values()) == Decimal(str(quotas["R1"]))  # exact, in cents
    for account in ("A2", "A3", "A4"):
        assert rows[account][0] == Decimal(str(round(0.675 * EEV[account], 2)))
    residual = Decimal(str(quotas["R1"])) - sum(Decimal(str(round(0.675 * v, 2))) for v in EEV.values())
    assert rows["A1"][0] == Decimal(str(round(0.675 * EEV["A1"], 2))) + residual


def test_mid_year_move_splits_the_account_between_old_and_new_owner_by_time(tmp_path: Path):
    con = _plan(tmp_path, effective_date=dt.date(2026, 4, 2))  # 91 days into a 365-day period
    share = 91 / 365
    rows = {(r, role): s for r, role, s in con.execute(
        "SELECT rep_id, role, share FROM work.quota_contributions WHERE account_id = 'A4'").fetchall()}
    assert rows == {("R1", "owner"): pytest.approx(1 - share), ("R2", "previous_owner"): pytest.approx(share)}
    quotas = {r: (e, q, qu) for r, e, q, qu in con.execute(
        "SELECT rep_id, territory_eev, quota, quota_unrounded FROM work.quotas").fetchall()}
    assert quotas["R2"][0] == pytest.approx(3000 * share)
    assert quotas["R2"][1] == round(0.675 * 3000 * share / 1000) * 1000
    assert quotas["R1"][0] == pytest.approx(sum(EEV.values()) - 3000 * share)
    for rep, (_, quota, _) in quotas.items():
        total = con.execute("SELECT sum(contribution) FROM work.quota_contributions WHERE rep_id = ?", [rep]).fetchone()
        assert (total[0] or Decimal(0)) == Decimal(str(quota))
    # the new account A3 and the unmoved accounts are not split
    assert con.execute("SELECT count(*) FROM work.quota_contributions WHERE share <> 1").fetchone() == (2,)


def testcompany_target_line_reports_over_and_under_assignment():
    settings = load_settings(TEST_CONFIG)
    assert company_target_line(settings, 945_000) == []  # no target in the default settings
    with_target = settings.model_copy(update={"territory": settings.territory.model_copy(
        update={"company_target": 1_000_000})})
    assert company_target_line(with_target, 945_000) == [
        "Company target 1,000,000: quotas sum to 945,000, under-assigned by 5.5%"]
    assert company_target_line(with_target, 1_020_000)[0].endswith("over-assigned by 2.0%")
