"""Usage loaded by weekly partitions: a week is checked and replaced (never duplicated), other
weeks are untouched, and a refresh loads the weeks after the newest loaded one or, by the weeks'
fingerprints, from the earliest week restated in the usage file."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipeline.core import warehouse
from pipeline.core.settings import load_settings
from pipeline.ingestion.ingest import (
    InputContractError,
    file_usage_fingerprints,
    ingest_inputs,
    ingest_usage_window,
    stored_usage_fingerprints,
)
from pipeline.ingestion.usage_weeks import (
    USAGE_ASSET,
    changed_weeks,
    new_weeks,
    usage_weeks,
    week_bounds,
    week_range_tags,
)
from pipeline.runner import run_plan
from tests.builders import TEST_CONFIG, edge_inputs, write_inputs

VALID = Path(__file__).parents[1] / "fixtures" / "valid"
JUNE_3, JUNE_10, JUNE_17 = dt.date(2024, 6, 3), dt.date(2024, 6, 10), dt.date(2024, 6, 17)


def _usage(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute("SELECT account_id, product_id, date, active_users, events FROM raw.usage ORDER BY ALL").fetchall()


def _edit_usage(folder: Path, old: str, new: str) -> None:
    path = folder / "usage.csv"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.fixture
def loaded(tmp_path: Path) -> tuple[duckdb.DuckDBPyConnection, Path]:
    folder = tmp_path / "input"
    shutil.copytree(VALID, folder)
    with warehouse.connect(tmp_path / "w.duckdb") as con:
        ingest_inputs(con, folder, skip=("usage",))
        yield con, folder


def test_a_week_is_replaced_never_duplicated_and_other_weeks_are_untouched(loaded):
    con, folder = loaded
    assert ingest_usage_window(con, folder, JUNE_3, JUNE_10) == 6
    assert ingest_usage_window(con, folder, JUNE_10, JUNE_17) == 1
    first = _usage(con)
    assert len(first) == 7
    assert ingest_usage_window(con, folder, JUNE_3, JUNE_10) == 6  # re-run: replaced, not appended
    assert _usage(con) == first

    _edit_usage(folder, "A002,P1,2024-06-03,21,", "A002,P1,2024-06-03,25,")
    _edit_usage(folder, "A001,P2,2024-06-10,190,", "A001,P2,2024-06-10,999,")
    ingest_usage_window(con, folder, JUNE_3, JUNE_10)
    users = {(r[0], r[2]): r[3] for r in _usage(con)}
    assert users[("A002", JUNE_3)] == 25 and users[("A001", JUNE_10)] == 190  # only the week re-run changed
    assert ingest_usage_window(con, folder, None, None) == 7  # every week: the whole file
    assert {(r[0], r[2]): r[3] for r in _usage(con)}[("A001", JUNE_10)] == 999


def test_a_week_is_checked_against_the_usage_rules(loaded):
    con, folder = loaded
    ingest_usage_window(con, folder, None, None)
    before = _usage(con)
    _edit_usage(folder, "A001,P2,2024-06-10,190,", "A001,P2,2024-06-10,-5,")
    _edit_usage(folder, "A004,P1,2024-06-03,", "A404,P1,2024-06-03,")
    with pytest.raises(InputContractError) as err:
        ingest_usage_window(con, folder, JUNE_10, JUNE_17)
    assert str(err.value) == "usage.csv: column active_users: rule '>= 0': 1 row breaks it (e.g. A001 / P2 / 2024-06-10)"
    with pytest.raises(InputContractError, match=r"usage.csv: column account_id: rule 'exists in accounts.account_id'"):
        ingest_usage_window(con, folder, JUNE_3, JUNE_10)
    assert _usage(con) == before  # nothing replaced
    # a row whose date is not a date belongs to no week: every load reports it
    _edit_usage(folder, "A001,P2,2024-06-10,-5,", "A001,P2,2024-13-10,5,")
    _edit_usage(folder, "A404,", "A004,")
    with pytest.raises(InputContractError, match=r"column date: rule 'type: date YYYY-MM-DD': 1 row"):
        ingest_usage_window(con, folder, JUNE_3, JUNE_10)


def test_refresh_loads_the_weeks_after_the_newest_loaded_one():
    weeks = usage_weeks(dt.date(2024, 1, 1))
    keys = weeks.get_partition_keys()
    instance = dg.DagsterInstance.ephemeral()
    assert new_weeks(instance, weeks) == (keys[0], keys[-1])  # nothing loaded yet: every week
    for key in keys[:10]:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=USAGE_ASSET, partition=key))
    assert new_weeks(instance, weeks) == (keys[10], keys[-1])
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=USAGE_ASSET, partition=keys[-1]))
    assert new_weeks(instance, weeks) == (keys[-1], keys[-1])  # up to date: the last week again
    assert week_bounds(weeks, keys[0], keys[-1]) == (None, None)
    assert week_bounds(weeks, keys[3], keys[4]) == (dt.date(2024, 1, 22), dt.date(2024, 2, 5))
    assert dt.date.fromisoformat(keys[3]).weekday() == 0  # weeks start on Monday


def test_refresh_run_replaces_only_its_week(tmp_path: Path):
    folder = edge_inputs(tmp_path / "in")
    rows = [{"account_id": a, "product_id": "WS1", "date": d, "active_users": 5, "events": 10}
            for a in ("A2", "A4", "A7") for d in ("2025-11-03", "2025-11-10", "2025-11-17")]
    write_inputs(folder, {"usage": rows})
    db, instance = tmp_path / "plan.duckdb", dg.DagsterInstance.ephemeral()
    run_plan(folder, TEST_CONFIG, db, instance=instance)
    whole_load = instance.get_latest_materialization_event(USAGE_ASSET).asset_materialization
    keys = usage_weeks(load_settings(TEST_CONFIG).operations.usage_start).get_partition_keys()
    assert whole_load.partition is None  # every week in one materialization, not one per week
    assert whole_load.metadata["weeks"].value == f"{keys[0]} .. {keys[-1]}"
    assert new_weeks(instance, usage_weeks(load_settings(TEST_CONFIG).operations.usage_start)) == (keys[-1], keys[-1])

    write_inputs(folder, {"usage": [{**r, "active_users": 7} for r in rows]})
    outcome = run_plan(folder, TEST_CONFIG, db, instance=instance, job_name="refresh_job",
                       weeks=("2025-11-10", "2025-11-10"))
    with warehouse.connect(db, read_only=True) as con:
        users = con.execute("SELECT date, list(active_users ORDER BY account_id) FROM raw.usage "
                            "GROUP BY date ORDER BY date").fetchall()
    assert users == [(dt.date(2025, 11, 3), [5, 5, 5]), (dt.date(2025, 11, 10), [7, 7, 7]),
                     (dt.date(2025, 11, 17), [5, 5, 5])]
    events = instance.get_records_for_run(outcome.dagster_run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    usage_partitions = [r.event_log_entry.dagster_event.partition for r in events.records
                        if r.event_log_entry.dagster_event.asset_key == USAGE_ASSET]
    assert usage_partitions == ["2025-11-10"]


def test_each_load_stores_its_weeks_fingerprints_and_a_restated_old_week_is_found(loaded):
    con, folder = loaded
    ingest_usage_window(con, folder, JUNE_3, JUNE_10)
    assert [w for w, *_ in stored_usage_fingerprints(con)] == [JUNE_3]  # only the loaded week
    ingest_usage_window(con, folder, None, None)
    assert stored_usage_fingerprints(con) == file_usage_fingerprints(folder)
    assert {(w, n) for w, n, _ in stored_usage_fingerprints(con)} == {(JUNE_3, 6), (JUNE_10, 1)}
    _edit_usage(folder, "A002,P1,2024-06-03,21,", "A002,P1,2024-06-03,25,")  # same count, other content
    assert {w for w, *_ in file_usage_fingerprints(folder) ^ stored_usage_fingerprints(con)} == {JUNE_3}


def test_refresh_reloads_from_the_earliest_restated_week(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from pipeline.cli import main
    from pipeline.definitions import RunPlaces, file_definitions

    folder = edge_inputs(tmp_path / "in")
    days = ("2025-11-03", "2025-11-10", "2025-11-17", "2025-11-24")
    rows = [{"account_id": a, "product_id": "WS1", "date": d, "active_users": 5, "events": 10}
            for a in ("A2", "A4", "A7") for d in days]
    write_inputs(folder, {"usage": rows})
    db = tmp_path / "plan.duckdb"
    run_plan(folder, TEST_CONFIG, db, instance=dg.DagsterInstance.ephemeral())
    weeks = usage_weeks(load_settings().operations.usage_start)
    last = weeks.get_last_partition_key()
    assert changed_weeks(weeks, folder, db) == (last, last)  # nothing changed: the last week again

    # week 2025-11-10 restated: one row changed, one removed, one added
    restated = [{**r, "active_users": 9} if (r["account_id"], r["date"]) == ("A2", "2025-11-10") else r
                for r in rows if (r["account_id"], r["date"]) != ("A4", "2025-11-10")]
    restated.append({"account_id": "A1", "product_id": "WS1", "date": "2025-11-12", "active_users": 1, "events": 2})
    write_inputs(folder, {"usage": restated})
    assert changed_weeks(weeks, folder, db) == ("2025-11-10", last)
    with dg.instance_for_test() as instance:  # the schedule finds the same weeks
        loaded = file_definitions(RunPlaces(input_dir=str(folder), db=str(db)), TEST_CONFIG)
        request = loaded.resolve_schedule_def("weekly_refresh")(dg.build_schedule_context(
            instance=instance, scheduled_execution_time=dt.datetime(2026, 3, 2, tzinfo=dt.UTC)))
    assert request.tags == week_range_tags(weeks, "2025-11-10", last)

    assert main(["refresh", "--input", str(folder), "--db", str(db)]) == 0
    assert f"Refreshed usage weeks 2025-11-10 .. {last}" in capsys.readouterr().out
    with warehouse.connect(db, read_only=True) as con:
        in_db = con.execute("SELECT account_id, product_id, CAST(date AS VARCHAR), active_users, events "
                            "FROM raw.usage ORDER BY ALL").fetchall()
    assert in_db == sorted((r["account_id"], r["product_id"], r["date"], r["active_users"], r["events"])
                           for r in restated)  # the file exactly, no duplicates
    assert changed_weeks(weeks, folder, db) == (last, last)
