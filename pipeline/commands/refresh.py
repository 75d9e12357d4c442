"""`quota-plan refresh`: new data in, EEV recomputed, drift against the published plan."""

from __future__ import annotations

import argparse
import time

from pipeline.commands.common import add_input_options, add_output_options, iso_date, note, output_of
from pipeline.commands.exit_status import ExitStatus


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "refresh", help="reload usage weeks, recompute EEV and print each rep's drift",
        description="Run refresh_job: load the input folder (usage only for the weeks given), "
        "recompute features, p_close, whitespace and EEV with the plan's model, and print each "
        "rep's territory EEV against the published plan (else the current one). Quotas and plan "
        "versions are not touched. Re-running weeks replaces them (a backfill).",
    )
    add_input_options(parser)
    parser.add_argument("--as-of", type=iso_date,
                        help="measure EEV as of this day YYYY-MM-DD (default: the settings' as_of)")
    parser.add_argument("--weeks", nargs=2, metavar=("FIRST", "LAST"), type=iso_date,
                        help="usage weeks to (re)load, by their Monday (default: from the earliest week whose "
                        "rows in the usage file differ from the loaded ones to the last complete week)")
    add_output_options(parser)


def run(args: argparse.Namespace) -> ExitStatus:
    from pipeline.core import warehouse  # noqa: PLC0415
    from pipeline.core.settings import load_settings  # noqa: PLC0415
    from pipeline.exports.summary import drift_summary  # noqa: PLC0415
    from pipeline.ingestion.usage_weeks import changed_weeks, usage_weeks  # noqa: PLC0415
    from pipeline.runner import exclusive, run_plan  # noqa: PLC0415

    settings = load_settings(args.config, as_of=args.as_of)
    started = time.perf_counter()
    with exclusive(args.db, settings, "quota-plan refresh"):  # the weeks and the drift: this run's
        if args.weeks:
            weeks = (args.weeks[0].isoformat(), args.weeks[1].isoformat())
        else:
            all_weeks = usage_weeks(settings.operations.usage_start)
            last = all_weeks.get_last_partition_key()
            weeks = changed_weeks(all_weeks, args.input, args.db) if not args.mapping else (last, last)
        run_plan(args.input, settings, args.db, job_name="refresh_job", weeks=weeks, mapping=args.mapping,
                 output=output_of(args))
        note(args, f"Refresh done in {time.perf_counter() - started:.1f}s\n")
        with warehouse.connect(args.db, read_only=True) as con:
            report = drift_summary(con, settings)
    print(f"Refreshed usage weeks {weeks[0]} .. {weeks[1]}")  # what was loaded: part of the result
    print(report)
    return ExitStatus.OK
