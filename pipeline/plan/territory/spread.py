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
RECEIVER_CHUNK = 64  # reps of lowest gap checked at once for the receiver (then twice as many, ...)


def book_shares(state: Books) -> np.ndarray:
    """Per rep: the number of accounts its capacity share of the segment's accounts comes to (fractional)."""
    return len(state.eev) * state.capacity / state.capacity.sum()


def room_to_give(load: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Per rep: the most EEV it can give up without ending further outside its band (0 at or below the bottom)."""
    return np.maximum(load - low, 0) + np.maximum(load - high, 0)


def room_to_take(load: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Per rep: the most EEV it can take without ending further outside its band (0 at or above the top)."""
    return np.maximum(high - load, 0) + np.maximum(low - load, 0)


class _ByGap:
    """The reps sorted by (book-share gap, index), kept sorted as each move changes two reps' gaps:
    a rep is shifted from its old place to its new one in the sorted arrays (no sort per move)."""

    def __init__(self, gap: np.ndarray) -> None:
        self.order = np.argsort(gap, kind="stable")
        self.gap = gap[self.order]

    @staticmethod
    def _position(order: np.ndarray, gaps: np.ndarray, rep: int, gap: float) -> int:
        low, high = np.searchsorted(gaps, gap, side="left"), np.searchsorted(gaps, gap, side="right")
        return int(low + np.searchsorted(order[low:high], rep))

    def reposition(self, rep: int, old: float, new: float) -> None:
        """`rep`'s gap changed from `old` to `new`."""
        order, gaps = self.order, self.gap
        at = self._position(order, gaps, rep, old)
        order[at:-1], gaps[at:-1] = order[at + 1 :], gaps[at + 1 :]  # out (the last place is free)
        to = self._position(order[:-1], gaps[:-1], rep, new)
        order[to + 1 :], gaps[to + 1 :] = order[to:-1], gaps[to:-1]  # and in again
        order[to], gaps[to] = rep, new


def _first_receiver(state: Books, by_gap: _ByGap, sorted_gives: np.ndarray, takes: np.ndarray) -> int | None:
    """The rep of lowest gap (then index) with room in its book that some rep of a gap more than one
    account higher can give an account to (`sorted_gives`: the smallest account each rep can give,
    in gap order). Looked for in growing chunks of the reps by gap (the first few usually hold it)."""
    start, size, reps = 0, RECEIVER_CHUNK, len(by_gap.order)
    while start < reps:
        chunk = by_gap.order[start : start + size]
        first_donor = np.searchsorted(by_gap.gap, by_gap.gap[start : start + size] + 1 + SPREAD_EPSILON,
                                      side="right")  # ascending, as the chunk's gaps are
        reachable = np.full(len(chunk), np.inf)  # per rep of the chunk: least given from its first donor on
        some = first_donor < reps
        if some.any():
            pieces = np.minimum.reduceat(sorted_gives, first_donor[some])
            reachable[some] = np.minimum.accumulate(pieces[::-1])[::-1]
        open_receivers = (state.books[chunk] < state.book_max[chunk]) & (reachable <= takes[chunk])
        if open_receivers.any():
            return int(chunk[np.argmax(open_receivers)])
        start, size = start + size, size * 2
    return None


def spread(state: Books, tolerance: float, order_key: np.ndarray, max_moves: int) -> None:
    """Even out book sizes by capacity with accounts that move anyway, never at the EEV balance's cost.

    Outside the band is convex in the EEV moved, so an account of EEV x may go from donor d to
    receiver r exactly when x <= room_to_give(d) and x <= room_to_take(r). Each move picks the
    rep furthest below its book share that some donor can give to, and of those donors the one
    furthest above its share (the reps in their order on ties). The reps stay sorted by gap and
    each rep's gap, smallest account it can give and room to take are updated for the two reps a
    move changes, so a move costs a few numpy passes over reps (no sort) and one book.
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

    def gives_of(r: np.ndarray | slice) -> np.ndarray:  # per rep: the smallest account it can give
        gives = np.where(state.books[r] > state.book_min[r], smallest[r], np.inf)
        return np.where(gives > room_to_give(state.load[r], low[r], high[r]), np.inf, gives)

    gap, gives = state.books - share, gives_of(slice(None))
    takes = room_to_take(state.load, low, high)
    by_gap = _ByGap(gap)
    for _ in range(max_moves):  # loop over moves, each a few numpy passes over reps and one book
        sorted_gives = gives[by_gap.order]
        receiver = _first_receiver(state, by_gap, sorted_gives, takes)
        if receiver is None:
            return
        start = int(np.searchsorted(by_gap.gap, gap[receiver] + 1 + SPREAD_EPSILON, side="right"))
        able = start + np.flatnonzero(sorted_gives[start:] <= takes[receiver])
        highest = able[by_gap.gap[able] == by_gap.gap[able[-1]]]  # the highest gap; its lowest index first
        donor = int(by_gap.order[highest[0]])
        mine = members[donor]
        pick = np.lexsort((order_key[mine], state.eev[mine]))[0]
        best = mine[pick]
        state.move(np.array([best]), np.array([receiver]), KEPT)  # its first reason stays
        members[donor] = np.delete(mine, pick)
        members[receiver] = np.append(members[receiver], best)
        smallest[donor] = state.eev[members[donor]].min() if members[donor].size else np.inf
        smallest[receiver] = min(smallest[receiver], state.eev[best])
        changed = np.array([donor, receiver])
        old = gap[changed]
        gap[changed] = state.books[changed] - share[changed]
        gives[changed] = gives_of(changed)
        takes[changed] = room_to_take(state.load[changed], low[changed], high[changed])
        for r, before, after in zip(changed.tolist(), old.tolist(), gap[changed].tolist(), strict=True):
            by_gap.reposition(r, before, after)
