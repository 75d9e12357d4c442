"""What a plan run did with a corrupted input folder (tests/fuzz_inputs.py), judged by the contract.

A case ends in exactly one of two good ways, anything else is a failure:

- a clean contract error: `run_plan` raises `PlanRunError` (the CLI exits 1) from an ingestion
  step, every line of the message is one broken rule of one file (`FILE: column C: rule 'R': ...`,
  the format of `pipeline.ingestion.ingest.Violation`: one line per broken rule, as docs/contract.md
  shows it), one of them names the corrupted file or a rule on its table (an empty reps.csv is
  reported as accounts.csv's 'exists in reps.rep_id'), no traceback text anywhere (for the CLI: on
  the whole of stderr), no line longer than MESSAGE_LINE_LIMIT;
  and the previous plan is still current with byte-identical rows (the current plan id, a digest
  of every `plans.*` row of that plan, a digest of `main.quotas`);
- an accepted plan whose row counts add up: a new plan is current, the previous plan's rows are
  unchanged, and for every input file the data rows in it (counted here with Python's csv module,
  independently of DuckDB) = rows loaded + rows set aside, as the plan's `main.data_quality`,
  `main.rejected_rows` and `raw.input_files` record them.

`make_baseline` makes the valid plan once; `run_case` runs one case on a copy of its DuckDB file.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb

from pipeline.cli import main as cli_main
from pipeline.core import warehouse
from pipeline.ingestion.contract import TABLES
from pipeline.plan.store import current_plan_id
from pipeline.runner import PlanRunError, run_plan
from tests.builders import TEST_CONFIG
from tests.fuzz_inputs import ENCODING, ERRORS, Case

CLEAN_ERROR, ACCEPTED, FAILURE = "clean error", "accepted plan", "failure"
INGESTION_STEPS = ("raw_inputs", "raw_usage")
TRACEBACK_MARKS = ("Traceback (most recent call last)", 'File "', "Stack Trace:", "The above exception",
                   "dagster._core", " - dagster - ERROR - ")
STEP_FAILED = re.compile(r"step (?P<step>\w+) failed: ")
BROKEN_RULE = re.compile(r"(?P<file>[^:]+): (column (?P<column>[^:]+): )?rule '(?P<rule>[^']+)': \S")
CLI_ERROR = "quota-plan run: error: "
MESSAGE_LINE_LIMIT = 1_000  # characters: a message line is read in a terminal, not a dump of the data
SHOWN = 300  # characters of a message or exception quoted in a problem
CSV_FIELD_LIMIT = 1 << 30  # Python's csv refuses fields over 128 KiB by default; the long-string cases pass that


@dataclass(frozen=True)
class Baseline:
    """The valid plan made once: its DuckDB file, plan id and digests of its rows."""

    db: Path
    plan_id: str
    plan_columns: dict[str, list[str]]  # plans.<table> -> its columns when the plan was made
    plan_digest: str
    quotas_digest: str


@dataclass(frozen=True)
class Verdict:
    """How one case ended: CLEAN_ERROR, ACCEPTED or FAILURE (then `problems` says why)."""

    case: Case
    outcome: str
    problems: tuple[str, ...]
    said: str  # the error message (or exception), or the new plan id
    seconds: float

    def __str__(self) -> str:
        return f"{self.case}\n  " + "\n  ".join(self.problems) + f"\n  said: {self.said[:SHOWN]!r}"


def _plan_columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """The plan version tables (every plans.* table with a plan_id, not the current-plan pointer) and their columns."""
    rows = con.execute(
        "SELECT table_name, list(column_name ORDER BY column_index) FROM duckdb_columns() WHERE schema_name = 'plans' "
        "AND table_name <> 'current_plan' GROUP BY table_name HAVING list_contains(list(column_name), 'plan_id') "
        "ORDER BY table_name"
    ).fetchall()
    return {table: columns for table, columns in rows}


def _rows_digest(con: duckdb.DuckDBPyConnection, select: str, params: list[object]) -> str:
    """md5 over the rows of `select`, each as DuckDB's text of the row, sorted."""
    row = con.execute(
        f"SELECT md5(coalesce(string_agg(r, chr(10) ORDER BY r), '')) FROM (SELECT CAST(t AS VARCHAR) AS r "
        f"FROM ({select}) t)", params
    ).fetchone()
    return row[0] if row else ""


