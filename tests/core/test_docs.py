"""The README and the reference pages: markdown that lints clean, links that resolve, and the
README's example figures as the code gives them today."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_markdown_lints_clean():
    """pymarkdown with the rules in pyproject.toml ([tool.pymarkdown])."""
    done = subprocess.run([sys.executable, "-m", "pymarkdown", "scan", *map(str, PAGES)], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_readme_is_a_front_page():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 250
    assert "## Glossary" in text and "make run" in text and "make test" in text


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path):
    """Every relative link and image of a page points at a file of the repository."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    targets = [t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", text) if "://" not in t]
    missing = [t for t in targets if t and not (page.parent / t).exists()]
    assert missing == []


@pytest.mark.slow
def test_readme_example_is_what_make_run_prints_today():
    """docs/figures.py --check plans the `make run` sample and compares the README's example block."""
    done = subprocess.run([sys.executable, str(ROOT / "docs" / "figures.py"), "--check"], cwd=ROOT,
                          capture_output=True, text=True, check=False, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
