"""Text from the data shown as one plain line (the run summary, chart labels): every control
character (C0, DEL, C1) is shown as its escape, so an id holding a line break or a terminal
escape sequence cannot forge a line of the summary or restyle the terminal
(docs/threat-model.md, "Log lines")."""

from __future__ import annotations

CONTROL_ESCAPES = {c: repr(chr(c))[1:-1] for c in (*range(0x20), *range(0x7F, 0xA0))}  # ESC -> \x1b, LF -> \n


def printable(text: str) -> str:
    """`text` with every control character shown as its escape."""
    return text.translate(CONTROL_ESCAPES)


def shown(text: str, width: int) -> str:
    """`text` as one printable line of at most about `width` characters: a longer value (a
    million-character cell, a pasted document) is cut, saying how long it was."""
    line = printable(text)
    return line if len(line) <= width else f"{line[:width]}... ({len(text):,} characters)"
