"""Apply a source mapping (pipeline/ingestion/mapping.py): a CRM export in, contract tables out.

Runs in its own in-memory DuckDB: each mapped table is one generated SELECT over its source
file (identifiers checked against the file's header and quoted; constants, prefixes and value
maps bound as parameters or read from the `value_maps` table filled from Python), then the
rows breaking a set-aside rule are moved to `rejected_rows` (rule predicates from
pipeline/ingestion/contract.py), then accounts' renewal dates are filled from contracts or renewal opportunities where asked, then
derived tables are built (sql/ingestion/subscriptions_from_won_deals.sql). Contract columns the
mapping does not name are written empty (the source does not have them; the contract's
defaults and not-null rules then apply).
The contract tables are written as TABLE.parquet into a staging folder that
`ingest_inputs` validates like any input folder: there is one validation path. Every step is
counted in the report (rows read, set aside by rule with example keys, derived, written).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline.core.warehouse import sql_text
from pipeline.ingestion.contract import RULES, TABLES, Rule
from pipeline.ingestion.csv_file import (
    csv_problems,
    fields_match_header,
    is_csv,
    read_problems,
    staged_csv_reader,
    unreadable,
)
from pipeline.ingestion.ingest import EXAMPLES, READERS, InputContractError, Violation
from pipeline.ingestion.mapping import ColumnMap, ContractDates, OnlyIf, RenewalDates, SourceMapping, TableMap

REJECTED_FILE = "rejected_rows.parquet"
TIMESTAMP_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ].*)?"


@dataclass(frozen=True)
class QualityRow:
    """One line of the data-quality report."""

    step: str  # read, set aside, derived, mapped
    table: str
    file: str
    rule: str
    rows: int
    examples: str = ""


@dataclass(frozen=True)
class MappedInputs:
    """The staging folder written, the source files read, and the report of the mapping."""

    folder: Path
    source_files: tuple[Path, ...]
    report: tuple[QualityRow, ...]
    file_labels: dict[str, str]  # staged file -> 'its source file (mapped)', for messages


class _Sql:
    """A SELECT being generated: its items and the values bound to it."""

    def __init__(self) -> None:
        self.params: dict[str, object] = {}

    def bind(self, value: object) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"${name}"


def apply_mapping(input_dir: str | Path, mapping: SourceMapping, out_dir: str | Path) -> MappedInputs:
    """Write the contract tables of `mapping` applied to `input_dir` into `out_dir` (replaced)."""
    input_dir, out_dir = Path(input_dir), Path(out_dir)
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE value_maps (map_id INTEGER, source VARCHAR, target VARCHAR)")
        con.execute(
            "CREATE TABLE rejected_rows (\"table\" VARCHAR, file VARCHAR, rule VARCHAR, example_key VARCHAR, "
            "record VARCHAR)"
        )
        headers, files, violations = _read_headers(con, input_dir, mapping)
        if violations:
            raise InputContractError(violations)
        report: list[QualityRow] = []
        for name, table in mapping.tables.items():
            if table.file is not None:
                try:
                    violations += _map_table(con, name, table, files, headers, report)
                except duckdb.Error as exc:  # a line past the header DuckDB cannot read
                    sources = dict.fromkeys([table.file, *(lookup.file for lookup in table.lookups.values())])
                    found = [p for file in sources if is_csv(files[file]) for p in csv_problems(files[file], file)]
                    violations += found or [unreadable(table.file, exc)]
        if violations:
            raise InputContractError(violations)
        for name in TABLES:
            if name in mapping.tables and mapping.tables[name].set_aside:
                report += _set_aside(con, name, mapping, files[mapping.tables[name].file])
        if "accounts" in mapping.tables and mapping.tables["accounts"].renewal_dates:
            report += _fill_renewal_dates(con, mapping.tables["accounts"].renewal_dates, files)
        for name, table in mapping.tables.items():
            if table.derive == "won_deals":
                con.execute(
                    f"CREATE TABLE mapped_{name} AS {sql_text('subscriptions_from_won_deals')}",
                    {"window_months": table.window_months},
                )
                derived = _rows(con, f"mapped_{name}")
                report.append(QualityRow("derived", name, "opportunities (won deals)", "", derived))
        _write(con, mapping, out_dir, report)
        labels = {
            f"{name}.parquet": f"{table.file or 'derived ' + name} (mapped to {name})"
            for name, table in mapping.tables.items()
        }
        return MappedInputs(out_dir, tuple(sorted(set(files.values()))), tuple(report), labels)
    finally:
        con.close()


def _read_headers(
    con: duckdb.DuckDBPyConnection, input_dir: Path, mapping: SourceMapping
) -> tuple[dict[Path, list[str]], dict[str, Path], list[Violation]]:
    """The header of every file the mapping names, and the problems of missing files or columns."""
    files: dict[str, Path] = {}
    headers: dict[Path, list[str]] = {}
    violations: list[Violation] = []
    for name, table in mapping.tables.items():
        wanted = [table.file, *(lookup.file for lookup in table.lookups.values())] if table.file else []
        contracts = table.renewal_dates.contracts if table.renewal_dates else None
        wanted += [contracts.file] if contracts else []
        for file in wanted:
            path = input_dir / file
            if path in headers:
                files[file] = path
                continue
            if not path.is_file() or path.suffix.lstrip(".") not in READERS:
                detail = f"mapping table {name} reads {file}, not found in {input_dir} (csv or parquet)"
                violations.append(Violation(file, None, "file present", None, detail=detail))
                continue
            try:
                described = con.execute(f"DESCRIBE SELECT * FROM {_reader(path)}", [str(path)]).fetchall()
                names = [str(r[0]) for r in described]
                if is_csv(path):  # every line as many fields as the header (pipeline/ingestion/csv_file.py)
                    con.execute(f"SELECT count(*) FROM {staged_csv_reader(names)} WHERE {fields_match_header(names)}",
                                [str(path)]).fetchall()
            except duckdb.Error as exc:
                violations += read_problems(path, file, exc)
                continue
            files[file], headers[path] = path, names
        if violations or table.file is None:
            continue
        for file, column, where in _contract_references(name, contracts):
            if column not in headers[files[file]]:
                known = ", ".join(headers[files[file]])
                detail = f"mapping {where} names column '{column}', not in {file} (columns: {known})"
                violations.append(Violation(file, column, "column present", None, detail=detail))
        for ref, where in _references(name, table):
            file, column = _resolve(table, ref)
            if column not in headers[files[file]]:
                known = ", ".join(headers[files[file]])
                detail = f"mapping {where} names column '{column}', not in {file} (columns: {known})"
                violations.append(Violation(file, column, "column present", None, detail=detail))
    return headers, files, violations


def _references(name: str, table: TableMap) -> list[tuple[str, str]]:
    """Every source column the table's mapping reads, with where the mapping names it."""
    refs = [(source, f"tables.{name}.columns.{target}") for target, c in table.columns.items() for source in c.sources]
    refs += [(c.only_if.column, f"tables.{name}.columns.{target}.only_if")
             for target, c in table.columns.items() if c.only_if]
    refs += [(k, f"tables.{name}.keep") for k in table.keep]
    for alias, lookup in table.lookups.items():
        (local, key), = lookup.by.items()
        refs += [(local, f"tables.{name}.lookups.{alias}.by"), (f"{alias}.{key}", f"tables.{name}.lookups.{alias}.by")]
    return refs


