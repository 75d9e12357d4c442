"""`quota-plan approve`: sign off a plan version in review (for one segment or manager, or all)."""

from __future__ import annotations

import argparse

from pipeline.commands.approval_options import add_change_options, change_state
from pipeline.commands.exit_status import ExitStatus


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "approve", help="sign off a plan version in review",
        description="Sign off plan PLAN_ID (in_review) for one segment (--segment) or one manager (--manager), "
        "or, without either, every sign-off still missing; the plan is approved when none is missing "
        "(docs/review.md).",
    )
    add_change_options(parser)
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--segment", help="sign off this segment (review.sign_off: segment)")
    scope.add_argument("--manager", help="sign off the reps of this manager_id (review.sign_off: manager)")


def run(args: argparse.Namespace) -> ExitStatus:
    from pipeline.plan import approval  # noqa: PLC0415

    scope = f"segment:{args.segment}" if args.segment else f"manager:{args.manager}" if args.manager else None
    return change_state(args, lambda con: approval.approve(con, args.plan_id, args.by, args.comment, scope))
