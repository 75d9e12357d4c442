"""The plan review gate: every reason a plan is held back (sql/plan/plan_review.sql), the history
comparison (sql/plan/quota_history.sql), and what a held plan does to the current one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest

from pipeline.cli import main
from pipeline.core import warehouse
from pipeline.core.settings import DEFAULT_CONFIG, load_settings
from pipeline.plan import store as plan_store
from pipeline.runner import PlanRunError, run_plan
from tests.builders import edge_inputs, settings_with, write_inputs

SETTINGS = load_settings(DEFAULT_CONFIG)


def _review(con, quotas: list[tuple], territories: list[tuple], history: list[tuple],
            model: tuple = ("hist_gradient_boosting", None)) -> dict[tuple[str, str | None], tuple]:
    """plan_review built by the real SQL over hand-made work tables; {(reason, segment): row}."""
    con.execute("CREATE SCHEMA IF NOT EXISTS work")
    con.execute("CREATE OR REPLACE TABLE work.quotas (rep_id VARCHAR, segment VARCHAR, accounts BIGINT, "
                "quota DOUBLE, owned_eev DOUBLE, balance_deviation DOUBLE)")
    con.executemany("INSERT INTO work.quotas VALUES (?, ?, ?, ?, ?, ?)", quotas)
    con.execute("CREATE OR REPLACE TABLE work.territories (account_id VARCHAR, segment VARCHAR, rep_id VARCHAR)")
    if territories:
        con.executemany("INSERT INTO work.territories VALUES (?, ?, ?)", territories)
    con.execute("CREATE OR REPLACE TABLE work.quota_history (level VARCHAR, segment VARCHAR, quota DOUBLE, "
                "trailing_bookings DOUBLE, quota_to_bookings DOUBLE)")
    con.executemany("INSERT INTO work.quota_history VALUES (?, ?, ?, ?, ?)",
                    [(lvl, seg, q, b, q / b if b else None) for lvl, seg, q, b in history])
    con.execute("CREATE OR REPLACE TABLE work.model_info (chosen VARCHAR, fallback_reason VARCHAR)")
    con.execute("INSERT INTO work.model_info VALUES (?, ?)", list(model))
    warehouse.build_table(con, "plan_review", SETTINGS.sql_params())
    rows = con.execute("SELECT reason, severity, segment, reps, examples, figure, threshold, message "
                       "FROM work.plan_review").fetchall()
    return {(r[0], r[2]): r for r in rows}


@pytest.fixture
def con(tmp_path: Path):
    with warehouse.connect(tmp_path / "review.duckdb") as connection:
        yield connection


def _accounts(segment: str, owners: dict[str, int]) -> list[tuple]:
    return [(f"{segment}-{rep}-{i}", segment, rep) for rep, n in owners.items() for i in range(n)]


def test_a_balanced_plan_near_its_history_has_no_reason(con):
    quotas = [("A", "mid_market", 5, 6_750, 10_000, 0.0), ("B", "mid_market", 5, 6_750, 10_000, 0.0)]
    found = _review(con, quotas, _accounts("mid_market", {"A": 5, "B": 5}),
                    [("plan", None, 13_500, 13_500), ("segment", "mid_market", 13_500, 13_500)])
    assert found == {}


def test_each_degenerate_reason_with_its_figures(con):
    quotas = [  # high_velocity: H1 holds 90% of the EEV, H2 has accounts and quota 0, H3 has none
        ("H1", "high_velocity", 9, 9_000, 9_000, 1.7), ("H2", "high_velocity", 1, 0, 1_000, -0.7),
        ("H3", "high_velocity", 0, 0, 0, -1.0),
        # enterprise: 3 reps for 2 accounts
        ("E1", "enterprise", 1, 5_000, 7_000, 0.0), ("E2", "enterprise", 1, 5_000, 7_000, 0.0),
        ("E3", "enterprise", 0, 0, 0, -1.0)]
    territories = _accounts("high_velocity", {"H1": 9, "H2": 1}) + _accounts("enterprise", {"E1": 1, "E2": 1})
    found = _review(con, quotas, territories, [("plan", None, 19_000, 19_000)],
                    model=("base_rate", "only 3 won items in the history (model.min_positive_rows is 20)"))
    assert set(found) == {("rep_without_accounts", "high_velocity"), ("rep_without_accounts", "enterprise"),
                          ("rep_zero_quota", "high_velocity"), ("rep_holds_segment", "high_velocity"),
                          ("segment_out_of_tolerance", "high_velocity"),
                          ("more_reps_than_accounts", "enterprise"), ("model_base_rates", None)}
    assert all(row[1] == "review" for row in found.values())
    holds = found[("rep_holds_segment", "high_velocity")]
    assert holds[4] == "H1" and holds[5] == pytest.approx(0.9) and holds[6] == 0.5
    assert "H1 holds 90% of the segment's EEV (limit 50%)" in holds[7]
    assert found[("rep_without_accounts", "high_velocity")][7] == "high_velocity: 1 of 3 reps have no accounts (H3)"
    assert found[("rep_zero_quota", "high_velocity")][3:5] == (1, "H2")
    out = found[("segment_out_of_tolerance", "high_velocity")]
    assert out[3] == 3 and out[5] == pytest.approx(1.0)  # all three reps are outside +/-5%
    assert found[("more_reps_than_accounts", "enterprise")][7] == "enterprise: 3 reps for 2 accounts"
    assert "only 3 won items" in found[("model_base_rates", None)][7]


def test_no_quota_at_all(con):
    found = _review(con, [("A", "mid_market", 0, 0, 0, 0.0), ("B", "mid_market", 0, 0, 0, 0.0)], [],
                    [("plan", None, 0, 0)])
    assert found[("no_quota", None)][1] == "review"
    assert found[("no_quota", None)][7].startswith("total quota is 0")


@pytest.mark.parametrize(("ratio", "expected"), [
    (0.49, "review"), (0.5, "warning"), (0.69, "warning"), (0.7, None), (1.5, None), (1.51, "warning"),
    (2.0, "warning"), (2.01, "review"),
])
def test_history_bands(con, ratio: float, expected: str | None):
    """quota / trailing bookings: inside 70%-150% nothing, inside 50%-200% a warning, outside a review."""
    quotas = [("A", "mid_market", 5, 100 * ratio, 150, 0.0), ("B", "mid_market", 5, 100 * ratio, 150, 0.0)]
    found = _review(con, quotas, _accounts("mid_market", {"A": 5, "B": 5}),
                    [("plan", None, 200 * ratio, 200), ("segment", "mid_market", 200 * ratio, 200)])
    if expected is None:
        assert found == {}
        return
    assert {key: row[1] for key, row in found.items()} == {("quota_vs_bookings", None): expected,
                                                           ("quota_vs_bookings", "mid_market"): expected}
    message = found[("quota_vs_bookings", "mid_market")][7]
    assert f"is {100 * ratio:.0f}% of the 200 expansion ARR won" in message


def test_quota_history_counts_the_12_months_before_the_plan_date_on_the_same_accounts(con):
    as_of = SETTINGS.as_of
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute("CREATE SCHEMA IF NOT EXISTS work")
    con.execute("CREATE TABLE raw.opportunities (account_id VARCHAR, type VARCHAR, stage VARCHAR, close_date DATE, "
                "amount DOUBLE)")
    year_before = as_of.replace(year=as_of.year - 1)
    con.executemany("INSERT INTO raw.opportunities VALUES (?, ?, ?, ?, ?)", [
        ("a1", "expansion", "won", year_before, 100),                      # first day of the window: counted
        ("a1", "expansion", "won", as_of - dt.timedelta(days=1), 10),      # last day: counted
        ("a1", "expansion", "won", as_of, 1_000),                          # the plan date itself: not
        ("a1", "expansion", "won", year_before - dt.timedelta(days=1), 1_000),  # before the window: not
        ("a1", "renewal", "won", as_of - dt.timedelta(days=5), 1_000),     # renewals never count
        ("a1", "expansion", "lost", as_of - dt.timedelta(days=5), 1_000),  # nor lost deals
        ("a2", "expansion", "won", as_of - dt.timedelta(days=5), 7),
        ("a9", "expansion", "won", as_of - dt.timedelta(days=5), 1_000),   # an account no rep holds
    ])
    con.execute("CREATE TABLE work.territories AS SELECT * FROM (VALUES ('a1', 'R1'), ('a2', 'R2')) t(account_id, "
                "rep_id)")
    con.execute("CREATE TABLE work.quotas AS SELECT * FROM (VALUES ('R1', 'mid_market', 55.0), "
                "('R2', 'enterprise', 14.0)) t(rep_id, segment, quota)")
    warehouse.build_table(con, "quota_history", {**SETTINGS.sql_params(), "company_target": 100.0})
    rows = {(r[0], r[1]): r[2:] for r in con.execute(
        "SELECT level, key, quota, trailing_bookings, quota_to_bookings, company_target, quota_to_target "
        "FROM work.quota_history").fetchall()}
    assert rows[("rep", "R1")] == (55.0, 110.0, 0.5, None, None)
    assert rows[("rep", "R2")] == (14.0, 7.0, 2.0, None, None)
    assert rows[("segment", "mid_market")][:2] == (55.0, 110.0)
    assert rows[("plan", "all")] == (69.0, 117.0, pytest.approx(69 / 117), 100.0, 0.69)


@pytest.fixture(scope="module")
def good_then_bad(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """A plan made current from the edge inputs (degraded plans accepted, as an analyst who checked
    them would), then a second run of the same file whose opportunities file has a header and no rows."""
    tmp = tmp_path_factory.mktemp("gate")
    good = edge_inputs(tmp / "good")
    db = tmp / "plan.duckdb"
    accepting = settings_with(tmp, "review", accept_degraded=True)
    first = run_plan(good, accepting, db, instance=dg.DagsterInstance.ephemeral())
    assert first.current
    with warehouse.connect(db, read_only=True) as con:
        before = {"quotas": con.execute("SELECT * FROM main.quotas ORDER BY ALL").fetchall(),
                  "current": plan_store.current_plan_id(con)}
    bad = edge_inputs(tmp / "bad")
    write_inputs(bad, {"opportunities": []})
    return db, bad, before


def test_a_plan_without_any_quota_is_held_and_the_good_plan_stays_current(good_then_bad, capsys):
    db, bad, before = good_then_bad
    status = main(["run", "--input", str(bad), "--db", str(db), "--config", str(DEFAULT_CONFIG)])
    captured = capsys.readouterr()
    assert status == 3
    assert "needs review" in captured.err and "total quota is 0" in captured.err
    assert "NOT made current" in captured.out and "NEEDS REVIEW: total quota is 0" in captured.out
    with warehouse.connect(db, read_only=True) as con:
        assert plan_store.current_plan_id(con) == before["current"]
        assert con.execute("SELECT * FROM main.quotas ORDER BY ALL").fetchall() == before["quotas"]
        held = con.execute("SELECT run_id, status, review_reasons FROM plans.plan_runs ORDER BY run_id DESC "
                           "LIMIT 1").fetchone()
    assert held[1] == "needs_review" and "total quota is 0" in held[2]
    # the held plan is exported for review, without a single "your quota is 0" letter
    exported = warehouse.output_dir(db, "exports") / held[0]
    assert (exported / "report.html").is_file() and not list((exported / "letters").glob("*.html"))

    # publishing it needs an acknowledgement, which is recorded and makes it current
    assert main(["publish", held[0], "--note", "to reps", "--db", str(db)]) == 1
    assert "needs review" in capsys.readouterr().err
    assert main(["publish", held[0], "--note", "to reps", "--acknowledge", "no expansion this year",
                 "--override", "held plan sent without a review round",
                 "--db", str(db)]) == 0
    with warehouse.connect(db, read_only=True) as con:
        assert plan_store.current_plan_id(con) == held[0]
        assert con.execute("SELECT status, acknowledged FROM plans.plan_runs WHERE run_id = ?",
                           [held[0]]).fetchone() == ("succeeded", "no expansion this year")


def test_a_failed_export_leaves_the_previous_plan_current(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The pointer moves only after the exports are written: an export that fails leaves the
    version failed and the previous plan current (no half-published plan)."""
    import pipeline.defs.exports as exports_step

    folder = edge_inputs(tmp_path / "in")
    db = tmp_path / "plan.duckdb"
    accepting = settings_with(tmp_path, "review", accept_degraded=True)
    first = run_plan(folder, accepting, db, instance=dg.DagsterInstance.ephemeral())

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(exports_step, "export_plan", broken)
    with pytest.raises(Exception, match="disk full"):
        run_plan(folder, accepting, db, instance=dg.DagsterInstance.ephemeral())
    with warehouse.connect(db, read_only=True) as con:
        assert plan_store.current_plan_id(con) == first.plan_id
        statuses = con.execute("SELECT run_id, status FROM plans.plan_runs WHERE run_id LIKE 'P%' "
                               "ORDER BY run_id").fetchall()
    assert statuses == [(first.plan_id, "succeeded"), ("P0002", "failed")]


