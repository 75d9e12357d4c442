"""`quota-plan backtest`: plan as of a past date and compare the quotas with what was won after."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pipeline.commands.common import (
    Place,
    add_config_option,
    add_db_option,
    add_output_options,
    add_source_options,
    iso_date,
    note,
    output_of,
)
from pipeline.commands.exit_status import ExitStatus

# never the plan's file, so not $QUOTA_PLAN_DB
BACKTEST_DB = Place("QUOTA_PLAN_BACKTEST_DB", Path("data/backtest.duckdb"))


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "backtest", help="plan as of a past date and compare its quotas with what was won afterwards",
        description="Run the whole plan as of a past date (the model is trained only on data before it) "
        "into its own DuckDB file, then compare every rep's EEV-based quota with the expansion ARR won "
        "in the following months (evaluation.backtest_months), next to flat and ACV-proportional quotas "
        "of the same total: share of reps attaining, spread of attainment, forecast error.",
    )
    parser.add_argument("--as-of", required=True, type=iso_date,
                        help="past plan date YYYY-MM-DD; the data must cover the months after it")
    add_source_options(parser)
    add_config_option(parser)
    add_db_option(parser, BACKTEST_DB)
    add_output_options(parser)


def run(args: argparse.Namespace) -> ExitStatus:
    from pipeline.backtest.compare import backtest_chart_path, backtest_report  # noqa: PLC0415
    from pipeline.core import warehouse  # noqa: PLC0415
    from pipeline.runner import exclusive, plan_settings, run_backtest  # noqa: PLC0415

    note(args, f"Backtest: planning as of {args.as_of} from {args.input} into {args.db}")
    settings = plan_settings(args.config, as_of=args.as_of)
    started = time.perf_counter()
    with exclusive(args.db, settings, "quota-plan backtest"):
        outcome = run_backtest(args.input, settings, args.db, args.as_of, mapping=args.mapping,
                               output=output_of(args))
        note(args, f"Backtest plan {outcome.plan_id} and comparison done in {time.perf_counter() - started:.1f}s\n")
        with warehouse.connect(args.db, read_only=True) as con:
            report = backtest_report(con, backtest_chart_path(args.db, args.as_of))
    print(report)
    return ExitStatus.OK if outcome.written and outcome.current else ExitStatus.NOT_CURRENT
