"""Jobs, schedule, sensor, publishing, blocking checks and retries on real Dagster runs and
real DuckDB files (tiny hand-built inputs)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import dagster as dg
import pytest
import yaml

from pipeline.cli import main
from pipeline.core import warehouse
from pipeline.core.settings import load_settings
from pipeline.ingestion.usage_weeks import usage_weeks, week_range_tags
from pipeline.plan import store as plan_store
from pipeline.runner import PlanOutcome, PlanRunError, run_plan
from tests.builders import TEST_CONFIG, edge_inputs, settings_with, write_inputs


def _query(db: Path, sql: str) -> list[tuple]:
    with warehouse.connect(db, read_only=True) as con:
        return con.execute(sql).fetchall()


def _keys(job: dg.JobDefinition) -> set[str]:
    return {k.to_user_string() for k in job.asset_layer.selected_asset_keys}


def test_definitions_carry_the_jobs_schedule_and_sensor(tmp_path: Path):
    from pipeline.definitions import RunPlaces, file_definitions

    places = RunPlaces(input_dir=str(edge_inputs(tmp_path / "in")), db=str(tmp_path / "new.duckdb"))  # nothing loaded
    loaded = file_definitions(places, TEST_CONFIG)
    plan, refresh, rebalance = (loaded.resolve_job_def(n) for n in ("plan_job", "refresh_job", "rebalance_job"))
    assert {"raw_accounts", "close_probability_model", "territories", "quotas", "plan_version"} <= _keys(plan)
    assert "eev_drift" not in _keys(plan)
    # the refresh recomputes EEV and drift but never writes territories, quotas or a plan version
    assert {"raw_usage", "item_features", "item_scores", "account_eev", "eev_drift"} <= _keys(refresh)
    assert not {"rep_plan", "territories", "quotas", "plan_version", "close_probability_model"} & _keys(refresh)
    # a rebalance rebuilds everything downstream of the reps (contributions, moves, balance, the plan
    # version, its tracking and exports, then current_plan), nothing upstream of them
    assert {"rep_plan", "territories", "territory_methods", "quota_contributions", "quotas", "territory_moves",
            "territory_balance", "plan_review", "plan_version", "plan_exports", "current_plan"} <= _keys(rebalance)
    assert not {"raw_accounts", "account_eev", "close_probability_model", "backtest_results"} & _keys(rebalance)
    schedule = loaded.resolve_schedule_def("weekly_refresh")
    assert schedule.cron_schedule == load_settings().operations.refresh_cron
    assert schedule.job_name == "refresh_job"
    keys = usage_weeks(load_settings().operations.usage_start).get_partition_keys()
    with dg.instance_for_test() as instance:
        request = schedule(dg.build_schedule_context(instance=instance,
                                                     scheduled_execution_time=dt.datetime(2026, 3, 2, tzinfo=dt.UTC)))
    assert request.tags == {}  # nothing loaded yet: every week, a run without a partition
    assert week_range_tags(usage_weeks(load_settings().operations.usage_start), keys[1], keys[-1]) == {
        "dagster/asset_partition_range_start": keys[1], "dagster/asset_partition_range_end": keys[-1]}
    assert loaded.resolve_sensor_def("input_folder_sensor").job_name == "refresh_job"
    ops = load_settings().operations  # retries are the Warehouse's, for transient errors only: no job retries all
    assert {job.name: job.op_retry_policy for job in (plan, refresh, rebalance)} == dict.fromkeys(
        ("plan_job", "refresh_job", "rebalance_job"))
    warehouse_resource = loaded.resources["warehouse"]
    assert (warehouse_resource.max_retries, warehouse_resource.retry_delay_seconds) == (ops.max_retries,
                                                                                       ops.retry_delay_seconds)


def test_sensor_starts_one_run_per_change(tmp_path: Path):
    from pipeline.definitions import RunPlaces, file_definitions
    from pipeline.defs.resources import PlanInputs

    folder = edge_inputs(tmp_path / "in")
    sensor = file_definitions(RunPlaces(input_dir=str(folder)), TEST_CONFIG).resolve_sensor_def("input_folder_sensor")
    instance = dg.DagsterInstance.ephemeral()

    def tick(cursor: str | None) -> tuple[list[dg.RunRequest], str | None]:
        context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                          resources={"plan_inputs": PlanInputs(path=str(folder))})
        result = sensor.evaluate_tick(context)
        return list(result.run_requests or []), result.cursor

    requests, cursor = tick(None)  # the first look only records the folder
    assert requests == [] and cursor
    assert tick(cursor) == ([], cursor)  # nothing changed: no run
    accounts = folder / "accounts.csv"
    accounts.write_text(accounts.read_text() + "A8,Account A8,software,EMEA,10,2023-01-01,2026-06-30,,\n")
    requests, changed_cursor = tick(cursor)
    assert len(requests) == 1 and requests[0].tags["quota_plan/changed_files"] == "accounts.csv"
    assert tick(changed_cursor) == ([], changed_cursor)  # the same change does not start a second run
    (folder / "usage.csv").write_text("account_id,product_id,date,active_users,events\n")
    requests, _ = tick(changed_cursor)
    assert len(requests) == 1 and requests[0].tags["quota_plan/changed_files"] == "usage.csv"


@pytest.fixture()
def tiny_plan(tmp_path: Path) -> PlanOutcome:
    return run_plan(edge_inputs(tmp_path / "in"), TEST_CONFIG, tmp_path / "plan.duckdb",
                    instance=dg.DagsterInstance.ephemeral())


def test_refresh_reports_drift_and_never_changes_the_plan(tiny_plan: PlanOutcome, tmp_path: Path):
    db, folder = tiny_plan.db, tmp_path / "in"
    assert main(["publish", tiny_plan.plan_id, "--note", "FY26 plan", "--override", "no review in this test",
                 "--db", str(db)]) == 0
    before = {t: _query(db, f"SELECT * FROM plans.{t} ORDER BY ALL") for t in ("quotas", "territories", "plan_runs")}

    run_plan(folder, TEST_CONFIG, db, instance=dg.DagsterInstance.ephemeral(), job_name="refresh_job")
    # same inputs, same model: every rep's territory EEV is what the plan says
    drift = _query(db, "SELECT rep_id, plan_id, drift, flagged FROM work.eev_drift ORDER BY rep_id")
    assert [(r, p, d, f) for r, p, d, f in drift] == [(r, "P0001", 0.0, False) for r in ("R1", "R2", "R3")]
    assert _query(db, "SELECT DISTINCT role FROM work.snapshot_dates") == [("plan",)]  # no training snapshots

    # the enterprise account A7 leaves: R3's current territory EEV is 0, drift = -plan
    accounts = (folder / "accounts.csv").read_text().splitlines()
    subscriptions = (folder / "subscriptions.csv").read_text().splitlines()
    (folder / "accounts.csv").write_text("\n".join(line for line in accounts if not line.startswith("A7,")) + "\n")
    (folder / "subscriptions.csv").write_text("\n".join(l for l in subscriptions if not l.startswith("A7,")) + "\n")
    run_plan(folder, TEST_CONFIG, db, instance=dg.DagsterInstance.ephemeral(), job_name="refresh_job")
    r3 = _query(db, "SELECT plan_territory_eev, current_territory_eev, drift, flagged FROM work.eev_drift "
                    "WHERE rep_id = 'R3'")
    plan_r3 = _query(db, "SELECT territory_eev FROM main.quotas WHERE rep_id = 'R3'")[0][0]
    assert r3 == [(plan_r3, 0.0, -plan_r3, plan_r3 > 0)]
    after = {t: _query(db, f"SELECT * FROM plans.{t} ORDER BY ALL") for t in ("quotas", "territories", "plan_runs")}
    assert after == before  # no quota changed, no plan version written

    # rebalancing writes a new current plan from the current EEV; the published plan stays put
    outcome = run_plan(folder, TEST_CONFIG, db, instance=dg.DagsterInstance.ephemeral(), job_name="rebalance_job")
    assert outcome.plan_id == "P0002"
    assert _query(db, "SELECT count(*) FROM main.territories WHERE account_id = 'A7'") == [(0,)]
    with warehouse.connect(db, read_only=True) as con:
        assert plan_store.published_plan_id(con) == "P0001"
        assert plan_store.altered_published_plans(con) == []


def test_scheduled_and_sensor_refreshes_measure_eev_as_of_their_day(sample_plan: PlanOutcome, sample_inputs: Path,
                                                                    tmp_path: Path):
    from pipeline.core.progress import run_config
    from pipeline.definitions import RunPlaces, file_definitions
    from pipeline.defs.resources import PlanInputs

    db, folder = tmp_path / "plan.duckdb", edge_inputs(tmp_path / "in")
    shutil.copy(sample_plan.db, db)
    shutil.copytree(warehouse.artifact_dir(sample_plan.db), warehouse.artifact_dir(db))  # the plan's model
    loaded = file_definitions(RunPlaces(input_dir=str(sample_inputs), db=str(db)), TEST_CONFIG)
    settings_as_of = load_settings().as_of

    def plan_config(request: dg.RunRequest) -> dict:
        return request.run_config["resources"]["settings"]["config"]

    with dg.instance_for_test() as instance:  # schedule contexts need a persistent instance
        tick = dt.datetime(2026, 9, 7, 6, tzinfo=dt.UTC)
        scheduled = loaded.resolve_schedule_def("weekly_refresh")(
            dg.build_schedule_context(instance=instance, scheduled_execution_time=tick))
        assert plan_config(scheduled) == {"as_of": "2026-09-07"}
        sensor = loaded.resolve_sensor_def("input_folder_sensor")
        resources = {"plan_inputs": PlanInputs(path=str(folder))}
        cursor = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, resources=resources)).cursor
        os.utime(folder / "accounts.csv", (1_900_000_000, 1_900_000_000))  # touched: same rows, new mtime
        today = dt.datetime.now(dt.UTC).date().isoformat()
        started = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources))
        assert [plan_config(r)["as_of"] for r in started.run_requests] == [today]

        # the scheduled run itself on the sample plan: EEV measured on 2026-09-07 (usage, renewals and
        # contracts of that day), drift against the published plan's EEV of the settings' date
        quiet = run_config(0, show_progress=False, verbose=False)
        result = loaded.resolve_job_def("refresh_job").execute_in_process(
            instance=instance, run_config={**quiet, **scheduled.run_config}, tags=scheduled.tags)
    assert result.success
    assert _query(db, "SELECT snapshot_date FROM work.snapshot_dates") == [(dt.date(2026, 9, 7),)]
    plan_eev = _query(db, "SELECT rep_id, territory_eev FROM main.quotas ORDER BY rep_id")
    drift = _query(db, "SELECT rep_id, plan_territory_eev, current_territory_eev, drift FROM work.eev_drift "
                       "ORDER BY rep_id")
    assert [(r, e) for r, e, _, _ in drift] == plan_eev and all(e > 0 for _, e in plan_eev)
    assert [(r, c - e) for r, e, c, _ in drift] == [(r, d) for r, _, _, d in drift]
    assert sum(abs(d) for *_, d in drift) > 0.01 * sum(e for _, e in plan_eev)  # a later day, another EEV
    # the refresh wrote no plan run: the plan stays dated as the settings say
    assert _query(db, "SELECT DISTINCT as_of FROM plans.plan_runs") == [(settings_as_of,)]


def test_publish_marks_once_and_published_plans_are_never_modified(sample_plan: PlanOutcome, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]):
    db = tmp_path / "copy.duckdb"
    shutil.copy(sample_plan.db, db)
    assert main(["publish", "P0001", "--note", "given to reps 2026-01-05", "--override", "no review in this test",
                 "--db", str(db)]) == 0
    assert _query(db, "SELECT plan_id, note FROM main.published_plans") == [("P0001", "given to reps 2026-01-05")]
    assert main(["plans", "--db", str(db)]) == 0
    assert "[published]" in capsys.readouterr().out

    assert main(["publish", "P0001", "--note", "again", "--db", str(db)]) == 1
    assert "plan P0001 was already published" in capsys.readouterr().err
    assert main(["publish", "P0009", "--note", "x", "--db", str(db)]) == 1
    assert "no plan P0009" in capsys.readouterr().err
    assert _query(db, "SELECT count(*) FROM plans.published_plans") == [(1,)]

    # a hand edit of a published plan is detected and every later write is refused
    with warehouse.connect(db) as con:
        con.execute("UPDATE plans.quotas SET quota = quota + 1000 WHERE plan_id = 'P0001' AND rep_id = "
                    "(SELECT min(rep_id) FROM plans.quotas)")
        assert plan_store.altered_published_plans(con) == ["P0001"]
        with pytest.raises(plan_store.PlanStoreError, match="P0001 no longer match"):
            plan_store.write_plan_version(con, plan_store.PlanRun(load_settings().as_of, "s", "d", "m", "r", "{}"))
        assert plan_store.current_plan_id(con) == "P0001"


def test_blocking_check_failure_stops_everything_downstream(tiny_plan: PlanOutcome, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch):
    db = tiny_plan.db
    before = _query(db, "SELECT * FROM main.quotas ORDER BY ALL")
    real_sql_text = warehouse.sql_text
    # every quota comes out one rounding step above factor x EEV: the blocking check on quotas fails
    monkeypatch.setattr(warehouse, "sql_text", lambda name: real_sql_text(name).replace(
        "CAST(sum(CAST(contribution_unrounded AS DECIMAL(38, 6))) AS DOUBLE) AS quota_unrounded",
        "CAST(sum(CAST(contribution_unrounded AS DECIMAL(38, 6))) AS DOUBLE) + $quota_rounding AS quota_unrounded")
        if name == "quotas" else real_sql_text(name))
    instance = dg.DagsterInstance.ephemeral()
    with pytest.raises(PlanRunError, match="blocking check failed: quota_is_factor_times_territory_eev on quotas"):
        run_plan(tmp_path / "in", TEST_CONFIG, db, instance=instance)
    run_id = _query(db, "SELECT dagster_run_id FROM plans.plan_runs WHERE status = 'failed'")[0][0]
    materialized = {e.dagster_event.asset_key.to_user_string() for e in instance.all_logs(run_id)
                    if e.dagster_event and e.dagster_event.is_step_materialization}
    assert "quotas" in materialized and "plan_version" not in materialized
    assert _query(db, "SELECT plan_id FROM plans.current_plan") == [("P0001",)]
    assert _query(db, "SELECT * FROM main.quotas ORDER BY ALL") == before


def _retries(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [e.step_key for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY)]


def test_transient_failure_is_retried_and_bad_input_is_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    folder, db = edge_inputs(tmp_path / "in"), tmp_path / "plan.duckdb"
    real_build = warehouse.build_table
    failures = iter([OSError("disk hiccup")])

    def flaky_build(con, name, params=None, schema="work"):
        if name == "quotas" and (error := next(failures, None)):
            raise error
        return real_build(con, name, params, schema)

    monkeypatch.setattr("pipeline.core.warehouse.build_table", flaky_build)
    instance, config = dg.DagsterInstance.ephemeral(), settings_with(tmp_path, retry_delay_seconds=0)
    outcome = run_plan(folder, config, db, instance=instance)
    assert outcome.plan_id == "P0001"
    assert _retries(instance, outcome.dagster_run_id) == ["quotas"]

    write_inputs(folder, {"reps": [{"rep_id": "R1", "role": "wizard"}]})
    with pytest.raises(PlanRunError, match="reps.csv: column role") as err:
        run_plan(folder, config, db, instance=instance)
    assert "Failure" not in str(err.value)
    failed = _query(db, "SELECT dagster_run_id FROM plans.plan_runs WHERE status = 'failed'")[0][0]
    assert _retries(instance, failed) == []
    assert _query(db, "SELECT plan_id FROM plans.current_plan") == [("P0001",)]


def test_refresh_command_prints_the_drift_and_refuses_unknown_weeks(tiny_plan: PlanOutcome, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]):
    args = ["refresh", "--input", str(tmp_path / "in"), "--db", str(tiny_plan.db)]
    assert main([*args, "--weeks", "2025-11-04", "2025-11-10"]) == 1
    assert "not a usage week: 2025-11-04 (weeks are the Mondays 2022-01-03 .." in capsys.readouterr().err
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Territory EEV drift against plan P0001: 0 of 3 reps flagged" in out
    assert all(rep in out for rep in ("R1", "R2", "R3"))


def test_balance_check_warns_on_the_rep_outside_the_tolerance(tmp_path: Path):
    from pipeline.defs.checks import BALANCE, _rule_check
    from pipeline.defs.resources import Warehouse

    db = tmp_path / "w.duckdb"
    with warehouse.connect(db) as con:  # tolerance 0.25; balance_deviation as sql/plan/quotas.sql gives it
        con.execute("""CREATE TABLE work.quotas AS SELECT *, owned_eev / target_eev - 1 AS balance_deviation FROM (VALUES
            ('R1', 'mid_market', 1.0, 124.0, 100.0), ('R2', 'mid_market', 1.0, 76.0, 100.0),
            ('R3', 'enterprise', 1.0, 70.0, 90.0), ('R4', 'enterprise', 0.5, 65.0, 45.0))
            AS t(rep_id, segment, capacity, owned_eev, target_eev)""")
    settings = yaml.safe_load(TEST_CONFIG.read_text())
    settings["territory"]["balance_tolerance"] = 0.25
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(settings))
    check = _rule_check(*BALANCE, blocking=False)
    result = check(warehouse=Warehouse(path=str(db)), settings=load_settings(tmp_path / "plan.yaml"))
    # enterprise: 135 / 1.5 = 90 per capacity; R3 70/90 - 1 = -22%, R4 65/45 - 1 = +44%
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["examples"].value == "R4"
    assert result.metadata["rows_breaking_rule"].value == 1


def _usage_rows(folder: Path) -> int:
    """Write a usage file of two weeks far apart for the edge inputs; returns its rows."""
    rows = ["A4,WS1,2024-01-08,3,40", "A4,WS1,2025-11-10,4,55", "A5,WS2,2025-11-11,2,9"]
    (folder / "usage.csv").write_text("account_id,product_id,date,active_users,events\n" + "\n".join(rows) + "\n")
    return len(rows)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def two_databases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, dict[str, bytes]]:
    """Two CLI runs (no DAGSTER_HOME) on two DuckDB files in one folder, with different plan dates:
    the input folder, both files, and the first plan's exports as they were before the second run."""
    root = tmp_path_factory.mktemp("two_dbs")
    folder = edge_inputs(root / "in")
    _usage_rows(folder)
    first, second = root / "data" / "east.duckdb", root / "data" / "west.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("DAGSTER_HOME", raising=False)
        assert main(["run", "--input", str(folder), "--db", str(first), "--config", str(TEST_CONFIG)]) == 0
        before = _files(root / "data" / "exports" / "east" / "P0001")
        assert main(["run", "--input", str(folder), "--db", str(second), "--config", str(TEST_CONFIG),
                     "--as-of", "2025-10-01"]) == 0
    return folder, first, second, before


