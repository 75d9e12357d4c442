"""Planning scenarios side by side in one DuckDB file, and promoting one of them.

`run_scenarios` runs, under one run lock, the shared upstream once (scenario_base_job: ingestion,
whitespace, the model, EEV, with the base settings) and then, per scenario, scenario_job with that
scenario's settings (segment bands, reps, territories, quotas, attainment forecast, plan review,
plan_version). Each written version becomes a `draft` (store.mark_draft): kept in plans.* and
compared, never current, never published. The work tables of the plan stage are left as the base
settings make them (segment bands rebuilt), so a later rebalance reads the real settings.

plans.scenarios: one row per scenario of a batch. Key: plan_id (the draft). batch_id = the
batch's first draft plan_id; position = order given; scenario = its name; changes = its setting
changes (JSON); base_plan_id = the current plan when the batch ran (moves are counted against
it); data_fingerprint / model_version = what the drafts were planned from (a promotion refuses
work tables that changed since).

`promote` plans the chosen scenario again (scenario_promote_job: the plan from the reps on, then
tracking, exports and current_plan, which applies the review gate) from the same shared tables,
so the new version's quotas equal the draft's; the draft stays a draft.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb

from pipeline.core import warehouse
from pipeline.core.settings import PlanSettings
from pipeline.defs.jobs import SCENARIO_BASE_JOB, SCENARIO_JOB, SCENARIO_PROMOTE_JOB
from pipeline.plan import store
from pipeline.plan.scenarios import Scenario, scenario_settings
from pipeline.runner import PlanOutcome, PlanRunError, RunOutput, execute_job, failure_message, run_outcome, exclusive
from pipeline.staging.state import write_segment_bands


@dataclass(frozen=True)
class ScenarioBatch:
    """The drafts one `quota-plan scenarios` wrote: batch id, (scenario, draft plan_id) in order."""

    batch_id: str
    drafts: tuple[tuple[str, str], ...]
    db: Path


def _ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """CREATE TABLE IF NOT EXISTS plans.scenarios (
            plan_id VARCHAR PRIMARY KEY, batch_id VARCHAR, position INTEGER, scenario VARCHAR, changes VARCHAR,
            base_plan_id VARCHAR, data_fingerprint VARCHAR, model_version VARCHAR, created_at TIMESTAMP)"""
    )
    con.execute("CREATE OR REPLACE VIEW main.scenarios AS SELECT * FROM plans.scenarios")


def _shared_identity(con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    """(data fingerprint, model version) of the shared work tables now in the file."""
    return con.execute("SELECT (SELECT any_value(data_fingerprint) FROM raw.input_files), "
                       "(SELECT model_version FROM work.model_info)").fetchone()


def _run(job: str, input_dir: str | Path, settings: PlanSettings, db: str | Path, mapping: str | Path | None,
         instance: dg.DagsterInstance | None, output: RunOutput | None) -> tuple[str, dg.ExecuteInProcessResult]:
    run_id = str(uuid.uuid4())
    result = execute_job(job, input_dir, settings, db, mapping, instance, run_id, output=output or RunOutput())
    if result is None or not result.success:
        with warehouse.connect(db) as con:
            run_outcome(con, result, run_id, db)  # records the failure and raises it
    return run_id, result


def _draft(input_dir: str | Path, settings: PlanSettings, db: str | Path, mapping: str | Path | None,
           instance: dg.DagsterInstance | None, output: RunOutput | None) -> str:
    """Plan one scenario (scenario_job) and keep its version as a draft; its plan_id."""
    run_id, _ = _run(SCENARIO_JOB, input_dir, settings, db, mapping, instance, output)
    with warehouse.connect(db) as con:
        plan_id = store.plan_of_run(con, run_id)
        store.mark_draft(con, plan_id)
    return plan_id


def run_scenarios(
    input_dir: str | Path, base: PlanSettings, db: str | Path, scenarios: list[Scenario],
    instance: dg.DagsterInstance | None = None, mapping: str | Path | None = None, output: RunOutput | None = None,
) -> ScenarioBatch:
    """Plan every scenario as a draft from one ingestion and one model; every scenario's settings are
    validated before anything runs (ScenarioError names the first bad one)."""
    planned = [(scenario, scenario_settings(base, scenario)) for scenario in scenarios]
    if not planned:
        raise PlanRunError("no scenario to plan: give --vary KEY=V1,V2 or --file SCENARIOS.yaml")
    drafts: list[tuple[str, str]] = []
    with exclusive(db, base, f"scenarios {len(planned)}"):
        _run(SCENARIO_BASE_JOB, input_dir, base, db, mapping, instance, output)
        with warehouse.connect(db) as con:
            base_plan = store.current_plan_id(con)
        try:
            for position, (scenario, settings) in enumerate(planned):
                plan_id = _draft(input_dir, settings, db, mapping, instance, output)
                batch_id = drafts[0][1] if drafts else plan_id
                with warehouse.connect(db) as con, warehouse.transaction(con):
                    _ensure_table(con)
                    con.execute("INSERT INTO plans.scenarios VALUES (?, ?, ?, ?, ?, ?, ?, ?, current_timestamp)",
                                [plan_id, batch_id, position, scenario.name, json.dumps(scenario.changes),
                                 base_plan, *_shared_identity(con)])
                drafts.append((scenario.name, plan_id))
        finally:  # also after a failed scenario: the plan stage reads the settings file's bands again
            with warehouse.connect(db) as con:
                write_segment_bands(con, base)
    return ScenarioBatch(drafts[0][1], tuple(drafts), Path(db))


def latest_batch(con: duckdb.DuckDBPyConnection) -> str:
    """The batch id of the last `quota-plan scenarios` run in the file."""
    row = con.execute("SELECT max(batch_id) FROM plans.scenarios").fetchone() \
        if warehouse.table_exists(con, "plans", "scenarios") else None
    if not row or row[0] is None:
        raise store.PlanStoreError("no scenarios in this DuckDB file: run `quota-plan scenarios` first")
    return row[0]


def find_draft(con: duckdb.DuckDBPyConnection, chosen: str) -> tuple[str, str]:
    """(draft plan_id, scenario name) of a scenario named `chosen` (the latest batch with it) or of
    the draft plan_id `chosen`."""
    row = con.execute(
        "SELECT plan_id, scenario FROM plans.scenarios WHERE scenario = $c OR plan_id = $c "
        "ORDER BY batch_id DESC, plan_id = $c DESC LIMIT 1", {"c": chosen}).fetchone() \
        if warehouse.table_exists(con, "plans", "scenarios") else None
    if row is None:
        raise store.PlanStoreError(f"no scenario or scenario draft {chosen!r} in this DuckDB file "
                                   "(see `quota-plan scenarios show`)")
    return row


def promote(
    input_dir: str | Path, db: str | Path, chosen: str, instance: dg.DagsterInstance | None = None,
    mapping: str | Path | None = None, output: RunOutput | None = None,
) -> PlanOutcome:
    """Plan scenario `chosen` (name or draft plan_id) again with its own settings, tracked and
    exported, through the review gate (current unless it needs review); refused when the shared
    tables are no longer those it was planned from (run `quota-plan scenarios` again then)."""
    with warehouse.connect(db) as con:
        plan_id, name = find_draft(con, chosen)
        settings_json, fingerprint, model_version = con.execute(
            "SELECT r.settings_json, s.data_fingerprint, s.model_version FROM plans.scenarios AS s "
            "JOIN plans.plan_runs AS r ON r.run_id = s.plan_id WHERE s.plan_id = ?", [plan_id]).fetchone()
        if _shared_identity(con) != (fingerprint, model_version):
            raise store.PlanStoreError(
                f"scenario {name!r} ({plan_id}) was planned from other data or another model than the file now "
                "holds (a plan or refresh ran since): run `quota-plan scenarios` again, then promote")
    settings = PlanSettings.model_validate_json(settings_json)
    with exclusive(db, settings, f"scenarios promote {plan_id}"):
        run_id, result = _run(SCENARIO_PROMOTE_JOB, input_dir, settings, db, mapping, instance, output)
        with warehouse.connect(db) as con:
            outcome = run_outcome(con, result, run_id, db)
            with warehouse.transaction(con):
                con.execute("UPDATE plans.plan_runs SET message = ? WHERE run_id = ?",
                            [f"scenario {name!r} promoted from draft {plan_id}", outcome.plan_id])
    if not outcome.written:
        raise PlanRunError(failure_message(result))
    return outcome
