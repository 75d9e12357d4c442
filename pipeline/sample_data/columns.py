"""Column builders shared by the tables: numbered ids, labels of integer codes, dates, nulls
and generated person and company names."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from pipeline.sample_data.catalog import FIRST_NAMES, LAST_NAMES, NAME_ENDS, NAME_KINDS, NAME_STARTS
from pipeline.sample_data.population import NO_DAY


def numbered_ids(prefix: str, count: int, min_digits: int) -> pl.Series:
    """prefix + zero-padded 1..count (wider when count needs more digits)."""
    digits = max(min_digits, len(str(count)))
    return pl.Series(np.arange(1, count + 1)).cast(pl.String).str.zfill(digits).str.replace("^", prefix)


def account_ids(n: int) -> pl.Series:
    """A0000001.. for n accounts."""
    return numbered_ids("A", n, 7)


def code_labels(codes: np.ndarray, labels: Sequence[str]) -> pl.Series:
    """Labels of integer codes; code -1 is null."""
    codes = np.asarray(codes, dtype=np.int64)
    values = pl.Series(list(labels), dtype=pl.String).gather(np.maximum(codes, 0))
    return values.scatter(np.flatnonzero(codes < 0), None)


def date_column(days: np.ndarray, null: np.ndarray | None = None) -> pl.Series:
    """Days since 1970-01-01 as a Date column; NO_DAY (and `null`) are null."""
    days = np.asarray(days, dtype=np.int64)
    missing = days == NO_DAY if null is None else (days == NO_DAY) | null
    return pl.Series(np.where(missing, 0, days).astype(np.int32)).cast(pl.Date).scatter(np.flatnonzero(missing), None)


def with_nulls(values: np.ndarray, null: np.ndarray) -> pl.Series:
    """A column with nulls where `null` is set."""
    return pl.Series(values).scatter(np.flatnonzero(null), None)


def person_names(rng: np.random.Generator, count: int) -> pl.Series:
    """First and last names."""
    first = pl.Series(FIRST_NAMES).gather(rng.integers(0, len(FIRST_NAMES), count))
    last = pl.Series(LAST_NAMES).gather(rng.integers(0, len(LAST_NAMES), count))
    return first + " " + last


def company_names(rng: np.random.Generator, count: int) -> pl.Series:
    """Word combinations with a number, e.g. "Cedarbridge Logistics 417"."""
    start = pl.Series(NAME_STARTS).gather(rng.integers(0, len(NAME_STARTS), count))
    end = pl.Series(NAME_ENDS).gather(rng.integers(0, len(NAME_ENDS), count))
    kind = pl.Series(NAME_KINDS).gather(rng.integers(0, len(NAME_KINDS), count))
    number = pl.Series(rng.integers(1, 1000, count)).cast(pl.String)
    return start + end + " " + kind + " " + number

