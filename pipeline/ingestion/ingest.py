"""Load the input folder into DuckDB, checked against every rule of the input contract.

Each table is staged in a temp table (contract columns cast to their contract types, extra
columns kept as read, plus one `__bad_<column>` text column per cast that can fail), then all
rules of `pipeline.ingestion.contract` are evaluated set-based: one scan per table counts every rule at
once, and example keys are fetched only for the rules that failed. All violations of all
tables are raised together (problems of files and headers first, then rule violations table
by table); only when there are none are the `<schema>.<table>` tables replaced, all in one
transaction, together with `<schema>.input_files`.

Usage is loaded by weeks (`ingest_usage_window`): the rows dated in a window are checked
against the usage rules (against the loaded `<schema>.accounts`) and replace exactly that
window of `<schema>.usage`, delete-then-insert in one transaction, so re-loading a week never
duplicates it. `ingest_inputs(..., skip=("usage",))` then loads the other tables only. A
Parquet usage file is checked where it lies (its staged relation is a view over the file, each
check one streaming scan) and copied into the warehouse once, by the insert; a CSV file, or
one whose duplicate rows are set aside, is staged in a temp table first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import duckdb

from pipeline.core.warehouse import transaction
from pipeline.ingestion.contract import (
    REQUIRED_TABLES,
    RULES,
    SEGMENT_NAMES,
    TABLES,
    TYPE_LABELS,
    Column,
    Rule,
    TableSpec,
    load_order,
    segment_rule,
)
from pipeline.ingestion.csv_file import (
    CSV_READER,
    fields_match_header,
    read_problems,
    sql_literal,
    staged_csv_reader,
)
from pipeline.ingestion.duplicates import DuplicateRows, duplicate_violation, forget_set_aside, set_aside_duplicates
from pipeline.ingestion.violations import EXAMPLES, InputContractError, Violation

FORMATS = ("csv", "parquet")
USAGE_FINGERPRINTS = "usage_week_fingerprints"  # per loaded week: rows and content hash
READERS = {
    "csv": CSV_READER,  # every dialect option fixed (pipeline/ingestion/csv_file.py)
    "parquet": "read_parquet(?)",
    # a folder `<table>/` of Parquet files, optionally hive-partitioned (usage/date=2026-01-05/...)
    "dataset": "read_parquet(?, hive_partitioning = true, union_by_name = true)",
}
# Text a value must match before it is cast (TRY_CAST alone rounds '1.5' to 2, reads '2024/1/5').
TEXT_PATTERNS = {
    "BIGINT": r"[+-]?[0-9]+",
    "DOUBLE": r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?",
    "DATE": r"[0-9]{4}-[0-9]{2}-[0-9]{2}",
    "BOOLEAN": r"(?i)(true|false)",  # not DuckDB's wider set (yes/no, 1/0, t/f): see the contract
}
_NUMERIC_TYPES = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
     "UHUGEINT", "FLOAT", "DOUBLE"}
)
_TIMESTAMP_TYPES = frozenset({"TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"})
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class IngestResult:
    """What was loaded: rows per table, the file read per table, the data fingerprint, and the
    extra copies of exact duplicate rows set aside per table (operations.duplicate_rows)."""

    tables: dict[str, int]
    files: dict[str, str]
    has_usage: bool
    data_fingerprint: str
    set_aside: dict[str, int] = field(default_factory=dict)

    @property
    def read(self) -> dict[str, int]:
        """Rows read per table: loaded + set aside."""
        return {name: rows + self.set_aside.get(name, 0) for name, rows in self.tables.items()}


@dataclass(frozen=True)
class StagedTable:
    """A table staged in a temp table: the file it came from, the contract columns it lacks, the
    contract columns whose cast can fail (they have a `__bad_<column>` column), every column of
    the temp table, whether its rows are known to be distinct (duplicates set aside), and whether
    it is a view over the file (`in_place`) rather than a temp table."""

    spec: TableSpec
    file: Path | None
    missing: frozenset[str]
    checked: tuple[str, ...]
    columns: tuple[str, ...]
    distinct: bool = False
    in_place: bool = False  # a view over the file rather than a temp table

    @property
    def relation(self) -> str:
        return _relation(self.spec)

    @property
    def file_name(self) -> str:
        return self.file.name if self.file else self.spec.name


def ingest_inputs(
    con: duckdb.DuckDBPyConnection,
    input_dir: str | Path,
    schema: str = "raw",
    fingerprint_of: Iterable[Path] | None = None,
    file_labels: Mapping[str, str] | None = None,
    skip: tuple[str, ...] = (),
    duplicate_rows: DuplicateRows = "reject",
    segments: tuple[str, ...] = SEGMENT_NAMES,
) -> IngestResult:
    """Validate the input folder against the contract and load it into `schema` (all or nothing).
    The data fingerprint is taken over the folder's table files, or over `fingerprint_of` (the
    source files and mapping a mapped folder was made from); `file_labels` renames files in
    messages (a mapped table shown as the source file it came from). Tables in `skip` are
    located and fingerprinted but neither checked nor loaded (usage: loaded by week).
    `duplicate_rows`: exact duplicate rows break a rule (reject) or are set aside (set_aside,
    see pipeline/ingestion/duplicates.py). `segments`: the plan's segment names reps.segment may hold."""
    files, violations = _locate_folder(input_dir, schema)
    labels = file_labels or {}
    staged: dict[str, StagedTable] = {}
    set_aside: dict[str, int] = {}
    forget_set_aside(con)
    try:
        for name, spec in TABLES.items():
            if name in skip:
                continue
            staged[name], problems = _stage(con, spec, files.get(name))
            violations += problems
            if duplicate_rows == "set_aside":
                staged[name], set_aside[name] = _without_copies(con, staged[name], labels)
        rows, problems = check_rules(con, staged, segments=segments)
        violations += problems
        if violations:
            raise InputContractError([replace(v, file=labels.get(v.file, v.file)) for v in violations])
        result = IngestResult(
            tables=rows,
            files={name: path.name for name, path in files.items()},
            has_usage="usage" in files,
            data_fingerprint=fingerprint(files.values() if fingerprint_of is None else fingerprint_of),
            set_aside={name: n for name, n in set_aside.items() if n},
        )
        _publish(con, staged, schema, result)
        return result
    except BaseException:
        forget_set_aside(con)
        raise
    finally:
        for table in staged.values():
            _drop(con, table)


