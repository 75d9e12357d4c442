"""DuckDB's memory limit, spill folder and threads come from operations.duckdb_* and bound every
warehouse connection of a run; they do not change what the plan is (its settings hash)."""

from __future__ import annotations

from pathlib import Path

from pipeline.core import warehouse
from pipeline.core.settings import load_settings
from pipeline.definitions import RunPlaces, build_definitions
from pipeline.defs.resources import settings_object
from tests.builders import TEST_CONFIG, settings_with

SPILL_ROWS = 4_000_000  # a sort of this many BIGINT pairs needs ~64 MB: beyond the limit below


def _run_warehouse(config: Path, db: Path) -> warehouse.DuckDBLimits:
    settings = load_settings(config)
    places = RunPlaces(input_dir=str(db.parent), db=str(db), mapping="")
    return build_definitions(settings, places, settings_object(settings)).resources["warehouse"].limits


def test_a_run_connects_with_the_settings_limits(tmp_path: Path):
    spill = tmp_path / "spill"
    config = settings_with(tmp_path, duckdb_memory_limit="256MB", duckdb_temp_directory=str(spill), duckdb_threads=1)
    limits = _run_warehouse(config, tmp_path / "plan.duckdb")
    with warehouse.connect(tmp_path / "plan.duckdb", limits=limits) as con:
        memory, threads, temp = con.execute(
            "SELECT current_setting('memory_limit'), current_setting('threads'), current_setting('temp_directory')"
        ).fetchone()
    assert (memory, threads, Path(temp)) == ("244.1 MiB", 1, spill)


def test_a_query_larger_than_the_limit_spills_to_the_temp_directory(tmp_path: Path):
    spill = tmp_path / "spill"
    limits = warehouse.DuckDBLimits(memory_limit="32MB", temp_directory=str(spill), threads=1)
    with warehouse.connect(tmp_path / "plan.duckdb", limits=limits) as con:
        con.execute(f"CREATE TABLE work.sorted AS SELECT hash(i) AS h, i FROM range({SPILL_ROWS}) t(i) ORDER BY h")
        # DuckDB creates the spill folder when an operator first writes to it (and removes it on close)
        assert spill.is_dir()
        assert con.execute("SELECT count(*), count(DISTINCT i) FROM work.sorted").fetchone() == (SPILL_ROWS,) * 2


def test_the_defaults_leave_duckdb_its_spill_folder_and_cores(tmp_path: Path):
    limits = _run_warehouse(TEST_CONFIG, tmp_path / "plan.duckdb")
    assert limits == warehouse.DuckDBLimits(memory_limit="3GB", temp_directory="", threads=0)
    with warehouse.connect(tmp_path / "plan.duckdb", limits=limits) as con:
        assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "2.7 GiB"


def test_the_limits_do_not_change_the_plan_identity(tmp_path: Path):
    changed = settings_with(tmp_path, duckdb_memory_limit="1GB", duckdb_threads=1)
    assert load_settings(changed).settings_hash() == load_settings(TEST_CONFIG).settings_hash()
