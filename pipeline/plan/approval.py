"""Review and approval of a plan version: draft -> in_review -> approved -> published, and recalled.

On top of the run's gate (pipeline/plan/store.py: a plan with review reasons is `needs_review`, not
current, until someone acknowledges them) people move a finished plan version through these
states, each change stored in `plans.plan_states` with who, when and a comment:

| command | from | to |
|---|---|---|
| `quota-plan review ID` | draft, recalled (never published) | in_review |
| `quota-plan approve ID [--segment S / --manager M]` | in_review | approved once every sign-off is in |
| `quota-plan publish ID --note` | approved (any state but published with `--override TEXT`) | published |
| `quota-plan recall ID --comment` | in_review, approved, published | recalled |

A plan version with no row is a `draft`. Sign-offs (review.sign_off): one for the plan, one per
segment, or one per manager (reps.manager_id of the plan's reps); `auto` is per manager when the
plan's reps carry a manager_id, else per segment. A sign-off counts for the review round it was
given in (a recalled plan sent to review again needs them again). Publishing still needs
`--acknowledge` for a plan held for review: approval never makes such a plan current silently.
A recalled published plan is no longer THE published plan (refresh drift is measured against the
one published before it) and stays published in plans.published_plans; it is never re-published.
Scenario drafts (status `draft`) and unfinished or failed runs cannot change state.

plans.plan_states: one row per change. Key: seq (increasing over the file). scope is null for a
change of the plan's state; a sign-off is state `signed_off` with scope `plan`, `segment:<name>`
or `manager:<manager_id>`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import duckdb

from pipeline.core.warehouse import table_exists, transaction
from pipeline.plan import store

DRAFT, IN_REVIEW, APPROVED, PUBLISHED, RECALLED = "draft", "in_review", "approved", "published", "recalled"
SIGNED_OFF = "signed_off"
FINISHED = (store.CURRENT_ONCE, store.NEEDS_REVIEW)  # plan_runs.status of versions people can review
ALLOWED_FROM = {
    IN_REVIEW: (DRAFT, RECALLED),
    SIGNED_OFF: (IN_REVIEW,),
    RECALLED: (IN_REVIEW, APPROVED, PUBLISHED),
}
NEXT_STEP = {
    DRAFT: "send it to review first: quota-plan review ID",
    IN_REVIEW: "it is in review: approve it (quota-plan approve ID) or recall it",
    APPROVED: "it is approved: publish it (quota-plan publish ID --note ...) or recall it",
    PUBLISHED: "it is published: recall it, or run a new plan",
    RECALLED: "it was recalled: send it to review again (quota-plan review ID)",
}
SCOPE_SQL = {
    "plan": "SELECT 'plan' AS scope",
    "segment": "SELECT DISTINCT 'segment:' || segment AS scope FROM plans.quotas WHERE plan_id = $plan_id",
    "manager": "SELECT DISTINCT 'manager:' || manager_id AS scope FROM plans.plan_reps "
               "WHERE plan_id = $plan_id AND manager_id IS NOT NULL",
}


@dataclass(frozen=True)
class PlanState:
    """Where a plan version stands: its state, the sign-offs it needs and those still missing."""

    plan_id: str
    state: str
    sign_off: str
    scopes: tuple[str, ...]
    missing: tuple[str, ...]


def _ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """CREATE TABLE IF NOT EXISTS plans.plan_states (
            seq BIGINT PRIMARY KEY, plan_id VARCHAR, state VARCHAR, scope VARCHAR, changed_at TIMESTAMP,
            changed_by VARCHAR, comment VARCHAR)"""
    )
    con.execute("CREATE OR REPLACE VIEW main.plan_states AS SELECT * FROM plans.plan_states")


def _record(con: duckdb.DuckDBPyConnection, plan_id: str, state: str, by: str, comment: str,
            scope: str | None = None) -> None:
    con.execute(
        "INSERT INTO plans.plan_states SELECT coalesce(max(seq), 0) + 1, ?, ?, ?, current_timestamp, ?, ? "
        "FROM plans.plan_states", [plan_id, state, scope, by, comment])


def _sign_off_kind(con: duckdb.DuckDBPyConnection, plan_id: str, settings_json: str | None) -> str:
    """plan, segment or manager: the plan's own review.sign_off, with 'auto' resolved."""
    chosen = json.loads(settings_json or "{}").get("review", {}).get("sign_off", "auto")
    has_managers = table_exists(con, "plans", "plan_reps") and "manager_id" in {
        r[0] for r in con.execute("DESCRIBE plans.plan_reps").fetchall()} and con.execute(
        "SELECT count(manager_id) > 0 FROM plans.plan_reps WHERE plan_id = ?", [plan_id]).fetchone()[0]
    if chosen == "manager" and not has_managers:
        raise store.PlanStoreError(f"plan {plan_id}: review.sign_off is 'manager' but its reps carry no manager_id "
                                   "(an optional column of reps)")
    if chosen == "auto":
        return "manager" if has_managers else "segment"
    return chosen


