"""Seeded corruptions of a valid input folder, for the fuzz test of the input contract.

`corrupt(valid, kind, seed, out)` copies the folder `valid` to `out` and corrupts ONE of its CSV
files the way `kind` says (a dropped column, a date in another format, a file cut mid-row, ...).
It is a pure function of (the bytes of `valid`, kind, seed): the same arguments write a
byte-identical folder, so a failure reported as "kind, seed" is reproduced by calling it again.
The file and the cell are drawn from the seed; cells are chosen by the contract's column types
(`pipeline.ingestion.contract.TABLES`), so a "text in a number column" lands in a numeric column.

Files are handled as text decoded with `surrogateescape`, so a byte that is not UTF-8 survives a
parse and a write unchanged; `_unquoted` writes rows joined by commas with no quoting at all, for
the corruptions whose point is a delimiter or quote the file does not escape.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.ingestion.contract import TABLES

VALID = Path(__file__).parent / "fixtures" / "valid"
ENCODING, ERRORS = "utf-8", "surrogateescape"
NUMERIC = ("BIGINT", "DOUBLE")
# text a person or another tool writes into a number column; some are numbers after all (' 42 ')
NOT_NUMBERS = ("n/a", "1,200", "12k", "$600", "1e400", "NaN", "inf", " 42 ", "0x1F", "4.5", "--1", "TRUE",
               "\uff11\uff12")
DATE_FORMATS = ("%d/%m/%Y", "%m/%d/%Y", "%Y/%m/%d", "%d.%m.%Y", "%Y%m%d", "%d-%b-%Y", "%Y-%m-%dT%H:%M:%S",
                "%Y-%m-%d %H:%M:%S", "%B %d, %Y")
DELIMITERS = (",", ";", "\t", "|", "\n")
LONG_STRING_CHARS = (10_000, 1_000_000, 3_000_000)  # the last is past DuckDB's default maximum line size
# bytes that are not UTF-8, as surrogate-escaped text: Latin-1 e-acute, cp1252 curly quotes, a lone
# 0xFF, a UTF-8 sequence cut short, an encoded surrogate
NOT_UTF8 = tuple(raw.decode(ENCODING, ERRORS) for raw in (b"\xe9", b"\x93quoted\x94", b"\xff", b"\xc3", b"\xed\xa0\x80"))
BOM = "\ufeff"
MAX_RANDOM_BYTES = 8
MAX_DUPLICATES = 3


@dataclass(frozen=True)
class CsvFile:
    """One input file parsed: its table, header and data rows (text, surrogate-escaped)."""

    name: str
    table: str
    text: str
    header: list[str]
    rows: list[list[str]]

    def column_type(self, column: str) -> str | None:
        """The contract type of a column of this file (None for an extra column)."""
        spec = TABLES[self.table]
        return spec.column(column).type if column in spec.column_names else None


@dataclass(frozen=True)
class Case:
    """One corrupted folder: how it was made (kind, seed), the file corrupted and what was done."""

    kind: str
    seed: int
    file: str
    change: str

    def __str__(self) -> str:
        return f"{self.kind} (seed {self.seed}): {self.file}: {self.change}"


Cell = tuple[int, int]  # (data row, column index)
Corruption = Callable[[CsvFile, random.Random], tuple[str, str]]  # -> (new text, what was done)
Wants = Callable[[CsvFile, int, int], bool]  # does this corruption apply to this cell?


def read_folder(folder: Path) -> list[CsvFile]:
    """The contract tables' CSV files of `folder`, in name order."""
    files = []
    for path in sorted(folder.glob("*.csv")):
        if path.stem in TABLES:
            text = path.read_bytes().decode(ENCODING, ERRORS)
            header, *rows = list(csv.reader(io.StringIO(text, newline="")))
            files.append(CsvFile(path.name, path.stem, text, header, rows))
    return files


def _quoted(header: list[str], rows: list[list[str]]) -> str:
    """CSV text as a careful writer makes it: fields with delimiters or quotes are quoted."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    return out.getvalue()


def _unquoted(header: list[str], rows: list[list[str]]) -> str:
    """CSV text as a careless writer makes it: fields joined by commas, nothing quoted."""
    return "".join(",".join(row) + "\n" for row in [header, *rows])


def _with_cell(file: CsvFile, cell: Cell, value: str) -> list[list[str]]:
    row, column = cell
    rows = [list(r) for r in file.rows]
    rows[row][column] = value
    return rows


def _pick_cell(file: CsvFile, rng: random.Random, wants: Wants) -> Cell:
    cells = [(r, c) for r in range(len(file.rows)) for c in range(len(file.header)) if wants(file, r, c)]
    return rng.choice(cells)


def _where(file: CsvFile, cell: Cell) -> str:
    return f"row {cell[0] + 1}, column {file.header[cell[1]]}"


def any_cell(file: CsvFile, row: int, column: int) -> bool:
    """Any cell of a data row."""
    return column < len(file.rows[row])


def numeric_cell(file: CsvFile, row: int, column: int) -> bool:
    """A cell of a contract column typed integer or float."""
    return any_cell(file, row, column) and file.column_type(file.header[column]) in NUMERIC


def dated_cell(file: CsvFile, row: int, column: int) -> bool:
    """A date of a contract column typed date (not an empty one)."""
    return any_cell(file, row, column) and file.column_type(file.header[column]) == "DATE" and file.rows[row][column] != ""


def key_cell(file: CsvFile, row: int, column: int) -> bool:
    """A part of the table's key that has a value."""
    return any_cell(file, row, column) and file.header[column] in TABLES[file.table].key and file.rows[row][column] != ""


