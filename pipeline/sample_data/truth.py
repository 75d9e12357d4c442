"""The ground truth of a sample: what the simulated business really expects of each account and
product at the plan date, and what it actually booked in the following 12 months.

The generator knows its own process, so the truth needs no model:
- true win probability and expected booking: the simulation is run forward from its state on
  the plan date for TRUTH_HORIZON_MONTHS, ``replicas`` times with independent random draws;
  per (account, product) ``p_win`` = share of the replicas in which an expansion on it was won,
  ``expected_booking`` = mean expansion ARR it booked (annual money);
- realised booking: the expansion ARR won in the sample's own history after the plan date (the
  in-year months written to the input files), continued with one more run of the same process
  from the data end to the end of the 12 months when the input files stop earlier.

Rows: every (account, product) of the customers on the plan date (accounts holding at least
one line) with p_win > 0 or a realised booking; new customers of the following year are left
out (no plan can map them). Written as ``truth.csv`` (account_id, product_id, p_win,
expected_booking, realised_booking) with ``truth.json`` (plan date, horizon, replicas) into a
folder beside, never inside, the input folder, so planning never sees it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path

import numpy as np
import polars as pl

from pipeline.sample_data.catalog import EXPANSION, PRODUCTS, WON
from pipeline.sample_data.columns import code_labels
from pipeline.sample_data.holdings import Ledger, SimulationState
from pipeline.sample_data.population import EPOCH, Calendar, Population, _add_months, _day
from pipeline.sample_data.simulation import simulate_step

TRUTH_HORIZON_MONTHS = 12
STEP_MONTHS = 3


def horizon_end(cal: Calendar) -> int:
    """The day after the truth's horizon: plan date + TRUTH_HORIZON_MONTHS."""
    return _day(_add_months(_date(cal.as_of), TRUTH_HORIZON_MONTHS))


def _date(day: int) -> dt.date:
    """The date of a day number."""
    return EPOCH + dt.timedelta(days=int(day))


def steps_between(cal: Calendar, start: int, end: int) -> list[tuple[int, int]]:
    """Simulation steps covering [start, end), cut at the quarters counted from the plan date."""
    bounds = [_day(_add_months(_date(cal.as_of), m)) for m in range(0, TRUTH_HORIZON_MONTHS + 1, STEP_MONTHS)]
    cuts = sorted({start, end, *(b for b in bounds if start < b < end)})
    return list(itertools.pairwise(cuts))


def booked(ledger: Ledger, n: int, start: int, end: int) -> np.ndarray:
    """Expansion ARR won with close day in [start, end), per (account, product)."""
    out = np.zeros((n, len(PRODUCTS)))
    if not ledger.opportunities:
        return out
    o = ledger.opportunity_columns()
    won = (o["type"] == EXPANSION) & (o["stage"] == WON) & (o["close"] >= start) & (o["close"] < end)
    np.add.at(out, (o["account"][won], o["product"][won]), o["amount"][won])
    return out


def run_forward(rng: np.random.Generator, pop: Population, cal: Calendar, state: SimulationState,
                end: int) -> np.ndarray:
    """Run a copy of ``state`` to ``end``; return the expansion ARR it booked per (account, product)."""
    run, ledger = state.copy(), Ledger()
    for t0, t1 in steps_between(cal, state.day, end):
        simulate_step(rng, pop, run.holdings, ledger, run.alive, t0, t1, cal)
    return booked(ledger, pop.n, state.day, end)


def truth_frame(rng: np.random.Generator, pop: Population, cal: Calendar, at_plan: SimulationState,
                at_end: SimulationState, ledger: Ledger, ids: pl.Series, replicas: int) -> pl.DataFrame:
    """The truth table (see the module docstring)."""
    end = horizon_end(cal)
    wins, amounts = np.zeros((pop.n, len(PRODUCTS))), np.zeros((pop.n, len(PRODUCTS)))
    for replica in rng.spawn(replicas):
        booking = run_forward(replica, pop, cal, at_plan, end)
        wins += booking > 0
        amounts += booking
    realised = booked(ledger, pop.n, cal.as_of, min(cal.end, end))
    if at_end.day < end:
        realised += run_forward(rng, pop, cal, at_end, end)
    customer = (at_plan.holdings.product >= 0).any(axis=1)
    acc, product = np.nonzero(customer[:, None] & ((wins > 0) | (realised > 0)))
    return pl.DataFrame({
        "account_id": ids.gather(acc),
        "product_id": code_labels(product, [p.product_id for p in PRODUCTS]),
        "p_win": wins[acc, product] / replicas,
        "expected_booking": np.round(amounts[acc, product] / replicas, 2),
        "realised_booking": np.round(realised[acc, product], 2),
    })


def write_truth(folder: Path, frame: pl.DataFrame, cal: Calendar, replicas: int) -> None:
    """truth.csv and truth.json into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    frame.write_csv(folder / "truth.csv")
    (folder / "truth.json").write_text(json.dumps({
        "as_of": str(_date(cal.as_of)), "horizon_months": TRUTH_HORIZON_MONTHS, "replicas": replicas,
        "rows": frame.height}, indent=2))
