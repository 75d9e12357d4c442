"""The Monte Carlo of the plan year: every rep's simulated bookings, as plain functions (no Dagster).

In one simulated year (a draw) each item of work.forecast_items is won with probability p_close,
independently of the other items and of the other draws, and a win books a gamma-distributed
amount with mean amount_if_won and coefficient of variation amount_cv (shape 1 / cv^2, scale
amount_if_won x cv^2; cv = 0 books amount_if_won exactly). The gamma is the usual law of a positive
amount with a given mean and spread (its two parameters match the two moments; cv = 1 is the
exponential). A rep is credited its share (work.territory_shares) of what each item of an account
it holds books, so a rep's expected bookings are sum(share x p_close x amount_if_won) = its territory
EEV, and P(attain) for any factor comes from the same draws (quota = factor x territory EEV).

Vectorised over items, one draw at a time, the items of one amount spread (one kind) together, so
each won amount is a gamma of one shape (numpy draws those several times faster than a gamma per
item); a rep's credit is a bincount over the won items only. Memory: a few arrays of the items plus
the draws x reps result. The draws come in blocks of DRAW_BLOCK, each from its own seeded generator
(children of one SeedSequence), run side by side on the cores (numpy's generators and comparisons
release the GIL): the same inputs and seed give the same draws bit for bit, whatever the cores.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

from models.threads import map_in_threads

ITEMS_SQL = """
SELECT p_close, amount_if_won, amount_cv FROM work.forecast_items ORDER BY account_id, product_id, kind
"""
REPS_SQL = "SELECT rep_id FROM work.rep_plan ORDER BY rep_id"
# (rep, item, share) credits: the items in ITEMS_SQL's order, the reps in REPS_SQL's
SHARES_SQL = """
WITH items AS (
    SELECT account_id, row_number() OVER (ORDER BY account_id, product_id, kind) - 1 AS item
    FROM work.forecast_items
),
reps AS (
    SELECT rep_id, row_number() OVER (ORDER BY rep_id) - 1 AS rep FROM work.rep_plan
)
SELECT r.rep, i.item, s.share
FROM work.territory_shares AS s
JOIN items AS i USING (account_id)
JOIN reps AS r USING (rep_id)
WHERE s.share > 0
ORDER BY i.item, r.rep
"""
DRAW_BLOCK = 50  # draws per seeded block: the blocks run side by side, each on its own generator
DRAWS_SCHEMA = {"rep_id": pl.String, "draw": pl.Int32, "bookings": pl.Float64}


@dataclass(frozen=True)
class Territories:
    """What the simulation needs: per item its p_close (0-1), amount_if_won (money) and amount_cv,
    and who is credited with what it books: holder_rep[h, i] / holder_share[h, i] = the rep (index
    into rep_ids) and share of item i's h-th holder (an account has one holder, two across a mid-year
    move; share 0 where an item has fewer holders)."""

    rep_ids: list[str]
    p_close: np.ndarray
    amount_if_won: np.ndarray
    amount_cv: np.ndarray
    holder_rep: np.ndarray
    holder_share: np.ndarray

    def credited(self, items: np.ndarray, booked: np.ndarray) -> np.ndarray:
        """Per rep: the sum of share x `booked` over `items` (item indices, `booked` what each booked)."""
        reps = len(self.rep_ids)
        totals = np.zeros(reps)
        for rep, share in zip(self.holder_rep, self.holder_share, strict=True):
            totals += np.bincount(rep[items], weights=booked * share[items], minlength=reps)
        return totals

    @property
    def expected_bookings(self) -> np.ndarray:
        """Per rep: sum of share x p_close x amount_if_won (= its territory EEV)."""
        return self.credited(np.arange(len(self.p_close)), self.p_close * self.amount_if_won)


def territories_from_arrays(
    rep_ids: list[str], p_close: np.ndarray, amount_if_won: np.ndarray, amount_cv: np.ndarray,
    rep: np.ndarray, item: np.ndarray, share: np.ndarray,
) -> Territories:
    """Territories from item arrays and the (rep, item, share) credits, one per rep x item."""
    order = np.lexsort((rep, item))
    rep, item, share = np.asarray(rep)[order], np.asarray(item)[order], np.asarray(share, float)[order]
    first = np.searchsorted(item, item)  # position of the item's first credit
    holder = np.arange(len(item)) - first  # 0 for the item's first holder, 1 for its second, ...
    layers = int(holder.max()) + 1 if len(item) else 1
    holder_rep = np.zeros((layers, len(p_close)), dtype=np.int64)
    holder_share = np.zeros((layers, len(p_close)))
    holder_rep[holder, item] = rep
    holder_share[holder, item] = share
    return Territories(rep_ids, np.asarray(p_close, float), np.asarray(amount_if_won, float),
                       np.asarray(amount_cv, float), holder_rep, holder_share)


def load_territories(con: duckdb.DuckDBPyConnection) -> Territories:
    """The plan's forecast items, reps and shares (work.forecast_items, rep_plan, territory_shares)."""
    items = con.execute(ITEMS_SQL).fetchnumpy()
    reps = [r[0] for r in con.execute(REPS_SQL).fetchall()]
    positions = con.execute(SHARES_SQL).fetchnumpy()
    return territories_from_arrays(reps, items["p_close"], items["amount_if_won"], items["amount_cv"],
                                   positions["rep"], positions["item"], positions["share"])


