"""The settings reference in docs/settings.md is generated from the pydantic model, and the
shipped config/plan.yaml agrees with the model's defaults (except where it deliberately does not)."""

from __future__ import annotations

from pathlib import Path

import yaml

from pipeline.core.settings import DEFAULT_CONFIG, load_settings
from pipeline.core.settings_doc import (
    REQUIRED,
    SECTION,
    SETTINGS_DOC,
    generated_block,
    render_settings_table,
    rewrite,
    setting_rows,
)

# Settings whose value in config/plan.yaml deliberately differs from the model's default.
PLAN_YAML_EXCEPTIONS = {
    # The model passes no Spark options (a cluster's own configuration stands); the shipped
    # file runs Spark on local[2] over the sample, where Spark's default of 200 shuffle
    # partitions would be 200 tiny tasks per shuffle. Both came in the same commit (080a21a).
    "engine.spark.options": {"spark.sql.shuffle.partitions": "8"},
}


def _dump(value: object) -> object:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")  # type: ignore[attr-defined]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dump(v) for v in value]
    return value


def test_docs_settings_table_is_the_generated_one():
    assert generated_block(SETTINGS_DOC.read_text()) == render_settings_table(), (
        "docs/settings.md is out of date: run python -m pipeline.core.settings_doc"
    )


def test_table_lists_every_setting_with_its_default_and_description():
    table = render_settings_table()
    rows = [r for r in setting_rows() if r.default is not SECTION]
    for row in rows:
        assert f"| `{row.path}` |" in table
        assert row.description, f"{row.path} has no Field(description=...)"
    assert "| `whitespace.seat_percentile` | `0.75` |" in table
    assert "| `tracking.schedule` | `0 6 * * *` |" in table
    assert "| `as_of` | required; `config/plan.yaml`: `2026-01-01` |" in table
    assert "| `segments[].min_acv` | required; `config/plan.yaml`: `5000` / `25000` / `100000` |" in table
    assert ("| `engine.spark.options` | `{}`; `config/plan.yaml`: `{spark.sql.shuffle.partitions: '8'}` |"
            in table)


def test_rewrite_replaces_only_the_block(tmp_path: Path):
    doc = tmp_path / "settings.md"
    text = SETTINGS_DOC.read_text()
    start = text.index("<!-- BEGIN")
    end = text.index("<!-- END")
    stale = text[: text.index("\n", start) + 1] + "| stale |\n" + text[end:]
    doc.write_text(stale)
    assert rewrite(doc) is True
    assert doc.read_text() == text
    assert rewrite(doc) is False


def test_plan_yaml_values_equal_the_model_defaults():
    settings = load_settings(DEFAULT_CONFIG)
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    differ: dict[str, object] = {}
    checked = 0
    for row in setting_rows():
        if row.default in (REQUIRED, SECTION) or "[]" in row.yaml_keys or "*" in row.yaml_keys:
            continue  # no default to compare with (as_of, segments, the tiers inside attribution)
        node: object = raw
        for key in row.yaml_keys:
            node = node.get(key) if isinstance(node, dict) else None  # type: ignore[union-attr]
        if node is None and row.default is not None:
            continue  # not set in the file: the default applies
        value: object = settings
        for key in row.yaml_keys:
            value = getattr(value, key)
        checked += 1
        if _dump(value) != _dump(row.default):
            differ[row.path] = _dump(value)
    assert checked > 60  # every section of the file was compared
    assert differ == PLAN_YAML_EXCEPTIONS
