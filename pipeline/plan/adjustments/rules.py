"""Every row of an adjustments file checked against the plan it adjusts, before anything is written.

One error per broken rule, each naming the file, row, column, rule and value; all of them are
raised together (AdjustmentsError, one line each). The rules: a known kind; a reason; for a rep
kind an active expansion rep of the plan and no account; for an account kind an account of the
plan's territories (not self-serve) and, when a rep is named, a rep of the account's segment; a
value of the kind's type and range (a quota not below zero, a capacity in (0, 1], a factor in
the plan's range); one quota change (set_quota, change_quota_pct, set_factor) and one capacity
per rep, one move and one lock per account, a move and a lock of one account naming one rep.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from pipeline.core.settings import QUOTA_FACTOR_RANGE, PlanSettings
from pipeline.plan.adjustments import (
    KINDS,
    QUOTA_TERM_KINDS,
    REP_KINDS,
    AdjustmentsError,
)
from pipeline.plan.adjustments.reading import AdjustmentRow, AdjustmentsFile

NUMBER = re.compile(r"[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?|[+-]?\.\d+")  # 1200000, 1,200,000.50, -0.05, .1
PERCENT = "%"
TRUE, FALSE = ("", "true", "yes", "1"), ("false", "no", "0")

REPS_SQL = "SELECT rep_id, segment FROM plans.quotas WHERE plan_id = $plan_id"
ACCOUNTS_SQL = """
SELECT a.account_id, a.segment, t.rep_id, t.account_id IS NOT NULL AS assigned
FROM plans.account_eev AS a
LEFT JOIN plans.territories AS t USING (plan_id, account_id)
WHERE a.plan_id = $plan_id AND list_contains($account_ids, a.account_id)
"""


@dataclass(frozen=True)
class PlanFacts:
    """What the rules check a file against: the plan's expansion reps (rep_id -> segment), the
    accounts the file names (account_id -> segment, rep, whether it is in a territory) and the
    factor range a set_factor must keep (the plan's settings)."""

    plan_id: str
    reps: dict[str, str]
    accounts: dict[str, tuple[str, str | None, bool]]
    factor_range: tuple[float, float]


@dataclass(frozen=True)
class Adjustment:
    """One checked row: `number` the value as a number (quota, fraction, capacity, factor), `flag`
    the lock of a lock_account, `value` the value as written (for the audit trail)."""

    row: int
    kind: str
    rep_id: str | None
    account_id: str | None
    number: float | None
    flag: bool | None
    value: str
    reason: str


def plan_facts(con: duckdb.DuckDBPyConnection, plan_id: str, settings: PlanSettings,
               rows: list[AdjustmentRow]) -> PlanFacts:
    """The facts of plan `plan_id` the rows need (only the accounts they name are read)."""
    reps = dict(con.execute(REPS_SQL, {"plan_id": plan_id}).fetchall())
    named = sorted({r.account_id for r in rows if r.account_id})
    accounts = {a: (s, r, assigned) for a, s, r, assigned in con.execute(
        ACCOUNTS_SQL, {"plan_id": plan_id, "account_ids": named}).fetchall()} if named else {}
    factor_range = (0.0, 1.0) if settings.allow_factor_outside_range else QUOTA_FACTOR_RANGE
    return PlanFacts(plan_id, reps, accounts, factor_range)


def _number(value: str | float, percent: bool) -> float | None:
    """A number as written (1,200,000 or 0.1; with `percent`, 10% too), else None."""
    if isinstance(value, float):
        return value
    text, scale = value.replace(" ", ""), 1.0
    if percent and text.endswith(PERCENT):
        text, scale = text[:-1], 0.01
    return float(text.replace(",", "")) * scale if NUMBER.fullmatch(text) else None


# kind -> (percent allowed, the rule the number must follow, its wording)
VALUE_RULES: dict[str, tuple[bool, Callable[[float, PlanFacts], bool], str]] = {
    "set_quota": (False, lambda x, _: x >= 0, "quota below zero: a quota is money >= 0"),
    "change_quota_pct": (True, lambda x, _: x >= -1, "quota below zero: a change of at least -100% (-1)"),
    "set_capacity": (True, lambda x, _: 0 < x <= 1, "capacity must be a fraction 0 < x <= 1 of a full book"),
    "set_factor": (True, lambda x, f: f.factor_range[0] <= x <= f.factor_range[1] and x > 0,
                   "factor outside the plan's range"),
}


class _Checker:
    """The checks of one file: errors collected with the file's name and each row's number."""

    def __init__(self, file: AdjustmentsFile, facts: PlanFacts) -> None:
        self.file, self.facts, self.errors = file, facts, []
        self.quota_terms: dict[str, int] = {}
        self.capacities: dict[str, int] = {}
        self.account_rows: dict[tuple[str, str], int] = {}
        self.account_reps: dict[str, tuple[str, int]] = {}

    def error(self, row: AdjustmentRow, column: str, rule: str, value: object) -> None:
        self.errors.append(f"{self.file.path.name} row {row.row}, column {column}: {rule}: {value!r}")

    def check(self, row: AdjustmentRow) -> Adjustment | None:
        if row.kind not in KINDS:
            self.error(row, "kind", f"unknown kind (one of {', '.join(KINDS)})", row.kind)
            return None
        before = len(self.errors)
        if not row.reason:
            self.error(row, "reason", "required: why this change is made (kept in the audit trail)", row.reason)
        if row.kind in REP_KINDS:
            self._rep_row(row)
        else:
            self._account_row(row)
        number, flag = self._value(row)
        if len(self.errors) > before:
            return None
        value = row.value if isinstance(row.value, str) else f"{row.value:g}"
        return Adjustment(row.row, row.kind, row.rep_id or None, row.account_id or None, number, flag, value,
                          row.reason)

    def _known_rep(self, row: AdjustmentRow) -> bool:
        if row.rep_id not in self.facts.reps:
            self.error(row, "rep_id", f"unknown rep (not an active expansion rep of plan {self.facts.plan_id})",
                       row.rep_id)
            return False
        return True

    def _once(self, row: AdjustmentRow, seen: dict, key: object, what: str) -> None:
        if key in seen:
            self.error(row, "kind", f"{what} already changed on row {seen[key]}: one such change per file", row.kind)
        else:
            seen[key] = row.row

    def _rep_row(self, row: AdjustmentRow) -> None:
        if row.account_id:
            self.error(row, "account_id", f"not used by {row.kind} (leave it empty)", row.account_id)
        if not row.rep_id:
            self.error(row, "rep_id", f"required by {row.kind}", row.rep_id)
        elif self._known_rep(row):
            if row.kind in QUOTA_TERM_KINDS:
                self._once(row, self.quota_terms, row.rep_id, f"the quota of rep {row.rep_id}")
            else:
                self._once(row, self.capacities, row.rep_id, f"the capacity of rep {row.rep_id}")

    def _account_row(self, row: AdjustmentRow) -> None:
        account = self.facts.accounts.get(row.account_id)
        if not row.account_id:
            self.error(row, "account_id", f"required by {row.kind}", row.account_id)
        elif account is None:
            self.error(row, "account_id", f"unknown account (not an account of plan {self.facts.plan_id})",
                       row.account_id)
        elif not account[2]:
            self.error(row, "account_id", f"account in segment {account[0]}, which no expansion rep holds",
                       row.account_id)
        if row.kind == "move_account" and not row.rep_id:
            self.error(row, "rep_id", "required by move_account: the rep the account moves to", row.rep_id)
        if row.rep_id and self._known_rep(row) and account is not None and account[2]:
            rep_segment = self.facts.reps[row.rep_id]
            if rep_segment != account[0]:
                self.error(row, "rep_id", f"account in another segment: {row.account_id} is in {account[0]}, "
                           f"rep {row.rep_id} in {rep_segment}", row.rep_id)
        if row.account_id:
            self._once(row, self.account_rows, (row.account_id, row.kind), f"{row.kind} of account {row.account_id}")
            if row.rep_id:
                rep, first = self.account_reps.setdefault(row.account_id, (row.rep_id, row.row))
                if rep != row.rep_id:
                    self.error(row, "rep_id", f"account {row.account_id} goes to rep {rep} on row {first}",
                               row.rep_id)

    def _value(self, row: AdjustmentRow) -> tuple[float | None, bool | None]:
        if row.kind == "move_account":
            if row.value != "":
                self.error(row, "value", "not used by move_account (the new rep is rep_id)", row.value)
            return None, None
        if row.kind == "lock_account":
            text = str(row.value).lower()
            if text not in TRUE + FALSE:
                self.error(row, "value", "lock_account takes true (or empty) to lock, false to unlock", row.value)
            return None, text in TRUE
        percent, rule, wording = VALUE_RULES[row.kind]
        number = _number(row.value, percent)
        if number is None:
            self.error(row, "value", f"not a number{' (or a percentage)' if percent else ''}", row.value)
        elif not rule(number, self.facts):
            low, high = self.facts.factor_range
            self.error(row, "value", wording + (f" {low:g}-{high:g}" if row.kind == "set_factor" else ""), row.value)
        return number, None


def check_adjustments(file: AdjustmentsFile, facts: PlanFacts) -> list[Adjustment]:
    """The rows as checked adjustments, in file order; AdjustmentsError listing every broken rule."""
    checker = _Checker(file, facts)
    checked = [checker.check(row) for row in file.rows]
    if checker.errors:
        raise AdjustmentsError(f"{len(checker.errors)} problem(s) in {file.path.name}, nothing was written:\n"
                               + "\n".join(checker.errors))
    return [a for a in checked if a is not None]
