"""Rebalancing through real plan runs on a copy of the sample plan: continuity from
accounts.owner_id, a departed rep, locked accounts (input column), a mid-year effective date,
immutable plan versions and `quota-plan diff`."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from pipeline.cli import main
from pipeline.core import warehouse
from pipeline.plan.diff import diff_plans
from pipeline.plan.store import PLAN_TABLES
from pipeline.runner import PlanOutcome, run_plan
from tests.builders import TEST_CONFIG
from tests.conftest import made_once

EFFECTIVE = dt.date(2026, 7, 2)  # 182 days after the plan date 2026-01-01


def _rows(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with warehouse.connect(db, read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _versions(db: Path, plan_id: str) -> dict[str, str]:
    """Every row of one plan version, per table, as text (to compare before and after)."""
    return {t: repr(_rows(db, f"SELECT * FROM plans.{t} WHERE plan_id = ? ORDER BY ALL", [plan_id]))
            for t in PLAN_TABLES}


def _inputs_owned_by_plan(source: Path, db: Path, out: Path) -> pl.DataFrame:
    """A copy of the inputs whose accounts.owner_id is the current plan's rep (the CRM updated)."""
    shutil.copytree(source, out)
    plan = pl.DataFrame(_rows(db, "SELECT account_id, rep_id FROM main.territories"), schema=["account_id", "rep_id"],
                        orient="row")
    accounts = pl.read_csv(source / "accounts.csv", infer_schema=False).join(plan, on="account_id", how="left")
    accounts = accounts.with_columns(owner_id=pl.coalesce("rep_id", "owner_id")).drop("rep_id")
    accounts.write_csv(out / "accounts.csv")
    return accounts


