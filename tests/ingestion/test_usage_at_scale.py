"""Big usage inputs: a Parquet usage file is checked where it lies and copied into the warehouse
once; exact duplicate rows are found through their hashes (a collision is never a duplicate);
the usage roll-up covers only the accounts later steps read (account_state's)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipeline.core import warehouse
from pipeline.core.settings import load_settings
from pipeline.ingestion import duplicates
from pipeline.ingestion.contract import TABLES
from pipeline.ingestion.ingest import StagedTable, ingest_inputs, ingest_usage_window
from pipeline.ingestion.violations import InputContractError
from pipeline.staging.state import write_segment_bands
from tests.builders import settings_with
from tests.staged import build_steps, transforms_upstream

USAGE_COLUMNS = "account_id, product_id, CAST(date AS DATE) AS date, active_users, events"


def _as_parquet(folder: Path, extra_rows: str = "") -> Path:
    """The folder's usage.csv replaced by usage.parquet with contract types (plus `extra_rows`,
    a SQL VALUES list of (account_id, product_id, date, active_users, events))."""
    csv = folder / "usage.csv"
    rows = f"SELECT {USAGE_COLUMNS} FROM read_csv('{csv}', all_varchar = false)"
    if extra_rows:
        names = ", ".join(TABLES["usage"].column_names)
        rows += f" UNION ALL SELECT {USAGE_COLUMNS} FROM (VALUES {extra_rows}) AS v ({names})"
    with duckdb.connect() as con:
        con.execute(f"COPY ({rows}) TO '{folder / 'usage.parquet'}' (FORMAT parquet)")
    csv.unlink()
    return folder


def _temp_objects(con: duckdb.DuckDBPyConnection) -> list:
    return con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary UNION ALL "
                       "SELECT view_name FROM duckdb_views() WHERE temporary AND NOT internal").fetchall()


def test_a_parquet_usage_file_loads_as_read_and_leaves_no_staging(con: duckdb.DuckDBPyConnection, inputs: Path):
    expected = duckdb.sql(f"SELECT {USAGE_COLUMNS} FROM read_csv('{inputs / 'usage.csv'}') ORDER BY ALL").fetchall()
    _as_parquet(inputs)
    ingest_inputs(con, inputs, skip=("usage",))
    assert ingest_usage_window(con, inputs, None, None) == len(expected)
    assert con.execute("SELECT * FROM raw.usage ORDER BY ALL").fetchall() == expected
    assert not _temp_objects(con)


def test_a_parquet_usage_file_breaks_the_rules_as_its_csv_does(con: duckdb.DuckDBPyConnection, inputs: Path,
                                                               tmp_path: Path):
    bad = "('A001', 'P2', DATE '2024-06-03', 180, 5200), ('A002', 'P1', DATE '2024-06-17', 3, -5)"
    csv_folder = tmp_path / "as_csv"
    csv_folder.mkdir()
    for path in inputs.iterdir():
        (csv_folder / path.name).write_bytes(path.read_bytes())
    with (csv_folder / "usage.csv").open("a") as csv:
        csv.write("A001,P2,2024-06-03,180,5200\nA002,P1,2024-06-17,3,-5\n")
    _as_parquet(inputs, bad)
    ingest_inputs(con, inputs, skip=("usage",))
    found = {}
    for name, folder in (("parquet", inputs), ("csv", csv_folder)):
        with pytest.raises(InputContractError) as caught:
            ingest_usage_window(con, folder, None, None)
        found[name] = [(v.column, v.rule, v.count, v.example_keys) for v in caught.value.violations]
        assert not _temp_objects(con)
    assert found["parquet"] == found["csv"]
    assert {rule for _, rule, _, _ in found["parquet"]} == {duplicates.RULE, ">= 0"}
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'raw' AND table_name = 'usage'"
                       ).fetchone() == (0,)  # nothing loaded


def test_rows_with_equal_hashes_are_duplicates_only_when_equal(tmp_path: Path):
    """Rows that differ but are made to share a hash (the hash of one column only) are not copies."""
    with warehouse.connect(tmp_path / "w.duckdb") as con:
        con.execute("CREATE TEMP TABLE rows_given AS SELECT * FROM (VALUES ('a', 1), ('a', 2), ('b', 3), ('b', 3), "
                    "('b', 3)) AS v (k, n)")
        table = StagedTable(TABLES["usage"], None, frozenset(), (), ("k", "n"))
        relation = "temp.main.rows_given"
        sql = duplicates._repeated(table).replace(table.relation, relation)
        assert con.execute(f"SELECT k, n, __copies FROM ({sql}) ORDER BY ALL").fetchall() == [("b", 3, 3)]
        colliding = sql.replace('hash("k", "n")', 'hash("k")')  # 'a' rows collide, yet differ
        assert colliding != sql
        assert con.execute(f"SELECT k, n, __copies FROM ({colliding}) ORDER BY ALL").fetchall() == [("b", 3, 3)]


def test_the_usage_roll_up_covers_the_accounts_of_account_state(sample_inputs: Path, tmp_path: Path):
    settings = load_settings(settings_with(tmp_path, "model", max_training_accounts=150))
    with warehouse.connect(tmp_path / "w.duckdb") as con:
        ingest_inputs(con, sample_inputs)
        write_segment_bands(con, settings)
        build_steps(con, settings, transforms_upstream("usage_features"))
        outside = con.execute("SELECT count(*) FROM work.usage_features AS u ANTI JOIN work.account_state AS s "
                              "USING (snapshot_date, account_id)").fetchone()[0]
        assert outside == 0
        trained = con.execute("SELECT count(DISTINCT account_id) FROM work.usage_features u JOIN "
                              "work.snapshot_dates d USING (snapshot_date) WHERE d.role = 'train'").fetchone()[0]
        assert 0 < trained <= 150 * 1.5  # the seeded sample, not the 800 accounts
        # on the plan date every account with usage in the 180 days before has its averages, as raw.usage gives them
        plan_date = settings.as_of
        expected = con.execute(
            "SELECT account_id, product_id, sum(active_users) / count(active_users) FROM raw.usage "
            "WHERE date < $d AND date >= $d - 180 GROUP BY ALL ORDER BY ALL", {"d": plan_date}).fetchall()
        assert expected and con.execute(
            "SELECT account_id, product_id, active_users_180d FROM work.usage_features WHERE snapshot_date = $d "
            "ORDER BY ALL", {"d": plan_date}).fetchall() == expected
