"""The balance step and the book-size spread keep their choice of reps up to date per move
(pipeline/plan/territory/extremes.py; the reps sorted by book-share gap in spread.py) instead of
recomputing it over all reps: on random segments they make exactly the moves of the straightforward
recomputations below (every rep's keys after every move; for the balance, every stuck rep asked
again after every move), which is what both steps did before."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.plan.territory.assign import BookLimits, start_books
from pipeline.plan.territory.extremes import RepHeap, outside_band
from pipeline.plan.territory.heuristic import (
    IMPROVEMENT_EPSILON,
    KEPT,
    NEW_ACCOUNT,
    OVER_TARGET,
    UNDER_TARGET,
    Books,
    balance,
    fix_book_sizes,
    place,
)
from pipeline.plan.territory.spread import SPREAD_EPSILON, book_shares, room_to_give, room_to_take, spread


def _recomputed_balance(state: Books, tolerance: float, order_key: np.ndarray, max_moves: int) -> int:
    """The balance with a full pass over the reps per iteration; returns the iterations made."""
    low, high = state.band(tolerance)
    epsilon = IMPROVEMENT_EPSILON * max(float(state.target.mean()), 1.0)
    members = [np.flatnonzero((state.rep == r) & ~state.locked) for r in range(len(state.capacity))]
    stuck = np.zeros(len(state.capacity), dtype=bool)
    for iteration in range(max_moves):
        gap = outside_band(state.load, low, high) / np.maximum(state.target, epsilon)
        gap[stuck] = 0
        r = int(np.argmax(gap))
        if gap[r] <= IMPROVEMENT_EPSILON:
            return iteration
        ratio = state.ratio()
        if state.load[r] > high[r]:
            others = np.flatnonzero(state.books < state.book_max)
            donor, receiver, reason = r, others[others != r], OVER_TARGET
        else:
            others = np.flatnonzero(state.books > state.book_min)
            donor, receiver, reason = others[others != r], r, UNDER_TARGET
        if np.size(donor) == 0 or np.size(receiver) == 0:
            stuck[r] = True
            continue
        donor = int(donor if np.ndim(donor) == 0 else donor[np.argmax(ratio[donor])])
        receiver = int(receiver if np.ndim(receiver) == 0 else receiver[np.argmin(ratio[receiver])])
        candidates = members[donor]
        x = state.eev[candidates]
        before = outside_band(state.load[[donor, receiver]], low[[donor, receiver]], high[[donor, receiver]]).sum()
        after = (outside_band(state.load[donor] - x, low[donor], high[donor])
                 + outside_band(state.load[receiver] + x, low[receiver], high[receiver]))
        gain = np.where(after < before - epsilon, np.round((before - after) / epsilon), 0)
        if candidates.size == 0 or gain.max() <= 0:
            stuck[r] = True
            continue
        best = candidates[np.lexsort((order_key[candidates], x, -gain))[0]]
        state.move(np.array([best]), np.array([receiver]), reason)
        members[donor] = members[donor][members[donor] != best]
        members[receiver] = np.append(members[receiver], best)
        stuck[:] = False
    return max_moves


def _recomputed_spread(state: Books, tolerance: float, order_key: np.ndarray, max_moves: int) -> int:
    """The book-size spread with a sort and a pass over all reps per move; returns the moves made."""
    low, high = state.band(tolerance)
    share = book_shares(state)
    movable = np.flatnonzero((state.reason != KEPT) & ~state.locked & (state.rep >= 0))
    members = [movable[state.rep[movable] == r] for r in range(len(state.capacity))]
    for moves in range(max_moves):
        smallest = np.array([state.eev[m].min() if m.size else np.inf for m in members])
        gap = state.books - share
        gives = np.where(state.books > state.book_min, smallest, np.inf)
        gives[gives > room_to_give(state.load, low, high)] = np.inf
        order = np.argsort(gap, kind="stable")
        least_given = np.minimum.accumulate(gives[order][::-1])[::-1]
        first_donor = np.searchsorted(gap[order], gap + 1 + SPREAD_EPSILON, side="right")
        reachable = np.append(least_given, np.inf)[first_donor]
        takes = room_to_take(state.load, low, high)
        open_receivers = np.flatnonzero((state.books < state.book_max) & (reachable <= takes))
        if open_receivers.size == 0:
            return moves
        receiver = int(open_receivers[np.argmin(gap[open_receivers])])
        donors = np.flatnonzero((gap > gap[receiver] + 1 + SPREAD_EPSILON) & (gives <= takes[receiver]))
        donor = int(donors[np.argmax(gap[donors])])
        mine = members[donor]
        pick = np.lexsort((order_key[mine], state.eev[mine]))[0]
        state.move(mine[pick : pick + 1], np.array([receiver]), KEPT)
        members[receiver] = np.append(members[receiver], mine[pick])
        members[donor] = np.delete(mine, pick)
    return max_moves


def _segment(seed: int) -> tuple[Books, np.ndarray]:
    """A placed segment of lumpy EEV (some accounts above a whole target), part-capacity reps, some
    accounts locked with an owner, tight book limits and, in every other case, anchor-style bands."""
    rng = np.random.default_rng(seed)
    n, reps = int(rng.integers(200, 1500)), int(rng.integers(5, 60))
    eev = np.round(rng.lognormal(5, float(rng.uniform(0.5, 2.0)), size=n), int(rng.integers(0, 3)))
    owner = np.where(rng.random(n) < 0.6, rng.integers(0, reps, size=n), -1)
    capacity = rng.choice([1.0, 0.5, 0.8], size=reps)
    per_rep = n / capacity.sum()
    limits = BookLimits("s", int(per_rep * rng.uniform(0.2, 0.9)), int(per_rep * rng.uniform(1.1, 2.0)))
    locked = (owner >= 0) & (rng.random(n) < 0.05)
    books = start_books(eev, owner, np.full(n, NEW_ACCOUNT), locked, capacity, limits)
    if seed % 2:
        books.low = books.target * rng.uniform(0.8, 0.97, size=reps)
        books.high = books.target * rng.uniform(1.01, 1.3, size=reps)
    order_key = np.array([f"A{i:05d}" for i in rng.permutation(n)])
    place(books, np.flatnonzero(books.rep < 0), order_key)
    fix_book_sizes(books, order_key)
    return books, order_key


def _copy(state: Books) -> Books:
    return Books(**{f: (v.copy() if isinstance(v, np.ndarray) else v) for f, v in vars(state).items()})


@pytest.mark.parametrize("seed", range(48))
def test_balance_makes_the_moves_of_a_full_recomputation(seed: int):
    state, order_key = _segment(seed)
    tolerance = [0.01, 0.05, 0.1][seed % 3]
    expected, cap = _copy(state), 50 * len(state.eev)  # the reference spends iterations asking stuck reps again
    iterations = _recomputed_balance(expected, tolerance, order_key, max_moves=cap)
    balance(state, tolerance, order_key, max_moves=cap)
    assert iterations < cap  # the reference ended by itself, not at the cap
    assert (state.rep != expected.rep).sum() == 0
    assert (state.reason == expected.reason).all()
    assert (state.load == expected.load).all() and (state.books == expected.books).all()


@pytest.mark.parametrize("seed", range(48))
def test_spread_makes_the_moves_of_a_full_recomputation(seed: int):
    state, order_key = _segment(seed)
    tolerance = [0.01, 0.05, 0.1][seed % 3]
    balance(state, tolerance, order_key, max_moves=50 * len(state.eev))
    expected = _copy(state)
    moves = _recomputed_spread(expected, tolerance, order_key, max_moves=len(state.eev))
    spread(state, tolerance, order_key, max_moves=len(state.eev))
    assert moves < len(state.eev)
    assert (state.rep != expected.rep).sum() == 0
    assert (state.load == expected.load).all() and (state.books == expected.books).all()


def test_the_random_segments_spread_accounts():
    moves = []
    for seed in range(48):
        state, order_key = _segment(seed)
        tolerance = [0.01, 0.05, 0.1][seed % 3]
        balance(state, tolerance, order_key, max_moves=50 * len(state.eev))
        moves.append(_recomputed_spread(state, tolerance, order_key, max_moves=len(state.eev)))
    assert sum(moves) > 1000 and sum(m > 0 for m in moves) > 40


def test_the_random_segments_move_accounts_both_ways_and_leave_reps_stuck():
    """The cases above exercise what the kept-up-to-date choice must get right: moves off over-target
    and onto under-target reps, and reps left outside their band that no move helps."""
    reasons, stuck = set(), 0
    for seed in range(48):
        state, order_key = _segment(seed)
        tolerance = [0.01, 0.05, 0.1][seed % 3]
        before = state.reason.copy()
        balance(state, tolerance, order_key, max_moves=len(state.eev))
        reasons |= set(state.reason[state.reason != before].tolist())
        low, high = state.band(tolerance)
        stuck += int((outside_band(state.load, low, high) > 0).sum())
    assert {OVER_TARGET, UNDER_TARGET} <= reasons
    assert stuck > 0


def test_rep_heap_gives_numpy_argmin_over_eligible_reps_after_random_updates():
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 20, size=50).astype(float)  # many ties: the lowest rep must win
    eligible = rng.random(50) < 0.7
    heap = RepHeap(keys.tolist(), eligible.tolist())
    for _ in range(2000):
        rep = int(rng.integers(0, 50))
        keys[rep], eligible[rep] = float(rng.integers(0, 20)), bool(rng.random() < 0.7)
        heap.update(rep, keys[rep], eligible[rep])
        exclude = int(rng.integers(0, 50))
        allowed = eligible & (np.arange(50) != exclude)
        expected = int(np.flatnonzero(allowed)[np.argmin(keys[allowed])]) if allowed.any() else None
        assert heap.top(exclude=exclude) == expected
