"""One run at a time per DuckDB file: a lock file beside it, naming the holder.

`run_lock(db, run_id, wait_seconds)` takes an exclusive `flock` on `<db>.lock` and writes
the holder (pid, host, run id, start time) into it. The kernel releases the lock when the
holder exits, even on SIGKILL, so a killed run never leaves a stale lock behind. A second
run polls for at most `wait_seconds`, then fails naming the holder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

POLL_SECONDS = 0.2


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
            f"(run {holder.get('run_id')}, started {holder.get('started')})")


@contextlib.contextmanager
def run_lock(db: str | Path, run_id: str, wait_seconds: float) -> Iterator[None]:
    """Hold the DuckDB file's run lock for the duration of the block."""
    path = lock_path(db)
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
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "run_id": run_id,
                  "started": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")}
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(holder))
        handle.flush()
        yield
        handle.seek(0)
        handle.truncate()
        handle.flush()
    finally:
        handle.close()  # closing releases the flock
