"""Options, defaults and output helpers shared by the verbs.

Every verb resolves its places the same way: the option when given, else the environment
variable the Dagster UI reads too (pipeline/definitions.py), else the default of `make run`.
Progress lines go to stderr when it is a terminal (or with --progress); a failure prints one
line on stderr; Dagster's own logs appear only with --verbose."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.runner import RunOutput


@dataclass(frozen=True)
class Place:
    """Where an option points when it is not given: an environment variable, else a default."""

    environment: str
    default: Path | None
    label: str = ""  # how --help names the default (default: the path itself)

    def resolve(self) -> Path | None:
        value = os.environ.get(self.environment)
        return Path(value) if value else self.default

    def help(self, what: str) -> str:
        fallback = f"else {self.label or self.default}" if self.default else "else none"
        return f"{what} (default: ${self.environment}, {fallback})"


INPUT = Place("QUOTA_PLAN_INPUT", Path("data/sample"))
MAPPING = Place("QUOTA_PLAN_MAPPING", None)
DB = Place("QUOTA_PLAN_DB", Path("data/quota_plan.duckdb"))


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
    add_source_options(parser)
    add_config_option(parser)
    add_db_option(parser)


def add_source_options(parser: argparse.ArgumentParser) -> None:
    """--input and --mapping: the folder a run reads, and how its files map to the contract."""
    parser.add_argument("--input", type=Path, default=INPUT.resolve(),
                        help=INPUT.help("folder with accounts, products, subscriptions, opportunities, reps [, usage] "
                                        "as TABLE.csv or TABLE.parquet"))
    parser.add_argument("--mapping", type=Path, default=MAPPING.resolve(),
                        help=MAPPING.help("source mapping YAML (e.g. mappings/maven_crm.yaml): read a CRM export in "
                                          "its own file and column names, mapped to the input contract before "
                                          "validation"))


def add_config_option(parser: argparse.ArgumentParser) -> None:
    from pipeline.core.settings import DEFAULT_CONFIG  # noqa: PLC0415  (pydantic: not for every verb)

    config = Place("QUOTA_PLAN_CONFIG", DEFAULT_CONFIG, label="config/plan.yaml")
    parser.add_argument("--config", type=Path, default=config.resolve(), help=config.help("plan settings YAML"))


def add_db_option(parser: argparse.ArgumentParser, place: Place = DB) -> None:
    parser.add_argument("--db", type=Path, default=place.resolve(), help=place.help("DuckDB file"))


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """--progress and --verbose: what a verb that runs a Dagster job prints on stderr."""
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="one line per finished step on stderr (default: only when stderr is a terminal)")
    parser.add_argument("--verbose", action="store_true",
                        help="also Dagster's own logs on stderr, with the stack trace of a failure")


def output_of(args: argparse.Namespace) -> RunOutput:
    from pipeline.runner import RunOutput  # noqa: PLC0415  (dagster: keep --help fast)

    return RunOutput(progress=shows_progress(args), verbose=args.verbose)


def shows_progress(args: argparse.Namespace) -> bool:
    chosen = getattr(args, "progress", None)
    return sys.stderr.isatty() if chosen is None else chosen


def note(args: argparse.Namespace, text: str) -> None:
    """A progress note on stderr (what the verb is doing, how long it took), when progress shows."""
    if shows_progress(args):
        print(text, file=sys.stderr, flush=True)


def require_db(db: Path, hint: str = "") -> None:
    """Refuse a DuckDB file that does not exist (rather than create an empty one)."""
    if not db.is_file():
        raise FileNotFoundError(f"no DuckDB file at {db}" + (f": {hint}" if hint else ""))


def one_line(text: str) -> str:
    """A message on one line: its lines (e.g. one per input problem) joined by '; '."""
    return "; ".join(line.strip() for line in str(text).splitlines() if line.strip())
