"""Per-rep balance has one definition (sql/plan/quotas.sql: target_eev = segment EEV x rep capacity /
segment capacity; balance_deviation = owned EEV / target - 1): the balance check, the workbook,
the report's chart data, territory_balance and the run summary all give the same numbers, on a
plan with a half-capacity rep whose deviations are known by hand."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import openpyxl
import pytest

from pipeline.core import warehouse
from pipeline.core.settings import PlanSettings, load_settings
from pipeline.defs.checks import BALANCE, rule_keys
from pipeline.exports import files as exports
from pipeline.exports.files import export_plan
from pipeline.exports.summary import plan_summary
from pipeline.plan.store import PlanRun, promote_plan, write_plan_version
from pipeline.runner import run_plan
from tests.builders import REPS, TEST_CONFIG, edge_inputs, write_inputs

# mid_market: R2 (capacity 1) and R4 (capacity 0.5) hold 600 of EEV each. Segment EEV 1,200 over
# capacity 1.5: targets 800 and 400, so R2 is at 600 / 800 - 1 = -25% and R4 at 600 / 400 - 1 = +50%.
# (An average of ratios would say -33.3% and +33.3%: 600 and 1,200 per unit of capacity, mean 900.)
HALF_REP = {"rep_id": "R4", "name": "Hal Half", "role": "expansion_rep", "segment": "mid_market",
            "capacity": 0.5, "active": "true"}
EXPECTED = {"R2": -0.25, "R4": 0.5}
TARGETS = {"R2": 800.0, "R4": 400.0}


def _with_tolerance(settings: PlanSettings, tolerance: float) -> PlanSettings:
    return settings.model_copy(update={"territory": settings.territory.model_copy(
        update={"balance_tolerance": tolerance})})


@pytest.fixture(scope="module")
def half_capacity_plan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PlanSettings]:
    """The edge inputs with a second, half-capacity mid_market rep, planned for real; then the
    mid_market accounts get hand-picked EEVs and owners and the plan tables are rebuilt with the
    real SQL and published as plan P0002."""
    tmp = tmp_path_factory.mktemp("balance")
    folder = edge_inputs(tmp / "in")
    write_inputs(folder, {"reps": [*REPS, HALF_REP]})
    db = tmp / "plan.duckdb"
    run_plan(folder, TEST_CONFIG, db, instance=dg.DagsterInstance.ephemeral())
    settings = load_settings(TEST_CONFIG)
    with warehouse.connect(db) as con:
        accounts = [r[0] for r in con.execute(
            "SELECT account_id FROM work.account_eev WHERE segment = 'mid_market' ORDER BY account_id").fetchall()]
        assert len(accounts) >= 2
        owners = {accounts[0]: ("R2", 600.0), **{a: ("R4", 600.0 / (len(accounts) - 1)) for a in accounts[1:]}}
        for account, (rep, eev) in owners.items():
            con.execute("UPDATE work.account_eev SET eev = ? WHERE account_id = ?", [eev, account])
            con.execute("UPDATE work.territories SET rep_id = ? WHERE account_id = ?", [rep, account])
        for table in ("territory_shares", "quota_contributions", "quotas", "territory_moves", "territory_balance",
                      "balance_diagnosis", "quota_history",
                      "plan_review"):
            warehouse.build_table(con, table, settings.sql_params())
        plan_id = write_plan_version(con, PlanRun(settings.as_of, settings.settings_hash(), "hand-made", "m", "test",
                                                  settings.model_dump_json()))
        promote_plan(con, plan_id, accept_degraded=True)
    return db, settings


def test_balance_check_uses_the_one_deviation(half_capacity_plan: tuple[Path, PlanSettings]):
    db, settings = half_capacity_plan
    with warehouse.connect(db, read_only=True) as con:
        table = dict(con.execute(
            "SELECT rep_id, balance_deviation FROM work.quotas WHERE segment = 'mid_market'").fetchall())
        targets = dict(con.execute(
            "SELECT rep_id, target_eev FROM work.quotas WHERE segment = 'mid_market'").fetchall())
        flagged = {tol: rule_keys(con, BALANCE[3], _with_tolerance(settings, tol))
                   for tol in (0.05, 0.2499, 0.25, 0.4999, 0.5)}
        balance = con.execute("SELECT largest_deviation, share_within_tolerance FROM work.territory_balance "
                              "WHERE segment = 'mid_market'").fetchone()
    assert table == pytest.approx(EXPECTED) and targets == pytest.approx(TARGETS)
    # R2 breaks the rule exactly when the tolerance is below 25%, R4 below 50%
    assert flagged == {0.05: ["R2", "R4"], 0.2499: ["R2", "R4"], 0.25: ["R4"], 0.4999: ["R4"], 0.5: []}
    assert balance == pytest.approx((0.5, 0.0))


def test_workbook_report_and_summary_show_the_same_deviation(half_capacity_plan: tuple[Path, PlanSettings],
                                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    db, settings = half_capacity_plan
    charted = {}
    real_chart = exports.charts.territory_balance

    def chart(quotas, tolerance, dpi, named_reps):  # noqa: ANN001, ANN202  (records what the report draws)
        charted.update(dict(quotas.select("rep_id", "balance_deviation").iter_rows()))
        return real_chart(quotas, tolerance, dpi, named_reps)

    monkeypatch.setattr(exports.charts, "territory_balance", chart)
    with warehouse.connect(db, read_only=True) as con:
        result = export_plan(con, tmp_path / "out")
        summary = plan_summary(con, settings, db)
    sheet = openpyxl.load_workbook(result.workbook, read_only=True)["Quotas"]
    header, *rows = sheet.iter_rows(values_only=True)
    workbook = {r[0]: r[header.index("Deviation from target")] for r in rows}
    assert {r: workbook[r] for r in EXPECTED} == pytest.approx(EXPECTED)
    assert {r: charted[r] for r in EXPECTED} == pytest.approx(EXPECTED)
    assert workbook == pytest.approx(charted)  # every rep, not only mid_market
    assert "territory_balance" in result.charts
    # the run summary's balance line of mid_market: largest deviation 50.0%, no rep within 5%
    balance_lines = summary.split("Territory balance")[1].split("\n\n")[0].splitlines()
    mid_market = next(line.split() for line in balance_lines if line.startswith("mid_market"))
    assert mid_market[6] == "50.0%" and mid_market[4] == "0%"
