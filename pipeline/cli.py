"""`quota-plan`: the command line. Each verb runs the same Dagster assets the UI shows;
the verbs live in pipeline/commands/."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pipeline.commands import VERBS
from pipeline.core.settings import SettingsError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quota-plan",
        description=(
            "Whitespace-referenced expansion territories and quotas: CRM, billing and usage data in, "
            "a versioned plan in a DuckDB file out."
        ),
        epilog="Run 'quota-plan VERB --help' for the options of a verb.",
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb in VERBS:
        verb.add_parser(verbs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from pipeline.core.run_lock import WarehouseBusyError  # noqa: PLC0415
    from pipeline.core.warehouse import WarehouseFileError  # noqa: PLC0415
    from pipeline.exports.sheets import ExportError  # noqa: PLC0415
    from pipeline.plan.diff import PlanNotFoundError  # noqa: PLC0415
    from pipeline.plan.store import PlanStoreError  # noqa: PLC0415
    from pipeline.runner import PlanRunError  # noqa: PLC0415

    command = next(v for v in VERBS if v.__name__.rsplit(".", 1)[-1] == args.verb)
    try:
        command.run(args)
    except (SettingsError, PlanRunError, ExportError, PlanNotFoundError, PlanStoreError, WarehouseBusyError,
            WarehouseFileError, FileNotFoundError) as exc:
        print(f"quota-plan {args.verb}: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
