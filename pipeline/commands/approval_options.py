"""Options and output shared by the review verbs (review, approve, recall, publish)."""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable
from typing import TYPE_CHECKING

from pipeline.commands.common import add_db_option, require_db
from pipeline.commands.exit_status import ExitStatus

if TYPE_CHECKING:
    import duckdb

    from pipeline.plan.approval import PlanState


def add_change_options(parser: argparse.ArgumentParser, comment_required: bool = False) -> None:
    """PLAN_ID, --by, --comment and --db of a change of a plan's state."""
    parser.add_argument("plan_id", metavar="PLAN_ID", help="plan version, e.g. P0003 (see `quota-plan plans`)")
    parser.add_argument("--by", default=getpass.getuser(), help="who makes the change (default: the login name)")
    parser.add_argument("--comment", required=comment_required, default="", help="why; stored with the change")
    add_db_option(parser)


def report(db: object, state: PlanState, by: str, comment: str) -> str:
    """Record the change in the Dagster UI (observation of plan_version) and say where the plan stands."""
    from pipeline.defs.plan_states import report_state  # noqa: PLC0415  (dagster: keep --help fast)
    from pipeline.runner import default_instance  # noqa: PLC0415

    report_state(default_instance(db), state, by, comment)
    missing = f"; sign-off still missing: {', '.join(state.missing)}" if state.state == "in_review" else ""
    return f"Plan {state.plan_id} is {state.state} (sign-off by {state.sign_off}){missing}"


def change_state(args: argparse.Namespace, change: Callable[[duckdb.DuckDBPyConnection], PlanState]) -> ExitStatus:
    """Make one change of a plan's state on the DuckDB file `args.db`, record it and print where the plan stands."""
    from pipeline.core import warehouse  # noqa: PLC0415

    require_db(args.db)
    with warehouse.connect(args.db) as con:
        state = change(con)
    print(report(args.db, state, args.by, args.comment))
    return ExitStatus.OK
