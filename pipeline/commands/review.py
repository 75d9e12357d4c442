"""`quota-plan review`: send a plan version to review (draft or recalled -> in_review)."""

from __future__ import annotations

import argparse

from pipeline.commands.approval_options import add_change_options, change_state
from pipeline.commands.exit_status import ExitStatus


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "review", help="send a plan version to review",
        description="Move plan PLAN_ID from draft (or recalled) to in_review: a new review round, in which "
        "every sign-off (review.sign_off: the plan, each segment or each manager) is needed again "
        "(docs/review.md).",
    )
    add_change_options(parser)


def run(args: argparse.Namespace) -> ExitStatus:
    from pipeline.plan import approval  # noqa: PLC0415

    return change_state(args, lambda con: approval.send_to_review(con, args.plan_id, args.by, args.comment))
