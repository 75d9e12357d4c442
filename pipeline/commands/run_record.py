"""`quota-plan run --json`: the run's outcome as one JSON object on stdout, for a scheduler.

Schema "quota-plan.run/1" (docs/operations.md#json-output-of-run):
- always: schema, status ("current", "not_current", "failed", "stopped"), exit_status, message
  (the warning or error in one line; "" when none), db (absolute path), plan_id (null when the
  run wrote none) and current (whether plan_id is the current plan);
- when a plan was written, also: dagster_run_id, as_of, seconds, lineage (model_version,
  data_fingerprint, settings_hash), segments (one object per segment and a "total" one: the
  figures of the workbook's Summary sheet), model (chosen, holdout metrics) and exports (folder,
  workbook, report, letters).
Every figure is read from `plans.*` by plan_id: the run's own plan version."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.commands.exit_status import ExitStatus

if TYPE_CHECKING:
    import duckdb

    from pipeline.core.settings import PlanSettings
    from pipeline.runner import PlanOutcome

SCHEMA = "quota-plan.run/1"
STATUS_WORDS = {ExitStatus.OK: "current", ExitStatus.NOT_CURRENT: "not_current", ExitStatus.ERROR: "failed"}
STOPPED = "stopped"

LINEAGE_SQL = "SELECT as_of, model_version, data_fingerprint, settings_hash FROM plans.plan_runs WHERE run_id = ?"
MODEL_SQL = "SELECT chosen FROM plans.model_info WHERE plan_id = ?"
HOLDOUT_SQL = ("SELECT metric, value FROM plans.model_metrics WHERE plan_id = ? AND model = 'chosen' "
               "AND segment = 'all' ORDER BY metric")


def _plain(value: object) -> object:
    """JSON for what DuckDB returns beyond JSON's types: a sum of counts (a Decimal), a date."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"not JSON: {value!r}")


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, indent=2, default=_plain)


def failure(status: int, message: str, db: Path) -> dict[str, Any]:
    """The record of a run that wrote no plan (failed, or stopped)."""
    return {"schema": SCHEMA, "status": STATUS_WORDS[ExitStatus.ERROR] if status == ExitStatus.ERROR else STOPPED, "exit_status": status, "message": message,
            "db": str(db.resolve()), "plan_id": None, "current": False}


def plan_record(con: duckdb.DuckDBPyConnection, outcome: PlanOutcome, status: ExitStatus, settings: PlanSettings,
                seconds: float, exports: Path) -> dict[str, Any]:
    """The record of a run that wrote plan version outcome.plan_id."""
    from pipeline.exports.documents import LETTERS  # noqa: PLC0415
    from pipeline.exports.files import REPORT, workbook_name  # noqa: PLC0415
    from pipeline.exports.sheets import segment_figures  # noqa: PLC0415

    plan_id = outcome.plan_id
    as_of, model_version, fingerprint, settings_hash = con.execute(LINEAGE_SQL, [plan_id]).fetchone()
    chosen = con.execute(MODEL_SQL, [plan_id]).fetchone()
    return {
        "schema": SCHEMA, "status": STATUS_WORDS[status], "exit_status": int(status), "message": outcome.warning,
        "db": str(outcome.db.resolve()), "plan_id": plan_id, "current": outcome.current,
        "dagster_run_id": outcome.dagster_run_id, "as_of": as_of.isoformat(), "seconds": round(seconds, 1),
        "lineage": {"model_version": model_version, "data_fingerprint": fingerprint, "settings_hash": settings_hash},
        "segments": segment_figures(con, plan_id, settings).to_dicts(),
        "model": {"chosen": chosen[0] if chosen else None,
                  "holdout": dict(con.execute(HOLDOUT_SQL, [plan_id]).fetchall())},
        "exports": {"folder": str(exports), "workbook": str(exports / workbook_name(plan_id)),
                    "report": str(exports / REPORT), "letters": str(exports / LETTERS)},
    }
