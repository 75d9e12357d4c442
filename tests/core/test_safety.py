"""Safety with real processes on a real DuckDB file: a second run waits for the first and
then names it; a run killed with SIGKILL inside the publish transaction leaves the previous
plan intact and readable, and the next run succeeds."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from pipeline.core import warehouse
from pipeline.core.run_lock import WarehouseBusyError
from pipeline.runner import PlanRunError, run_plan
from tests.builders import TEST_CONFIG, edge_inputs, settings_with

LOCK_WAIT = 1.0


def _snapshot(db: Path) -> dict[str, list[tuple]]:
    with warehouse.connect(db, read_only=True) as con:
        return {t: con.execute(f"SELECT * FROM main.{t} ORDER BY ALL").fetchall()
                for t in ("quotas", "territories", "account_eev", "whitespace_items")}


# `quota-plan` whose publish pauses after writing the last plan table, before COMMIT, so the
# test can kill the process inside the transaction (the pause lives here, not in the product)
PAUSED_RUN = """
import sys, time
from pipeline.plan import store as plan_store
from pipeline.cli import main
append, last = plan_store._append_version, list(plan_store.PLAN_TABLES)[-1]
def append_then_pause(con, table, source, plan_id):
    append(con, table, source, plan_id)
    if table == last:
        print("pausing inside the publish of " + plan_id, file=sys.stderr, flush=True)
        time.sleep(60)
plan_store._append_version = append_then_pause
sys.exit(main(sys.argv[1:]))
"""


def _start_paused_run(folder: Path, db: Path) -> subprocess.Popen[str]:
    """A real `quota-plan run` that stops inside the publish transaction (after writing the plan rows)."""
    proc = subprocess.Popen([sys.executable, "-c", PAUSED_RUN, "run", "--input", str(folder), "--db", str(db),
                             "--config", str(TEST_CONFIG)],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("pausing"):
            return proc
    pytest.fail(f"the run ended before publishing (exit {proc.wait()})")


def test_concurrent_run_waits_then_names_the_holder_and_a_killed_run_keeps_the_plan(tmp_path: Path):
    folder, db = edge_inputs(tmp_path / "in"), tmp_path / "plan.duckdb"
    first = run_plan(folder, TEST_CONFIG, db, instance=dg.DagsterInstance.ephemeral())
    before = _snapshot(db)
    config = settings_with(tmp_path, lock_wait_seconds=LOCK_WAIT)

    holder = _start_paused_run(folder, db)
    try:
        # a second run waits the bounded time, then fails naming the holder
        started = time.monotonic()
        with pytest.raises(PlanRunError) as err:
            run_plan(folder, config, db, instance=dg.DagsterInstance.ephemeral())
        assert time.monotonic() - started >= LOCK_WAIT
        assert f"pid {holder.pid} on host {socket.gethostname()}" in str(err.value)
        # opening the file directly gets DuckDB's lock error, turned into the same kind of message
        with pytest.raises(WarehouseBusyError, match=rf"in use by another process: pid {holder.pid}.*PID {holder.pid}"):
            with warehouse.connect(db):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)  # killed inside the publish transaction
        holder.wait()
    assert holder.returncode == -signal.SIGKILL

    # the previous plan is intact and readable; the killed run left no trace of a new version
    assert _snapshot(db) == before
    with warehouse.connect(db, read_only=True) as con:
        assert con.execute("SELECT plan_id FROM plans.current_plan").fetchall() == [(first.plan_id,)]
        assert con.execute("SELECT count(DISTINCT plan_id) FROM plans.quotas").fetchone() == (1,)
    # the lock died with the process: the next run goes through at once
    again = run_plan(folder, config, db, instance=dg.DagsterInstance.ephemeral())
    assert again.plan_id == "P0002"
    assert _snapshot(db) == before  # same inputs and settings: the same plan
