"""The embedded DuckDB warehouse: one file, one writer, SQL transforms from `sql/`.

Schemas inside the file:
- `raw`:   validated input tables, replaced only when every table passes the contract;
- `work`:  intermediate tables of the latest run (scratch, never read by users);
- `plans`: immutable plan versions (every output table with a `plan_id` column);
- `main`:  views of the current plan (the pointer in `plans.current_plan`).
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from pipeline.core.run_lock import WarehouseBusyError, describe_holder
from pipeline.core.shipped import shipped_folder

SQL_DIR = shipped_folder("sql")
SCHEMAS = ("raw", "work", "plans")


@functools.cache
def sql_files() -> dict[str, Path]:
    """Every transform: table name -> its file sql/<stage>/<table>.sql (table names are unique)."""
    return {path.stem: path for path in sorted(SQL_DIR.glob("*/*.sql"))}


def sql_text(name: str) -> str:
    """The SELECT statement of the transform that produces table `name`."""
    return sql_files()[name].read_text()


@dataclass(frozen=True)
class DuckDBLimits:
    """How much of the machine a warehouse connection may use (settings operations.duckdb_*):
    DuckDB's memory_limit (e.g. '3GB'; '' = DuckDB's default, 80% of RAM), the folder its
    operators spill to beyond it ('' = DuckDB's default, `<db file>.tmp`), and its threads
    (0 = one per core)."""

    memory_limit: str = ""
    temp_directory: str = ""
    threads: int = 0

    def apply(self, con: duckdb.DuckDBPyConnection) -> None:
        """SET the limits that are given on `con` (each connection of a process shares them)."""
        if self.memory_limit:
            con.execute(f"SET memory_limit = '{_setting_text(self.memory_limit)}'")
        if self.temp_directory:
            con.execute(f"SET temp_directory = '{_setting_text(self.temp_directory)}'")
        if self.threads:
            con.execute(f"SET threads = {int(self.threads)}")


def _setting_text(value: str) -> str:
    """A setting's value as the body of a SQL string literal."""
    return value.replace("'", "''")


class WarehouseFileError(ValueError):
    """The DuckDB file's path is a folder, runs through a file, or names a file that is not a
    DuckDB database: a mistake in the path (never retried)."""


def check_file(path: str | Path) -> None:
    """Raise WarehouseFileError unless `path` is a DuckDB file or a place where one can be
    created: checked before a run starts, so a wrong --db fails with one message (a file held by
    another process passes: the run waits for it)."""
    path = Path(path)
    _check_place(path)
    if path.is_file():
        with contextlib.suppress(WarehouseBusyError), connect(path, read_only=True):
            pass


def _check_place(path: Path) -> None:
    """A folder, or a path through a file, cannot hold the DuckDB file."""
    if path.is_dir():
        raise WarehouseFileError(f"{path} is a folder, not a DuckDB file: give the path of a DuckDB file (--db)")
    blocking = next((p for p in path.parents if p.exists()), None)
    if blocking is not None and not blocking.is_dir():
        raise WarehouseFileError(f"cannot use {path} as the DuckDB file: {blocking} is a file, not a folder")


def open_connection(
    path: str | Path, read_only: bool = False, limits: DuckDBLimits | None = None
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file (creating its folder and schemas) with DuckDB's `limits`; the
    caller closes it. A path that cannot hold a DuckDB file raises WarehouseFileError, one held by
    another process WarehouseBusyError."""
    path = Path(path)
    _check_place(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if "not a valid DuckDB database file" in str(exc):
            raise WarehouseFileError(
                f"{path} is not a DuckDB file (DuckDB cannot open it); give the path of a DuckDB file or of "
                "a new one (--db); the file was left as it is"
            ) from exc
        if "lock" not in str(exc).lower():
            raise
        held_by = re.search(r"Conflicting lock is held in (.*)\. See", str(exc))
        raise WarehouseBusyError(
            f"{path} is in use by another process: {describe_holder(path)}"
            + (f"; DuckDB says the lock is held by {held_by.group(1)}" if held_by else "")
            + ". Try again when it has finished."
        ) from exc
    try:
        (limits or DuckDBLimits()).apply(con)
        if not read_only:
            for schema in SCHEMAS:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    except BaseException:
        con.close()
        raise
    return con


@contextlib.contextmanager
def connect(
    path: str | Path, read_only: bool = False, limits: DuckDBLimits | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse file opened (see open_connection) and closed afterwards."""
    con = open_connection(path, read_only, limits)
    try:
        yield con
    finally:
        con.close()


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All statements inside commit together or not at all."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def build_table(
    con: duckdb.DuckDBPyConnection,
    name: str,
    params: Mapping[str, Any] | None = None,
    schema: str = "work",
) -> int:
    """Run `sql/<name>.sql` with bound parameters into `<schema>.<name>`; returns its row count."""
    sql = sql_text(name)
    names = set(re.findall(r"\$([A-Za-z_]\w*)", sql))
    missing = names - set(params or {})
    if missing:
        raise KeyError(f"sql/{name}.sql needs parameters {sorted(missing)}")
    used = {k: v for k, v in (params or {}).items() if k in names}
    con.execute(f"CREATE OR REPLACE TABLE {schema}.{name} AS {sql}", used)
    return table_rows(con, f"{schema}.{name}")


def output_dir(path: str | Path, kind: str) -> Path:
    """The folder of one kind of output (exports, mapped_inputs) of the DuckDB file
    `path`: `<db folder>/<kind>/<db file stem>/`, so two DuckDB files in one folder never share one."""
    db = Path(path).resolve()
    return db.parent / kind / db.stem


def artifact_dir(path: str | Path) -> Path:
    """Folder beside the DuckDB file for model artifacts and charts."""
    return Path(path).resolve().parent / "artifacts"


def table_rows(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    row = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, name],
    ).fetchone()
    return bool(row and row[0])
