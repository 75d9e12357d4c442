"""The command line as a scheduler runs it: real `quota-plan` processes on real DuckDB files.

One line on stderr and exit 1 on failure, input errors never retried, a stop signal ending a run
within seconds with the previous plan current, exit 0 if and only if the run's plan became
current (also with two runs on one file), --json, --version, validate, plan dates."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from pipeline.core import warehouse
from pipeline.core.run_lock import run_lock
from pipeline.runner import PlanRunError, run_plan
from tests.builders import TEST_CONFIG, edge_inputs

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "pipeline.cli"]
STOP_SECONDS = 15.0  # a stopped run ends well within this, also on a busy test machine
PROGRESS = "  ["  # a progress line: "  [ i/N] step  seconds  detail"


@pytest.fixture(autouse=True)
def _mechanics_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every CLI run here reads TEST_CONFIG (QUOTA_PLAN_CONFIG, as the UI's environment does): these
    tests are about the command line, not the plan review, which holds the tiny books back."""
    monkeypatch.setenv("QUOTA_PLAN_CONFIG", str(TEST_CONFIG))


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=600, cwd=cwd, check=False)


def _messages(stderr: str) -> list[str]:
    """stderr without the progress lines and the run's opening line (shown with --progress)."""
    return [line for line in stderr.splitlines()
            if line.strip() and not line.startswith(PROGRESS) and not line.startswith("Planning as of")]


def _query(db: Path, sql: str) -> list[tuple]:
    with warehouse.connect(db, read_only=True) as con:
        return con.execute(sql).fetchall()


def _snapshot(db: Path) -> dict[str, list[tuple]]:
    return {t: _query(db, f"SELECT * FROM main.{t} ORDER BY ALL") for t in ("quotas", "territories", "account_eev")}


def _duplicated_account(folder: Path) -> Path:
    """The edge inputs with account A2 twice (and an unknown rep role): two contract violations."""
    edge_inputs(folder)
    accounts = folder / "accounts.csv"
    accounts.write_text(accounts.read_text() + accounts.read_text().splitlines()[2] + "\n")
    reps = (folder / "reps.csv").read_text().replace("expansion_rep,high_velocity", "wizard,high_velocity")
    (folder / "reps.csv").write_text(reps)
    return folder


