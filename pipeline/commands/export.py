"""`quota-plan export`: a plan version as the files people open (workbook, CSV/Parquet,
quota letters, plan report)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from pipeline.commands.common import add_db_option


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "export", help="write a plan's workbook, CSV/Parquet, quota letters and report",
        description="Write one plan version (the current one unless --plan) as an Excel workbook, CSV and "
        "Parquet files, one HTML quota letter per expansion rep and an HTML plan report with charts. "
        "Outputs already in the folder are replaced; other files are left alone.",
    )
    parser.add_argument("--plan", metavar="PLAN_ID", help="plan version, e.g. P0003 (default: the current plan)")
    parser.add_argument("--out", required=True, type=Path, help="folder to write into (created if missing)")
    parser.add_argument("--letter-pdfs", action="store_true",
                        help="print every quota letter to PDF, also when the plan has more letters than "
                        "exports.letter_pdf_max_letters (about 10 letters a second; needs headless Chromium)")
    add_db_option(parser)


def run(args: argparse.Namespace) -> None:
    from pipeline.core import warehouse  # noqa: PLC0415  (keep --help fast)
    from pipeline.exports.files import export_plan  # noqa: PLC0415
    from pipeline.exports.sheets import ExportError  # noqa: PLC0415

    if not args.db.is_file():
        raise FileNotFoundError(f"no DuckDB file at {args.db}")
    existing = next(p for p in (args.out, *args.out.parents) if p.exists() or p == p.parent)
    if not existing.is_dir():  # checked before any work: the files are written next to it, then moved in
        raise ExportError(f"--out {args.out}: {existing} is a file, not a folder; give a folder to write the "
                          "exports into (created if missing)")
    started = time.perf_counter()
    with warehouse.connect(args.db, read_only=True) as con:
        result = export_plan(con, args.out, args.plan, warehouse.artifact_dir(args.db), every_pdf=args.letter_pdfs)
    print(f"Plan {result.plan_id} exported in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    print("\n".join(result.where()))
