"""Exports of a real plan: the workbook read back with openpyxl, quota letters against the
quotas table, the report in headless Chromium, byte-identical re-exports, optional tables."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import openpyxl
import polars as pl
import pytest

from pipeline.core import warehouse
from pipeline.exports.columns import header as header_of
from pipeline.exports.files import export_plan
from pipeline.exports.sheets import ExportError, load_plan_tables
from pipeline.exports.workbook import _top_items_per_rep, write_workbook
from pipeline.plan.adjustments import SHEET as ADJUSTMENTS_SHEET
from pipeline.runner import PlanOutcome
from tests.exports.chromium import open_page

CLI = [sys.executable, "-m", "pipeline.cli"]
SHEETS = ["Summary", "Quotas", "Phasing", "Top items", "Accounts", "Territories", "Blackout calendar", "Model"]


def _query(db: Path, sql: str) -> list[tuple]:
    with warehouse.connect(db, read_only=True) as con:
        return con.execute(sql).fetchall()


def _columns(db: Path, table: str) -> list[str]:
    return [r[0] for r in _query(db, f"DESCRIBE main.{table}")]


MONEY, PERCENT, COUNT, DATE = '"$"#,##0', "0.0%", "#,##0", "yyyy-mm-dd"
# Columns of the findings (money shown as #,##0.000, a share as "$1", ...) and others, by header.
EXPECTED_FORMATS = {
    "Summary": {"Quota / EEV": PERCENT, "Balance CV": PERCENT, "Accounts": COUNT, "Reps": COUNT, "EEV": MONEY},
    "Quotas": {"Territory EEV": MONEY, "Factor": PERCENT, "Deviation from target": PERCENT, "Accounts": COUNT,
               "Quota": MONEY, "Capacity": "#,##0.00"},
    "Pipeline coverage": {"Credited YTD": MONEY, "Open pipeline": MONEY, "Qualified pipeline": MONEY,
                          "Open deals": COUNT, "Window start": DATE},
    "Territory balance": {"EEV moved": MONEY, "Share within tolerance": PERCENT, "Accounts moved": COUNT},
    "Csm source bonus": {"Rep commission": MONEY, "CSM source bonus": MONEY, "Deals without commission rate": COUNT},
    "Top items": {"Close probability": PERCENT, "Expected amount": MONEY, "EEV": MONEY},
    "Phasing": {"Weight": PERCENT, "Month start": DATE},
    "Model": {"ROC AUC": "0.000", "Rows": COUNT},
}


@pytest.fixture(scope="module")
def book(sample_plan: PlanOutcome, exported: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(exported / f"quota_plan_{sample_plan.plan_id}.xlsx")


def _table_sheets(book: openpyxl.Workbook) -> list:
    """The sheets holding a plan table: all but the New adjustments form, which has its own tests
    (tests/plan/test_adjustments.py: columns, drop-downs, read back)."""
    return [sheet for sheet in book.worksheets if sheet.title != ADJUSTMENTS_SHEET]


def _table(sheet) -> tuple[list[str], list[tuple]]:
    """The header and the data rows of a sheet's one Excel table (not the rows under it)."""
    (table,) = sheet.tables.values()
    rows = list(sheet[table.ref])
    return [c.value for c in rows[0]], rows[1:]


def test_workbook_sheets_are_named_tables_with_human_headers(sample_plan: PlanOutcome, book: openpyxl.Workbook):
    db = sample_plan.db
    assert book.sheetnames[: len(SHEETS)] == SHEETS
    assert {"Products", "Moves", "Quota history", "Attainment forecast"} <= set(book.sheetnames)
    # internal tables are left out: the published-plan digests, the model's JSON, empty rejected rows
    assert not {"Published plans", "Model info", "Rejected rows", "Whitespace items"} & set(book.sheetnames)
    assert book.sheetnames[-1] == ADJUSTMENTS_SHEET
    for sheet in _table_sheets(book):
        (name,) = sheet.tables
        assert not re.fullmatch(r"Frame\d+", name), sheet.title
        header, _ = _table(sheet)
        assert all("_" not in h and h[0].isupper() for h in header), (sheet.title, header)
        assert not {"Columns json", "Digest", "Settings json"} & set(header)
        assert sheet.freeze_panes == "A2"
    assert book["Quotas"].tables["Quotas"] and book["Top items"].tables["TopItems"]
    expected_rows = {
        "Quotas": _query(db, "SELECT count(*) FROM main.quotas")[0][0],
        "Territories": _query(db, "SELECT count(*) FROM main.territories")[0][0],
        "Accounts": _query(db, "SELECT count(*) FROM main.account_eev")[0][0],
        "Summary": _query(db, "SELECT count(DISTINCT segment) FROM main.account_eev")[0][0],  # total row outside
        "Products": _query(db, "SELECT count(*) FROM raw.products")[0][0],
    }
    assert {name: len(_table(book[name])[1]) for name in expected_rows} == expected_rows