def plan_digest(con: duckdb.DuckDBPyConnection, plan_id: str, columns: dict[str, list[str]]) -> str:
    """md5 over the rows of plan `plan_id` in every plans.* table (these columns), table by table."""
    parts = []
    for table, names in sorted(columns.items()):
        quoted = ", ".join(f'"{name}"' for name in names)
        select = f"SELECT {quoted} FROM plans.{table} WHERE plan_id = ?"
        parts.append(f"{table}:{_rows_digest(con, select, [plan_id])}")
    return "\n".join(parts)


def quotas_digest(con: duckdb.DuckDBPyConnection) -> str:
    """md5 over the rows of main.quotas (the current plan's quotas)."""
    return _rows_digest(con, "SELECT * FROM main.quotas", [])


def make_baseline(valid: Path, folder: Path) -> Baseline:
    """Plan the valid folder into `folder`/baseline.duckdb and take the digests of that plan."""
    db = folder / "baseline.duckdb"
    outcome = run_plan(valid, TEST_CONFIG, db, instance=dg.DagsterInstance.ephemeral())
    with warehouse.connect(db, read_only=True) as con:
        columns = _plan_columns(con)
        return Baseline(db, outcome.plan_id, columns, plan_digest(con, outcome.plan_id, columns), quotas_digest(con))


def file_records(path: Path) -> int:
    """Data rows of a CSV file as Python's csv module reads it (blank lines are no rows)."""
    csv.field_size_limit(CSV_FIELD_LIMIT)
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode(ENCODING, ERRORS), newline="")))
    return sum(1 for row in rows[1:] if row)


def message_problems(message: str, case: Case) -> list[str]:
    """What keeps an error message from being a clean contract error about `case.file`."""
    lines = message.splitlines() or [""]
    step = STEP_FAILED.match(lines[0])
    problems = []
    if step is None or step["step"] not in INGESTION_STEPS:
        problems.append(f"not stopped by the contract check of an ingestion step: {lines[0][:SHOWN]!r}")
    rules = [lines[0][step.end():] if step else lines[0], *lines[1:]]
    matched = [BROKEN_RULE.match(line) for line in rules]
    if odd := [line for line, m in zip(rules, matched, strict=True) if m is None]:
        problems.append(f"{len(odd)} message line(s) not of the form 'FILE: column C: rule R: ...', "
                        f"first {odd[0][:SHOWN]!r}")
    table = case.file.rsplit(".", 1)[0]
    if not any(m and (m["file"] == case.file or f"{table}." in m["rule"]) for m in matched):
        problems.append(f"the message names neither {case.file} nor a rule on {table}")
    if long := [len(line) for line in lines if len(line) > MESSAGE_LINE_LIMIT]:
        problems.append(f"a message line of {max(long):,} characters")
    if marks := [mark for mark in TRACEBACK_MARKS if mark in message]:
        problems.append(f"traceback text in the message ({marks[0]!r})")
    return problems


def kept_problems(db: Path, baseline: Baseline) -> list[str]:
    """What shows that the previous plan is not current with the very same rows."""
    with warehouse.connect(db, read_only=True) as con:
        current, problems = current_plan_id(con), []
        if current != baseline.plan_id:
            problems.append(f"the current plan is {current}, not the previous {baseline.plan_id}")
        if plan_digest(con, baseline.plan_id, baseline.plan_columns) != baseline.plan_digest:
            problems.append(f"the rows of the previous plan {baseline.plan_id} changed")
        if quotas_digest(con) != baseline.quotas_digest:
            problems.append("main.quotas changed")
        return problems


