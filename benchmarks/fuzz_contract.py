"""Fuzz the input contract: run N seeded corruptions of tests/fixtures/valid through the plan and
count how each ended.

    .venv/bin/python benchmarks/fuzz_contract.py --cases 300 --seed 1
    .venv/bin/python benchmarks/fuzz_contract.py --cases 40 --via cli --kinds cut_mid_row empty_file

Makes the valid plan once, then for case i (kind i in turn, seed S + i; tests/fuzz_inputs.py)
writes the corrupted folder, runs the plan into a copy of the valid plan's DuckDB file and judges
the end (tests/fuzz_judge.py): a clean contract error with the previous plan kept, an accepted plan
whose rows add up, or a failure. Prints one table row per kind (cases, clean errors, accepted
plans, failures, mean seconds per case), then every failure's kind, seed, what was corrupted, the
problems and what the run said (`corrupt(VALID, kind, seed, folder)` writes that folder again).
Exits 1 when a case failed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.commands.common import positive_int
from tests.fuzz_inputs import KINDS, VALID, corrupt, fuzz_cases
from tests.fuzz_judge import ACCEPTED, CLEAN_ERROR, FAILURE, Verdict, make_baseline, run_case


def run(cases: int, seed: int, kinds: tuple[str, ...], via: str) -> tuple[list[Verdict], float]:
    """Every case's verdict, and the seconds the valid plan took."""
    verdicts = []
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        baseline = make_baseline(VALID, Path(tmp))
        baseline_seconds = time.perf_counter() - started
        planned = fuzz_cases(cases, seed, kinds)
        for i, (kind, case_seed) in enumerate(planned, start=1):
            work = Path(tmp) / f"case{i}"
            work.mkdir()
            case = corrupt(VALID, kind, case_seed, work / "input")
            verdicts.append(run_case(work / "input", case, baseline, work, via))
            shutil.rmtree(work)
            print(f"[{i:>{len(str(len(planned)))}}/{len(planned)}] {verdicts[-1].outcome:<13} {case}"[:160],
                  file=sys.stderr, flush=True)
    return verdicts, baseline_seconds


def table(verdicts: list[Verdict]) -> list[str]:
    """Markdown table: per kind (and in all) the cases, clean errors, accepted plans, failures, seconds."""
    by_kind: dict[str, list[Verdict]] = defaultdict(list)
    for verdict in verdicts:
        by_kind[verdict.case.kind].append(verdict)
    lines = ["| corruption | cases | clean errors | accepted plans | failures | s per case |",
             "|---|---:|---:|---:|---:|---:|"]
    for kind, group in [*by_kind.items(), ("all", verdicts)]:
        counts = [sum(v.outcome == outcome for v in group) for outcome in (CLEAN_ERROR, ACCEPTED, FAILURE)]
        mean = sum(v.seconds for v in group) / len(group)
        name = f"**{kind}**" if kind == "all" else kind
        lines.append(f"| {name} | {len(group)} | {' | '.join(map(str, counts))} | {mean:.1f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=positive_int, default=100, help="how many cases (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first case; case i has seed+i (default 0)")
    parser.add_argument("--kinds", nargs="+", choices=tuple(KINDS), default=tuple(KINDS), metavar="KIND",
                        help=f"corruption kinds to run in turn (default all: {', '.join(KINDS)})")
    parser.add_argument("--via", choices=("api", "cli"), default="api",
                        help="run through pipeline.runner.run_plan (api, default) or `quota-plan run` (cli)")
    args = parser.parse_args()
    started = time.perf_counter()
    verdicts, baseline_seconds = run(args.cases, args.seed, tuple(args.kinds), args.via)
    print(f"== {len(verdicts)} cases from seed {args.seed} via {args.via}: {time.perf_counter() - started:.0f} s "
          f"in all, {baseline_seconds:.1f} s for the valid plan made once")
    print("\n".join(table(verdicts)))
    failures = [v for v in verdicts if v.outcome == FAILURE]
    if failures:
        print(f"\n== {len(failures)} failures")
        print("\n".join(str(v) for v in failures))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