@pytest.fixture(scope="module")
def tiny_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB file whose current plan P0001 was made from the tiny edge inputs."""
    folder = Path(tmp_path_factory.mktemp("tiny"))
    return run_plan(edge_inputs(folder / "in"), TEST_CONFIG, folder / "plan.duckdb",
                    instance=dg.DagsterInstance.ephemeral()).db


def test_a_failed_run_prints_one_line_on_stderr_and_exits_1(tmp_path: Path):
    failed = _run("run", "--input", str(_duplicated_account(tmp_path / "in")), "--db", str(tmp_path / "plan.duckdb"))
    assert failed.returncode == 1
    lines = failed.stderr.splitlines()
    assert len(lines) == 1, failed.stderr  # no Dagster records or stack traces, the message once
    assert lines[0].startswith("quota-plan run: error: step raw_inputs failed: ")
    assert "accounts.csv: column account_id: rule 'unique'" in lines[0] and "reps.csv: column role" in lines[0]
    assert failed.stdout == ""
    verbose = _run("run", "--input", str(tmp_path / "in"), "--db", str(tmp_path / "plan.duckdb"), "--verbose")
    assert verbose.returncode == 1 and "STEP_FAILURE" in verbose.stderr  # Dagster's own logs, when asked


def test_input_errors_are_never_retried(tmp_path: Path):
    folder = tmp_path / "maven"
    shutil.copytree(ROOT / "datasets" / "maven-crm", folder)
    (folder / "sales_teams.csv").unlink()  # the file the mapping reads reps from
    db, instance = tmp_path / "plan.duckdb", dg.DagsterInstance.ephemeral()
    with pytest.raises(PlanRunError, match="sales_teams.csv: rule 'file present'") as err:
        run_plan(folder, ROOT / "config" / "maven_crm.yaml", db, instance=instance,
                 mapping=ROOT / "mappings" / "maven_crm.yaml")
    assert "max_retries" not in str(err.value)
    run_id = _query(db, "SELECT dagster_run_id FROM plans.plan_runs WHERE status = 'failed'")[0][0]
    assert instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY) == []


def test_run_json_is_the_runs_outcome_for_a_scheduler(tmp_path: Path):
    db = tmp_path / "plan.duckdb"
    done = _run("run", "--input", str(edge_inputs(tmp_path / "in")), "--db", str(db), "--json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # not a terminal, no --progress: nothing on stderr when all went well
    record = json.loads(done.stdout)
    assert {k: record[k] for k in ("schema", "status", "exit_status", "message", "plan_id", "current")} == {
        "schema": "quota-plan.run/1", "status": "current", "exit_status": 0, "message": "", "plan_id": "P0001",
        "current": True}
    assert record["db"] == str(db.resolve())
    assert record["dagster_run_id"] == _query(db, "SELECT dagster_run_id FROM plans.plan_runs")[0][0]
    quotas = dict(_query(db, "SELECT segment, sum(quota) FROM main.quotas GROUP BY segment"))
    by_segment = {s["segment"]: s for s in record["segments"]}
    assert {s: by_segment[s]["quota"] for s in quotas} == quotas
    assert by_segment["total"]["quota"] == sum(quotas.values())
    assert record["model"]["chosen"] == _query(db, "SELECT chosen FROM main.model_info")[0][0]
    assert Path(record["exports"]["workbook"]).is_file() and Path(record["exports"]["report"]).is_file()

    failed = _run("run", "--input", str(db.parent / "missing"), "--db", str(db), "--json")
    assert failed.returncode == 1 and len(failed.stderr.splitlines()) == 1
    assert json.loads(failed.stdout) == {
        "schema": "quota-plan.run/1", "status": "failed", "exit_status": 1, "db": str(db.resolve()),
        "message": f"error: input folder not found: {db.parent / 'missing'}", "plan_id": None, "current": False}


def test_plans_prints_each_plans_as_of_date(tiny_plan: Path):
    listed = _run("plans", "--db", str(tiny_plan))
    assert listed.returncode == 0, listed.stderr
    plan = next(line for line in listed.stdout.splitlines() if line.startswith("*P0001"))
    assert plan.split()[2] == "2026-01-01"  # the settings' as_of, not '<11'


def test_version_names_the_package_and_its_engines():
    shown = _run("--version")
    assert shown.returncode == 0
    assert shown.stdout.startswith("quota-plan 0.1.0 (dagster 1.13.")
    assert "duckdb 1.5." in shown.stdout


def test_validate_checks_a_folder_without_planning(tmp_path: Path):
    valid = _run("validate", "--input", str(edge_inputs(tmp_path / "good")), cwd=tmp_path)
    assert valid.returncode == 0, valid.stderr
    assert valid.stdout.startswith(f"Input folder {tmp_path / 'good'}: valid")
    assert "Data quality (rows read, set aside by rule, derived, loaded)" in valid.stdout
    loaded = [line.split() for line in valid.stdout.splitlines() if line.startswith("loaded")]
    assert ["loaded", "accounts", "raw.accounts", "7"] in loaded
    assert list(tmp_path.rglob("*.duckdb")) == []  # nothing planned, no DuckDB file left anywhere

    invalid = _run("validate", "--input", str(_duplicated_account(tmp_path / "bad")), cwd=tmp_path)
    assert invalid.returncode == 1
    assert len(invalid.stderr.splitlines()) == 1 and "rule 'unique'" in invalid.stderr
    problems = invalid.stdout.splitlines()
    # an exact copy of a row breaks 'unique' and is an exact duplicate row too
    assert problems[0] == f"Input folder {tmp_path / 'bad'}: 3 problem(s); nothing can be planned from it"
    assert any("exact duplicate" in line for line in problems[1:]), problems
    assert any("accounts.csv: column account_id: rule 'unique'" in line for line in problems[1:]), problems
    assert any(line.strip().startswith("reps.csv: column role") for line in problems[1:]), problems


def test_sigterm_ends_a_run_within_seconds_and_keeps_the_previous_plan(
        tiny_plan: Path, sample_inputs: Path, tmp_path: Path):
    db = tmp_path / "plan.duckdb"
    shutil.copy(tiny_plan, db)  # plan P0001 current
    before = _snapshot(db)
    run = subprocess.Popen([*CLI, "run", "--input", str(sample_inputs), "--db", str(db), "--progress"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert run.stderr is not None
    for line in iter(run.stderr.readline, ""):
        if line.startswith(PROGRESS):  # a step finished: the run is inside its Dagster job
            break
    else:
        pytest.fail(f"the run ended before its first step (exit {run.wait()})")
    sent = time.monotonic()
    run.send_signal(signal.SIGTERM)
    rest = run.communicate(timeout=STOP_SECONDS * 4)[1]
    took = time.monotonic() - sent
    assert run.returncode == 128 + signal.SIGTERM, rest
    assert took < STOP_SECONDS, f"took {took:.1f}s"
    assert _messages(rest) == ["quota-plan run: stopped by SIGTERM: nothing was written; plan P0001 stays current"]
    assert _snapshot(db) == before
    assert _query(db, "SELECT plan_id FROM plans.current_plan") == [("P0001",)]
    assert _query(db, "SELECT status, message FROM plans.plan_runs ORDER BY created_at DESC LIMIT 1") == [
        ("failed", "stopped by SIGTERM before the run finished")]
    with run_lock(db, "the test", wait_seconds=0):  # released: taken at once
        pass


# `quota-plan` whose quotas query runs for minutes inside DuckDB (the slow query lives here, not in
# the product): a stop must interrupt the query itself, not wait for it
SLOW_QUERY_RUN = """
import sys
from pipeline.core import warehouse
from pipeline.cli import main
real = warehouse.sql_text
def slow(name):
    if name != "quotas":
        return real(name)
    print("slow query", file=sys.stderr, flush=True)
    return ("SELECT * FROM (" + real(name) + ") WHERE (SELECT count(*) FROM range(100000000000) AS t(i) "
            "WHERE i % 7 = 3) >= 0")
