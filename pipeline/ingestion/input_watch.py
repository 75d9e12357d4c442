"""What the input-folder sensor watches: the files of the folder by name, size and mtime.

The state is a JSON cursor; a run is requested when it differs from the last one, so one
added or changed file starts one refresh, and an unchanged folder starts none."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def folder_state(folder: str | Path) -> str:
    """The cursor of a folder: {file path inside it: [size, mtime_ns]} of its files (those of a
    dataset sub-folder such as usage/date=.../ included), as sorted JSON."""
    root = Path(folder)
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    return json.dumps({p.relative_to(root).as_posix(): [p.stat().st_size, p.stat().st_mtime_ns] for p in files},
                      sort_keys=True)


def changed_files(previous: str | None, current: str) -> list[str]:
    """Files added, changed or removed between two cursors, by name."""
    before, after = json.loads(previous or "{}"), json.loads(current)
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


def run_key(state: str) -> str:
    """A stable key of a folder state: Dagster starts at most one run per key."""
    return hashlib.sha256(state.encode()).hexdigest()[:16]
