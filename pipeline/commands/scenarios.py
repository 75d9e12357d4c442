"""`quota-plan scenarios`: plan setting variants side by side as drafts, compare them, promote one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.commands.common import add_input_options, add_output_options, note, output_of, require_db
from pipeline.commands.exit_status import ExitStatus

ACTIONS = ("run", "show", "promote")


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "scenarios", help="plan scenarios side by side as drafts, compare them, promote one",
        description="run (default): ingest and train once, then plan every scenario from the reps on as a draft "
        "plan version (never current) and print the comparison (per scenario and segment: quota, quota against "
        "the trailing 12 months' bookings, balance, moves against the current plan, predicted share of reps "
        "attaining); the comparison is also written as CSV, workbook and chart in "
        "exports/<db stem>/scenarios/<batch>/. show [BATCH]: the comparison of a batch (default the latest). "
        "promote NAME: plan scenario NAME (or draft plan id) again, tracked and exported, and make it current "
        "through the review gate (exit 3 when it needs review). See docs/scenarios.md.",
    )
    parser.add_argument("action", nargs="?", choices=ACTIONS, default="run", help="run, show or promote")
    parser.add_argument("name", nargs="?", metavar="NAME", help="show: the batch id; promote: the scenario")
    parser.add_argument("--vary", action="append", default=[], metavar="KEY=V1,V2",
                        help="values of one setting (quota_factor, reps.SEGMENT=+N, segments.SEGMENT.book_max, "
                        "territory.balance_tolerance, ...); several --vary make every combination")
    parser.add_argument("--file", type=Path, help="YAML file of named scenarios: scenarios: {NAME: {KEY: VALUE}}")
    add_input_options(parser)
    add_output_options(parser)


def run(args: argparse.Namespace) -> ExitStatus:
    if args.action == "promote":
        return _promote(args)
    if args.action == "show":
        return _show(args, args.name)
    return _run(args)


def _run(args: argparse.Namespace) -> ExitStatus:
    from pipeline.core.settings import load_settings  # noqa: PLC0415
    from pipeline.plan.scenario_runs import run_scenarios  # noqa: PLC0415
    from pipeline.plan.scenarios import ScenarioError, from_file, grid  # noqa: PLC0415

    if args.name:
        raise ScenarioError(f"scenarios run takes no NAME (got {args.name!r}); did you mean `scenarios promote`?")
    scenarios = (from_file(args.file) if args.file else []) + (grid(args.vary) if args.vary else [])
    settings = load_settings(args.config)
    note(args, f"Planning {len(scenarios)} scenarios from {args.input} into {args.db}")
    batch = run_scenarios(args.input, settings, args.db, scenarios, mapping=args.mapping, output=output_of(args))
    return _show(args, batch.batch_id)


def _show(args: argparse.Namespace, batch_id: str | None) -> ExitStatus:
    from pipeline.core import warehouse  # noqa: PLC0415
    from pipeline.core.settings import load_settings  # noqa: PLC0415
    from pipeline.exports.scenario_comparison import (  # noqa: PLC0415
        comparison_folder,
        comparison_text,
        write_comparison,
    )
    from pipeline.plan.scenario_compare import scenario_comparison  # noqa: PLC0415
    from pipeline.plan.scenario_runs import latest_batch  # noqa: PLC0415

    require_db(args.db)
    with warehouse.connect(args.db, read_only=True) as con:
        batch_id = batch_id or latest_batch(con)
        comparison = scenario_comparison(con, batch_id)
    files = write_comparison(comparison, comparison_folder(args.db, batch_id), load_settings(args.config).exports)
    print(f"Scenarios of batch {batch_id} (draft plans, none current)")
    print(comparison_text(comparison))
    print(f"\nComparison: {files.page} (chart and table), {files.workbook}, {files.csv}")
    return ExitStatus.OK


def _promote(args: argparse.Namespace) -> ExitStatus:
    from pipeline.plan.scenario_runs import promote  # noqa: PLC0415
    from pipeline.plan.scenarios import ScenarioError  # noqa: PLC0415

    if not args.name:
        raise ScenarioError("scenarios promote needs the scenario's NAME (or its draft plan id)")
    require_db(args.db)
    outcome = promote(args.input, args.db, args.name, mapping=args.mapping, output=output_of(args))
    if not outcome.current:
        print(f"quota-plan scenarios: plan {outcome.plan_id} needs review: " + "; ".join(outcome.reasons),
              file=sys.stderr)
        print(f"Scenario {args.name!r} planned as {outcome.plan_id}, held for review (not current)")
        return ExitStatus.NOT_CURRENT
    print(f"Scenario {args.name!r} planned as {outcome.plan_id}, now the current plan")
    return ExitStatus.OK
