"""The team: expansion reps sized per segment from the accounts' ACV, CSMs for the larger
accounts, each account's owner and CSM, and the reps table."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from pipeline.sample_data.catalog import BOOK_LOAD, CSM_BOOK, SEGMENTS
from pipeline.sample_data.columns import code_labels, numbered_ids, person_names


@dataclass(frozen=True)
class Team:
    """The reps table and, per account, the row of its expansion owner and CSM (-1: none)."""

    reps: pl.DataFrame
    owner: np.ndarray
    csm: np.ndarray

    def rep_ids(self, rows: np.ndarray) -> pl.Series:
        """rep_id of reps-table rows (-1: null)."""
        return code_labels(rows, self.reps["rep_id"].to_list())


def build_team(rng: np.random.Generator, acv: np.ndarray) -> Team:
    """Expansion reps sized per segment by BOOK_LOAD x book_max, never below what book_max needs
    (a few ramping at half capacity,
    one or two inactive still owning accounts, one or two without a segment) and CSMs for the
    accounts above $25K; then owners (95% of the assigned segments) and CSMs of the accounts."""
    n = len(acv)
    segment = np.searchsorted([s[1] for s in SEGMENTS], acv, side="right") - 1  # -1: self-serve
    extra = 1 if n < 1000 else 2
    seg_parts, cap_parts, active_parts = [], [], []
    for s, (_, _, book_max) in enumerate(SEGMENTS):
        accounts = float(np.sum(segment == s))
        fte = max(1.0, accounts / (BOOK_LOAD * book_max))
        ramping = max(1, round(fte / 10)) if fte >= 3 else 0
        # enough active capacity for every account of the segment within book_max, at every size
        full = max(1, round(fte - 0.5 * ramping), math.ceil(accounts / book_max - 0.5 * ramping))
        inactive = int(s < extra)
        order = rng.permutation(full + ramping + inactive)
        seg_parts.append(np.full(len(order), s))
        cap_parts.append(np.r_[np.ones(full), np.full(ramping, 0.5), np.ones(inactive)][order])
        active_parts.append(np.r_[np.ones(full + ramping, bool), np.zeros(inactive, bool)][order])
    rep_segment = np.concatenate([*seg_parts, np.full(extra, -1)])
    capacity = np.concatenate([*cap_parts, np.ones(extra)])
    active = np.concatenate([*active_parts, np.ones(extra, bool)])
    owner = np.full(n, -1)
    owned = rng.random(n) >= 0.05
    for s in range(len(SEGMENTS)):
        acc = np.flatnonzero(owned & (segment == s))
        reps = np.flatnonzero(rep_segment == s)
        owner[acc] = rng.choice(reps, len(acc), p=capacity[reps] / capacity[reps].sum())
    draw = rng.random(n)
    covered = ((acv >= 25_000) & (draw < 0.9)) | ((acv >= 10_000) & (acv < 25_000) & (draw < 0.06))
    n_csm = max(1, math.ceil(covered.sum() / CSM_BOOK))
    csm = np.where(covered, len(rep_segment) + rng.integers(0, n_csm, n), -1)
    reps = _reps_frame(rng, rep_segment, capacity, active, n_csm)
    return Team(reps, owner, csm)


def _reps_frame(rng: np.random.Generator, segment: np.ndarray, capacity: np.ndarray, active: np.ndarray,
                n_csm: int) -> pl.DataFrame:
    """The reps table: expansion reps R0001.. then CSMs C0001.. (segment null, capacity 1)."""
    n_rep = len(segment)
    count = n_rep + n_csm
    return pl.DataFrame({
        "rep_id": pl.concat([numbered_ids("R", n_rep, 4), numbered_ids("C", n_csm, 4)]),
        "name": person_names(rng, count),
        "role": code_labels(np.r_[np.zeros(n_rep, np.int64), np.ones(n_csm, np.int64)], ("expansion_rep", "csm")),
        "segment": code_labels(np.r_[segment, np.full(n_csm, -1)], [s[0] for s in SEGMENTS]),
        "capacity": np.r_[capacity, np.ones(n_csm)],
        "active": np.r_[active, np.ones(n_csm, bool)],
    })

