"""Benchmark scenarios against a full plan: generate N accounts (with usage), run the whole plan,
then `quota-plan scenarios` with a grid of quota factors into the same file.

    .venv/bin/python benchmarks/bench_scenarios.py --accounts 100000 --vary quota_factor=0.65,0.70,0.75

Prints the full plan's wall time, then each Dagster run of the scenarios (the shared upstream
once, one run per scenario) with its wall time and its share of the full plan, and the batch's
total. Every run uses the shipped settings (config/plan.yaml).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--vary", action="append", default=[], help="as quota-plan scenarios --vary")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import dagster as dg

    from pipeline.core.settings import DEFAULT_CONFIG, load_settings
    from pipeline.plan.scenario_runs import run_scenarios
    from pipeline.plan.scenarios import grid
    from pipeline.runner import run_plan
    from pipeline.sample_data import generate_sample

    with tempfile.TemporaryDirectory() as tmp:
        data, db = Path(tmp) / "input", Path(tmp) / "plan.duckdb"
        started = time.perf_counter()
        generate_sample(data, accounts=args.accounts, seed=args.seed, file_format="parquet")
        print(f"{args.accounts:,} accounts generated in {time.perf_counter() - started:.1f} s", flush=True)
        instance = dg.DagsterInstance.ephemeral()
        started = time.perf_counter()
        outcome = run_plan(data, DEFAULT_CONFIG, db, instance=instance)
        full = time.perf_counter() - started
        print(f"full plan (plan_job, {outcome.plan_id}, {outcome.status}): {full:.1f} s", flush=True)
        scenarios = grid(args.vary or ["quota_factor=0.65,0.70,0.75"])
        started = time.perf_counter()
        batch = run_scenarios(data, load_settings(DEFAULT_CONFIG), db, scenarios, instance=instance)
        total = time.perf_counter() - started
        records = [r for r in instance.get_run_records() if r.dagster_run.job_name.startswith("scenario")]
        names = iter(name for name, _plan in batch.drafts)
        for record in sorted(records, key=lambda r: r.start_time):
            seconds = record.end_time - record.start_time
            job = record.dagster_run.job_name
            label = "shared upstream (ingestion, model, EEV)" if job == "scenario_base_job" else next(names)
            print(f"  {label:<42} {seconds:7.1f} s  {seconds / full:5.0%} of the full plan")
        print(f"scenarios, {len(scenarios)} drafts in all: {total:.1f} s "
              f"({total / len(scenarios):.1f} s a scenario = {total / len(scenarios) / full:.0%} of the full plan)")


if __name__ == "__main__":
    main()