def test_two_databases_in_one_folder_never_share_exports(two_databases: tuple[Path, Path, Path, dict[str, bytes]]):
    from pipeline.defs.resources import ExportFolder, Warehouse

    _, first, second, before = two_databases
    east, west = (ExportFolder().for_plan(db, "P0001") for db in (first, second))  # both plans are P0001
    assert east == first.parent / "exports" / "east" / "P0001" and west == first.parent / "exports" / "west" / "P0001"
    assert _files(east) == before  # the second run left the first plan's workbook and letters as they were
    after = _files(west)
    assert before.keys() & after.keys() and before != after  # the same files, of another plan
    assert {"east", "west"} == {p.name for p in (first.parent / "exports").iterdir()}
    assert Warehouse(path=str(first)).mapped_inputs_dir != Warehouse(path=str(second)).mapped_inputs_dir


def test_cli_runs_and_a_ui_launch_share_one_dagster_home(two_databases: tuple[Path, Path, Path, dict[str, bytes]]):
    from pipeline.definitions import RunPlaces, file_definitions
    from pipeline.runner import dagster_home

    folder, first, second, _ = two_databases
    assert dagster_home(first) == dagster_home(second) == first.parent / ".dagster"
    loaded = file_definitions(RunPlaces(input_dir=str(folder), db=str(first)), TEST_CONFIG)  # the UI's location
    plan_job = loaded.resolve_job_def("plan_job")
    weeks = usage_weeks(load_settings(TEST_CONFIG).operations.usage_start)
    assert plan_job.partitions_def == loaded.resolve_job_def("refresh_job").partitions_def == weeks  # weekly loads
    with dg.DagsterInstance.from_config(str(dagster_home(first))) as instance:
        cli_runs = instance.get_runs()
        assert [run.job_name for run in cli_runs] == ["plan_job", "plan_job"]  # both CLI runs are in the history
        launched = plan_job.execute_in_process(instance=instance, raise_on_error=False)  # no partition chosen
        assert launched.success
        assert [run.run_id for run in instance.get_runs()] == [launched.run_id, *(r.run_id for r in cli_runs)]
    assert _query(first, "SELECT count(*) FROM raw.usage") == [(3,)]  # every week: the whole usage file
    assert _query(first, "SELECT run_id FROM plans.plan_runs ORDER BY run_id") == [("P0001",), ("P0002",)]  # CLI, UI
