"""`quota-plan adjust PLAN_ID --from FILE --note ...`: hand changes to a plan as a new plan version,
with an audit trail (docs/adjustments.md)."""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from pipeline.commands.common import add_db_option, require_db
from pipeline.commands.exit_status import ExitStatus


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "adjust", help="apply an adjustments file to a plan as a new plan version",
        description="Apply the adjustments in FILE (CSV, YAML, or the 'New adjustments' sheet of the plan's "
        "workbook; columns kind, rep_id, account_id, value, reason) to plan PLAN_ID: every row is checked "
        "first (all problems listed, nothing written), then a new plan version is written whose parent is "
        "PLAN_ID, with each change in its adjustments table (who, when, why, old and new value), and its "
        "quotas, balance, predicted attainment and tracking recomputed. It becomes the current plan unless "
        "it needs review (exit status 3). Kinds: set_quota, change_quota_pct, move_account, lock_account, "
        "set_capacity, set_factor.",
    )
    parser.add_argument("plan_id", metavar="PLAN_ID", help="the plan version to adjust, e.g. P0003")
    parser.add_argument("--from", dest="source", required=True, type=Path, metavar="FILE",
                        help="the adjustments file: .csv, .yaml/.yml or the plan's workbook .xlsx")
    parser.add_argument("--note", required=True, help="why these adjustments are made (kept with the new version)")
    parser.add_argument("--by", default=None,
                        help="who makes them, for the audit trail (default: the operating-system user)")
    add_db_option(parser)


def _user() -> str:
    """The operating-system user (the audit trail's default `--by`); 'unknown' where there is none."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def run(args: argparse.Namespace) -> ExitStatus:
    from pipeline.plan.adjustments.apply import adjust_plan  # (dagster: keep --help fast)

    require_db(args.db)
    result = adjust_plan(args.db, args.plan_id, args.source, args.note, args.by or _user())
    audit = [dict(zip(result.audit.columns, row, strict=True)) for row in result.audit.rows]
    print(f"Plan {result.plan_id} written from {result.parent_id} with {len(audit)} adjustments from {args.source}")
    for a in audit:
        target = " ".join(x for x in (a["rep_id"], a["account_id"]) if x)
        print(f"  row {a['source_row']:>3} {a['kind']:<16} {target:<18} {a['old_value'] or '-'} -> "
              f"{a['new_value'] or '-'}  ({a['reason']})")
    off_rule = [dict(zip(result.against_rule.columns, r, strict=True)) for r in result.against_rule.rows]
    off_rule = [r for r in off_rule if r["difference"]]
    print(f"\nQuota against factor x territory EEV (the plan's rule): {len(off_rule)} reps differ")
    if off_rule:
        print(f"{'rep_id':<10} {'segment':<14} {'territory EEV':>14} {'factor':>7} {'by rule':>12} {'quota':>12} "
              f"{'difference':>12} {'diff %':>8}")
    for r in off_rule:
        share = "-" if r["difference_share"] is None else f"{r['difference_share']:+.1%}"
        print(f"{r['rep_id']:<10} {r['segment']:<14} {_money(r['territory_eev']):>14} {r['segment_factor']:>7.3f} "
              f"{_money(r['quota_by_rule']):>12} {_money(r['quota']):>12} {r['difference']:>+12,.0f} {share:>8}")
    print(f"\nExports of plan {result.plan_id} in {result.exports}")
    for line in result.decision.warnings:
        print(f"warning: {line}")
    if result.decision.current:
        print(f"Plan {result.plan_id} is now the current plan")
        return ExitStatus.OK
    print(f"Plan {result.plan_id} needs review and is not current:")
    for line in result.decision.reasons:
        print(f"  {line}")
    return ExitStatus.NOT_CURRENT
