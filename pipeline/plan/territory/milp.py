"""Exact minimal-move rebalancing of one segment as a MILP (HiGHS through highspy).

Variables: x[a, r] = 1 when account a goes to rep r (binary); s[r] >= 0 = EEV by which rep r
is outside its tolerance band; u[r] >= 0 = accounts by which rep r is below its book minimum;
p[r], q[r] >= 0 = accounts by which rep r's book is above / below its book share (the segment's
accounts x its capacity share: pipeline/plan/territory/spread.py).
Constraints: every account on exactly one rep; a locked account on its rep (its owner; an anchor
where pipeline/plan/territory/anchor.py placed it); books at most
book_max; band bottom - s[r] <= EEV of r <= band top + s[r] (target x (1 -/+ tolerance), or the band
anchors set: Books.band);
books >= book_min - u[r]; books - p[r] + q[r] = book share. Objective, in this order of priority:
EEV outside the bands, then book minimums, then the number of accounts moved off their owner,
then the EEV moved together with the accounts off the book shares (the whole of that last term
weighs less than one account moved, so no account leaves its owner to even out book sizes).
The heuristic's answer is the starting solution, so the MILP never returns anything worse.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

import highspy
import numpy as np
from scipy import sparse

from pipeline.plan.territory.heuristic import Books
from pipeline.plan.territory.spread import book_shares

MIP_REL_GAP = 1e-4  # stop when proven within this relative gap of the optimum
_SILENCING = threading.Lock()  # segments are solved side by side (territory.assign)


def solve_milp(
    state: Books, owner: np.ndarray, tolerance: float, max_nodes: int, time_limit: float
) -> np.ndarray | None:
    """Best assignment (rep index per account) found within the time limit, or None."""
    n, m = len(state.eev), len(state.capacity)
    total = max(float(state.eev.sum()), 1e-9)
    scale = total / m  # mean target: deviations are measured in mean targets
    has_owner = owner >= 0
    # objective weights: one account moved < any EEV outside the bands or book shortfall; the EEV moved
    # (at most 1/2 in all) and the accounts off the book shares (at most 2n x w_share < 1/2) < one account moved
    w_band, w_book, w_share = 10.0 * (n + 1) / scale, 10.0 * (n + 1), 1.0 / (2 * (2 * n + 1))
    move_cost = np.ones((n, m)) + state.eev[:, None] / (2 * total)
    move_cost[~has_owner, :] = 0.0
    move_cost[np.flatnonzero(has_owner), owner[has_owner]] = 0.0
    cost = np.concatenate([move_cost.ravel(), np.full(m, w_band), np.full(m, w_book), np.full(2 * m, w_share)])
    n_x, n_col = n * m, n * m + 4 * m
    lower = np.zeros(n_col)
    upper = np.concatenate([np.ones(n_x), np.full(4 * m, np.inf)])
    locked = np.flatnonzero(state.locked & (state.rep >= 0))
    lower[locked * m + state.rep[locked]] = 1.0

    col = np.arange(n_x)
    acc, rep = col // m, col % m
    one_rep = sparse.csr_matrix((np.ones(n_x), (acc, col)), shape=(n, n_col))
    book = sparse.csr_matrix((np.ones(n_x), (rep, col)), shape=(m, n_col))
    load = sparse.csr_matrix((state.eev[acc], (rep, col)), shape=(m, n_col))
    slack, short, above, below = (
        sparse.csr_matrix((np.ones(m), (np.arange(m), n_x + k * m + np.arange(m))), shape=(m, n_col))
        for k in range(4)
    )
    rows = sparse.vstack([one_rep, book, book + short, load - slack, load + slack, book - above + below]).tocsr()
    low, high = state.band(tolerance)
    share = book_shares(state)
    row_lower = np.concatenate([np.ones(n), np.zeros(m), state.book_min, np.full(m, -np.inf), low, share])
    row_upper = np.concatenate([np.ones(n), state.book_max, np.full(m, np.inf), high, np.full(m, np.inf), share])

    model = highspy.HighsLp()
    model.num_col_, model.num_row_ = n_col, rows.shape[0]
    model.col_cost_, model.col_lower_, model.col_upper_ = cost, lower, upper
    model.row_lower_, model.row_upper_ = row_lower, row_upper
    csc = rows.tocsc()
    model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    model.a_matrix_.start_, model.a_matrix_.index_, model.a_matrix_.value_ = csc.indptr, csc.indices, csc.data
    model.integrality_ = [highspy.HighsVarType.kInteger] * n_x + [highspy.HighsVarType.kContinuous] * (4 * m)

    with _SILENCING, _stdout_silenced():  # one thread at a time: each swaps file descriptor 1
        solver = highspy.Highs()  # prints a banner on construction, before options apply
    solver.setOptionValue("output_flag", False)
    solver.setOptionValue("mip_max_nodes", int(max_nodes))
    solver.setOptionValue("time_limit", float(time_limit))
    solver.setOptionValue("mip_rel_gap", MIP_REL_GAP)
    solver.setOptionValue("threads", 1)
    solver.setOptionValue("random_seed", 0)
    solver.passModel(model)
    solver.setSolution(_start(state, n, m, tolerance))
    solver.run()
    if solver.getInfo().primal_solution_status != 2:  # no feasible solution
        return None
    values = np.asarray(solver.getSolution().col_value[:n_x]).reshape(n, m)
    return np.argmax(values, axis=1)


@contextlib.contextmanager
def _stdout_silenced() -> Iterator[None]:
    """Send what native code writes to stdout (file descriptor 1) to /dev/null meanwhile."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


def _start(state: Books, n: int, m: int, tolerance: float) -> highspy.HighsSolution:
    """The heuristic's assignment as a full MILP solution (x, band slack, book shortfall, off the book shares)."""
    x = np.zeros((n, m))
    x[np.arange(n), state.rep] = 1.0
    low, high = state.band(tolerance)
    band = np.maximum(state.load - high, 0) + np.maximum(low - state.load, 0)
    solution = highspy.HighsSolution()
    off_share = state.books - book_shares(state)
    solution.col_value = np.concatenate([x.ravel(), band, np.maximum(state.book_min - state.books, 0),
                                         np.maximum(off_share, 0), np.maximum(-off_share, 0)]).tolist()
    solution.value_valid = True
    return solution
