"""Scenarios (pipeline/plan/scenarios.py, scenario_runs.py, scenario_compare.py) on the sample book:
a grid planned from one ingestion and one model reproduces separate full runs' quotas exactly,
its drafts are never current, hypothetical reps join their segment, the comparison adds up, and a
promoted scenario becomes the current plan through the review gate."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import openpyxl
import polars as pl
import pytest
import yaml

from pipeline.cli import main
from pipeline.core import warehouse
from pipeline.core.settings import load_settings
from pipeline.plan import approval
from pipeline.plan import store as plan_store
from pipeline.plan.scenario_compare import ALL_SEGMENTS, scenario_comparison
from pipeline.plan.scenario_runs import promote
from pipeline.plan.scenarios import Scenario, ScenarioError, from_file, grid, scenario_settings
from pipeline.runner import PlanOutcome, run_plan
from tests.builders import TEST_CONFIG

QUOTA_COLUMNS = "rep_id, segment, accounts, territory_eev, factor, quota_unrounded, quota"
BASE = load_settings(TEST_CONFIG)


def _factor_config(folder: Path, factor: float) -> Path:
    """TEST_CONFIG with every segment's quota_factor set to `factor`."""
    settings = yaml.safe_load(TEST_CONFIG.read_text())
    for segment in settings["segments"]:
        segment["quota_factor"] = factor
    path = folder / f"factor_{factor}.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def _quotas(db: Path, plan_id: str) -> list[tuple]:
    with warehouse.connect(db, read_only=True) as con:
        return con.execute(f"SELECT {QUOTA_COLUMNS} FROM plans.quotas WHERE plan_id = ? ORDER BY rep_id",
                           [plan_id]).fetchall()


def _territories(db: Path, plan_id: str) -> list[tuple]:
    with warehouse.connect(db, read_only=True) as con:
        return con.execute("SELECT account_id, rep_id FROM plans.territories WHERE plan_id = ? ORDER BY 1",
                           [plan_id]).fetchall()


@pytest.fixture(scope="module")
def scenario_file(sample_plan: PlanOutcome, sample_inputs: Path, tmp_path_factory: pytest.TempPathFactory):
    """A copy of the sample plan file (P0001 current, factor 0.675) in which the CLI planned
    `--vary quota_factor=0.675,0.70` and the named scenario `hires` (two more mid-market reps)."""
    folder = tmp_path_factory.mktemp("scenarios")
    db = folder / "plan.duckdb"
    shutil.copy(sample_plan.db, db)
    named = folder / "named.yaml"
    named.write_text(yaml.safe_dump({"scenarios": {"hires": {"reps.mid_market": 2}}}))
    status = main(["scenarios", "--input", str(sample_inputs), "--config", str(TEST_CONFIG), "--db", str(db),
                   "--file", str(named), "--vary", "quota_factor=0.675,0.70"])
    assert status == 0
    with warehouse.connect(db, read_only=True) as con:
        drafts = dict(con.execute("SELECT scenario, plan_id FROM plans.scenarios ORDER BY position").fetchall())
    return db, drafts


def test_a_scenario_grid_reproduces_two_separate_full_runs_quotas_exactly(
        scenario_file, sample_plan: PlanOutcome, sample_inputs: Path, tmp_path: Path):
    db, drafts = scenario_file
    assert list(drafts) == ["hires", "quota_factor=0.675", "quota_factor=0.7"]
    separate = run_plan(sample_inputs, _factor_config(tmp_path, 0.70), tmp_path / "separate.duckdb",
                        instance=dg.DagsterInstance.ephemeral())
    seventy = _quotas(db, drafts["quota_factor=0.7"])
    assert seventy == _quotas(separate.db, separate.plan_id)
    assert _quotas(db, drafts["quota_factor=0.675"]) == _quotas(sample_plan.db, sample_plan.plan_id)
    assert _territories(db, drafts["quota_factor=0.7"]) == _territories(separate.db, separate.plan_id)
    assert {row[4] for row in seventy} == {0.70}  # the variant's factor, not the base's


