"""A whole plan (pipeline.runner.run_plan, a real DuckDB file) of an input whose reps and
accounts carry hostile ids and names (issue 21, cases 6-8): every file stays inside the export
folder, each rep gets its own letter, spreadsheet cells stay text, HTML is escaped, chart labels
and the run summary take any id (docs/threat-model.md)."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
import openpyxl
import polars as pl
import pytest

from pipeline.core import warehouse
from pipeline.core.settings import load_settings
from pipeline.exports.cells import FORMULA_STARTS, TEXT_PREFIX
from pipeline.exports.file_names import safe_file_names
from pipeline.exports.summary import plan_summary
from pipeline.runner import PlanOutcome, run_plan
from pipeline.sample_data import generate_sample
from tests.builders import LETTERS_TEST_CONFIG, TEST_CONFIG

ACCOUNTS = 150
ESCAPE, OUTSIDE, REGION = "../../../x_escape", "../../../../../x_outside", "EMEA/R0001"  # cases 6 and 7
SLASH, UNDERSCORE = "a/b", "a_b"  # two ids with the same readable name
MATH, TERMINAL = "$\\foo$", "evil\x1b[31m\nINJECTED"  # mathtext in a chart label; a forged summary line
QUOTED = "R'; DROP TABLE raw.reps; --"  # what a value formatted into SQL would run
RENAMED = {"R0001": ESCAPE, "R0003": REGION, "R0004": SLASH, "R0005": UNDERSCORE}
ADDED = [OUTSIDE, MATH, "Ab", "ab", TERMINAL, QUOTED]  # more high-velocity reps like R0001; Ab/ab differ in case only
REP_NAME = "<img src=x onerror=alert(1)>"  # the name of REGION
SCRIPT = '<script>alert("x")</script>'
HYPERLINK = '=HYPERLINK("http://evil.example","click")'
NAME_PREFIXES = [HYPERLINK, "+SUM(1,1)", "-2+3", "@cmd", "\tTab ", "\rCR ", SCRIPT, "http://phish.example/",
                 "Acme;=1+1 ", "O'Brien\"); DROP TABLE main.quotas; -- "]  # every account name starts with one
ACCOUNT_SHEETS = ("Territories", "Accounts", "Top items", "Blackout calendar")


@dataclass(frozen=True)
class HostilePlan:
    root: Path
    outcome: PlanOutcome
    folder: Path  # the plan's export folder
    outside_before: list[str]  # what the folder holding `root` had before the run
    outside_after: list[str]


def _hostile_inputs(folder: Path) -> Path:
    """The sample data set with these rep ids, rep names and account names."""
    generate_sample(folder, accounts=ACCOUNTS, seed=11)
    reps = pl.read_csv(folder / "reps.csv", infer_schema=False)
    like_first = reps.filter(pl.col("rep_id") == "R0001")
    reps = pl.concat([reps, *(like_first.with_columns(rep_id=pl.lit(rep)) for rep in ADDED)])
    reps.with_columns(name=pl.when(pl.col("rep_id") == "R0003").then(pl.lit(REP_NAME)).otherwise("name"),
                      rep_id=pl.col("rep_id").replace(RENAMED)).write_csv(folder / "reps.csv")
    prefix = pl.lit(pl.Series(NAME_PREFIXES)).gather(pl.int_range(pl.len()) % len(NAME_PREFIXES))
    accounts = pl.read_csv(folder / "accounts.csv", infer_schema=False)
    accounts.with_columns(pl.col("owner_id", "csm_id").replace(RENAMED),
                          account_name=pl.concat_str(prefix, "account_name")).write_csv(folder / "accounts.csv")
    deals = pl.read_csv(folder / "opportunities.csv", infer_schema=False)
    deals.with_columns(pl.col("owner_id", "csm_id").replace(RENAMED)).write_csv(folder / "opportunities.csv")
    return folder


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> HostilePlan:
    root = tmp_path_factory.mktemp("hostile")
    inputs = _hostile_inputs(root / "in")
    before = sorted(p.name for p in root.parent.iterdir())
    outcome = run_plan(inputs, LETTERS_TEST_CONFIG, root / "work" / "plan.duckdb",
                       instance=dg.DagsterInstance.ephemeral())
    after = sorted(p.name for p in root.parent.iterdir())
    return HostilePlan(root, outcome, warehouse.output_dir(outcome.db, "exports") / outcome.plan_id, before, after)


def _rep_ids(hostile: HostilePlan) -> list[str]:
    with warehouse.connect(hostile.outcome.db, read_only=True) as con:
        return [r[0] for r in con.execute("SELECT rep_id FROM main.quotas ORDER BY rep_id").fetchall()]


def test_every_file_the_run_writes_is_inside_its_folders(hostile: HostilePlan):
    assert hostile.outcome.plan_id == "P0001"  # case 7: the run and its exports went through
    assert hostile.outside_after == hostile.outside_before  # nothing appeared beside the test's folder
    work = hostile.root / "work"
    expected = [hostile.root / "in", hostile.folder, work / "artifacts"]
    stray = [p for p in hostile.root.rglob("*") if p.is_file() and not (p.parent == work and p.name.startswith(
        "plan.duckdb")) and not any(p.is_relative_to(place) for place in expected)]
    assert stray == []
    assert sorted(p.name for p in work.iterdir()) == ["artifacts", "exports", "plan.duckdb", "plan.duckdb.lock"]
    assert [p.name for p in hostile.folder.parent.iterdir()] == [hostile.outcome.plan_id]  # no scratch folder left
    assert all(p.resolve().is_relative_to(hostile.folder.resolve()) for p in hostile.folder.rglob("*"))


def test_each_rep_has_its_own_letter_under_a_safe_name_and_the_report_links_to_it(hostile: HostilePlan):
    reps = _rep_ids(hostile)
    assert {ESCAPE, OUTSIDE, REGION, SLASH, UNDERSCORE, MATH, TERMINAL, QUOTED, "Ab", "ab"} <= set(reps)
    letters = hostile.folder / "letters"
    names = {rep: f"{name}.html" for rep, name in safe_file_names(reps).items()}
    assert sorted(p.name for p in letters.glob("*.html")) == sorted(names.values())  # one file per rep, none shared
    assert sorted(p.stem for p in letters.glob("*.pdf")) == sorted(Path(n).stem for n in names.values())
    assert names[UNDERSCORE] == "a_b.html" and names[SLASH] != names[UNDERSCORE]
    assert names["Ab"].casefold() != names["ab"].casefold()
    for rep, name in names.items():  # each file is that rep's letter
        assert f"<title>Quota letter {_escaped(rep)} " in (letters / name).read_text()
    report = (hostile.folder / "report.html").read_text()
    links = re.findall(r'href="letters/([^"]+)"', report)
    assert sorted(links) == sorted(names.values())


def _escaped(text: str) -> str:
    """How jinja2's autoescape writes text into HTML."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;")
            .replace("'", "&#39;"))


