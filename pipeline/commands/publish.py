"""`quota-plan publish`: mark a plan version as the published one (the plan reps are given)."""

from __future__ import annotations

import argparse

from pipeline.commands.common import add_db_option, require_db
from pipeline.commands.exit_status import ExitStatus


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "publish", help="mark a plan version as the published plan",
        description="Mark plan PLAN_ID (see `quota-plan plans`) as the published plan, with a note. "
        "A plan is published once and never modified; refresh drift is measured against the "
        "latest published plan. A plan held for review needs --acknowledge.",
    )
    parser.add_argument("plan_id", metavar="PLAN_ID", help="plan version to publish, e.g. P0003")
    parser.add_argument("--note", required=True, help="why and to whom it was published")
    parser.add_argument("--acknowledge", metavar="TEXT",
                        help="publish a plan held for review (status needs_review) anyway, saying why it can be "
                        "sent as it is; recorded with the plan, which also becomes the current plan")
    add_db_option(parser)


def run(args: argparse.Namespace) -> ExitStatus:
    from pipeline.core import warehouse  # noqa: PLC0415
    from pipeline.plan import store as plan_store  # noqa: PLC0415

    require_db(args.db)
    with warehouse.connect(args.db) as con:
        plan_store.mark_published(con, args.plan_id, args.note, args.acknowledge)
    print(f"Plan {args.plan_id} is now the published plan in {args.db}")
    return ExitStatus.OK
