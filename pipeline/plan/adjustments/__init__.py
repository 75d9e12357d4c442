"""Adjustments as data: the hand changes an analyst makes to a plan, read from a file, checked,
applied as a new plan version and recorded with who, when and why (docs/adjustments.md).

    reading.py   the adjustments file (CSV, YAML, or the workbook's New adjustments sheet) as rows
    rules.py     every row checked against the parent plan: all errors at once, typed adjustments
    queries.py   the SQL of the adjusted tables, the audit rows and the quotas against the rule
    apply.py     the adjusted plan version: the parent's tables, the changes, the plan's own SQL
                 re-run for what depends on them, the audit table, tracking, exports, review gate

The file's columns (the same in every format): kind, rep_id, account_id, value, reason.
"""

from __future__ import annotations

from pipeline.plan.store import PlanStoreError

COLUMNS = ("kind", "rep_id", "account_id", "value", "reason")
# kind -> what it changes and what `value` holds
KINDS = {
    "set_quota": "the rep's quota, exactly (value: money >= 0)",
    "change_quota_pct": "the rep's quota in the parent plan x (1 + value), rounded to quota_rounding "
                        "(value: a fraction such as 0.10 or 10%, at least -100%)",
    "move_account": "the account's rep (rep_id: the new rep, of the account's segment; no value)",
    "lock_account": "the account's locked flag (value: empty or true to lock, false to unlock; "
                    "rep_id, optional: the rep it is locked to, moved there if needed)",
    "set_capacity": "the rep's capacity (value: a fraction, 0 < value <= 1)",
    "set_factor": "the rep's quota factor instead of its segment's (value: a fraction inside 0.60-0.75 "
                  "unless the plan's settings allow factors outside it)",
}
REP_KINDS = ("set_quota", "change_quota_pct", "set_capacity", "set_factor")  # rep_id required, no account_id
QUOTA_TERM_KINDS = ("set_quota", "change_quota_pct", "set_factor")  # at most one of them per rep and file
SHEET = "New adjustments"  # the workbook sheet `quota-plan adjust --from WORKBOOK.xlsx` reads
ADJUSTED_REASON = "adjustment: "  # territories.reason of an account an adjustment moved: this + its reason


class AdjustmentsError(PlanStoreError):
    """The adjustments file is refused (one line per bad row); nothing was written."""
