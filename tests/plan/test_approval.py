"""Review and approval of plan versions (pipeline/plan/approval.py) through the CLI on real plan
files: every state change with who, when and a comment, the refused changes, sign-off per segment
and per manager, publishing only approved plans (or with a recorded override) and recalling."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from pipeline.cli import main
from pipeline.core import warehouse
from pipeline.core.settings import DEFAULT_CONFIG
from pipeline.plan import approval
from pipeline.plan import store as plan_store
from pipeline.runner import PlanOutcome, dagster_home, run_plan
from tests.builders import edge_inputs

SEGMENTS = ("segment:enterprise", "segment:high_velocity", "segment:mid_market")


@pytest.fixture
def db(sample_plan: PlanOutcome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the sample plan file (P0001 current, reps without manager_id), its own Dagster home."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    copy = tmp_path / "plan.duckdb"
    shutil.copy(sample_plan.db, copy)
    return copy


def _cli(db: Path, *argv: str) -> int:
    return main([*argv, "--db", str(db)])


def _state(db: Path, plan_id: str = "P0001") -> approval.PlanState:
    with warehouse.connect(db, read_only=True) as con:
        return approval.plan_state(con, plan_id)


def _history(db: Path, plan_id: str = "P0001") -> list[tuple]:
    with warehouse.connect(db, read_only=True) as con:
        return [(state, scope, by, comment) for state, scope, _at, by, comment in approval.state_history(con, plan_id)]


def test_a_plan_goes_from_draft_through_review_and_per_segment_sign_off_to_published(db: Path, capsys):
    assert _state(db).state == "draft" and _state(db).sign_off == "segment" and _state(db).scopes == SEGMENTS

    # publishing a draft, approving a draft: refused, saying what to do
    assert _cli(db, "publish", "P0001", "--note", "to reps") == 1
    assert "P0001 is draft, not approved: approve it first" in capsys.readouterr().err
    assert _cli(db, "approve", "P0001") == 1
    assert "cannot approve plan P0001: it is draft; send it to review first: quota-plan review P0001" \
        in capsys.readouterr().err

    assert _cli(db, "review", "P0001", "--by", "rita", "--comment", "FY27 first cut") == 0
    assert "in_review" in capsys.readouterr().out
    assert _cli(db, "review", "P0001", "--by", "rita") == 1  # already in review
    assert "it is in_review" in capsys.readouterr().err

    # one segment signs off: still in review, the others missing; publishing is refused and says which
    assert _cli(db, "approve", "P0001", "--segment", "enterprise", "--by", "erin", "--comment", "ok for ENT") == 0
    assert _state(db).state == "in_review" and _state(db).missing == SEGMENTS[1:]
    assert _cli(db, "approve", "P0001", "--segment", "enterprise", "--by", "erin") == 1
    assert "segment:enterprise already signed off plan P0001" in capsys.readouterr().err
    assert _cli(db, "approve", "P0001", "--segment", "smb") == 1
    assert "'segment:smb' is not one of them" in capsys.readouterr().err
    assert _cli(db, "approve", "P0001", "--manager", "M1") == 1  # this plan signs off by segment
    assert _cli(db, "publish", "P0001", "--note", "to reps") == 1
    assert "sign-off missing: segment:high_velocity, segment:mid_market" in capsys.readouterr().err

    # approving without a scope signs off every missing one: approved, then published
    assert _cli(db, "approve", "P0001", "--by", "cro", "--comment", "the rest") == 0
    assert _state(db).state == "approved" and _state(db).missing == ()
    assert _cli(db, "publish", "P0001", "--note", "given to reps", "--by", "ops") == 0
    assert _state(db).state == "published"
    assert _history(db) == [
        ("in_review", None, "rita", "FY27 first cut"),
        ("signed_off", "segment:enterprise", "erin", "ok for ENT"),
        ("signed_off", "segment:high_velocity", "cro", "the rest"),
        ("signed_off", "segment:mid_market", "cro", "the rest"),
        ("approved", None, "cro", "the rest"),
        ("published", None, "ops", "given to reps"),
    ]
    with warehouse.connect(db, read_only=True) as con:
        assert plan_store.published_plan_id(con) == "P0001"
        stamps = [row[2] for row in approval.state_history(con, "P0001")]
        assert stamps == sorted(stamps) and all(stamps)  # when: every change is time-stamped
    assert _cli(db, "publish", "P0001", "--note", "again", "--override", "x") == 1
    assert "already published" in capsys.readouterr().err

    # the UI shows the latest state as an observation of plan_version
    instance = dg.DagsterInstance.from_config(str(dagster_home(db)))
    latest = instance.fetch_observations(dg.AssetKey("plan_version"), limit=1).records[0]
    metadata = latest.event_log_entry.asset_observation.metadata
    assert metadata["review_state"].value == "published" and metadata["changed_by"].value == "ops"


def test_publishing_without_approval_needs_an_override_which_is_recorded(db: Path, capsys):
    assert _cli(db, "publish", "P0001", "--note", "to reps", "--override", "CRO signed on paper", "--by", "ops") == 0
    assert _history(db) == [("published", None, "ops", "override (draft, not approved): CRO signed on paper")]
    with warehouse.connect(db, read_only=True) as con:
        assert plan_store.published_plan_id(con) == "P0001"


def test_recall_takes_a_plan_back_from_review_approval_or_publication(db: Path, capsys):
    assert _cli(db, "recall", "P0001", "--comment", "not in review yet") == 1
    assert "cannot recall plan P0001: it is draft" in capsys.readouterr().err
    assert _cli(db, "review", "P0001") == 0
    assert _cli(db, "approve", "P0001", "--segment", "mid_market") == 0
    assert _cli(db, "recall", "P0001", "--comment", "   ") == 1
    assert "needs a comment" in capsys.readouterr().err
    assert _cli(db, "recall", "P0001", "--by", "fin", "--comment", "factor too high") == 0
    assert _state(db).state == "recalled"

    # a new review round: the earlier sign-off no longer counts
    assert _cli(db, "review", "P0001", "--comment", "factor lowered") == 0
    assert _state(db).missing == SEGMENTS
    assert _cli(db, "approve", "P0001") == 0
    assert _cli(db, "publish", "P0001", "--note", "to reps") == 0

    # recalling the published plan: it is no longer THE published plan, and never published again
    assert _cli(db, "recall", "P0001", "--by", "cro", "--comment", "wrong territories") == 0
    with warehouse.connect(db, read_only=True) as con:
        assert plan_store.published_plan_id(con) is None
        assert plan_store.current_plan_id(con) == "P0001"  # recall does not move the current plan
    assert _cli(db, "review", "P0001") == 1
    assert "never re-published" in capsys.readouterr().err
    assert _state(db).state == "recalled"


def test_unfinished_or_unknown_plans_cannot_change_state(db: Path, capsys):
    assert _cli(db, "review", "P0042") == 1
    assert "no plan P0042" in capsys.readouterr().err
    with warehouse.connect(db) as con:
        con.execute("UPDATE plans.plan_runs SET status = 'pending' WHERE run_id = 'P0001'")
    assert _cli(db, "review", "P0001") == 1
    assert "P0001 is a pending run, not a finished plan version" in capsys.readouterr().err


@pytest.fixture(scope="module")
def managed_plan(tmp_path_factory: pytest.TempPathFactory) -> PlanOutcome:
    """The edge inputs with reps.manager_id (M1 leads R1 and R2, M2 leads R3), planned with the
    default settings, which rightly hold a seven-account book for review."""
    folder = edge_inputs(tmp_path_factory.mktemp("managed") / "in")
    reps = pl.read_csv(folder / "reps.csv", infer_schema_length=0)
    managers = pl.Series("manager_id", ["M1", "M1", "M2", None])
    reps.with_columns(managers).write_csv(folder / "reps.csv")
    return run_plan(folder, DEFAULT_CONFIG, folder.parent / "plan.duckdb", instance=dg.DagsterInstance.ephemeral())


def test_reps_with_a_manager_are_signed_off_per_manager_and_review_reasons_still_need_acknowledging(
        managed_plan: PlanOutcome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    db = tmp_path / "plan.duckdb"
    shutil.copy(managed_plan.db, db)
    plan = managed_plan.plan_id
    assert managed_plan.status == "needs_review"
    state = _state(db, plan)
    assert (state.sign_off, state.scopes) == ("manager", ("manager:M1", "manager:M2"))

    assert _cli(db, "review", plan) == 0
    assert _cli(db, "approve", plan, "--segment", "mid_market") == 1
    assert "needs sign-off by manager (manager:M1, manager:M2)" in capsys.readouterr().err
    assert _cli(db, "approve", plan, "--manager", "M1", "--by", "m1") == 0
    assert _state(db, plan).state == "in_review" and _state(db, plan).missing == ("manager:M2",)
    assert _cli(db, "approve", plan, "--manager", "M2", "--by", "m2") == 0
    assert _state(db, plan).state == "approved"

    # approved, but held for review by the plan's own checks: never current without an acknowledgement
    assert _cli(db, "publish", plan, "--note", "to reps") == 1
    assert "needs review" in capsys.readouterr().err
    with warehouse.connect(db, read_only=True) as con:
        assert plan_store.current_plan_id(con) is None
    assert _cli(db, "publish", plan, "--note", "to reps", "--acknowledge", "small book, checked by hand") == 0
    with warehouse.connect(db, read_only=True) as con:
        assert plan_store.current_plan_id(con) == plan
        assert con.execute("SELECT manager_id FROM plans.plan_reps WHERE plan_id = ? ORDER BY rep_id",
                           [plan]).fetchall() == [("M1",), ("M1",), ("M2",)]