def ingest_usage_window(
    con: duckdb.DuckDBPyConnection, input_dir: str | Path, start: dt.date | None, end: dt.date | None,
    schema: str = "raw", duplicate_rows: DuplicateRows = "reject",
) -> int:
    """Check the usage rows dated in [start, end) (None: unbounded) and replace exactly those rows
    of `<schema>`.usage in one transaction; returns the rows loaded. Rows whose date is missing or
    not a date belong to no week and are reported by every load. `duplicate_rows` as for
    `ingest_inputs` (the copies set aside are this window's)."""
    files, violations = _locate_folder(input_dir, schema)
    violations = [v for v in violations if v.file.startswith("usage.")]
    spec = TABLES["usage"]
    window = date_window(start, end)
    forget_set_aside(con)
    staged, problems = _stage(con, spec, files.get("usage"), where=f'"date" IS NULL OR ({window})',
                              in_place=duplicate_rows == "reject")
    try:
        if duplicate_rows == "set_aside":
            staged, _ = _without_copies(con, staged, {})
        rows, found = check_rules(con, {"usage": staged}, loaded={"accounts": f"{schema}.accounts"})
        violations += problems + found
        if violations:
            raise InputContractError(violations)
        columns = ", ".join(_q(c) for c in spec.column_names)
        fingerprints = f"{schema}.{USAGE_FINGERPRINTS}"
        with transaction(con):
            con.execute(f"CREATE TABLE IF NOT EXISTS {schema}.usage AS SELECT {columns} FROM {staged.relation} LIMIT 0")
            con.execute(f"DELETE FROM {schema}.usage WHERE {window}")
            con.execute(f"INSERT INTO {schema}.usage ({columns}) SELECT {columns} FROM {staged.relation}")
            con.execute(f"CREATE TABLE IF NOT EXISTS {fingerprints} AS {_week_fingerprints(staged.relation)} LIMIT 0")
            con.execute(f"DELETE FROM {fingerprints} WHERE {date_window(start, end, 'week')}")
            con.execute(f"INSERT INTO {fingerprints} {_week_fingerprints(staged.relation)}")
        return rows["usage"]
    except BaseException:
        forget_set_aside(con)
        raise
    finally:
        _drop(con, staged)


def _without_copies(
    con: duckdb.DuckDBPyConnection, table: StagedTable, labels: Mapping[str, str]
) -> tuple[StagedTable, int]:
    """The staged table with the extra copies of its exact duplicate rows set aside, and how many."""
    moved = set_aside_duplicates(con, table, labels.get(table.file_name, table.file_name))
    return replace(table, distinct=True), moved


