"""The simulation's state: what each account holds per product line, the ledger of subscription
lines and opportunities recorded so far, one step's renewal bookkeeping, and line pricing."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipeline.sample_data.catalog import LIST_PRICE, PRODUCT_LINES, SEAT_LINES
from pipeline.sample_data.population import NO_DAY, Population


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


@dataclass(frozen=True)
class SimulationState:
    """What the simulation holds on a day: holdings, customers, and that day."""

    holdings: Holdings
    alive: np.ndarray
    day: int

    def copy(self) -> SimulationState:
        """An independent copy (the simulation mutates its state in place)."""
        h = self.holdings
        return SimulationState(Holdings(h.product.copy(), h.seats.copy(), h.arr.copy(), h.start.copy()),
                               self.alive.copy(), self.day)


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


def price(pop: Population, acc: np.ndarray, product: np.ndarray, seats: np.ndarray) -> np.ndarray:
    """ARR of a line: quantity x list price x (1 - the account's discount), rounded to cents."""
    return np.round(seats * LIST_PRICE[product] * (1.0 - pop.discount[acc]), 2)


def opening_seats(rng: np.random.Generator, pop: Population, acc: np.ndarray, line: int, day: np.ndarray,
                   utilisation: tuple[float, float]) -> np.ndarray:
    """Seats bought when a line starts: users / a utilisation drawn in range, at most the seat
    ceiling (1 for flat lines)."""
    if line not in SEAT_LINES:
        return np.ones(len(acc), np.int64)
    wanted = np.ceil(pop.users_on(acc, line, day) / rng.uniform(*utilisation, len(acc))).astype(np.int64)
    return np.maximum(np.minimum(wanted, pop.seat_ceiling[acc]), 1)

