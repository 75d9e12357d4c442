"""Stopping a run on SIGTERM or SIGINT (a scheduler's or container's stop, Ctrl-C) within seconds.

`handled()` wraps a whole command (pipeline/cli.py). Outside a Dagster run a stop signal raises
`StopRequested` in the main thread at once; inside one, Dagster's own handlers take the signal
and end the run at the step it is in (the jobs have no retry policy that could re-run it, see
pipeline/defs/jobs.py). A DuckDB query does not return to Python before it finishes, so a
watcher thread, woken by the signal through `signal.set_wakeup_fd` even while the main thread
is inside DuckDB, interrupts every connection a step holds open (`interruptible`): the query
fails, its transaction rolls back, and the run ends. `received()` tells the runner afterwards
that the run was stopped, and by which signal; once the run is over (`settle()`), a signal is
only noted: the command reports the outcome it reached, which is short.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

import duckdb

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_END_WATCH = 0  # byte the watcher reads as "the command is over" (no signal has number 0)


class StopRequested(KeyboardInterrupt):
    """A stop signal arrived: the command ends without finishing its work; `detail` says what
    that left behind."""

    def __init__(self, signum: int, detail: str = "") -> None:
        self.signum = signum
        super().__init__(f"stopped by {signal_name(signum)}" + (f": {detail}" if detail else ""))


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


class _State:
    """The signals received and the warehouse connections open, shared with the watcher thread."""

    def __init__(self) -> None:
        self.guard = threading.RLock()  # re-entrant: the main thread's signal handler may take it again
        self.received: list[int] = []
        self.open: set[duckdb.DuckDBPyConnection] = set()
        self.settled = False

    def note(self, signum: int) -> None:
        with self.guard:
            if signum not in self.received:
                self.received.append(signum)
            connections = list(self.open)
        for con in connections:
            with contextlib.suppress(duckdb.Error):  # closed by its step meanwhile: nothing to interrupt
                con.interrupt()


_STATE = _State()


def received() -> int | None:
    """The first stop signal received inside `handled()`, or None."""
    with _STATE.guard:
        return _STATE.received[0] if _STATE.received else None


def stop_requested(detail: str) -> StopRequested:
    """The StopRequested of the first stop signal received (call only after one was)."""
    signum = received()
    if signum is None:
        raise RuntimeError("no stop signal was received")
    return StopRequested(signum, detail)


@contextlib.contextmanager
def interruptible(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Register a step's connection so that a stop signal interrupts its running query; refuse
    to start (StopRequested) once the command was asked to stop."""
    with _STATE.guard:
        stopped = _STATE.received[0] if _STATE.received else None
        _STATE.open.add(con)
    try:
        if stopped is not None:
            raise StopRequested(stopped)
        yield con
    finally:
        with _STATE.guard:
            _STATE.open.discard(con)


def settle() -> None:
    """The run is over: until the command ends, stop signals are only noted, so that the command
    reports the outcome it reached (and exits with its status) instead of dying half-way."""
    _STATE.settled = True


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    _STATE.note(signum)
    if not _STATE.settled:
        raise StopRequested(signum)


def _watch(read_fd: int) -> None:
    while True:
        for signum in os.read(read_fd, 64):
            if signum == _END_WATCH:
                return
            if signum in STOP_SIGNALS:
                _STATE.note(signum)


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Turn SIGTERM and SIGINT into a prompt, clean stop for the duration of the block (main
    thread only; elsewhere the block runs as it is)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    previous = {signum: signal.signal(signum, _raise_stop) for signum in STOP_SIGNALS}
    watcher = threading.Thread(target=_watch, args=(read_fd,), name="quota-plan-stop-watch", daemon=True)
    watcher.start()
    _STATE.settled = False
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(previous_fd)
        os.write(write_fd, bytes([_END_WATCH]))
        watcher.join()
        os.close(read_fd)
        os.close(write_fd)
        with _STATE.guard:
            _STATE.received.clear()
        _STATE.settled = False
