"""The whole plan through Dagster on real DuckDB files: identities, edges, failure safety."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import dagster as dg
import pytest

from pipeline.core import warehouse
from pipeline.core.settings import load_settings
from pipeline.runner import PlanOutcome, PlanRunError, run_plan
from tests.builders import REPS, TEST_CONFIG, edge_inputs, export_plan_tables, write_inputs


def _query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with warehouse.connect(db, read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def test_definitions_load():
    from pipeline.definitions import defs

    loaded = defs()
    keys = {k.to_user_string() for k in loaded.resolve_asset_graph().get_all_asset_keys()}
    assert {"raw_accounts", "whitespace_items", "close_probability_model", "account_eev", "territories",
            "quotas", "plan_version"} <= keys
    assert "raw_inputs" not in keys  # the multi-asset's tables are the assets
    assert loaded.resolve_job_def("plan_job").executor_def.name == "in_process"
    graph = loaded.resolve_asset_graph()
    plan_assets = loaded.resolve_job_def("plan_job").asset_layer.executable_asset_keys
    backtest_assets = {dg.AssetKey(k) for k in ("backtest_results", "backtest_summary", "backtest_report")}
    assert backtest_assets <= graph.get_all_asset_keys() and not backtest_assets & set(plan_assets)
    assert backtest_assets <= set(loaded.resolve_job_def("backtest_job").asset_layer.executable_asset_keys)


def test_every_asset_materialized_and_identities_hold(sample_plan: PlanOutcome):
    db = sample_plan.db
    # an account's eev is the sum of its items (added exactly, in millionths: the same in any row order);
    # an item's eev is p_close x expected_amount
    # (= whitespace x p_close x capture where the whitespace is above 0; every candidate is an item,
    # so the whitespace can be 0)
    assert _query(db, """
        SELECT count(*) FROM main.account_eev a
        LEFT JOIN (SELECT account_id, CAST(sum(CAST(eev AS DECIMAL(38, 6))) AS DOUBLE) e
                   FROM main.whitespace_items GROUP BY 1) i USING (account_id)
        WHERE a.eev <> coalesce(i.e, 0)""") == [(0,)]
    assert _query(db, """SELECT count(*) FROM main.whitespace_items
        WHERE eev <> p_close * expected_amount OR abs(eev - whitespace * p_close * capture) > 1e-6
           OR p_close NOT BETWEEN 0 AND 1 OR expected_amount < 0 OR whitespace < 0""") == [(0,)]
    # a rep's territory_eev is the sum over its accounts; quota / territory_eev is the factor
    assert _query(db, """
        SELECT count(*) FROM main.quotas q
        LEFT JOIN (SELECT rep_id, sum(a.eev) e FROM main.territories t JOIN main.account_eev a USING (account_id)
                   GROUP BY 1) s USING (rep_id)
        WHERE abs(q.territory_eev - coalesce(s.e, 0)) > 1e-6
           OR (q.territory_eev > 0 AND abs(q.quota_unrounded / q.territory_eev - 0.675) > 1e-9)
           OR abs(q.quota - q.quota_unrounded) > 500 OR q.quota % 1000 <> 0""") == [(0,)]
    # every account with acv >= $5,000 has a rep of its own segment; self-serve ones have none
    assert _query(db, """
        SELECT count(*) FROM main.account_eev a LEFT JOIN main.territories t USING (account_id)
        LEFT JOIN main.quotas q ON q.rep_id = t.rep_id
        WHERE (a.acv >= 5000 AND (t.rep_id IS NULL OR q.segment <> a.segment))
           OR (a.acv < 5000 AND t.rep_id IS NOT NULL)""") == [(0,)]
    # book sizes within limits scaled by capacity
    settings = load_settings(TEST_CONFIG)
    for seg in settings.segments:
        assert _query(db, "SELECT count(*) FROM main.quotas WHERE segment = ? AND accounts > floor(? * capacity)",
                      [seg.name, seg.book_max]) == [(0,)]
    # the data-quality report counts the weekly usage load too: every usage row read is loaded
    assert _query(db, """SELECT sum(rows) FROM main.data_quality WHERE step = 'loaded' AND "table" = 'usage'""") \
        == _query(db, "SELECT count(*) FROM raw.usage")
    # lineage row
    run = _query(db, "SELECT run_id, status, as_of, settings_hash, model_version FROM main.plan_runs")
    assert run == [(sample_plan.plan_id, "succeeded", settings.as_of, settings.settings_hash(),
                    _query(db, "SELECT model_version FROM main.model_info")[0][0])]


def test_model_learns_from_the_sample_history(sample_plan: PlanOutcome):
    chosen, fallback = _query(sample_plan.db, "SELECT chosen, fallback_reason FROM main.model_info")[0]
    assert fallback is None and chosen != "base_rate"
    metrics = dict(_query(sample_plan.db,
                          "SELECT metric, value FROM main.model_metrics WHERE model = 'chosen' AND segment = 'all'"))
    assert metrics["roc_auc"] > 0.7  # the sample's expansions depend on usage and fit


@pytest.fixture(scope="module")
def rerun(sample_inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dg.DagsterInstance, PlanOutcome]:
    """The sample planned a second time (the session's sample_plan is the first), with its Dagster instance."""
    instance = dg.DagsterInstance.ephemeral()
    db = Path(tmp_path_factory.mktemp("rerun")) / "again.duckdb"
    return instance, run_plan(sample_inputs, TEST_CONFIG, db, instance=instance)


def test_dagster_recorded_materializations(rerun: tuple[dg.DagsterInstance, PlanOutcome]):
    instance, outcome = rerun
    for key in ("raw_accounts", "account_state", "whitespace_items", "item_scores", "territories", "quotas",
                "plan_version", "plan_exports"):
        event = instance.get_latest_materialization_event(dg.AssetKey(key))
        assert event is not None and event.run_id == outcome.dagster_run_id, key
    plan_event = instance.get_latest_materialization_event(dg.AssetKey("plan_version"))
    plan_meta = plan_event.asset_materialization.metadata
    assert plan_meta["plan_id"].value == outcome.plan_id
    # the model's charts and importances are in the UI; its blocking check passed
    model = instance.get_latest_materialization_event(dg.AssetKey("close_probability_model")).asset_materialization
    assert Path(model.metadata["calibration_chart"].value).is_file()
    assert model.metadata["calibration_curve"].value.startswith("![calibration](data:image/png;base64,")
    assert "| feature | importance | importance_std |" in model.metadata["feature_importances"].value
    assert model.metadata["model_version"].value == _query(outcome.db, "SELECT model_version FROM main.model_info")[0][0]
    check = dg.AssetCheckKey(dg.AssetKey("close_probability_model"), "beats_base_rate")
    assert instance.get_latest_asset_check_evaluation_record(check).event.asset_check_evaluation.passed
    quotas = _query(outcome.db, "SELECT sum(territory_eev), sum(quota) FROM main.quotas")[0]
    assert (plan_meta["total_eev"].value, plan_meta["total_quota"].value) == pytest.approx(quotas)
    assert plan_meta["balance_cv"].value == max(plan_meta[f"balance_cv_{s}"].value
                                                for s in ("high_velocity", "mid_market", "enterprise"))
    # the exports step: key figures, where the files are, and the report's charts in the UI
    exports = instance.get_latest_materialization_event(dg.AssetKey("plan_exports")).asset_materialization.metadata
    assert exports["total_quota"].value == plan_meta["total_quota"].value
    assert Path(exports["report"].value).is_file() and exports["letters"].value == _query(
        outcome.db, "SELECT count(*) FROM main.quotas")[0][0]
    for chart in ("eev_quota_by_segment", "quota_by_rep", "territory_balance", "model_metrics"):
        assert exports[f"chart_{chart}"].value.startswith(f"![{chart}](data:image/png;base64,iVBORw0KGgo")
        assert Path(exports[f"chart_{chart}_file"].value).read_bytes()[:4] == b"\x89PNG"


def test_same_inputs_settings_and_seed_give_byte_identical_plan(
        sample_plan: PlanOutcome, rerun: tuple[dg.DagsterInstance, PlanOutcome], tmp_path: Path):
    again = rerun[1]
    assert export_plan_tables(sample_plan.db, tmp_path / "first") == export_plan_tables(again.db, tmp_path / "second")


def test_segment_edges_blackout_and_joint_planning(tmp_path: Path):
    outcome = run_plan(edge_inputs(tmp_path / "in"), TEST_CONFIG, tmp_path / "plan.duckdb",
                       instance=dg.DagsterInstance.ephemeral())
    rows = {r[0]: r[1:] for r in _query(outcome.db, """
        SELECT account_id, segment, joint_planning, renewal_date, blackout_start, blackout_end
        FROM main.account_eev""")}
    assert {a: r[0] for a, r in rows.items()} == {
        "A1": "self_serve", "A2": "high_velocity", "A3": "high_velocity", "A4": "mid_market",
        "A5": "mid_market", "A6": "mid_market", "A7": "enterprise"}
    assert {a for a, r in rows.items() if r[1]} == {"A6", "A7"}  # above $50,000, not at it
    # 60 days before a 2026-03-01 renewal: 2025-12-31 .. 2026-02-28 inclusive
    assert rows["A2"][2:] == (dt.date(2026, 3, 1), dt.date(2025, 12, 31), dt.date(2026, 2, 28))
    assert (rows["A2"][4] - rows["A2"][3]).days + 1 == 60
    # too little history: base rates, said so
    assert _query(outcome.db, "SELECT chosen, fallback_reason IS NOT NULL FROM main.model_info") == [("base_rate", True)]


def test_bad_input_stops_the_run_and_keeps_the_last_good_plan(tmp_path: Path):
    good = edge_inputs(tmp_path / "in")
    db = tmp_path / "plan.duckdb"
    first = run_plan(good, TEST_CONFIG, db, instance=dg.DagsterInstance.ephemeral())
    before = export_plan_tables(db, tmp_path / "before")
    raw_before = _query(db, "SELECT * FROM raw.accounts ORDER BY ALL")

    bad = tmp_path / "bad"
    shutil.copytree(good, bad)
    text = (bad / "accounts.csv").read_text().splitlines()
    (bad / "accounts.csv").write_text("\n".join([*text, text[1]]) + "\n")  # duplicate the first account
    with pytest.raises(PlanRunError) as err:
        run_plan(bad, TEST_CONFIG, db, instance=dg.DagsterInstance.ephemeral())
    message = str(err.value)
    for part in ("accounts.csv", "account_id", "unique", "A1"):
        assert part in message
    assert _query(db, "SELECT plan_id FROM plans.current_plan") == [(first.plan_id,)]
    assert export_plan_tables(db, tmp_path / "after") == before
    assert _query(db, "SELECT * FROM raw.accounts ORDER BY ALL") == raw_before
    assert _query(db, "SELECT status FROM main.plan_runs ORDER BY created_at") == [("succeeded",), ("failed",)]


def test_infeasible_segment_names_the_headcount(tmp_path: Path):
    folder = edge_inputs(tmp_path / "in")
    reps = [r for r in REPS if r["rep_id"] != "R3"]  # no enterprise rep
    write_inputs(folder, {"reps": reps})
    with pytest.raises(PlanRunError, match=r"segment enterprise: 1 accounts but no active expansion rep"):
        run_plan(folder, TEST_CONFIG, tmp_path / "plan.duckdb", instance=dg.DagsterInstance.ephemeral())


def test_plan_steps_read_accounts_from_account_state_not_raw(sample_plan: PlanOutcome, tmp_path: Path):
    """account_eev, the territories and their checks run without raw.accounts: the plan-date rows
    of account_state carry account_name and locked. A lock set there keeps a moved account with
    its owner."""
    from pipeline.defs.checks import PLAN_CHECKS
    from pipeline.defs.plan import account_eev, territories
    from pipeline.defs.resources import PlanInputs, SqlEngine, Warehouse

    db = tmp_path / "plan.duckdb"
    shutil.copy(sample_plan.db, db)
    with warehouse.connect(db) as con:
        eev_before = con.execute("SELECT * FROM work.account_eev ORDER BY ALL").fetchall()
        (moved,) = con.execute("""SELECT min(t.account_id) FROM work.territories AS t
                                  JOIN work.rep_plan AS r ON r.rep_id = t.previous_rep_id AND r.segment = t.segment
                                  WHERE t.moved AND NOT t.locked""").fetchone()
        assert moved is not None, "the sample plan moves an account between reps of its segment"
        con.execute("UPDATE work.account_state SET locked = true WHERE role = 'plan' AND account_id = ?", [moved])
        con.execute("DROP TABLE raw.accounts")
    plan_checks = [c for c in PLAN_CHECKS
                   if {k.asset_key.to_user_string() for k in c.check_keys} <= {"account_eev", "territories"}]
    assert {k.name for c in plan_checks for k in c.check_keys} >= {"one_row_per_account", "locked_accounts_stay"}
    result = dg.materialize(
        [account_eev, territories, *plan_checks],
        resources={"warehouse": Warehouse(path=str(db)), "settings": load_settings(), "sql_engine": SqlEngine(),
                   "plan_inputs": PlanInputs(path=str(tmp_path))},
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
    )
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    assert _query(db, "SELECT * FROM work.account_eev ORDER BY ALL") == eev_before
    assert _query(db, "SELECT rep_id = previous_rep_id, locked FROM work.territories WHERE account_id = ?",
                  [moved]) == [(True, True)]
