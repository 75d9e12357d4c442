"""`quota-plan track`: re-ingest the inputs and measure the current plan (tracking_job)."""

from __future__ import annotations

import argparse
import time

from pipeline.commands.common import add_input_options, add_output_options, iso_date, note, output_of, require_db
from pipeline.commands.exit_status import ExitStatus
from pipeline.core.settings import load_settings


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "track", help="track the current plan: credits, attainment, pipeline coverage",
        description="Re-ingest the input folder (the latest CRM data) and measure the current plan "
        "without re-planning: expansion credits by the attribution matrix, CSM source bonus, "
        "attainment per month, quarter and year to date, pipeline coverage with flags. The same "
        "tracking_job runs on the settings' tracking.schedule.",
    )
    add_input_options(parser)
    parser.add_argument("--through", type=iso_date,
                        help="track up to this day YYYY-MM-DD (default: tracking.through, else the latest "
                        "opportunity date)")
    add_output_options(parser)


def run(args: argparse.Namespace) -> ExitStatus:
    from pipeline.core import warehouse  # noqa: PLC0415
    from pipeline.exports.summary import tracking_summary  # noqa: PLC0415
    from pipeline.runner import exclusive, run_tracking  # noqa: PLC0415

    settings = load_settings(args.config, through=args.through)
    require_db(args.db, "run the plan first")
    started = time.perf_counter()
    with exclusive(args.db, settings, "quota-plan track"):
        run_tracking(args.input, settings, args.db, mapping=args.mapping, output=output_of(args))
        note(args, f"Tracking done in {time.perf_counter() - started:.1f}s\n")
        with warehouse.connect(args.db, read_only=True) as con:
            report = "\n".join(tracking_summary(con, settings))
    print(report)
    return ExitStatus.OK
