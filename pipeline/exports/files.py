"""Exports of one plan version for the people who use it (`quota-plan export` and the
`plan_exports` asset):

    <folder>/quota_plan_<plan_id>.xlsx   workbook (pipeline.exports.workbook): summary, quotas, rep-level
                                         tables, top items per rep; per-account tables when small
    <folder>/csv/<table>.csv             every table for other tools (DuckDB COPY, streamed)
    <folder>/parquet/<table>.parquet
    <folder>/letters/<rep_id>.html|.pdf  one quota letter per expansion rep with a quota, printed to
                                         PDF by headless Chromium (file names from ids:
                                         pipeline.exports.file_names)
    <folder>/report.html                 plan report with embedded charts (works offline)
    <folder>/charts/<chart>.png          the report's charts as files

Everything is built in a scratch folder beside the target and moved into place at the end,
so a failed export leaves the previous one as it was. The only time in any file is the
plan's created_at (workbook properties, report header, PDF dates): exporting the same plan
twice gives byte-identical files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from pipeline.exports import report_charts as charts
from pipeline.exports.documents import HTML, LETTERS, Chart, html_table, letter_files, render_letters, render_report
from pipeline.exports.file_names import safe_file_names
from pipeline.exports.pdf import PDF, chromium, print_pdfs
from pipeline.exports.sheets import METRIC_ORDER, PlanTables, load_plan_tables, summary_figures
from pipeline.exports.table_files import write_table_files
from pipeline.exports.workbook import write_workbook

REPORT = f"report{HTML}"
CSV, PARQUET, CHARTS = "csv", "parquet", "charts"
PNG = ".png"


@dataclass(frozen=True)
class ExportResult:
    """Where one export wrote what, and the plan's key figures."""

    plan_id: str
    folder: Path
    workbook: Path
    report: Path
    letters: list[Path]
    letter_pdfs: list[Path]
    charts: dict[str, Path]
    sheets: dict[str, int]
    figures: dict[str, float]
    left_out_of_workbook: list[str]
    letter_pdf_max_letters: int | None = None  # the cap that kept the letters HTML only, when one did

    def where(self) -> list[str]:
        """One line per output: what it is and where it is."""
        lines = describe_exports(self.folder, self.plan_id)
        lines += [f"  NOTE: {t} has too many rows for the workbook: CSV/Parquet only" for t in self.left_out_of_workbook]
        if self.letter_pdf_max_letters is not None:
            lines.append(f"  NOTE: {len(self.letters):,} quota letters are more than exports.letter_pdf_max_letters "
                         f"({self.letter_pdf_max_letters:,}): HTML only; print every one to PDF with "
                         f"quota-plan export --plan {self.plan_id} --out {self.folder} --letter-pdfs")
        elif len(self.letter_pdfs) < len(self.letters):
            lines.append("  NOTE: quota letters are HTML only (no headless Chromium to print them to PDF: "
                         "apt-get install -y chromium), or exports.letter_pdfs is false")
        return lines


def workbook_name(plan_id: str) -> str:
    return f"quota_plan_{safe_file_names([plan_id])[plan_id]}.xlsx"


def describe_exports(folder: Path, plan_id: str) -> list[str]:
    """Where each export of a plan is, from what the folder holds (for the run's summary)."""
    def count(sub: str, pattern: str) -> int:
        return len(list((folder / sub).glob(pattern)))

    return [
        f"Exports of plan {plan_id} in {folder}",
        f"  workbook  {folder / workbook_name(plan_id)}",
        f"  report    {folder / REPORT}  (open in a browser)",
        (f"  letters   {folder / LETTERS}/  ({count(LETTERS, '*.html')} quota letters, one per rep with a quota; "
         f"{count(LETTERS, '*' + PDF)} PDF)"),
        f"  CSV       {folder / CSV}/  ({count(CSV, '*.csv')} files)  Parquet {folder / PARQUET}/",
        f"  charts    {folder / CHARTS}/  ({count(CHARTS, '*.png')} PNG)",
    ]


