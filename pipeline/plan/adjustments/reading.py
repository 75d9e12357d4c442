"""The adjustments file as rows, whatever its format: CSV (header row), YAML (a list of mappings,
or one under the key `adjustments`) or an Excel workbook (its New adjustments sheet, the one the
plan's workbook carries; header in row 1, the columns up to the first empty header).

Rows are numbered as the analyst sees them: the line of a CSV file and the row of a sheet (the
header is row 1), the item of a YAML list (1 = the first). Wholly empty rows are skipped. Values
stay as written (text stripped; numbers of a sheet or YAML as numbers): rules.py checks them.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.plan.adjustments import COLUMNS, SHEET, AdjustmentsError

CSV_SUFFIXES, YAML_SUFFIXES, EXCEL_SUFFIXES = (".csv",), (".yaml", ".yml"), (".xlsx", ".xlsm")
YAML_KEY = "adjustments"


@dataclass(frozen=True)
class AdjustmentRow:
    """One row of the file as written: its row number, the five columns (text stripped, '' when
    empty; value a number when the file holds one)."""

    row: int
    kind: str
    rep_id: str
    account_id: str
    value: str | float
    reason: str


@dataclass(frozen=True)
class AdjustmentsFile:
    """The rows of one adjustments file, its name as errors cite it and the md5 of its bytes."""

    path: Path
    digest: str
    rows: list[AdjustmentRow]


def read_adjustments(path: Path) -> AdjustmentsFile:
    """Read an adjustments file; AdjustmentsError when it cannot be read, lacks a column or has an
    unknown one, or holds no adjustment."""
    path = Path(path)
    if not path.is_file():
        raise AdjustmentsError(f"no adjustments file at {path}")
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        header, records = _csv_records(path)
    elif suffix in YAML_SUFFIXES:
        header, records = _yaml_records(path)
    elif suffix in EXCEL_SUFFIXES:
        header, records = _sheet_records(path)
    else:
        raise AdjustmentsError(f"{path.name}: not an adjustments file (CSV, YAML or an Excel workbook with a "
                               f"'{SHEET}' sheet), by its name ending {suffix or '(none)'}")
    _check_header(path, header)
    rows = [_row(number, record) for number, record in records if any(_text(v) for v in record.values())]
    if not rows:
        raise AdjustmentsError(f"{path.name}: holds no adjustment (columns {', '.join(COLUMNS)})")
    return AdjustmentsFile(path, hashlib.md5(path.read_bytes()).hexdigest(), rows)


def _check_header(path: Path, header: list[str]) -> None:
    missing = [c for c in COLUMNS if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    problems = ([f"missing column(s) {', '.join(missing)}"] if missing else []) + (
        [f"unknown column(s) {', '.join(unknown)}"] if unknown else [])
    if problems:
        raise AdjustmentsError(f"{path.name}: {'; '.join(problems)} (the columns are {', '.join(COLUMNS)})")


def _text(value: Any) -> str:
    """A cell as text: '' for empty, whole numbers without '.0' (ids typed as numbers)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _row(number: int, record: dict[str, Any]) -> AdjustmentRow:
    value = record.get("value")
    kept = value if isinstance(value, int | float) and not isinstance(value, bool) else _text(value)
    return AdjustmentRow(number, *(_text(record.get(c)) for c in ("kind", "rep_id", "account_id")),
                         float(kept) if isinstance(kept, int | float) else kept, _text(record.get("reason")))


def _csv_records(path: Path) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [(h or "").strip().lower() for h in reader.fieldnames or []]
        records = [(reader.line_num, dict(zip(header, record.values(), strict=False))) for record in reader]
    return header, records


def _yaml_records(path: Path) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise AdjustmentsError(f"{path.name}: not valid YAML: {exc}") from exc
    items = data.get(YAML_KEY) if isinstance(data, dict) else data
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise AdjustmentsError(f"{path.name}: expected a list of adjustments (mappings with the keys "
                               f"{', '.join(COLUMNS)}), alone or under the key '{YAML_KEY}'")
    records = [(n, {str(k).strip().lower(): v for k, v in item.items()}) for n, item in enumerate(items, start=1)]
    unknown = sorted({k for _, record in records for k in record} - set(COLUMNS))
    return [*COLUMNS, *unknown], records  # a key left out of an item is an empty cell


def _sheet_records(path: Path) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    from openpyxl import load_workbook  # (only for a workbook)

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise AdjustmentsError(f"{path.name}: cannot be read as an Excel workbook: {exc}") from exc
    try:
        if SHEET not in book.sheetnames:
            raise AdjustmentsError(f"{path.name}: has no sheet '{SHEET}' (sheets: {', '.join(book.sheetnames)})")
        cells = book[SHEET].iter_rows(values_only=True)
        first = next(cells, ())
        header = []
        for cell in first:  # the header runs up to its first empty cell; the reference beside it is not read
            if _text(cell) == "":
                break
            header.append(_text(cell).lower())
        records = [(n, dict(zip(header, values, strict=False))) for n, values in enumerate(cells, start=2)]
    finally:
        book.close()
    return header, records
