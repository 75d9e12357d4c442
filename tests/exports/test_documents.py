"""Quota letters and the plan report as a rep and a CRO see them: letters printed to PDF by headless
Chromium (pages counted, text read back with poppler), the report measured in Chromium at 1,280 px
and at the printed width."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shutil
from pathlib import Path

import pytest

from pipeline.core import warehouse
from pipeline.exports.documents import render_letters, render_report
from pipeline.exports.pdf import print_pdfs
from pipeline.exports.sheets import PlanTables, load_plan_tables
from pipeline.runner import PlanOutcome
from tests.exports.chromium import measure, pdf_pages, pdf_text

BOOK = 100  # accounts of the rep whose letter must print on at most two pages
PRINT_WIDTH_PX = 1047  # A4 landscape (297 mm) less 2 x 10 mm margins, at 96 px per inch


def _query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with warehouse.connect(db, read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.fixture(scope="module")
def big_book(sample_plan: PlanOutcome, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A copy of the sample plan in which one high-velocity rep holds BOOK accounts."""
    db = tmp_path_factory.mktemp("big_book") / "plan.duckdb"
    shutil.copy(sample_plan.db, db)
    with warehouse.connect(db) as con:
        rep, held = con.execute("""SELECT rep_id, accounts FROM plans.quotas WHERE segment = 'high_velocity'
            ORDER BY accounts DESC, rep_id LIMIT 1""").fetchone()
        con.execute("""UPDATE plans.territories SET rep_id = $rep WHERE account_id IN (
            SELECT account_id FROM plans.territories WHERE segment = 'high_velocity' AND rep_id <> $rep
            ORDER BY account_id LIMIT $more)""", {"rep": rep, "more": BOOK - held})
        con.execute("""UPDATE plans.quotas SET accounts = (SELECT count(*) FROM plans.territories t
            WHERE t.plan_id = quotas.plan_id AND t.rep_id = quotas.rep_id)""")
    return db, rep


