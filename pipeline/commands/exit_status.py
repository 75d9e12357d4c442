"""The exit statuses of `quota-plan`: one table for people and schedulers (docs/operations.md)."""

from __future__ import annotations

from enum import IntEnum

SIGNAL_BASE = 128  # a command ended by a signal exits 128 + the signal's number, as shells report it


class ExitStatus(IntEnum):
    """What a command's exit status says. For `run` and `backtest`: 0 if and only if the run's
    plan became current."""

    OK = 0  # done; a plan run: its plan version is the current plan
    ERROR = 1  # failed, nothing changed (the previous plan stays current); one message on stderr
    USAGE = 2  # the command line is wrong (argparse's own status)
    NOT_CURRENT = 3  # the run wrote a plan version that did not become current (e.g. it needs review)


def stopped(signum: int) -> int:
    """The status of a command stopped by signal `signum`: 130 for SIGINT, 143 for SIGTERM."""
    return SIGNAL_BASE + signum
