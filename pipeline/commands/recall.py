"""`quota-plan recall`: take a plan version back from review, approval or publication."""

from __future__ import annotations

import argparse

from pipeline.commands.approval_options import add_change_options, report
from pipeline.commands.common import require_db
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
    from pipeline.core import warehouse  # noqa: PLC0415
    from pipeline.plan import approval  # noqa: PLC0415

    require_db(args.db)
    with warehouse.connect(args.db) as con:
        state = approval.recall(con, args.plan_id, args.by, args.comment)
    print(report(args.db, state, args.by, args.comment))
    return ExitStatus.OK
