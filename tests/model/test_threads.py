"""The models' use of the cores: ensemble members fit side by side in threads, each on one
OpenMP thread, with results that do not depend on how many threads ran them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models import threads
from models.candidates import boosted_member
from models.ensemble import Ensemble, EnsembleSettings
from tests.model.test_model import SEED, SPEC, synthetic_panel

ROOT = Path(__file__).resolve().parents[2]


PROBE = """
import json, threading
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
from models import threads
threads.usable_cores = lambda: 2
both_started = threading.Barrier(2, timeout=30)  # breaks (raises) unless two calls run at once
def probe(item):
    both_started.wait()
    return item, _openmp_effective_n_threads(), threading.current_thread().name
print(json.dumps(threads.map_in_threads(probe, [3, 1])))
"""


def test_map_in_threads_runs_side_by_side_in_order_with_one_openmp_thread_each():
    # in a process whose OpenMP default is 2 threads (the suite's own is 1): a new thread starts
    # at that default, so each worker must limit itself
    env = os.environ | {"OMP_NUM_THREADS": "2"}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=120).stdout
    results = json.loads(out)
    assert [item for item, _, _ in results] == [3, 1]
    assert [n for _, n, _ in results] == [threads.OPENMP_THREADS] * 2
    assert len({name for _, _, name in results}) == 2


def test_an_ensemble_scores_the_same_whether_its_members_fit_side_by_side_or_one_after_the_other(
        monkeypatch: pytest.MonkeyPatch):
    panel = synthetic_panel().head(6_000)
    y = panel["label"].to_numpy()
    settings = EnsembleSettings(members=3, subsample=0.8)

    def scores(cores: int) -> np.ndarray:
        monkeypatch.setattr(threads, "usable_cores", lambda: cores)
        return Ensemble(lambda seed: boosted_member(SPEC, seed), settings, SEED).fit(panel, y).score(panel)

    one_after_the_other, side_by_side = scores(1), scores(2)
    assert np.array_equal(one_after_the_other, side_by_side)
    assert one_after_the_other.std() > 0  # a real fit, not a constant
