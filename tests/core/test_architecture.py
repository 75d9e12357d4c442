"""The wiring: settings reach a run once, as one object; the asset graph is the SQL's graph;
every table a run writes is an asset (or a declared output of one)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from pipeline.core import settings as settings_module
from pipeline.core import warehouse
from pipeline.core.settings import load_settings
from pipeline.core.sql_graph import asset_for_table, tables_read
from pipeline.core.warehouse import sql_files
from pipeline.definitions import RunPlaces, file_definitions
from pipeline.runner import PlanOutcome, run_definitions, run_plan
from tests.builders import TEST_CONFIG, edge_inputs


def _definitions(tmp_path: Path) -> dg.Definitions:
    return run_definitions(edge_inputs(tmp_path / "in"), load_settings(), tmp_path / "plan.duckdb")


def test_a_cli_run_parses_the_settings_file_once_and_records_that_object(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    parses: list[Path] = []
    parse = settings_module.load_yaml_model

    def counted(path, *args, **kwargs):
        parses.append(Path(path))
        return parse(path, *args, **kwargs)

    monkeypatch.setattr(settings_module, "load_yaml_model", counted)
    settings = load_settings(TEST_CONFIG)
    outcome = run_plan(edge_inputs(tmp_path / "in"), settings, tmp_path / "plan.duckdb",
                       instance=dg.DagsterInstance.ephemeral())
    assert outcome.plan_id == "P0001"
    assert parses == [TEST_CONFIG]  # the one parse above; the run itself parsed nothing
    with warehouse.connect(tmp_path / "plan.duckdb", read_only=True) as con:
        recorded = con.execute("SELECT settings_hash FROM plans.plan_runs").fetchone()[0]
    assert recorded == settings.settings_hash()


def test_a_ui_run_parses_the_file_once_when_it_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    folder, db = edge_inputs(tmp_path / "in"), tmp_path / "plan.duckdb"
    loaded = file_definitions(RunPlaces(input_dir=str(folder), db=str(db)), TEST_CONFIG)  # load: one parse
    parses: list[Path] = []
    parse = settings_module.load_yaml_model
    monkeypatch.setattr(settings_module, "load_yaml_model",
                        lambda path, *a, **k: parses.append(Path(path)) or parse(path, *a, **k))
    keys = loaded.resolve_job_def("plan_job").asset_layer.selected_asset_keys
    partitions = dg.AssetSelection.assets("raw_usage").resolve(loaded.resolve_asset_graph())
    assert partitions <= keys
    result = loaded.resolve_job_def("rebalance_job").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    # rebalance needs a scored plan (none here), so it fails, but only after the settings were read once
    assert not result.success
    assert parses == [TEST_CONFIG.resolve()]


def test_every_sql_asset_depends_on_exactly_the_writers_of_the_tables_its_sql_reads(tmp_path: Path):
    loaded = _definitions(tmp_path)
    graph = loaded.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    checked = 0
    for path in sql_files().values():
        name = path.stem
        if name not in keys:  # sql/ files run by Python code, not an asset of their own
            continue
        node = graph.get(dg.AssetKey(name))
        declared = {k.to_user_string() for k in node.parent_keys}
        read = {asset_for_table(schema, table) for schema, table in tables_read(name)}
        assert read <= declared, (name, read - declared)
        assert read <= keys, (name, read - keys)  # every table it reads is written by an asset
        checked += 1
    assert checked >= 20
    # the deps a hand-typed list used to miss
    item_features = {k.to_user_string() for k in graph.get(dg.AssetKey("item_features")).parent_keys}
    assert {"raw_products", "snapshot_dates"} <= item_features


def test_tables_written_on_the_side_are_assets(sample_plan: PlanOutcome):
    """Every table of the raw and work schemas after a whole plan run is an asset of the code location."""
    loaded = run_definitions(sample_plan.db.parent, load_settings(), sample_plan.db)
    keys = {k.to_user_string() for k in loaded.resolve_asset_graph().get_all_asset_keys()}
    with warehouse.connect(sample_plan.db, read_only=True) as con:
        tables = con.execute("SELECT table_schema, table_name FROM information_schema.tables "
                             "WHERE table_schema IN ('raw', 'work') AND table_type = 'BASE TABLE'").fetchall()
    assert len(tables) > 30
    assert {asset_for_table(schema, table) for schema, table in tables} - keys == set()
    assert {"territory_methods", "commission_rates", "model_info", "feature_importances", "data_quality",
            "rejected_rows", "raw_input_files", "raw_usage_week_fingerprints"} <= keys
