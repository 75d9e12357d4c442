"""`quota-plan sample`: write a synthetic data set that follows the input contract."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from pipeline.commands.common import positive_int
from pipeline.commands.exit_status import ExitStatus


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "sample", help="write a synthetic data set that follows the input contract",
        description="Write a synthetic SaaS data set (accounts, products, subscriptions, usage, "
        "opportunities, reps) that follows the input contract. Same seed, same files. Table files "
        "of the other format already in the folder are replaced.",
    )
    parser.add_argument("--out", required=True, type=Path, help="folder to write the tables into")
    parser.add_argument("--accounts", type=positive_int, default=2000, help="number of accounts (default 2000)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv",
                        help="file format (default csv; parquet for large sets)")
    parser.add_argument("--no-usage", action="store_true", help="leave out the optional usage table")
    parser.add_argument("--truth", type=Path, default=None,
                        help="also write the plan year's ground truth (true win probability, expected and realised "
                        "booking per account and product) into this folder, beside (not inside) --out")


def run(args: argparse.Namespace) -> ExitStatus:
    from pipeline.sample_data import generate_sample  # noqa: PLC0415  (keep --help fast)

    started = time.perf_counter()
    rows = generate_sample(
        args.out, accounts=args.accounts, seed=args.seed, file_format=args.format,
        usage=not args.no_usage, progress=lambda line: print(f"  {line}", file=sys.stderr), truth=args.truth,
    )
    print(f"Sample data set written to {args.out} in {time.perf_counter() - started:.1f}s")
    for table, count in rows.items():
        print(f"  {table:<14} {count:>12,} rows")
    return ExitStatus.OK
