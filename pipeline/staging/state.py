"""Staged tables as plain functions: the Dagster assets, the tests and the benchmarks build
the segment bands and the training sample's parameters through the same code."""

from __future__ import annotations

import duckdb
import polars as pl

from pipeline.core.settings import PlanSettings
from pipeline.staging.segments import write_segment_accounts

HASH_VALUES = 16**8  # values of the 8 hex digits the training sample compares


def write_segment_bands(con: duckdb.DuckDBPyConnection, settings: PlanSettings) -> None:
    """work.segment_bands: the ACV bands of the settings, [min_acv, max_acv) per segment, the
    settings' quota_factor (NULL for 'auto') and whether the band is restricted to listed accounts;
    work.segment_accounts: the accounts named for a segment and those whose dimension values a
    restricted segment takes. Stops with SegmentCoverageError when accounts have dimension values
    no segment takes (see pipeline/staging/segments.py)."""
    overrides = {"max_acv": pl.Float64, "quota_factor": pl.Float64, "book_min": pl.Int64, "book_max": pl.Int64,
                 "target_eev_per_rep": pl.Float64}
    bands = pl.DataFrame(settings.segment_table(), schema_overrides=overrides)  # noqa: F841  (read by the SQL)
    con.execute("CREATE OR REPLACE TABLE work.segment_bands AS SELECT * FROM bands")
    write_segment_accounts(con, settings)


def account_state_params(settings: PlanSettings, con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """Training snapshots sample accounts down to model.max_training_accounts (seeded): an account
    is kept when the first 8 hex digits of md5(account_id:seed) are <= $train_sample_cutoff
    (hex text compares like the number; '' keeps none, 'ffffffff' all). md5 gives the same
    sample on DuckDB and on Spark."""
    row = con.execute("SELECT count(*) FROM raw.accounts").fetchone()
    accounts = row[0] if row else 0
    share = min(1.0, settings.model.max_training_accounts / accounts) if accounts else 1.0
    kept = int(share * HASH_VALUES)
    return {**settings.sql_params(), "train_sample_cutoff": f"{kept - 1:08x}" if kept else ""}

