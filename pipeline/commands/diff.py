"""`quota-plan diff PLAN_A PLAN_B`: per-rep quota changes and account moves between two plans."""

from __future__ import annotations

import argparse

from pipeline.commands.common import add_db_option, require_db
from pipeline.commands.exit_status import ExitStatus


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "diff", help="per-rep quota changes and account moves between two plan versions",
        description="Compare two plan versions (see `quota-plan plans`): every rep whose quota or "
        "number of accounts changed, and every account whose rep changed, with the reason.",
    )
    parser.add_argument("plan_a", help="the earlier plan_id, e.g. P0001")
    parser.add_argument("plan_b", help="the later plan_id, e.g. P0002")
    add_db_option(parser)


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def run(args: argparse.Namespace) -> ExitStatus:
    from pipeline.core import warehouse  # noqa: PLC0415
    from pipeline.plan.diff import diff_plans  # noqa: PLC0415

    require_db(args.db)
    with warehouse.connect(args.db, read_only=True) as con:
        diff = diff_plans(con, args.plan_a, args.plan_b)
    print(f"Quota changes {args.plan_a} -> {args.plan_b}: {len(diff.quota_changes)} reps")
    print(f"{'rep_id':<10} {'segment':<14} {'accounts':>13} {'quota ' + args.plan_a:>14} "
          f"{'quota ' + args.plan_b:>14} {'change':>12} {'change %':>9}")
    for rep, segment, acc_a, acc_b, quota_a, quota_b, change, share in diff.quota_changes:
        accounts = f"{'-' if acc_a is None else acc_a} -> {'-' if acc_b is None else acc_b}"
        pct = "-" if share is None else f"{share:+.1%}"
        print(f"{rep:<10} {segment or '':<14} {accounts:>13} {_money(quota_a):>14} {_money(quota_b):>14} "
              f"{change:>+12,.0f} {pct:>9}")
    print(f"\nAccount moves {args.plan_a} -> {args.plan_b}: {len(diff.account_moves)} accounts")
    print(f"{'account_id':<12} {'segment':<14} {'from':<8} {'to':<8} {'EEV':>12}  reason")
    for account, segment, rep_a, rep_b, eev, reason in diff.account_moves:
        print(f"{account:<12} {segment or '':<14} {rep_a or '-':<8} {rep_b or '-':<8} {_money(eev):>12}  {reason or ''}")
    print(f"\nAdjustments {args.plan_a} -> {args.plan_b}: {len(diff.adjustments)}")
    print(f"{'plan':<6} {'#':>3} {'kind':<16} {'rep_id':<8} {'account_id':<12} {'old':>12} {'new':>12}  by, when: reason")
    for plan, number, kind, rep, account, old, new, reason, by, at in diff.adjustments:
        print(f"{plan:<6} {number:>3} {kind:<16} {rep or '-':<8} {account or '-':<12} {old or '-':>12} {new or '-':>12}  "
              f"{by}, {at:%Y-%m-%d %H:%M}: {reason}")
    return ExitStatus.OK
