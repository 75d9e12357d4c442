"""Benchmark the whole plan: generate N accounts (with usage) and time every step.

    .venv/bin/python benchmarks/bench_plan.py --accounts 10000 100000

Prints, per size: generation time, then each asset's wall time (from the Dagster run's step
events), the total, and the peak resident memory of the process. Each size runs in its own
subprocess so peak memory is per size.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def step_seconds(instance: object, run_id: str) -> dict[str, float]:
    """Wall time of each successful step of a Dagster run, from its step events."""
    steps: dict[str, float] = {}
    for record in instance.get_records_for_run(run_id).records:
        event = record.event_log_entry.dagster_event
        if event is not None and event.is_step_success:
            steps[event.step_key] = event.event_specific_data.duration_ms / 1000
    return steps


def run_one(accounts: int, workdir: Path, seed: int) -> dict[str, object]:
    """Generate, plan, and collect step timings (runs inside the per-size subprocess)."""
    sys.path.insert(0, str(ROOT))
    import dagster as dg

    from pipeline.core.settings import DEFAULT_CONFIG
    from pipeline.runner import run_plan
    from pipeline.sample_data import generate_sample

    data = workdir / "input"
    started = time.perf_counter()
    rows = generate_sample(data, accounts=accounts, seed=seed, file_format="parquet")
    generated = time.perf_counter() - started

    instance = dg.DagsterInstance.ephemeral()
    started = time.perf_counter()
    outcome = run_plan(data, DEFAULT_CONFIG, workdir / "plan.duckdb", instance=instance)
    total = time.perf_counter() - started
    steps = step_seconds(instance, outcome.dagster_run_id)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"accounts": accounts, "rows": rows, "generate_s": generated, "plan_s": total,
            "steps": steps, "peak_mb": peak_mb}


def report(result: dict[str, object]) -> None:
    rows = result["rows"]
    print(f"\n== {result['accounts']:,} accounts "
          f"({rows.get('usage', 0):,} usage rows, {rows.get('opportunities', 0):,} opportunities)")
    print(f"  sample generation        {result['generate_s']:8.2f} s")
    for step, seconds in sorted(result["steps"].items(), key=lambda kv: -kv[1]):
        print(f"  {step:<24} {seconds:8.2f} s")
    print(f"  whole plan (wall)        {result['plan_s']:8.2f} s")
    print(f"  peak memory              {result['peak_mb']:8.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, nargs="+", default=[10_000, 100_000], help="sizes to run")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: run one size, print JSON
    args = parser.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(run_one(args.one, Path(tmp), args.seed)))
        return
    for size in args.accounts:
        out = subprocess.run([sys.executable, __file__, "--one", str(size), "--seed", str(args.seed)],
                             check=True, capture_output=True, text=True)
        report(json.loads(out.stdout.strip().splitlines()[-1]))


if __name__ == "__main__":
    main()
