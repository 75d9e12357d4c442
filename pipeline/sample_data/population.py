"""The calendar of a sample (days since 1970-01-01, quarterly simulation steps), contract
anniversaries, and the accounts' observed and hidden attributes drawn at the start."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

import numpy as np

from pipeline.sample_data.catalog import INDUSTRIES, MAX_SEAT_SHARE, PRODUCT_LINES, REGIONS, SEAT_LINES

EPOCH = dt.date(1970, 1, 1)
NO_DAY = np.iinfo(np.int32).max  # open-ended line or open opportunity: written as null


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


def draw_population(rng: np.random.Generator, n: int, cal: Calendar) -> Population:
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
