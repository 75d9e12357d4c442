"""Territory assignment: accounts of a segment to the segment's active expansion reps.

Goal: each rep's territory EEV proportional to the rep's capacity, and each rep's book
(number of accounts) within the segment's book-size limits scaled by capacity.

Method (greedy, largest first, in rounds): accounts are sorted by EEV descending; in each
round every rep with room in its book takes one account, the largest remaining account going
to the rep with the least EEV per unit of capacity. A rep of capacity c takes part in a
share c of the rounds (rationed like Bresenham's line), so books grow in proportion to
capacity. Each round is one vectorised numpy step over the reps; the number of rounds is
about accounts / total capacity, i.e. bounded by the book size, never by the account count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl


class TerritoryError(ValueError):
    """A segment cannot be assigned within its limits (headcount named in the message)."""


@dataclass(frozen=True)
class BookLimits:
    """Accounts per full-capacity rep in a segment."""

    segment: str
    book_min: int
    book_max: int


def place_unsegmented_reps(reps: pl.DataFrame, accounts: pl.DataFrame) -> pl.DataFrame:
    """Give reps whose segment is null (\"assign by plan\") the segment that needs them most.

    reps: rep_id, segment (nullable), capacity; accounts: segment, eev. Each unsegmented rep,
    in rep_id order, joins the segment with the most EEV per unit of capacity so far.
    """
    fixed = reps.filter(pl.col("segment").is_not_null())
    floating = reps.filter(pl.col("segment").is_null()).sort("rep_id")
    if floating.is_empty():
        return reps.sort("rep_id")
    demand = accounts.group_by("segment").agg(pl.col("eev").sum())
    eev = dict(zip(demand["segment"].to_list(), demand["eev"].to_list(), strict=True))
    capacity = {seg: 0.0 for seg in eev}
    for seg, cap in zip(fixed["segment"].to_list(), fixed["capacity"].to_list(), strict=True):
        capacity[seg] = capacity.get(seg, 0.0) + cap
    chosen = []
    for cap in floating["capacity"].to_list():  # a loop over reps, not accounts
        seg = max(sorted(eev), key=lambda s: eev[s] / (capacity.get(s, 0.0) + 1e-9))
        capacity[seg] = capacity.get(seg, 0.0) + cap
        chosen.append(seg)
    placed = floating.with_columns(pl.Series("segment", chosen, dtype=pl.String))
    return pl.concat([fixed, placed]).sort("rep_id")


def rep_book_limits(capacity: np.ndarray, limits: BookLimits) -> tuple[np.ndarray, np.ndarray]:
    """Book-size limits of each rep: the segment's limits scaled by capacity (max at least 1)."""
    book_max = np.maximum(np.floor(limits.book_max * capacity + 1e-9), 1).astype(np.int64)
    book_min = np.ceil(limits.book_min * capacity - 1e-9).astype(np.int64)
    return book_min, book_max


def assign_segment(
    account_ids: np.ndarray,
    eev: np.ndarray,
    rep_ids: np.ndarray,
    capacity: np.ndarray,
    limits: BookLimits,
) -> np.ndarray:
    """Return the rep_id for each account of one segment (same order as account_ids)."""
    n_accounts = len(account_ids)
    if n_accounts == 0:
        return np.array([], dtype=object)
    if len(rep_ids) == 0:
        raise TerritoryError(
            f"segment {limits.segment}: {n_accounts} accounts but no active expansion rep; "
            f"needs at least {math.ceil(n_accounts / limits.book_max)} full-capacity reps "
            f"(book_max {limits.book_max})"
        )
    _, book_max = rep_book_limits(capacity, limits)
    if n_accounts > book_max.sum():
        raise TerritoryError(
            f"segment {limits.segment}: {n_accounts} accounts exceed the books of its "
            f"{len(rep_ids)} reps ({int(book_max.sum())} accounts at book_max {limits.book_max}, "
            f"capacity {capacity.sum():.2f}); needs at least "
            f"{math.ceil(n_accounts / limits.book_max)} full-capacity reps"
        )
    order = np.lexsort((account_ids, -eev))  # largest EEV first, ties by account_id
    assigned = np.empty(n_accounts, dtype=np.int64)
    load = np.zeros(len(rep_ids))
    books = np.zeros(len(rep_ids), dtype=np.int64)
    position, round_no = 0, 0
    while position < n_accounts:
        takes_part = np.floor((round_no + 1) * capacity + 1e-9) > np.floor(round_no * capacity + 1e-9)
        candidates = np.flatnonzero(takes_part & (books < book_max))
        round_no += 1
        if candidates.size == 0:
            continue
        take = min(candidates.size, n_accounts - position)
        by_load = candidates[np.argsort(load[candidates] / capacity[candidates], kind="stable")][:take]
        batch = order[position : position + take]
        assigned[batch] = by_load
        np.add.at(load, by_load, eev[batch])
        np.add.at(books, by_load, 1)
        position += take
    return rep_ids[assigned]


def assign_territories(
    accounts: pl.DataFrame, reps: pl.DataFrame, limits: dict[str, BookLimits]
) -> pl.DataFrame:
    """Assign every account of an expansion segment to a rep of that segment.

    accounts: account_id, segment, eev, owner_id (current owner, may be null); only accounts
    whose segment is in `limits` are assigned. reps: rep_id, segment, capacity (active
    expansion reps with a segment). Returns account_id, segment, rep_id, previous_rep_id, moved.
    """
    frames = []
    for segment, rules in limits.items():
        seg_accounts = accounts.filter(pl.col("segment") == segment).sort("account_id")
        seg_reps = reps.filter(pl.col("segment") == segment).sort("rep_id")
        rep_id = assign_segment(
            seg_accounts["account_id"].to_numpy().astype(str),
            seg_accounts["eev"].to_numpy().astype(float),
            seg_reps["rep_id"].to_numpy().astype(str),
            seg_reps["capacity"].to_numpy().astype(float),
            rules,
        )
        frames.append(
            seg_accounts.select(
                "account_id",
                "segment",
                pl.Series("rep_id", rep_id, dtype=pl.String),
                pl.col("owner_id").alias("previous_rep_id"),
            )
        )
    schema = {"account_id": pl.String, "segment": pl.String, "rep_id": pl.String, "previous_rep_id": pl.String}
    territories = pl.concat(frames) if frames else pl.DataFrame(schema=schema)
    return territories.with_columns(
        moved=pl.col("previous_rep_id").is_not_null() & (pl.col("previous_rep_id") != pl.col("rep_id"))
    ).sort("account_id")