def test_scenario_drafts_are_never_current_nor_published(scenario_file, capsys):
    db, drafts = scenario_file
    with warehouse.connect(db, read_only=True) as con:
        assert plan_store.current_plan_id(con) == "P0001"
        statuses = dict(con.execute("SELECT run_id, status FROM plans.plan_runs").fetchall())
        # the plan stage's work tables are the base settings' again (a later rebalance reads them)
        assert {r[0] for r in con.execute("SELECT quota_factor FROM work.segment_bands "
                                          "WHERE segment <> 'self_serve'").fetchall()} == {0.675}
    assert {statuses[p] for p in drafts.values()} == {plan_store.DRAFT}
    draft = drafts["quota_factor=0.7"]
    assert main(["publish", draft, "--note", "x", "--override", "y", "--db", str(db)]) == 1
    assert f"{draft} is a draft run, not a finished plan version" in capsys.readouterr().err
    assert main(["review", draft, "--db", str(db)]) == 1
    assert "is a scenario draft: promote it first" in capsys.readouterr().err


def test_hypothetical_reps_join_their_segment_and_take_accounts(scenario_file, sample_plan: PlanOutcome):
    db, drafts = scenario_file
    with warehouse.connect(db, read_only=True) as con:
        # reps with a segment in reps.csv keep it; a rep "assigned by plan" (no segment) may go where
        # the hires leave the most EEV per unit of capacity
        reps = con.execute("SELECT p.plan_id, p.segment, count(*) FROM plans.plan_reps AS p "
                           "LEFT JOIN raw.reps AS r USING (rep_id) WHERE p.plan_id IN (?, ?) "
                           "AND (r.segment IS NOT NULL OR r.rep_id IS NULL) GROUP BY ALL",
                           ["P0001", drafts["hires"]]).fetchall()
        everyone = con.execute("SELECT plan_id, count(*) FROM plans.plan_reps WHERE plan_id IN (?, ?) GROUP BY ALL",
                               ["P0001", drafts["hires"]]).fetchall()
        new = con.execute("SELECT rep_id, accounts > 0 FROM plans.quotas WHERE plan_id = ? AND rep_id LIKE 'NEW-%' "
                          "ORDER BY 1", [drafts["hires"]]).fetchall()
    counts = {(p, s): n for p, s, n in reps}
    assert counts[(drafts["hires"], "mid_market")] == counts[("P0001", "mid_market")] + 2
    assert counts[(drafts["hires"], "enterprise")] == counts[("P0001", "enterprise")]
    assert dict(everyone)[drafts["hires"]] == dict(everyone)["P0001"] + 2
    assert new == [("NEW-mid_market-1", True), ("NEW-mid_market-2", True)]


def test_the_comparison_adds_up_and_is_written_as_csv_workbook_and_chart(scenario_file, capsys):
    db, drafts = scenario_file
    with warehouse.connect(db, read_only=True) as con:
        table = scenario_comparison(con, drafts["hires"])
        current = con.execute("SELECT segment, count(*), sum(quota) FROM main.quotas GROUP BY ALL").fetchall()
    assert table["scenario"].unique(maintain_order=True).to_list() == list(drafts)
    for scenario in drafts:
        rows = table.filter(pl.col("scenario") == scenario)
        total = rows.filter(pl.col("segment") == ALL_SEGMENTS).row(0, named=True)
        segments = rows.filter(pl.col("segment") != ALL_SEGMENTS)
        assert total["quota"] == segments["quota"].sum() and total["reps"] == segments["reps"].sum()
        assert total["moves_vs_current"] == segments["moves_vs_current"].sum()
        assert total["quota_to_bookings"] == pytest.approx(total["quota"] / total["trailing_bookings"])
    same = table.filter(pl.col("scenario") == "quota_factor=0.675")
    assert same["moves_vs_current"].to_list() == [0, 0, 0, 0]  # the current plan's own settings
    assert {(r["segment"], r["reps"], r["quota"]) for r in same.iter_rows(named=True)
            if r["segment"] != ALL_SEGMENTS} == set(current)
    hires = table.filter((pl.col("scenario") == "hires") & (pl.col("segment") == "mid_market")).row(0, named=True)
    assert hires["moves_vs_current"] > 0  # the new reps' accounts move to them
    assert table["attaining_share"].is_between(0, 1).all()

    assert main(["scenarios", "show", "--db", str(db), "--config", str(TEST_CONFIG)]) == 0
    out = capsys.readouterr().out
    assert f"Scenarios of batch {drafts['hires']}" in out and "quota_factor=0.7" in out
    folder = warehouse.output_dir(db, "exports") / "scenarios" / drafts["hires"]
    assert pl.read_csv(folder / "comparison.csv").height == table.height
    sheet = openpyxl.load_workbook(folder / "comparison.xlsx").active
    headers = [c.value for c in sheet[1]]
    assert "Quota" in headers and "scenario" not in headers  # human headers
    assert sheet.cell(2, headers.index("Quota") + 1).number_format == '"$"#,##0'
    assert (folder / "comparison.png").read_bytes()[:4] == b"\x89PNG"
    page = (folder / "comparison.html").read_text()
    assert '<img src="comparison.png"' in page and 'id="comparison-table"' in page
    assert page.count("<tr>") - 1 == table.height  # header row + one row per scenario and segment


