"""Progress lines on stderr while a plan runs from the command line.

The CLI sets QUOTA_PLAN_PROGRESS=1; `run_plan` then announces how many steps the job has
(`start`), and every step reports one line `[ i/N] step  seconds  detail` when it ends.
Steps run in-process one at a time (see pipeline/defs/resources.py), so a module-level
counter is enough."""

from __future__ import annotations

import os
import sys

ENV = "QUOTA_PLAN_PROGRESS"
_state = {"done": 0, "total": 0}


def enabled() -> bool:
    return os.environ.get(ENV) == "1"


def start(total: int) -> None:
    """A new run of `total` steps begins."""
    _state.update(done=0, total=total)


def step(label: str, detail: str, seconds: float) -> None:
    """One step finished: print `[ i/N] label  seconds  detail` when progress is on."""
    if not enabled():
        return
    _state["done"] += 1
    total = _state["total"] or _state["done"]
    width = len(str(total))
    print(f"  [{_state['done']:>{width}}/{total}] {label:<24} {seconds:7.2f}s  {detail}", file=sys.stderr, flush=True)
