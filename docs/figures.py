"""The README's example figures and picture, regenerated from the plan `make run` makes.

    .venv/bin/python docs/figures.py           # rewrite the README's example block and docs/images/
    .venv/bin/python docs/figures.py --check   # exit 1 when the README's block is not what the code gives

It generates the default sample (the one `make run` plans: `quota-plan sample` defaults), plans it
with config/plan.yaml into a scratch DuckDB file, and takes the run summary's segment tables
and review lines (between the README's `example:start` / `example:end` markers), the
quota-per-rep chart (docs/images/quota_by_rep.png) and the pictures of a quota letter, the
report and the workbook (docs/export_figures.py: docs/images/quota_letter.png, report.png,
workbook.png).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

README = ROOT / "README.md"
PICTURE = ROOT / "docs" / "images" / "quota_by_rep.png"
BLOCK = re.compile(r"(<!-- example:start -->\n\n```text\n)(.*?)(```\n\n<!-- example:end -->)", re.S)
SECTIONS = ("Reps and quotas by segment", "Quota against the expansion ARR won")


def example_block(summary: str) -> str:
    """The summary's segment quota table and its comparison with history (with every review line)."""
    lines, keep = summary.splitlines(), []
    for title in SECTIONS:
        start = next(i for i, line in enumerate(lines) if line.startswith(title))
        end = next((i for i in range(start + 1, len(lines)) if not lines[i].strip()), len(lines))
        keep += [*lines[start:end], ""]
    return "\n".join(keep).rstrip() + "\n"


def current_example(scratch: Path, letter_pdfs: bool = True) -> tuple[str, Path]:
    """Plan the `make run` sample in `scratch`; the example block and the chart file. Without
    `letter_pdfs` the letters stay HTML (the summary is the same; only the pictures need the PDFs)."""
    import dagster as dg
    import yaml

    from pipeline.core import warehouse
    from pipeline.core.settings import DEFAULT_CONFIG, load_settings
    from pipeline.defs.resources import ExportFolder
    from pipeline.exports.summary import plan_summary, review_hold_summary
    from pipeline.runner import run_plan
    from pipeline.sample_data import generate_sample

    generate_sample(scratch / "sample")
    db = scratch / "quota_plan.duckdb"
    config = DEFAULT_CONFIG
    if not letter_pdfs:
        raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
        raw["exports"]["letter_pdfs"] = False
        config = scratch / "plan.yaml"
        config.write_text(yaml.safe_dump(raw))
    outcome = run_plan(scratch / "sample", config, db, instance=dg.DagsterInstance.ephemeral())
    settings = load_settings(DEFAULT_CONFIG)
    with warehouse.connect(db, read_only=True) as con:
        summary = (plan_summary(con, settings, db) if outcome.current
                   else review_hold_summary(con, outcome.plan_id, settings))
    chart = ExportFolder().for_plan(db, outcome.plan_id) / "charts" / "quota_by_rep.png"
    return example_block(summary), chart


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the README is out of date")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        block, chart = current_example(Path(scratch), letter_pdfs=not args.check)
        text = README.read_text()
        match = BLOCK.search(text)
        if match is None:
            print("README.md has no example:start / example:end block", file=sys.stderr)
            return 1
        if args.check:
            if match.group(2) != block:
                print("README.md's example block is out of date: run docs/figures.py", file=sys.stderr)
                return 1
            return 0
        README.write_text(text[: match.start(2)] + block + text[match.end(2):])
        PICTURE.parent.mkdir(exist_ok=True)
        shutil.copy(chart, PICTURE)
        from export_figures import write_export_pictures  # a sibling script, beside this one

        pictures = write_export_pictures(chart.parent.parent)
    print(f"rewrote the example block of {README}, {PICTURE} and {', '.join(str(p) for p in pictures)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
