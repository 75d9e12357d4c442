"""One run at a time per DuckDB file: a lock file beside it, naming the holder.

`run_lock(db, holder, wait_seconds)` takes an exclusive `flock` on `<db>.lock` and writes the
holder (pid, host, which run, start time) into it. The kernel releases the lock when the
holder exits, even on SIGKILL, so a killed run never leaves a stale lock behind. A second
run polls for at most `wait_seconds`, then fails naming the holder.

The lock is re-entrant within a process: a command holds it from before its Dagster run
starts until it has read what it reports (pipeline/runner.py), and the Warehouse resource's
own acquisition inside that run (pipeline/defs/resources.py) then just joins it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

POLL_SECONDS = 0.2

_held: dict[Path, int] = {}  # lock file -> how many nested holders in this process
_held_guard = threading.Lock()


class WarehouseBusyError(BlockingIOError):
    """Another run (or another program) holds the DuckDB file: transient, worth a retry."""


def lock_path(db: str | Path) -> Path:
    db = Path(db)
    return db.with_name(db.name + ".lock")


def describe_holder(db: str | Path) -> str:
    """Who holds the lock, in words (from the lock file), or 'an unknown process'."""
    try:
        holder = json.loads(lock_path(db).read_text() or "{}")
    except (OSError, ValueError):
        holder = {}
    if not holder:
        return "an unknown process"
    return (f"pid {holder.get('pid')} on host {holder.get('host')} "
            f"({holder.get('run')}, started {holder.get('started')})")


@contextlib.contextmanager
def run_lock(db: str | Path, holder: str, wait_seconds: float) -> Iterator[None]:
    """Hold the DuckDB file's run lock for the duration of the block; `holder` says which run
    (e.g. 'quota-plan run' or 'Dagster run <id>'). Already held by this process: join it."""
    path = lock_path(db).resolve()
    with _held_guard:
        nested = path in _held
        if nested:
            _held[path] += 1
    if nested:
        try:
            yield
        finally:
            with _held_guard:
                _held[path] -= 1
        return
    with _exclusive(db, path, holder, wait_seconds):
        with _held_guard:
            _held[path] = 1
        try:
            yield
        finally:
            with _held_guard:
                del _held[path]


@contextlib.contextmanager
def _exclusive(db: str | Path, path: Path, holder: str, wait_seconds: float) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WarehouseBusyError(
                        f"{db} is in use by another run: {describe_holder(db)}; waited {wait_seconds:g}s "
                        "(operations.lock_wait_seconds). Try again when it has finished."
                    ) from None
                time.sleep(POLL_SECONDS)
        record = {"pid": os.getpid(), "host": socket.gethostname(), "run": holder,
                  "started": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")}
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(record))
        handle.flush()
        yield
        handle.seek(0)
        handle.truncate()
        handle.flush()
    finally:
        handle.close()  # closing releases the flock