@pytest.fixture(scope="session")
def rebalanced(sample_plan: PlanOutcome, sample_inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Built once for all pytest-xdist workers (the first one builds, the others read its result)."""
    return made_once(tmp_path_factory, "rebalance", lambda folder: _build_rebalanced(sample_plan, sample_inputs, folder))


def _build_rebalanced(sample_plan: PlanOutcome, sample_inputs: Path, work: Path) -> dict:
    """P0002: owners = P0001's plan, nothing else changed. P0003: from P0002's owners, one mid-market
    rep leaves; in high velocity all of rep X's accounts are handed to rep Y in the CRM and half of
    them locked there; mid-year effective date."""
    work.mkdir(parents=True, exist_ok=True)
    db = work / "plan.duckdb"
    shutil.copy(sample_plan.db, db)
    first = _versions(db, "P0001")
    _inputs_owned_by_plan(sample_inputs, db, work / "in2")
    second = run_plan(work / "in2", TEST_CONFIG, db, instance=dg.DagsterInstance.ephemeral())

    accounts = _inputs_owned_by_plan(work / "in2", db, work / "in3")
    books = pl.DataFrame(_rows(db, "SELECT rep_id, segment, accounts, capacity FROM main.quotas"),
                         schema=["rep_id", "segment", "accounts", "capacity"], orient="row").sort("rep_id")
    departed = books.filter(pl.col("segment") == "mid_market").sort("accounts", "rep_id")["rep_id"][-1]
    giver, taker = books.filter((pl.col("segment") == "high_velocity") & (pl.col("capacity") == 1))["rep_id"][:2]
    handed = accounts.filter(pl.col("owner_id") == giver)["account_id"].sort()
    locked = handed[::2]
    accounts.with_columns(
        owner_id=pl.when(pl.col("owner_id") == giver).then(pl.lit(taker)).otherwise("owner_id"),
        locked=pl.col("account_id").is_in(locked.implode()),
    ).write_csv(work / "in3" / "accounts.csv")
    reps = pl.read_csv(work / "in3" / "reps.csv", infer_schema=False)
    reps.with_columns(active=pl.when(pl.col("rep_id") == departed).then(pl.lit("false")).otherwise("active")) \
        .write_csv(work / "in3" / "reps.csv")
    third = run_plan(work / "in3", TEST_CONFIG, db, instance=dg.DagsterInstance.ephemeral(),
                     effective_date=EFFECTIVE)
    return {"db": db, "first": first, "plans": [second.plan_id, third.plan_id], "departed": departed,
            "giver": giver, "taker": taker, "handed": set(handed), "locked": set(locked)}


def test_rerun_from_the_plans_own_owners_moves_nothing(rebalanced: dict):
    db, (second, _) = rebalanced["db"], rebalanced["plans"]
    assert second == "P0002"
    assert _rows(db, "SELECT count(*) FROM plans.territory_moves WHERE plan_id = 'P0002'") == [(0,)]
    with warehouse.connect(db, read_only=True) as con:
        diff = diff_plans(con, "P0001", "P0002")
    assert diff.account_moves == [] and diff.quota_changes == []


def test_departed_rep_and_crm_handover_move_only_what_is_needed(rebalanced: dict):
    db, departed, taker = rebalanced["db"], rebalanced["departed"], rebalanced["taker"]
    moves = pl.DataFrame(_rows(db, "SELECT account_id, segment, from_rep_id, to_rep_id, reason "
                                   "FROM plans.territory_moves WHERE plan_id = 'P0003'"),
                         schema=["account_id", "segment", "from", "to", "reason"], orient="row")
    owned_by_departed = {r[0] for r in _rows(db, "SELECT account_id FROM plans.territories "
                                                 "WHERE plan_id = 'P0002' AND rep_id = ?", [departed])}
    from_departed = moves.filter(pl.col("from") == departed)
    assert set(from_departed["account_id"]) == owned_by_departed and set(from_departed["reason"]) == {"rep inactive"}
    others = moves.filter(pl.col("from") != departed)
    assert set(others["reason"]) <= {"rep over target", "rep under target", "book size"}
    assert set(others["segment"]) <= {"mid_market", "high_velocity"}  # enterprise untouched
    # the over-full taker sheds accounts, never the locked ones
    assert not others.filter(pl.col("from") == taker).is_empty()
    assert not set(moves["account_id"]) & rebalanced["locked"]
    kept = _rows(db, "SELECT DISTINCT rep_id FROM plans.territories WHERE plan_id = 'P0003' AND locked")
    assert kept == [(taker,)]
    balance = _rows(db, "SELECT segment, share_within_tolerance FROM plans.territory_balance WHERE plan_id = 'P0003'")
    assert all(share == 1.0 for _, share in balance)


def test_mid_year_moves_split_quota_between_active_old_and_new_owner(rebalanced: dict):
    db = rebalanced["db"]
    split = _rows(db, """SELECT c.role, min(c.share), max(c.share), count(*) FROM plans.quota_contributions c
                         JOIN plans.territory_moves m ON m.plan_id = c.plan_id AND m.account_id = c.account_id
                         WHERE c.plan_id = 'P0003' AND m.from_rep_id <> ? GROUP BY c.role ORDER BY c.role""",
                  [rebalanced["departed"]])
    assert [(r, lo, hi) for r, lo, hi, _ in split] == [("owner", 1 - 182 / 365, 1 - 182 / 365),
                                                       ("previous_owner", 182 / 365, 182 / 365)]
    assert _rows(db, "SELECT count(*) FROM plans.quota_contributions WHERE plan_id = 'P0003' AND rep_id = ?",
                 [rebalanced["departed"]]) == [(0,)]
    assert _rows(db, """SELECT count(*) FROM plans.quotas q LEFT JOIN (SELECT rep_id, sum(contribution) s
                        FROM plans.quota_contributions WHERE plan_id = 'P0003' GROUP BY rep_id) c USING (rep_id)
                        WHERE q.plan_id = 'P0003' AND CAST(q.quota AS DECIMAL(18, 2)) <> coalesce(c.s, 0)""") == [(0,)]


def test_versions_are_immutable_and_diff_lists_exactly_the_moves(rebalanced: dict, capsys: pytest.CaptureFixture):
    db = rebalanced["db"]
    assert _versions(db, "P0001") == rebalanced["first"]
    with warehouse.connect(db, read_only=True) as con:
        diff = diff_plans(con, "P0002", "P0003")
    made = _rows(db, "SELECT account_id, from_rep_id, to_rep_id, reason FROM plans.territory_moves "
                     "WHERE plan_id = 'P0003' ORDER BY account_id")
    handed = rebalanced["handed"]
    # where the CRM owner was P0002's rep, the diff is exactly the moves the plan made ...
    assert [(a, f, t, r) for a, _, f, t, _, r in diff.account_moves if a not in handed] == \
        [m for m in made if m[0] not in handed]
    # ... and accounts handed over in the CRM show up when they ended away from P0002's rep
    final = dict(_rows(db, "SELECT account_id, rep_id FROM plans.territories WHERE plan_id = 'P0003'"))
    assert {a for a, *_ in diff.account_moves if a in handed} == {a for a in handed if final[a] != rebalanced["giver"]}
    assert {r for a, *_, r in diff.account_moves if a in handed} <= {f"owner in the input was {rebalanced['taker']}"}
    assert main(["diff", "P0002", "P0003", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert f"Account moves P0002 -> P0003: {len(diff.account_moves)} accounts" in out and rebalanced["departed"] in out
    assert main(["diff", "P0002", "P0042", "--db", str(db)]) == 1
    assert "no plan version P0042; stored plans: P0001, P0002, P0003" in capsys.readouterr().err