def plan_state(con: duckdb.DuckDBPyConnection, plan_id: str) -> PlanState:
    """The plan's state and sign-offs (a plan nobody moved yet is a draft)."""
    row = con.execute("SELECT status, settings_json FROM plans.plan_runs WHERE run_id = ?", [plan_id]).fetchone() \
        if table_exists(con, "plans", "plan_runs") else None
    if row is None:
        raise store.PlanStoreError(f"no plan {plan_id} in this DuckDB file (see `quota-plan plans`)")
    kind = _sign_off_kind(con, plan_id, row[1]) if row[0] in FINISHED else "plan"
    scopes = tuple(r[0] for r in con.execute(f"{SCOPE_SQL[kind]} ORDER BY 1", {"plan_id": plan_id}).fetchall()) \
        if row[0] in FINISHED else ()
    if not table_exists(con, "plans", "plan_states"):
        state = DRAFT if store.published_at(con, plan_id) is None else PUBLISHED
        return PlanState(plan_id, state, kind, scopes, scopes)
    state, round_seq = con.execute(
        "SELECT coalesce(arg_max(state, seq), ?), coalesce(max(seq) FILTER (WHERE state = ?), 0) "
        "FROM plans.plan_states WHERE plan_id = ? AND scope IS NULL", [DRAFT, IN_REVIEW, plan_id]).fetchone()
    if state == DRAFT and store.published_at(con, plan_id) is not None:
        state = PUBLISHED  # published before plan states were recorded
    signed = {r[0] for r in con.execute(
        "SELECT scope FROM plans.plan_states WHERE plan_id = ? AND state = ? AND seq > ?",
        [plan_id, SIGNED_OFF, round_seq]).fetchall()}
    return PlanState(plan_id, state, kind, scopes, tuple(s for s in scopes if s not in signed))


def _finished(con: duckdb.DuckDBPyConnection, plan_id: str) -> None:
    """Refuse a version people cannot review: a scenario draft, an unfinished or failed run."""
    status = con.execute("SELECT status FROM plans.plan_runs WHERE run_id = ?", [plan_id]).fetchone()
    if status is None:
        raise store.PlanStoreError(f"no plan {plan_id} in this DuckDB file (see `quota-plan plans`)")
    if status[0] == store.DRAFT:
        raise store.PlanStoreError(f"plan {plan_id} is a scenario draft: promote it first "
                                   "(quota-plan scenarios promote NAME), then review the plan that makes")
    if status[0] not in FINISHED:
        raise store.PlanStoreError(f"{plan_id} is a {status[0]} run, not a finished plan version; only those can be "
                                   "reviewed, approved or published")


def _refuse(current: PlanState, action: str) -> store.PlanStoreError:
    hint = NEXT_STEP[current.state].replace("ID", current.plan_id)
    return store.PlanStoreError(f"cannot {action} plan {current.plan_id}: it is {current.state}; {hint}")


