"""Fixtures of the ingestion tests: a writable copy of the valid input folder, an empty DuckDB file."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from pipeline.core import warehouse

VALID = Path(__file__).parents[1] / "fixtures" / "valid"


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """A writable copy of the valid fixture."""
    folder = tmp_path / "input"
    shutil.copytree(VALID, folder)
    return folder


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with warehouse.connect(tmp_path / "warehouse.duckdb") as connection:
        yield connection
