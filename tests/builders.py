"""Tiny hand-built input folders that follow the contract, for tests with known answers."""

from __future__ import annotations

import csv
import hashlib
import os
import tempfile
from pathlib import Path

import yaml

from pipeline.core import warehouse
from pipeline.core.settings import DEFAULT_CONFIG

COLUMNS = {
    "accounts": ["account_id", "account_name", "industry", "region", "employees", "customer_since",
                 "renewal_date", "csm_id", "owner_id"],
    "products": ["product_id", "product_name", "list_price", "unit", "family", "tier_rank"],
    "subscriptions": ["account_id", "product_id", "quantity", "arr", "start_date", "end_date"],
    "opportunities": ["opportunity_id", "account_id", "product_id", "type", "created_date", "close_date",
                      "stage", "amount", "source", "owner_id", "csm_id"],
    "reps": ["rep_id", "name", "role", "segment", "capacity", "active"],
    "usage": ["account_id", "product_id", "date", "active_users", "events"],
}

PRODUCTS = [
    {"product_id": "WS1", "product_name": "Workspace Starter", "list_price": 100, "unit": "seat",
     "family": "Workspace", "tier_rank": 1},
    {"product_id": "WS2", "product_name": "Workspace Pro", "list_price": 250, "unit": "seat",
     "family": "Workspace", "tier_rank": 2},
    {"product_id": "SEC", "product_name": "Security", "list_price": 5000, "unit": "flat",
     "family": "", "tier_rank": ""},
]

REPS = [
    {"rep_id": "R1", "name": "Hana Velocity", "role": "expansion_rep", "segment": "high_velocity",
     "capacity": 1, "active": "true"},
    {"rep_id": "R2", "name": "Mia Market", "role": "expansion_rep", "segment": "mid_market",
     "capacity": 1, "active": "true"},
    {"rep_id": "R3", "name": "Ezra Enterprise", "role": "expansion_rep", "segment": "enterprise",
     "capacity": 1, "active": "true"},
    {"rep_id": "C1", "name": "Cora Success", "role": "csm", "segment": "", "capacity": 1, "active": "true"},
]


def account_with_acv(account_id: str, acv: float, renewal_date: str = "2026-06-30", employees: int = 100) -> dict:
    return {"account_id": account_id, "account_name": f"Account {account_id}", "industry": "software",
            "region": "EMEA", "employees": employees, "customer_since": "2023-01-01",
            "renewal_date": renewal_date, "csm_id": "", "owner_id": ""}


def subscription(account_id: str, arr: float, quantity: int = 10, product_id: str = "WS1") -> dict:
    return {"account_id": account_id, "product_id": product_id, "quantity": quantity, "arr": arr,
            "start_date": "2024-01-01", "end_date": ""}


