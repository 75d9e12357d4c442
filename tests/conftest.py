"""Shared fixtures: a sample data set and a plan run on it (real DuckDB file, real Dagster run),
the Maven CRM sample's plan, each made once for the whole session (`made_once`)."""

from __future__ import annotations

import os

# One OpenMP thread per process (scikit-learn's boosted models), before anything loads it: the
# suite runs two workers on two cores, and more threads than cores only wait on each other
# (measured: the model tests take 15-20% less time). Inherited by the workers and CLI processes.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import dataclasses
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import dagster as dg
import pytest
from filelock import FileLock

from pipeline.runner import PlanOutcome, run_plan
from pipeline.sample_data import generate_sample
from tests.builders import LETTERS_TEST_CONFIG, settings_with

SAMPLE_ACCOUNTS = 800
ROOT = Path(__file__).resolve().parents[1]
MAVEN_DIR = ROOT / "datasets" / "maven-crm"  # the public Maven CRM sample, kept in the repository
MAVEN_MAPPING = ROOT / "mappings" / "maven_crm.yaml"
MAVEN_CONFIG = ROOT / "config" / "maven_crm.yaml"
T = TypeVar("T")


def shared_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder every pytest-xdist worker of this session sees (and no other session)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def made_once(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], T]) -> T:
    """`make(folder)` run once for the whole session, also across pytest-xdist's workers: the first
    worker to ask makes it in a folder all workers see (under a file lock) while the others wait;
    its result is kept (pickled) beside it. `make` must not depend on which worker runs it."""
    shared = shared_folder(tmp_path_factory)
    with FileLock(shared / f"{name}.lock"):
        kept = shared / f"{name}.pickle"
        if not kept.exists():
            result = make(shared / name)
            kept.write_bytes(pickle.dumps(result))
    return pickle.loads(kept.read_bytes())


def own_copy(outcome: PlanOutcome, tmp_path_factory: pytest.TempPathFactory, name: str) -> PlanOutcome:
    """A worker's own copy of a plan made once (its DuckDB file and export folders), so that a test
    may write into it (a new version, an export) without touching another worker's."""
    source = outcome.db.parent
    target = Path(tmp_path_factory.mktemp(name)) / source.name
    shutil.copytree(source, target)
    return dataclasses.replace(outcome, db=target / outcome.db.name)


@pytest.fixture(scope="session")
def sample_inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 800-account sample (seed 11): one folder for the whole session; tests copy it to change it."""
    def make(folder: Path) -> Path:
        generate_sample(folder / "input", accounts=SAMPLE_ACCOUNTS, seed=11)
        return folder / "input"

    return made_once(tmp_path_factory, "sample", make)


@pytest.fixture(scope="session")
def sample_plan(sample_inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> PlanOutcome:
    """The sample planned with the mechanics settings, letters as PDF too (this worker's copy)."""
    def make(folder: Path) -> PlanOutcome:
        return run_plan(sample_inputs, LETTERS_TEST_CONFIG, folder / "plan" / "plan.duckdb",
                        instance=dg.DagsterInstance.ephemeral())

    return own_copy(made_once(tmp_path_factory, "sample_plan", make), tmp_path_factory, "plan")


@pytest.fixture(scope="session")
def maven_plan(tmp_path_factory: pytest.TempPathFactory) -> PlanOutcome:
    """The Maven plan made current although it needs review (review.accept_degraded), so that its
    tables can be read in main.*; test_maven_plan_names_why_it_needs_review reads the reasons."""
    def make(folder: Path) -> PlanOutcome:
        (folder / "plan").mkdir(parents=True)
        config = settings_with(folder, "review", base=MAVEN_CONFIG, accept_degraded=True)
        return run_plan(MAVEN_DIR, config, folder / "plan" / "plan.duckdb", instance=dg.DagsterInstance.ephemeral(),
                        mapping=MAVEN_MAPPING)

    return own_copy(made_once(tmp_path_factory, "maven_plan", make), tmp_path_factory, "maven")