def build_charts(tables: PlanTables, artifact_dir: Path | None) -> tuple[list[Chart], list[str]]:
    """The report's charts (those the plan has data for) and notes on the ones it has not."""
    dpi, named_reps = tables.settings.exports.chart_dpi, tables.settings.exports.chart_named_reps
    symbol = tables.settings.exports.currency_symbol
    quotas, model = tables.frame("quotas"), tables.frame("model_metrics")
    candidates = [
        Chart("eev_quota_by_segment", "EEV and quota by segment",
              "Territory EEV and the sum of quotas of each expansion segment.",
              charts.eev_and_quota_by_segment(tables.frame("summary"), dpi)),
        Chart("quota_by_rep", "Quota distribution across reps", "Quota of every rep, grouped by segment.",
              charts.quota_by_rep(quotas, dpi, named_reps)),
        Chart("territory_balance", "Territory balance",
              "Each rep's territory EEV against its target (segment EEV x the rep's share of the segment's "
              "capacity), as the Quotas sheet's balance_deviation; a balanced segment stays within the dashed band.",
              charts.territory_balance(quotas, tables.settings.territory.balance_tolerance, dpi, named_reps)),
        Chart("model_metrics", "Close-probability model", "Holdout metrics of every candidate and the chosen model.",
              charts.model_comparison(model, dpi),
              html_table(model.filter(pl.col("segment") == "all")
                         .select("model", *(m for m in METRIC_ORDER if m in model.columns)), symbol)),
    ]
    notes = []
    points = next((s.frame for k, s in tables.sheets.items() if "calibration" in k), None)
    calibration = charts.calibration_curve(points, dpi) if points is not None else None
    if calibration is None and artifact_dir is not None:
        version = tables.run["model_version"]
        pngs = sorted(artifact_dir.glob(f"{safe_file_names([version])[version]}*calibration*.png"))
        calibration = pngs[0].read_bytes() if pngs else None
    if calibration is not None:
        candidates.append(Chart("calibration", "Calibration curve",
                                "Observed win rate against predicted close probability on the holdout.", calibration))
    else:
        notes.append("This model version published no calibration curve; its expected calibration error (ece) "
                     "is in the model table above.")
    for key, sheet in tables.sheets.items():
        if "backtest" in key:
            candidates.append(Chart(key, sheet.title, "Backtest: the plan made as of a past date against what closed.",
                                    charts.comparison(sheet.frame, sheet.title, dpi), html_table(sheet.frame, symbol),
                                    section="backtest"))
    top = tables.frame("largest_moves")
    if top is not None:
        limit = tables.settings.exports.report_largest_moves
        candidates.append(Chart("largest_moves", "Largest moves", f"The {limit} territory moves with the most EEV.",
                                charts.largest_moves(top, "eev", dpi), html_table(top.drop("account_id"), symbol)))
    else:
        notes.append("This plan lists no territory moves table; moved accounts are flagged in the Territories sheet.")
    return [c for c in candidates if c.png is not None], notes


def key_figures(tables: PlanTables) -> dict[str, float]:
    """Total EEV and quota, reps, accounts and moves, and the balance CV of each segment."""
    counts = tables.frame("territory_counts").row(0, named=True)
    return {
        **summary_figures(tables.frame("summary")),
        "reps": float(tables.frame("quotas").height),
        "accounts_assigned": float(counts["assigned"]),
        "accounts_moved": float(counts["moved"] or 0),
    }


def _figure_labels(figures: dict[str, float], symbol: str) -> list[tuple[str, str]]:
    shown = [("Territory EEV", f"{symbol}{figures['total_eev']:,.0f}"),
             ("Total quota", f"{symbol}{figures['total_quota']:,.0f}"),
             ("Expansion reps", f"{figures['reps']:,.0f}"),
             ("Accounts assigned", f"{figures['accounts_assigned']:,.0f}"),
             ("Accounts moved", f"{figures['accounts_moved']:,.0f}")]
    return shown + [(f"Balance CV {k.removeprefix('balance_cv_')}", f"{v:.1%}")
                    for k, v in figures.items() if k.startswith("balance_cv_")]


def pdf_cap(letters: int, cap: int, every_pdf: bool) -> int | None:
    """The cap (exports.letter_pdf_max_letters) that keeps `letters` letters HTML only, None when
    they are printed: always with `every_pdf` (`quota-plan export --letter-pdfs`), else up to the cap."""
    return None if every_pdf or letters <= cap else cap


def _write_files(con: duckdb.DuckDBPyConnection, tables: PlanTables, folder: Path,
                 artifact_dir: Path | None, every_pdf: bool) -> tuple[list[str], list[Chart]]:
    """Every output into `folder` (a fresh scratch folder); returns sheets left out and charts."""
    for sub in (CSV, PARQUET, CHARTS, LETTERS):
        (folder / sub).mkdir()
    # DuckDB writes the CSV and Parquet files (releasing the GIL) while Python writes the rest
    with ThreadPoolExecutor(max_workers=1) as copier:
        copies = copier.submit(_write_tables, con.cursor(), tables, folder)
        left_out, chart_list = _write_documents(tables, folder, artifact_dir, every_pdf)
        copies.result()
    return left_out, chart_list


