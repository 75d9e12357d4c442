"""Benchmark the whole plan against the minimal reference script, side by side.

    .venv/bin/python benchmarks/bench_plan.py --accounts 10000 100000
    .venv/bin/python benchmarks/bench_plan.py --accounts 1000000 --input /tmp/perf1m/input
    .venv/bin/python benchmarks/bench_plan.py --accounts 100000 --usage-from 2024-06-03
    .venv/bin/python benchmarks/bench_plan.py --accounts 1000000 --input /tmp/perf1m/input --refresh

Per size: the sample is generated (Parquet, `--seed`) unless `--input` gives a folder of it;
`--usage-from` keeps only the usage rows dated on or after that day (the usage rows are the
parameter: 3 years of daily usage by default). Then `run_plan` (the same Dagster job as
`quota-plan run`, exports included) and `benchmarks/reference_plan.py` run on the same files,
each in its own subprocess, so peak resident memory is per run. Prints each step's wall time (from
the Dagster run's step events), the whole run, peak memory, the reference's stages, whole run and
peak memory, and the ratios. `--refresh`: then the weekly refresh of that plan (refresh_job with
its newest usage week loaded again, in its own subprocess): its steps, its wall time against the
whole run's, and its peak memory.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = Path(__file__).with_name("reference_plan.py")
INPUT_TABLES = ("accounts", "products", "subscriptions", "opportunities", "reps")


def step_seconds(instance: object, run_id: str) -> dict[str, float]:
    """Wall time of each successful step of a Dagster run, from its step events."""
    steps: dict[str, float] = {}
    for record in instance.get_records_for_run(run_id).records:
        event = record.event_log_entry.dagster_event
        if event is not None and event.is_step_success:
            steps[event.step_key] = event.event_specific_data.duration_ms / 1000
    return steps


def prepare(accounts: int, seed: int, given: Path | None, usage_from: dt.date | None, workdir: Path) -> Path:
    """The input folder of the benchmark: `given` or a generated sample, with usage kept from
    `usage_from` (a filtered copy of the usage file beside links to the other tables)."""
    sys.path.insert(0, str(ROOT))
    import duckdb

    from pipeline.sample_data import generate_sample

    source = given
    if source is None:
        source = workdir / "sample"
        generate_sample(source, accounts=accounts, seed=seed, file_format="parquet")
    if usage_from is None:
        return source
    folder = workdir / "input"
    folder.mkdir()
    for table in INPUT_TABLES:
        (folder / f"{table}.parquet").symlink_to((source / f"{table}.parquet").resolve())
    with duckdb.connect() as con:
        con.execute(f"COPY (SELECT * FROM read_parquet('{source / 'usage.parquet'}') "
                    f"WHERE \"date\" >= DATE '{usage_from.isoformat()}') TO '{folder / 'usage.parquet'}'")
    return folder


def input_rows(folder: Path) -> dict[str, int]:
    """Rows per table of the input folder (Parquet metadata, not a scan)."""
    import duckdb

    with duckdb.connect() as con:
        return {path.stem: con.execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchone()[0]
                for path in sorted(folder.glob("*.parquet"))}


def timed_run(folder: Path, workdir: Path, **job: object) -> dict[str, object]:
    """Run a job of the plan (`run_plan` with `job`, the plan job by default) on the folder into
    workdir/plan.duckdb: wall time, each step's, peak memory and status (inside its own subprocess)."""
    sys.path.insert(0, str(ROOT))
    import dagster as dg

    from pipeline.core.settings import DEFAULT_CONFIG
    from pipeline.runner import run_plan

    instance = dg.DagsterInstance.ephemeral()
    started = time.perf_counter()
    outcome = run_plan(folder, DEFAULT_CONFIG, workdir / "plan.duckdb", instance=instance, **job)
    total = time.perf_counter() - started
    steps = step_seconds(instance, outcome.dagster_run_id)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"plan_s": total, "steps": steps, "peak_mb": peak_mb, "status": outcome.status}