def count_problems(folder: Path, db: Path, baseline: Baseline) -> list[str]:
    """What shows that an accepted plan lost or made up rows: per input file, rows in the file
    = loaded + set aside; a new plan is current and the previous one kept its rows."""
    with warehouse.connect(db, read_only=True) as con:
        problems = []
        if current_plan_id(con) == baseline.plan_id:
            problems.append("the run succeeded but no new plan became current")
        if plan_digest(con, baseline.plan_id, baseline.plan_columns) != baseline.plan_digest:
            problems.append(f"the rows of the previous plan {baseline.plan_id} changed")
        recorded = dict.fromkeys(TABLES, (None, 0, 0))
        recorded |= {t: (r, l, s) for t, r, l, s in con.execute(
            "SELECT \"table\", sum(rows) FILTER (WHERE step = 'read'), coalesce(sum(rows) FILTER (WHERE step = 'loaded'), 0), "
            "(SELECT count(*) FROM main.rejected_rows j WHERE j.\"table\" = q.\"table\") FROM main.data_quality q GROUP BY 1"
        ).fetchall()}
        input_files = dict(con.execute('SELECT "table", rows FROM raw.input_files').fetchall())
        for path in sorted(folder.glob("*.csv")):
            if path.stem not in TABLES:
                continue
            in_file, (read, loaded, set_aside) = file_records(path), recorded[path.stem]
            if loaded + set_aside != in_file:
                problems.append(f"{path.name}: {in_file} rows in the file, {loaded} loaded + {set_aside} set aside")
            if read is not None and read != in_file:
                problems.append(f"{path.name}: {in_file} rows in the file, data_quality says {read} read")
            if path.stem in input_files and input_files[path.stem] != loaded:
                problems.append(f"{path.name}: raw.input_files says {input_files[path.stem]} rows, {loaded} loaded")
        return problems


def _first_lines(text: str, lines: int = 3) -> str:
    return "\n".join(text.strip().splitlines()[:lines])


def _run_api(folder: Path, db: Path) -> tuple[int, str, str]:
    """(0, plan id, '') for an accepted plan, (1, message, '') for a PlanRunError."""
    try:
        return 0, run_plan(folder, TEST_CONFIG, db, instance=dg.DagsterInstance.ephemeral()).plan_id, ""
    except PlanRunError as exc:
        return 1, str(exc), ""


def _run_cli(folder: Path, db: Path) -> tuple[int, str, str]:
    """(exit code, the error message after 'quota-plan run: error: ' or '', the whole stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main(["run", "--input", str(folder), "--db", str(db), "--config", str(TEST_CONFIG)])
    stderr = err.getvalue()
    return code, stderr.split(CLI_ERROR, 1)[1].rstrip("\n") if CLI_ERROR in stderr else "", stderr


def run_case(folder: Path, case: Case, baseline: Baseline, work: Path, via: str = "api") -> Verdict:
    """Run the plan on a corrupted folder into a copy of the baseline's DuckDB file (in `work`,
    with the exports beside it), through run_plan (via 'api') or the command line ('cli')."""
    db = work / "plan.duckdb"
    shutil.copy(baseline.db, db)
    started = time.perf_counter()
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # Dagster's own log lines
            code, said, stderr = (_run_api if via == "api" else _run_cli)(folder, db)
        if code == 0:
            problems = count_problems(folder, db, baseline)
        elif code == 1:
            problems = message_problems(said, case) + kept_problems(db, baseline)
            if marks := [mark for mark in TRACEBACK_MARKS if mark in stderr]:
                problems.append(f"traceback text on stderr ({marks[0]!r})")
        else:
            problems = [f"the command exited {code}"]
    except Exception as exc:  # noqa: BLE001  any other exception is what the fuzz test looks for
        code, said = -1, _first_lines(f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}")
        problems = [f"uncaught {type(exc).__qualname__}"]
    outcome = FAILURE if problems else (ACCEPTED if code == 0 else CLEAN_ERROR)
    return Verdict(case, outcome, tuple(problems), said, time.perf_counter() - started)
