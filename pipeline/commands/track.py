"""`quota-plan track`: re-ingest the inputs and measure the current plan (tracking_job)."""

from __future__ import annotations

import argparse
import sys
import time

from pipeline.commands.common import add_input_options, iso_date
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


def run(args: argparse.Namespace) -> None:
    from pipeline.core import warehouse  # noqa: PLC0415
    from pipeline.exports.summary import tracking_summary  # noqa: PLC0415
    from pipeline.runner import run_tracking  # noqa: PLC0415

    settings = load_settings(args.config, through=args.through)
    if not args.db.is_file():
        raise FileNotFoundError(f"no DuckDB file at {args.db}: run the plan first")
    started = time.perf_counter()
    run_tracking(args.input, settings, args.db, mapping=args.mapping, show_progress=True)
    print(f"Tracking done in {time.perf_counter() - started:.1f}s\n", file=sys.stderr)
    with warehouse.connect(args.db, read_only=True) as con:
        print("\n".join(tracking_summary(con, settings)))
