"""Book sizes by capacity: the secondary rule of the territory assignment (numpy, one segment).

The EEV balance alone cannot tell apart accounts it has no EEV to weigh: in a fresh plan
where most accounts have EEV 0 it would leave them all on one rep. Within the EEV bands and
the book-size limits, each rep's number of accounts should follow its capacity: its **book
share** is the segment's accounts x the rep's capacity / the segment's capacity.

The heuristic's step 4 (`spread`, after pipeline/plan/territory/heuristic.py's steps 1-3):
while the rep furthest above its book share holds more than one account more (relative to
its share) than the rep furthest below, move ONE account from the first to the second: the
smallest account (least EEV moved; ties by account id) whose move leaves neither rep further
outside its EEV band, the receiver below its book maximum and the donor above its minimum
(of the receivers some donor can give to, the one furthest below its share; of those donors,
the one furthest above it).
Only accounts that move in this run anyway may go (placed, or moved off their owner; never a
locked account or an anchor), so no account leaves its owner to even out book sizes, and
the number of accounts moved stays what the balance needs. Each move lowers the sum of
squared differences from the book shares, so the step ends. The MILP weighs the same rule
as its last objective (pipeline/plan/territory/milp.py).
"""

from __future__ import annotations

import numpy as np

from pipeline.plan.territory.heuristic import KEPT, Books

SPREAD_EPSILON = 1e-9  # accounts: a smaller difference between two reps' book-share gaps is none


def book_shares(state: Books) -> np.ndarray:
    """Per rep: the number of accounts its capacity share of the segment's accounts comes to (fractional)."""
    return len(state.eev) * state.capacity / state.capacity.sum()


def room_to_give(load: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Per rep: the most EEV it can give up without ending further outside its band (0 at or below the bottom)."""
    return np.maximum(load - low, 0) + np.maximum(load - high, 0)


def room_to_take(load: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Per rep: the most EEV it can take without ending further outside its band (0 at or above the top)."""
    return np.maximum(high - load, 0) + np.maximum(low - load, 0)


def spread(state: Books, tolerance: float, order_key: np.ndarray, max_moves: int) -> None:
    """Even out book sizes by capacity with accounts that move anyway, never at the EEV balance's cost.

    Outside the band is convex in the EEV moved, so an account of EEV x may go from donor d to
    receiver r exactly when x <= room_to_give(d) and x <= room_to_take(r). Each move picks the
    rep furthest below its book share that some donor can give to, and of those donors the one
    furthest above its share (the reps in their order on ties); a numpy step over reps (sorted
    by gap: the smallest account that each set of donors can give) and one book.
    """
    reps = len(state.capacity)
    low, high = state.band(tolerance)
    share = book_shares(state)
    movable = np.flatnonzero((state.reason != KEPT) & ~state.locked & (state.rep >= 0))
    movable = movable[np.argsort(state.rep[movable], kind="stable")]
    bounds = np.searchsorted(state.rep[movable], np.arange(reps + 1))
    members = [movable[bounds[r] : bounds[r + 1]] for r in range(reps)]
    smallest = np.full(reps, np.inf)  # per rep: EEV of its smallest movable account
    np.minimum.at(smallest, state.rep[movable], state.eev[movable])
    for _ in range(max_moves):  # loop over moves, each a numpy step over reps and one book
        gap = state.books - share
        gives = np.where(state.books > state.book_min, smallest, np.inf)
        gives[gives > room_to_give(state.load, low, high)] = np.inf  # per rep: smallest account it can give
        order = np.argsort(gap, kind="stable")
        least_given = np.minimum.accumulate(gives[order][::-1])[::-1]  # over the reps from a gap on up
        first_donor = np.searchsorted(gap[order], gap + 1 + SPREAD_EPSILON, side="right")
        reachable = np.append(least_given, np.inf)[first_donor]
        takes = room_to_take(state.load, low, high)
        open_receivers = np.flatnonzero((state.books < state.book_max) & (reachable <= takes))
        if open_receivers.size == 0:
            return
        receiver = int(open_receivers[np.argmin(gap[open_receivers])])
        donors = np.flatnonzero((gap > gap[receiver] + 1 + SPREAD_EPSILON) & (gives <= takes[receiver]))
        donor = int(donors[np.argmax(gap[donors])])
        mine = members[donor]
        pick = np.lexsort((order_key[mine], state.eev[mine]))[0]
        best = mine[pick]
        state.move(np.array([best]), np.array([receiver]), KEPT)  # its first reason stays
        members[donor] = np.delete(mine, pick)
        members[receiver] = np.append(members[receiver], best)
        smallest[donor] = state.eev[members[donor]].min() if members[donor].size else np.inf
        smallest[receiver] = min(smallest[receiver], state.eev[best])
