"""The export folder the sample plan's run wrote (tests/conftest.py's session plan)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core import warehouse
from pipeline.runner import PlanOutcome


@pytest.fixture(scope="session")
def exported(sample_plan: PlanOutcome) -> Path:
    """The folder the plan_exports asset wrote during the sample plan run."""
    folder = warehouse.output_dir(sample_plan.db, "exports") / sample_plan.plan_id
    assert folder.is_dir()
    return folder
