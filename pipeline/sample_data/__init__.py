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

Modules: `catalog` (products, product lines and the constants of the simulated business),
`population` (calendar and the accounts' drawn attributes), `holdings` (what accounts hold and
the ledger of lines and opportunities), `simulation` (the quarter-by-quarter simulation),
`team` (reps and CSMs), `columns` (column builders), `writers` (tables, usage and files),
`truth` (the true win probabilities and bookings of the plan year, written only when asked
for, into a folder beside the input folder).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np

from pipeline.sample_data.columns import account_ids
from pipeline.sample_data.population import Calendar, draw_population
from pipeline.sample_data.simulation import acv_on, open_pipeline, simulate
from pipeline.sample_data.team import build_team
from pipeline.sample_data.truth import truth_frame, write_truth
from pipeline.sample_data.writers import (
    TABLES,
    accounts_frame,
    opportunities_frame,
    products_frame,
    remove_stale_files,
    subscriptions_frame,
    write_table,
    write_usage,
)

__all__ = ["TABLES", "generate_sample"]


def generate_sample(out_dir: str | Path, accounts: int = 2000, seed: int = 42,
                    as_of: dt.date = dt.date(2026, 1, 1),
                    file_format: Literal["csv", "parquet"] = "csv",
                    usage: bool = True, history_years: int = 3, in_year_months: int = 4,
                    progress: Callable[[str], None] | None = None, truth: str | Path | None = None,
                    truth_replicas: int = 40) -> dict[str, int]:
    """Write accounts, products, subscriptions, usage, opportunities, reps (one file per table,
    named TABLE.csv or TABLE.parquet) following the input contract; return rows per table.
    With ``truth``, also write the plan year's ground truth into that folder (``truth_replicas``
    runs of the process; see ``pipeline.sample_data.truth``): never the input folder itself nor
    a folder inside it, so that planning never reads it. The input files do not depend on it."""
    if accounts < 1 or history_years < 1 or in_year_months < 0 or truth_replicas < 1:
        raise ValueError("accounts and history_years must be >= 1, in_year_months >= 0, truth_replicas >= 1")
    if truth is not None and Path(truth).resolve().is_relative_to(Path(out_dir).resolve()):
        raise ValueError(f"the truth folder {truth} must be beside the input folder {out_dir}, not inside it")
    if file_format not in ("csv", "parquet"):
        raise ValueError(f"file_format must be 'csv' or 'parquet', got {file_format!r}")
    say = progress or (lambda _line: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_files(out, file_format, usage)
    cal = Calendar.build(as_of, history_years, in_year_months)
    simulation_rng, usage_rng, truth_rng = np.random.default_rng(seed).spawn(3)
    pop = draw_population(simulation_rng, accounts, cal)
    holdings, ledger, alive, at_plan, at_end = simulate(simulation_rng, pop, cal)
    lines = ledger.subscription_lines()
    acv = acv_on(lines, accounts, cal.as_of)
    team = build_team(simulation_rng, acv)
    open_pipeline(simulation_rng, pop, cal, holdings, ledger, alive, team.owner >= 0)
    ids = account_ids(accounts)
    tables = {
        "products": products_frame(),
        "accounts": accounts_frame(simulation_rng, pop, cal, team, ids, acv),
        "reps": team.reps,
        "subscriptions": subscriptions_frame(lines, ids),
        "opportunities": opportunities_frame(simulation_rng, ledger, team, ids),
    }
    rows: dict[str, int] = {}
    for name, frame in tables.items():
        write_table(frame, out / f"{name}.{file_format}", file_format)
        rows[name] = frame.height
        say(f"{name}: {frame.height:,} rows")
    if usage:
        rows["usage"] = write_usage(usage_rng, pop, cal, lines, ids, out / f"usage.{file_format}", file_format)
        say(f"usage: {rows['usage']:,} rows")
    if truth is not None:
        frame = truth_frame(truth_rng, pop, cal, at_plan, at_end, ledger, ids, truth_replicas)
        write_truth(Path(truth), frame, cal, truth_replicas)
        say(f"truth: {frame.height:,} account x product rows in {truth}")
    return {name: rows[name] for name in TABLES if name in rows}