class _Tags(HTMLParser):
    """The start tags of a document, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def test_names_from_the_data_are_escaped_in_letters_and_report(hostile: HostilePlan):
    letter = (hostile.folder / "letters" / f"{safe_file_names([REGION])[REGION]}.html").read_text()
    assert f"Dear {_escaped(REP_NAME)}," in letter
    assert _escaped(SCRIPT) in letter and SCRIPT not in letter
    for page in (hostile.folder / "letters").glob("*.html"):
        tags = _tags(page.read_text())
        assert [t for t, _ in tags if t in ("script", "img", "iframe", "object")] == []
        assert [a for _, attrs in tags for a in attrs if a.startswith("on")] == []
    report = (hostile.folder / "report.html").read_text()
    assert _escaped(REP_NAME) in report and REP_NAME not in report
    tags = _tags(report)
    assert [t for t, _ in tags if t == "script"] == ["script"]  # the report's own self-check only
    assert {attrs.get("class") for t, attrs in tags if t == "img"} == {"chart"}
    assert [a for _, attrs in tags for a in attrs if a.startswith("on")] == []


def test_workbook_cells_from_the_data_are_text_not_formulas_or_links(hostile: HostilePlan):
    book = openpyxl.load_workbook(hostile.folder / f"quota_plan_{hostile.outcome.plan_id}.xlsx")
    cells = [(sheet.title, c) for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
    # the only formulas are the workbook's own: quota = factor x territory EEV on the Quotas sheet
    quotas = book["Quotas"]
    formula_columns = {c.column for c in quotas[1] if c.value in ("Quota before rounding", "Quota")}
    assert {(title, c.column in formula_columns) for title, c in cells if c.data_type == "f"} == {("Quotas", True)}
    assert [(title, c.coordinate) for title, c in cells if c.hyperlink is not None] == []
    assert all(c.data_type == "s" for _, c in cells if isinstance(c.value, str) and c.data_type != "f")
    for title in ACCOUNT_SHEETS:  # the account names as they are in the data
        # a CR is stored as OOXML's escape _x000D_ (Excel shows the CR; openpyxl leaves the escape)
        names = {c.value.replace("_x000D_", "\r") for t, c in cells if t == title and isinstance(c.value, str)}
        assert {p for p in NAME_PREFIXES if any(n.startswith(p) for n in names)} == set(NAME_PREFIXES), title
    deviations = [c for t, c in cells if t == "Quotas" and c.column == 8 and c.row > 1]
    assert book["Quotas"].cell(1, 8).value == "Deviation from target"
    assert any(c.value < 0 and c.data_type == "n" for c in deviations)  # negative numbers stay numbers


def test_csv_text_cells_are_quoted_and_prefixed_numbers_are_numbers(hostile: HostilePlan):
    prefixed = 0
    for path in sorted((hostile.folder / "csv").glob("*.csv")):
        exact = pl.read_parquet(hostile.folder / "parquet" / f"{path.stem}.parquet")
        with path.open(newline="", encoding="utf-8") as handle:  # unquoted cells read as numbers
            header, *rows = list(csv.reader(handle, quoting=csv.QUOTE_NONNUMERIC))
        assert header == exact.columns and len(rows) == exact.height, path.name
        for column, cells in zip(exact.columns, zip(*rows, strict=True) if rows else [()] * exact.width, strict=True):
            values = exact[column]
            if values.dtype.is_numeric():
                assert [v if v not in ("", None) else None for v in cells] == values.cast(pl.Float64).to_list()
            elif values.dtype == pl.String:
                formula = [v is not None and v.startswith(tuple(FORMULA_STARTS)) for v in values.to_list()]
                expected = [TEXT_PREFIX + v if f else v for v, f in zip(values.to_list(), formula, strict=True)]
                assert [c or None for c in cells] == [e or None for e in expected], (path.name, column)
                prefixed += sum(formula)
    assert prefixed > 0
    quotas = (hostile.folder / "csv" / "quotas.csv").read_text()
    assert re.search(r",-0\.\d+,", quotas)  # a negative balance_deviation, bare
    accounts = (hostile.folder / "csv" / "accounts.csv").read_text()
    assert f'"{TEXT_PREFIX}{HYPERLINK.replace(chr(34), chr(34) * 2)}' in accounts  # OWASP: quoted, quote-prefixed


def test_run_summary_prints_ids_with_control_characters_escaped(hostile: HostilePlan):
    with warehouse.connect(hostile.outcome.db, read_only=True) as con:
        summary = plan_summary(con, load_settings(TEST_CONFIG), hostile.outcome.db)
    assert "evil\\x1b[31m\\nINJECTED" in summary
    assert "\x1b" not in summary and not any(line.startswith("INJECTED") for line in summary.splitlines())
    assert {"quota_by_rep.png", "territory_balance.png"} <= {p.name for p in (hostile.folder / "charts").iterdir()}


def test_quotes_in_ids_and_names_are_values_in_the_sql(hostile: HostilePlan):
    with warehouse.connect(hostile.outcome.db, read_only=True) as con:
        tables = {r[0] for r in con.execute("SELECT table_schema || '.' || table_name FROM information_schema.tables").fetchall()}
        assert {"raw.reps", "plans.quotas", "main.quotas"} <= tables
        assert con.execute("SELECT count(*) FROM main.quotas WHERE rep_id = ?", [QUOTED]).fetchone() == (1,)
        names = con.execute("SELECT count(*) FROM main.territories JOIN main.account_eev USING (account_id) "
                            "WHERE starts_with(account_name, ?)", [NAME_PREFIXES[-1]]).fetchone()[0]
    assert names > 0