def write_inputs(folder: Path, tables: dict[str, list[dict]]) -> Path:
    """Write each table as TABLE.csv with the contract's columns (missing values empty)."""
    folder.mkdir(parents=True, exist_ok=True)
    for table, rows in tables.items():
        with (folder / f"{table}.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS[table])
            writer.writeheader()
            for row in rows:
                writer.writerow({c: row.get(c, "") for c in COLUMNS[table]})
    return folder


def deal(opportunity_id: str, amount: float, source: str | None = "ae_sourced", close_date: str = "2026-02-10",
         stage: str = "won", kind: str = "expansion", owner_id: str = "R1", account_id: str = "A1",
         csm_id: str = "C1", created_date: str = "2025-11-01") -> dict:
    """One opportunities row (an empty close_date for an open deal; source None = no source)."""
    return {"opportunity_id": opportunity_id, "account_id": account_id, "product_id": "WS2", "type": kind,
            "created_date": created_date, "close_date": close_date, "stage": stage, "amount": amount,
            "source": source or "", "owner_id": owner_id, "csm_id": csm_id}


def edge_inputs(folder: Path) -> Path:
    """Seven accounts on and around the segment edges, one of each rep, one won deal."""
    acvs = {"A1": 4999.99, "A2": 5000, "A3": 24999.99, "A4": 25000, "A5": 50000, "A6": 99999.99, "A7": 100000}
    accounts = [account_with_acv(a, v) for a, v in acvs.items()]
    accounts[1]["renewal_date"] = "2026-03-01"
    return write_inputs(folder, {
        "accounts": accounts,
        "products": PRODUCTS,
        "subscriptions": [subscription(a, v) for a, v in acvs.items()],
        "opportunities": [{"opportunity_id": "O1", "account_id": "A4", "product_id": "WS2", "type": "expansion",
                           "created_date": "2024-06-01", "close_date": "2024-09-01", "stage": "won",
                           "amount": 1500, "source": "ae_sourced", "owner_id": "R2"}],
        "reps": REPS,
    })


LOWEST_CHART_DPI = 50  # the lowest exports.chart_dpi the settings allow
# The tests' Spark work is seconds of small queries: Java's optimising JIT compiler (C2) costs more
# CPU there than it saves (the Spark tests took 53 s instead of 68 s on one core with C1 only).
TEST_SPARK_JVM = {"spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"}
MECHANICS_MODEL = {"model": {"ensemble_members": 1}, "evaluation": {"importance_repeats": 1}}  # mechanics tests'


def _test_config(name: str, letter_pdfs: bool) -> Path:
    """config/plan.yaml with review.accept_degraded: true, for the tests of the pipeline's mechanics
    on tiny or hand-made books (which the review rules rightly hold back): their plans become
    current with the review reasons reported. The review gate itself is tested with the defaults.
    `letter_pdfs`: whether the exports also print each letter with headless Chromium (about a
    second a plan) and draw the report's charts at the settings' resolution; without, the charts
    are drawn at the lowest one. Only the plans whose letters and report tests read need both.
    Spark's JVM compiles with C1 only (TEST_SPARK_JVM).
    The boosted models are single fits and the feature importances one shuffle per feature
    (MECHANICS_MODEL), not the default's average of several fits and three shuffles: those are about
    the steadiness of the default plan's EEV and importances, tested with the default settings
    (tests/model), and they are most of a mechanics plan's time."""
    settings = yaml.safe_load(DEFAULT_CONFIG.read_text())
    settings["review"]["accept_degraded"] = True
    for section, values in MECHANICS_MODEL.items():
        settings[section].update(values)
    settings.setdefault("exports", {})["letter_pdfs"] = letter_pdfs
    settings["engine"]["spark"]["options"].update(TEST_SPARK_JVM)
    if not letter_pdfs:
        settings["exports"]["chart_dpi"] = LOWEST_CHART_DPI
    text = yaml.safe_dump(settings)
    folder = Path(tempfile.gettempdir()) / f"quota-plan-tests-{hashlib.md5(text.encode()).hexdigest()[:12]}"
    path = folder / f"{name}.yaml"
    if not path.is_file():
        folder.mkdir(exist_ok=True)
        scratch = folder / f".{name}-{os.getpid()}.yaml"
        scratch.write_text(text)
        scratch.replace(path)  # atomic: parallel test workers may write it at the same time
    return path


TEST_CONFIG = _test_config("plan", letter_pdfs=False)
LETTERS_TEST_CONFIG = _test_config("plan_with_letter_pdfs", letter_pdfs=True)  # the same plan, letters as PDF too


def settings_with(folder: Path, section: str = "operations", base: Path | None = None, **values: object) -> Path:
    """A copy of a settings file (TEST_CONFIG unless `base`) with these settings of `section` changed."""
    settings = yaml.safe_load((base or TEST_CONFIG).read_text())
    settings.setdefault(section, {}).update(values)
    path = folder / "plan.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


PLAN_TABLES = ("whitespace_items", "account_eev", "territories", "quotas", "quota_contributions", "territory_moves",
               "territory_balance", "model_metrics", "model_info", "feature_importances", "quota_factors",
               "attainment_forecast", "amount_spread")


def export_plan_tables(db: Path, out: Path) -> dict[str, bytes]:
    """Each current-plan table written as CSV in a fixed order; returns the bytes per table."""
    out.mkdir(parents=True, exist_ok=True)
    with warehouse.connect(db, read_only=True) as con:
        for table in PLAN_TABLES:
            con.execute(f"COPY (SELECT * FROM main.{table} ORDER BY ALL) TO '{out / table}.csv' (HEADER)")
    return {t: (out / f"{t}.csv").read_bytes() for t in PLAN_TABLES}
