"""The reps the balance step (pipeline/plan/territory/heuristic.py `balance`) asks for after each move,
kept up to date for the reps a move changes instead of recomputed over all reps of the segment.

`RepHeap` is a binary heap of (key, rep, version) entries with lazy deletion: updating a rep bumps
its version (its older entries become stale and are dropped when they reach the top) and pushes one
new entry if the rep is eligible. Ties go to the lowest rep index, as numpy's argmin / argmax over
the reps in index order do, so the balance picks the same reps as a full recomputation would, at
O(log reps) per change. Stale entries are at most one per update: memory stays bounded by the reps
plus the updates made.

`Extremes` holds three of them (the rep furthest outside its band that is not stuck, the receiver
with the lowest ratio of EEV to target, the donor with the highest) and the stuck reps: a rep for
which no single move with its partner (the rep at the other extreme) helps. After a move, a stuck
rep whose partner is still the same and unchanged stays stuck without being asked; the others are
asked again in one numpy step over their books, and only those a move would now help go back into
the running. The moves are the ones asking every stuck rep again one by one would give.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pipeline.plan.territory.heuristic import Books


class RepHeap:
    """Smallest key (ties: lowest rep) among eligible reps; negate keys for the largest."""

    def __init__(self, keys: Sequence[float], eligible: Sequence[bool]) -> None:
        self._heap = [(key, rep, 0) for rep, (key, ok) in enumerate(zip(keys, eligible, strict=True)) if ok]
        heapq.heapify(self._heap)
        self._version = [0] * len(keys)

    def update(self, rep: int, key: float, eligible: bool) -> None:
        """The rep's new key, or no entry at all when it is not eligible."""
        self._version[rep] += 1
        if eligible:
            heapq.heappush(self._heap, (key, rep, self._version[rep]))

    def _drop_stale(self) -> None:
        heap, version = self._heap, self._version
        while heap and heap[0][2] != version[heap[0][1]]:
            heapq.heappop(heap)

    def top(self, exclude: int = -1) -> int | None:
        """The eligible rep with the smallest key other than `exclude`; None when there is none."""
        self._drop_stale()
        if not self._heap:
            return None
        if self._heap[0][1] != exclude:
            return self._heap[0][1]
        held = heapq.heappop(self._heap)
        self._drop_stale()
        rep = self._heap[0][1] if self._heap else None
        heapq.heappush(self._heap, held)
        return rep


def outside_band(load: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Per rep: EEV by which `load` lies outside the band low-high (0 inside it)."""
    return np.maximum(load - high, 0) + np.maximum(low - load, 0)


def gains(load: np.ndarray, low: np.ndarray, high: np.ndarray, epsilon: float,
          donor: np.ndarray | int, receiver: np.ndarray | int, x: np.ndarray) -> np.ndarray:
    """Per account of EEV x moving from donor to receiver: how much less the two reps lie outside
    their bands, in units of epsilon (0 = no gain); donor and receiver one rep or one per account."""
    before = (outside_band(load[donor], low[donor], high[donor])
              + outside_band(load[receiver], low[receiver], high[receiver]))
    after = (outside_band(load[donor] - x, low[donor], high[donor])
             + outside_band(load[receiver] + x, low[receiver], high[receiver]))
    return np.where(after < before - epsilon, np.round((before - after) / epsilon), 0)


class Extremes:
    """The balance's choice of reps, updated per move (see the module docstring)."""

    def __init__(self, state: Books, low: np.ndarray, high: np.ndarray, epsilon: float,
                 members: list[np.ndarray]) -> None:
        self.state, self.low, self.high, self.epsilon, self.members = state, low, high, epsilon, members
        self.scale = np.maximum(state.target, epsilon)
        self.gap = outside_band(state.load, low, high) / self.scale  # per rep: outside its band per unit of target
        ratio = state.ratio()
        self.worst = RepHeap((-self.gap).tolist(), [True] * len(self.gap))
        self.receivers = RepHeap(ratio.tolist(), (state.books < state.book_max).tolist())
        self.donors = RepHeap((-ratio).tolist(), (state.books > state.book_min).tolist())
        self.stuck: list[tuple[int, int | None]] = []  # (rep, its partner when it got stuck)

    def pair(self, rep: int) -> tuple[int | None, int | None]:
        """Donor and receiver of a move that brings `rep` towards its band (None: no such rep):
        an over-target rep gives to the lowest ratio with room, else the highest ratio gives to it."""
        if self.state.load[rep] > self.high[rep]:
            return rep, self.receivers.top(exclude=rep)
        return self.donors.top(exclude=rep), rep

    def set_stuck(self, rep: int, partner: int | None) -> None:
        """No move between `rep` and `partner` helps `rep`: out of the running until that may change."""
        self.worst.update(rep, 0.0, eligible=False)
        self.stuck.append((rep, partner))

    def moved(self, donor: int, receiver: int) -> None:
        """After a move between the two: their new keys, and back into the running every stuck rep
        that a move with its partner now helps."""
        self._refresh(np.array(sorted({donor, receiver})))
        still, ask = [], []
        for rep, partner in self.stuck:
            if rep in (donor, receiver):
                continue  # in the running again with its new keys
            give, take = self.pair(rep)
            now = take if give == rep else give
            if now is None or (now == partner and partner not in (donor, receiver)):
                still.append((rep, now))
            else:
                ask.append((rep, give, take))
        for (rep, give, take), helped in zip(ask, self._helped(ask).tolist(), strict=True):
            if helped:
                self.worst.update(rep, -float(self.gap[rep]), eligible=True)
            else:
                still.append((rep, take if give == rep else give))
        self.stuck = still

    def _helped(self, asked: list[tuple[int, int, int]]) -> np.ndarray:
        """Per (rep, donor, receiver): whether moving one of the donor's accounts helps (one numpy step)."""
        if not asked:
            return np.zeros(0, dtype=bool)
        books = [self.members[give] for _, give, _ in asked]
        sizes = np.array([len(book) for book in books])
        accounts = np.concatenate(books)
        donor = np.repeat([give for _, give, _ in asked], sizes)
        receiver = np.repeat([take for _, _, take in asked], sizes)
        gain = gains(self.state.load, self.low, self.high, self.epsilon, donor, receiver, self.state.eev[accounts])
        return np.bincount(np.repeat(np.arange(len(asked)), sizes)[gain > 0], minlength=len(asked)) > 0

    def _refresh(self, reps: np.ndarray) -> None:
        state = self.state
        gap = outside_band(state.load[reps], self.low[reps], self.high[reps]) / self.scale[reps]
        self.gap[reps] = gap
        for rep, g, ratio in zip(reps.tolist(), gap.tolist(), state.ratio(reps).tolist(), strict=True):
            self.worst.update(rep, -g, eligible=True)
            self.receivers.update(rep, ratio, eligible=bool(state.books[rep] < state.book_max[rep]))
            self.donors.update(rep, -ratio, eligible=bool(state.books[rep] > state.book_min[rep]))
