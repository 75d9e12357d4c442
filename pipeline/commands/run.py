"""`quota-plan run`: the whole plan through Dagster, then its summary."""

from __future__ import annotations

import argparse
import sys
import time

from pipeline.commands.common import NEEDS_REVIEW_EXIT, add_input_options, iso_date
from pipeline.core.settings import load_settings


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "run", help="run the whole plan and print its summary",
        description="Ingest and validate the input folder, score whitespace, build territories and "
        "quotas, and write a new plan version (made current) in the DuckDB file. Bad input stops the run with "
        "one message; the previous plan stays current. The heavy SQL runs on the engine the settings name "
        "(engine.name: duckdb, or spark to run it on a Spark cluster; see the README).",
    )
    add_input_options(parser)
    parser.add_argument("--as-of", type=iso_date, help="plan date YYYY-MM-DD (overrides the settings' as_of)")
    parser.add_argument("--effective-date", type=iso_date,
                        help="mid-year rebalance date YYYY-MM-DD: moved accounts' quota is split between "
                        "old and new owner by time (overrides territory.effective_date)")


def run(args: argparse.Namespace) -> int:
    from pipeline.core import warehouse  # noqa: PLC0415
    from pipeline.defs.resources import ExportFolder  # noqa: PLC0415
    from pipeline.exports.files import describe_exports  # noqa: PLC0415
    from pipeline.exports.summary import plan_summary, review_hold_summary  # noqa: PLC0415
    from pipeline.runner import run_plan  # noqa: PLC0415

    settings = load_settings(args.config, as_of=args.as_of, effective_date=args.effective_date)
    engine = f"Spark ({settings.engine.spark.master})" if settings.engine.name == "spark" else "DuckDB"
    print(f"Planning as of {settings.as_of} from {args.input} into {args.db} on {engine}", file=sys.stderr)
    started = time.perf_counter()
    outcome = run_plan(args.input, settings, args.db, mapping=args.mapping, show_progress=True)
    state = "current" if outcome.current else "NEEDS REVIEW, not current"
    print(f"Plan {outcome.plan_id} written ({state}) in {time.perf_counter() - started:.1f}s\n", file=sys.stderr)
    with warehouse.connect(args.db, read_only=True) as con:
        print(plan_summary(con, settings, args.db) if outcome.current
              else review_hold_summary(con, outcome.plan_id, settings))
    folder = ExportFolder().for_plan(args.db, outcome.plan_id)
    print("\n".join(describe_exports(folder, outcome.plan_id)))
    if not outcome.current:
        print(f"quota-plan run: plan {outcome.plan_id} needs review: " + "; ".join(outcome.reasons), file=sys.stderr)
        return NEEDS_REVIEW_EXIT
    return 0
