"""Book sizes follow capacity when the EEV balance cannot tell accounts apart (issue 20, item 4).

Hand-built segments with known answers, on both solvers (the heuristic: milp_max_variables = 0;
the MILP), with anchors as the plan's settings make them; then one real plan of the Maven CRM
sample, where almost every account has EEV 0."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipeline.core import warehouse
from pipeline.plan.territory.assign import BalanceRules, BookLimits, assign_territories, start_books
from pipeline.plan.territory.heuristic import NEW_ACCOUNT
from pipeline.plan.territory.milp import solve_milp
from pipeline.runner import PlanOutcome

SEGMENT = "enterprise"
ANCHOR_SHARE = 0.5  # config/plan.yaml
HEURISTIC = BalanceRules(tolerance=0.05, milp_max_variables=0, milp_max_nodes=200, milp_time_limit=20,
                         anchor_share=ANCHOR_SHARE)
MILP = BalanceRules(tolerance=0.05, milp_max_variables=10**6, milp_max_nodes=200, milp_time_limit=20,
                    anchor_share=ANCHOR_SHARE)
SOLVERS = pytest.mark.parametrize("rules", [HEURISTIC, MILP], ids=["heuristic", "milp"])
ROOT = Path(__file__).resolve().parents[2]


def _accounts(eev, owners=None, locked=None) -> pl.DataFrame:
    n = len(eev)
    return pl.DataFrame({
        "account_id": [f"A{i:04d}" for i in range(n)],
        "segment": [SEGMENT] * n,
        "eev": np.asarray(eev, float),
        "owner_id": pl.Series(owners if owners is not None else [None] * n, dtype=pl.String),
        "locked": locked if locked is not None else [False] * n,
    })


def _reps(capacity) -> pl.DataFrame:
    return pl.DataFrame({"rep_id": [f"R{i}" for i in range(len(capacity))], "segment": [SEGMENT] * len(capacity),
                         "capacity": np.asarray(capacity, float)})


def _assign(accounts: pl.DataFrame, reps: pl.DataFrame, rules: BalanceRules, book_max: int = 30) -> pl.DataFrame:
    return assign_territories(accounts, reps, {SEGMENT: BookLimits(SEGMENT, 0, book_max)}, rules).territories


def _books(out: pl.DataFrame, accounts: pl.DataFrame, reps: pl.DataFrame) -> pl.DataFrame:
    """Per rep (in rep order, empty books included): accounts held and EEV held."""
    held = out.join(accounts.select("account_id", "eev"), on="account_id").group_by("rep_id").agg(
        accounts=pl.len(), eev=pl.col("eev").sum())
    return reps.join(held, on="rep_id", how="left").fill_null(0).sort("rep_id")


@SOLVERS
def test_zero_eev_accounts_spread_over_equal_reps_and_the_eev_stays_where_it_was(rules):
    # 22 accounts, only one with EEV (an anchor): before, one rep took all 22
    eev = [0.0] * 10 + [500.0] + [0.0] * 11
    accounts, reps = _accounts(eev), _reps([1.0] * 6)
    books = _books(_assign(accounts, reps, rules), accounts, reps)
    assert sorted(books["accounts"].to_list()) == [3, 3, 4, 4, 4, 4]
    assert sorted(books["eev"].to_list()) == [0.0] * 5 + [500.0]


@SOLVERS
def test_balanced_eev_with_many_zero_accounts_keeps_the_balance_and_evens_the_books(rules):
    # 12 accounts of EEV 100 balance 6 reps at 200 each; 30 more with EEV 0 must not all land on one rep
    accounts, reps = _accounts([100.0] * 12 + [0.0] * 30), _reps([1.0] * 6)
    books = _books(_assign(accounts, reps, rules), accounts, reps)
    assert books["eev"].to_list() == [200.0] * 6
    assert books["accounts"].to_list() == [7] * 6


@SOLVERS
def test_half_capacity_rep_gets_half_the_accounts(rules):
    accounts, reps = _accounts([0.0] * 25), _reps([1.0, 1.0, 0.5])
    books = _books(_assign(accounts, reps, rules), accounts, reps)
    assert books["accounts"].to_list() == [10, 10, 5]


@SOLVERS
def test_owners_keep_balanced_books_and_only_new_accounts_even_out_the_counts(rules):
    # R0 holds 2 x 100 and 10 zero-EEV accounts, R1 and R2 2 x 100 each: balanced and within the
    # book limits, so nobody moves; the 6 new zero-EEV accounts go to the small books R1 and R2
    owners = ["R0"] * 12 + ["R1"] * 2 + ["R2"] * 2 + [None] * 6
    eev = [100.0, 100.0] + [0.0] * 10 + [100.0] * 4 + [0.0] * 6
    locked = [False] * 11 + [True] + [False] * 10
    accounts, reps = _accounts(eev, owners, locked), _reps([1.0] * 3)
    out = _assign(accounts, reps, rules)
    assert not out["moved"].any()
    assert out.filter(pl.col("previous_rep_id").is_not_null())["rep_id"].to_list() == owners[:16]
    assert out.filter(pl.col("previous_rep_id").is_null()).group_by("rep_id").len().sort("rep_id").rows() == [
        ("R1", 3), ("R2", 3)]
    assert set(out.filter(pl.col("previous_rep_id").is_null())["reason"]) == {"new account"}
    assert _books(out, accounts, reps)["eev"].to_list() == [200.0] * 3


@SOLVERS
def test_spread_plan_is_deterministic_and_a_rerun_on_it_moves_nothing(rules):
    eev = [0.0] * 30 + [40.0, 25.0, 10.0]
    accounts, reps = _accounts(eev), _reps([1.0, 0.5, 1.0, 1.0])
    first = _assign(accounts, reps, rules)
    assert first.equals(_assign(accounts.reverse(), reps.reverse(), rules))
    again = _assign(_accounts(eev, first["rep_id"].to_list()), reps, rules)
    assert again["rep_id"].to_list() == first["rep_id"].to_list() and not again["moved"].any()


def test_milp_evens_out_the_books_from_a_start_that_does_not():
    """The MILP's own book-share term, from a start with all 22 new accounts on R0."""
    n = 22
    limits = BookLimits(SEGMENT, 0, 30)
    books = start_books(np.zeros(n), np.full(n, -1), np.full(n, NEW_ACCOUNT), np.zeros(n, dtype=bool),
                        np.ones(6), limits)
    books.move(np.arange(n), np.zeros(n, dtype=np.int64), NEW_ACCOUNT)
    exact = solve_milp(books, np.full(n, -1), 0.05, MILP.milp_max_nodes, MILP.milp_time_limit)
    assert sorted(np.bincount(exact, minlength=6).tolist()) == [3, 3, 4, 4, 4, 4]