@pytest.mark.parametrize("case", ["no_won_expansion", "as_of_after_all_data", "as_of_before_all_history"])
def test_degenerate_runs_never_replace_the_good_plan(good_then_bad, tmp_path: Path, case: str):
    """Issue cases 2-4: a history without any won expansion deal, a plan date after all data and one
    before all history. Each run either stops with one clear message or holds its plan for review;
    the good plan stays current and unchanged either way."""
    db = good_then_bad[0]
    with warehouse.connect(db, read_only=True) as con:
        before = {"quotas": con.execute("SELECT * FROM main.quotas ORDER BY ALL").fetchall(),
                  "current": plan_store.current_plan_id(con)}
    folder = edge_inputs(tmp_path / "in")
    as_of = {"as_of_after_all_data": dt.date(2030, 1, 1), "as_of_before_all_history": dt.date(2019, 1, 1)}.get(case)
    if case == "no_won_expansion":
        write_inputs(folder, {"opportunities": [
            {"opportunity_id": "O1", "account_id": "A4", "product_id": "WS2", "type": "expansion",
             "created_date": "2024-06-01", "close_date": "2024-09-01", "stage": "lost", "amount": 1500,
             "source": "ae_sourced", "owner_id": "R2"}]})
    try:
        outcome = run_plan(folder, DEFAULT_CONFIG, db, as_of=as_of, instance=dg.DagsterInstance.ephemeral())
    except PlanRunError as error:
        assert "\n" not in str(error) and "Traceback" not in str(error)
    else:
        assert outcome.status == "needs_review" and outcome.reasons
        assert any("total quota is 0" in r or "base rates" in r for r in outcome.reasons), outcome.reasons
    with warehouse.connect(db, read_only=True) as con:
        assert plan_store.current_plan_id(con) == before["current"]
        assert con.execute("SELECT * FROM main.quotas ORDER BY ALL").fetchall() == before["quotas"]
