"""`quota-plan`: the command line. Each verb runs the same Dagster assets the UI shows."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from pipeline.settings import DEFAULT_CONFIG, SettingsError, load_settings

DEFAULT_DB = Path("data/quota_plan.duckdb")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from exc


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quota-plan",
        description=(
            "Whitespace-referenced expansion territories and quotas: CRM, billing and usage data in, "
            "a versioned plan in a DuckDB file out."
        ),
        epilog="Run 'quota-plan VERB --help' for the options of a verb.",
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    sample = verbs.add_parser(
        "sample", help="write a synthetic data set that follows the input contract",
        description="Write a synthetic SaaS data set (accounts, products, subscriptions, usage, "
        "opportunities, reps) that follows the input contract. Same seed, same files.",
    )
    sample.add_argument("--out", required=True, type=Path, help="folder to write the tables into")
    sample.add_argument("--accounts", type=_positive, default=2000, help="number of accounts (default 2000)")
    sample.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    sample.add_argument("--format", choices=["csv", "parquet"], default="csv",
                        help="file format (default csv; parquet for large sets)")
    sample.add_argument("--no-usage", action="store_true", help="leave out the optional usage table")

    run = verbs.add_parser(
        "run", help="run the whole plan and print its summary",
        description="Ingest and validate the input folder, score whitespace, build territories and "
        "quotas, and publish a new plan version in the DuckDB file. Bad input stops the run with "
        "one message; the previous plan stays current.",
    )
    run.add_argument("--input", required=True, type=Path,
                     help="folder with accounts, products, subscriptions, opportunities, reps [, usage] "
                     "as TABLE.csv or TABLE.parquet")
    run.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="plan settings YAML (default config/plan.yaml)")
    run.add_argument("--db", type=Path, default=DEFAULT_DB, help=f"DuckDB file (default {DEFAULT_DB})")
    run.add_argument("--as-of", type=_date, help="plan date YYYY-MM-DD (overrides the settings' as_of)")

    plans = verbs.add_parser("plans", help="list the plan versions in a DuckDB file",
                             description="List plan versions with their lineage.")
    plans.add_argument("--db", type=Path, default=DEFAULT_DB, help=f"DuckDB file (default {DEFAULT_DB})")
    return parser


def _sample(args: argparse.Namespace) -> None:
    from pipeline.sample import generate_sample  # noqa: PLC0415  (keep --help fast)

    started = time.perf_counter()
    rows = generate_sample(
        args.out, accounts=args.accounts, seed=args.seed, file_format=args.format,
        usage=not args.no_usage, progress=lambda line: print(f"  {line}", file=sys.stderr),
    )
    print(f"Sample data set written to {args.out} in {time.perf_counter() - started:.1f}s")
    for table, count in rows.items():
        print(f"  {table:<14} {count:>12,} rows")


def _run(args: argparse.Namespace) -> None:
    from pipeline import warehouse  # noqa: PLC0415
    from pipeline.runner import run_plan  # noqa: PLC0415
    from pipeline.summary import plan_summary  # noqa: PLC0415

    settings = load_settings(args.config, as_of=args.as_of)
    print(f"Planning as of {settings.as_of} from {args.input} into {args.db}", file=sys.stderr)
    os.environ["QUOTA_PLAN_PROGRESS"] = "1"
    started = time.perf_counter()
    outcome = run_plan(args.input, args.config, args.db, as_of=args.as_of)
    print(f"Plan {outcome.plan_id} published in {time.perf_counter() - started:.1f}s\n", file=sys.stderr)
    with warehouse.connect(args.db, read_only=True) as con:
        print(plan_summary(con, settings, args.db))


def _plans(args: argparse.Namespace) -> None:
    from pipeline import warehouse  # noqa: PLC0415

    if not args.db.is_file():
        raise FileNotFoundError(f"no DuckDB file at {args.db}")
    with warehouse.connect(args.db, read_only=True) as con:
        rows = con.execute(
            "SELECT run_id, status, as_of, created_at, model_version, data_fingerprint, settings_hash, "
            "coalesce(message, '') FROM plans.plan_runs ORDER BY created_at"
        ).fetchall()
        current = con.execute("SELECT plan_id FROM plans.current_plan").fetchone()
    print("run_id  status     as_of       created_at           model            data             settings")
    for run_id, status, as_of, created, model, data, settings, message in rows:
        marker = "*" if current and run_id == current[0] else " "
        print(f"{marker}{run_id:<7} {status:<10} {as_of or '':<11} {created:%Y-%m-%d %H:%M:%S}  "
              f"{model or '':<16} {data or '':<16} {settings or ''} {message}")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from pipeline.runner import PlanRunError  # noqa: PLC0415

    try:
        {"sample": _sample, "run": _run, "plans": _plans}[args.verb](args)
    except (SettingsError, PlanRunError, FileNotFoundError) as exc:
        print(f"quota-plan {args.verb}: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