def test_anchor_goes_to_the_rep_with_the_fewest_accounts_when_targets_tie():
    # R0 owns 6 zero-EEV accounts, R1 owns 2; a new anchor goes to R1 (both at 0% of target)
    owners = ["R0"] * 6 + ["R1"] * 2 + [None]
    accounts, reps = _accounts([0.0] * 8 + [900.0], owners), _reps([1.0, 1.0])
    out = _assign(accounts, reps, HEURISTIC)
    assert out.filter(pl.col("anchor"))["rep_id"].to_list() == ["R1"]
    assert not out["moved"].any()


def test_maven_sample_leaves_no_rep_without_accounts_where_there_are_enough(maven_plan: PlanOutcome):
    """Fresh assignment, almost every EEV 0: before, 5 of 6 enterprise reps had no account."""
    outcome = maven_plan
    with warehouse.connect(outcome.db, read_only=True) as con:
        rows = con.execute("""
            SELECT segment, count(*) AS reps, sum(accounts) AS accounts,
                   count(*) FILTER (WHERE accounts = 0) AS empty, max(accounts) - min(accounts) AS spread
            FROM plans.quotas WHERE plan_id = ? GROUP BY segment ORDER BY segment""", [outcome.plan_id]).fetchall()
        moved = con.execute("SELECT count(*) FILTER (WHERE moved) FROM plans.territories WHERE plan_id = ?",
                            [outcome.plan_id]).fetchone()[0]
    by_segment = {segment: (reps, accounts, empty, spread) for segment, reps, accounts, empty, spread in rows}
    # (the number of reps placed in each segment follows the EEV, which the model decides)
    assert by_segment["enterprise"][1:3] == (22, 0) and by_segment["mid_market"][1:3] == (45, 0)
    assert all(empty == 0 for reps, accounts, empty, _ in by_segment.values() if accounts >= reps)
    hv_reps, hv_accounts, hv_empty, _ = by_segment["high_velocity"]  # 23 agents for 18 accounts
    assert hv_empty == hv_reps - hv_accounts  # the fewest reps without an account there can be
    assert moved == 0  # no owners in the sample: accounts are placed, nobody moves