def whole_file(file: CsvFile, row: int, column: int) -> bool:
    """The corruption is of the whole file: any file with a data row will do."""
    return True


def dropped_column(file: CsvFile, rng: random.Random) -> tuple[str, str]:
    drop = rng.randrange(len(file.header))
    keep = [i for i in range(len(file.header)) if i != drop]
    rows = [[r[i] for i in keep] for r in file.rows]
    return _quoted([file.header[i] for i in keep], rows), f"dropped column {file.header[drop]}"


def renamed_column(file: CsvFile, rng: random.Random) -> tuple[str, str]:
    index = rng.randrange(len(file.header))
    old = file.header[index]
    swapped = old[1] + old[0] + old[2:] if len(old) > 1 else old + old
    names = (old.upper(), f" {old}", f"{old} ", f"{old}_1", swapped, old.replace("_", " "), old.title())
    new = rng.choice([name for name in names if name != old])
    header = [new if i == index else h for i, h in enumerate(file.header)]
    return _quoted(header, file.rows), f"renamed column {old} to {new!r}"


def text_in_number(file: CsvFile, rng: random.Random) -> tuple[str, str]:
    cell = _pick_cell(file, rng, numeric_cell)
    value = rng.choice([text for text in NOT_NUMBERS if text != file.rows[cell[0]][cell[1]]])
    return _quoted(file.header, _with_cell(file, cell, value)), f"{_where(file, cell)} = {value!r}"


def date_in_other_format(file: CsvFile, rng: random.Random) -> tuple[str, str]:
    cell = _pick_cell(file, rng, dated_cell)
    day = dt.datetime.fromisoformat(file.rows[cell[0]][cell[1]])
    texts = (*[day.strftime(f) for f in DATE_FORMATS], f"{day.year}-{day.month}-{day.day}")
    value = rng.choice([text for text in texts if text != file.rows[cell[0]][cell[1]]])
    return _quoted(file.header, _with_cell(file, cell, value)), f"{_where(file, cell)} = {value!r}"


def _inserted(value: str, text: str, rng: random.Random) -> str:
    at = rng.randint(0, len(value))
    return value[:at] + text + value[at:]


def injected_delimiter(file: CsvFile, rng: random.Random) -> tuple[str, str]:
    cell, delimiter, quoted = _pick_cell(file, rng, any_cell), rng.choice(DELIMITERS), rng.random() < 0.5
    value = _inserted(file.rows[cell[0]][cell[1]], delimiter, rng)
    write = _quoted if quoted else _unquoted
    how = "quoted" if quoted else "unquoted"
    return write(file.header, _with_cell(file, cell, value)), f"{_where(file, cell)} = {value!r} ({how})"


def injected_quote(file: CsvFile, rng: random.Random) -> tuple[str, str]:
    cell = _pick_cell(file, rng, any_cell)
    old = file.rows[cell[0]][cell[1]]
    how = rng.choice(("inside", "leading", "trailing", "escaped"))
    value = {"inside": _inserted(old, '"', rng), "leading": f'"{old}', "trailing": f'{old}"',
             "escaped": _inserted(old, '"', rng)}[how]
    write = _quoted if how == "escaped" else _unquoted
    written = "quoted and doubled" if how == "escaped" else "written raw"
    return write(file.header, _with_cell(file, cell, value)), f"{_where(file, cell)} = {value!r} ({how}, {written})"


def cut_mid_row(file: CsvFile, rng: random.Random) -> tuple[str, str]:
    header_end = file.text.index("\n") + 1
    inside = [i for i in range(header_end + 1, len(file.text)) if file.text[i - 1] != "\n" and file.text[i] != "\n"]
    at = rng.choice(inside)
    return file.text[:at], f"cut at character {at} of {len(file.text)}, inside a row"


def cut_mid_file(file: CsvFile, rng: random.Random) -> tuple[str, str]:
    keep = rng.randrange(1, len(file.rows))
    return _quoted(file.header, file.rows[:keep]), f"kept the first {keep} of {len(file.rows)} rows"


