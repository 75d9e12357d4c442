"""File names made from data: the one way an id (rep_id, table key, chart key, ...) becomes
the name of a file the exports write (docs/threat-model.md, "Paths").

An id that is already a plain name (ASCII letters, digits, `.`, `_`, `-`; starting with a
letter or digit; at most STEM_MAX characters; not a Windows device name) is used as it is,
so `R0001` gives `letters/R0001.html`. Any other id gets a readable stem (each run of other
characters becomes `_`, leading and trailing `._-` dropped) and `~` plus the first HASH_CHARS
hex digits of the SHA-256 of the exact id: `EMEA/R0001` -> `EMEA_R0001~<hash>`,
`../../../x_escape` -> `x_escape~<hash>`. A name never holds a path separator, never starts
with `.` or `-`, and plain names never hold `~`, so `a/b` (-> `a_b~<hash>`) and `a_b`
(-> `a_b`) stay apart. Ids of one folder whose names would differ only in case (`R1`, `r1`:
one file on macOS and Windows) all get the hashed form. Same ids, same names, on any machine.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable

STEM_MAX = 100  # characters of a name before its extension: far below the 255 bytes file systems allow
HASH_CHARS = 12  # hex digits of SHA-256 (48 bits) that tell apart ids with the same readable stem
MARK = "~"  # between the readable stem and the hash; never part of a plain name
EMPTY_STEM = "id"  # the readable stem of an id that has no letter or digit at all
PLAIN = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{STEM_MAX - 1}}}")
OTHER_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")
EDGE_CHARACTERS = "._-"
WINDOWS_DEVICES = re.compile(r"(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\..*)?", re.IGNORECASE)


def _hashed(value: str) -> str:
    stem = OTHER_CHARACTERS.sub("_", value)[:STEM_MAX].strip(EDGE_CHARACTERS) or EMPTY_STEM
    return f"{stem}{MARK}{hashlib.sha256(value.encode('utf-8')).hexdigest()[:HASH_CHARS]}"


def _name(value: str) -> str:
    plain = PLAIN.fullmatch(value) is not None and WINDOWS_DEVICES.fullmatch(value) is None
    return value if plain else _hashed(value)


def safe_file_names(values: Iterable[str]) -> dict[str, str]:
    """The file name (without extension) of each id that goes into one folder: safe on Linux,
    macOS and Windows, distinct for distinct ids (also ignoring case), deterministic."""
    names = {value: _name(value) for value in dict.fromkeys(values)}
    folded = Counter(name.casefold() for name in names.values())
    return {value: _hashed(value) if folded[name.casefold()] > 1 else name for value, name in names.items()}
