"""Anchor accounts: accounts too large to be balanced like the others (numpy, one segment).

An account is an anchor when its EEV exceeds `territory.anchor_share` (50%) of one
full-capacity rep's EEV target (the segment's EEV / the segment's capacity). Anchors are
placed before anything else, at most one per full-capacity rep where the segment has enough
of them, and then stay where they are: the rest of every book is balanced around them (a rep
holding an anchor takes that much less of the other accounts).

Who keeps which anchor, with as few moves as it takes:

1. an anchor stays with its owner (an active rep of the segment) when it is locked, or when
   it is the owner's only anchor (the largest, if the owner holds several, and none of them
   locked) and the owner is a full-capacity rep or the anchor fits within the owner's band;
2. the anchors without a usable owner (new account, rep inactive, segment change), largest
   first, then the other anchors (an owner's second anchor, an anchor too large for its
   part-capacity owner), largest first, go one each to the full-capacity reps that hold no
   anchor and have room in their book, the rep furthest below its target first (ties: the
   fewest accounts per unit of capacity, then the rep order); an anchor
   with an owner stays where it is when no such rep is left;
3. anchors without a usable owner still left go one by one to the rep with the most target
   left after the anchors it already holds (ties: the least EEV held, the fewest accounts per
   unit of capacity, then the rep order).

Targets the rest is balanced against: a rep whose fixed EEV (its anchors and locked accounts)
exceeds its capacity share of the segment's EEV gets a band whose top is that fixed EEV (it
takes no other account beyond its book minimum); the rest of the segment's EEV is shared among
the other reps in proportion to capacity (repeated until no other rep's fixed EEV exceeds its
share). Their band is that share +/- the tolerance, cut at the bottom of the reported band
(capacity-proportional target x (1 - tolerance)) where both overlap: they end within the
reported tolerance whenever what the anchors leave allows it. The reported balance stays the one definition of sql/plan/quotas.sql
(capacity-proportional targets): such a rep shows as out of tolerance because of its anchor
(out_of_tolerance_reason), and the others are balanced evenly around it.
"""

from __future__ import annotations

import numpy as np

from pipeline.plan.territory.heuristic import ANCHOR, Books

FULL_CAPACITY = 1.0  # capacity of a rep with a full book (capacity is 0-1)
CAPACITY_EPSILON = 1e-9


def anchor_accounts(eev: np.ndarray, capacity: np.ndarray, share: float) -> np.ndarray:
    """Per account of a segment: whether its EEV exceeds `share` of a full-capacity rep's target."""
    total_capacity = float(capacity.sum())
    if total_capacity <= 0 or len(eev) == 0:
        return np.zeros(len(eev), dtype=bool)
    return eev > share * float(eev.sum()) / total_capacity


def balance_targets(total: float, capacity: np.ndarray, fixed: np.ndarray, tolerance: float) -> np.ndarray:
    """Per rep: the EEV its book is balanced against, around the EEV that cannot move (`fixed`)."""
    capped = np.zeros(len(capacity), dtype=bool)
    while True:  # a loop over reps: each round caps at least one more rep
        free_capacity = float(capacity[~capped].sum())
        per_capacity = (total - float(fixed[capped].sum())) / free_capacity if free_capacity > 0 else 0.0
        newly = ~capped & (fixed > per_capacity * capacity * (1 + CAPACITY_EPSILON))
        if not newly.any():
            return np.where(capped, fixed / (1 + tolerance), per_capacity * capacity)
        capped |= newly


def place_anchors(state: Books, anchors: np.ndarray, tolerance: float, order_key: np.ndarray) -> None:
    """Place the segment's anchors (in place), fix them to their reps and set the balance targets."""
    reps = len(state.capacity)
    state.anchor[:] = anchors
    full = state.capacity >= FULL_CAPACITY - CAPACITY_EPSILON
    held = anchors & (state.rep >= 0)
    stays = held & state.locked
    has_locked_anchor = np.bincount(state.rep[stays], minlength=reps) > 0
    owned = np.flatnonzero(held & ~state.locked)
    owned = owned[np.lexsort((order_key[owned], -state.eev[owned], state.rep[owned]))]
    largest = owned[np.unique(state.rep[owned], return_index=True)[1]]  # each owner's largest anchor
    owner = state.rep[largest]
    fits = full[owner] | (state.eev[largest] <= state.target[owner] * (1 + tolerance))
    stays[largest[fits & ~has_locked_anchor[owner]]] = True

    unplaced = np.flatnonzero(anchors & (state.rep < 0))
    movable = np.flatnonzero(held & ~stays)
    movers = np.concatenate([unplaced[np.lexsort((order_key[unplaced], -state.eev[unplaced]))],
                             movable[np.lexsort((order_key[movable], -state.eev[movable]))]])
    taken = np.bincount(state.rep[stays], minlength=reps) > 0
    free = np.flatnonzero(full & ~taken & (state.books < state.book_max))
    per_capacity = state.books / state.capacity  # accounts per unit of capacity: the tie-break
    free = free[np.lexsort((free, per_capacity[free], state.ratio()[free]))]
    paired = min(len(movers), len(free))
    state.move(movers[:paired], free[:paired], ANCHOR)

    placed = np.flatnonzero(anchors & (state.rep >= 0))
    anchor_load = np.bincount(state.rep[placed], weights=state.eev[placed], minlength=reps)
    for account in movers[paired:][state.rep[movers[paired:]] < 0]:  # a loop over anchors: < capacity / share
        room = np.flatnonzero(state.books < state.book_max)
        room = room if room.size else np.arange(reps)
        order = np.lexsort((room, state.books[room] / state.capacity[room], state.load[room],
                            anchor_load[room] - state.target[room]))
        best = int(room[order[0]])
        state.move(np.array([account]), np.array([best]), ANCHOR)
        anchor_load[best] += state.eev[account]

    state.locked |= anchors
    fixed = np.bincount(state.rep[state.locked], weights=state.eev[state.locked], minlength=reps)
    reported_low = state.target * (1 - tolerance)  # the band of the capacity-proportional target
    state.target = balance_targets(float(state.eev.sum()), state.capacity, fixed, tolerance)
    state.high = state.target * (1 + tolerance)
    low = np.maximum(state.target * (1 - tolerance), reported_low)
    state.low = np.where(low <= state.high, low, state.target * (1 - tolerance))
