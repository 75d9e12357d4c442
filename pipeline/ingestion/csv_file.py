"""How an input CSV file is read, and why one could not be, in the terms of the file: where it is
not UTF-8, which lines have more or fewer fields than its header, where a quote is not closed.

Every dialect option is fixed (`CSV_OPTIONS`): DuckDB's sniffer would otherwise skip leading rows
or treat lines starting with '#' as comments, silently dropping data. `CSV_READER` reads the
header (DuckDB's names for the columns); `staged_csv_reader` then reads the rows with those
columns given, one more (`EXTRA_FIELD`) and every cell kept as text, an empty one as '' (no null
string), so that a line with a field too many fills EXTRA_FIELD and a short line leaves its last
column null. `FIELDS_MATCH_HEADER` stops the read at such a line. This matters because DuckDB's
own reader, strict as it is, drops one empty field past the header's count without a word (a
name with an unquoted comma in a row whose last cell is empty would load shifted by a column).

Only after a read failed is `read_problems` asked: the encoding is checked first, by decoding the
file in chunks (a file that is not UTF-8 would also confuse the field counts); then the file is
parsed once more by Python's csv module to find the lines whose field count differs from the
header's, or the quote left open. Line numbers count the header as line 1, as a text editor
does; byte offsets start at 0.
"""

from __future__ import annotations

import codecs
import csv
from pathlib import Path

import duckdb

from pipeline.ingestion.violations import EXAMPLES, Violation

CSV_OPTIONS = ("header = true, all_varchar = true, delim = ',', quote = '\"', escape = '\"', skip = 0, "
               "comment = '', encoding = 'utf-8'")
CSV_READER = f"read_csv(?, {CSV_OPTIONS})"
EXTRA_FIELD = "__field_past_the_header"
NO_NULL_STRING = "\x01"  # a cell holding exactly this control character is the only one read as null
CHUNK_BYTES = 1 << 20
FIELD_COUNT_RULE = "as many fields as the header"


def staged_csv_reader(columns: list[str]) -> str:
    """SQL reading the rows of a CSV file (one `?`: the path) whose header DuckDB named `columns`:
    every cell as text ('' when empty), padded with NULL when a line is short, and the field after
    the last column in EXTRA_FIELD."""
    names = ", ".join(f"{sql_literal(c)}: 'VARCHAR'" for c in [*columns, EXTRA_FIELD])
    return (f"read_csv(?, {CSV_OPTIONS.replace('all_varchar = true', f'columns = {{{names}}}')}, "
            f"auto_detect = false, null_padding = true, nullstr = {sql_literal(NO_NULL_STRING)})")


def fields_match_header(columns: list[str]) -> str:
    """SQL predicate over `staged_csv_reader(columns)` that stops the query at a row with more or
    fewer fields than the header (TRUE for every other row)."""
    wrong = f"{_identifier(EXTRA_FIELD)} IS NOT NULL OR {_identifier(columns[-1])} IS NULL"
    return f"CASE WHEN {wrong} THEN error('a line has more or fewer fields than the header') ELSE true END"


def first_invalid_utf8(path: Path) -> tuple[int, int, int] | None:
    """(line, byte offset, byte) of the first byte of `path` that is not UTF-8, or None."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, line = 0, 1  # of the chunk being decoded
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return _where(exc, chunk, offset, line)
            offset, line = offset + len(chunk), line + chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)  # a multi-byte character cut off by the end of the file
        except UnicodeDecodeError as exc:
            return _where(exc, b"", offset, line)
    return None


def _where(exc: UnicodeDecodeError, chunk: bytes, offset: int, line: int) -> tuple[int, int, int]:
    """The place of a decoding error: the decoder saw the bytes it held back from the chunk before
    (an unfinished character, never a newline) followed by `chunk`."""
    held = len(exc.object) - len(chunk)
    in_chunk = max(exc.start - held, 0)
    return line + chunk[:in_chunk].count(b"\n"), offset - held + exc.start, exc.object[exc.start]


def read_problems(path: Path, label: str, error: duckdb.Error) -> list[Violation]:
    """Why DuckDB could not read the input file `path` (`error`), as violations of file `label`:
    the CSV problems found, else DuckDB's own reason."""
    return (csv_problems(path, label) if is_csv(path) else []) or [unreadable(label, error)]


def unreadable(label: str, error: duckdb.Error) -> Violation:
    """Rule 'readable' broken by file `label`, with DuckDB's reason (its first two lines)."""
    return Violation(label, None, "readable", None, detail=" ".join(str(error).strip().splitlines()[:2]))


def is_csv(path: Path) -> bool:
    return path.suffix == ".csv" and path.is_file()


def csv_problems(path: Path, label: str) -> list[Violation]:
    """What breaks the CSV file `path` (shown as `label`): not UTF-8, lines whose field count is
    not the header's, or a quote left open; empty when none of these is found."""
    invalid = first_invalid_utf8(path)
    if invalid is not None:
        line, offset, byte = invalid
        detail = (f"the file is not UTF-8: byte 0x{byte:02X} at line {line} (byte offset {offset}) is not "
                  "UTF-8 text; save the file as UTF-8 (in Excel: 'CSV UTF-8')")
        return [Violation(label, None, "UTF-8 text", None, detail=detail)]
    return _field_problems(path, label)


def _field_problems(path: Path, label: str) -> list[Violation]:
    """The lines (first line of a record) whose number of fields is not the header's, or the line
    where a quoted value is left open. One pass of Python's csv parser over a file DuckDB refused
    (blank lines are skipped, as DuckDB does)."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, strict=True)
        fields = len(next(reader, []))
        wrong, lines, start = 0, [], reader.line_num + 1
        try:
            for row in reader:  # each record once: the diagnosis of a file that could not be loaded
                if row and len(row) != fields:
                    wrong += 1
                    if len(lines) < EXAMPLES:
                        lines.append(f"line {start}: {len(row)} fields")
                start = reader.line_num + 1
        except csv.Error as exc:
            detail = f"the value starting at line {start} has a quote that is not closed or not doubled ({exc})"
            return [Violation(label, None, "quotes closed", None, detail=detail)]
    return [Violation(label, None, f"{FIELD_COUNT_RULE} ({fields})", wrong, tuple(lines))] if wrong else []


def sql_literal(text: str) -> str:
    """A SQL string literal (header names and paths come from the user)."""
    return "'" + text.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    """A quoted SQL identifier (header names come from the file)."""
    return '"' + name.replace('"', '""') + '"'