warehouse.sql_text = slow
sys.exit(main())
"""


def test_sigint_interrupts_a_running_duckdb_query_and_the_next_run_succeeds(
        tiny_plan: Path, tmp_path: Path):
    db, folder = tmp_path / "plan.duckdb", edge_inputs(tmp_path / "in")
    shutil.copy(tiny_plan, db)
    before = _snapshot(db)
    run = subprocess.Popen([sys.executable, "-c", SLOW_QUERY_RUN, "run", "--input", str(folder), "--db", str(db)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert run.stderr is not None
    for line in iter(run.stderr.readline, ""):
        if line.startswith("slow query"):
            break
    time.sleep(1)  # inside the query
    sent = time.monotonic()
    run.send_signal(signal.SIGINT)
    try:
        rest = run.communicate(timeout=STOP_SECONDS * 4)[1]
    finally:  # never leave the slow query running when the test fails
        run.kill()
    assert run.returncode == 128 + signal.SIGINT, rest
    assert time.monotonic() - sent < STOP_SECONDS
    # one line; the stop may land while the job is being set up (then "nothing was written") or in
    # the query (then it also names the plan that stays current)
    lines = [line for line in _messages(rest) if line != "slow query"]
    assert len(lines) == 1 and lines[0].startswith("quota-plan run: stopped by SIGINT: nothing was written"), lines
    assert _snapshot(db) == before
    again = _run("run", "--input", str(folder), "--db", str(db))
    assert again.returncode == 0, again.stderr
    assert _query(db, "SELECT plan_id FROM plans.current_plan") == [("P0002",)]


# `quota-plan` as two scheduled runs on one file. The first pauses between the end of its Dagster
# job and its summary until the second has tried to take the run lock (marker file) and a little
# longer: the window in which a run that let go of its lock lost the file to the second one and
# failed after its plan was written. (The pause and the marker live here, not in the product.)
CONCURRENT_RUN = """
import fcntl, pathlib, sys, time
from pipeline import runner
from pipeline.core import run_lock
from pipeline.cli import main
marker, role, args = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
if role == "first":
    execute = runner.execute_job
    def paused(*a, **k):
        result = execute(*a, **k)
        print("job done", file=sys.stderr, flush=True)
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.5)
        return result
    runner.execute_job = paused
