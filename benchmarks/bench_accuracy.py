"""Oracle accuracy benchmark: plan a synthetic book whose truth is known, and score the plan.

    .venv/bin/python benchmarks/bench_accuracy.py --accounts 2000 20000 --seeds 1 2 3

For every size and seed: `generate_sample` writes the input files and, beside them, the truth
(`pipeline.sample_data.truth`: per account and product the true win probability and expected
booking on the plan date, and what was booked in the following 12 months); the whole plan runs
as of that date with the default settings; then, on the plan's whitespace items (an item
without a truth row has p_win 0 and booked 0):

- auc / truth_auc: ROC AUC of p_close, and of the true p_win, for "booked in the 12 months";
- ece: expected calibration error of p_close for the same outcome (10 bins);
- spearman: rank correlation of account EEV with the account's true expected booking (every
  customer on the plan date);
- coverage: share of the true expected booking that falls on the map's items;
- eev/real: total EEV / total realised booking of the customers on the plan date;
- per quota scheme (eev = the plan's quotas; flat by rep capacity and acv_proportional by
  territory ACV, each with the same total per segment): share of reps whose realised bookings
  reach their quota, and the coefficient of variation of attainment (lower = fairer); and, as
  the floor no forecast can beat, oracle: shared by the territories' true expected bookings.
  Twice: on the plan's territories (balanced on EEV per unit of capacity, so EEV and flat
  quotas nearly coincide there) and, prefixed ``acv_books_``, on territories a spreadsheet team
  makes without EEV from the same reps and accounts: inside each segment the accounts, largest
  ACV first, each go to the rep with the least ACV per unit of capacity so far (ties: rep id).
  There the eev quota is the segment's quota total shared by the territories' EEV.

Prints one row per size and seed, with the wall seconds of the model's steps (from the Dagster
run's step events) and of the whole plan, and writes nothing into the repository.
"""

from __future__ import annotations

import argparse
import heapq
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_plan import step_seconds
from models.metrics import expected_calibration_error
from pipeline.core import warehouse

SCHEMES = ("eev", "flat", "acv_proportional", "oracle")
ACV_BOOKS = "acv_books_"  # prefix of the figures on the territories balanced on ACV
TIMED_STEPS = ("usage_features", "item_features", "close_probability_model", "item_scores")  # the model's steps


def plan_frames(db: Path) -> dict[str, pl.DataFrame]:
    """The plan tables the scores need."""
    with warehouse.connect(db, read_only=True) as con:
        return {
            "items": con.sql("SELECT account_id, product_id, p_close, eev FROM main.whitespace_items").pl(),
            "accounts": con.sql("SELECT account_id, acv, eev FROM main.account_eev WHERE acv > 0").pl(),
            "territories": con.sql("SELECT account_id, rep_id FROM main.territories").pl(),
            "quotas": con.sql("SELECT rep_id, segment, capacity, quota_unrounded AS quota FROM main.quotas").pl(),
        }


def acv_books(territories: pl.DataFrame, accounts: pl.DataFrame, reps: pl.DataFrame) -> pl.DataFrame:
    """Territories balanced on current ACV per unit of capacity inside each segment, without EEV:
    the accounts of the plan's territories, largest ACV first (ties: account id), each dealt to
    the segment's rep with the least ACV per unit of capacity so far (ties: rep id)."""
    books = (territories.join(reps.select("rep_id", "segment"), on="rep_id")
             .join(accounts.select("account_id", "acv"), on="account_id", how="left").fill_null(0))
    dealt = []
    for segment in sorted(reps["segment"].unique().to_list()):
        team = reps.filter(pl.col("segment") == segment).sort("rep_id")
        heap = [(0.0, rep, capacity) for rep, capacity in team.select("rep_id", "capacity").rows()]
        heapq.heapify(heap)
        for account, acv in books.filter(pl.col("segment") == segment).sort(
                [pl.col("acv"), pl.col("account_id")], descending=[True, False]).select("account_id", "acv").rows():
            load, rep, capacity = heapq.heappop(heap)
            dealt.append((account, rep))
            heapq.heappush(heap, (load + acv / capacity, rep, capacity))
    return pl.DataFrame(dealt, schema={"account_id": pl.String, "rep_id": pl.String}, orient="row")


