"""Hostile input (issue 21): absurd amounts, ragged and non-UTF-8 CSV files, a --db or --out that
is not what it should be, settings and mapping files with a key given twice, exact duplicate rows.

Each gives one clear error naming what the user must fix (file, column, rule, count, line or
example keys), writes nothing downstream and leaves the current plan as it was; duplicate rows
may instead be set aside (operations.duplicate_rows: set_aside), never summed silently.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipeline import cli
from pipeline.core import warehouse
from pipeline.core.settings import DEFAULT_CONFIG, load_settings
from pipeline.ingestion import csv_file
from pipeline.ingestion.contract import MAX_MONEY
from pipeline.ingestion.duplicates import ADVICE, RULE, SET_ASIDE
from pipeline.ingestion.ingest import InputContractError, Violation, ingest_inputs, ingest_usage_window
from pipeline.ingestion.map_inputs import apply_mapping
from pipeline.ingestion.mapping import MappingError, load_mapping
from pipeline.runner import PlanOutcome, PlanRunError, run_plan
from tests.builders import TEST_CONFIG, settings_with

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "tests" / "fixtures" / "valid"
MAVEN_DIR = ROOT / "datasets" / "maven-crm"
MAVEN_MAPPING = ROOT / "mappings" / "maven_crm.yaml"
Edit = Callable[[Path], str]  # changes an input folder, returns the message line it must give


# ---------------------------------------------------------------- helpers


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _row(path: Path, index: int) -> dict[str, str]:
    """Data row `index` (0-based) of a CSV file."""
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))[index]


def _key(path: Path, index: int, *columns: str) -> str:
    """The example key of data row `index` as messages show it ('A1 / P1 / 2024-01-01')."""
    row = _row(path, index)
    return " / ".join(row[c] or "NULL" for c in columns)


def _snapshot(con: duckdb.DuckDBPyConnection, schema: str = "raw") -> dict[str, list]:
    tables = con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY 1",
                         [schema]).fetchall()
    return {t: con.execute(f"SELECT * FROM {schema}.{t} ORDER BY ALL").fetchall() for (t,) in tables}


def _temp_tables(con: duckdb.DuckDBPyConnection) -> list:
    return con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()


def _load_error(con: duckdb.DuckDBPyConnection, folder: Path, **options: object) -> InputContractError:
    with pytest.raises(InputContractError) as caught:
        ingest_inputs(con, folder, **options)
    return caught.value


# ---------------------------------------------------------------- the whole plan: one message, the plan kept


def _absurd_arr(folder: Path) -> str:
    """Case 9: ARR 1e15 on one line used to fail deep in whitespace_items (DECIMAL(18,6) overflow)."""
    path = folder / "subscriptions.csv"
    lines = _lines(path)
    cells = lines[1].split(",")
    cells[3] = "1e15"
    lines[1] = ",".join(cells)
    _write_lines(path, lines)
    key = _key(path, 0, "account_id", "product_id", "start_date")
    return f"subscriptions.csv: column arr: rule '< 1,000,000,000,000': 1 row breaks it (e.g. {key})"


def _unquoted_comma(folder: Path) -> str:
    """Case 10: a name with an unquoted comma gives its line one field too many."""
    path = folder / "accounts.csv"
    lines = _lines(path)
    fields = len(lines[0].split(","))
    cells = lines[3].split(",")
    cells[1] += ", Inc"  # the account's name, unquoted
    lines[3] = ",".join(cells)
    _write_lines(path, lines)
    return f"accounts.csv: rule 'as many fields as the header ({fields})': 1 row breaks it (e.g. line 4: {fields + 1} fields)"


def _latin1(folder: Path) -> str:
    """Case 10: a file saved as Latin-1 (é is one byte, 0xE9, not UTF-8's two)."""
    path = folder / "accounts.csv"
    lines = _lines(path)
    lines[5] = lines[5].replace(",", ",Café ", 1)
    data = ("\n".join(lines) + "\n").encode("latin-1")
    path.write_bytes(data)
    offset = data.index(b"\xe9")
    return (f"accounts.csv: rule 'UTF-8 text': the file is not UTF-8: byte 0xE9 at line 6 (byte offset {offset}) "
            "is not UTF-8 text; save the file as UTF-8 (in Excel: 'CSV UTF-8')")


def _doubled_line(folder: Path) -> str:
    """Case 16: a subscription line given twice used to double the account's ACV silently."""
    path = folder / "subscriptions.csv"
    lines = _lines(path)
    _write_lines(path, [*lines, lines[2]])
    key = _key(path, 1, "account_id", "product_id", "start_date")
    return f"subscriptions.csv: rule '{RULE}': 1 row breaks it (e.g. {key}); {ADVICE}"


@pytest.mark.parametrize("edit", [_absurd_arr, _unquoted_comma, _latin1, _doubled_line],
                         ids=["arr-1e15", "unquoted-comma", "latin-1", "doubled-line"])
def test_hostile_input_stops_the_run_with_one_message_and_keeps_the_plan(
    sample_plan: PlanOutcome, sample_inputs: Path, tmp_path: Path, edit: Edit
) -> None:
    db = tmp_path / "plan.duckdb"
    shutil.copy(sample_plan.db, db)
    folder = tmp_path / "input"
    shutil.copytree(sample_inputs, folder)
    expected = edit(folder)
    with warehouse.connect(db, read_only=True) as con:
        before = _plan_and_inputs(con)
    with pytest.raises(PlanRunError) as caught:
        run_plan(folder, DEFAULT_CONFIG, db, instance=dg.DagsterInstance.ephemeral())
    assert str(caught.value) == f"step raw_inputs failed: {expected}"
    with warehouse.connect(db, read_only=True) as con:
        assert _plan_and_inputs(con) == before
        assert con.execute("SELECT plan_id FROM plans.current_plan").fetchall() == [(sample_plan.plan_id,)]
        # the failed run is noted, with its message
        assert con.execute("SELECT message FROM main.plan_runs WHERE status = 'failed'").fetchall() == [
            (str(caught.value),)]


def _plan_and_inputs(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, list]]:
    """The raw input tables and the current plan's tables (the run log main.plan_runs aside)."""
    current = {k: v for k, v in _snapshot(con, "main").items() if k != "plan_runs"}
    return {"raw": _snapshot(con, "raw"), "main": current}