def test_a_promoted_scenario_becomes_current_through_the_gate_with_the_drafts_quotas(
        scenario_file, sample_inputs: Path, tmp_path: Path):
    db, drafts = scenario_file
    copy = tmp_path / "promote.duckdb"
    shutil.copy(db, copy)
    outcome = promote(sample_inputs, copy, "quota_factor=0.7", instance=dg.DagsterInstance.ephemeral())
    assert outcome.written and outcome.current and outcome.plan_id not in drafts.values()
    assert _quotas(copy, outcome.plan_id) == _quotas(copy, drafts["quota_factor=0.7"])
    with warehouse.connect(copy, read_only=True) as con:
        assert plan_store.current_plan_id(con) == outcome.plan_id
        assert con.execute("SELECT count(*) FROM plans.attainment WHERE plan_id = ?",
                           [outcome.plan_id]).fetchone()[0] > 0  # tracked before it became current
        assert approval.plan_state(con, outcome.plan_id).state == "draft"  # ready for review
        # once the shared tables change (another ingestion), a promotion is refused
        con.close()
    with warehouse.connect(copy) as con:
        con.execute("UPDATE raw.input_files SET data_fingerprint = 'other data'")
    with pytest.raises(plan_store.PlanStoreError, match="planned from other data or another model"):
        promote(sample_inputs, copy, "hires", instance=dg.DagsterInstance.ephemeral())
    assert (warehouse.output_dir(copy, "exports") / outcome.plan_id / "report.html").is_file()


def test_vary_options_make_every_combination_and_a_file_names_its_scenarios(tmp_path: Path):
    scenarios = grid(["quota_factor=0.65,0.70", "reps.mid_market=+2"])
    assert [s.name for s in scenarios] == ["quota_factor=0.65 reps.mid_market=+2",
                                           "quota_factor=0.7 reps.mid_market=+2"]
    settings = scenario_settings(BASE, scenarios[1])
    assert {s.quota_factor for s in settings.segments} == {0.70}
    assert settings.scenario.extra_reps == {"mid_market": 2}
    assert BASE.scenario.extra_reps == {}  # the base settings are untouched
    named = tmp_path / "s.yaml"
    named.write_text("scenarios:\n  lean: {segments.enterprise.quota_factor: 0.6, territory.balance_tolerance: 0.08}\n")
    lean = scenario_settings(BASE, from_file(named)[0])
    assert [s.quota_factor for s in lean.segments if s.name == "enterprise"] == [0.6]
    assert lean.territory.balance_tolerance == 0.08


@pytest.mark.parametrize(("change", "message"), [
    (("segments.mid_market.min_acv", 1000), "cannot vary in a scenario: scenarios share one ingestion"),
    (("model.horizon_months", 6), "cannot vary in a scenario"),
    (("as_of", "2025-01-01"), "cannot vary in a scenario"),
    (("quota_factor", 0.9), "outside 0.60-0.75"),
    (("reps.mid_market", -1), r"expected \+N"),
    (("reps.smb", 1), "cannot vary in a scenario"),
])
def test_settings_a_scenario_cannot_change_are_refused_by_name(change: tuple[str, object], message: str):
    with pytest.raises(ScenarioError, match=message):
        scenario_settings(BASE, Scenario("x", (change,)))


def test_malformed_vary_options_and_duplicate_names_are_refused(tmp_path: Path):
    with pytest.raises(ScenarioError, match="expected KEY=VALUE"):
        grid(["quota_factor"])
    with pytest.raises(ScenarioError, match="given twice"):
        grid(["quota_factor=0.7,0.70"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("lean: {quota_factor: 0.6}\n")
    with pytest.raises(ScenarioError, match="expected `scenarios:`"):
        from_file(bad)
