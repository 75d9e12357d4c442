"""The plan SQL gives the same bits whatever physical order its input rows are stored in.

The inputs of the sample plan's SQL steps (its real work tables) are copied into two DuckDB files,
each table in a different shuffled order; the whitespace items, the Monte Carlo draws and the
training items are first multiplied (each row copied, its money scaled per copy) so that they span
several row groups (DuckDB sums each row group on its own thread) and every account, rep and kind
adds up many rows. With four threads on both files, every table the steps build must be
byte-identical as CSV (the form `export_plan_tables` compares)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.core import warehouse
from pipeline.core.settings import load_settings
from pipeline.runner import PlanOutcome
from tests.builders import LETTERS_TEST_CONFIG

ROW_GROUP_ROWS = 122_880  # DuckDB's rows per row group
COPIED = ("account_state", "rep_plan", "territories", "segment_bands", "territory_methods", "model_info")
MULTIPLIED = {  # table -> (copies, the columns replaced in copy c so that the copies are different rows)
    "scored_whitespace": (48, "product_id || '~' || c AS product_id, whitespace * (1 + c / 7) AS whitespace, "
                              "eev * (1 + c / 7) AS eev"),
    "rep_booking_draws": (10, "draw + c * 100000 AS draw, bookings * (1 + c / 7) AS bookings"),
    "item_features": (6, "whitespace / (1 + c / 7) AS whitespace"),
}
STEPS = ("account_eev", "amount_spread", "territory_shares", "quota_factors", "quota_contributions", "quotas",
         "territory_moves", "territory_balance", "balance_diagnosis", "segment_headcount", "quota_history",
         "plan_review", "attainment_forecast")


def _shuffled_copy(plan_db: Path, db: Path, salt: str) -> duckdb.DuckDBPyConnection:
    """The plan's inputs of STEPS in a new DuckDB file, every table stored in the order of a salted hash."""
    con = duckdb.connect(str(db))
    con.execute("SET threads = 4")
    con.execute(f"ATTACH '{plan_db}' AS source (READ_ONLY)")
    con.execute("CREATE SCHEMA work; CREATE SCHEMA raw")
    shuffle = f"ORDER BY hash(t, '{salt}')"
    con.execute(f"CREATE TABLE raw.opportunities AS SELECT * FROM source.raw.opportunities AS t {shuffle}")
    for table in COPIED:
        con.execute(f"CREATE TABLE work.{table} AS SELECT * FROM source.work.{table} AS t {shuffle}")
    for table, (copies, replaced) in MULTIPLIED.items():
        con.execute(f"CREATE TABLE work.{table} AS SELECT * FROM (SELECT * EXCLUDE (c) REPLACE ({replaced}) "
                    f"FROM source.work.{table}, range({copies}) AS r(c)) AS t {shuffle}")
    con.execute("DETACH source")
    return con


def _built(con: duckdb.DuckDBPyConnection, out: Path) -> dict[str, bytes]:
    """Each step built with the plan's parameters, written as CSV in a fixed order; the bytes per table."""
    params = load_settings(LETTERS_TEST_CONFIG).sql_params()
    out.mkdir()
    for step in STEPS:
        warehouse.build_table(con, step, params)
        con.execute(f"COPY (SELECT * FROM work.{step} ORDER BY ALL) TO '{out / step}.csv' (HEADER)")
    return {step: (out / f"{step}.csv").read_bytes() for step in STEPS}


def test_plan_tables_are_the_same_bits_whatever_order_the_input_rows_are_stored_in(
        sample_plan: PlanOutcome, tmp_path: Path):
    first = _shuffled_copy(sample_plan.db, tmp_path / "first.duckdb", "first")
    second = _shuffled_copy(sample_plan.db, tmp_path / "second.duckdb", "second")
    for table in MULTIPLIED:
        assert first.execute(f"SELECT count(*) FROM work.{table}").fetchone()[0] > 2 * ROW_GROUP_ROWS
    orders = [con.execute("SELECT account_id, product_id FROM work.scored_whitespace LIMIT 1000").fetchall()
              for con in (first, second)]
    assert orders[0] != orders[1]  # the same rows, stored in two different orders
    one, other = _built(first, tmp_path / "first"), _built(second, tmp_path / "second")
    assert [step for step in STEPS if one[step] != other[step]] == []
    empty = [step for step in STEPS if one[step].count(b"\n") <= 1]
    assert empty == ["balance_diagnosis"]  # every step built rows to compare (no segment needs a diagnosis)