def test_amounts_just_below_the_bound_plan_through(sample_inputs: Path, tmp_path: Path) -> None:
    """The money bound is what the plan can hold: every single-line holding of the enterprise
    accounts at 999,999,999,999 (so their peers' benchmarks are that high too; they stay in
    their segment) still gives a plan."""
    folder = tmp_path / "input"
    shutil.copytree(sample_inputs, folder)
    path = folder / "subscriptions.csv"
    settings = load_settings(TEST_CONFIG)
    enterprise = max(s.min_acv for s in settings.segments)
    with duckdb.connect() as scratch:
        scratch.execute("CREATE TABLE lines AS SELECT * FROM read_csv(?, all_varchar = true)", [str(path)])
        scratch.execute(
            "UPDATE lines SET arr = ? WHERE (account_id, product_id) IN (SELECT account_id, product_id FROM lines "
            "GROUP BY ALL HAVING count(*) = 1) AND account_id IN (SELECT account_id FROM lines "
            "WHERE start_date::DATE <= $2 AND coalesce(end_date::DATE > $2, true) GROUP BY ALL "
            "HAVING sum(arr::DOUBLE) >= $3)".replace("?", "$1"),
            [str(MAX_MONEY - 1), settings.as_of, enterprise],
        )
        scratch.execute(f"COPY lines TO '{path}' (HEADER)")
    outcome = run_plan(folder, settings, tmp_path / "plan.duckdb", instance=dg.DagsterInstance.ephemeral())
    with warehouse.connect(outcome.db, read_only=True) as con:
        largest = con.execute("SELECT max(price_used) FROM main.whitespace_items WHERE kind = 'cross_sell'").fetchone()
        quotas = con.execute("SELECT max(quota) FROM main.quotas WHERE segment = 'enterprise'").fetchone()
    assert largest[0] == pytest.approx(MAX_MONEY - 1) and quotas[0] > 0  # carried through to quotas, no overflow


# ---------------------------------------------------------------- case 10: CSV files DuckDB cannot read


