"""`quota-plan recall`: take a plan version back from review, approval or publication."""

from __future__ import annotations

import argparse

from pipeline.commands.approval_options import add_change_options, change_state
from pipeline.commands.exit_status import ExitStatus


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "recall", help="recall a plan version (in review, approved or published)",
        description="Move plan PLAN_ID from in_review, approved or published to recalled, saying why. A recalled "
        "plan can be sent to review again; a recalled published plan is no longer the published plan "
        "(docs/review.md).",
    )
    add_change_options(parser, comment_required=True)


def run(args: argparse.Namespace) -> ExitStatus:
    from pipeline.plan import approval  # noqa: PLC0415

    return change_state(args, lambda con: approval.recall(con, args.plan_id, args.by, args.comment))