def keep_usage_in_place(con: duckdb.DuckDBPyConnection, schema: str = "raw") -> None:
    """Make `<schema>`.usage an empty table with the contract columns, and forget the loaded
    weeks' fingerprints (an empty fingerprint table): with the Spark engine usage is checked and read where it lies, so the
    warehouse keeps no copy (a later DuckDB run loads every week again)."""
    items, _ = select_items(TABLES["usage"], {})
    with transaction(con):
        con.execute(f"CREATE OR REPLACE TABLE {schema}.usage AS SELECT {', '.join(items)} LIMIT 0")
        con.execute(f"CREATE OR REPLACE TABLE {schema}.{USAGE_FINGERPRINTS} AS "
                    f"{_week_fingerprints(f'{schema}.usage')} LIMIT 0")


def _week_fingerprints(relation: str) -> str:
    """SQL: per usage week (its Monday), the rows and an order-free hash of their contract
    values; a restated, added or removed row changes its week's fingerprint."""
    return (
        "SELECT CAST(date_trunc('week', \"date\") AS DATE) AS week, count(*) AS rows_loaded, "
        "bit_xor(hash(account_id, product_id, \"date\", active_users, events)) AS content_hash "
        f"FROM {relation} WHERE \"date\" IS NOT NULL GROUP BY ALL"
    )


def file_usage_fingerprints(input_dir: str | Path) -> set[tuple[dt.date, int, int]]:
    """The week fingerprints (week, rows, hash) of the folder's usage file, as a load would store
    them in `raw.usage_week_fingerprints`: one scan in a private in-memory DuckDB (the warehouse
    is not opened). Empty without a usage file."""
    files, _ = _locate_folder(input_dir, "raw")
    with duckdb.connect() as con:
        staged, _ = _stage(con, TABLES["usage"], files.get("usage"), in_place=True)
        return set(con.execute(_week_fingerprints(staged.relation)).fetchall())


def stored_usage_fingerprints(con: duckdb.DuckDBPyConnection, schema: str = "raw") -> set[tuple[dt.date, int, int]]:
    """The week fingerprints of the usage weeks loaded into `<schema>`.usage (empty before any load)."""
    found = con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?",
                        [schema, USAGE_FINGERPRINTS]).fetchone()[0]
    return set(con.execute(f"SELECT * FROM {schema}.{USAGE_FINGERPRINTS}").fetchall()) if found else set()


def date_window(start: dt.date | None, end: dt.date | None, column: str = "date") -> str:
    """SQL predicate start <= column < end on typed dates (DuckDB prunes Parquet row groups on it)."""
    bounds = []
    for bound, op in ((start, ">="), (end, "<")):
        if bound is not None:
            if not isinstance(bound, dt.date):
                raise TypeError(f"not a date: {bound!r}")
            bounds.append(f"{_q(column)} {op} DATE '{bound.isoformat()}'")
    return " AND ".join(bounds) or "true"


def input_file(input_dir: str | Path, table: str) -> Path | None:
    """The file (or Parquet folder) of `table` in the input folder, None when absent."""
    files, _ = _locate(Path(input_dir))
    return files.get(table)


def _locate_folder(input_dir: str | Path, schema: str) -> tuple[dict[str, Path], list[Violation]]:
    if not _IDENTIFIER.fullmatch(schema):
        raise ValueError(f"not a schema name: {schema!r}")
    input_dir = Path(input_dir)
    if not input_dir.is_dir():
        raise InputContractError([Violation(str(input_dir), None, "folder exists", None, detail="no such folder")])
    return _locate(input_dir)


def dataset_files(path: Path) -> list[Path]:
    """The Parquet files of a dataset folder (any depth), in path order."""
    return sorted(path.rglob("*.parquet"))


def reader_argument(path: Path) -> str:
    """What READERS[input_format(path)] takes for `path`: the file, or the dataset's glob."""
    return str(path / "**" / "*.parquet") if path.is_dir() else str(path)


def input_format(path: Path) -> str:
    """csv, parquet, or dataset (a folder of Parquet files)."""
    return "dataset" if path.is_dir() else path.suffix.lstrip(".")