def test_a_ragged_row_is_named_by_file_and_line(con: duckdb.DuckDBPyConnection, inputs: Path) -> None:
    ingest_inputs(con, VALID)
    before = _snapshot(con)
    path = inputs / "accounts.csv"
    lines = _lines(path)
    lines[2] = lines[2].replace("Birch Ltd", "Birch, Ltd")
    lines.append(lines[5].replace("A005", "A007") + ",extra")
    lines.append("A008,Short Co")
    _write_lines(path, lines)
    (violation,) = _load_error(con, inputs).violations
    assert violation == Violation("accounts.csv", None, "as many fields as the header (10)", 3,
                                  ("line 3: 11 fields", "line 8: 11 fields", "line 9: 2 fields"))
    assert _snapshot(con) == before and not _temp_tables(con)


def test_a_ragged_row_past_the_lines_duckdb_samples(con: duckdb.DuckDBPyConnection, inputs: Path) -> None:
    """DuckDB guesses a file's layout from its first 20,480 lines; the line number is exact after them."""
    path = inputs / "usage.csv"
    lines = _lines(path)
    lines += [f"A001,P2,2024-06-03,1,{i}" for i in range(25_000)] + ["A001,P2,2024-06-04,1,2,3"]
    _write_lines(path, lines)
    assert str(_load_error(con, inputs)) == (
        f"usage.csv: rule 'as many fields as the header (5)': 1 row breaks it (e.g. line {len(lines)}: 6 fields)")


def test_an_empty_field_too_many_is_not_dropped(con: duckdb.DuckDBPyConnection, inputs: Path) -> None:
    """Past the lines DuckDB samples, its reader dropped one empty field past the header's count
    without a word: a name with an unquoted comma in a row whose last cell is empty loaded shifted."""
    path = inputs / "usage.csv"
    lines = _lines(path)
    lines += [f"A001,P2,2024-06-03,1,{i}" for i in range(25_000)] + ["A001,P2,2024-06-04,1,2,"]
    _write_lines(path, lines)
    assert str(_load_error(con, inputs)) == (
        f"usage.csv: rule 'as many fields as the header (5)': 1 row breaks it (e.g. line {len(lines)}: 6 fields)")
    _write_lines(path, lines[:-1] + ["A001,P2,2024-06-04,1,"])  # an empty last cell is a cell, not a missing one
    assert str(_load_error(con, inputs)) == (
        "usage.csv: column events: rule 'not null': 1 row breaks it (e.g. A001 / P2 / 2024-06-04)")


def test_a_quote_left_open_is_named_by_line(con: duckdb.DuckDBPyConnection, inputs: Path) -> None:
    path = inputs / "opportunities.csv"
    lines = _lines(path)
    lines[4] = lines[4].replace(",open,", ',"open,', 1)
    _write_lines(path, lines)
    (violation,) = _load_error(con, inputs).violations
    assert (violation.file, violation.rule) == ("opportunities.csv", "quotes closed")
    assert violation.detail.startswith("the value starting at line 5 has a quote that is not closed or not doubled")


def test_a_latin1_file_is_named_with_line_and_byte(con: duckdb.DuckDBPyConnection, inputs: Path) -> None:
    path = inputs / "reps.csv"
    data = path.read_bytes().replace(b"Ana Reyes", "Ana Reyés".encode("latin-1"), 1)
    path.write_bytes(data)
    offset = data.index(b"\xe9")
    (violation,) = _load_error(con, inputs).violations
    assert (violation.file, violation.rule, violation.count) == ("reps.csv", "UTF-8 text", None)
    assert violation.detail.startswith(f"the file is not UTF-8: byte 0xE9 at line 2 (byte offset {offset})")