else:
    class Flock:
        LOCK_EX, LOCK_NB = fcntl.LOCK_EX, fcntl.LOCK_NB
        def flock(self, handle, operation):
            marker.touch()
            return fcntl.flock(handle, operation)
    run_lock.fcntl = Flock()
sys.exit(main(args))
"""


def test_two_runs_on_one_file_exit_0_exactly_when_their_plan_became_current(tmp_path: Path):
    folder, db, marker = edge_inputs(tmp_path / "in"), tmp_path / "plan.duckdb", tmp_path / "second-started"

    def start(role: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-c", CONCURRENT_RUN, str(marker), role, "run", "--input",
                                 str(folder), "--db", str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, cwd=ROOT)

    first = start("first")
    assert first.stderr is not None
    for line in iter(first.stderr.readline, ""):
        if line.startswith("job done"):
            break
    second = start("second")
    first_out, first_err = first.communicate(timeout=600)
    second_out, second_err = second.communicate(timeout=600)
    current = _query(db, "SELECT plan_id FROM plans.current_plan")[0][0]
    written = [r[0] for r in _query(db, "SELECT run_id FROM plans.plan_runs WHERE status = 'succeeded' "
                                        "ORDER BY created_at")]
    # the first reported its own plan, current when it ended, and exited 0; the second waited for it
    assert first.returncode == 0, first_err
    assert first_out.startswith("Plan P0001 as of ") and first_err == ""
    assert second.returncode == 0, second_err
    assert second_out.startswith("Plan P0002 as of ") and second_err == ""
    assert written == ["P0001", "P0002"] and current == "P0002"


def test_every_verb_resolves_its_places_the_same_way(tmp_path: Path):
    """--db, --config and --input: the option, else the environment variable the UI reads, else the default."""
    from pipeline.cli import build_parser
    from pipeline.commands.common import DB, INPUT, MAPPING
    from pipeline.definitions import UI_ENVIRONMENT
    from pipeline.defs.resources import DEFAULT_DB, DEFAULT_INPUT

    assert {DB.environment, INPUT.environment, MAPPING.environment, "QUOTA_PLAN_CONFIG"} <= set(UI_ENVIRONMENT)
    assert (str(DB.default), str(INPUT.default)) == (DEFAULT_DB, DEFAULT_INPUT)
    parser = build_parser()
    readers = (["run"], ["refresh"], ["track"], ["validate"], ["backtest", "--as-of", "2025-01-01"])
    for verb in readers:
        args = parser.parse_args(verb)
        assert (args.input, args.mapping, args.config.name) == (Path(DEFAULT_INPUT), None, "plan.yaml"), verb
    for verb in (["run"], ["refresh"], ["track"], ["plans"], ["export", "--out", "x"], ["diff", "P1", "P2"],
                 ["publish", "P1", "--note", "n"]):
        assert parser.parse_args(verb).db == Path(DEFAULT_DB), verb
    with pytest.MonkeyPatch.context() as env:
        for name, value in (("QUOTA_PLAN_INPUT", "in"), ("QUOTA_PLAN_DB", "x.duckdb"),
                            ("QUOTA_PLAN_CONFIG", "my.yaml"), ("QUOTA_PLAN_MAPPING", "m.yaml")):
            env.setenv(name, value)
        parser = build_parser()
        for verb in (["run"], ["refresh"], ["track"]):
            args = parser.parse_args(verb)
            assert (args.input, args.mapping, args.config, args.db) == (
                Path("in"), Path("m.yaml"), Path("my.yaml"), Path("x.duckdb")), verb
        assert parser.parse_args(["plans"]).db == Path("x.duckdb")
        assert parser.parse_args(["backtest", "--as-of", "2025-01-01"]).db == Path("data/backtest.duckdb")
        assert parser.parse_args(["run", "--db", "y.duckdb"]).db == Path("y.duckdb")  # the option first