def _contract_references(name: str, contracts: ContractDates | None) -> list[tuple[str, str, str]]:
    """The columns of the contracts file renewal_dates reads: (file, column, where the mapping names it)."""
    if contracts is None:
        return []
    where = f"tables.{name}.renewal_dates.contracts"
    found = [(contracts.file, contracts.account, f"{where}.account"), (contracts.file, contracts.end_date,
                                                                       f"{where}.end_date")]
    return found + ([(contracts.file, contracts.only_if.column, f"{where}.only_if")] if contracts.only_if else [])


def _resolve(table: TableMap, ref: str) -> tuple[str, str]:
    """The file and column of a reference: 'COLUMN' in the table's file, 'ALIAS.COLUMN' in a lookup."""
    alias, _, column = ref.partition(".")
    if column and alias in table.lookups:
        return table.lookups[alias].file, column
    assert table.file is not None
    return table.file, ref


def _map_table(
    con: duckdb.DuckDBPyConnection,
    name: str,
    table: TableMap,
    files: dict[str, Path],
    headers: dict[Path, list[str]],
    report: list[QualityRow],
) -> list[Violation]:
    """Create mapped_<name> from its source file; problems of unmapped values and lookups."""
    assert table.file is not None
    sql = _Sql()
    path = files[table.file]
    source = f"{_reader(path, sql.bind(str(path)))} AS src"
    joins = []
    violations: list[Violation] = []
    for alias, lookup in table.lookups.items():
        (local, key), = lookup.by.items()
        lookup_path = sql.bind(str(files[lookup.file]))
        joins.append(f"LEFT JOIN {_reader(files[lookup.file], lookup_path)} AS {_q(alias)} "
                     f"ON {_column_of(table, local)} = {_q(alias)}.{_q(key)}")
        violations += _unique_key(con, lookup.file, files[lookup.file], key)
    relation = " ".join([source, *joins])
    items = []
    for target, column in table.columns.items():
        texts = [_text_of(table, source) for source in column.sources]
        text = texts[0] if len(texts) == 1 else f"NULLIF(concat_ws(' ', {', '.join(texts)}), '')" if texts else None
        expression, problem = _column_sql(con, sql, column, text, relation, table.file)
        if column.only_if is not None:
            condition = _condition(sql, _text_of(table, column.only_if.column), column.only_if)
            expression = f"CASE WHEN {condition} THEN {expression} END"
        items.append(f"{expression} AS {_q(target)}")
        if problem:
            violations.append(problem)
    items += [f"CAST(NULL AS VARCHAR) AS {_q(c)}" for c in TABLES[name].column_names if c not in table.columns]
    items += [f"{_text_of(table, k)} AS {_q(k)}" for k in table.keep]
    if violations:
        return violations
    _execute(con, f"CREATE TABLE mapped_{name} AS SELECT {', '.join(items)} FROM {relation}", sql.params)
    read = con.execute(f"SELECT count(*) FROM {_reader(path)}", [str(path)]).fetchone()
    report.append(QualityRow("read", name, table.file, "", int(read[0]) if read else 0))
    return []


