"""A real DuckDB file with the staged tables built by the real SQL, for tests with known answers."""

from __future__ import annotations

from pathlib import Path

from pipeline import warehouse
from pipeline.ingest import ingest_inputs
from pipeline.settings import PlanSettings
from pipeline.staging import WHITESPACE_STEPS, build_steps, write_segment_bands


def build_whitespace(input_dir: Path, db: Path, settings: PlanSettings) -> Path:
    """Load an input folder into a real DuckDB file and build every table up to whitespace_items
    with the real SQL (the same functions the Dagster assets call); returns the file."""
    with warehouse.connect(db) as con:
        ingest_inputs(con, input_dir)
        write_segment_bands(con, settings)
        build_steps(con, settings, WHITESPACE_STEPS)
    return db
