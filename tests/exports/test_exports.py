"""Exports of a real plan: the workbook read back with openpyxl, quota letters against the
quotas table, the report in headless Chromium, byte-identical re-exports, optional tables."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import openpyxl
import pytest

from pipeline.core import warehouse
from pipeline.exports.files import export_plan
from pipeline.exports.sheets import ExportError
from pipeline.runner import PlanOutcome

CLI = [sys.executable, "-m", "pipeline.cli"]
SHEETS = ["Summary", "Quotas", "Territories", "Accounts", "Whitespace items", "Blackout calendar", "Model"]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--enable-logging=stderr", "--v=0"]


def _query(db: Path, sql: str) -> list[tuple]:
    with warehouse.connect(db, read_only=True) as con:
        return con.execute(sql).fetchall()


def _columns(db: Path, table: str) -> list[str]:
    return [r[0] for r in _query(db, f"DESCRIBE main.{table}")]


@pytest.fixture(scope="module")
def exported(sample_plan: PlanOutcome) -> Path:
    """The folder the plan_exports asset wrote during the sample plan run."""
    folder = warehouse.output_dir(sample_plan.db, "exports") / sample_plan.plan_id
    assert folder.is_dir()
    return folder


def test_workbook_has_the_plans_sheets_headers_and_rows(sample_plan: PlanOutcome, exported: Path):
    db = sample_plan.db
    book = openpyxl.load_workbook(exported / f"quota_plan_{sample_plan.plan_id}.xlsx")
    assert book.sheetnames[: len(SHEETS)] == SHEETS  # the core sheets first, in this order
    assert "Backtest results" not in book.sheetnames  # no backtest in this plan

    def header(name: str) -> list[str]:
        return [c.value for c in next(book[name].iter_rows(max_row=1))]

    def data_rows(name: str) -> int:  # the sheet's Excel table spans the header and the data rows
        (table,) = book[name].tables.values()
        return int(re.search(r"(\d+)$", table.ref).group(1)) - 1

    expected_rows = {
        "Quotas": _query(db, "SELECT count(*) FROM main.quotas")[0][0],
        "Territories": _query(db, "SELECT count(*) FROM main.territories")[0][0],
        "Accounts": _query(db, "SELECT count(*) FROM main.account_eev")[0][0],
        "Whitespace items": _query(db, "SELECT count(*) FROM main.whitespace_items")[0][0],
        "Model": _query(db, "SELECT count(DISTINCT (model, segment)) FROM main.model_metrics")[0][0],
        # plan period 2026-01-01 .. 2026-12-31; windows that overlap it, accounts with a rep
        "Blackout calendar": _query(db, """SELECT count(*) FROM main.account_eev JOIN main.territories
            USING (account_id) WHERE blackout_start <= DATE '2026-12-31' AND blackout_end >= DATE '2026-01-01'""")[0][0],
        "Summary": 1 + _query(db, "SELECT count(DISTINCT segment) FROM main.account_eev")[0][0],  # + total
    }
    assert {name: data_rows(name) for name in expected_rows} == expected_rows
    assert expected_rows["Blackout calendar"] > 0
    assert header("Accounts") == [*_columns(db, "account_eev"), "rep_id"]
    assert header("Whitespace items") == [*_columns(db, "whitespace_items"), "account_name", "rep_id"]
    assert header("Territories")[:7] == ["account_id", "account_name", "segment", "rep_id", "rep_name",
                                         "previous_rep_id", "moved"]
    assert header("Quotas") == ["rep_id", "name", "segment", "capacity", "accounts", "territory_eev",
                                "eev_per_capacity", "balance_deviation", "factor", "quota_unrounded", "quota"]
    assert {"roc_auc", "brier", "log_loss", "ece"} <= set(header("Model"))

    # values and formats people see
    quotas = {r[0]: r[1] for r in _query(db, "SELECT rep_id, quota FROM main.quotas")}
    sheet = book["Quotas"]
    cells = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    assert {rep: row[10].value for rep, row in cells.items()} == quotas
    first = next(iter(cells.values()))
    assert first[10].number_format == '"$"#,##0' and first[8].number_format == "0.0%"
    assert sheet.freeze_panes == "A2"
    assert all(book[name].freeze_panes == "A2" and book[name].tables for name in SHEETS)
    created = _query(db, f"SELECT created_at FROM main.plan_runs WHERE run_id = '{sample_plan.plan_id}'")[0][0]
    assert book.properties.created == created.replace(microsecond=0)
    # the plan's lineage under the Summary table
    notes = {r[0]: r[1] for r in book["Summary"].iter_rows(values_only=True) if r[0] and r[1] and r[2] is None}
    assert notes["Plan"] == sample_plan.plan_id and notes["Plan period"] == "2026-01-01 to 2026-12-31"


def _letter_figure(html: str, name: str) -> str:
    return re.search(rf'id="{name}">([^<]*)<', html).group(1)


def test_quota_letters_match_the_quotas_table(sample_plan: PlanOutcome, exported: Path):
    db = sample_plan.db
    reps = _query(db, "SELECT rep_id, segment, territory_eev, quota, accounts, factor FROM main.quotas")
    assert sorted(p.stem for p in (exported / "letters").glob("*.html")) == sorted(r[0] for r in reps)
    for rep_id, segment, eev, quota, accounts, factor in reps:
        html = (exported / "letters" / f"{rep_id}.html").read_text()
        assert _letter_figure(html, "quota") == f"${quota:,.0f}"
        assert _letter_figure(html, "territory_eev") == f"${eev:,.0f}"
        assert _letter_figure(html, "segment") == segment
        assert _letter_figure(html, "factor") == f"{factor:.1%}"
        book = {r[0] for r in _query(db, f"SELECT account_id FROM main.territories WHERE rep_id = '{rep_id}'")}
        listed = set(re.findall(r'data-account="([^"]+)"', html))
        assert listed == book and len(listed) == accounts
    # the blackout windows of one rep in the plan period are listed in its letter
    rep_id, start, account = _query(db, """SELECT t.rep_id, a.blackout_start, a.account_id FROM main.account_eev a
        JOIN main.territories t USING (account_id) WHERE a.blackout_start BETWEEN DATE '2026-03-01' AND DATE '2026-10-01'
        ORDER BY a.account_id LIMIT 1""")[0]
    blackouts = (exported / "letters" / f"{rep_id}.html").read_text().split('id="blackouts-table"')[1]
    assert f"<td>{start}</td>" in blackouts and f"({account})" in blackouts


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        if path := shutil.which(name):
            return path
    pytest.fail("headless Chromium is needed: apt-get install -y chromium (make test installs it)")


def _open_in_chromium(page: Path, tmp_path: Path, screenshot: Path) -> list[str]:
    """Load a page in headless Chromium with a fresh profile, take a screenshot; the console lines."""
    done = subprocess.run(
        [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,2400",
         f"--screenshot={screenshot}", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return [line for line in done.stderr.splitlines() if ":CONSOLE" in line]


def test_report_loads_in_headless_chromium_without_console_errors(exported: Path, tmp_path: Path):
    # the check can fail: a page with a script error is caught
    broken = tmp_path / "broken.html"
    broken.write_text('<html><body><img class="chart" alt="x" src="data:image/png;base64,AAAA"><script>'
                      'window.addEventListener("load", () => { for (const i of document.querySelectorAll("img"))'
                      ' if (!i.naturalWidth) console.error("chart did not load: " + i.alt); });</script></body></html>')
    assert any("chart did not load: x" in line for line in _open_in_chromium(broken, tmp_path, tmp_path / "b.png"))

    screenshot = tmp_path / "report.png"
    assert _open_in_chromium(exported / "report.html", tmp_path, screenshot) == []
    from matplotlib.image import imread  # noqa: PLC0415

    image = imread(screenshot)
    assert image.shape[:2] == (2400, 1280)
    assert len({tuple(px) for px in image[::20, ::20].reshape(-1, image.shape[2]).tolist()}) > 20  # not blank
    html = (exported / "report.html").read_text()
    assert html.count('<img class="chart"') == 6  # segments, quotas, balance, model, calibration, largest moves


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_exporting_the_same_plan_again_is_byte_identical(sample_plan: PlanOutcome, exported: Path, tmp_path: Path):
    out = tmp_path / "again"
    done = subprocess.run([*CLI, "export", "--db", str(sample_plan.db), "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"workbook  {out.resolve() / 'quota_plan_P0001.xlsx'}" in done.stdout
    first, second = _files(exported), _files(out)
    assert len(first) > 30 and first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []


def test_export_errors_name_the_plans_there_are(sample_plan: PlanOutcome, tmp_path: Path):
    with warehouse.connect(sample_plan.db, read_only=True) as con, pytest.raises(ExportError) as err:
        export_plan(con, tmp_path / "x", "P0042")
    assert str(err.value) == "no plan 'P0042' in the DuckDB file; plans: P0001"
    db = tmp_path / "empty.duckdb"
    duckdb.connect(str(db)).close()
    with warehouse.connect(db, read_only=True) as con, pytest.raises(ExportError, match="has no plan yet"):
        export_plan(con, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_tables_other_steps_add_to_a_plan_become_sheets_and_charts(sample_plan: PlanOutcome, tmp_path: Path):
    db = tmp_path / "plan.duckdb"
    shutil.copy(sample_plan.db, db)
    with warehouse.connect(db) as con:
        # the plan's own territory moves (issue 5) become the Moves sheet and the move reasons
        moves_header = [r[0] for r in con.execute("DESCRIBE main.territory_moves").fetchall()]
        moved = dict(con.execute("SELECT account_id, reason FROM main.territory_moves").fetchall())
        largest = con.execute("SELECT account_id FROM main.territory_moves ORDER BY eev DESC, account_id LIMIT 1"
                              ).fetchone()[0]
        con.execute("CREATE TABLE plans.backtest_results AS SELECT 'P0001' AS plan_id, * FROM (VALUES "
                    "('eev', 0.55, 0.30), ('flat', 0.40, 0.62), ('acv', 0.45, 0.48)) t(method, share_attaining, cv)")
        con.execute("CREATE TABLE plans.rep_notes AS SELECT 'P0001' AS plan_id, 'R0001' AS rep_id, "
                    "['a', 'b'] AS tags, {'k': 1} AS detail")  # nested columns are written as text
        # in-year tracking tables (plans.*, this plan's rows replaced by each tracking run of it)
        con.execute("CREATE OR REPLACE TABLE plans.attainment AS SELECT * FROM (VALUES ('P0000', 'R0001', 0.1), "
                    "('P0001', 'R0001', 0.42)) t(plan_id, rep_id, attainment)")
        result = export_plan(con, tmp_path / "out")
    book = openpyxl.load_workbook(result.workbook, read_only=True)
    assert book.sheetnames[: len(SHEETS)] == SHEETS
    assert {"Moves", "Backtest results", "Rep notes", "Attainment"} <= set(book.sheetnames)
    assert list(book["Attainment"].iter_rows(values_only=True)) == [("rep_id", "attainment"), ("R0001", 0.42)]
    assert list(book["Rep notes"].iter_rows(values_only=True)) == [("rep_id", "tags", "detail"),
                                                                    ("R0001", "[a, b]", "{'k': 1}")]
    moves = list(book["Moves"].iter_rows(values_only=True))
    assert list(moves[0]) == moves_header and len(moves) == len(moved) + 1 and moved
    header = next(book["Territories"].iter_rows(max_row=1, values_only=True))
    reasons = {r[0]: r[header.index("reason")] for r in book["Territories"].iter_rows(min_row=2, values_only=True)}
    assert {a: reasons[a] for a in moved} == moved
    assert {"largest_moves", "backtest_results"} <= set(result.charts)
    html = result.report.read_text()
    assert 'id="table-largest_moves"' in html and largest in html.split('id="table-largest_moves"')[1]
    assert (tmp_path / "out" / "csv" / "backtest_results.csv").read_text().startswith('"method","share_attaining","cv"')


def test_plan_period_ends_the_day_before_the_horizon():
    from pipeline.core.settings import load_settings  # noqa: PLC0415

    assert load_settings(as_of=dt.date(2025, 8, 31)).plan_period() == (dt.date(2025, 8, 31), dt.date(2026, 8, 30))
    assert load_settings(as_of=dt.date(2024, 2, 29)).plan_period() == (dt.date(2024, 2, 29), dt.date(2025, 2, 27))

