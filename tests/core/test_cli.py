"""The command line as a user runs it: a real subprocess, exit codes and messages."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from tests.builders import TEST_CONFIG

CLI = [sys.executable, "-m", "pipeline.cli"]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300)


def test_help_lists_verbs_and_options():
    top = _run("--help")
    assert top.returncode == 0
    for verb in ("sample", "validate", "run", "backtest", "track", "export", "plans"):
        assert verb in top.stdout
    assert "3 plan written but not current" in " ".join(top.stdout.split())  # the exit statuses
    assert "--mapping" in _run("run", "--help").stdout
    for verb in ("run", "backtest"):
        shown = _run(verb, "--help")
        for option in ("--input", "--config", "--db", "--as-of", "--progress", "--verbose"):
            assert option in shown.stdout
    assert "--json" in _run("run", "--help").stdout


def test_run_prints_summary_and_plans_lists_it(sample_inputs: Path, tmp_path: Path):
    db = tmp_path / "plan.duckdb"
    done = _run("run", "--input", str(sample_inputs), "--db", str(db), "--as-of", "2025-12-01", "--progress",
                "--config", str(TEST_CONFIG))
    assert done.returncode == 0, done.stderr
    assert "Plan P0001 as of 2025-12-01" in done.stdout
    assert "Reps and quotas by segment" in done.stdout and "enterprise" in done.stdout
    steps = re.findall(r"^  \[\s*(\d+)/(\d+)\] (\w+) +(\d+\.\d+)s  ", done.stderr, re.MULTILINE)
    assert [int(i) for i, *_ in steps] == list(range(1, int(steps[0][1]) + 1))  # step i/N, each with its time
    assert "quotas" in {name for _, _, name, _ in steps} and steps[-1][2] == "current_plan"
    folder = (db.parent / "exports" / db.stem / "P0001").resolve()
    for line in (f"Exports of plan P0001 in {folder}", f"workbook  {folder / 'quota_plan_P0001.xlsx'}",
                 f"report    {folder / 'report.html'}"):
        assert line in done.stdout
    assert (folder / "report.html").is_file() and (folder / "letters").is_dir()
    balance = done.stdout.split("Territory balance", 1)[1].splitlines()
    assert balance[1].split() == ["segment", "method", "CV", "max/min", "in", "tol.", "in", "+/-15%", "largest",
                                  "dev.", "moved", "EEV", "moved", "new", "placed"]
    assert {line.split()[0] for line in balance[2:5]} == {"high_velocity", "mid_market", "enterprise"}
    assert "quotas" in done.stderr  # progress lines per step
    listed = _run("plans", "--db", str(db))
    assert listed.returncode == 0 and "*P0001" in listed.stdout


def test_errors_exit_nonzero_with_one_message(tmp_path: Path):
    missing = _run("run", "--input", str(tmp_path / "nope"), "--db", str(tmp_path / "x.duckdb"))
    assert missing.returncode == 1
    assert "input folder not found" in missing.stderr
    no_backtest_input = _run("backtest", "--as-of", "2025-01-01", "--input", str(tmp_path / "nope"),
                             "--db", str(tmp_path / "b.duckdb"))
    assert no_backtest_input.returncode == 1 and "input folder not found" in no_backtest_input.stderr
    bad_date = _run("run", "--input", str(tmp_path), "--as-of", "2025-13-01")
    assert bad_date.returncode == 2 and "not a date" in bad_date.stderr


def test_workspace_loads_in_dagster_tooling():
    """`dagster dev -w workspace.yaml` loads the same code location this validates."""
    root = Path(__file__).resolve().parents[2]
    dagster = Path(sys.executable).parent / "dagster"
    done = subprocess.run([str(dagster), "definitions", "validate", "-w", "workspace.yaml"], cwd=root,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Validation successful for code location quota_plan" in done.stderr + done.stdout