def fingerprint(paths: Iterable[Path]) -> str:
    """sha256 over the files' names, sizes and bytes (streamed, in name order; a dataset folder
    counts as its Parquet files, named by their path inside it): 16 hex chars."""
    digest = hashlib.sha256()
    files = [(p.name, p) for p in paths if not p.is_dir()]
    files += [(f"{p.name}/{f.relative_to(p)}", f) for p in paths if p.is_dir() for f in dataset_files(p)]
    for name, path in sorted(files):
        digest.update(f"{name}\0{path.stat().st_size}\0".encode())
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def _locate(input_dir: Path) -> tuple[dict[str, Path], list[Violation]]:
    """The file of each table present in the folder, and the problems of missing or doubled files."""
    files: dict[str, Path] = {}
    violations: list[Violation] = []
    for name in TABLES:
        found = [input_dir / f"{name}.{fmt}" for fmt in FORMATS if (input_dir / f"{name}.{fmt}").is_file()]
        if (input_dir / name).is_dir() and dataset_files(input_dir / name):
            found.append(input_dir / name)
        if len(found) > 1:
            both = " and ".join(p.name for p in found)
            detail = f"both {both} are in {input_dir}"
            violations.append(Violation(both, None, "one file per table", None, detail=detail))
        elif found:
            files[name] = found[0]
        elif name in REQUIRED_TABLES:
            detail = f"required table {name} not found in {input_dir} (no {name}.csv, {name}.parquet or {name}/ Parquet folder)"
            violations.append(Violation(str(input_dir), None, "table present", None, detail=detail))
    return files, violations


def _stage(
    con: duckdb.DuckDBPyConnection, spec: TableSpec, path: Path | None, where: str = "true", in_place: bool = False
) -> tuple[StagedTable, list[Violation]]:
    """Copy one input file (its rows where `where` holds on the typed values) into its temp table
    with contract types, or (`in_place`, for a Parquet file) make that a temp view over the file;
    an absent or unreadable file gives an empty table with the contract columns (its rules are then
    skipped if it is required)."""
    if path is not None:
        try:
            return _stage_file(con, spec, path, where, in_place and input_format(path) != "csv")
        except duckdb.Error as exc:
            problems = read_problems(path, path.name, exc)
            return _stage_empty(con, spec, path, frozenset(spec.column_names)), problems
    missing = frozenset(spec.column_names) if spec.name in REQUIRED_TABLES else frozenset()
    return _stage_empty(con, spec, None, missing), []


def _stage_file(
    con: duckdb.DuckDBPyConnection, spec: TableSpec, path: Path, where: str, in_place: bool = False
) -> tuple[StagedTable, list[Violation]]:
    """Stage a CSV or Parquet file; missing contract columns are reported, not guessed. A CSV
    file's rows are read with the columns of its header and must have as many fields
    (pipeline/ingestion/csv_file.py); its extra columns keep an empty cell as null."""
    source, argument = READERS[input_format(path)], reader_argument(path)
    described = con.execute(f"DESCRIBE SELECT * FROM {source}", [argument]).fetchall()
    source_types = {str(row[0]).lower(): str(row[1]) for row in described}  # DuckDB names ignore case
    present = [c.name for c in spec.columns if c.name in source_types]
    items, staged, problems = staging_plan(spec, path, source_types)
    if input_format(path) == "csv":
        names = [str(row[0]) for row in described]
        source = staged_csv_reader(names)
        extra = [f"NULLIF({_q(n)}, '') AS {_q(n)}" for n in names if n.lower() not in spec.column_names]
        checked_rows = f"{source} WHERE {fields_match_header(names)}"
    else:
        extra = [f"* EXCLUDE ({', '.join(_q(c) for c in present)})" if present else "*"]
        # a view cannot hold a parameter: the path goes into the reader as a literal
        checked_rows = source.replace("?", sql_literal(argument)) if in_place else source
    rows = f"SELECT * FROM (SELECT {', '.join([*items, *extra])} FROM {checked_rows}) WHERE {where}"
    if in_place:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {_relation(spec)} AS {rows}")
    else:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {_relation(spec)} AS {rows}", [argument])
    columns = tuple(str(row[0]) for row in con.execute(f"DESCRIBE {_relation(spec)}").fetchall())
    return replace(staged, columns=columns, in_place=in_place), problems