def _write_tables(con: duckdb.DuckDBPyConnection, tables: PlanTables, folder: Path) -> None:
    """Every table of the plan as csv/<table>.csv and parquet/<table>.parquet (DuckDB COPY)."""
    table_files = safe_file_names(tables.sheets)
    with con:
        for sheet in tables.sheets.values():
            write_table_files(con, tables, sheet, folder / CSV / f"{table_files[sheet.key]}.csv",
                              folder / PARQUET / f"{table_files[sheet.key]}.parquet")


def _write_documents(tables: PlanTables, folder: Path, artifact_dir: Path | None,
                     every_pdf: bool) -> tuple[list[str], list[Chart]]:
    """The workbook, letters, charts and report (Python); returns sheets left out and charts."""
    workbook = workbook_name(tables.plan_id)
    left_out = write_workbook(tables, folder / workbook)
    letters = letter_files(tables)
    pages = []
    for rep_id, html in render_letters(tables).items():
        pages.append(folder / LETTERS / letters[rep_id])
        pages[-1].write_text(html, encoding="utf-8")
    cfg = tables.settings.exports
    printed = cfg.letter_pdfs and pdf_cap(len(pages), cfg.letter_pdf_max_letters, every_pdf) is None
    if printed:
        print_pdfs(pages, tables.created_at, cfg.letter_pdf_workers)
    chart_list, notes = build_charts(tables, artifact_dir)
    pngs = chart_files(chart_list)
    for chart in chart_list:
        (folder / CHARTS / pngs[chart.key]).write_bytes(chart.png)
    pdfs = printed and chromium() is not None
    files = [(workbook, workbook, "the Excel workbook (open in Excel, LibreOffice or Google Sheets)"),
             (f"{LETTERS}/", f"{LETTERS}/", "one quota letter per rep with a quota, as HTML"
              + (" and PDF" if pdfs else " (print to PDF from the browser)")),
             (f"{CSV}/", f"{CSV}/", "every table as CSV"), (f"{PARQUET}/", f"{PARQUET}/", "every table as Parquet"),
             (f"{CHARTS}/", f"{CHARTS}/", "the charts of this report as PNG")]
    figures = _figure_labels(key_figures(tables), cfg.currency_symbol)
    (folder / REPORT).write_text(render_report(tables, figures, chart_list, notes, files), encoding="utf-8")
    return left_out, chart_list


def chart_files(chart_list: list[Chart]) -> dict[str, str]:
    """The PNG file of each chart in charts/: chart key -> file name (safe_file_names)."""
    return {key: f"{name}{PNG}" for key, name in safe_file_names(c.key for c in chart_list).items()}


def _move_into_place(scratch: Path, out: Path) -> None:
    """Replace each output in `out` by the new one; other files in `out` are left alone."""
    out.mkdir(parents=True, exist_ok=True)
    for item in sorted(scratch.iterdir()):
        target = out / item.name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        os.replace(item, target)


def export_plan(
    con: duckdb.DuckDBPyConnection, out: Path, plan_id: str | None = None, artifact_dir: Path | None = None,
    every_pdf: bool = False,
) -> ExportResult:
    """Write every export of one plan version (current by default) into `out`; `every_pdf` prints
    every letter to PDF whatever exports.letter_pdf_max_letters says."""
    tables = load_plan_tables(con, plan_id)
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}-", dir=out.parent) as scratch:
        left_out, chart_list = _write_files(con, tables, Path(scratch), artifact_dir, every_pdf)
        _move_into_place(Path(scratch), out)
    letters, cfg = sorted((out / LETTERS).glob(f"*{HTML}")), tables.settings.exports
    return ExportResult(
        plan_id=tables.plan_id,
        folder=out,
        workbook=out / workbook_name(tables.plan_id),
        report=out / REPORT,
        letters=letters,
        letter_pdfs=sorted((out / LETTERS).glob(f"*{PDF}")),
        charts={key: out / CHARTS / name for key, name in chart_files(chart_list).items()},
        sheets={s.title: s.rows for s in tables.sheets.values() if s.frame is not None},
        figures=key_figures(tables),
        left_out_of_workbook=left_out,
        letter_pdf_max_letters=(pdf_cap(len(letters), cfg.letter_pdf_max_letters, every_pdf)
                                if cfg.letter_pdfs else None),
    )
