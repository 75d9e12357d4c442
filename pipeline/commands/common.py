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


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, default=DEFAULT_DB, help=f"DuckDB file (default {DEFAULT_DB})")
