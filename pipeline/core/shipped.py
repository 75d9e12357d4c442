"""Where the files shipped with the code are: the SQL transforms (`sql/`), the default settings
(`config/`) and the source mappings (`mappings/`).

In a checkout (and an editable install) they are the repository's top-level folders; an
installed wheel holds them as package data in `pipeline/shipped/<folder>/` (pyproject.toml maps
the three folders there), so the same code finds them both ways."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]  # the `pipeline` package folder


def shipped_folder(name: str) -> Path:
    """The folder `name` (sql, config or mappings): inside the installed package, else the checkout's."""
    installed = _PACKAGE / "shipped" / name
    return installed if installed.is_dir() else _PACKAGE.parent / name