def test_utf8_is_checked_across_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A character cut by a chunk boundary is fine; the first bad byte is found at its exact place."""
    monkeypatch.setattr(csv_file, "CHUNK_BYTES", 3)
    path = tmp_path / "t.csv"
    text = "a,b\nZürich,€5\nMünchen,x\n".encode()
    path.write_bytes(text)
    assert csv_file.first_invalid_utf8(path) is None
    bad = text + b"Gen\xe8ve,y\n" + "Köln".encode()
    path.write_bytes(bad)
    assert csv_file.first_invalid_utf8(path) == (4, bad.index(b"\xe8"), 0xE8)
    path.write_bytes(text + "€".encode()[:2])  # the file ends inside a character
    assert csv_file.first_invalid_utf8(path) == (4, len(text), 0xE2)


@pytest.mark.parametrize("problem", ["ragged", "latin-1"])
def test_a_mapped_source_file_is_named_the_same_way(tmp_path: Path, problem: str) -> None:
    folder = tmp_path / "maven"
    shutil.copytree(MAVEN_DIR, folder)
    path = folder / "sales_pipeline.csv"
    lines = _lines(path)
    if problem == "ragged":
        lines[1] = lines[1] + ",surplus"
        _write_lines(path, lines)
        expected = "sales_pipeline.csv: rule 'as many fields as the header (8)': 1 row breaks it (e.g. line 2: 9 fields)"
    else:
        lines[9] = lines[9].replace(",", ",Zoé", 1)
        data = ("\n".join(lines) + "\n").encode("latin-1")
        path.write_bytes(data)
        offset = data.index(b"\xe9")
        expected = f"sales_pipeline.csv: rule 'UTF-8 text': the file is not UTF-8: byte 0xE9 at line 10 (byte offset {offset})"
    with pytest.raises(InputContractError) as caught:
        apply_mapping(folder, load_mapping(MAVEN_MAPPING), tmp_path / "out")
    assert str(caught.value).startswith(expected)
    assert len(caught.value.violations) == 1


# ---------------------------------------------------------------- case 11: --db and --out


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    """Run `quota-plan ARGS` in this process: exit status and stderr lines."""
    status = cli.main(list(args))
    return status, capsys.readouterr().err.splitlines()


def test_a_db_that_is_not_a_duckdb_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = tmp_path / "notes.duckdb"
    db.write_text("my notes, not a database\n")
    expected = ("is not a DuckDB file (DuckDB cannot open it); give the path of a DuckDB file or of a new one (--db); "
                "the file was left as it is")
    for verb, *args in (("run", "--input", str(VALID)), ("plans",), ("export", "--out", str(tmp_path / "out"))):
        status, err = _cli(capsys, verb, *args, "--db", str(db))
        assert status == 1
        assert err[-1] == f"quota-plan {verb}: error: {db} {expected}"
        assert not any("Traceback" in line or "dagster" in line for line in err)
    assert db.read_text() == "my notes, not a database\n"


def test_a_db_that_is_a_folder_or_inside_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = tmp_path / "plans"
    folder.mkdir()
    status, err = _cli(capsys, "run", "--input", str(VALID), "--db", str(folder))
    assert status == 1
    assert err[-1] == f"quota-plan run: error: {folder} is a folder, not a DuckDB file: give the path of a DuckDB file (--db)"
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    status, err = _cli(capsys, "run", "--input", str(VALID), "--db", str(blocker / "plan.duckdb"))
    assert status == 1
    assert err[-1] == (f"quota-plan run: error: cannot use {blocker / 'plan.duckdb'} as the DuckDB file: "
                       f"{blocker} is a file, not a folder")
    assert not any("Traceback" in line for line in err)


def test_export_out_that_is_a_file(capsys: pytest.CaptureFixture[str], sample_plan: PlanOutcome, tmp_path: Path) -> None:
    out = tmp_path / "report.xlsx"
    out.write_text("keep me")
    for target in (out, out / "exports"):
        status, err = _cli(capsys, "export", "--db", str(sample_plan.db), "--out", str(target))
        assert status == 1
        assert err == [(f"quota-plan export: error: --out {target}: {out} is a file, not a folder; give a folder "
                        "to write the exports into (created if missing)")]
    assert out.read_text() == "keep me"


# ---------------------------------------------------------------- case 12: mapping files


def test_a_mapping_key_given_twice_names_both_lines(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    lines = _lines(MAVEN_MAPPING)
    first = next(i for i, line in enumerate(lines, start=1) if line.strip().startswith("region:"))
    lines.insert(first, lines[first - 1].replace("office_location", "sector"))
    mapping = tmp_path / "mapping.yaml"
    _write_lines(mapping, lines)
    expected = f"{mapping}: key 'region' is given twice, at lines {first} and {first + 1}: keep one"
    with pytest.raises(MappingError) as caught:
        load_mapping(mapping)
    assert str(caught.value) == expected
    status, err = _cli(capsys, "run", "--input", str(MAVEN_DIR), "--mapping", str(mapping),
                       "--db", str(tmp_path / "plan.duckdb"))
    assert (status, err[-1]) == (1, f"quota-plan run: error: {expected}")
    assert not (tmp_path / "plan.duckdb").exists()


def test_a_mapping_whose_top_level_is_a_list(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("- source: a list\n- tables: {}\n")
    with pytest.raises(MappingError) as caught:
        load_mapping(mapping)
    assert str(caught.value) == (f"{mapping}: the top level must be a mapping of names to values "
                                 "(name: value lines), not a list")


# ---------------------------------------------------------------- case 16: exact duplicate rows


# per table: a data row to give twice, and the key columns its example shows
DOUBLED = {
    "accounts": (5, ("account_id",)),
    "products": (0, ("product_id",)),
    "subscriptions": (0, ("account_id", "product_id", "start_date")),
    "usage": (5, ("account_id", "product_id", "date")),
    "opportunities": (3, ("opportunity_id",)),
    "reps": (1, ("rep_id",)),
}


@pytest.mark.parametrize("table", list(DOUBLED))
def test_an_exact_duplicate_row_is_rejected_in_every_table(
    con: duckdb.DuckDBPyConnection, inputs: Path, table: str
) -> None:
    ingest_inputs(con, VALID)
    before = _snapshot(con)
    index, key_columns = DOUBLED[table]
    path = inputs / f"{table}.csv"
    lines = _lines(path)
    _write_lines(path, [*lines, lines[index + 1]])
    violations = _load_error(con, inputs).violations
    key = _key(path, index, *key_columns)
    assert violations[0] == Violation(f"{table}.csv", None, RULE, 1, (key,), advice=ADVICE)
    # a keyed table's copy breaks 'unique' as well; no other rule
    assert [v.rule for v in violations[1:]] == (["unique"] if len(key_columns) == 1 else [])
    assert _snapshot(con) == before and not _temp_tables(con)


def test_copies_are_counted_beyond_the_first_and_only_exact_ones(
    con: duckdb.DuckDBPyConnection, inputs: Path
) -> None:
    path = inputs / "subscriptions.csv"
    lines = _lines(path)
    _write_lines(path, [*lines, lines[1], lines[1], lines[3].replace("2024-06-15", "2024-06-16")])
    (violation,) = _load_error(con, inputs).violations
    assert (violation.count, violation.example_keys) == (2, (_key(path, 0, "account_id", "product_id", "start_date"),))
    # the same line with a different value in an extra column is another line, not a copy
    path = inputs / "usage.csv"
    lines = _lines(path)
    _write_lines(path, [f"{lines[0]},source", *(f"{line},crm" for line in lines[1:]), f"{lines[1]},billing"])
    _write_lines(inputs / "subscriptions.csv", _lines(VALID / "subscriptions.csv"))
    assert ingest_inputs(con, inputs).tables["usage"] == len(lines)


def test_set_aside_loads_one_copy_and_keeps_the_others(con: duckdb.DuckDBPyConnection, inputs: Path) -> None:
    subscriptions, usage = inputs / "subscriptions.csv", inputs / "usage.csv"
    lines = _lines(subscriptions)
    _write_lines(subscriptions, [*lines, lines[1], lines[1]])
    usage_lines = _lines(usage)
    _write_lines(usage, [*usage_lines, usage_lines[3]])
    result = ingest_inputs(con, inputs, duplicate_rows="set_aside")
    assert result.set_aside == {"subscriptions": 2, "usage": 1}
    assert result.tables["subscriptions"] == len(lines) - 1 and result.read["subscriptions"] == len(lines) + 1
    assert con.execute("SELECT count(*), count(DISTINCT (account_id, product_id, start_date)) "
                       "FROM raw.subscriptions").fetchone() == (len(lines) - 1,) * 2
    key = _key(subscriptions, 0, "account_id", "product_id", "start_date")
    kept = con.execute(f'SELECT "table", file, rule, example_key, record::JSON ->> \'arr\' FROM {SET_ASIDE} '
                       "ORDER BY ALL").fetchall()
    assert kept == [("subscriptions", "subscriptions.csv", RULE, key, "180000.0")] * 2 + [
        ("usage", "usage.csv", RULE, _key(usage, 2, "account_id", "product_id", "date"), None)]


def test_set_aside_with_another_problem_leaves_nothing(con: duckdb.DuckDBPyConnection, inputs: Path) -> None:
    lines = _lines(inputs / "subscriptions.csv")
    _write_lines(inputs / "subscriptions.csv", [*lines, lines[1], lines[2].replace("12000", "-1")])
    (violation,) = _load_error(con, inputs, duplicate_rows="set_aside").violations
    assert violation.rule == ">= 0"  # the copy was set aside, not reported
    assert _snapshot(con) == {} and not _temp_tables(con)


def test_usage_weeks_set_aside_their_own_copies(con: duckdb.DuckDBPyConnection, inputs: Path) -> None:
    lines = _lines(inputs / "usage.csv")
    _write_lines(inputs / "usage.csv", [*lines, lines[1], lines[2]])  # one copy in each of two weeks
    ingest_inputs(con, inputs, skip=("usage",))
    june_10 = dt.date(2024, 6, 10)
    assert ingest_usage_window(con, inputs, june_10, None, duplicate_rows="set_aside") == 1
    assert con.execute(f"SELECT example_key FROM {SET_ASIDE}").fetchall() == [("A001 / P2 / 2024-06-10",)]
    with pytest.raises(InputContractError, match=RULE):
        ingest_usage_window(con, inputs, None, june_10)
    assert not _temp_tables(con)


def test_a_plan_with_duplicates_set_aside(sample_plan: PlanOutcome, sample_inputs: Path, tmp_path: Path) -> None:
    """operations.duplicate_rows: set_aside: the plan is the plan of the file without the copies
    (no ACV doubled), and the copies are in rejected_rows and data_quality: read = loaded + set aside."""
    folder = tmp_path / "input"
    shutil.copytree(sample_inputs, folder)
    subscriptions, usage = folder / "subscriptions.csv", folder / "usage.csv"
    lines = _lines(subscriptions)
    _write_lines(subscriptions, [*lines, lines[1]])
    usage_lines = _lines(usage)
    _write_lines(usage, [*usage_lines, usage_lines[1], usage_lines[1]])
    config = settings_with(tmp_path, "operations", duplicate_rows="set_aside")
    outcome = run_plan(folder, config, tmp_path / "plan.duckdb", instance=dg.DagsterInstance.ephemeral())
    sub_key = _key(subscriptions, 0, "account_id", "product_id", "start_date")
    usage_key = _key(usage, 0, "account_id", "product_id", "date")
    acv = "SELECT account_id, acv FROM main.account_eev ORDER BY account_id"
    with warehouse.connect(sample_plan.db, read_only=True) as con:
        expected_acv = con.execute(acv).fetchall()
    with warehouse.connect(outcome.db, read_only=True) as con:
        assert con.execute(acv).fetchall() == expected_acv
        report = con.execute('SELECT step, "table", file, rule, rows, examples FROM main.data_quality '
                             "WHERE step IN ('read', 'set aside', 'loaded') ORDER BY position").fetchall()
        rejected = con.execute('SELECT "table", rule, example_key FROM main.rejected_rows ORDER BY ALL').fetchall()
    assert ("read", "subscriptions", "subscriptions.csv", "", len(lines), "") in report
    assert ("set aside", "subscriptions", "subscriptions.csv", RULE, 1, sub_key) in report
    assert ("loaded", "subscriptions", "raw.subscriptions", "", len(lines) - 1, "") in report
    assert ("set aside", "usage", "usage.csv", RULE, 2, usage_key) in report
    assert [r[4] for r in report if r[:2] == ("loaded", "usage")] == [len(usage_lines) - 1]
    assert rejected == [("subscriptions", RULE, sub_key), ("usage", RULE, usage_key), ("usage", RULE, usage_key)]
