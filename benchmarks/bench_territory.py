"""Benchmark territory assignment and rebalancing at scale (one segment, the heuristic).

    .venv/bin/python benchmarks/bench_territory.py --accounts 1000000 --reps 1000   # large books
    .venv/bin/python benchmarks/bench_territory.py --accounts 600000 --reps 15000   # many small books

Scenarios, each timed and checked against the balance tolerance and anchor share of config/plan.yaml
(as a plan assigns territories):
1. fresh: every account new (no owner), capacity 1 for most reps and 0.5 for every tenth;
2. drift: from the fresh plan's owners, 1% of the accounts get a new EEV (redrawn);
3. noise: from the fresh plan's owners, every account's EEV changes by about 1% (lognormal);
4. departed: from the fresh plan's owners, one rep leaves.
Prints seconds, accounts and EEV moved, the largest deviation from target and the reps outside the
tolerance, next to what single accounts force on any assignment: an account of EEV e is at least
e / (a full-capacity rep's target) - 1 above the target of whichever rep holds it, and each account
above a full-capacity rep's band puts one rep outside the tolerance.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.core.settings import DEFAULT_CONFIG, load_settings  # noqa: E402
from pipeline.plan.territory.assign import BalanceRules, BookLimits, assign_territories  # noqa: E402

SEGMENT = "high_velocity"


def _accounts(ids: list[str], eev: np.ndarray, owners: pl.Series | None) -> pl.DataFrame:
    n = len(ids)
    return pl.DataFrame({
        "account_id": ids, "segment": [SEGMENT] * n, "eev": eev,
        "owner_id": owners if owners is not None else pl.Series([None] * n, dtype=pl.String),
        "locked": np.zeros(n, dtype=bool),
    })


def _scenario(name: str, accounts: pl.DataFrame, reps: pl.DataFrame, limits: BookLimits,
              rules: BalanceRules) -> pl.DataFrame:
    started = time.perf_counter()
    result = assign_territories(accounts, reps, {SEGMENT: limits}, rules)
    seconds = time.perf_counter() - started
    out = result.territories.join(accounts.select("account_id", "eev"), on="account_id")
    per_rep = out.group_by("rep_id").agg(pl.col("eev").sum()).join(reps, on="rep_id")
    target = per_rep["capacity"] * accounts["eev"].sum() / reps["capacity"].sum()
    deviation = (per_rep["eev"] / target - 1).abs()
    full_target = accounts["eev"].sum() / reps["capacity"].sum()
    forced = accounts["eev"].max() / full_target - 1
    forced_out = int((accounts["eev"] > full_target * (1 + rules.tolerance)).sum())
    moved = out.filter(pl.col("moved"))
    print(f"{name:<9} {seconds:8.2f}s  moved {moved.height:>9,} accounts ({moved.height / out.height:6.2%}), "
          f"{moved['eev'].sum() / out['eev'].sum():6.2%} of EEV; largest deviation {float(deviation.max()):6.2%} "
          f"(tolerance {rules.tolerance:.0%}; single accounts force >= {max(forced, 0):.2%}), "
          f"{int((deviation > rules.tolerance + 1e-9).sum()):,} reps outside (forced >= {forced_out:,}); "
          f"method {result.methods['method'][0]}")
    reasons = moved.group_by("reason").len().sort("reason")
    if reasons.height:
        print("          moves by reason: " + ", ".join(f"{r} {n:,}" for r, n in reasons.iter_rows()))
    return result.territories


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    settings = load_settings(DEFAULT_CONFIG).territory
    rules = BalanceRules(settings.balance_tolerance, settings.milp_max_variables, settings.milp_max_nodes,
                         settings.milp_time_limit_seconds, settings.anchor_share)
    rng = np.random.default_rng(args.seed)
    ids = [f"A{i:08d}" for i in range(args.accounts)]
    eev = rng.lognormal(7, 1.2, size=args.accounts)
    capacity = np.where(np.arange(args.reps) % 10 == 9, 0.5, 1.0)
    reps = pl.DataFrame({"rep_id": [f"R{i:05d}" for i in range(args.reps)], "segment": [SEGMENT] * args.reps,
                         "capacity": capacity})
    per_rep = args.accounts / capacity.sum()
    limits = BookLimits(SEGMENT, int(per_rep * 0.5), int(per_rep * 1.5))
    print(f"{args.accounts:,} accounts, {args.reps:,} reps (capacity {capacity.sum():,.0f}), "
          f"book {limits.book_min}-{limits.book_max} per full-capacity rep")

    fresh = _scenario("fresh", _accounts(ids, eev, None), reps, limits, rules)
    owners = fresh["rep_id"]
    redraw = rng.random(args.accounts) < 0.01
    drift = np.where(redraw, rng.lognormal(7, 1.2, size=args.accounts), eev)
    _scenario("drift 1%", _accounts(ids, drift, owners), reps, limits, rules)
    _scenario("noise 1%", _accounts(ids, eev * rng.lognormal(0, 0.01, size=args.accounts), owners), reps, limits,
              rules)
    leaving = reps["rep_id"][0]
    print(f"          books after the fresh plan: {fresh.group_by('rep_id').len()['len'].min():,}-"
          f"{fresh.group_by('rep_id').len()['len'].max():,} accounts; {leaving} leaves with "
          f"{(owners == leaving).sum():,}")
    _scenario("departed", _accounts(ids, eev, owners), reps.filter(pl.col("rep_id") != leaving), limits, rules)


if __name__ == "__main__":
    main()