@pytest.fixture(scope="module")
def big_letter(big_book: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> tuple[PlanTables, Path, str]:
    db, rep = big_book
    with warehouse.connect(db, read_only=True) as con:
        tables = load_plan_tables(con)
    page = tmp_path_factory.mktemp("letter") / f"{rep}.html"
    page.write_text(render_letters(tables)[rep])
    (pdf,) = print_pdfs([page], tables.created_at, 1)
    return tables, pdf, rep


def test_a_100_account_letter_prints_on_at_most_two_pages(big_book: tuple[Path, str],
                                                           big_letter: tuple[PlanTables, Path, str]):
    db, rep = big_book
    _, pdf, _ = big_letter
    assert _query(db, "SELECT count(*) FROM plans.territories WHERE rep_id = ?", [rep])[0][0] == BOOK
    assert 1 <= pdf_pages(pdf) <= 2
    text = pdf_text(pdf)
    assert "Sign-off" in text and "Quota by quarter" in text
    assert f"Your other {BOOK - 10} accounts" in text  # exports.letter_top_accounts listed, the rest summarised


def test_a_letter_prints_to_the_same_bytes_whichever_letters_the_browser_printed_before(
        exported: Path, tmp_path: Path):
    # the structure ids of a tagged PDF come from the browser's DOM node counter, whose gaps depend
    # on the pages printed before in the same browser: one browser in one order, two in another
    letters = sorted((exported / "letters").glob("*.html"))[:6]
    assert len(letters) == 6
    runs = []
    for name, order, workers in (("forward", letters, 1), ("backward", letters[::-1], 2)):
        (tmp_path / name).mkdir()
        pages = [Path(shutil.copy(page, tmp_path / name / page.name)) for page in order]
        runs.append({pdf.name: pdf.read_bytes() for pdf in print_pdfs(pages, dt.datetime(2026, 1, 2, 3, 4, 5), workers)})
    assert len(runs[0]) == 6 and runs[0].keys() == runs[1].keys()
    assert [name for name in runs[0] if runs[0][name] != runs[1][name]] == []
    assert all(b"/CreationDate (D:20260102030405" in pdf for pdf in runs[0].values())


def test_letter_items_have_product_names_labelled_probability_and_no_zero_items(
        big_book: tuple[Path, str], big_letter: tuple[PlanTables, Path, str]):
    db, _ = big_book
    _, pdf, _ = big_letter
    html = Path(pdf).with_suffix(".html").read_text()
    header = html.split('id="accounts-table"')[1].split("</thead>")[0]
    assert "Proba&shy;bility" in header and "Expected amount" in header and "Opportunity" in header
    names = dict(_query(db, "SELECT product_id, product_name FROM raw.products"))
    items = re.findall(r'data-item="[^"]+">([^<]+) \(([^)]+)\)</td>\s*<td class="num small">(\d+)%</td>', html)
    assert items
    assert {name for name, _, _ in items} <= set(names.values())
    assert not any(re.search(rf"\b{code}\b", html) for code in names)  # no product codes
    assert min(int(p) for _, _, p in items) >= 1  # exports.letter_min_p_close: no "0%" items
    # the header carries no lineage hashes; the footer names the plan and model only
    text = pdf_text(pdf)
    run = _query(db, "SELECT model_version, data_fingerprint, settings_hash FROM main.plan_runs")[0]
    assert run[1] not in text and run[2] not in text
    assert [line for line in text.splitlines() if run[0] in line] == [
        line for line in text.splitlines() if line.strip().startswith("Plan P0001 as of")]


def test_letter_phasing_moves_joint_accounts_and_credit_rules(sample_plan: PlanOutcome, exported: Path):
    db = sample_plan.db
    rep, gained = _query(db, """SELECT to_rep_id, count(*) FROM main.territory_moves WHERE to_rep_id IS NOT NULL
        GROUP BY ALL ORDER BY count(*) DESC, to_rep_id LIMIT 1""")[0]
    html = (exported / "letters" / f"{rep}.html").read_text()
    quota, = _query(db, "SELECT quota FROM main.quotas WHERE rep_id = ?", [rep])[0]
    quarters = [float(v.replace(",", "")) for v in re.findall(r'data-quarter="\d">\$([\d,]+)', html)]
    assert len(quarters) == 4 and sum(quarters) == pytest.approx(quota, abs=4)
    listed = re.findall(r'<tr data-account="([^"]+)" data-direction="gained">', html)
    largest = [a for (a,) in _query(db, """SELECT account_id FROM main.territory_moves WHERE to_rep_id = ?
        ORDER BY eev DESC, account_id LIMIT 10""", [rep])]
    assert listed == largest and gained > 0
    if gained > len(largest):
        assert f"and {gained - len(largest)} more" in html
    reason = _query(db, "SELECT reason FROM main.territory_moves WHERE account_id = ?", [largest[0]])[0][0]
    assert reason in html.split(f'data-account="{largest[0]}" data-direction="gained"')[1].split("</tr>")[0]
    # joint-planning accounts with their CSM's name (raw.reps), for a rep who has any
    rep, account, csm = _query(db, """SELECT t.rep_id, a.account_id, r.name FROM main.territories t
        JOIN main.account_eev a USING (account_id) JOIN raw.reps r ON r.rep_id = a.csm_id
        WHERE a.joint_planning ORDER BY a.acv DESC, a.account_id LIMIT 1""")[0]
    joint = (exported / "letters" / f"{rep}.html").read_text().split('id="joint-table"')[1]
    assert f"<td>{csm}</td>" in joint.split(f'data-account="{account}"')[1].split("</tr>")[0]
    assert "Deals you source: you 80%, the CSM 20%." in html  # the deal-source matrix in words
    assert "$25,000 to $100,000: you 60%, the CSM 40%" in html


def test_no_letter_for_a_rep_without_quota(sample_plan: PlanOutcome, tmp_path: Path):
    db = tmp_path / "plan.duckdb"
    shutil.copy(sample_plan.db, db)
    with warehouse.connect(db) as con:
        rep = con.execute("SELECT min(rep_id) FROM plans.quotas").fetchone()[0]
        con.execute("UPDATE plans.quotas SET quota = 0 WHERE rep_id = ?", [rep])
        letters = render_letters(load_plan_tables(con))
    reps = {r for (r,) in _query(sample_plan.db, "SELECT rep_id FROM main.quotas")}
    assert set(letters) == reps - {rep}


def test_report_has_no_horizontal_scroll_at_1280_px_nor_cut_columns_in_print(exported: Path, tmp_path: Path):
    # the check can fail: a table wider than the page is caught
    wide = tmp_path / "wide.html"
    wide.write_text("<html><body><div style='overflow-x:auto'><table><tr>" + "<td>$1,234,567,890</td>" * 40
                    + "</tr></table></div></body></html>")
    assert measure(wide, tmp_path / "p", 1280)["out"]
    for width in (1280, PRINT_WIDTH_PX):
        page = measure(exported / "report.html", tmp_path / "p", width)
        assert page["scroll"] <= page["view"] and page["out"] == [], (width, page)


def test_report_shows_names_sections_and_formats(sample_plan: PlanOutcome, exported: Path):
    html = (exported / "report.html").read_text()
    quotas = html.split('id="quotas-table"')[1].split("</table>")[0]
    reps = _query(sample_plan.db, "SELECT rep_id, name, quota FROM main.quotas")
    for rep_id, name, quota in reps:
        assert f'<a href="letters/{rep_id}.html">{name}</a>' in quotas
        assert f">{rep_id}<" not in quotas and f"${quota:,.0f}" in quotas
    segments = html.split('id="segments-table"')[1].split("</table>")[0]
    assert "quota_share_of_eev" not in segments and "Quota / EEV" in segments
    assert re.search(r'<td class="num">6\d\.\d%</td>', segments)  # a share as a percent, never "$1"
    assert not re.search(r"\d\.000<", html)  # counts and capacity not as 8,549.000 / 1.000
    for section in ("history", "predicted-attainment", "tracking", "backtest", "quotas"):
        assert f'id="{section}"' in html
    history = html.split('id="history-table"')[1].split("</table>")[0]
    assert "all segments" in history and "Trailing bookings" in history
    forecast = html.split('id="forecast-table"')[1].split("</table>")[0]
    assert all(name in forecast for _, name, _ in reps) and "P(attain)" in forecast
    assert "Credited YTD" in html.split('id="tracking-table"')[1].split("</table>")[0]


def _first_cells(html: str, table_id: str) -> list[str]:
    """The first cell's text of each body row of the report table `table_id` (a link's text for names)."""
    body = html[html.index(f'<table id="{table_id}">'):]
    body = body[body.index("<tbody>"):body.index("</tbody>")]
    return [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<tr><td[^>]*>(.*?)</td>", body)]


def test_a_report_with_more_reps_than_its_rows_shows_the_reps_to_look_at_first(sample_plan: PlanOutcome):
    with warehouse.connect(sample_plan.db, read_only=True) as con:
        tables = load_plan_tables(con)
    exports = tables.settings.exports
    capped = dataclasses.replace(tables, settings=tables.settings.model_copy(
        update={"exports": exports.model_copy(update={"report_rep_rows": 3})}))
    every, shown = render_report(tables, [], [], [], []), render_report(capped, [], [], [], [])
    quotas, forecast = tables.frame("quotas"), tables.frame("attainment_forecast")
    coverage = tables.frame("pipeline_coverage")
    reps = quotas.height
    assert reps > 3 and len(_first_cells(every, "quotas-table")) == reps and "reps shown" not in every
    assert shown.count(f"3 of {reps:,} reps shown") == 3
    name = dict(zip(quotas["rep_id"], quotas["name"], strict=True))
    deviation = {name[r]: abs(d) for r, d in zip(quotas["rep_id"], quotas["balance_deviation"], strict=True)}
    largest = sorted(deviation.values(), reverse=True)[:3]
    assert [deviation[n] for n in _first_cells(shown, "quotas-table")] == largest
    p_attain = dict(zip(forecast["name"], forecast["p_attain"], strict=True))
    assert [p_attain[n] for n in _first_cells(shown, "forecast-table")] == sorted(p_attain.values())[:3]
    rank = {"urgent": 0, "warning": 1}
    behind = {n: (rank.get(f, 2), c) for n, f, c in coverage.select("name", "flag", "coverage").iter_rows()}
    assert [behind[n] for n in _first_cells(shown, "tracking-table")] == sorted(behind.values())[:3]
