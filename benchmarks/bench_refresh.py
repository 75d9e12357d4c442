"""Benchmark the weekly refresh against the full run: does adding one week of usage to three
years of history cost in proportion to the week?

    .venv/bin/python benchmarks/bench_refresh.py --accounts 100000

Generates the sample (parquet), keeps usage sorted by date (as a weekly-appended export is),
runs plan_job on the history without the last week, then adds that week to the file and
runs refresh_job for that week only. Prints the usage rows of the history and of the week,
the usage-load step and the whole run for both, and every step of the refresh.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dagster as dg  # noqa: E402
import duckdb  # noqa: E402

from benchmarks.bench_plan import step_seconds  # noqa: E402
from pipeline.core.settings import DEFAULT_CONFIG, load_settings  # noqa: E402
from pipeline.ingestion.usage_weeks import changed_weeks, usage_weeks  # noqa: E402
from pipeline.runner import run_plan  # noqa: E402
from pipeline.sample_data import generate_sample  # noqa: E402


def write_usage(source: Path, target: Path, before: dt.date | None) -> int:
    """Usage rows (dated before `before`, or all) written sorted by date; returns the rows."""
    where = "WHERE date < ?" if before else ""
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * FROM read_parquet(?) {where} ORDER BY date, account_id, product_id) "
                f"TO '{target}' (FORMAT parquet)", [str(source), *([before] if before else [])])
    return con.execute("SELECT count(*) FROM read_parquet(?)", [str(target)]).fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data, generated = work / "input", work / "generated"
        generate_sample(generated, accounts=args.accounts, seed=args.seed, file_format="parquet")
        data.mkdir()
        for path in generated.iterdir():
            if path.name != "usage.parquet":
                path.rename(data / path.name)
        weeks = usage_weeks(load_settings().operations.usage_start)
        with duckdb.connect() as con:
            newest = con.execute("SELECT max(date) FROM read_parquet(?)", [str(generated / "usage.parquet")]).fetchone()[0]
        week = weeks.get_partition_key_for_timestamp(
            dt.datetime.combine(newest, dt.time(), tzinfo=dt.UTC).timestamp())
        history = write_usage(generated / "usage.parquet", data / "usage.parquet", dt.date.fromisoformat(week))

        instance, db = dg.DagsterInstance.ephemeral(), work / "plan.duckdb"
        started = time.perf_counter()
        full = run_plan(data, DEFAULT_CONFIG, db, instance=instance)
        full_s = time.perf_counter() - started
        full_steps = step_seconds(instance, full.dagster_run_id)

        total = write_usage(generated / "usage.parquet", data / "usage.parquet", None)
        started = time.perf_counter()
        detected = changed_weeks(weeks, data, db)  # what the schedule / sensor / CLI would load
        detect_s = time.perf_counter() - started
        started = time.perf_counter()
        refresh = run_plan(data, DEFAULT_CONFIG, db, instance=instance, job_name="refresh_job", weeks=(week, week))
        refresh_s = time.perf_counter() - started
        refresh_steps = step_seconds(instance, refresh.dagster_run_id)

    print(f"== {args.accounts:,} accounts: {history:,} usage rows of history, "
          f"{total - history:,} in the new week {week} ({(total - history) / history:.2%} of the history)")
    print(f"  usage load (raw_usage)    full {full_steps['raw_usage']:8.2f} s   refresh {refresh_steps['raw_usage']:8.2f} s"
          f"   ratio {refresh_steps['raw_usage'] / full_steps['raw_usage']:.2%}")
    print(f"  whole run (wall)          full {full_s:8.2f} s   refresh {refresh_s:8.2f} s"
          f"   ratio {refresh_s / full_s:.2%}")
    print(f"  changed-week detection    {detect_s:8.2f} s  (one scan of the usage file; loads {detected[0]} .. "
          f"{detected[1]}, the new week {week} onwards)")
    print("  refresh steps:")
    for step, seconds in sorted(refresh_steps.items(), key=lambda kv: -kv[1]):
        print(f"    {step:<40} {seconds:8.2f} s  (full run {full_steps.get(step, 0):8.2f} s)")


if __name__ == "__main__":
    main()