def test_workbook_formats_follow_column_meaning_on_every_sheet(book: openpyxl.Workbook):
    for sheet in _table_sheets(book):
        header, rows = _table(sheet)
        for col, title in enumerate(header):
            cells = [r[col] for r in rows if r[col].value is not None]
            numbers = [c for c in cells if c.data_type in ("n", "f") and not isinstance(c.value, bool)]
            formats = {c.number_format for c in numbers + [c for c in cells if c.is_date]}
            assert "General" not in formats and "#,##0.000" not in formats, (sheet.title, title, formats)
            assert len(formats) <= 1, (sheet.title, title, formats)  # one format per column
            if title in EXPECTED_FORMATS.get(sheet.title, {}):
                assert formats == {EXPECTED_FORMATS[sheet.title][title]}, (sheet.title, title, formats)
            if formats == {COUNT}:
                assert all(float(c.value).is_integer() for c in numbers), (sheet.title, title)
            if title in ("Quota", "Quota before rounding") and sheet.title == "Quotas":
                assert {c.data_type for c in numbers} == {"f"}  # formulas, formatted like the values
            dates = [c for c in cells if c.is_date]
            assert all(c.number_format.startswith("yyyy-mm-dd") for c in dates), (sheet.title, title)
            if title.endswith(("date", "start", "end")) and cells:
                assert dates == cells, (sheet.title, title)  # real dates, not text
    assert set(EXPECTED_FORMATS) <= set(book.sheetnames)


def test_summary_totals_and_lineage_are_outside_the_table(sample_plan: PlanOutcome, book: openpyxl.Workbook):
    sheet = book["Summary"]
    header, rows = _table(sheet)
    assert "total" not in [r[0].value for r in rows]  # sorting the table never mixes the total in
    below = {r[0].value: r for r in sheet.iter_rows(min_row=len(rows) + 2) if r[0].value}
    total = below["Total"]
    accounts = _query(sample_plan.db, "SELECT count(*), sum(eev) FROM main.account_eev")[0]
    assert total[header.index("Accounts")].value == accounts[0]
    assert total[header.index("EEV")].value == pytest.approx(accounts[1])
    assert total[header.index("EEV")].number_format == MONEY
    assert below["Plan"][1].value == sample_plan.plan_id
    assert below["Plan period from"][1].value == dt.datetime(2026, 1, 1)  # dates as dates, not text
    assert below["Plan period to"][1].value == dt.datetime(2026, 12, 31)
    created = _query(sample_plan.db, f"SELECT created_at FROM main.plan_runs WHERE run_id = '{sample_plan.plan_id}'")
    assert book.properties.created == created[0][0].replace(microsecond=0) == below["Created"][1].value


def test_quotas_sheet_computes_quota_from_factor_and_eev(sample_plan: PlanOutcome, exported: Path,
                                                          book: openpyxl.Workbook):
    header, rows = _table(book["Quotas"])
    column = {h: i for i, h in enumerate(header)}
    cached_book = openpyxl.load_workbook(exported / f"quota_plan_{sample_plan.plan_id}.xlsx", data_only=True)
    values = {r[column["Rep ID"]].value: r for r in _table(cached_book["Quotas"])[1]}
    quotas = dict(_query(sample_plan.db, "SELECT rep_id, quota FROM main.quotas"))
    for row in rows:
        formula = row[column["Quota before rounding"]].value
        assert formula == "=Quotas[[#This Row],[Factor]]*Quotas[[#This Row],[Territory EEV]]"
        assert row[column["Quota"]].value == "=ROUND(Quotas[[#This Row],[Quota before rounding]]/1000,0)*1000"
        rep = row[column["Rep ID"]].value
        cached = values[rep]
        assert cached[column["Quota"]].value == quotas[rep]  # readers that do not recalculate see the plan
        factor, eev = cached[column["Factor"]].value, cached[column["Territory EEV"]].value
        assert round(factor * eev / 1000) * 1000 == quotas[rep]  # what Excel computes from the formulas


