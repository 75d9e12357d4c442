"""Territory assignment: accounts of a segment to the segment's active expansion reps.

Goal: each rep's territory EEV within the balance tolerance of its target (the segment's EEV
x the rep's share of the segment's capacity), each book (number of accounts) within the
segment's book-size limits scaled by capacity, as few accounts moved from their current
owner (`accounts.owner_id`) as that takes, locked accounts never moved.

Who must move first: accounts with no owner (new account), whose owner is no longer an active
expansion rep (rep inactive) or is a rep of another segment (segment change). A segment whose
accounts x reps fits under `territory.milp_max_variables` is solved exactly by a MILP
(pipeline/plan/territory/milp.py, started from the heuristic's answer); larger segments use the
heuristic (pipeline/plan/territory/heuristic.py). Both aim at the same tolerance band; within it
and the book-size limits, books follow capacity in number of accounts too
(pipeline/plan/territory/spread.py), with accounts that move anyway.
Before either, the segment's anchor accounts (EEV above `territory.anchor_share` of a
full-capacity rep's target) are placed, at most one per full-capacity rep where possible, and
fixed there: the rest is balanced around them (pipeline/plan/territory/anchor.py).
Segments are independent: they are balanced side by side, a thread each up to the cores
(models/threads.py; the MILP solver releases the GIL), with the same result as one by one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from models.threads import map_in_threads
from pipeline.plan.territory import heuristic as rebalance
from pipeline.plan.territory.anchor import anchor_accounts, place_anchors
from pipeline.plan.territory.heuristic import NEW_ACCOUNT, REASONS, REP_INACTIVE, SEGMENT_CHANGE, Books
from pipeline.plan.territory.milp import solve_milp
from pipeline.plan.territory.spread import spread


class TerritoryError(ValueError):
    """A segment cannot be assigned within its limits (headcount named in the message)."""


@dataclass(frozen=True)
class BookLimits:
    """Accounts per full-capacity rep in a segment."""

    segment: str
    book_min: int
    book_max: int


@dataclass(frozen=True)
class BalanceRules:
    """How tightly territories are balanced and which solver does it."""

    tolerance: float  # each rep within +/- this share of its EEV target
    milp_max_variables: int  # accounts x reps at or below which the MILP is used
    milp_max_nodes: int  # branch-and-bound nodes per segment (a deterministic work limit)
    milp_time_limit: float  # seconds per segment, a safety net above the node limit
    anchor_share: float | None = None  # EEV above this share of a full-capacity rep's target: an anchor (None: none)


@dataclass(frozen=True)
class Assignment:
    """Territories of all segments (account grain) and how each segment was solved."""

    territories: pl.DataFrame  # account_id, segment, rep_id, previous_rep_id, moved, reason, locked, anchor
    methods: pl.DataFrame  # segment, method, seconds, book_min, book_max


def place_unsegmented_reps(reps: pl.DataFrame, accounts: pl.DataFrame, segments: Sequence[str]) -> pl.DataFrame:
    """Give reps whose segment is null (\"assign by plan\") the segment that needs them most.

    reps: rep_id, segment (nullable), capacity; accounts: segment, eev; segments: the expansion
    segments of the settings. Each unsegmented rep, in rep_id order, joins the segment with the
    most EEV per unit of capacity so far (ties, e.g. a book with no EEV at all: the segment with
    the least capacity, then by name).
    """
    fixed = reps.filter(pl.col("segment").is_not_null())
    floating = reps.filter(pl.col("segment").is_null()).sort("rep_id")
    if floating.is_empty():
        return reps.sort("rep_id")
    demand = accounts.group_by("segment").agg(pl.col("eev"))  # math.fsum: exact, so the same in any row order
    eev = {seg: 0.0 for seg in segments} | {seg: math.fsum(values) for seg, values in demand.iter_rows()}
    capacity = {seg: 0.0 for seg in eev}
    for seg, cap in zip(fixed["segment"].to_list(), fixed["capacity"].to_list(), strict=True):
        capacity[seg] = capacity.get(seg, 0.0) + cap
    chosen = []
    for cap in floating["capacity"].to_list():  # a loop over reps, not accounts
        seg = max(sorted(eev), key=lambda s: (eev[s] / (capacity.get(s, 0.0) + 1e-9), -capacity.get(s, 0.0)))
        capacity[seg] = capacity.get(seg, 0.0) + cap
        chosen.append(seg)
    placed = floating.with_columns(pl.Series("segment", chosen, dtype=pl.String))
    return pl.concat([fixed, placed]).sort("rep_id")


def rep_book_limits(capacity: np.ndarray, limits: BookLimits) -> tuple[np.ndarray, np.ndarray]:
    """Book-size limits of each rep: the segment's limits scaled by capacity (max at least 1)."""
    book_max = np.maximum(np.floor(limits.book_max * capacity + 1e-9), 1).astype(np.int64)
    book_min = np.ceil(limits.book_min * capacity - 1e-9).astype(np.int64)
    return book_min, book_max


def check_feasible(n_accounts: int, capacity: np.ndarray, limits: BookLimits) -> None:
    """Raise TerritoryError with the headcount needed when the books cannot hold the segment."""
    needed = math.ceil(n_accounts / limits.book_max)
    if n_accounts and len(capacity) == 0:
        raise TerritoryError(
            f"segment {limits.segment}: {n_accounts} accounts but no active expansion rep; "
            f"needs at least {needed} full-capacity reps (book_max {limits.book_max})"
        )
    _, book_max = rep_book_limits(capacity, limits)
    if n_accounts > book_max.sum():
        raise TerritoryError(
            f"segment {limits.segment}: {n_accounts} accounts exceed the books of its "
            f"{len(capacity)} reps ({int(book_max.sum())} accounts at book_max {limits.book_max}, "
            f"capacity {capacity.sum():.2f}); needs at least {needed} full-capacity reps"
        )


def start_books(
    eev: np.ndarray, owner: np.ndarray, reason: np.ndarray, locked: np.ndarray,
    capacity: np.ndarray, limits: BookLimits,
) -> Books:
    """The segment as its current owners hold it (owner = rep index, -1 = to be placed)."""
    book_min, book_max = rep_book_limits(capacity, limits)
    return Books.start(eev, owner, reason, locked, capacity, book_min, book_max)


def balance_segment(
    account_ids: np.ndarray, books: Books, limits: BookLimits, rules: BalanceRules
) -> tuple[Books, str]:
    """Rebalance one segment in place: anchors first, the heuristic, then the MILP when the segment is small."""
    check_feasible(len(account_ids), books.capacity, limits)
    if len(account_ids) == 0:
        return books, "none (no accounts)"
    owner, owner_reason = books.rep.copy(), rebalance.owner_reasons(books, rules.tolerance)
    if rules.anchor_share is not None:
        anchors = anchor_accounts(books.eev, books.capacity, rules.anchor_share)
        place_anchors(books, anchors, rules.tolerance, account_ids)
    state = rebalance.rebalance(books, rules.tolerance, account_ids)
    spread(state, rules.tolerance, account_ids, max_moves=len(account_ids))
    if len(account_ids) * len(books.capacity) > rules.milp_max_variables:
        return state, "heuristic"
    exact = solve_milp(state, owner, rules.tolerance, rules.milp_max_nodes, rules.milp_time_limit)
    if exact is None:
        return state, "heuristic"
    changed = np.flatnonzero(exact != state.rep)
    kept_before = changed[state.reason[changed] == rebalance.KEPT]  # moved only by the MILP: owner's reason
    state.move(changed, exact[changed], rebalance.KEPT)
    state.reason[kept_before] = owner_reason[owner[kept_before]]
    return state, "milp"



def _reasons(accounts: pl.DataFrame, reps: pl.DataFrame, segment: str) -> pl.DataFrame:
    """Per account of a segment: the owner's index among the segment's reps and why it moves."""
    seg_reps = reps.filter(pl.col("segment") == segment).sort("rep_id").with_row_index("rep_index")
    owners = reps.select(pl.col("rep_id").cast(pl.String).alias("owner_id"),
                         pl.col("segment").cast(pl.String).alias("owner_segment"))
    return (
        accounts.with_columns(pl.col("owner_id").cast(pl.String))
        .join(owners, on="owner_id", how="left")
        .join(seg_reps.select(pl.col("rep_id").cast(pl.String).alias("owner_id"), "rep_index"),
              on="owner_id", how="left")
        .with_columns(
            owner_index=pl.col("rep_index").cast(pl.Int64).fill_null(-1),
            start_reason=pl.when(pl.col("owner_id").is_null()).then(NEW_ACCOUNT)
            .when(pl.col("rep_index").is_not_null()).then(0)
            .when(pl.col("owner_segment").is_not_null()).then(SEGMENT_CHANGE)
            .otherwise(REP_INACTIVE),
        )
        .sort("account_id")
    )


def _assign_segment(accounts: pl.DataFrame, reps: pl.DataFrame, segment: str, seg_limits: BookLimits,
                    rules: BalanceRules) -> tuple[pl.DataFrame, dict[str, object]]:
    """One segment's territories (account_id, segment, rep_id, previous_rep_id, reason_code,
    locked, anchor) and its method row."""
    started = time.perf_counter()
    seg = _reasons(accounts.filter(pl.col("segment") == segment), reps, segment)
    seg_reps = reps.filter(pl.col("segment") == segment).sort("rep_id")
    ids = seg["account_id"].to_numpy().astype(str)
    books = start_books(
        seg["eev"].to_numpy().astype(float), seg["owner_index"].to_numpy(), seg["start_reason"].to_numpy(),
        seg["locked"].fill_null(False).to_numpy().astype(bool),
        seg_reps["capacity"].to_numpy().astype(float), seg_limits,
    )
    state, method = balance_segment(ids, books, seg_limits, rules)
    rep_ids = seg_reps["rep_id"].to_numpy().astype(str)
    frame = seg.select(
        "account_id", "segment",
        pl.Series("rep_id", rep_ids[state.rep] if len(ids) else [], dtype=pl.String),
        pl.col("owner_id").alias("previous_rep_id"),
        pl.Series("reason_code", state.reason, dtype=pl.Int64),
        pl.col("locked").fill_null(False),
        pl.Series("anchor", state.anchor, dtype=pl.Boolean),
    )
    return frame, {"segment": segment, "method": method, "seconds": time.perf_counter() - started,
                   "book_min": seg_limits.book_min, "book_max": seg_limits.book_max}


def assign_territories(
    accounts: pl.DataFrame, reps: pl.DataFrame, limits: dict[str, BookLimits], rules: BalanceRules
) -> Assignment:
    """Rebalance every expansion segment from the current owners.

    accounts: account_id, segment, eev, owner_id (current owner, may be null), locked (bool);
    only accounts whose segment is in `limits` are assigned. reps: rep_id, segment, capacity
    (the active expansion reps). Returns the territories with previous_rep_id = owner_id,
    moved = owner changed, reason = why the account changed hands (null when it did not),
    anchor = an anchor account of its segment. methods: the solver and book-size limits per segment.
    """
    # segments are independent: they are balanced side by side (the MILP releases the GIL)
    assigned = map_in_threads(lambda item: _assign_segment(accounts, reps, *item, rules), list(limits.items()))
    frames, methods = [frame for frame, _ in assigned], [method for _, method in assigned]
    schema = {"account_id": pl.String, "segment": pl.String, "rep_id": pl.String,
              "previous_rep_id": pl.String, "reason_code": pl.Int64, "locked": pl.Boolean, "anchor": pl.Boolean}
    territories = pl.concat(frames) if frames else pl.DataFrame(schema=schema)
    changed = pl.col("previous_rep_id").is_null() | (pl.col("previous_rep_id") != pl.col("rep_id"))
    territories = territories.with_columns(
        moved=pl.col("previous_rep_id").is_not_null() & (pl.col("previous_rep_id") != pl.col("rep_id")),
        reason=pl.when(changed).then(
            pl.col("reason_code").replace_strict(list(range(len(REASONS))), list(REASONS), return_dtype=pl.String)
        ),
    ).select("account_id", "segment", "rep_id", "previous_rep_id", "moved", "reason", "locked", "anchor")
    method_schema = {"segment": pl.String, "method": pl.String, "seconds": pl.Float64, "book_min": pl.Int64,
                     "book_max": pl.Int64}
    return Assignment(territories.sort("account_id"), pl.DataFrame(methods, schema=method_schema))
