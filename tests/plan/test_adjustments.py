"""Adjustments as data (pipeline/plan/adjustments/, `quota-plan adjust`, docs/adjustments.md): the round
trip on the shared 800-account sample plan (its written workbook's New adjustments sheet edited with
openpyxl, `adjust`, `diff`), the checks of every row, the review gate, and the rep quota terms in the
plan's own SQL. Each adjusted plan is written into a copy of the sample plan's DuckDB file."""

from __future__ import annotations

import hashlib
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from openpyxl import load_workbook

from pipeline.cli import main
from pipeline.core import warehouse
from pipeline.core.settings import PlanSettings, load_settings
from pipeline.core.sql_graph import sql_deps
from pipeline.core.warehouse import sql_files
from pipeline.exports.files import workbook_name
from pipeline.plan import store
from pipeline.plan.adjustments import ADJUSTED_REASON, SHEET, AdjustmentsError
from pipeline.plan.adjustments.apply import AFTER_DRAWS, BEFORE_DRAWS, WRITTEN_HERE, adjust_plan
from pipeline.plan.adjustments.reading import read_adjustments
from pipeline.runner import PlanOutcome
from tests.builders import TEST_CONFIG

PARENT = "P0001"


def _copy(db: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(db, folder / "plan.duckdb"))


