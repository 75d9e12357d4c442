"""Benchmark the predicted attainment: the Monte Carlo of the plan year and the SQL that reads it.

    .venv/bin/python benchmarks/bench_forecast.py --accounts 10000 100000 [--draws 2000]

Per size, in its own subprocess (so peak memory is per size): a synthetic plan of N accounts with
the shape of the `make run` sample (2,000 accounts, seed 42: 61% of the accounts in an expansion
segment, high-velocity / mid-market / enterprise 37% / 19% / 6% of all accounts with about 73 / 25 /
14 accounts per rep, 2.65 whitespace items per assigned account; per kind the sample's share of
items, mean p_close, median amount and learned amount CV) written to the work tables the forecast
reads (rep_plan, territories, account_eev, forecast_items), then the real steps timed: territory_shares,
the simulation (load, simulate, write work.rep_booking_draws), quota_factors, quota_contributions,
quotas and attainment_forecast. Prints items, reps, each step's wall and CPU seconds, item-draws
per CPU second of the simulation and the peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]

# the sample's shape (see the module docstring): segment -> (share of all accounts, accounts per rep)
SEGMENTS = {"high_velocity": (0.366, 73), "mid_market": (0.190, 25), "enterprise": (0.056, 14)}
EXTRA_ITEMS_PER_ACCOUNT = 1.65  # items per assigned account = 1 + Poisson(this)
# kind -> (share of items, mean p_close, median amount if won, amount CV)
KINDS = {"seat": (0.47, 0.37, 728.0, 1.49), "upgrade": (0.46, 0.058, 8_770.0, 0.41),
         "cross_sell": (0.07, 0.07, 2_782.0, 0.58)}
P_CLOSE_BETA_A = 0.8  # p_close ~ Beta(a, a (1 - mean) / mean)
AMOUNT_LOG_SIGMA = 1.2  # amounts lognormal around the kind's median


def synthetic_plan(con: object, accounts: int, seed: int) -> None:
    """rep_plan, territories, account_eev and forecast_items of a synthetic plan of `accounts` accounts."""
    rng = np.random.default_rng(seed)
    territories, reps = [], []
    first = 0
    for segment, (share, book) in SEGMENTS.items():
        held = int(accounts * share)
        seg_reps = max(1, round(held / book))
        ids = [f"A{first + i:08d}" for i in range(held)]
        rep_ids = [f"{segment[:2].upper()}{r:05d}" for r in range(seg_reps)]
        owner = rng.integers(0, seg_reps, held)
        territories.append(pl.DataFrame({"account_id": ids, "segment": segment,
                                         "rep_id": pl.Series(rep_ids).gather(owner)}))
        reps.append(pl.DataFrame({"rep_id": rep_ids, "name": rep_ids, "segment": segment, "capacity": 1.0}))
        first += held
    terr = pl.concat(territories).with_columns(previous_rep_id=pl.col("rep_id"), moved=pl.lit(False))
    per_account = 1 + rng.poisson(EXTRA_ITEMS_PER_ACCOUNT, terr.height)
    account = np.repeat(np.arange(terr.height), per_account)
    kind = rng.choice(len(KINDS), size=len(account), p=[k[0] for k in KINDS.values()])
    mean_p, median, cv = (np.array([k[i] for k in KINDS.values()])[kind] for i in (1, 2, 3))
    within = np.arange(len(account)) - np.repeat(np.cumsum(per_account) - per_account, per_account)
    items = pl.DataFrame({
        "account_id": terr["account_id"].gather(account),
        "product_id": pl.Series(within).cast(pl.String).str.zfill(2),
        "kind": pl.Series(list(KINDS)).gather(kind),
        "p_close": rng.beta(P_CLOSE_BETA_A, P_CLOSE_BETA_A * (1 - mean_p) / mean_p),
        "amount_if_won": median * np.exp(AMOUNT_LOG_SIGMA * rng.standard_normal(len(account))),
        "amount_cv": cv,
    })
    eev = items.group_by("account_id").agg(eev=(pl.col("p_close") * pl.col("amount_if_won")).sum())  # noqa: F841
    rep_plan = pl.concat(reps)  # noqa: F841  (these frames are read by the SQL below)
    con.execute("CREATE TABLE work.rep_plan AS SELECT * FROM rep_plan ORDER BY rep_id")
    con.execute("CREATE TABLE work.territories AS SELECT * FROM terr ORDER BY account_id")
    con.execute("CREATE TABLE work.account_eev AS SELECT * FROM eev ORDER BY account_id")
    con.execute("CREATE TABLE work.forecast_items AS SELECT * FROM items ORDER BY account_id, product_id, kind")


def _timer(seconds: dict[str, tuple[float, float]]) -> Callable[[str], contextlib.AbstractContextManager[None]]:
    """A context manager per step that records the step's (wall, CPU) seconds in `seconds`; CPU is the
    process's, all threads (DuckDB's included), the figure to read on a shared machine."""

    @contextlib.contextmanager
    def timed(step: str) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        seconds[step] = (time.perf_counter() - wall, time.process_time() - cpu)

    return timed


def run_one(accounts: int, draws: int, seed: int, workdir: Path) -> dict[str, object]:
    """Build the synthetic plan and time each step (runs inside the per-size subprocess)."""
    sys.path.insert(0, str(ROOT))
    from pipeline.core import warehouse
    from pipeline.core.settings import DEFAULT_CONFIG, load_settings
    from pipeline.plan.forecast import draws_frame, load_territories, simulate_bookings
    from pipeline.staging.state import write_segment_bands

    settings = load_settings(DEFAULT_CONFIG)
    params = settings.sql_params()
    seconds: dict[str, tuple[float, float]] = {}
    with warehouse.connect(workdir / "forecast.duckdb") as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS work")
        write_segment_bands(con, settings)
        synthetic_plan(con, accounts, seed)

        timed = _timer(seconds)
        with timed("territory_shares"):
            warehouse.build_table(con, "territory_shares", params)
        with timed("load items and shares"):
            territories = load_territories(con)
        with timed("simulate"):
            bookings = simulate_bookings(territories, draws, settings.seed)
        with timed("write rep_booking_draws"):
            frame = draws_frame(territories.rep_ids, bookings)  # noqa: F841  (read by the SQL below)
            con.execute("CREATE OR REPLACE TABLE work.rep_booking_draws AS SELECT * FROM frame")
        for step in ("quota_factors", "quota_contributions", "quotas", "attainment_forecast"):
            with timed(step):
                warehouse.build_table(con, step, params)
        shares = con.execute("SELECT segment, attaining_share FROM work.quota_factors ORDER BY ALL").fetchall()
    return {"accounts": accounts, "draws": draws, "items": len(territories.p_close), "reps": len(territories.rep_ids),
            "seconds": seconds, "attaining_share": shares,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def report(result: dict[str, object]) -> None:
    seconds = result["seconds"]
    print(f"\n== {result['accounts']:,} accounts: {result['items']:,} forecast items, {result['reps']:,} reps, "
          f"{result['draws']:,} draws")
    print(f"  {'step':<26} {'wall':>8}   {'CPU':>8}")
    for step, (wall, cpu) in seconds.items():
        print(f"  {step:<26} {wall:8.2f} s {cpu:8.2f} s")
    wall, cpu = (sum(v[i] for v in seconds.values()) for i in (0, 1))
    rate = result["draws"] * result["items"] / seconds["simulate"][1] / 1e6
    print(f"  {'forecast total':<26} {wall:8.2f} s {cpu:8.2f} s   (simulation: {rate:,.0f}M item-draws per CPU second)")
    print(f"  peak memory                {result['peak_mb']:8.0f} MB")
    print("  predicted share attaining at 0.675: "
          + ", ".join(f"{segment} {share:.0%}" for segment, share in result["attaining_share"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, nargs="+", default=[10_000, 100_000], help="sizes to run")
    parser.add_argument("--draws", type=int, default=2_000, help="simulated years (forecast.draws)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic plan")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: run one size, print JSON
    args = parser.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(run_one(args.one, args.draws, args.seed, Path(tmp))))
        return
    for size in args.accounts:
        out = subprocess.run([sys.executable, __file__, "--one", str(size), "--draws", str(args.draws),
                              "--seed", str(args.seed)], check=True, capture_output=True, text=True)
        report(json.loads(out.stdout.strip().splitlines()[-1]))


if __name__ == "__main__":
    main()