@dataclass(frozen=True)
class _AmountClass:
    """The items of one amount spread (one kind of a plan): indices, p_close (float32, compared with
    float32 uniforms: resolution 2^-24), amount_if_won, and the cv of the amount around it."""

    items: np.ndarray
    p_close: np.ndarray
    amount_if_won: np.ndarray
    cv: float


def _amount_classes(territories: Territories) -> list[_AmountClass]:
    """The items grouped by distinct amount_cv, in item order within each."""
    values, inverse = np.unique(territories.amount_cv, return_inverse=True)
    groups = [(float(value), np.flatnonzero(inverse == k)) for k, value in enumerate(values)]
    return [_AmountClass(items, territories.p_close[items].astype(np.float32), territories.amount_if_won[items], cv)
            for cv, items in groups]


def _simulate_block(territories: Territories, classes: list[_AmountClass], draws: int,
                    rng: np.random.Generator) -> np.ndarray:
    """`draws` simulated years from one generator: an array (draws, reps)."""
    result = np.empty((draws, len(territories.rep_ids)))
    for draw in range(draws):  # each draw vectorised over all items, a class at a time
        won, amounts = [np.empty(0, dtype=np.int64)], [np.empty(0)]
        for c in classes:
            hit = np.flatnonzero(rng.random(len(c.items), dtype=np.float32) < c.p_close)
            amount = c.amount_if_won[hit]
            if c.cv > 0:  # gamma with shape 1 / cv^2 and scale cv^2: mean 1, coefficient of variation cv
                amount *= rng.standard_gamma(1.0 / c.cv**2, len(hit)) * c.cv**2
            won.append(c.items[hit])
            amounts.append(amount)
        result[draw] = territories.credited(np.concatenate(won), np.concatenate(amounts))
    return result


def simulate_bookings(territories: Territories, draws: int, seed: int) -> np.ndarray:
    """Simulated bookings of every rep in every draw: an array (draws, reps) of annual money.

    The draws come in blocks of DRAW_BLOCK, block b from the generator of the b-th child of
    SeedSequence(seed): the same draws whatever the number of threads that run the blocks."""
    classes = _amount_classes(territories)
    sizes = [min(DRAW_BLOCK, draws - start) for start in range(0, draws, DRAW_BLOCK)]
    streams = np.random.SeedSequence(seed).spawn(len(sizes))
    blocks = map_in_threads(lambda block: _simulate_block(territories, classes, sizes[block],
                                                          np.random.default_rng(streams[block])), range(len(sizes)))
    return np.concatenate(blocks) if blocks else np.empty((0, len(territories.rep_ids)))


def draws_frame(rep_ids: list[str], bookings: np.ndarray) -> pl.DataFrame:
    """The draws as rows (rep_id, draw 1..N, bookings), ordered by rep_id and draw."""
    draws, reps = bookings.shape
    rep_index = np.repeat(np.arange(reps), draws)
    return pl.DataFrame(
        {"rep_id": pl.Series(rep_ids, dtype=pl.String).gather(rep_index),
         "draw": np.tile(np.arange(1, draws + 1, dtype=np.int32), reps),
         "bookings": bookings.T.ravel()},
        schema=DRAWS_SCHEMA,
    )


def write_booking_draws(con: duckdb.DuckDBPyConnection, draws: int, seed: int) -> Territories:
    """Simulate the plan year `draws` times and write work.rep_booking_draws; returns the input."""
    territories = load_territories(con)
    frame = draws_frame(territories.rep_ids, simulate_bookings(territories, draws, seed))  # noqa: F841
    con.execute("CREATE OR REPLACE TABLE work.rep_booking_draws AS SELECT * FROM frame")
    return territories
