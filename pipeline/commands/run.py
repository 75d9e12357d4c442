"""`quota-plan run`: the whole plan through Dagster, then its summary."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from pipeline.commands.common import add_db_option, iso_date
from pipeline.settings import DEFAULT_CONFIG, load_settings


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "run", help="run the whole plan and print its summary",
        description="Ingest and validate the input folder, score whitespace, build territories and "
        "quotas, and write a new plan version (made current) in the DuckDB file. Bad input stops the run with "
        "one message; the previous plan stays current.",
    )
    parser.add_argument("--input", required=True, type=Path,
                        help="folder with accounts, products, subscriptions, opportunities, reps [, usage] "
                        "as TABLE.csv or TABLE.parquet")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG,
                        help="plan settings YAML (default config/plan.yaml)")
    add_db_option(parser)
    parser.add_argument("--as-of", type=iso_date, help="plan date YYYY-MM-DD (overrides the settings' as_of)")


def run(args: argparse.Namespace) -> None:
    from pipeline import warehouse  # noqa: PLC0415
    from pipeline.runner import run_plan  # noqa: PLC0415
    from pipeline.summary import plan_summary  # noqa: PLC0415

    settings = load_settings(args.config, as_of=args.as_of)
    print(f"Planning as of {settings.as_of} from {args.input} into {args.db}", file=sys.stderr)
    os.environ["QUOTA_PLAN_PROGRESS"] = "1"
    started = time.perf_counter()
    outcome = run_plan(args.input, args.config, args.db, as_of=args.as_of)
    print(f"Plan {outcome.plan_id} written (current) in {time.perf_counter() - started:.1f}s\n", file=sys.stderr)
    with warehouse.connect(args.db, read_only=True) as con:
        print(plan_summary(con, settings, args.db))
