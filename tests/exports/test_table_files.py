"""CSV and Parquet files of a table written by DuckDB COPY on a real DuckDB file: the CSV comes from
the Parquet file when it reads back with the query's types, else from the query again."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import duckdb
import polars as pl

from pipeline.exports.sheets import Sheet
from pipeline.exports.table_files import write_table_files

SQL = """SELECT segment, sum(accounts) AS accounts, sum(eev) AS eev, min(name) AS first_name FROM t
GROUP BY segment ORDER BY segment"""


def test_csv_keeps_the_query_types_whether_written_from_parquet_or_from_the_query(tmp_path: Path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("""CREATE TABLE t AS SELECT * FROM (VALUES ('b', 2, 1.5, '=cmd'), ('a', 3, 2.25, 'Ann'),
            ('a', 4, 0.25, 'Bob')) AS v(segment, accounts, eev, name)""")
        tables = SimpleNamespace(params={})
        summed = Sheet("summed", "Summed", None, SQL)  # sum of integers: HUGEINT, which Parquet stores as DOUBLE
        plain = Sheet("plain", "Plain", None, "SELECT * FROM t ORDER BY accounts DESC")
        for sheet in (summed, plain):
            write_table_files(con, tables, sheet, tmp_path / f"{sheet.key}.csv", tmp_path / f"{sheet.key}.parquet")
    assert (tmp_path / "summed.csv").read_text().splitlines() == [
        '"segment","accounts","eev","first_name"', '"a",7,2.50,"Ann"', '"b",2,1.50,"\'=cmd"']
    assert (tmp_path / "plain.csv").read_text().splitlines() == [
        '"segment","accounts","eev","name"', '"a",4,0.25,"Bob"', '"a",3,2.25,"Ann"', '"b",2,1.50,"\'=cmd"']
    assert pl.read_parquet(tmp_path / "plain.parquet")["accounts"].to_list() == [4, 3, 2]