def staging_plan(
    spec: TableSpec, path: Path, source_types: dict[str, str]
) -> tuple[list[str], StagedTable, list[Violation]]:
    """How a file with these columns (lower-case name: DuckDB type) is staged: the SELECT items
    of its contract columns, the staged table, and the missing-column problems."""
    items, checked = select_items(spec, source_types)
    missing = frozenset(c.name for c in spec.columns if c.name not in source_types and c.default is None)
    problems = [
        Violation(path.name, name, "column present", None, detail="the file has no such column")
        for name in spec.column_names
        if name in missing
    ]
    columns = (*spec.column_names, *(_bad_column(c) for c in checked))
    return items, StagedTable(spec, path, missing, checked, columns), problems


def _stage_empty(
    con: duckdb.DuckDBPyConnection, spec: TableSpec, path: Path | None, missing: frozenset[str]
) -> StagedTable:
    """An empty temp table with the contract columns and types."""
    items, _ = select_items(spec, {})
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_relation(spec)} AS SELECT {', '.join(items)} LIMIT 0")
    return StagedTable(spec, path, missing, (), spec.column_names)


def select_items(spec: TableSpec, source_types: dict[str, str]) -> tuple[list[str], tuple[str, ...]]:
    """SELECT items casting each contract column (absent: null or its default), followed by the
    `__bad_<column>` texts of casts that can fail; returns the items and those columns."""
    values, flags, checked = [], [], []
    for column in spec.columns:
        value, bad = _cast(column, source_types.get(column.name))
        values.append(f"{value} AS {_q(column.name)}")
        if bad is not None:
            flags.append(f"{bad} AS {_q(_bad_column(column.name))}")
            checked.append(column.name)
    return values + flags, tuple(checked)


def _cast(column: Column, source_type: str | None) -> tuple[str, str | None]:
    """SQL of the column's contract-typed value and of its offending text (None if it cannot fail).

    Same type: taken as is. A typed source that converts exactly (numbers; timestamps at midnight
    for dates): cast, and the cast must equal the original. Anything else: the value's text
    (trimmed, empty = null) must match the type's pattern and cast. Floats must be finite. A value
    that fails is null in the staged table and its source text is kept in `__bad_<column>`."""
    target, name = column.type, _q(column.name)
    if source_type is None:
        value, bad = f"CAST(NULL AS {target})", None
    elif target == "VARCHAR":
        value, bad = f"NULLIF(CAST({name} AS VARCHAR), '')", None
    elif source_type == target and target != "DOUBLE":
        value, bad = name, None
    else:
        exact = _converts_exactly(source_type, target)
        source = name if exact else f"NULLIF(trim(CAST({name} AS VARCHAR)), '')"
        cast = f"TRY_CAST({source} AS {target})"
        pattern = TEXT_PATTERNS.get(target)
        if exact:
            valid = f"{cast} = {source}"
        else:
            valid = f"regexp_full_match({source}, '{pattern}')" if pattern else f"{cast} IS NOT NULL"
        if target == "DOUBLE":
            valid = f"{valid} AND isfinite({cast})"
        value = f"CASE WHEN {valid} THEN {cast} END"
        bad = f"CASE WHEN {source} IS NOT NULL AND {value} IS NULL THEN CAST({source} AS VARCHAR) END"
    if column.default is not None:
        value = f"coalesce({value}, CAST({column.default} AS {target}))"
    return value, bad


def _converts_exactly(source_type: str, target: str) -> bool:
    """Whether a value of `source_type` can be cast to `target` and compared with the original."""
    if target in ("BIGINT", "DOUBLE"):
        return source_type in _NUMERIC_TYPES or source_type.startswith("DECIMAL")
    return target == "DATE" and source_type in _TIMESTAMP_TYPES


class SqlConnection(Protocol):
    """What the checks need of a connection: DuckDB's, or `pipeline.engines.spark_engine`'s for Spark."""

    def execute(self, query: str, /) -> Any: ...


def check_rules(
    con: SqlConnection, staged: dict[str, StagedTable], loaded: dict[str, str] | None = None,
    segments: tuple[str, ...] = SEGMENT_NAMES,
) -> tuple[dict[str, int], list[Violation]]:
    """Evaluate every applicable rule, one scan per table (plus one grouping by every column for
    exact duplicate rows, unless they were set aside); rows per table and the violations.
    Rules of tables not staged are skipped; `loaded` names already-loaded tables rules may read;
    reps.segment is checked against `segments` (the plan's segment names)."""
    relations = {**(loaded or {}), **{name: table.relation for name, table in staged.items()}}
    rules = _applicable_rules(staged, segment_rule(segments))
    rows: dict[str, int] = {}
    violations: list[Violation] = []
    for name, table in staged.items():
        mine = [r for r in rules if r.table == name]
        predicates = [r.bad.format(**relations) for r in mine]
        counts = con.execute(
            f"SELECT {', '.join(['count(*)'] + [f'count_if({p})' for p in predicates])} FROM {table.relation}"
        ).fetchone()
        assert counts is not None
        rows[name] = int(counts[0])
        copies = None if table.distinct else duplicate_violation(con, table)
        violations += [copies] if copies else []
        for rule, predicate, count in zip(mine, predicates, counts[1:], strict=True):
            if count:
                examples = _examples(con, table, predicate, rule.example or table.spec.key_sql())
                violations.append(Violation(table.file_name, rule.column, rule.name, int(count), examples))
    return rows, violations


