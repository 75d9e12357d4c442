"""The output: the products, accounts, subscriptions and opportunities tables, weekly usage
streamed in chunks, and writing the files (CSV or Parquet, one per table)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import polars as pl
from polars.io.plugins import register_io_source

from pipeline.ingestion.contract import DEAL_SOURCES
from pipeline.sample_data.catalog import (
    EVENTS_PER_USER,
    EXPANSION,
    INDUSTRIES,
    LINE_OF_PRODUCT,
    OPPORTUNITY_TYPES,
    PRODUCTS,
    REGIONS,
    SEAT_LINES,
    SOURCE_MIX_WITH_CSM,
    SOURCE_MIX_WITHOUT_CSM,
    STAGES,
)
from pipeline.sample_data.columns import code_labels, company_names, date_column, numbered_ids, with_nulls
from pipeline.sample_data.holdings import Ledger
from pipeline.sample_data.population import Calendar, Population
from pipeline.sample_data.team import Team

TABLES = ("accounts", "products", "subscriptions", "usage", "opportunities", "reps")
USAGE_CHUNK_ROWS = 4_000_000
USAGE_SCHEMA = pl.Schema({"account_id": pl.String, "product_id": pl.String, "date": pl.Date,
                          "active_users": pl.Int64, "events": pl.Int64})


def products_frame() -> pl.DataFrame:
    """The price list."""
    return pl.DataFrame([vars(p) for p in PRODUCTS], schema={
        "product_id": pl.String, "product_name": pl.String, "list_price": pl.Float64, "unit": pl.String,
        "family": pl.String, "tier_rank": pl.Int64})


def accounts_frame(rng: np.random.Generator, pop: Population, cal: Calendar, team: Team, ids: pl.Series,
                    acv: np.ndarray) -> pl.DataFrame:
    """The accounts table; a few values are missing as in a real CRM (1% industry, 3% employees,
    2% customer_since, 3% renewal_date; renewal_date is null for accounts without ACV)."""
    n = pop.n
    renewal = pop.anniversary.next_after(cal.as_of)
    return pl.DataFrame({
        "account_id": ids,
        "account_name": company_names(rng, n),
        "industry": code_labels(np.where(rng.random(n) < 0.01, -1, pop.industry), [i for i, _ in INDUSTRIES]),
        "region": code_labels(pop.region, [r for r, _ in REGIONS]),
        "employees": with_nulls(pop.employees, rng.random(n) < 0.03),
        "customer_since": date_column(pop.since, rng.random(n) < 0.02),
        "renewal_date": date_column(renewal, (acv <= 0) | (rng.random(n) < 0.03)),
        "csm_id": team.rep_ids(team.csm),
        "owner_id": team.rep_ids(team.owner),
    })


def subscriptions_frame(lines: dict[str, np.ndarray], ids: pl.Series) -> pl.DataFrame:
    """The subscriptions table, sorted by account, product and start."""
    order = np.lexsort((lines["start"], lines["product"], lines["account"]))
    return pl.DataFrame({
        "account_id": ids.gather(lines["account"][order]),
        "product_id": code_labels(lines["product"][order], [p.product_id for p in PRODUCTS]),
        "quantity": lines["quantity"][order],
        "arr": lines["arr"][order],
        "start_date": date_column(lines["start"][order]),
        "end_date": date_column(lines["end"][order]),
    })


def opportunities_frame(rng: np.random.Generator, ledger: Ledger, team: Team, ids: pl.Series) -> pl.DataFrame:
    """The opportunities table, numbered in (account, created, close) order, with
    the account's owner and CSM and a deal source (expansions: the mix by CSM coverage;
    renewals and new logos: a quarter ae_sourced, else null)."""
    o = ledger.opportunity_columns()
    order = np.lexsort((o["close"], o["created"], o["account"]))
    o = {name: values[order] for name, values in o.items()}
    account = o["account"]
    return pl.DataFrame({
        "opportunity_id": numbered_ids("O", len(account), 8),
        "account_id": ids.gather(account),
        "product_id": code_labels(o["product"], [p.product_id for p in PRODUCTS]),
        "type": code_labels(o["type"], OPPORTUNITY_TYPES),
        "created_date": date_column(o["created"]),
        "close_date": date_column(o["close"]),
        "stage": code_labels(o["stage"], STAGES),
        "amount": o["amount"],
        "source": code_labels(_deal_sources(rng, o["type"], team.csm[account] >= 0), DEAL_SOURCES),
        "owner_id": team.rep_ids(team.owner[account]),
        "csm_id": team.rep_ids(team.csm[account]),
    })


def _deal_sources(rng: np.random.Generator, kind: np.ndarray, has_csm: np.ndarray) -> np.ndarray:
    """Source codes (DEAL_SOURCES index, -1: null) drawn from the mixes."""
    draw = rng.random(len(kind))
    with_csm = np.searchsorted(np.cumsum(SOURCE_MIX_WITH_CSM), draw, side="right")
    without_csm = np.searchsorted(np.cumsum(SOURCE_MIX_WITHOUT_CSM), draw, side="right")
    source = np.where(has_csm, with_csm, without_csm)
    source = np.where(kind == EXPANSION, source, np.where(draw < 0.25, DEAL_SOURCES.index("ae_sourced"), -1))
    return np.where(source >= len(DEAL_SOURCES), -1, source)


def write_usage(rng: np.random.Generator, pop: Population, cal: Calendar, lines: dict[str, np.ndarray],
                 ids: pl.Series, path: Path, file_format: str) -> int:
    """Write weekly usage (one row per account, seat product and Monday the line is active on)
    in chunks of about USAGE_CHUNK_ROWS rows; return the row count."""
    seat = np.isin(LINE_OF_PRODUCT[lines["product"]], SEAT_LINES)
    order = np.lexsort((lines["start"][seat], lines["product"][seat], lines["account"][seat]))
    columns = ("account", "product", "quantity", "start", "end")
    acc, product, seats, start, end = (lines[c][seat][order] for c in columns)
    first_monday = cal.start + (7 - (cal.start + 3) % 7) % 7  # 1970-01-01 was a Thursday
    weeks = _ceil_div(cal.end - first_monday, 7)
    first = np.clip(_ceil_div(start - first_monday, 7), 0, weeks)
    count = np.maximum(np.clip(_ceil_div(np.minimum(end, cal.end) - first_monday, 7), 0, weeks) - first, 0)
    engagement = np.exp(0.15 * pop.propensity + 0.3 * rng.standard_normal(pop.n))
    season = _seasonality(first_monday, weeks)
    bounds = np.searchsorted(np.cumsum(count), np.arange(USAGE_CHUNK_ROWS, count.sum(), USAGE_CHUNK_ROWS))

    def frames() -> Iterator[pl.DataFrame]:
        for rows in np.split(np.arange(len(acc)), bounds):
            yield _usage_chunk(rng, pop, ids, acc[rows], product[rows], seats[rows], first[rows], count[rows],
                               first_monday, season, engagement)

    _sink(frames, USAGE_SCHEMA, path, file_format)
    return int(count.sum())


def _ceil_div(a: np.ndarray | int, b: int) -> np.ndarray | int:
    """Integer division rounding up."""
    return -(-a // b)


def _seasonality(first_monday: int, weeks: int) -> np.ndarray:
    """Activity factor per week: the year-end holidays and August are quieter."""
    monday = (first_monday + 7 * np.arange(weeks)).astype("datetime64[D]")
    month = monday.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day_of_month = (monday - monday.astype("datetime64[M]")).astype(np.int64) + 1
    return 1.0 - 0.45 * ((month == 12) & (day_of_month >= 20)) - 0.10 * (month == 8)


def _usage_chunk(rng: np.random.Generator, pop: Population, ids: pl.Series, acc: np.ndarray,
                 product: np.ndarray, seats: np.ndarray, first: np.ndarray, count: np.ndarray,
                 first_monday: int, season: np.ndarray, engagement: np.ndarray) -> pl.DataFrame:
    """Usage rows of some subscription lines: active users follow the account's user base
    (weekly noise, capped at 115% of seats), events are active users x a product rate."""
    line_of_row = np.repeat(np.arange(len(acc)), count)
    week = first[line_of_row] + np.arange(len(line_of_row)) - np.repeat(np.cumsum(count) - count, count)
    a, p = acc[line_of_row], product[line_of_row]
    day = first_monday + 7 * week
    users = pop.users_on(a, LINE_OF_PRODUCT[p], day) * season[week] * rng.lognormal(0.0, 0.08, len(week))
    active = np.minimum(np.rint(users), np.ceil(1.15 * seats[line_of_row])).astype(np.int64)
    events = np.rint(active * np.asarray(EVENTS_PER_USER)[p] * engagement[a] * rng.lognormal(0.0, 0.25, len(week)))
    return pl.DataFrame({
        "account_id": ids.gather(a),
        "product_id": code_labels(p, [x.product_id for x in PRODUCTS]),
        "date": date_column(day),
        "active_users": active,
        "events": events.astype(np.int64),
    })


def _sink(frames: Callable[[], Iterator[pl.DataFrame]], schema: pl.Schema, path: Path, file_format: str) -> None:
    """Stream frames into one file without holding them all in memory."""

    def source(with_columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None,
               batch_size: int | None) -> Iterator[pl.DataFrame]:
        for frame in frames():
            frame = frame if predicate is None else frame.filter(predicate)
            yield frame if with_columns is None else frame.select(with_columns)

    lazy = register_io_source(io_source=source, schema=schema)
    if file_format == "csv":
        lazy.sink_csv(path)
    else:
        lazy.sink_parquet(path)


def write_table(frame: pl.DataFrame, path: Path, file_format: str) -> None:
    """Write one table."""
    if file_format == "csv":
        frame.write_csv(path)
    else:
        frame.write_parquet(path)


def remove_stale_files(out: Path, file_format: str, usage: bool) -> None:
    """Remove table files this run does not rewrite (the other format, usage when skipped), so
    the folder holds exactly one file per table."""
    for name in TABLES:
        for ext in ("csv", "parquet"):
            if ext != file_format or (name == "usage" and not usage):
                (out / f"{name}.{ext}").unlink(missing_ok=True)