def _move(con: duckdb.DuckDBPyConnection, plan_id: str, to: str, action: str, by: str, comment: str) -> PlanState:
    with transaction(con):
        _ensure_table(con)
        _finished(con, plan_id)
        current = plan_state(con, plan_id)
        if current.state not in ALLOWED_FROM[to]:
            raise _refuse(current, action)
        _record(con, plan_id, to, by, comment)
    return plan_state(con, plan_id)


def send_to_review(con: duckdb.DuckDBPyConnection, plan_id: str, by: str, comment: str) -> PlanState:
    """draft or recalled -> in_review (a new review round: sign-offs start again); a plan once
    published is never reviewed again (it cannot be re-published)."""
    if (published := store.published_at(con, plan_id)) is not None:
        raise store.PlanStoreError(f"plan {plan_id} was published on {published:%Y-%m-%d %H:%M:%S} and is never "
                                   "re-published: run a new plan (or promote a scenario) and review that")
    return _move(con, plan_id, IN_REVIEW, "send to review", by, comment)


def recall(con: duckdb.DuckDBPyConnection, plan_id: str, by: str, comment: str) -> PlanState:
    """in_review, approved or published -> recalled (a published plan then stops being THE published plan)."""
    if not comment.strip():
        raise store.PlanStoreError(f"recalling plan {plan_id} needs a comment saying why")
    return _move(con, plan_id, RECALLED, "recall", by, comment)


def approve(con: duckdb.DuckDBPyConnection, plan_id: str, by: str, comment: str,
            scope: str | None = None) -> PlanState:
    """Sign off one scope (`segment:<name>`, `manager:<id>`, `plan`) of a plan in review, or every
    missing one when scope is None; the plan is approved when none is missing."""
    with transaction(con):
        _ensure_table(con)
        _finished(con, plan_id)
        current = plan_state(con, plan_id)
        if current.state != IN_REVIEW:
            raise _refuse(current, "approve")
        if scope is not None and scope not in current.scopes:
            raise store.PlanStoreError(
                f"plan {plan_id} needs sign-off by {current.sign_off} ({', '.join(current.scopes)}); "
                f"{scope!r} is not one of them")
        if scope is not None and scope not in current.missing:
            raise store.PlanStoreError(f"{scope} already signed off plan {plan_id} in this review round")
        for signing in [scope] if scope else current.missing:
            _record(con, plan_id, SIGNED_OFF, by, comment, signing)
        if not plan_state(con, plan_id).missing:
            _record(con, plan_id, APPROVED, by, comment)
    return plan_state(con, plan_id)


def publish(con: duckdb.DuckDBPyConnection, plan_id: str, note: str, by: str, acknowledge: str | None = None,
            override: str | None = None) -> PlanState:
    """approved -> published (store.mark_published: digest, current when acknowledged); a plan not
    approved only with `override` (why it is sent without approval, recorded as the comment)."""
    store.check_publishable(con, plan_id, acknowledge)  # unknown, unfinished, held for review, published
    with transaction(con):
        _ensure_table(con)
        _finished(con, plan_id)
        current = plan_state(con, plan_id)
    if current.state != APPROVED and not override:
        missing = f" (sign-off missing: {', '.join(current.missing)})" if current.state == IN_REVIEW else ""
        raise store.PlanStoreError(
            f"plan {plan_id} is {current.state}, not approved{missing}: approve it first, or publish with "
            '--override "why it is sent without approval" (recorded)')
    store.mark_published(con, plan_id, note, acknowledge)
    with transaction(con):
        comment = f"override ({current.state}, not approved): {override}" if current.state != APPROVED else note
        _record(con, plan_id, PUBLISHED, by, comment)
    return plan_state(con, plan_id)


def state_history(con: duckdb.DuckDBPyConnection, plan_id: str) -> list[tuple]:
    """Every change of the plan, oldest first: (state, scope, changed_at, changed_by, comment)."""
    if not table_exists(con, "plans", "plan_states"):
        return []
    return con.execute("SELECT state, scope, changed_at, changed_by, comment FROM plans.plan_states "
                       "WHERE plan_id = ? ORDER BY seq", [plan_id]).fetchall()
