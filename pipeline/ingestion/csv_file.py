"""How an input CSV file is read, and why one could not be, in the terms of the file: where it is
not UTF-8, which lines have more or fewer fields than its header.

`CSV_READER` is the one strict way every CSV file is read. Only after that read failed is
`csv_problems` asked (nothing here relaxes the read that loads data): the encoding is checked
first, by decoding the file in chunks (a file that is not UTF-8 would also confuse the field
counts); then the file is read once more with DuckDB's `store_rejects`, which lists every line it
could not parse. Line numbers count the header as line 1, as a text editor does; byte offsets
start at 0.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import duckdb

from pipeline.ingestion.violations import EXAMPLES, Violation

# Every dialect option is fixed: DuckDB's sniffer would otherwise skip leading rows or treat lines
# starting with '#' as comments, silently dropping data.
CSV_OPTIONS = ("header = true, all_varchar = true, delim = ',', quote = '\"', escape = '\"', skip = 0, "
               "comment = '', encoding = 'utf-8'")
CSV_READER = f"read_csv(?, {CSV_OPTIONS})"
_REJECTS = ("_csv_rejects", "_csv_scans")  # temp tables of the diagnosing read, dropped after it
_LENIENT_READER = (f"read_csv(?, {CSV_OPTIONS}, store_rejects = true, rejects_table = '{_REJECTS[0]}', "
                   f"rejects_scan = '{_REJECTS[1]}')")
CHUNK_BYTES = 1 << 20
FIELD_COUNT_RULE = "as many fields as the header"
# DuckDB's kinds of unreadable line (reject_errors.error_type) -> the rule such a line breaks
LINE_RULES = {
    "TOO MANY COLUMNS": FIELD_COUNT_RULE,
    "MISSING COLUMNS": FIELD_COUNT_RULE,
    "UNQUOTED VALUE": "a quoted value ends at its closing quote",
    "LINE SIZE OVER MAXIMUM": "line shorter than the maximum line size",
}
_FIELD_COUNTS = re.compile(r"Expected Number of Columns: (\d+) Found: (\d+)")


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


def read_problems(con: duckdb.DuckDBPyConnection, path: Path, label: str, error: duckdb.Error) -> list[Violation]:
    """Why DuckDB could not read the input file `path` (`error`), as violations of file `label`:
    the CSV problems found, else DuckDB's own reason."""
    return (csv_problems(con, path, label) if is_csv(path) else []) or [unreadable(label, error)]


def unreadable(label: str, error: duckdb.Error) -> Violation:
    """Rule 'readable' broken by file `label`, with DuckDB's reason (its first two lines)."""
    return Violation(label, None, "readable", None, detail=" ".join(str(error).strip().splitlines()[:2]))


def is_csv(path: Path) -> bool:
    return path.suffix == ".csv" and path.is_file()


def csv_problems(con: duckdb.DuckDBPyConnection, path: Path, label: str) -> list[Violation]:
    """Why the strict read of the CSV file `path` failed, as violations of file `label`; empty
    when neither the encoding nor DuckDB's list of unreadable lines explains it."""
    invalid = first_invalid_utf8(path)
    if invalid is not None:
        line, offset, byte = invalid
        detail = (f"the file is not UTF-8: byte 0x{byte:02X} at line {line} (byte offset {offset}) is not "
                  "UTF-8 text; save the file as UTF-8 (in Excel: 'CSV UTF-8')")
        return [Violation(label, None, "UTF-8 text", None, detail=detail)]
    try:
        try:
            con.execute(f"SELECT count(*) FROM (SELECT * FROM {_LENIENT_READER})", [str(path)]).fetchall()
        except duckdb.Error:  # not even the lenient read gets through: DuckDB's own reason stands
            return []
        kinds = con.execute(  # per kind of unreadable line: lines, and the first few with DuckDB's message
            # DuckDB gives one row per field missing or too many: a short line's first says how many it
            # has, a long line's last
            "WITH lines AS (SELECT error_type, line, CASE error_type WHEN 'MISSING COLUMNS' THEN "
            "arg_min(error_message, column_idx) ELSE arg_max(error_message, column_idx) END AS message "
            f"FROM {_REJECTS[0]} GROUP BY error_type, line) "
            f"SELECT error_type, count(*), list((line, message) ORDER BY line)[:{EXAMPLES}] "
            "FROM lines GROUP BY error_type ORDER BY min(line)"
        ).fetchall()
    finally:
        for table in _REJECTS:
            con.execute(f"DROP TABLE IF EXISTS temp.main.{table}")
    rules: dict[str, tuple[int, list[tuple[int, str]]]] = {}
    for kind, count, first in kinds:  # kinds of line problem, a handful at most
        rule = LINE_RULES.get(kind, kind.lower())
        lines, examples = rules.get(rule, (0, []))
        rules[rule] = lines + count, sorted([*examples, *(tuple(e) for e in first)])
    return [_violation(label, rule, count, examples[:EXAMPLES]) for rule, (count, examples) in rules.items()]


def _violation(label: str, rule: str, lines: int, examples: list[tuple[int, str]]) -> Violation:
    """The lines breaking `rule`; for field counts the header's count goes into the rule's name
    and each example says how many fields its line has ('line 3: 7 fields')."""
    counts = [_FIELD_COUNTS.search(message or "") for _, message in examples]
    if rule != FIELD_COUNT_RULE or not all(counts):
        return Violation(label, None, rule, lines, tuple(f"line {line}" for line, _ in examples))
    places = tuple(f"line {line}: {found[2]} fields" for (line, _), found in zip(examples, counts, strict=True))
    return Violation(label, None, f"{rule} ({counts[0][1]})", lines, places)
