"""Synthetic sample data set: the input tables of a SaaS company that sells a seat-based
workspace in three tiers, an analytics add-on in two tiers, a field app and flat add-ons.

`generate_sample` writes accounts, products, subscriptions, usage, opportunities and reps
following the input contract, from `history_years` before the plan date (`as_of`) to
`in_year_months` after it (the in-year period used by tracking and the backtest).

How the company behaves (vectorised over accounts; loops run over quarters and product
lines only):
- every account has a hidden propensity, a user base that grows or shrinks at its own rate
  and a fit for each product line (size and industry);
- each quarter, per product line, an account may open an expansion conversation: more seats,
  the next tier, or a product it does not hold. Conversations start more often and win more
  often when propensity and seat utilisation (active users / seats) are high; flat add-ons
  go mostly to large accounts of fitting industries. A won conversation ends the old
  subscription line and starts the new one on the close date (a won expansion opportunity
  for the ARR added); a lost one leaves a lost opportunity;
- low utilisation leads to seat contraction and product churn; at the yearly renewal an
  account renews (won renewal for the ARR renewed) or churns entirely (lost renewal);
- weekly usage follows each account's user base over the seat lines it holds.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
from polars.io.plugins import register_io_source

from pipeline.contract import DEAL_SOURCES, SEGMENT_NAMES


@dataclass(frozen=True)
class Product:
    """One price-list entry (a row of `products`)."""

    product_id: str
    product_name: str
    list_price: float
    unit: Literal["seat", "flat"]
    family: str | None = None
    tier_rank: int | None = None


PRODUCTS: tuple[Product, ...] = (
    Product("P01", "Workspace Starter", 120.0, "seat", "Workspace", 1),
    Product("P02", "Workspace Professional", 300.0, "seat", "Workspace", 2),
    Product("P03", "Workspace Enterprise", 600.0, "seat", "Workspace", 3),
    Product("P04", "Analytics Standard", 200.0, "seat", "Analytics", 1),
    Product("P05", "Analytics Plus", 450.0, "seat", "Analytics", 2),
    Product("P06", "Field Mobile", 90.0, "seat"),
    Product("P07", "Security Suite", 12_000.0, "flat"),
    Product("P08", "Premium Support", 8_000.0, "flat"),
    Product("P09", "API Platform", 15_000.0, "flat"),
    Product("P10", "Data Connectors", 6_000.0, "flat"),
)

INDUSTRIES: tuple[tuple[str, float], ...] = (
    ("Technology", 0.22),
    ("Financial Services", 0.14),
    ("Healthcare", 0.12),
    ("Manufacturing", 0.13),
    ("Retail", 0.12),
    ("Professional Services", 0.12),
    ("Education", 0.08),
    ("Media", 0.07),
)
REGIONS: tuple[tuple[str, float], ...] = (("NA", 0.45), ("EMEA", 0.30), ("APAC", 0.17), ("LATAM", 0.08))


@dataclass(frozen=True)
class ProductLine:
    """Products an account holds at most one of at a time: a tier ladder or a single product.

    Logits: `initial` of holding the line when the account starts, `cross_sell` of a cross-sell
    conversation per quarter; both plus `size_fit` per tenfold employees (relative to 100) plus
    the industry's `affinity` (INDUSTRIES order). `users_share`: share of the account's
    workspace users who use a seat line."""

    name: str
    products: tuple[int, ...]
    users_share: tuple[float, float]
    initial: float
    cross_sell: float
    size_fit: float
    affinity: tuple[float, ...]


PRODUCT_LINES: tuple[ProductLine, ...] = (
    ProductLine("Workspace", (0, 1, 2), (1.0, 1.0), 0.0, 0.0, 0.0, (0, 0, 0, 0, 0, 0, 0, 0)),
    ProductLine("Analytics", (3, 4), (0.15, 0.5), -1.4, -3.5, 0.3, (0.5, 0.6, 0.2, 0.0, 0.4, 0.2, -0.4, 0.3)),
    ProductLine("Field Mobile", (5,), (0.1, 0.4), -1.9, -3.8, 0.1, (-1.5, -1.5, 0.3, 1.2, 0.8, -0.5, -0.8, -0.3)),
    ProductLine("Security Suite", (6,), (0, 0), -3.4, -4.8, 1.2, (0.3, 1.2, 1.0, 0.0, -0.2, 0.0, -0.3, -0.3)),
    ProductLine("Premium Support", (7,), (0, 0), -3.2, -4.6, 1.1, (0.0, 0.5, 0.4, 0.2, 0.0, -0.2, -0.5, -0.3)),
    ProductLine("API Platform", (8,), (0, 0), -3.8, -5.0, 1.2, (1.2, 0.3, -0.3, -0.5, 0.0, -0.4, -0.8, 0.4)),
    ProductLine("Data Connectors", (9,), (0, 0), -3.2, -4.6, 0.9, (0.8, 0.2, 0.0, 0.4, 0.6, -0.2, -0.5, 0.3)),
)
WORKSPACE = 0  # the base line: every customer holds one workspace tier until it churns

# Expansion reps per segment: (name, lowest ACV, book_max of a full-capacity rep), in the
# contract's order of SEGMENT_NAMES.
SEGMENTS: tuple[tuple[str, float, int], ...] = tuple(
    zip(SEGMENT_NAMES, (5_000.0, 25_000.0, 100_000.0), (100, 40, 20), strict=True)
)
BOOK_LOAD = 0.75  # reps are sized so that books are 75% of book_max
CSM_BOOK = 40  # accounts per CSM

OPPORTUNITY_TYPES = ("expansion", "renewal", "new_logo")
STAGES = ("open", "won", "lost")
# source mix of expansion deals (DEAL_SOURCES order, then null), with and without a CSM
SOURCE_MIX_WITH_CSM = (0.26, 0.30, 0.16, 0.13, 0.12, 0.03)
SOURCE_MIX_WITHOUT_CSM = (0.0, 0.80, 0.0, 0.0, 0.17, 0.03)

# Event model: logits per quarter, before propensity / utilisation / fit terms.
SEAT_EXPANSION_LOGIT = -2.4
UPGRADE_LOGIT = -4.2
CONTRACTION_LOGIT = -4.6
PRODUCT_CHURN_LOGIT = -4.8
ACCOUNT_CHURN_LOGIT = -3.9  # at the yearly renewal
WIN_LOGIT = {"seats": -0.6, "upgrade": -0.9, "cross_sell": -0.9}
OPEN_PIPELINE_LOGIT = -1.7  # an assigned account has an open expansion deal at the data end
MAX_SEAT_SHARE = 0.85  # an account never buys more seats of one product than this share of employees

# Weekly events per active user, by product (seat products only are used).
EVENTS_PER_USER = (25.0, 35.0, 45.0, 12.0, 18.0, 20.0, 0.0, 0.0, 0.0, 0.0)
USAGE_CHUNK_ROWS = 4_000_000
USAGE_SCHEMA = pl.Schema({"account_id": pl.String, "product_id": pl.String, "date": pl.Date,
                          "active_users": pl.Int64, "events": pl.Int64})

NAME_STARTS = (
    "North", "Blue", "Silver", "Bright", "Iron", "Cedar", "Summit", "Harbor", "Pine", "Red",
    "Golden", "Granite", "River", "Stone", "Maple", "Crescent", "Falcon", "Atlas", "Nova", "Vertex",
    "Prairie", "Coastal", "Ever", "Orchid", "Meridian", "Key", "Pioneer", "Union", "Lake", "West",
)
NAME_ENDS = ("field", "point", "bridge", "wave", "line", "gate", "works", "stone", "light", "peak",
             "path", "view", "crest", "wood", "port", "ridge")
NAME_KINDS = (
    "Systems", "Labs", "Group", "Holdings", "Partners", "Logistics", "Health", "Foods", "Energy",
    "Media", "Capital", "Industries", "Software", "Retail", "Consulting", "Manufacturing",
    "Networks", "Solutions", "Studios", "Insurance",
)
FIRST_NAMES = (
    "Alex", "Maria", "James", "Priya", "Chen", "Sofia", "David", "Amara", "Lucas", "Hannah",
    "Omar", "Elena", "Noah", "Yuki", "Liam", "Fatima", "Mateo", "Grace", "Ethan", "Zara",
    "Daniel", "Ingrid", "Samuel", "Leila", "Victor", "Nora", "Felix", "Aisha", "Oscar", "Clara",
)
LAST_NAMES = (
    "Smith", "Garcia", "Müller", "Patel", "Wang", "Rossi", "Johnson", "Okafor", "Silva", "Schmidt",
    "Kim", "Nowak", "Brown", "Tanaka", "Martin", "Haddad", "Lopez", "Novak", "Taylor", "Khan",
    "Dubois", "Larsen", "Cohen", "Moreau", "Santos", "Fischer", "Ali", "Jensen", "Reyes", "Walsh",
)

TABLES = ("accounts", "products", "subscriptions", "usage", "opportunities", "reps")
EPOCH = dt.date(1970, 1, 1)
NO_DAY = np.iinfo(np.int32).max  # open-ended line or open opportunity: written as null
QUARTER_DAYS = 365.25 / 4
LIST_PRICE = np.array([p.list_price for p in PRODUCTS])
LINE_OF_PRODUCT = np.array([i for p in range(len(PRODUCTS)) for i, line in enumerate(PRODUCT_LINES)
                            if p in line.products])
SEAT_LINES = tuple(i for i, line in enumerate(PRODUCT_LINES) if PRODUCTS[line.products[0]].unit == "seat")
EXPANSION, RENEWAL, NEW_LOGO = range(3)
OPEN, WON, LOST = range(3)


def generate_sample(out_dir: str | Path, accounts: int = 2000, seed: int = 42,
                    as_of: dt.date = dt.date(2026, 1, 1),
                    file_format: Literal["csv", "parquet"] = "csv",
                    usage: bool = True, history_years: int = 3, in_year_months: int = 4,
                    progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Write accounts, products, subscriptions, usage, opportunities, reps (one file per table,
    named TABLE.csv or TABLE.parquet) following the input contract; return rows per table."""
    if accounts < 1 or history_years < 1 or in_year_months < 0:
        raise ValueError("accounts and history_years must be >= 1, in_year_months >= 0")
    if file_format not in ("csv", "parquet"):
        raise ValueError(f"file_format must be 'csv' or 'parquet', got {file_format!r}")
    say = progress or (lambda _line: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _remove_stale_files(out, file_format, usage)
    cal = Calendar.build(as_of, history_years, in_year_months)
    simulation_rng, usage_rng = np.random.default_rng(seed).spawn(2)
    pop = _draw_population(simulation_rng, accounts, cal)
    holdings, ledger, alive = _simulate(simulation_rng, pop, cal)
    lines = ledger.subscription_lines()
    acv = _acv_on(lines, accounts, _day(as_of))
    team = _build_team(simulation_rng, acv)
    _open_pipeline(simulation_rng, pop, cal, holdings, ledger, alive, team.owner >= 0)
    ids = _account_ids(accounts)
    tables = {
        "products": _products_frame(),
        "accounts": _accounts_frame(simulation_rng, pop, cal, team, ids, acv),
        "reps": team.reps,
        "subscriptions": _subscriptions_frame(lines, ids),
        "opportunities": _opportunities_frame(simulation_rng, ledger, team, ids),
    }
    rows: dict[str, int] = {}
    for name, frame in tables.items():
        _write(frame, out / f"{name}.{file_format}", file_format)
        rows[name] = frame.height
        say(f"{name}: {frame.height:,} rows")
    if usage:
        rows["usage"] = _write_usage(usage_rng, pop, cal, lines, ids, out / f"usage.{file_format}", file_format)
        say(f"usage: {rows['usage']:,} rows")
    return {name: rows[name] for name in TABLES if name in rows}


# ---------------------------------------------------------------- calendar and helpers


@dataclass(frozen=True)
class Calendar:
    """Days (since 1970-01-01) of the history start, the plan date and the data end, and the
    simulation steps: quarters from the history start, the last one cut at the data end."""

    start: int
    as_of: int
    end: int
    steps: tuple[tuple[int, int], ...]

    @classmethod
    def build(cls, as_of: dt.date, history_years: int, in_year_months: int) -> Calendar:
        """The calendar of a sample with this plan date, history and in-year period."""
        start, end = _day(_add_months(as_of, -12 * history_years)), _day(_add_months(as_of, in_year_months))
        quarters = range(0, 12 * history_years + in_year_months, 3)
        bounds = [_day(_add_months(as_of, months - 12 * history_years)) for months in quarters] + [end]
        return cls(start, _day(as_of), end, tuple(zip(bounds[:-1], bounds[1:], strict=True)))


def _add_months(day: dt.date, months: int) -> dt.date:
    """The same day of the month `months` later (clamped to the month's last day)."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _day(day: dt.date) -> int:
    """Days since 1970-01-01."""
    return (day - EPOCH).days


def _year_of(day: int) -> int:
    """Calendar year of a day."""
    return (EPOCH + dt.timedelta(days=int(day))).year


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function."""
    return 1.0 / (1.0 + np.exp(-x))


def _per_step(p_quarter: np.ndarray, step_days: int) -> np.ndarray:
    """Probability over a step of `step_days` from a per-quarter probability."""
    return 1.0 - (1.0 - p_quarter) ** (step_days / QUARTER_DAYS)


@dataclass(frozen=True)
class Anniversary:
    """Contract anniversaries: month (0-11) and day of the month (0-30) of the first contract."""

    month: np.ndarray
    day: np.ndarray

    @classmethod
    def of(cls, days: np.ndarray) -> Anniversary:
        """The anniversaries of contracts starting on these days."""
        dates = days.astype("datetime64[D]")
        months = dates.astype("datetime64[M]")
        return cls(months.astype(np.int64) % 12, (dates - months.astype("datetime64[D]")).astype(np.int64))

    def __getitem__(self, acc: np.ndarray) -> Anniversary:
        return Anniversary(self.month[acc], self.day[acc])

    def in_year(self, year: int) -> np.ndarray:
        """The anniversary day in a year (29 February becomes the 28th)."""
        month_starts = np.arange(np.datetime64(f"{year:04d}-01", "M"), np.datetime64(f"{year + 1:04d}-02", "M"))
        first = month_starts.astype("datetime64[D]").astype(np.int64)
        return first[self.month] + np.minimum(self.day, np.diff(first)[self.month] - 1)

    def between(self, t0: int, t1: int) -> np.ndarray:
        """The anniversary in [t0, t1), or -1 (the span is shorter than a year)."""
        this_year = self.in_year(_year_of(t0))
        day = np.where(this_year >= t0, this_year, self.in_year(_year_of(t0) + 1))
        return np.where(day < t1, day, -1)

    def next_after(self, after: int) -> np.ndarray:
        """The first anniversary strictly after day `after`."""
        this_year = self.in_year(_year_of(after))
        return np.where(this_year > after, this_year, self.in_year(_year_of(after) + 1))


# ---------------------------------------------------------------- the accounts' hidden life


@dataclass(frozen=True)
class Population:
    """Observed and hidden attributes of the accounts (arrays indexed by account)."""

    employees: np.ndarray  # true head count
    industry: np.ndarray  # index into INDUSTRIES
    region: np.ndarray  # index into REGIONS
    propensity: np.ndarray  # hidden: drives expansion, wins and churn
    growth: np.ndarray  # hidden: yearly log growth of the user base
    discount: np.ndarray  # off list price, 0-30%
    since: np.ndarray  # customer since (day)
    anniversary: Anniversary  # of the main contract: the customer_since date
    users: np.ndarray  # (accounts, lines) users of each seat line on the plan date
    fit: np.ndarray  # (accounts, lines) size and industry logit of each line
    seat_ceiling: np.ndarray  # most seats of one product: MAX_SEAT_SHARE of employees
    as_of: int

    @property
    def n(self) -> int:
        """Number of accounts."""
        return len(self.employees)

    def users_on(self, acc: np.ndarray, line: int | np.ndarray, day: np.ndarray | int) -> np.ndarray:
        """Users of a seat line on a day (the hidden user base, no weekly noise)."""
        years = (np.asarray(day, dtype=np.float64) - self.as_of) / 365.25
        return self.users[acc, line] * np.exp(self.growth[acc] * years)


def _draw_population(rng: np.random.Generator, n: int, cal: Calendar) -> Population:
    """Draw the accounts: size, industry, region, tenure, hidden propensity and user base."""
    employees = np.clip(np.rint(rng.lognormal(np.log(90), 1.2, n)), 5, 100_000).astype(np.int64)
    size = np.log10(employees)
    industry = rng.choice(len(INDUSTRIES), n, p=[w for _, w in INDUSTRIES])
    region = rng.choice(len(REGIONS), n, p=[w for _, w in REGIONS])
    propensity = rng.standard_normal(n)
    growth = 0.10 + 0.12 * propensity + 0.08 * rng.standard_normal(n)
    discount = np.round(np.clip(0.05 * size - 0.01 + 0.05 * rng.standard_normal(n), 0, 0.30) / 0.005) * 0.005
    since = _draw_customer_since(rng, n, cal)
    penetration = np.clip(0.42 - 0.05 * size + 0.09 * rng.standard_normal(n), 0.06, 0.55)
    users = np.zeros((n, len(PRODUCT_LINES)))
    for i in SEAT_LINES:
        low, high = PRODUCT_LINES[i].users_share
        users[:, i] = employees * penetration * rng.uniform(low, high, n)
    fit = np.stack([line.size_fit * (size - 2) + np.asarray(line.affinity)[industry] for line in PRODUCT_LINES],
                   axis=1)
    seat_ceiling = np.ceil(MAX_SEAT_SHARE * employees).astype(np.int64)
    return Population(employees, industry, region, propensity, growth, discount, since, Anniversary.of(since),
                      users, fit, seat_ceiling, cal.as_of)


def _draw_customer_since(rng: np.random.Generator, n: int, cal: Calendar) -> np.ndarray:
    """62% customers from before the history (up to 8 years), most others during the history
    before the plan date, 1% new in the in-year period."""
    before = cal.start - rng.integers(1, 8 * 365, n)
    during = cal.start + rng.integers(0, cal.as_of - cal.start, n)
    kind = rng.random(n)
    since = np.where(kind < 0.62, before, during)
    if cal.end > cal.as_of:
        since = np.where(kind >= 0.99, cal.as_of + rng.integers(0, cal.end - cal.as_of, n), since)
    return since.astype(np.int64)


# ---------------------------------------------------------------- holdings and the ledger


@dataclass
class Ledger:
    """Subscription lines (when they end) and opportunities, as columns of numpy chunks."""

    lines: list[tuple[np.ndarray, ...]] = field(default_factory=list)
    opportunities: list[tuple[np.ndarray, ...]] = field(default_factory=list)

    def opportunity(self, acc: np.ndarray, product: np.ndarray | int, kind: int, created: np.ndarray,
                    close: np.ndarray | int, stage: np.ndarray | int, amount: np.ndarray) -> None:
        """Record opportunities (one per account in `acc`); product -1 and close NO_DAY are null."""
        m = len(acc)
        columns = (acc, product, kind, created, close, stage, amount)
        self.opportunities.append(tuple(np.broadcast_to(c, m).astype(np.float64 if i == 6 else np.int64)
                                        for i, c in enumerate(columns)))

    def subscription_lines(self) -> dict[str, np.ndarray]:
        """All recorded lines: account, product, quantity, arr, start, end (NO_DAY = open)."""
        names = ("account", "product", "quantity", "arr", "start", "end")
        return {name: np.concatenate([chunk[i] for chunk in self.lines]) for i, name in enumerate(names)}

    def opportunity_columns(self) -> dict[str, np.ndarray]:
        """All recorded opportunities: account, product, type, created, close, stage, amount."""
        names = ("account", "product", "type", "created", "close", "stage", "amount")
        return {name: np.concatenate([chunk[i] for chunk in self.opportunities]) for i, name in enumerate(names)}


@dataclass
class Holdings:
    """What each account holds now, per product line: product (-1: none), seats, ARR, start day."""

    product: np.ndarray
    seats: np.ndarray
    arr: np.ndarray
    start: np.ndarray

    @classmethod
    def empty(cls, n: int) -> Holdings:
        """Nobody holds anything."""
        shape = (n, len(PRODUCT_LINES))
        return cls(np.full(shape, -1, np.int64), np.zeros(shape, np.int64), np.zeros(shape), np.zeros(shape, np.int64))

    def begin(self, acc: np.ndarray, line: int, product: np.ndarray, seats: np.ndarray, arr: np.ndarray,
              day: np.ndarray) -> None:
        """Start a line of `line` for accounts that hold none."""
        self.product[acc, line], self.seats[acc, line] = product, seats
        self.arr[acc, line], self.start[acc, line] = arr, day

    def end(self, ledger: Ledger, acc: np.ndarray, line: int, day: np.ndarray) -> None:
        """End the held line of `line` on `day` and record it."""
        ledger.lines.append((acc, self.product[acc, line], self.seats[acc, line], self.arr[acc, line],
                             self.start[acc, line], np.broadcast_to(day, len(acc)).astype(np.int64)))
        self.product[acc, line], self.seats[acc, line], self.arr[acc, line] = -1, 0, 0.0

    def record_open_lines(self, ledger: Ledger) -> None:
        """Record the lines still held at the data end (end_date null)."""
        for line in range(len(PRODUCT_LINES)):
            acc = np.flatnonzero(self.product[:, line] >= 0)
            ledger.lines.append((acc, self.product[acc, line], self.seats[acc, line], self.arr[acc, line],
                                 self.start[acc, line], np.full(len(acc), NO_DAY, np.int64)))


@dataclass
class Step:
    """One simulation step [t0, t1) and, per account, its renewal day in the step (-1: none) and
    the ACV change dated on or before that day (so the renewal books the ARR active then)."""

    t0: int
    t1: int
    renewal_day: np.ndarray
    change_before_renewal: np.ndarray

    @property
    def days(self) -> int:
        return self.t1 - self.t0

    def record(self, acc: np.ndarray, change: np.ndarray, day: np.ndarray) -> None:
        """Count ACV changes of distinct accounts towards their renewal amount."""
        counted = day <= self.renewal_day[acc]
        self.change_before_renewal[acc[counted]] += change[counted]


def _price(pop: Population, acc: np.ndarray, product: np.ndarray, seats: np.ndarray) -> np.ndarray:
    """ARR of a line: quantity x list price x (1 - the account's discount), rounded to cents."""
    return np.round(seats * LIST_PRICE[product] * (1.0 - pop.discount[acc]), 2)


def _opening_seats(rng: np.random.Generator, pop: Population, acc: np.ndarray, line: int, day: np.ndarray,
                   utilisation: tuple[float, float]) -> np.ndarray:
    """Seats bought when a line starts: users / a utilisation drawn in range, at most the seat
    ceiling (1 for flat lines)."""
    if line not in SEAT_LINES:
        return np.ones(len(acc), np.int64)
    wanted = np.ceil(pop.users_on(acc, line, day) / rng.uniform(*utilisation, len(acc))).astype(np.int64)
    return np.maximum(np.minimum(wanted, pop.seat_ceiling[acc]), 1)


# ---------------------------------------------------------------- simulation


def _simulate(rng: np.random.Generator, pop: Population, cal: Calendar) -> tuple[Holdings, Ledger, np.ndarray]:
    """Run the company step by step from the history start to the data end; return the holdings
    and customers at the data end and the ledger (lines still open included)."""
    holdings, ledger = Holdings.empty(pop.n), Ledger()
    alive = pop.since < cal.start
    _onboard(rng, pop, holdings, np.flatnonzero(alive), cal, before_history=True)
    for t0, t1 in cal.steps:
        _simulate_step(rng, pop, holdings, ledger, alive, t0, t1, cal)
    holdings.record_open_lines(ledger)
    return holdings, ledger, alive


def _onboard(rng: np.random.Generator, pop: Population, h: Holdings, acc: np.ndarray, cal: Calendar,
             before_history: bool) -> None:
    """Open the first lines of customers: a workspace tier by size, other lines by fit and
    propensity. Customers from before the history hold more, on lines started up to 18 months
    before the history start."""
    m = len(acc)
    tenure = 0.8 if before_history else 0.0
    for i, line in enumerate(PRODUCT_LINES):
        day = np.maximum(pop.since[acc], cal.start - rng.integers(1, 541, m)) if before_history else pop.since[acc]
        if i == WORKSPACE:
            size = np.log10(pop.employees[acc]) + 0.3 * rng.standard_normal(m)
            holds, tier = np.ones(m, bool), (size >= 2.3).astype(np.int64) + (size >= 2.85)
        else:
            holds = rng.random(m) < _sigmoid(line.initial + pop.fit[acc, i] + 0.5 * pop.propensity[acc] + tenure)
            tier = (rng.random(m) < 0.2).astype(np.int64) * (len(line.products) > 1)
        product = line.products[0] + tier
        seats = _opening_seats(rng, pop, acc, i, day, (0.45, 0.95))
        a = acc[holds]
        h.begin(a, i, product[holds], seats[holds], _price(pop, a, product[holds], seats[holds]), day[holds])


def _simulate_step(rng: np.random.Generator, pop: Population, h: Holdings, ledger: Ledger, alive: np.ndarray,
                   t0: int, t1: int, cal: Calendar) -> None:
    """One step: renewals and churn, expansion conversations and losses per product line, then
    the step's new customers (who start acting in the next step)."""
    step = Step(t0, t1, np.full(pop.n, -1, np.int64), np.zeros(pop.n))
    renewing, acv_before = _renewals(rng, pop, h, ledger, alive, step)
    active = np.flatnonzero(alive)
    for line in range(len(PRODUCT_LINES)):
        held = h.product[active, line] >= 0
        if line in SEAT_LINES:
            _seat_line_step(rng, pop, h, ledger, step, active[held], line)
        else:
            _flat_line_step(rng, pop, h, ledger, step, active[held], line)
        if line != WORKSPACE:
            _cross_sell_step(rng, pop, h, ledger, step, active[~held], line)
    day = step.renewal_day[renewing]
    ledger.opportunity(renewing, -1, RENEWAL, day - rng.integers(45, 121, len(renewing)), day, WON,
                       acv_before + step.change_before_renewal[renewing])
    new = np.flatnonzero((pop.since >= t0) & (pop.since < t1))
    _onboard(rng, pop, h, new, cal, before_history=False)
    since = pop.since[new]
    ledger.opportunity(new, h.product[new, WORKSPACE], NEW_LOGO, since - rng.integers(30, 181, len(new)), since,
                       WON, h.arr[new].sum(axis=1))
    alive[new] = True


def _renewals(rng: np.random.Generator, pop: Population, h: Holdings, ledger: Ledger, alive: np.ndarray,
              step: Step) -> tuple[np.ndarray, np.ndarray]:
    """Customers whose contract anniversary falls in the step renew or churn. Churners end all
    lines on the anniversary (a lost renewal) and leave `alive`. Sets the renewers' renewal day
    in `step`; returns the renewers and their ACV at the step start."""
    day = pop.anniversary.between(step.t0, step.t1)
    due = np.flatnonzero(alive & (day >= 0))
    acv = h.arr[due].sum(axis=1)
    utilisation = pop.users_on(due, WORKSPACE, step.t0) / h.seats[due, WORKSPACE]
    logit = (ACCOUNT_CHURN_LOGIT - 0.8 * pop.propensity[due] - 4.0 * np.minimum(utilisation - 0.55, 0)
             - 0.3 * (np.log10(pop.employees[due]) - 2))
    churn = rng.random(len(due)) < _sigmoid(logit)
    lost = due[churn]
    for line in range(len(PRODUCT_LINES)):
        held = lost[h.product[lost, line] >= 0]
        h.end(ledger, held, line, day[held])
    ledger.opportunity(lost, -1, RENEWAL, day[lost] - rng.integers(45, 121, len(lost)), day[lost], LOST, acv[churn])
    alive[lost] = False
    renewing = due[~churn]
    step.renewal_day[renewing] = day[renewing]
    return renewing, acv[~churn]


def _seat_line_step(rng: np.random.Generator, pop: Population, h: Holdings, ledger: Ledger, step: Step,
                    acc: np.ndarray, line: int) -> None:
    """Accounts holding a seat line: seat-expansion or upgrade conversations (likelier with high
    utilisation and propensity), or contraction / product churn when utilisation is low."""
    z = pop.propensity[acc]
    utilisation = pop.users_on(acc, line, step.t0) / h.seats[acc, line]
    top = h.product[acc, line] == PRODUCT_LINES[line].products[-1]
    room = h.seats[acc, line] < pop.seat_ceiling[acc]
    p_seats = room * _per_step(_sigmoid(SEAT_EXPANSION_LOGIT + 0.9 * z + 2.5 * (utilisation - 0.85)), step.days)
    p_upgrade = np.where(top, 0.0, _per_step(_sigmoid(
        UPGRADE_LOGIT + 0.6 * z + 0.5 * (np.log10(pop.employees[acc]) - 2) + 1.2 * (utilisation - 0.8)), step.days))
    p_down = _per_step(_sigmoid(CONTRACTION_LOGIT - 0.6 * z - 6.0 * (utilisation - 0.45)), step.days)
    u = rng.random(len(acc))
    day = rng.integers(step.t0, step.t1, len(acc))
    win_logit = 0.8 * z + 3.0 * (utilisation - 0.8)
    for kind, chosen in (("seats", u < p_seats), ("upgrade", (u >= p_seats) & (u < p_seats + p_upgrade))):
        _conversations(rng, pop, h, ledger, step, acc[chosen], line, kind, day[chosen],
                       WIN_LOGIT[kind] + win_logit[chosen])
    down = (u >= p_seats + p_upgrade) & (u < p_seats + p_upgrade + p_down)
    if line == WORKSPACE:
        _contract(rng, pop, h, ledger, step, acc[down], line, day[down])
    else:
        _drop(h, ledger, step, acc[down], line, day[down])


def _flat_line_step(rng: np.random.Generator, pop: Population, h: Holdings, ledger: Ledger, step: Step,
                    acc: np.ndarray, line: int) -> None:
    """Accounts holding a flat add-on may drop it (less often with high propensity)."""
    p_drop = _per_step(_sigmoid(PRODUCT_CHURN_LOGIT - 0.6 * pop.propensity[acc]), step.days)
    drop = rng.random(len(acc)) < p_drop
    _drop(h, ledger, step, acc[drop], line, rng.integers(step.t0, step.t1, len(acc))[drop])


def _cross_sell_step(rng: np.random.Generator, pop: Population, h: Holdings, ledger: Ledger, step: Step,
                     acc: np.ndarray, line: int) -> None:
    """Accounts without the line: cross-sell conversations, likelier with fit, propensity and
    workspace utilisation."""
    z, fit = pop.propensity[acc], pop.fit[acc, line]
    utilisation = pop.users_on(acc, WORKSPACE, step.t0) / h.seats[acc, WORKSPACE]
    p_talk = _per_step(_sigmoid(PRODUCT_LINES[line].cross_sell + 0.7 * z + fit + 1.0 * (utilisation - 0.8)),
                       step.days)
    talk = rng.random(len(acc)) < p_talk
    win_logit = WIN_LOGIT["cross_sell"] + 0.7 * z + 0.4 * fit + 1.5 * (utilisation - 0.8)
    _conversations(rng, pop, h, ledger, step, acc[talk], line, "cross_sell",
                   rng.integers(step.t0, step.t1, len(acc))[talk], win_logit[talk])


def _proposal(rng: np.random.Generator, pop: Population, h: Holdings, acc: np.ndarray, line: int, kind: str,
              day: np.ndarray | int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What an expansion deal sells: product, seats, the line's new ARR and the ARR added.
    seats: enough for the users plus headroom (within the seat ceiling, at least one more seat);
    upgrade: the next tier for the seats held;
    cross_sell: the line's entry product (20% the next tier) sized to its users."""
    m = len(acc)
    if kind == "cross_sell":
        ladder = PRODUCT_LINES[line].products
        product = ladder[0] + (rng.random(m) < 0.2).astype(np.int64) * (len(ladder) > 1)
        seats = _opening_seats(rng, pop, acc, line, np.broadcast_to(day, m), (0.55, 0.95))
        old_arr = np.zeros(m)
    else:
        held, seats, old_arr = h.product[acc, line], h.seats[acc, line], h.arr[acc, line]
        product = held + 1 if kind == "upgrade" else held
        if kind == "seats":
            wanted = np.ceil(pop.users_on(acc, line, day) * rng.uniform(1.1, 1.5, m)).astype(np.int64)
            wanted = np.maximum(seats + np.maximum(1, np.ceil(0.05 * seats).astype(np.int64)), wanted)
            seats = np.maximum(np.minimum(wanted, pop.seat_ceiling[acc]), seats + 1)
    arr = _price(pop, acc, product, seats)
    return product, seats, arr, np.maximum(np.round(arr - old_arr, 2), 0.0)


def _conversations(rng: np.random.Generator, pop: Population, h: Holdings, ledger: Ledger, step: Step,
                   acc: np.ndarray, line: int, kind: str, day: np.ndarray, win_logit: np.ndarray) -> None:
    """Expansion opportunities closing on `day`: won ones replace the line, lost ones change nothing."""
    product, seats, arr, amount = _proposal(rng, pop, h, acc, line, kind, day)
    won = rng.random(len(acc)) < _sigmoid(win_logit)
    created = np.maximum(day - rng.integers(20, 151, len(acc)), pop.since[acc])
    ledger.opportunity(acc, product, EXPANSION, created, day, np.where(won, WON, LOST), amount)
    _replace(h, ledger, step, acc[won], line, product[won], seats[won], arr[won], day[won])


def _replace(h: Holdings, ledger: Ledger, step: Step, acc: np.ndarray, line: int, product: np.ndarray,
             seats: np.ndarray, arr: np.ndarray, day: np.ndarray) -> None:
    """End the held line (if any) and start the new one on the same day."""
    held = h.product[acc, line] >= 0
    step.record(acc, arr - h.arr[acc, line], day)
    h.end(ledger, acc[held], line, day[held])
    h.begin(acc, line, product, seats, arr, day)


def _contract(rng: np.random.Generator, pop: Population, h: Holdings, ledger: Ledger, step: Step,
              acc: np.ndarray, line: int, day: np.ndarray) -> None:
    """Cut seats down to the users (at 80-95% utilisation) where that is fewer seats."""
    wanted = pop.users_on(acc, line, day) / rng.uniform(0.8, 0.95, len(acc))
    seats = np.maximum(np.ceil(wanted), 1).astype(np.int64)
    fewer = seats < h.seats[acc, line]
    acc, seats, day = acc[fewer], seats[fewer], day[fewer]
    product = h.product[acc, line]
    _replace(h, ledger, step, acc, line, product, seats, _price(pop, acc, product, seats), day)


def _drop(h: Holdings, ledger: Ledger, step: Step, acc: np.ndarray, line: int, day: np.ndarray) -> None:
    """End a product line without a successor (product churn)."""
    step.record(acc, -h.arr[acc, line], day)
    h.end(ledger, acc, line, day)


def _open_pipeline(rng: np.random.Generator, pop: Population, cal: Calendar, h: Holdings, ledger: Ledger,
                   alive: np.ndarray, assigned: np.ndarray) -> None:
    """Open deals at the data end: an expansion deal on about a fifth of the assigned customers
    (likelier with propensity and utilisation) and the renewals already in the CRM."""
    acc = np.flatnonzero(alive & assigned)
    utilisation = pop.users_on(acc, WORKSPACE, cal.end) / h.seats[acc, WORKSPACE]
    acc = acc[rng.random(len(acc)) < _sigmoid(OPEN_PIPELINE_LOGIT + 0.6 * pop.propensity[acc]
                                                   + 1.5 * (utilisation - 0.8))]
    score = pop.fit[acc] + rng.gumbel(size=(len(acc), len(PRODUCT_LINES)))
    score[(h.product[acc] >= 0) | (np.arange(len(PRODUCT_LINES)) == WORKSPACE)] = -np.inf
    cross_line = np.argmax(score, axis=1)
    can_cross = np.isfinite(score.max(axis=1))
    can_upgrade = h.product[acc, WORKSPACE] < PRODUCT_LINES[WORKSPACE].products[-1]
    choice = rng.random(len(acc))
    upgrade = can_upgrade & (choice < 0.3)
    cross = can_cross & (choice >= 0.65)
    deals = [(acc[upgrade], WORKSPACE, "upgrade"), (acc[~upgrade & ~cross], WORKSPACE, "seats")]
    deals += [(acc[cross & (cross_line == line)], line, "cross_sell") for line in range(len(PRODUCT_LINES))]
    for deal_acc, line, kind in deals:
        product, _, _, amount = _proposal(rng, pop, h, deal_acc, line, kind, cal.end)
        created = np.maximum(cal.end - rng.integers(1, 151, len(deal_acc)), pop.since[deal_acc])
        ledger.opportunity(deal_acc, product, EXPANSION, created, NO_DAY, OPEN, amount)
    customers = np.flatnonzero(alive)
    created = pop.anniversary[customers].next_after(cal.end - 1) - rng.integers(45, 121, len(customers))
    renewing = customers[created < cal.end]
    ledger.opportunity(renewing, -1, RENEWAL, created[created < cal.end], NO_DAY, OPEN,
                       h.arr[renewing].sum(axis=1))


def _acv_on(lines: dict[str, np.ndarray], n: int, day: int) -> np.ndarray:
    """Each account's ACV on a day: ARR of the lines with start <= day < end."""
    active = (lines["start"] <= day) & (lines["end"] > day)
    return np.round(np.bincount(lines["account"][active], lines["arr"][active], minlength=n), 2)


# ---------------------------------------------------------------- the team


@dataclass(frozen=True)
class Team:
    """The reps table and, per account, the row of its expansion owner and CSM (-1: none)."""

    reps: pl.DataFrame
    owner: np.ndarray
    csm: np.ndarray

    def rep_ids(self, rows: np.ndarray) -> pl.Series:
        """rep_id of reps-table rows (-1: null)."""
        return _labels(rows, self.reps["rep_id"].to_list())


def _build_team(rng: np.random.Generator, acv: np.ndarray) -> Team:
    """Expansion reps sized per segment by BOOK_LOAD x book_max (a few ramping at half capacity,
    one or two inactive still owning accounts, one or two without a segment) and CSMs for the
    accounts above $25K; then owners (95% of the assigned segments) and CSMs of the accounts."""
    n = len(acv)
    segment = np.searchsorted([s[1] for s in SEGMENTS], acv, side="right") - 1  # -1: self-serve
    extra = 1 if n < 1000 else 2
    seg_parts, cap_parts, active_parts = [], [], []
    for s, (_, _, book_max) in enumerate(SEGMENTS):
        fte = max(1.0, float(np.sum(segment == s)) / (BOOK_LOAD * book_max))
        ramping = max(1, round(fte / 10)) if fte >= 3 else 0
        full = max(1, round(fte - 0.5 * ramping))
        inactive = int(s < extra)
        order = rng.permutation(full + ramping + inactive)
        seg_parts.append(np.full(len(order), s))
        cap_parts.append(np.r_[np.ones(full), np.full(ramping, 0.5), np.ones(inactive)][order])
        active_parts.append(np.r_[np.ones(full + ramping, bool), np.zeros(inactive, bool)][order])
    rep_segment = np.concatenate([*seg_parts, np.full(extra, -1)])
    capacity = np.concatenate([*cap_parts, np.ones(extra)])
    active = np.concatenate([*active_parts, np.ones(extra, bool)])
    owner = np.full(n, -1)
    owned = rng.random(n) >= 0.05
    for s in range(len(SEGMENTS)):
        acc = np.flatnonzero(owned & (segment == s))
        reps = np.flatnonzero(rep_segment == s)
        owner[acc] = rng.choice(reps, len(acc), p=capacity[reps] / capacity[reps].sum())
    draw = rng.random(n)
    covered = ((acv >= 25_000) & (draw < 0.9)) | ((acv >= 10_000) & (acv < 25_000) & (draw < 0.06))
    n_csm = max(1, math.ceil(covered.sum() / CSM_BOOK))
    csm = np.where(covered, len(rep_segment) + rng.integers(0, n_csm, n), -1)
    reps = _reps_frame(rng, rep_segment, capacity, active, n_csm)
    return Team(reps, owner, csm)


def _reps_frame(rng: np.random.Generator, segment: np.ndarray, capacity: np.ndarray, active: np.ndarray,
                n_csm: int) -> pl.DataFrame:
    """The reps table: expansion reps R0001.. then CSMs C0001.. (segment null, capacity 1)."""
    n_rep = len(segment)
    count = n_rep + n_csm
    return pl.DataFrame({
        "rep_id": pl.concat([_ids("R", n_rep, 4), _ids("C", n_csm, 4)]),
        "name": _person_names(rng, count),
        "role": _labels(np.r_[np.zeros(n_rep, np.int64), np.ones(n_csm, np.int64)], ("expansion_rep", "csm")),
        "segment": _labels(np.r_[segment, np.full(n_csm, -1)], [s[0] for s in SEGMENTS]),
        "capacity": np.r_[capacity, np.ones(n_csm)],
        "active": np.r_[active, np.ones(n_csm, bool)],
    })


# ---------------------------------------------------------------- tables


def _ids(prefix: str, count: int, min_digits: int) -> pl.Series:
    """prefix + zero-padded 1..count (wider when count needs more digits)."""
    digits = max(min_digits, len(str(count)))
    return pl.Series(np.arange(1, count + 1)).cast(pl.String).str.zfill(digits).str.replace("^", prefix)


def _account_ids(n: int) -> pl.Series:
    """A0000001.. for n accounts."""
    return _ids("A", n, 7)


def _labels(codes: np.ndarray, labels: Sequence[str]) -> pl.Series:
    """Labels of integer codes; code -1 is null."""
    codes = np.asarray(codes, dtype=np.int64)
    values = pl.Series(list(labels), dtype=pl.String).gather(np.maximum(codes, 0))
    return values.scatter(np.flatnonzero(codes < 0), None)


def _dates(days: np.ndarray, null: np.ndarray | None = None) -> pl.Series:
    """Days since 1970-01-01 as a Date column; NO_DAY (and `null`) are null."""
    days = np.asarray(days, dtype=np.int64)
    missing = days == NO_DAY if null is None else (days == NO_DAY) | null
    return pl.Series(np.where(missing, 0, days).astype(np.int32)).cast(pl.Date).scatter(np.flatnonzero(missing), None)


def _with_nulls(values: np.ndarray, null: np.ndarray) -> pl.Series:
    """A column with nulls where `null` is set."""
    return pl.Series(values).scatter(np.flatnonzero(null), None)


def _person_names(rng: np.random.Generator, count: int) -> pl.Series:
    """First and last names."""
    first = pl.Series(FIRST_NAMES).gather(rng.integers(0, len(FIRST_NAMES), count))
    last = pl.Series(LAST_NAMES).gather(rng.integers(0, len(LAST_NAMES), count))
    return first + " " + last


def _company_names(rng: np.random.Generator, count: int) -> pl.Series:
    """Word combinations with a number, e.g. "Cedarbridge Logistics 417"."""
    start = pl.Series(NAME_STARTS).gather(rng.integers(0, len(NAME_STARTS), count))
    end = pl.Series(NAME_ENDS).gather(rng.integers(0, len(NAME_ENDS), count))
    kind = pl.Series(NAME_KINDS).gather(rng.integers(0, len(NAME_KINDS), count))
    number = pl.Series(rng.integers(1, 1000, count)).cast(pl.String)
    return start + end + " " + kind + " " + number


def _products_frame() -> pl.DataFrame:
    """The price list."""
    return pl.DataFrame([vars(p) for p in PRODUCTS], schema={
        "product_id": pl.String, "product_name": pl.String, "list_price": pl.Float64, "unit": pl.String,
        "family": pl.String, "tier_rank": pl.Int64})


def _accounts_frame(rng: np.random.Generator, pop: Population, cal: Calendar, team: Team, ids: pl.Series,
                    acv: np.ndarray) -> pl.DataFrame:
    """The accounts table; a few values are missing as in a real CRM (1% industry, 3% employees,
    2% customer_since, 3% renewal_date; renewal_date is null for accounts without ACV)."""
    n = pop.n
    renewal = pop.anniversary.next_after(cal.as_of)
    return pl.DataFrame({
        "account_id": ids,
        "account_name": _company_names(rng, n),
        "industry": _labels(np.where(rng.random(n) < 0.01, -1, pop.industry), [i for i, _ in INDUSTRIES]),
        "region": _labels(pop.region, [r for r, _ in REGIONS]),
        "employees": _with_nulls(pop.employees, rng.random(n) < 0.03),
        "customer_since": _dates(pop.since, rng.random(n) < 0.02),
        "renewal_date": _dates(renewal, (acv <= 0) | (rng.random(n) < 0.03)),
        "csm_id": team.rep_ids(team.csm),
        "owner_id": team.rep_ids(team.owner),
    })


def _subscriptions_frame(lines: dict[str, np.ndarray], ids: pl.Series) -> pl.DataFrame:
    """The subscriptions table, sorted by account, product and start."""
    order = np.lexsort((lines["start"], lines["product"], lines["account"]))
    return pl.DataFrame({
        "account_id": ids.gather(lines["account"][order]),
        "product_id": _labels(lines["product"][order], [p.product_id for p in PRODUCTS]),
        "quantity": lines["quantity"][order],
        "arr": lines["arr"][order],
        "start_date": _dates(lines["start"][order]),
        "end_date": _dates(lines["end"][order]),
    })


def _opportunities_frame(rng: np.random.Generator, ledger: Ledger, team: Team, ids: pl.Series) -> pl.DataFrame:
    """The opportunities table, numbered in (account, created, close) order, with
    the account's owner and CSM and a deal source (expansions: the mix by CSM coverage;
    renewals and new logos: a quarter ae_sourced, else null)."""
    o = ledger.opportunity_columns()
    order = np.lexsort((o["close"], o["created"], o["account"]))
    o = {name: values[order] for name, values in o.items()}
    account = o["account"]
    return pl.DataFrame({
        "opportunity_id": _ids("O", len(account), 8),
        "account_id": ids.gather(account),
        "product_id": _labels(o["product"], [p.product_id for p in PRODUCTS]),
        "type": _labels(o["type"], OPPORTUNITY_TYPES),
        "created_date": _dates(o["created"]),
        "close_date": _dates(o["close"]),
        "stage": _labels(o["stage"], STAGES),
        "amount": o["amount"],
        "source": _labels(_deal_sources(rng, o["type"], team.csm[account] >= 0), DEAL_SOURCES),
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


# ---------------------------------------------------------------- usage


def _write_usage(rng: np.random.Generator, pop: Population, cal: Calendar, lines: dict[str, np.ndarray],
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
        "product_id": _labels(p, [x.product_id for x in PRODUCTS]),
        "date": _dates(day),
        "active_users": active,
        "events": events.astype(np.int64),
    })


# ---------------------------------------------------------------- files


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


def _write(frame: pl.DataFrame, path: Path, file_format: str) -> None:
    """Write one table."""
    if file_format == "csv":
        frame.write_csv(path)
    else:
        frame.write_parquet(path)


def _remove_stale_files(out: Path, file_format: str, usage: bool) -> None:
    """Remove table files this run does not rewrite (the other format, usage when skipped), so
    the folder holds exactly one file per table."""
    for name in TABLES:
        for ext in ("csv", "parquet"):
            if ext != file_format or (name == "usage" and not usage):
                (out / f"{name}.{ext}").unlink(missing_ok=True)