def refresh_one(folder: Path, workdir: Path) -> dict[str, object]:
    """The weekly refresh of the plan timed_run wrote: refresh_job with the newest usage week of the
    folder (by its Monday) loaded again, as `quota-plan refresh --weeks W W` runs it."""
    import duckdb

    with duckdb.connect() as con:
        week = str(con.execute(f"SELECT date_trunc('week', max(\"date\"))::DATE "
                               f"FROM read_parquet('{folder / 'usage.parquet'}')").fetchone()[0])
    return {**timed_run(folder, workdir, job_name="refresh_job", weeks=(week, week)), "week": week}


def last_json(command: list[str]) -> dict[str, object]:
    """Run a command and read the JSON object on the last line of its output."""
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def print_steps(title: str, run: dict[str, object]) -> None:
    print(f"  {title}")
    for step, seconds in sorted(run["steps"].items(), key=lambda kv: -kv[1]):
        print(f"    {step:<34} {seconds:8.2f} s")


def report(accounts: int, rows: dict[str, int], plan: dict[str, object], reference: dict[str, object],
           refresh: dict[str, object] | None) -> None:
    print(f"\n== {accounts:,} accounts ({rows.get('usage', 0):,} usage rows, "
          f"{rows.get('subscriptions', 0):,} subscriptions, {rows.get('opportunities', 0):,} opportunities)")
    print_steps("quota-plan run (run_plan, exports included)", plan)
    print(f"    {'whole run (wall)':<34} {plan['plan_s']:8.2f} s   plan status {plan['status']}")
    print(f"    {'peak memory':<34} {plan['peak_mb']:8.0f} MB")
    print("  reference script (benchmarks/reference_plan.py)")
    for stage in ("features_and_labels", "model", "territories_and_quotas"):
        print(f"    {stage:<34} {reference[stage]:8.2f} s")
    print(f"    {'whole run (wall)':<34} {reference['whole_run']:8.2f} s")
    print(f"    {'peak memory':<34} {reference['peak_mb']:8.0f} MB")
    print(f"  ratio quota-plan / reference: time {plan['plan_s'] / reference['whole_run']:.1f}x, "
          f"peak memory {plan['peak_mb'] / reference['peak_mb']:.1f}x")
    if refresh is not None:
        print_steps(f"weekly refresh (refresh_job, usage week {refresh['week']})", refresh)
        print(f"    {'whole refresh (wall)':<34} {refresh['plan_s']:8.2f} s   "
              f"{refresh['plan_s'] / plan['plan_s']:.0%} of the whole run")
        print(f"    {'peak memory':<34} {refresh['peak_mb']:8.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, nargs="+", default=[10_000, 100_000], help="sizes to run")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--input", type=Path, help="an existing sample folder (Parquet) instead of generating one")
    parser.add_argument("--usage-from", type=dt.date.fromisoformat, help="keep usage rows dated on or after this day")
    parser.add_argument("--refresh", action="store_true",
                        help="also time a weekly refresh (its newest usage week loaded again) of the plan just made")
    # internal: plan (or refresh) this folder into --workdir, print JSON
    parser.add_argument("--plan-one", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--refresh-one", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plan_one or args.refresh_one:
        one = timed_run(args.plan_one, args.workdir) if args.plan_one else refresh_one(args.refresh_one, args.workdir)
        print(json.dumps(one))
        return
    for size in args.accounts:
        with tempfile.TemporaryDirectory() as tmp:
            folder = prepare(size, args.seed, args.input, args.usage_from, Path(tmp))
            plan = last_json([sys.executable, __file__, "--plan-one", str(folder), "--workdir", tmp])
            refresh = (last_json([sys.executable, __file__, "--refresh-one", str(folder), "--workdir", tmp])
                       if args.refresh else None)
            reference = last_json([sys.executable, str(REFERENCE), "--input", str(folder)])
            report(size, input_rows(folder), plan, reference, refresh)


if __name__ == "__main__":
    main()