def quota_schemes(plan: dict[str, pl.DataFrame], territories: pl.DataFrame, per_account: pl.DataFrame,
                  plan_quotas: bool) -> dict[str, tuple[float, float]]:
    """(share of reps attaining, attainment CV) per scheme, on the realised bookings of each rep's
    ``territories``; eev = the plan's quotas (``plan_quotas``) or the segment's quota total shared
    by the territories' EEV."""
    per_rep = (territories.join(plan["accounts"].select("account_id", "acv", "eev"), on="account_id", how="left")
               .join(per_account, on="account_id", how="left").fill_null(0)
               .group_by("rep_id").agg(pl.col("acv", "eev", "realised", "true_expected").sum()))
    reps = plan["quotas"].join(per_rep, on="rep_id", how="left").fill_null(0).filter(pl.col("quota") > 0)
    total = pl.col("quota").sum().over("segment")

    def shared(column: str) -> pl.Expr:
        return total * pl.col(column) / pl.col(column).sum().over("segment")

    quotas = {"eev": pl.col("quota") if plan_quotas else shared("eev"),
              "flat": shared("capacity"),
              "acv_proportional": shared("acv"),
              "oracle": shared("true_expected")}
    out = {}
    for scheme, quota in quotas.items():
        attainment = reps.select(pl.col("realised") / quota).to_series().to_numpy()
        out[scheme] = (float(np.mean(attainment >= 1)), float(np.std(attainment) / np.mean(attainment)))
    return out


def score(db: Path, truth: pl.DataFrame) -> dict[str, float]:
    """Every figure of one plan against its truth."""
    plan = plan_frames(db)
    items = plan["items"].join(truth, on=["account_id", "product_id"], how="left").fill_null(0)
    booked = (items["realised_booking"] > 0).to_numpy()
    per_account = truth.group_by("account_id").agg(true_expected=pl.col("expected_booking").sum(),
                                                   realised=pl.col("realised_booking").sum())
    accounts = plan["accounts"].join(per_account, on="account_id", how="left").fill_null(0)
    figures = {
        "auc": roc_auc_score(booked, items["p_close"]),
        "truth_auc": roc_auc_score(booked, items["p_win"]),
        "ece": expected_calibration_error(booked.astype(np.int64), items["p_close"].to_numpy()),
        "spearman": spearmanr(accounts["eev"], accounts["true_expected"]).statistic,
        "coverage": items["expected_booking"].sum() / truth["expected_booking"].sum(),
        "eev_to_realised": accounts["eev"].sum() / accounts["realised"].sum(),
    }
    reps = plan["quotas"].filter(pl.col("quota") > 0)
    books = {"": (plan["territories"], True),
             ACV_BOOKS: (acv_books(plan["territories"], plan["accounts"], reps), False)}
    for prefix, (territories, plan_quotas) in books.items():
        for scheme, (attaining, cv) in quota_schemes(plan, territories, per_account, plan_quotas).items():
            figures[f"{prefix}{scheme}_attaining"], figures[f"{prefix}{scheme}_cv"] = attaining, cv
    return figures


def run_one(accounts: int, seed: int, workdir: Path) -> dict[str, float]:
    """Generate with the truth, plan, score."""
    import dagster as dg

    from pipeline.core.settings import DEFAULT_CONFIG
    from pipeline.runner import run_plan
    from pipeline.sample_data import generate_sample

    generate_sample(workdir / "input", accounts=accounts, seed=seed, file_format="parquet", truth=workdir / "truth")
    started = time.perf_counter()
    instance = dg.DagsterInstance.ephemeral()
    outcome = run_plan(workdir / "input", DEFAULT_CONFIG, workdir / "plan.duckdb", instance=instance)
    plan_s = time.perf_counter() - started
    steps = step_seconds(instance, outcome.dagster_run_id)
    figures = score(outcome.db, pl.read_csv(workdir / "truth" / "truth.csv"))
    return {**figures, **{f"{step}_s": steps.get(step, float("nan")) for step in TIMED_STEPS}, "plan_s": plan_s}


COLUMNS = ("auc", "truth_auc", "ece", "spearman", "coverage", "eev_to_realised",
           *(f"{b}{s}_{m}" for b in ("", ACV_BOOKS) for s in SCHEMES for m in ("attaining", "cv")),
           *(f"{step}_s" for step in TIMED_STEPS), "plan_s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    print("| accounts | seed | " + " | ".join(COLUMNS) + " |")
    print("|---:|---:|" + "---:|" * len(COLUMNS))
    for accounts in args.accounts:
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as tmp:
                figures = run_one(accounts, seed, Path(tmp))
            print(f"| {accounts:,} | {seed} | " + " | ".join(f"{figures[c]:.3f}" for c in COLUMNS) + " |", flush=True)


if __name__ == "__main__":
    main()
