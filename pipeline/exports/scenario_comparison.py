"""The scenario comparison as files: CSV, a one-sheet workbook, a chart (PNG) and a page showing
both (HTML), in exports/<db stem>/scenarios/<batch_id>/ beside the DuckDB file; and as the CLI's
text table.

`comparison_sheet` is the builder a workbook can add as a sheet (same frame as the CSV).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl
import xlsxwriter
from matplotlib.figure import Figure

from pipeline.core import warehouse
from pipeline.core.settings import ExportSettings
from pipeline.exports.cells import WORKBOOK_OPTIONS
from pipeline.exports.columns import header
from pipeline.exports.documents import render_scenario_comparison
from pipeline.exports.file_names import safe_file_names
from pipeline.exports.report_charts import PALETTE, _labels, _money_axis, _save
from pipeline.exports.table_files import write_frame_csv
from pipeline.plan.scenario_compare import ALL_SEGMENTS

SHEET_TITLE = "Scenario comparison"
MONEY_COLUMNS = ("quota", "trailing_bookings")
SHARE_COLUMNS = ("quota_to_bookings", "max_deviation", "attaining_share")
CLI_COLUMNS = {  # column -> (heading, format)
    "scenario": ("scenario", "{}"), "segment": ("segment", "{}"), "reps": ("reps", "{:,}"),
    "factor": ("factor", "{:.3f}"), "quota": ("quota", "{:,.0f}"), "quota_to_bookings": ("quota/won", "{:.0%}"),
    "reps_out_of_tolerance": ("out of tol.", "{:,}"), "moves_vs_current": ("moves", "{:,}"),
    "attaining_share": ("attaining", "{:.0%}"), "plan_id": ("draft", "{}"),
}
CHART_SIZE = (9.0, 4.0)


@dataclass(frozen=True)
class ComparisonFiles:
    folder: Path
    csv: Path
    workbook: Path
    chart: Path
    page: Path


def comparison_folder(db: str | Path, batch_id: str) -> Path:
    """exports/<db stem>/scenarios/<batch id as a safe file name>/ (the id may come from the command line)."""
    return warehouse.output_dir(db, "exports") / "scenarios" / safe_file_names([batch_id])[batch_id]


def comparison_sheet(comparison: pl.DataFrame) -> tuple[str, pl.DataFrame]:
    """(sheet title, frame) of the comparison for a workbook."""
    return SHEET_TITLE, comparison


def _chart(comparison: pl.DataFrame, settings: ExportSettings) -> bytes:
    """Quota per scenario, one bar per segment (left), and the predicted share of reps attaining (right)."""
    by_segment = comparison.filter(pl.col("segment") != ALL_SEGMENTS)
    scenarios = comparison["scenario"].unique(maintain_order=True)
    segments = by_segment["segment"].unique(maintain_order=True).to_list()
    figure = Figure(figsize=CHART_SIZE, layout="constrained")
    quota_ax, share_ax = figure.subplots(1, 2)
    width = 0.8 / max(len(segments), 1)
    for i, segment in enumerate(segments):
        rows = by_segment.filter(pl.col("segment") == segment)
        offsets = [x + i * width for x in range(len(scenarios))]
        quota_ax.bar(offsets, rows["quota"].to_list(), width, label=segment, color=PALETTE[i % len(PALETTE)])
        share_ax.bar(offsets, rows["attaining_share"].fill_null(0).to_list(), width, color=PALETTE[i % len(PALETTE)])
    ticks = [x + width * (len(segments) - 1) / 2 for x in range(len(scenarios))]
    for ax, title in ((quota_ax, f"Quota by segment ({settings.currency_symbol})"),
                      (share_ax, "Predicted share of reps attaining")):
        ax.set_xticks(ticks, _labels(scenarios), rotation=30, ha="right", fontsize=7, parse_math=False)
        ax.set_title(title, fontsize=9)
    _money_axis(quota_ax)
    share_ax.set_ylim(0, 1)
    share_ax.grid(axis="y", alpha=0.3)
    quota_ax.legend(fontsize=7)
    return _save(figure, settings.chart_dpi)


def write_comparison(comparison: pl.DataFrame, folder: Path, settings: ExportSettings) -> ComparisonFiles:
    """The comparison as comparison.csv, comparison.xlsx (one sheet, human headers), comparison.png
    and comparison.html (the chart above the table) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    files = ComparisonFiles(folder, folder / "comparison.csv", folder / "comparison.xlsx", folder / "comparison.png",
                            folder / "comparison.html")
    write_frame_csv(comparison, files.csv)
    money = f'"{settings.currency_symbol}"#,##0'
    formats = {**dict.fromkeys(MONEY_COLUMNS, money), **dict.fromkeys(SHARE_COLUMNS, settings.percent_format)}
    title, frame = comparison_sheet(comparison)
    with xlsxwriter.Workbook(str(files.workbook), WORKBOOK_OPTIONS) as book:
        frame.rename(header).write_excel(
            workbook=book, worksheet=title, autofilter=True, freeze_panes=(1, 0), float_precision=3,
            column_formats={header(c): f for c, f in formats.items()})
        book.get_worksheet_by_name(title).autofit(max_width=settings.max_column_width_px)
    files.chart.write_bytes(_chart(comparison, settings))
    files.page.write_text(render_scenario_comparison(comparison, folder.name, files.chart.name,
                                                     settings.currency_symbol))
    return files


def comparison_text(comparison: pl.DataFrame) -> str:
    """The comparison as an aligned text table (the CLI's)."""
    def cell(value: object, fmt: str) -> str:
        return "-" if value is None else fmt.format(value)

    rows = [[cell(r[c], fmt) for c, (_h, fmt) in CLI_COLUMNS.items()] for r in comparison.iter_rows(named=True)]
    headings = [h for h, _fmt in CLI_COLUMNS.values()]
    widths = [max(len(x) for x in column) for column in zip(headings, *rows, strict=False)]
    text_columns = 2  # scenario and segment left-aligned, figures right-aligned
    lines = ["  ".join(v.ljust(w) if i < text_columns else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths,
                                                                                                      strict=True)))
             for row in [headings, *rows]]
    return "\n".join(line.rstrip() for line in lines)
