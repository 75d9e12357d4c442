"""The minimal reference plan `bench_plan.py` measures the project against (issue 19, part 8).

    .venv/bin/python benchmarks/reference_plan.py --input DIR [--as-of 2026-01-01]

The same method as the project with none of its safety: no contract checks, no versions, no
exports, no Dagster. In one in-memory DuckDB over the Parquet or CSV files in place:

1. features per account on the plan date and on one training snapshot 12 months before it
   (ACV, products held, tenure, prior expansion wins, 30/90/180-day active users from one pass of
   the usage roll-up over both dates) and the label of the training snapshot (an expansion deal
   won in the 12 months after it);
2. one HistGradientBoostingClassifier fitted on the training snapshot (one thread); EEV on the plan date =
   p(expansion) x the mean won expansion amount of the training year;
3. segments by the ACV bands of config/plan.yaml, territories by a greedy serpentine deal of the
   accounts (by EEV, largest first) to the segment's active expansion reps;
4. quota = the segment's quota_factor x the rep's territory EEV.

Prints one JSON line: the seconds of each stage, the whole run and the peak resident memory.
It writes nothing; it is a yardstick, not a plan.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.core.settings import DEFAULT_CONFIG, load_settings

TABLES = ("accounts", "products", "subscriptions", "usage", "opportunities", "reps")
HORIZON_MONTHS = 12
DEFAULT_FACTOR = 0.675  # a segment whose quota_factor is 'auto' (the reference does not calibrate it)
FEATURES = ("acv", "products_held", "tenure_days", "prior_wins", "users_30d", "users_90d", "users_180d")

FEATURES_SQL = """
WITH snapshots AS (
    SELECT CAST($as_of AS DATE) AS snapshot_date, 'plan' AS role
    UNION ALL SELECT CAST(CAST($as_of AS DATE) - to_months($horizon) AS DATE), 'train'
),
acv AS (
    SELECT s.snapshot_date, x.account_id, sum(x.arr) AS acv, count(DISTINCT x.product_id) AS products_held
    FROM snapshots AS s JOIN subscriptions AS x
        ON x.start_date <= s.snapshot_date AND (x.end_date IS NULL OR x.end_date > s.snapshot_date)
    GROUP BY ALL
),
usage_rollup AS (
    SELECT s.snapshot_date, u.account_id,
        avg(u.active_users) FILTER (WHERE u.date >= s.snapshot_date - 30) AS users_30d,
        avg(u.active_users) FILTER (WHERE u.date >= s.snapshot_date - 90) AS users_90d,
        avg(u.active_users) AS users_180d
    FROM usage AS u JOIN snapshots AS s ON u.date < s.snapshot_date AND u.date >= s.snapshot_date - 180
    GROUP BY ALL
),
deals AS (
    SELECT s.snapshot_date, o.account_id,
        count(*) FILTER (WHERE o.close_date < s.snapshot_date) AS prior_wins,
        max(CASE WHEN o.close_date >= s.snapshot_date
                  AND o.close_date < s.snapshot_date + to_months($horizon) THEN 1 ELSE 0 END) AS label,
        sum(o.amount) FILTER (WHERE o.close_date >= s.snapshot_date
                  AND o.close_date < s.snapshot_date + to_months($horizon)) AS won_amount
    FROM snapshots AS s JOIN opportunities AS o ON o.type = 'expansion' AND o.stage = 'won'
    GROUP BY ALL
)
SELECT s.role, a.account_id, a.acv, a.products_held,
    datediff('day', c.customer_since, s.snapshot_date) AS tenure_days,
    coalesce(d.prior_wins, 0) AS prior_wins, u.users_30d, u.users_90d, u.users_180d,
    coalesce(d.label, 0) AS label, coalesce(d.won_amount, 0) AS won_amount
FROM acv AS a
JOIN snapshots AS s USING (snapshot_date)
JOIN accounts AS c USING (account_id)
LEFT JOIN usage_rollup AS u USING (snapshot_date, account_id)
LEFT JOIN deals AS d USING (snapshot_date, account_id)
ORDER BY s.role, a.account_id
"""


def source(folder: Path, table: str) -> str:
    """DuckDB's reader of the table's file in the folder (Parquet or CSV, read in place)."""
    parquet = folder / f"{table}.parquet"
    return f"read_parquet('{parquet}')" if parquet.exists() else f"read_csv('{folder / f'{table}.csv'}')"


def features(con: duckdb.DuckDBPyConnection, folder: Path, as_of: dt.date) -> dict[str, np.ndarray]:
    """Feature columns, label and won amount of the plan date and the training snapshot."""
    for table in TABLES:
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM {source(folder, table)}")
    frame = con.execute(FEATURES_SQL, {"as_of": as_of, "horizon": HORIZON_MONTHS}).fetchnumpy()
    return {name: np.asarray(values) for name, values in frame.items()}


def serpentine_books(eev: np.ndarray, reps: int) -> np.ndarray:
    """Rep index of each account: accounts by EEV (largest first) dealt 0..n-1, n-1..0, ..."""
    order = np.argsort(-eev, kind="stable")
    position = np.arange(len(eev))
    lap, seat = np.divmod(position, reps)
    rep = np.where(lap % 2 == 0, seat, reps - 1 - seat)
    assigned = np.empty(len(eev), dtype=np.int64)
    assigned[order] = rep
    return assigned


def plan(folder: Path, as_of: dt.date, memory_limit: str) -> dict[str, float]:
    """Run the reference plan; returns the seconds of each stage."""
    settings = load_settings(DEFAULT_CONFIG, as_of=as_of)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{memory_limit}'")
    data = features(con, folder, as_of)
    seconds["features_and_labels"] = time.perf_counter() - started

    started = time.perf_counter()
    x = np.column_stack([data[name].astype(float) for name in FEATURES])
    train, now = data["role"] == "train", data["role"] == "plan"
    with threadpool_limits(limits=1):  # one thread, as the reference measured it
        model = HistGradientBoostingClassifier(random_state=settings.seed).fit(x[train], data["label"][train])
    won = data["won_amount"][train & (data["label"] == 1)]
    eev = model.predict_proba(x[now])[:, 1] * (won.mean() if len(won) else 0.0)
    seconds["model"] = time.perf_counter() - started

    started = time.perf_counter()
    acv, reps = data["acv"][now], con.execute(
        "SELECT segment, count(*) FROM reps WHERE role = 'expansion_rep' AND active GROUP BY ALL").fetchall()
    headcount = dict(reps)
    quotas = 0.0
    for band in settings.segment_table():  # a loop over the segments, not over accounts
        upper = np.inf if band["max_acv"] is None else band["max_acv"]
        members = (acv >= band["min_acv"]) & (acv < upper)
        n_reps = headcount.get(band["segment"], 0)
        if not members.any() or not n_reps:
            continue
        books = np.bincount(serpentine_books(eev[members], n_reps), weights=eev[members], minlength=n_reps)
        quotas += float(((band["quota_factor"] or DEFAULT_FACTOR) * books).sum())
    seconds["territories_and_quotas"] = time.perf_counter() - started
    seconds["total_quota"] = quotas
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=Path, required=True, help="folder of the input tables")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 1, 1), help="the plan date")
    parser.add_argument("--memory-limit", default="3GB", help="DuckDB's memory limit")
    args = parser.parse_args()
    started = time.perf_counter()
    result = plan(args.input, args.as_of, args.memory_limit)
    result["whole_run"] = time.perf_counter() - started
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main()
