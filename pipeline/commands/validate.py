"""`quota-plan validate`: check an input folder (files, source mapping, contract) without planning."""

from __future__ import annotations

import argparse

from pipeline.commands.common import add_config_option, add_output_options, add_source_options, output_of
from pipeline.commands.exit_status import ExitStatus


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "validate", help="check an input folder against the contract and print its data-quality report",
        description="Check the input folder as a plan run would (every file, the source mapping if one is "
        "given, every rule of the input contract) in a scratch DuckDB file that is deleted afterwards, "
        "and print the data-quality report: rows read, set aside by rule, loaded, and what a plan would "
        "do without. Nothing is planned and no DuckDB file of yours is touched. Exit status 0 when the "
        "folder can be planned; 1, with every problem listed on stdout, when it cannot.",
    )
    add_source_options(parser)
    add_config_option(parser)
    add_output_options(parser)


def run(args: argparse.Namespace) -> ExitStatus:
    from pipeline.runner import PlanRunError, validate_inputs  # noqa: PLC0415

    try:
        lines = validate_inputs(args.input, args.config, mapping=args.mapping, output=output_of(args))
    except PlanRunError as exc:
        problems = str(exc).splitlines()
        print(f"Input folder {args.input}: {len(problems)} problem(s); nothing can be planned from it")
        print("\n".join(f"  {line}" for line in problems))
        raise
    print(f"Input folder {args.input}: valid, a plan can be made from it")
    print("\n".join(lines))
    return ExitStatus.OK
