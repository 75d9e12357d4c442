"""Scoring the plan's items in batches (pipeline/plan/item_scores.py) on a real plan's trained model:
batches of a few rows give what one batch of all gives, and the table the plan wrote."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from models.artifacts import load_model
from pipeline.core import warehouse
from pipeline.plan.item_scores import plan_item_batches, write_item_scores
from pipeline.runner import PlanOutcome


def _scores(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute("SELECT * FROM work.item_scores ORDER BY ALL").fetchall()


def _own_db(sample_plan: PlanOutcome, tmp_path: Path) -> Path:
    """A copy of the session's plan database: these tests rewrite its item tables."""
    return Path(shutil.copy(sample_plan.db, tmp_path / "plan.duckdb"))


def test_items_scored_batch_by_batch_give_the_plans_scores(sample_plan: PlanOutcome, tmp_path: Path):
    with warehouse.connect(_own_db(sample_plan, tmp_path)) as con:
        written = _scores(con)
        version = con.execute("SELECT model_version FROM work.model_info").fetchone()[0]
        model = load_model(warehouse.artifact_dir(sample_plan.db), version)
        batches = list(plan_item_batches(con, rows=997))
        items = con.execute("SELECT count(*) FROM work.item_features WHERE role = 'plan'").fetchone()[0]
        assert len(batches) == -(-items // 997) > 3 and sum(b.height for b in batches) == items
        write_item_scores(con, model, "learned", batch_rows=997)
        assert _scores(con) == written
        write_item_scores(con, model, "learned", batch_rows=items + 1)
        assert _scores(con) == written and len(written) == items


def test_a_plan_without_items_scores_none(sample_plan: PlanOutcome, tmp_path: Path):
    with warehouse.connect(_own_db(sample_plan, tmp_path)) as con:
        version = con.execute("SELECT model_version FROM work.model_info").fetchone()[0]
        model = load_model(warehouse.artifact_dir(sample_plan.db), version)
        con.execute("DELETE FROM work.item_features WHERE role = 'plan'")
        (empty,) = plan_item_batches(con)
        assert empty.height == 0 and "account_id" in empty.columns
        write_item_scores(con, model, "learned")
        assert _scores(con) == []
        assert [c[0] for c in con.execute("DESCRIBE work.item_scores").fetchall()] == [
            "account_id", "product_id", "kind", "p_close", "expected_amount", "amount_basis"]