def _column_sql(
    con: duckdb.DuckDBPyConnection, sql: _Sql, column: ColumnMap, text: str | None, relation: str, file: str
) -> tuple[str, Violation | None]:
    """SQL of one contract column, and the problem of source values its value map does not cover."""
    if column.value is not None:
        return f"CAST({sql.bind(column.value)} AS VARCHAR)", None
    assert text is not None
    value = text
    if column.date_from_timestamp:
        stamped = f"regexp_full_match({value}, {sql.bind(TIMESTAMP_DATE)})"
        value = f"CASE WHEN {stamped} THEN left({value}, 10) ELSE {value} END"
    if column.id_from is not None:
        value = f"{sql.bind(column.prefix)} || trim(regexp_replace(lower({value}), '[^a-z0-9]+', '-', 'g'), '-')"
    problem = None
    if column.values is not None:
        map_id = _register_map(con, column.values)
        covered = f"(SELECT target FROM value_maps WHERE map_id = {sql.bind(map_id)} AND source = {value})"
        otherwise = {"keep": value, "error": "NULL", "empty": "NULL"}[column.other_values]
        if column.default is not None:
            otherwise = f"CAST({sql.bind(column.default)} AS VARCHAR)"
        elif column.other_values == "error":
            problem = _uncovered(con, sql, value, relation, map_id, file, ", ".join(column.sources))
        value = f"coalesce({covered}, {otherwise})"
    if column.if_null is not None:
        value = f"coalesce({value}, CAST({sql.bind(column.if_null)} AS VARCHAR))"
    return value, problem


