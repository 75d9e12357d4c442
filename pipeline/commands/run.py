"""`quota-plan run`: the whole plan through Dagster, then its summary (or its JSON record)."""

from __future__ import annotations

import argparse
import sys
import time

from pipeline.commands import run_record
from pipeline.commands.common import add_input_options, add_output_options, iso_date, note, one_line, output_of
from pipeline.commands.exit_status import ExitStatus
from pipeline.core.settings import load_settings


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "run", help="run the whole plan and print its summary",
        description="Ingest and validate the input folder, score whitespace, build territories and "
        "quotas, and write a new plan version (made current) in the DuckDB file. Bad input stops the run with "
        "one message; the previous plan stays current. The heavy SQL runs on the engine the settings name "
        "(engine.name: duckdb, or spark to run it on a Spark cluster; see the README). Exit status 0 if and "
        "only if the run's plan became current (docs/operations.md).",
    )
    add_input_options(parser)
    parser.add_argument("--as-of", type=iso_date, help="plan date YYYY-MM-DD (overrides the settings' as_of)")
    parser.add_argument("--effective-date", type=iso_date,
                        help="mid-year rebalance date YYYY-MM-DD: moved accounts' quota is split between "
                        "old and new owner by time (overrides territory.effective_date)")
    parser.add_argument("--json", action="store_true",
                        help=f"write the outcome as one JSON object on stdout instead of the summary (schema "
                        f"{run_record.SCHEMA}, see docs/operations.md), also when the run fails")
    add_output_options(parser)


def run(args: argparse.Namespace) -> ExitStatus:
    from pipeline.core import warehouse  # noqa: PLC0415
    from pipeline.defs.resources import ExportFolder  # noqa: PLC0415
    from pipeline.exports.files import describe_exports  # noqa: PLC0415
    from pipeline.exports.summary import plan_summary, review_hold_summary  # noqa: PLC0415
    from pipeline.runner import exclusive, run_plan  # noqa: PLC0415

    settings = load_settings(args.config, as_of=args.as_of, effective_date=args.effective_date)
    engine = f"Spark ({settings.engine.spark.master})" if settings.engine.name == "spark" else "DuckDB"
    note(args, f"Planning as of {settings.as_of} from {args.input} into {args.db} on {engine}")
    started = time.perf_counter()
    with exclusive(args.db, settings, "quota-plan run"):  # the report below reads what this run wrote
        outcome = run_plan(args.input, settings, args.db, mapping=args.mapping, output=output_of(args))
        status = ExitStatus.OK if outcome.written and outcome.current else ExitStatus.NOT_CURRENT
        seconds = time.perf_counter() - started
        folder = ExportFolder().for_plan(args.db, outcome.plan_id)
        with warehouse.connect(args.db, read_only=True) as con:
            if args.json:
                report = run_record.dumps(run_record.plan_record(con, outcome, status, settings, seconds, folder))
            elif status == ExitStatus.OK:
                report = "\n".join([plan_summary(con, settings, args.db), *describe_exports(folder, outcome.plan_id)])
            elif outcome.written:
                report = "\n".join([review_hold_summary(con, outcome.plan_id, settings),
                                    *describe_exports(folder, outcome.plan_id)])
            else:
                report = f"Plan {outcome.plan_id} was written but is not the current plan"
    written = "current" if outcome.current else "not current"
    note(args, f"Plan {outcome.plan_id} written ({written}) in {seconds:.1f}s\n")
    if outcome.reasons and not outcome.current:
        print(f"quota-plan run: plan {outcome.plan_id} needs review: " + "; ".join(outcome.reasons), file=sys.stderr)
    if outcome.warning:
        print(f"quota-plan run: warning: {one_line(outcome.warning)}", file=sys.stderr)
    print(report)
    return status