def test_top_items_and_products_give_names_next_to_codes(sample_plan: PlanOutcome, exported: Path,
                                                          book: openpyxl.Workbook):
    names = dict(_query(sample_plan.db, "SELECT product_id, product_name FROM raw.products"))
    header, rows = _table(book["Top items"])
    code, name, rep = header.index("Product ID"), header.index("Product"), header.index("Rep ID")
    assert rows and all(names[r[code].value] == r[name].value for r in rows)
    per_rep = collections.Counter(r[rep].value for r in rows)
    assert max(per_rep.values()) == 25  # exports.workbook_items_per_rep
    assert {r[0].value: r[1].value for r in _table(book["Products"])[1]} == names
    items = pl.read_parquet(exported / "parquet" / "whitespace_items.parquet")  # every item, in the files
    assert items.height == _query(sample_plan.db, "SELECT count(*) FROM main.whitespace_items")[0][0]
    assert set(items["product_name"]) <= set(names.values())


def test_quota_letters_match_the_quotas_table(sample_plan: PlanOutcome, exported: Path):
    db = sample_plan.db
    reps = _query(db, "SELECT rep_id, segment, territory_eev, quota, accounts, factor FROM main.quotas")
    assert sorted(p.stem for p in (exported / "letters").glob("*.html")) == sorted(r[0] for r in reps)
    assert sorted(p.stem for p in (exported / "letters").glob("*.pdf")) == sorted(r[0] for r in reps)
    for rep_id, segment, eev, quota, accounts, factor in reps:
        html = (exported / "letters" / f"{rep_id}.html").read_text()
        assert _letter_figure(html, "quota") == f"${quota:,.0f}"
        assert _letter_figure(html, "territory_eev") == f"${eev:,.0f}"
        assert _letter_figure(html, "segment") == segment
        assert _letter_figure(html, "factor") == f"{factor:.1%}"
        assert _letter_figure(html, "accounts") == str(accounts)
        top = [r[0] for r in _query(db, f"""SELECT t.account_id FROM main.territories t JOIN main.account_eev a
            USING (account_id) WHERE t.rep_id = '{rep_id}' ORDER BY a.eev DESC, t.account_id LIMIT 10""")]
        assert re.findall(r'<tbody data-account="([^"]+)"', html) == top  # the largest by EEV; the rest in a line
        if accounts > len(top):
            assert f"Your other {accounts - len(top)} accounts" in html


def _letter_figure(html: str, name: str) -> str:
    return re.search(rf'id="{name}">([^<]*)<', html).group(1)


def test_report_loads_in_headless_chromium_without_console_errors(exported: Path, tmp_path: Path):
    # the check can fail: a page with a script error is caught
    broken = tmp_path / "broken.html"
    broken.write_text('<html><body><img class="chart" alt="x" src="data:image/png;base64,AAAA"><script>'
                      'window.addEventListener("load", () => { for (const i of document.querySelectorAll("img"))'
                      ' if (!i.naturalWidth) console.error("chart did not load: " + i.alt); });</script></body></html>')
    assert any("chart did not load: x" in line for line in open_page(broken, tmp_path / "p", tmp_path / "b.png"))

    screenshot = tmp_path / "report.png"
    assert open_page(exported / "report.html", tmp_path / "p", screenshot) == []
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


