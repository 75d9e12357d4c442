"""Book sizes by capacity: the secondary rule of the territory assignment (numpy, one segment).

The EEV balance alone cannot tell apart accounts it has no EEV to weigh: in a fresh plan
where most accounts have EEV 0 it would leave them all on one rep. Within the EEV bands and
the book-size limits, each rep's number of accounts should follow its capacity: its **book
share** is the segment's accounts x the rep's capacity / the segment's capacity.

The heuristic's step 4 (`spread`, after pipeline/plan/territory/heuristic.py's steps 1-3):
while the rep furthest above its book share holds more than one account more (relative to
its share) than the rep furthest below, move ONE account from the first to the second: the
smallest account (least EEV moved; ties by account id) whose move leaves neither rep further
outside its EEV band, the receiver below its book maximum and the donor above its minimum.
Only accounts that move in this run anyway may go (placed, or moved off their owner; never a
locked account or an anchor), so no account leaves its owner to even out book sizes, and
the number of accounts moved stays what the balance needs. Each move lowers the sum of
squared differences from the book shares, so the step ends. The MILP weighs the same rule
as its last objective (pipeline/plan/territory/milp.py).
"""

from __future__ import annotations

import numpy as np

from pipeline.plan.territory.heuristic import KEPT, Books, outside_band

SPREAD_EPSILON = 1e-9  # accounts: a smaller difference between two reps' book-share gaps is none


def book_shares(state: Books) -> np.ndarray:
    """Per rep: the number of accounts its capacity share of the segment's accounts comes to (fractional)."""
    return len(state.eev) * state.capacity / state.capacity.sum()


def spread(state: Books, tolerance: float, order_key: np.ndarray, max_moves: int) -> None:
    """Even out book sizes by capacity with accounts that move anyway, never at the EEV balance's cost."""
    reps = len(state.capacity)
    low, high = state.band(tolerance)
    share = book_shares(state)
    movable = np.flatnonzero((state.reason != KEPT) & ~state.locked & (state.rep >= 0))
    movable = movable[np.argsort(state.rep[movable], kind="stable")]
    bounds = np.searchsorted(state.rep[movable], np.arange(reps + 1))
    members = [movable[bounds[r] : bounds[r + 1]] for r in range(reps)]
    left = np.diff(bounds)  # per rep: movable accounts it holds
    stuck_donor, stuck_receiver = np.zeros(reps, dtype=bool), np.zeros(reps, dtype=bool)
    for _ in range(max_moves):  # loop over moves, each a numpy step over reps and one book
        gap = state.books - share
        receivers = np.flatnonzero((state.books < state.book_max) & ~stuck_receiver)
        if receivers.size == 0:
            return
        receiver = int(receivers[np.argmin(gap[receivers])])
        donors = np.flatnonzero((state.books > state.book_min) & (left > 0)
                                & (gap > gap[receiver] + 1 + SPREAD_EPSILON))
        if donors.size == 0:
            return
        if stuck_donor[donors].all():
            stuck_receiver[receiver], stuck_donor[:] = True, False
            continue
        donors = donors[~stuck_donor[donors]]
        donor = int(donors[np.argmax(gap[donors])])
        candidates = members[donor]
        x = state.eev[candidates]
        fits = ((outside_band(state.load[donor] - x, low[donor], high[donor])
                 <= outside_band(state.load[donor], low[donor], high[donor]))
                & (outside_band(state.load[receiver] + x, low[receiver], high[receiver])
                   <= outside_band(state.load[receiver], low[receiver], high[receiver])))
        if not fits.any():
            stuck_donor[donor] = True
            continue
        candidates, x = candidates[fits], x[fits]
        best = candidates[np.lexsort((order_key[candidates], x))[0]]
        state.move(np.array([best]), np.array([receiver]), KEPT)  # its first reason stays
        members[donor] = members[donor][members[donor] != best]
        members[receiver] = np.append(members[receiver], best)
        left[donor] -= 1
        left[receiver] += 1
        stuck_donor[:], stuck_receiver[:] = False, False
