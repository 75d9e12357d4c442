"""Dagster resources: where the warehouse file, the input folder and the settings are.

Defaults come from environment variables so that `dagster dev`, the CLI and tests point the
same assets at different places without code changes:
QUOTA_PLAN_DB, QUOTA_PLAN_INPUT, QUOTA_PLAN_CONFIG, QUOTA_PLAN_AS_OF.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb

from pydantic import PrivateAttr

from pipeline import warehouse
from pipeline.run_lock import run_lock
from pipeline.settings import DEFAULT_CONFIG, PlanSettings, load_settings

DEFAULT_DB = "data/quota_plan.duckdb"
DEFAULT_INPUT = "data/sample"


# Failures worth a retry: the file system or a DuckDB file held by another program. Anything
# else (bad input, an impossible plan, a bug) is permanent and never retried.
TRANSIENT_ERRORS = (OSError, duckdb.IOException)


class Warehouse(dg.ConfigurableResource):
    """The embedded DuckDB file every asset reads and writes. A run holds the file's run lock
    from its first step to its end (the in-process executor sets a resource up once per run),
    whether it was started by the CLI, the UI, a schedule or a sensor."""

    path: str = DEFAULT_DB
    lock_wait_seconds: float = 30.0
    _run_lock: contextlib.ExitStack = PrivateAttr(default_factory=contextlib.ExitStack)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._run_lock.enter_context(run_lock(self.path, context.run_id or "(no run id)", self.lock_wait_seconds))

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self._run_lock.close()

    @contextlib.contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one step. Transient errors raised inside propagate as they are (the
        job's RetryPolicy retries them); other errors become a Failure that is never retried."""
        try:
            with warehouse.connect(self.path) as con:
                yield con
        except (*TRANSIENT_ERRORS, dg.Failure):
            raise
        except Exception as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from exc

    @property
    def artifact_dir(self) -> Path:
        """Folder beside the DuckDB file for model artifacts and plots."""
        return Path(self.path).resolve().parent / "artifacts"


class PlanInputs(dg.ConfigurableResource):
    """The input folder (one file per contract table)."""

    path: str = DEFAULT_INPUT


class PlanConfig(dg.ConfigurableResource):
    """The plan settings file, optionally with the plan date overridden."""

    settings_path: str = str(DEFAULT_CONFIG)
    as_of: str = ""

    def load(self) -> PlanSettings:
        as_of = dt.date.fromisoformat(self.as_of) if self.as_of else None
        return load_settings(self.settings_path, as_of=as_of)


def resources_from_env() -> dict[str, dg.ConfigurableResource]:
    env = os.environ
    plan_config = PlanConfig(
        settings_path=env.get("QUOTA_PLAN_CONFIG", str(DEFAULT_CONFIG)),
        as_of=env.get("QUOTA_PLAN_AS_OF", ""),
    )
    return {
        "warehouse": Warehouse(path=env.get("QUOTA_PLAN_DB", DEFAULT_DB),
                               lock_wait_seconds=plan_config.load().operations.lock_wait_seconds),
        "plan_inputs": PlanInputs(path=env.get("QUOTA_PLAN_INPUT", DEFAULT_INPUT)),
        "plan_config": plan_config,
    }