def test_a_plan_with_more_letters_than_the_pdf_cap_gets_html_letters_and_the_command_that_prints_them(
        sample_plan: PlanOutcome, tmp_path: Path):
    db = tmp_path / "plan.duckdb"
    shutil.copy(sample_plan.db, db)
    with warehouse.connect(db) as con:
        con.execute("UPDATE plans.plan_runs SET settings_json = json_merge_patch(settings_json, "
                    "'{\"exports\": {\"letter_pdf_max_letters\": 2}}')")
        capped = export_plan(con, tmp_path / "capped")
    assert len(capped.letters) > 2 and capped.letter_pdfs == []
    note = f"quota-plan export --plan P0001 --out {capped.folder} --letter-pdfs"
    assert [line for line in capped.where() if note in line] == [
        f"  NOTE: {len(capped.letters)} quota letters are more than exports.letter_pdf_max_letters (2): HTML only; "
        f"print every one to PDF with {note}"]
    done = subprocess.run([*CLI, "export", "--db", str(db), "--out", str(capped.folder), "--letter-pdfs"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    printed = sorted(capped.folder.glob("letters/*.pdf"))
    assert [p.with_suffix(".html") for p in printed] == capped.letters
    assert "letter_pdf_max_letters" not in done.stdout


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
        largest = con.execute("SELECT account_name FROM main.territory_moves JOIN main.account_eev USING "
                              "(account_id) ORDER BY territory_moves.eev DESC, account_id LIMIT 1").fetchone()[0]
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
    assert list(book["Attainment"].iter_rows(values_only=True)) == [("Rep ID", "Attainment"), ("R0001", 0.42)]
    assert list(book["Rep notes"].iter_rows(values_only=True)) == [("Rep ID", "Tags", "Detail"),
                                                                    ("R0001", "[a, b]", "{'k': 1}")]
    moves = list(book["Moves"].iter_rows(values_only=True))
    assert list(moves[0]) == [header_of(c) for c in moves_header] and len(moves) == len(moved) + 1 and moved
    header = next(book["Territories"].iter_rows(max_row=1, values_only=True))
    reasons = {r[0]: r[header.index("Reason")] for r in book["Territories"].iter_rows(min_row=2, values_only=True)}
    assert {a: reasons[a] for a in moved} == moved
    assert {"largest_moves", "backtest_results"} <= set(result.charts)
    html = result.report.read_text()
    assert 'id="table-largest_moves"' in html and largest in html.split('id="table-largest_moves"')[1]
    assert (tmp_path / "out" / "csv" / "backtest_results.csv").read_text().startswith('"method","share_attaining","cv"')


def test_plan_period_ends_the_day_before_the_horizon():
    from pipeline.core.settings import load_settings  # noqa: PLC0415

    assert load_settings(as_of=dt.date(2025, 8, 31)).plan_period() == (dt.date(2025, 8, 31), dt.date(2026, 8, 30))
    assert load_settings(as_of=dt.date(2024, 2, 29)).plan_period() == (dt.date(2024, 2, 29), dt.date(2025, 2, 27))



def test_a_workbook_over_its_cell_budget_keeps_fewer_top_items_per_rep_and_names_what_it_leaves_out(
        sample_plan: PlanOutcome, tmp_path: Path):
    with warehouse.connect(sample_plan.db, read_only=True) as con:
        tables = load_plan_tables(con)
    top = tables.sheets["top_items"].frame
    reps = top["rep_id"].n_unique()
    keys = list(tables.sheets)
    before = [s for s in list(tables.sheets.values())[: keys.index("top_items")] if s.frame is not None
              and s.key not in ("summary", "quotas")]  # Phasing
    budget = sum(s.frame.height * s.frame.width for s in before) + 3 * reps * top.width + 5  # 3 items per rep
    cfg = tables.settings.exports.model_copy(update={"workbook_max_cells": budget})
    tables = dataclasses.replace(tables, settings=tables.settings.model_copy(update={"exports": cfg}))
    left_out = write_workbook(tables, tmp_path / "book.xlsx")
    book = openpyxl.load_workbook(tmp_path / "book.xlsx")
    assert book.sheetnames == ["Summary", "Quotas", *(s.title for s in before), "Top items", ADJUSTMENTS_SHEET]
    header, rows = _table(book["Top items"])
    kept = [(r[header.index("Rep ID")].value, r[header.index("Account ID")].value, r[header.index("Product ID")].value)
            for r in rows]
    largest = _top_items_per_rep(top, 3).select("rep_id", "account_id", "product_id").rows()
    assert kept == largest and max(collections.Counter(k[0] for k in kept).values()) == 3 < top.height / reps
    others = [s.title for s in tables.sheets.values() if s.frame is not None
              and s.key not in ("summary", "quotas", "top_items") and s not in before]
    assert others and set(others) <= set(left_out)
    notes = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True) if row[0]}
    assert notes["Top items"].startswith("the largest 3 per rep")
    written = [v for row in book["Summary"].iter_rows(values_only=True) for v in row if v]
    assert all(f"{title}: too many rows, see the CSV/Parquet files" in written for title in others)
