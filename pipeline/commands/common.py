"""Argument types and defaults shared by the verbs."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

DEFAULT_DB = Path("data/quota_plan.duckdb")


def iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from exc


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number: {text!r}")
    return value


def add_input_options(parser: argparse.ArgumentParser) -> None:
    """--input, --mapping, --config and --db: where a run reads its data and settings and writes."""
    from pipeline.core.settings import DEFAULT_CONFIG  # noqa: PLC0415

    parser.add_argument("--input", required=True, type=Path,
                        help="folder with accounts, products, subscriptions, opportunities, reps [, usage] "
                        "as TABLE.csv or TABLE.parquet")
    parser.add_argument("--mapping", type=Path,
                        help="source mapping YAML (e.g. mappings/maven_crm.yaml): read a CRM export in its own "
                        "file and column names, mapped to the input contract before validation")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG,
                        help="plan settings YAML (default config/plan.yaml)")
    add_db_option(parser)


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, default=DEFAULT_DB, help=f"DuckDB file (default {DEFAULT_DB})")


# Exit statuses of a plan run: 0 = its plan became current; 1 = error (nothing changed);
# NEEDS_REVIEW = the plan was written but held for review (the previous plan stays current).
NEEDS_REVIEW_EXIT = 3
