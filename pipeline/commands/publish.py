"""`quota-plan publish`: mark an approved plan version as the published one (the plan reps are given)."""

from __future__ import annotations

import argparse
import getpass

from pipeline.commands.common import add_db_option, require_db
from pipeline.commands.exit_status import ExitStatus


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "publish", help="mark an approved plan version as the published plan",
        description="Mark plan PLAN_ID (see `quota-plan plans`) as the published plan, with a note. "
        "It must be approved (quota-plan review, approve) unless --override says why not. A plan is published "
        "once and never modified; refresh drift is measured against the latest published plan. A plan held for "
        "review needs --acknowledge.",
    )
    parser.add_argument("plan_id", metavar="PLAN_ID", help="plan version to publish, e.g. P0003")
    parser.add_argument("--note", required=True, help="why and to whom it was published")
    parser.add_argument("--acknowledge", metavar="TEXT",
                        help="publish a plan held for review (status needs_review) anyway, saying why it can be "
                        "sent as it is; recorded with the plan, which also becomes the current plan")
    parser.add_argument("--override", metavar="TEXT",
                        help="publish a plan that is not approved, saying why; recorded with the change")
    parser.add_argument("--by", default=getpass.getuser(), help="who publishes (default: the login name)")
    add_db_option(parser)


def run(args: argparse.Namespace) -> ExitStatus:
    from pipeline.commands.approval_options import report  # noqa: PLC0415
    from pipeline.core import warehouse  # noqa: PLC0415
    from pipeline.plan import approval  # noqa: PLC0415

    require_db(args.db)
    with warehouse.connect(args.db) as con:
        state = approval.publish(con, args.plan_id, args.note, args.by, args.acknowledge, args.override)
    report(args.db, state, args.by, args.override or args.note)
    print(f"Plan {args.plan_id} is now the published plan in {args.db}")
    return ExitStatus.OK
