"""Shared fixtures: a sample data set and a plan run on it (real DuckDB file, real Dagster run)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from pipeline.runner import PlanOutcome, run_plan
from pipeline.sample_data import generate_sample
from tests.builders import LETTERS_TEST_CONFIG

SAMPLE_ACCOUNTS = 800


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="session")
def sample_inputs(sample_dir: Path) -> Path:
    generate_sample(sample_dir / "input", accounts=SAMPLE_ACCOUNTS, seed=11)
    return sample_dir / "input"


@pytest.fixture(scope="session")
def sample_plan(sample_inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> PlanOutcome:
    db = Path(tmp_path_factory.mktemp("plan")) / "plan.duckdb"
    return run_plan(sample_inputs, LETTERS_TEST_CONFIG, db, instance=dg.DagsterInstance.ephemeral())