def _register_map(con: duckdb.DuckDBPyConnection, values: dict[str, str]) -> int:
    """Store a value map as rows of `value_maps`; returns its id."""
    row = con.execute("SELECT count(DISTINCT map_id) FROM value_maps").fetchone()
    map_id = int(row[0]) if row else 0
    con.executemany("INSERT INTO value_maps VALUES (?, ?, ?)", [[map_id, k, v] for k, v in values.items()])
    return map_id


def _uncovered(
    con: duckdb.DuckDBPyConnection, sql: _Sql, value: str, relation: str, map_id: int, file: str, column: str
) -> Violation | None:
    """Rows whose (non-empty) value is not in the value map, with the distinct values as examples."""
    found = _execute(
        con,
        f"SELECT {value} AS v, count(*) FROM {relation} WHERE {value} IS NOT NULL AND {value} NOT IN "
        f"(SELECT source FROM value_maps WHERE map_id = {sql.bind(map_id)}) GROUP BY v ORDER BY v",
        sql.params,
    ).fetchall()
    if not found:
        return None
    examples = tuple(f"'{v}'" for v, _ in found[:EXAMPLES])
    return Violation(file, column, "value covered by the mapping's value map", sum(n for _, n in found), examples)


def _unique_key(con: duckdb.DuckDBPyConnection, file: str, path: Path, key: str) -> list[Violation]:
    """A lookup file's key must be unique (the join is many rows to one)."""
    dupes = con.execute(
        f"SELECT CAST({_q(key)} AS VARCHAR) AS k, count(*) FROM {_reader(path)} GROUP BY k HAVING count(*) > 1 "
        "ORDER BY k",
        [str(path)],
    ).fetchall()
    if not dupes:
        return []
    examples = tuple(str(k) for k, _ in dupes[:EXAMPLES])
    return [Violation(file, key, "unique (lookup key)", sum(n for _, n in dupes), examples)]


def _set_aside(con: duckdb.DuckDBPyConnection, name: str, mapping: SourceMapping, file: Path) -> list[QualityRow]:
    """Move the rows breaking each set-aside rule (in the order listed) into rejected_rows."""
    relations = {t: f"mapped_{t}" for t in mapping.tables}
    spec = TABLES[name]
    rows = []
    for aside in mapping.tables[name].set_aside:
        rule = _contract_rule(name, aside.column, aside.rule)
        try:
            predicate = rule.bad.format(**relations)
        except KeyError as exc:
            raise InputContractError([Violation(file.name, aside.column, aside.rule, None,
                                                detail=f"set aside needs table {exc} in the mapping")]) from exc
        key = rule.example or spec.key_sql()
        label = f"{aside.column}: {aside.rule}"
        con.execute(
            f"INSERT INTO rejected_rows SELECT ?, ?, ?, {key}, CAST(to_json(t) AS VARCHAR) "
            f"FROM mapped_{name} AS t WHERE {predicate}",
            [name, file.name, label],
        )
        found = con.execute(
            "SELECT count(*), list(DISTINCT example_key ORDER BY example_key)[:?] FROM rejected_rows "
            "WHERE \"table\" = ? AND rule = ?",
            [EXAMPLES, name, label],
        ).fetchone()
        con.execute(f"DELETE FROM mapped_{name} WHERE {predicate}")
        count, examples = (int(found[0]), found[1] or []) if found else (0, [])
        rows.append(QualityRow("set aside", name, file.name, label, count, ", ".join(map(str, examples))))
    return rows


def _condition(sql: _Sql, text: str, only_if: OnlyIf) -> str:
    """SQL of an only_if test on a column's text: in the values (equals), or not (not_equals; empty counts)."""
    listed = ", ".join(sql.bind(v) for v in only_if.values)
    return f"{text} IN ({listed})" if only_if.equals is not None else f"coalesce({text} NOT IN ({listed}), TRUE)"


