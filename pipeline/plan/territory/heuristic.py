"""Minimal-move rebalancing of one segment's books (numpy, no per-account Python loop).

The state is one rep index per account (`rep`, -1 = not placed) plus each rep's EEV (`load`)
and number of accounts (`books`). Three steps, each only as far as needed:

1. place: accounts without a usable owner (new accounts, accounts of inactive or departed
   reps, accounts that changed segment, and accounts shed in step 2) go, largest EEV first,
   in vectorised rounds to the reps furthest below their EEV target that have room in their
   book (when reps already hold books: only reps still below target while there are any);
   a rep of capacity c takes part in a share c of the rounds, so in a fresh plan (mostly
   this step) books grow in proportion to capacity; a rep holding an anchor account
   (pipeline/plan/territory/anchor.py, placed before this step) stops at its target;
2. book size: a rep above its book maximum sheds its smallest accounts (then step 1 places
   them); a rep below its book minimum receives the smallest accounts of the reps furthest
   above target that have more than their own minimum;
3. balance: while a rep is outside the tolerance band around its target (Books.band), move ONE account
   between it and the rep at the other extreme: the account that most reduces the two reps'
   distance outside their bands, the smallest such account on ties (least EEV moved). A rep
   for which no move helps is skipped until a move changes it, its partner or who its partner
   is (pipeline/plan/territory/extremes.py keeps these choices up to date per move). The end
   state has no improving move left, so rebalancing it again moves nothing.

Step 4, book sizes by capacity within the bands, is pipeline/plan/territory/spread.py (run
after these by pipeline/plan/territory/assign.py).

A loop runs over rounds or moves (each a numpy step over reps or over one rep's book), never
over all accounts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.plan.territory.extremes import Extremes, gains

# reasons a move is made (codes stored per account; 0 = not moved)
KEPT, NEW_ACCOUNT, REP_INACTIVE, SEGMENT_CHANGE, BOOK_SIZE, OVER_TARGET, UNDER_TARGET, ANCHOR = range(8)
REASONS = ("", "new account", "rep inactive", "segment change", "book size", "rep over target", "rep under target",
           "anchor: one per full-capacity rep")
KEPT_REASON = "kept with the current owner"  # what the Territories sheet says of an account without a move
IMPROVEMENT_EPSILON = 1e-9  # relative to the segment's mean target: smaller gains are no gain
ALL_REPS = slice(None)


@dataclass
class Books:
    """Mutable state of one segment: who holds what, against targets and book limits."""

    eev: np.ndarray  # per account
    locked: np.ndarray  # per account, bool: never leaves its rep (locked accounts, and anchors once placed)
    anchor: np.ndarray  # per account, bool: an anchor account (pipeline/plan/territory/anchor.py)
    rep: np.ndarray  # per account, rep index or -1
    reason: np.ndarray  # per account, first reason it moved (0 = none)
    capacity: np.ndarray  # per rep
    target: np.ndarray  # per rep: segment EEV x capacity share
    book_min: np.ndarray  # per rep
    book_max: np.ndarray  # per rep
    load: np.ndarray  # per rep: EEV held
    books: np.ndarray  # per rep: accounts held
    low: np.ndarray | None = None  # per rep: bottom of the EEV band aimed at (None: target x (1 - tolerance))
    high: np.ndarray | None = None  # per rep: top of the EEV band aimed at (None: target x (1 + tolerance))

    @classmethod
    def start(
        cls,
        eev: np.ndarray,
        owner: np.ndarray,
        reason: np.ndarray,
        locked: np.ndarray,
        capacity: np.ndarray,
        book_min: np.ndarray,
        book_max: np.ndarray,
    ) -> Books:
        """Books as the current owners hold them (owner -1 = to be placed, with its reason)."""
        held = owner >= 0
        target = eev.sum() * capacity / capacity.sum()
        load = np.bincount(owner[held], weights=eev[held], minlength=len(capacity)).astype(float)
        books = np.bincount(owner[held], minlength=len(capacity)).astype(np.int64)
        return cls(eev, locked & held, np.zeros(len(eev), dtype=bool), owner.copy(), np.where(held, KEPT, reason),
                   capacity, target, book_min, book_max, load, books)

    def move(self, accounts: np.ndarray, to: np.ndarray, reason: int) -> None:
        """Give `accounts` to reps `to` (vectorised); their first reason is kept."""
        held = self.rep[accounts] >= 0
        np.subtract.at(self.load, self.rep[accounts][held], self.eev[accounts][held])
        np.subtract.at(self.books, self.rep[accounts][held], 1)
        np.add.at(self.load, to, self.eev[accounts])
        np.add.at(self.books, to, 1)
        self.rep[accounts] = to
        self.reason[accounts] = np.where(self.reason[accounts] == KEPT, reason, self.reason[accounts])

    def band(self, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
        """Per rep: the EEV band the balance aims at (target x (1 -/+ tolerance) unless anchors set it)."""
        low = self.target * (1 - tolerance) if self.low is None else self.low
        high = self.target * (1 + tolerance) if self.high is None else self.high
        return low, high

    def ratio(self, reps: np.ndarray | slice = ALL_REPS) -> np.ndarray:
        """EEV held per unit of target (1 = on target) of `reps` (all by default); a zero target counts as 1."""
        load, target = self.load[reps], self.target[reps]
        return np.divide(load, target, out=np.ones_like(load), where=target > 0)


def owner_reasons(state: Books, tolerance: float) -> np.ndarray:
    """Per rep, why an account leaving it as it stands moves: book size, over or under target."""
    over = state.load > state.band(tolerance)[1]
    return np.where(state.books > state.book_max, BOOK_SIZE, np.where(over, OVER_TARGET, UNDER_TARGET))


def place(state: Books, accounts: np.ndarray, order_key: np.ndarray) -> None:
    """Place `accounts` largest EEV first (ties by order_key) in rounds on reps below target."""
    pool = accounts[np.lexsort((order_key[accounts], -state.eev[accounts]))]
    rebalancing = bool((state.rep[~state.anchor] >= 0).any())  # a fresh segment fills every book evenly instead
    holds_anchor = np.isin(np.arange(len(state.capacity)), state.rep[state.anchor])
    position, round_no = 0, 0
    while position < len(pool):
        cap = state.capacity
        takes_part = np.floor((round_no + 1) * cap + 1e-9) > np.floor(round_no * cap + 1e-9)
        round_no += 1
        candidates = np.flatnonzero(takes_part & (state.books < state.book_max))
        open_anchor = ~holds_anchor[candidates] | (state.load[candidates] < state.target[candidates])
        candidates = candidates[open_anchor] if open_anchor.any() else candidates
        below = candidates[state.load[candidates] < state.target[candidates]]
        candidates = below if below.size and rebalancing else candidates
        if candidates.size == 0:
            continue
        take = min(candidates.size, len(pool) - position)
        chosen = candidates[np.argsort(state.load[candidates] / cap[candidates], kind="stable")][:take]
        state.move(pool[position : position + take], chosen, NEW_ACCOUNT)  # an earlier reason wins
        position += take


def fix_book_sizes(state: Books, order_key: np.ndarray) -> None:
    """Bring every book within its limits, moving the smallest accounts."""
    shed = []
    for r in np.flatnonzero(state.books > state.book_max):  # loop over reps
        mine = np.flatnonzero((state.rep == r) & ~state.locked)
        excess = int(state.books[r] - state.book_max[r])
        shed.append(mine[np.lexsort((order_key[mine], state.eev[mine]))][:excess])
    if shed:
        accounts = np.concatenate(shed)
        state.reason[accounts] = np.where(state.reason[accounts] == KEPT, BOOK_SIZE, state.reason[accounts])
        state.load -= np.bincount(state.rep[accounts], weights=state.eev[accounts], minlength=len(state.load))
        state.books -= np.bincount(state.rep[accounts], minlength=len(state.books))
        state.rep[accounts] = -1
        place(state, accounts, order_key)
    for r in np.flatnonzero(state.books < state.book_min):  # loop over reps short of accounts
        while state.books[r] < state.book_min[r]:
            donors = np.flatnonzero(state.books > state.book_min)
            donors = donors[donors != r]
            if donors.size == 0:
                break
            donor = donors[np.argmax(state.ratio()[donors])]
            mine = np.flatnonzero((state.rep == donor) & ~state.locked)
            if mine.size == 0:
                break
            need = int(min(state.book_min[r] - state.books[r], state.books[donor] - state.book_min[donor]))
            state.move(mine[np.lexsort((order_key[mine], state.eev[mine]))][:need], np.full(need, r), BOOK_SIZE)


def balance(state: Books, tolerance: float, order_key: np.ndarray, max_moves: int) -> None:
    """Move single accounts between extreme reps until all are within tolerance or stuck.

    Each iteration takes the rep furthest outside its band (relative to its target; lowest index on
    ties) and the rep at the other extreme (of the reps with room in their book: the lowest ratio of
    EEV to target for an over-target rep, the highest for an under-target one), kept up to date for
    the reps each move changes (pipeline/plan/territory/extremes.py), so an iteration costs
    O(log reps) and a numpy step over one book, not a pass over all reps. `max_moves` bounds the
    iterations (moves, and reps found stuck)."""
    low, high = state.band(tolerance)
    epsilon = IMPROVEMENT_EPSILON * max(float(state.target.mean()), 1.0)
    rep_order = np.argsort(state.rep, kind="stable")
    bounds = np.searchsorted(state.rep[rep_order], np.arange(len(state.capacity) + 1))
    members = [rep_order[bounds[r] : bounds[r + 1]] for r in range(len(state.capacity))]
    members = [m[~state.locked[m]] for m in members]
    extremes = Extremes(state, low, high, epsilon, members)
    for _ in range(max_moves):  # loop over moves, each O(log reps) and a numpy step over one book
        r = extremes.worst.top()
        if r is None or extremes.gap[r] <= IMPROVEMENT_EPSILON:
            return
        donor, receiver = extremes.pair(r)
        if donor is None or receiver is None:
            extremes.set_stuck(r, None)
            continue
        candidates = members[donor]
        x = state.eev[candidates]
        gain = gains(state.load, low, high, epsilon, donor, receiver, x)
        if candidates.size == 0 or gain.max() <= 0:
            extremes.set_stuck(r, receiver if donor == r else donor)
            continue
        best = candidates[np.lexsort((order_key[candidates], x, -gain))[0]]
        state.move(np.array([best]), np.array([receiver]), OVER_TARGET if donor == r else UNDER_TARGET)
        members[donor] = members[donor][members[donor] != best]
        members[receiver] = np.append(members[receiver], best)
        extremes.moved(donor, receiver)


def rebalance(state: Books, tolerance: float, order_key: np.ndarray) -> Books:
    """Place what has no owner, fix book sizes, then balance EEV with as few moves as it takes."""
    place(state, np.flatnonzero(state.rep < 0), order_key)
    fix_book_sizes(state, order_key)
    balance(state, tolerance, order_key, max_moves=len(state.eev))
    return state
