"""A hand-built current plan on a real DuckDB file, for tracking tests with known answers: a tiny
contract input folder is ingested, the plan's published tables (quotas, territories, account
segments) are laid down by hand and every tracking table is built with the real SQL."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import polars as pl

from pipeline.core import warehouse
from pipeline.core.settings import PlanSettings, load_settings, plan_year_end
from pipeline.ingestion.ingest import ingest_inputs
from pipeline.tracking.period import TrackingPeriod
from tests.builders import COLUMNS, PRODUCTS, REPS, account_with_acv, subscription, write_inputs
from tests.staged import build_tracking

PLAN_START = dt.date(2026, 1, 1)
THROUGH = dt.date(2026, 3, 31)
EXTRA_REPS = [
    {"rep_id": f"R{i}", "name": f"Rep {i}", "role": "expansion_rep", "segment": "mid_market", "capacity": 1,
     "active": "true"}
    for i in (4, 5)
]
# rep -> (segment, annual quota) of the hand-built plan
QUOTAS = {"R1": ("high_velocity", 120_000.0), "R2": ("mid_market", 100_000.0), "R3": ("enterprise", 100_000.0),
          "R4": ("mid_market", 10_000.0), "R5": ("mid_market", 0.0)}

Query = Callable[[str], list[tuple]]


def tracking_settings(**tracking: object) -> PlanSettings:
    """The default settings with some tracking keys changed (validated like the YAML)."""
    raw = load_settings().model_dump()
    raw["tracking"] = {**raw["tracking"], **tracking}
    return PlanSettings.model_validate(raw)


def _write_opportunities(folder: Path, deals: list[dict]) -> None:
    """opportunities.csv with the contract's columns and any optional ones the deals carry
    (expected_close_date, pipeline_stage)."""
    extra = sorted({key for d in deals for key in d} - set(COLUMNS["opportunities"]))
    with (folder / "opportunities.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*COLUMNS["opportunities"], *extra])
        writer.writeheader()
        writer.writerows({c: d.get(c, "") for c in writer.fieldnames} for d in deals)


def track(tmp_path: Path, deals: list[dict], settings: PlanSettings | None = None,
          through: dt.date = THROUGH) -> Query:
    """Ingest a tiny input folder with these expansion deals, lay down the hand-built current
    plan (QUOTAS; account A1 in R1's territory) and build every tracking table with the real SQL;
    returns a query function on the file."""
    folder = write_inputs(tmp_path / "in", {
        "accounts": [account_with_acv("A1", 10_000), account_with_acv("A2", 1_000)],
        "products": PRODUCTS,
        "subscriptions": [subscription("A1", 10_000), subscription("A2", 1_000)],
        "reps": REPS + EXTRA_REPS,
    })
    _write_opportunities(folder, deals)
    db = tmp_path / "tracking.duckdb"
    quotas = pl.DataFrame([  # noqa: F841  (read by the SQL below)
        {"rep_id": r, "name": f"Rep {r}", "segment": s, "capacity": 1.0, "accounts": 1, "territory_eev": q / 0.675,
         "factor": 0.675, "quota_unrounded": q, "quota": q} for r, (s, q) in QUOTAS.items()
    ])
    with warehouse.connect(db) as con:
        ingest_inputs(con, folder)
        con.execute("CREATE TABLE plans.quotas AS SELECT 'P0001' AS plan_id, * FROM quotas")
        con.execute("CREATE TABLE plans.territories AS SELECT 'P0001' AS plan_id, 'A1' AS account_id, "
                    "'high_velocity' AS segment, 'R1' AS rep_id, 'R1' AS previous_rep_id, false AS moved")
        con.execute("CREATE TABLE plans.account_eev AS SELECT 'P0001' AS plan_id, * FROM (VALUES "
                    "('A1', 'high_velocity'), ('A2', 'self_serve')) AS t(account_id, segment)")
        period = TrackingPeriod("P0001", PLAN_START, plan_year_end(PLAN_START), through)
        build_tracking(con, settings or load_settings(), period)

    def query(sql: str) -> list[tuple]:
        with warehouse.connect(db, read_only=True) as con:
            return con.execute(sql).fetchall()

    return query