def random_bytes(file: CsvFile, rng: random.Random) -> tuple[str, str]:
    data = bytearray(file.text.encode(ENCODING, ERRORS))
    edits = []
    for _ in range(rng.randint(1, MAX_RANDOM_BYTES)):
        at, insert = rng.randrange(len(data)), rng.random() < 0.5
        byte = rng.choice([b for b in range(256) if insert or b != data[at]])
        data[at:at if insert else at + 1] = bytes([byte])
        edits.append(f"{'inserted' if insert else 'set'} 0x{byte:02x} at {at}")
    return data.decode(ENCODING, ERRORS), "; ".join(edits)


def empty_file(file: CsvFile, rng: random.Random) -> tuple[str, str]:
    return "", "0 bytes"


def header_only(file: CsvFile, rng: random.Random) -> tuple[str, str]:
    return _quoted(file.header, []), f"the header and none of the {len(file.rows)} rows"


def duplicated_rows(file: CsvFile, rng: random.Random) -> tuple[str, str]:
    row, copies = rng.randrange(len(file.rows)), rng.randint(1, MAX_DUPLICATES)
    at = rng.choice((row + 1, len(file.rows)))
    rows = file.rows[:at] + [file.rows[row]] * copies + file.rows[at:]
    return _quoted(file.header, rows), f"row {row + 1} repeated {copies} time(s) at row {at + 1}"


def missing_key(file: CsvFile, rng: random.Random) -> tuple[str, str]:
    cell, value = _pick_cell(file, rng, key_cell), rng.choice(("", "  "))
    return _quoted(file.header, _with_cell(file, cell, value)), f"{_where(file, cell)} = {value!r}"


def byte_order_mark(file: CsvFile, rng: random.Random) -> tuple[str, str]:
    return BOM + file.text, "a UTF-8 byte order mark before the header"


def crlf_line_endings(file: CsvFile, rng: random.Random) -> tuple[str, str]:
    return file.text.replace("\n", "\r\n"), "every line ends with CR LF"


def very_long_string(file: CsvFile, rng: random.Random) -> tuple[str, str]:
    cell, chars = _pick_cell(file, rng, any_cell), rng.choice(LONG_STRING_CHARS)
    old = file.rows[cell[0]][cell[1]] or "x"
    value = (old * (chars // len(old) + 1))[:chars]
    return _quoted(file.header, _with_cell(file, cell, value)), f"{_where(file, cell)} = {chars:,} characters"


def non_utf8_bytes(file: CsvFile, rng: random.Random) -> tuple[str, str]:
    cell, bad = _pick_cell(file, rng, any_cell), rng.choice(NOT_UTF8)
    value = _inserted(file.rows[cell[0]][cell[1]], bad, rng)
    shown = value.encode(ENCODING, ERRORS)
    return _quoted(file.header, _with_cell(file, cell, value)), f"{_where(file, cell)} = {shown!r}"


# kind -> (the corruption, which cells make a file eligible)
KINDS: dict[str, tuple[Corruption, Wants]] = {
    "dropped_column": (dropped_column, any_cell),
    "renamed_column": (renamed_column, any_cell),
    "text_in_number": (text_in_number, numeric_cell),
    "date_in_other_format": (date_in_other_format, dated_cell),
    "injected_delimiter": (injected_delimiter, any_cell),
    "injected_quote": (injected_quote, any_cell),
    "cut_mid_row": (cut_mid_row, any_cell),
    "cut_mid_file": (cut_mid_file, lambda file, row, column: len(file.rows) > 1),
    "random_bytes": (random_bytes, whole_file),
    "empty_file": (empty_file, whole_file),
    "header_only": (header_only, whole_file),
    "duplicated_rows": (duplicated_rows, any_cell),
    "missing_key": (missing_key, key_cell),
    "byte_order_mark": (byte_order_mark, whole_file),
    "crlf_line_endings": (crlf_line_endings, whole_file),
    "very_long_string": (very_long_string, any_cell),
    "non_utf8_bytes": (non_utf8_bytes, any_cell),
}


def _eligible(file: CsvFile, wants: Wants) -> bool:
    return any(wants(file, r, c) for r in range(len(file.rows)) for c in range(len(file.header)))


def corrupt(valid: Path, kind: str, seed: int, out: Path) -> Case:
    """Copy `valid` to `out` (a new folder) and corrupt one file of it as `kind` says, drawn from `seed`."""
    corruption, wants = KINDS[kind]
    rng = random.Random(f"{kind}/{seed}")  # a str seed is hashed with SHA-512: the same in every process
    file = rng.choice([f for f in read_folder(valid) if _eligible(f, wants)])
    text, change = corruption(file, rng)
    shutil.copytree(valid, out)
    (out / file.name).write_bytes(text.encode(ENCODING, ERRORS))
    return Case(kind, seed, file.name, change)


def fuzz_cases(cases: int, seed: int, kinds: tuple[str, ...] = tuple(KINDS)) -> list[tuple[str, int]]:
    """`cases` (kind, seed) pairs: the kinds in turn, case i with seed `seed + i`."""
    return [(kinds[i % len(kinds)], seed + i) for i in range(cases)]