def _applicable_rules(staged: dict[str, StagedTable], segments: Rule) -> list[Rule]:
    """Type rules of the staged casts, then the contract rules whose columns are all present (the
    reps.segment rule replaced by `segments`, the plan's own)."""
    missing = {f"{name}.{column}" for name, table in staged.items() for column in table.missing}
    type_rules = [
        Rule(
            name,
            column,
            f"type: {TYPE_LABELS[table.spec.column(column).type]}",
            f"{_q(_bad_column(column))} IS NOT NULL",
            example=f"concat({table.spec.key_sql()}, ': ''', {_q(_bad_column(column))}, '''')",
        )
        for name, table in staged.items()
        for column in table.checked
    ]
    contract_rules = [
        _after_typecheck_rules(segments if r == segment_rule(SEGMENT_NAMES) else r, staged[r.table])
        for r in RULES
        if r.table in staged and f"{r.table}.{r.column}" not in missing and not missing.intersection(r.reads)
    ]
    return type_rules + contract_rules


def _after_typecheck_rules(rule: Rule, table: StagedTable) -> Rule:
    """The rule restricted to rows whose value passed its type check (a bad value is reported once)."""
    if rule.column not in table.checked:
        return rule
    return replace(rule, bad=f"({rule.bad}) AND {_q(_bad_column(rule.column))} IS NULL")


def _examples(con: SqlConnection, table: StagedTable, predicate: str, example: str) -> tuple[str, ...]:
    """Up to EXAMPLES distinct example keys of the rows where `predicate` holds, sorted."""
    found = con.execute(
        f"SELECT DISTINCT {example} AS example_key FROM {table.relation} WHERE {predicate} "
        f"ORDER BY example_key LIMIT {EXAMPLES}"
    ).fetchall()
    return tuple(str(row[0]) for row in found)


def _publish(con: duckdb.DuckDBPyConnection, staged: dict[str, StagedTable], schema: str, result: IngestResult) -> None:
    """Replace every `<schema>.<table>` and `<schema>.input_files` in one transaction."""
    with transaction(con):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        for name, table in staged.items():
            spec = table.spec
            order = load_order(spec)
            flags = ", ".join(_q(_bad_column(c)) for c in table.checked)
            columns = f"* EXCLUDE ({flags})" if flags else "*"
            order_by = f" ORDER BY {', '.join(_q(c) for c in order)}" if spec.ordered_load else ""
            con.execute(f"CREATE OR REPLACE TABLE {schema}.{name} AS SELECT {columns} FROM {table.relation}{order_by}")
        con.execute(
            f'CREATE OR REPLACE TABLE {schema}.input_files ("table" VARCHAR, file VARCHAR, rows BIGINT, '
            "has_usage BOOLEAN, data_fingerprint VARCHAR)"
        )
        con.executemany(
            f"INSERT INTO {schema}.input_files VALUES (?, ?, ?, ?, ?)",
            [
                [name, result.files.get(name), rows, result.has_usage, result.data_fingerprint]
                for name, rows in result.tables.items()
            ],
        )


def _drop(con: duckdb.DuckDBPyConnection, table: StagedTable) -> None:
    """Drop the staged temp table or view."""
    con.execute(f"DROP {'VIEW' if table.in_place else 'TABLE'} IF EXISTS {table.relation}")


def _relation(spec: TableSpec) -> str:
    """The temp table staging `spec`."""
    return f"temp.main._ingest_{spec.name}"


def _bad_column(column: str) -> str:
    return f"__bad_{column}"


def _q(identifier: str) -> str:
    """A quoted SQL identifier (a contract name, or an extra column's name from a file's header)."""
    return '"' + identifier.replace('"', '""') + '"'
