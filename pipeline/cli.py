"""`quota-plan`: the command line. Each verb runs the same Dagster assets the UI shows;
the verbs live in pipeline/commands/, their exit statuses in pipeline/commands/exit_status.py.

On failure a verb prints one line on stderr (`quota-plan VERB: error: ...`) and exits 1; a
stop signal (SIGTERM, SIGINT) ends it within seconds with one line and 128 + the signal's
number; `--verbose` adds Dagster's logs and, for an unexpected error, its stack trace."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from importlib import metadata

from pipeline.commands import VERBS, run_record
from pipeline.commands.common import one_line
from pipeline.commands.exit_status import SIGNAL_BASE, ExitStatus, stopped
from pipeline.core.settings import SettingsError

PACKAGE = "quota-plan"


def version() -> str:
    """This package's version and the versions of the engines that make its plans."""
    def of(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "unknown"

    return f"{PACKAGE} {of(PACKAGE)} (dagster {of('dagster')}, duckdb {of('duckdb')}, scikit-learn {of('scikit-learn')})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quota-plan",
        description=(
            "Whitespace-referenced expansion territories and quotas: CRM, billing and usage data in, "
            "a versioned plan in a DuckDB file out."
        ),
        epilog="Run 'quota-plan VERB --help' for the options of a verb. Exit status: 0 done (a plan run: its plan "
        "is current), 1 error (nothing changed), 2 wrong command line, 3 plan written but not current, "
        "128 + N stopped by signal N.",
    )
    parser.add_argument("--version", action="version", version=version())
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb in VERBS:
        verb.add_parser(verbs)
    return parser


def _known_errors() -> tuple[type[BaseException], ...]:
    """The errors a verb reports as one message: the user's input, settings or files, not a bug."""
    from pipeline.core.run_lock import WarehouseBusyError  # noqa: PLC0415  (keep --help fast)
    from pipeline.core.warehouse import WarehouseFileError  # noqa: PLC0415
    from pipeline.exports.sheets import ExportError  # noqa: PLC0415
    from pipeline.plan.diff import PlanNotFoundError  # noqa: PLC0415
    from pipeline.plan.store import PlanStoreError  # noqa: PLC0415
    from pipeline.runner import PlanRunError  # noqa: PLC0415

    return (SettingsError, PlanRunError, ExportError, PlanNotFoundError, PlanStoreError, WarehouseBusyError,
            WarehouseFileError, FileNotFoundError)


def _fail(args: argparse.Namespace, message: str, status: int) -> int:
    """One line on stderr (and, with --json, the failure record on stdout); the exit status."""
    print(f"quota-plan {args.verb}: {one_line(message)}", file=sys.stderr)
    if getattr(args, "json", False):
        print(run_record.dumps(run_record.failure(status, one_line(message), args.db)))
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line `argv` (default: this process's own) and return its exit status. A
    process stopped by a signal exits at once after its one line: everything was already rolled
    back or written, and tearing down the loaded libraries can take seconds a scheduler's stop
    does not give (the lock file is released by the kernel, a DuckDB file needs no closing)."""
    from pipeline.core.stop_signals import StopRequested, handled  # noqa: PLC0415

    args = build_parser().parse_args(argv)
    verbose = getattr(args, "verbose", False)
    command = next(v for v in VERBS if v.__name__.rsplit(".", 1)[-1] == args.verb)
    with handled(), warnings.catch_warnings():
        if not verbose:  # library warnings are for developers; --verbose shows them
            warnings.simplefilter("ignore")
        try:
            result = command.run(args)
            status = int(ExitStatus.OK if result is None else result)
        except StopRequested as stop:  # a stop before a run began writing: nothing was written
            message = str(stop) if ": " in str(stop) else f"{stop}: nothing was written"
            status = _fail(args, message, stopped(stop.signum))
        except _known_errors() as exc:
            status = _fail(args, f"error: {exc}", ExitStatus.ERROR)
        except Exception as exc:
            if verbose:
                raise
            status = _fail(args, f"unexpected error: {type(exc).__name__}: {exc} (run again with --verbose for "
                           "the stack trace)", ExitStatus.ERROR)
    if argv is None and status >= SIGNAL_BASE:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    return status


if __name__ == "__main__":
    sys.exit(main())
