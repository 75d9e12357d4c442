"""`quota-plan backtest`: plan as of a past date and compare the quotas with what was won after."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from pipeline.commands.common import iso_date
from pipeline.core.settings import DEFAULT_CONFIG

DEFAULT_BACKTEST_DB = Path("data/backtest.duckdb")


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
    parser.add_argument("--input", type=Path, default=Path("data/sample"),
                        help="input folder (default data/sample, the data set of 'make run')")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG,
                        help="plan settings YAML (default config/plan.yaml)")
    parser.add_argument("--db", type=Path, default=DEFAULT_BACKTEST_DB,
                        help=f"the backtest's own DuckDB file (default {DEFAULT_BACKTEST_DB}); "
                        "never the plan's file")


def run(args: argparse.Namespace) -> None:
    from pipeline.backtest.compare import backtest_chart_path, backtest_report  # noqa: PLC0415
    from pipeline.core import warehouse  # noqa: PLC0415
    from pipeline.runner import run_backtest  # noqa: PLC0415

    print(f"Backtest: planning as of {args.as_of} from {args.input} into {args.db}", file=sys.stderr)
    started = time.perf_counter()
    outcome = run_backtest(args.input, args.config, args.db, args.as_of, show_progress=True)
    print(f"Backtest plan {outcome.plan_id} and comparison done in {time.perf_counter() - started:.1f}s\n",
          file=sys.stderr)
    with warehouse.connect(args.db, read_only=True) as con:
        print(backtest_report(con, backtest_chart_path(args.db, args.as_of)))