def _rows(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with warehouse.connect(db, read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _pick(db: Path) -> dict[str, str]:
    """Reps and accounts of the sample plan to adjust: four reps and two accounts of the segment
    with the most reps, an account of another segment, a rep of another segment."""
    segment, = _rows(db, "SELECT segment FROM plans.quotas WHERE plan_id = ? GROUP BY segment "
                         "ORDER BY count(*) DESC, segment LIMIT 1", [PARENT])[0]
    reps = [r for r, in _rows(db, "SELECT rep_id FROM plans.quotas WHERE plan_id = ? AND segment = ? "
                                  "AND accounts > 1 ORDER BY rep_id", [PARENT, segment])]
    accounts = [a for a, in _rows(db, "SELECT account_id FROM plans.territories WHERE plan_id = ? AND rep_id = ? "
                                      "AND NOT locked ORDER BY account_id LIMIT 2", [PARENT, reps[0]])]
    other_rep, other_account = _rows(
        db, "SELECT q.rep_id, t.account_id FROM plans.quotas AS q JOIN plans.territories AS t USING (plan_id, rep_id) "
            "WHERE q.plan_id = ? AND q.segment <> ? ORDER BY 1, 2 LIMIT 1", [PARENT, segment])[0]
    return {"segment": segment, "quota": reps[0], "pct": reps[1], "capacity": reps[2], "factor": reps[3],
            "moved": accounts[0], "locked": accounts[1], "other_rep": other_rep, "other_account": other_account}


@pytest.fixture(scope="module")
def round_trip(sample_plan: PlanOutcome, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The sample plan's own workbook, its New adjustments sheet filled in with openpyxl (one row of
    each kind), applied with `quota-plan adjust` to a copy of its DuckDB file."""
    folder = tmp_path_factory.mktemp("adjusted")
    db = _copy(sample_plan.db, folder)
    written = sample_plan.db.parent / "exports" / sample_plan.db.stem / PARENT / workbook_name(PARENT)
    book = load_workbook(written)
    sheet = book[SHEET]
    pick = _pick(db)
    rows = [("set_quota", pick["quota"], None, 150_000, "agreed with the VP"),
            ("change_quota_pct", pick["pct"], None, "10%", "strong pipeline"),
            ("move_account", pick["pct"], pick["moved"], None, "knows the buyer"),
            ("lock_account", None, pick["locked"], None, "strategic account"),
            ("set_capacity", pick["capacity"], None, 0.5, "parental leave from March"),
            ("set_factor", pick["factor"], None, 0.7, "senior rep")]
    for row, values in enumerate(rows, start=2):
        for column, value in enumerate(values, start=1):
            sheet.cell(row=row, column=column, value=value)
    edited = folder / "edited.xlsx"
    book.save(edited)
    status = main(["adjust", PARENT, "--from", str(edited), "--note", "first review with the VP", "--by", "tester",
                   "--db", str(db)])
    return {"db": db, "file": edited, "status": status, "pick": pick}


def test_the_adjusted_plan_is_a_new_version_whose_lineage_names_its_parent_and_file(round_trip: dict):
    db, edited = round_trip["db"], round_trip["file"]
    assert round_trip["status"] == 0
    parent, file, digest, note, status = _rows(
        db, "SELECT parent_plan_id, adjustments_file, adjustments_digest, note, status FROM plans.plan_runs "
            "WHERE run_id = 'P0002'")[0]
    assert (parent, file, note, status) == (PARENT, str(edited.resolve()), "first review with the VP", "succeeded")
    assert digest == hashlib.md5(edited.read_bytes()).hexdigest()
    assert _rows(db, "SELECT plan_id FROM plans.current_plan") == [("P0002",)]
    lineage = ("as_of", "settings_hash", "data_fingerprint", "model_version", "settings_json")
    both = _rows(db, f"SELECT {', '.join(lineage)} FROM plans.plan_runs WHERE run_id IN ('P0001', 'P0002')")
    assert both[0] == both[1]  # the same data, model and settings as its parent
    assert (db.parent / "exports" / db.stem / "P0002" / workbook_name("P0002")).is_file()


def test_plans_lists_the_adjusted_version_with_its_parent(round_trip: dict, capsys: pytest.CaptureFixture):
    capsys.readouterr()
    assert main(["plans", "--db", str(round_trip["db"])]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "P0002" in x)
    assert line.startswith("*P0002") and line.endswith("adjusted from P0001: first review with the VP")


def test_one_audit_row_per_change_with_who_when_why_and_the_old_and_new_value(round_trip: dict):
    db, pick = round_trip["db"], round_trip["pick"]
    audit = _rows(db, "SELECT adjustment, source_row, kind, rep_id, account_id, old_value, new_value, reason, "
                      "adjusted_by, adjusted_at IS NOT NULL, note, file FROM plans.adjustments "
                      "WHERE plan_id = 'P0002' ORDER BY adjustment")
    assert [(a[0], a[1], a[2]) for a in audit] == [
        (1, 2, "set_quota"), (2, 3, "change_quota_pct"), (3, 4, "move_account"), (4, 5, "lock_account"),
        (5, 6, "set_capacity"), (6, 7, "set_factor")]
    assert {a[8:] for a in audit} == {("tester", True, "first review with the VP", "edited.xlsx")}
    old = dict(_rows(db, "SELECT rep_id, quota FROM plans.quotas WHERE plan_id = ?", [PARENT]))
    new = dict(_rows(db, "SELECT rep_id, quota FROM plans.quotas WHERE plan_id = 'P0002'"))
    assert audit[0][5:8] == (f"{old[pick['quota']]:.2f}", "150000.00", "agreed with the VP")
    assert new[pick["quota"]] == 150_000
    assert new[pick["pct"]] == round(old[pick["pct"]] * 1.1 / 1000) * 1000 != old[pick["pct"]]
    assert audit[1][5:7] == (f"{old[pick['pct']]:.2f}", f"{new[pick['pct']]:.2f}")
    assert audit[2][3:7] == (pick["pct"], pick["moved"], pick["quota"], pick["pct"])
    assert audit[3][4:7] == (pick["locked"], f"{pick['quota']} unlocked", f"{pick['quota']} locked")
    assert audit[4][6] == "0.5" and audit[5][5:7] == ("0.675", "0.7")


def test_only_what_depends_on_the_changes_is_recomputed(round_trip: dict):
    db, pick = round_trip["db"], round_trip["pick"]
    named = [pick[k] for k in ("quota", "pct", "capacity", "factor")]
    for table in ("quotas", "attainment_forecast"):
        keep = "* EXCLUDE (plan_id, target_eev, balance_deviation, out_of_tolerance_reason)" if table == "quotas" \
            else "* EXCLUDE (plan_id)"
        sql = f"SELECT {keep} FROM plans.{table} WHERE plan_id = ? AND rep_id NOT IN (SELECT unnest(?)) ORDER BY ALL"
        assert _rows(db, sql, [PARENT, named]) == _rows(db, sql, ["P0002", named]), table  # same draws, same seed
    sql = "SELECT * EXCLUDE (plan_id) FROM plans.{} WHERE plan_id = ? ORDER BY ALL"
    for table in ("whitespace_items", "account_eev", "quota_factors", "model_metrics"):
        assert _rows(db, sql.format(table), [PARENT]) == _rows(db, sql.format(table), ["P0002"]), table
    # the territory change: moved with the adjustment's reason, listed as a move; the lock kept
    moved = _rows(db, "SELECT rep_id, moved, reason FROM plans.territories WHERE plan_id = 'P0002' AND account_id = ?",
                  [pick["moved"]])
    assert moved == [(pick["pct"], True, ADJUSTED_REASON + "knows the buyer")]
    assert _rows(db, "SELECT to_rep_id FROM plans.territory_moves WHERE plan_id = 'P0002' AND account_id = ?",
                 [pick["moved"]]) == [(pick["pct"],)]
    assert _rows(db, "SELECT locked FROM plans.territories WHERE plan_id = 'P0002' AND account_id = ?",
                 [pick["locked"]]) == [(True,)]
    # every quota is still the exact sum of its contributions; the set factor is applied to the rep's accounts
    assert _rows(db, "SELECT q.rep_id FROM plans.quotas AS q LEFT JOIN (SELECT rep_id, sum(contribution) AS total "
                     "FROM plans.quota_contributions WHERE plan_id = 'P0002' GROUP BY rep_id) AS c USING (rep_id) "
                     "WHERE q.plan_id = 'P0002' AND CAST(q.quota AS DECIMAL(18, 2)) <> coalesce(c.total, 0)") == []
    assert _rows(db, "SELECT DISTINCT factor FROM plans.quota_contributions WHERE plan_id = 'P0002' AND rep_id = ?",
                 [pick["factor"]]) == [(0.7,)]
    # capacity moves the balance targets of the segment, the tracking follows the new quotas
    capacity, target = _rows(db, "SELECT capacity, target_eev FROM plans.quotas WHERE plan_id = 'P0002' "
                                 "AND rep_id = ?", [pick["capacity"]])[0]
    assert capacity == 0.5 and target < _rows(db, "SELECT target_eev FROM plans.quotas WHERE plan_id = ? AND "
                                                  "rep_id = ?", [PARENT, pick["capacity"]])[0][0]
    assert _rows(db, "SELECT DISTINCT quota FROM plans.attainment WHERE plan_id = 'P0002' AND rep_id = ?",
                 [pick["quota"]]) == [(150_000,)]
    assert _rows(db, "SELECT count(*) FROM plans.quota_phasing WHERE plan_id = 'P0002'") == [(12,)]


def test_diff_shows_the_adjustments_alongside_the_moves(round_trip: dict, capsys: pytest.CaptureFixture):
    db, pick = round_trip["db"], round_trip["pick"]
    capsys.readouterr()
    assert main(["diff", PARENT, "P0002", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "Adjustments P0001 -> P0002: 6" in out
    move = next(line for line in out.splitlines() if line.startswith(pick["moved"]))
    assert "adjustment in P0002 by tester: knows the buyer" in move
    assert all(kind in out for kind in ("set_quota", "change_quota_pct", "lock_account", "set_capacity", "set_factor"))


def test_a_second_adjustment_keeps_the_quotas_the_first_one_set(round_trip: dict, tmp_path: Path):
    db = _copy(round_trip["db"], tmp_path)
    pick = round_trip["pick"]
    second = tmp_path / "second.csv"
    second.write_text(f"kind,rep_id,account_id,value,reason\nmove_account,{pick['quota']},{pick['moved']},,back\n")
    result = adjust_plan(db, "P0002", second, "undo the move", "tester")
    assert result.plan_id == "P0003" and result.decision.current
    quotas = dict(_rows(db, "SELECT rep_id, quota FROM plans.quotas WHERE plan_id = 'P0003'"))
    before = dict(_rows(db, "SELECT rep_id, quota FROM plans.quotas WHERE plan_id = 'P0002'"))
    assert quotas[pick["quota"]] == 150_000 and quotas[pick["pct"]] == before[pick["pct"]]  # set quotas stay set
    against = {r[0]: r for r in result.against_rule.rows}
    assert against[pick["quota"]][6] == 150_000 and against[pick["quota"]][7] == 150_000 - against[pick["quota"]][5]
    assert main(["diff", PARENT, "P0003", "--db", str(db)]) == 0
    adjustments = _rows(db, "SELECT plan_id, kind FROM plans.adjustments ORDER BY plan_id, adjustment")
    assert [a for a in adjustments if a[0] == "P0003"] == [("P0003", "move_account")]


def test_a_published_adjusted_plan_keeps_its_adjustments_unaltered(round_trip: dict, tmp_path: Path):
    db = _copy(round_trip["db"], tmp_path)
    with warehouse.connect(db) as con:
        store.mark_published(con, "P0002", "given to reps")
        con.execute("UPDATE plans.adjustments SET reason = 'something else' WHERE plan_id = 'P0002'")
        assert store.altered_published_plans(con) == ["P0002"]


def _bad_file(folder: Path, pick: dict[str, str]) -> Path:
    lines = ["kind,rep_id,account_id,value,reason",
             f"raise_quota,{pick['quota']},,100,typo in the kind",  # row 2
             "set_quota,R9999,,100,unknown rep",  # row 3
             f"move_account,{pick['quota']},{pick['other_account']},,account in another segment",  # row 4
             f"set_quota,{pick['pct']},,-5,quota below zero",  # row 5
             f"set_capacity,{pick['capacity']},,1.5,",  # row 6: no reason, capacity above 1
             f"set_factor,{pick['factor']},,0.9,outside the range",  # row 7
             f"change_quota_pct,{pick['factor']},,5%,a second quota change of one rep",  # row 8
             "lock_account,,A_NONE,,unknown account"]  # row 9
    path = folder / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_every_bad_row_is_reported_at_once_and_nothing_is_written(sample_plan: PlanOutcome, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture):
    db = _copy(sample_plan.db, tmp_path)
    bad = _bad_file(tmp_path, _pick(db))
    before = _rows(db, "SELECT run_id, status FROM plans.plan_runs ORDER BY ALL")
    with pytest.raises(AdjustmentsError) as error:
        adjust_plan(db, PARENT, bad, "bad", "tester")
    lines = str(error.value).splitlines()[1:]
    expected = [("row 2, column kind", "unknown kind", "'raise_quota'"),
                ("row 3, column rep_id", "unknown rep", "'R9999'"),
                ("row 4, column rep_id", "account in another segment", ""),
                ("row 5, column value", "quota below zero", "'-5'"),
                ("row 6, column reason", "required", ""),
                ("row 6, column value", "capacity must be a fraction", "'1.5'"),
                ("row 7, column value", "factor outside the plan's range 0.6-0.75", "'0.9'"),
                ("row 8, column kind", "already changed on row 7", ""),
                ("row 9, column account_id", "unknown account", "'A_NONE'")]
    assert len(lines) == len(expected)
    for line, (where, rule, value) in zip(lines, expected, strict=True):
        assert line.startswith(f"bad.csv {where}: ") and rule in line and value in line, line
    capsys.readouterr()
    assert main(["adjust", PARENT, "--from", str(bad), "--note", "bad", "--db", str(db)]) == 1
    assert "9 problem(s) in bad.csv, nothing was written" in capsys.readouterr().err
    assert _rows(db, "SELECT run_id, status FROM plans.plan_runs ORDER BY ALL") == before
    with pytest.raises(store.PlanStoreError, match="no plan P0042"):
        adjust_plan(db, "P0042", bad, "bad", "tester")


def test_a_quota_set_on_a_rep_left_without_accounts_is_refused(sample_plan: PlanOutcome, tmp_path: Path):
    db = _copy(sample_plan.db, tmp_path)
    pick = _pick(db)
    accounts = _rows(db, "SELECT account_id FROM plans.territories WHERE plan_id = ? AND rep_id = ? ORDER BY 1",
                     [PARENT, pick["factor"]])
    lines = ["kind,rep_id,account_id,value,reason", f"set_quota,{pick['factor']},,100000,kept"]
    lines += [f"move_account,{pick['quota']},{a},,leaves the team" for a, in accounts]
    emptied = tmp_path / "emptied.csv"
    emptied.write_text("\n".join(lines) + "\n")
    before = _rows(db, "SELECT run_id FROM plans.plan_runs ORDER BY 1")
    with pytest.raises(AdjustmentsError, match=f"emptied.csv row 2, column value: the quota 100,000.00 of rep "
                                               f"{pick['factor']} cannot be kept: the adjusted territory has no EEV"):
        adjust_plan(db, PARENT, emptied, "leaver", "tester")
    assert _rows(db, "SELECT run_id FROM plans.plan_runs ORDER BY 1") == before


def test_csv_and_yaml_files_give_the_same_adjustments(tmp_path: Path):
    (tmp_path / "a.csv").write_text("kind,rep_id,account_id,value,reason\nset_quota,R1,,\"1,200,000\",why\n"
                                    "\nlock_account,,A7,,keep\n")
    (tmp_path / "a.yaml").write_text("adjustments:\n  - {kind: set_quota, rep_id: R1, value: 1200000, reason: why}\n"
                                     "  - {kind: lock_account, account_id: A7, reason: keep}\n")
    csv_rows, yaml_rows = read_adjustments(tmp_path / "a.csv").rows, read_adjustments(tmp_path / "a.yaml").rows
    assert [r.row for r in csv_rows] == [2, 4] and [r.row for r in yaml_rows] == [1, 2]
    assert [(r.kind, r.rep_id, r.account_id, r.reason) for r in csv_rows] == \
        [(r.kind, r.rep_id, r.account_id, r.reason) for r in yaml_rows] == \
        [("set_quota", "R1", "", "why"), ("lock_account", "", "A7", "keep")]
    (tmp_path / "b.csv").write_text("kind,rep,value,reason\n")
    with pytest.raises(AdjustmentsError, match="missing column.s. rep_id, account_id; unknown column.s. rep"):
        read_adjustments(tmp_path / "b.csv")


def test_the_adjusted_plan_passes_the_same_review_gate(sample_plan: PlanOutcome, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture):
    """A parent planned under the strict review settings (the sample's tables written as a version with
    review.accept_degraded false, as plan_version and current_plan do): an adjustment that gives a rep with
    accounts a quota of 0 is written but held for review, and the parent stays current."""
    db = _copy(sample_plan.db, tmp_path)
    strict = load_settings(TEST_CONFIG).model_dump(mode="json")
    strict["review"]["accept_degraded"] = False
    with warehouse.connect(db) as con:
        run = con.execute("SELECT as_of, settings_hash, data_fingerprint, model_version FROM plans.plan_runs "
                          "WHERE run_id = ?", [PARENT]).fetchone()
        settings = PlanSettings.model_validate(strict)
        parent = store.write_plan_version(con, store.PlanRun(*run, "strict-parent", settings.model_dump_json()))
        assert store.promote_plan(con, parent, accept_degraded=False).current
    rep = _pick(db)["quota"]
    zero = tmp_path / "zero.csv"
    zero.write_text(f"kind,rep_id,account_id,value,reason\nset_quota,{rep},,0,on a performance plan\n")
    capsys.readouterr()
    assert main(["adjust", parent, "--from", str(zero), "--note", "test", "--db", str(db)]) == 3
    out = capsys.readouterr().out
    assert "needs review and is not current" in out and "have accounts but a quota of 0" in out
    assert _rows(db, "SELECT status FROM plans.plan_runs WHERE run_id = 'P0003'") == [("needs_review",)]
    assert _rows(db, "SELECT plan_id FROM plans.current_plan") == [(parent,)]
    assert _rows(db, "SELECT reason FROM plans.plan_review WHERE plan_id = 'P0003' AND severity = 'review'") == \
        [("rep_zero_quota",)]


def test_every_published_table_that_depends_on_an_adjustment_is_recomputed():
    """A table of the plan version whose SQL reads (through other transforms) the territories, the reps
    or the Monte Carlo is re-run by an adjustment; only quota_factors, the segments' factors the plan
    resolved, is kept on purpose (docs/adjustments.md)."""
    changed, recomputed = set(WRITTEN_HERE), {*BEFORE_DRAWS, *AFTER_DRAWS}

    def depends(name: str) -> bool:
        return name in sql_files() and any(d in changed or depends(d) for d in sql_deps(name))

    published = {source for source in store.PLAN_TABLES.values() if source not in changed}
    assert {t for t in published if depends(t)} - recomputed == {"quota_factors"}
    assert recomputed <= {t for t in sql_files() if depends(t)}


def test_a_rep_quota_set_or_factor_set_is_kept_exactly_by_the_plan_sql(tmp_path: Path):
    """quota_contributions.sql and quotas.sql on hand-built tables: a set quota is kept unrounded and split
    exactly over the rep's accounts, a set factor replaces the segment's, a rep without terms is as before."""
    con = duckdb.connect(str(tmp_path / "plan.duckdb"))
    con.execute("CREATE SCHEMA work")
    con.execute("CREATE TABLE work.rep_plan AS SELECT * FROM (VALUES ('R1', 'Ann', 'mid_market', 1.0, NULL, 12345.67), "
                "('R2', 'Bo', 'mid_market', 1.0, 0.7, NULL), ('R3', 'Cy', 'mid_market', 1.0, NULL, NULL)) "
                "AS t(rep_id, name, segment, capacity, factor_set, quota_set)")
    con.execute("CREATE TABLE work.quota_factors AS SELECT 'mid_market' AS segment, 0.675 AS factor")
    eev = {"A1": 10_000.333, "A2": 4_444.4449, "A3": 1_234.5678, "A4": 3_000.0, "A5": 7_777.7}
    owners = {"A1": "R1", "A2": "R1", "A3": "R2", "A4": "R2", "A5": "R3"}
    con.execute("CREATE TABLE work.account_eev (account_id VARCHAR, eev DOUBLE)")
    con.executemany("INSERT INTO work.account_eev VALUES (?, ?)", list(eev.items()))
    con.execute("CREATE TABLE work.territories (account_id VARCHAR, segment VARCHAR, rep_id VARCHAR, "
                "previous_rep_id VARCHAR, moved BOOLEAN, locked BOOLEAN, anchor BOOLEAN)")
    con.executemany("INSERT INTO work.territories VALUES (?, 'mid_market', ?, ?, false, false, false)",
                    [(a, r, r) for a, r in owners.items()])
    con.execute("CREATE TABLE work.territory_methods AS SELECT 'mid_market' AS segment, 'milp' AS method, "
                "1 AS book_min, 40 AS book_max")
    params = load_settings(TEST_CONFIG).sql_params()
    for step in ("territory_shares", "quota_contributions", "quotas"):
        warehouse.build_table(con, step, params)
    quotas = {r: (q, f) for r, q, f in con.execute("SELECT rep_id, quota, factor FROM work.quotas").fetchall()}
    # the territory EEV is the exact sum of the shares in millionths (docs/method.md), in any row order
    territory_r1 = float(sum(Decimal(str(eev[a])).quantize(Decimal("0.000001")) for a in ("A1", "A2")))
    assert quotas["R1"] == (12345.67, 12345.67 / territory_r1)
    assert quotas["R2"] == (round(0.7 * (eev["A3"] + eev["A4"]) / 1000) * 1000, 0.7)
    assert quotas["R3"] == (round(0.675 * eev["A5"] / 1000) * 1000, 0.675)
    totals = dict(con.execute("SELECT rep_id, sum(contribution) FROM work.quota_contributions GROUP BY 1").fetchall())
    assert totals == {rep: Decimal(str(q)).quantize(Decimal("0.01")) for rep, (q, _) in quotas.items()}