def _fill_renewal_dates(con: duckdb.DuckDBPyConnection, dates: RenewalDates, files: dict[str, Path]) -> list[QualityRow]:
    """accounts.renewal_date where the accounts file gives none: the latest end date of the account's
    contracts, then the earliest expected close date of its open renewal opportunity, else the latest
    close date of its won renewal (the plan rolls a past date forward a year at a time). Counted per source."""
    rows = []
    if dates.contracts is not None:
        contracts, sql = dates.contracts, _Sql()
        path = files[contracts.file]
        account = f"NULLIF(trim(CAST({_q(contracts.account)} AS VARCHAR)), '')"
        end = f"left(NULLIF(trim(CAST({_q(contracts.end_date)} AS VARCHAR)), ''), 10)"
        where = "TRUE"
        if contracts.only_if is not None:
            tested = f"NULLIF(trim(CAST({_q(contracts.only_if.column)} AS VARCHAR)), '')"
            where = _condition(sql, tested, contracts.only_if)
        source = (f"SELECT {account} AS account_id, max({end}) AS renewal_date FROM {_reader(path, sql.bind(str(path)))} "
                  f"WHERE {where} GROUP BY 1")
        rows.append(QualityRow("derived", "accounts", contracts.file, "renewal_date from contracts",
                               _fill_from(con, source, sql.params)))
    if dates.renewal_opportunities:
        source = ("SELECT account_id, coalesce(min(expected_close_date) FILTER (WHERE stage = 'open'), "
                  "max(close_date) FILTER (WHERE stage = 'won')) AS renewal_date FROM mapped_opportunities "
                  "WHERE type = 'renewal' AND account_id IS NOT NULL GROUP BY 1")
        rows.append(QualityRow("derived", "accounts", "opportunities (renewals)", "renewal_date from renewal "
                               "opportunities", _fill_from(con, source, {})))
    return rows


def _fill_from(con: duckdb.DuckDBPyConnection, source: str, params: dict[str, object]) -> int:
    """Set mapped_accounts.renewal_date where it is empty from `source` (account_id, renewal_date); rows set."""
    query = (f"UPDATE mapped_accounts AS a SET renewal_date = d.renewal_date FROM ({source}) AS d "
             "WHERE d.account_id = a.account_id AND a.renewal_date IS NULL AND d.renewal_date IS NOT NULL")
    result = _execute(con, query, params).fetchone()
    return int(result[0]) if result else 0


def _contract_rule(table: str, column: str, name: str) -> Rule:
    return next(r for r in RULES if r.table == table and r.column == column and r.name == name)


def _write(con: duckdb.DuckDBPyConnection, mapping: SourceMapping, out_dir: Path, report: list[QualityRow]) -> None:
    """Replace the staging folder with one TABLE.parquet per mapped table and the rejected rows."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    for name in mapping.tables:
        con.table(f"mapped_{name}").write_parquet(str(out_dir / f"{name}.parquet"))
        report.append(QualityRow("mapped", name, f"{name}.parquet", "", _rows(con, f"mapped_{name}")))
    con.sql("SELECT * FROM rejected_rows ORDER BY ALL").write_parquet(str(out_dir / REJECTED_FILE))


def _column_of(table: TableMap, ref: str) -> str:
    """SQL of a source column: 'COLUMN' of the table's file, 'ALIAS.COLUMN' of a lookup."""
    alias, _, column = ref.partition(".")
    return f"{_q(alias)}.{_q(column)}" if column and alias in table.lookups else f"src.{_q(ref)}"


def _text_of(table: TableMap, ref: str) -> str:
    """SQL of a source column's value as trimmed text (empty = null)."""
    return f"NULLIF(trim(CAST({_column_of(table, ref)} AS VARCHAR)), '')"


def _execute(con: duckdb.DuckDBPyConnection, query: str, params: dict[str, object]) -> duckdb.DuckDBPyConnection:
    """Run `query` with the bound values it names (DuckDB refuses unused named parameters)."""
    used = set(re.findall(r"\$(p[0-9]+)\b", query))
    return con.execute(query, {k: v for k, v in params.items() if k in used})


def _reader(path: Path, placeholder: str = "?") -> str:
    return READERS[path.suffix.lstrip(".")].replace("?", placeholder)


def _rows(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def _q(identifier: str) -> str:
    """A quoted SQL identifier (names checked against a file's header or the contract)."""
    return '"' + identifier.replace('"', '""') + '"'
