"""The asset graph read off the SQL: which warehouse tables a `sql/` transform reads, which
asset writes each table, and the transforms in dependency order.

Every table the run writes is an asset (or a declared output of a multi-asset) whose key is
the table's name: `work.holdings` is asset `holdings`, `raw.accounts` is `raw_accounts`.
The plan versions (`plans.*`) and the current plan's views (`main.<published table>`) are
written by `plan_version`."""

from __future__ import annotations

import graphlib
import re
from collections.abc import Iterable

import sqlglot
from sqlglot import exp

from pipeline.core.warehouse import sql_text
from pipeline.plan.store import PLAN_TABLES

WAREHOUSE_SCHEMAS = ("raw", "work", "plans", "main")
PARAMETER = re.compile(r"\$([A-Za-z_]\w*)")
PLAN_WRITER = "plan_version"


def tables_read(name: str) -> list[tuple[str, str]]:
    """The warehouse tables (schema, table) transform `name` reads, sorted."""
    tree = sqlglot.parse_one(PARAMETER.sub("NULL", sql_text(name)), read="duckdb")
    return sorted({(t.db, t.name) for t in tree.find_all(exp.Table) if t.db in WAREHOUSE_SCHEMAS})


def asset_for_table(schema: str, table: str) -> str:
    """The key of the asset that writes warehouse table `schema.table`."""
    if schema == "raw":
        return f"raw_{table}"
    if schema == "plans" or (schema == "main" and table in PLAN_TABLES):
        return PLAN_WRITER
    return table


def sql_deps(name: str) -> list[str]:
    """The assets transform `name` depends on: the writers of the tables its SQL reads."""
    return sorted({asset_for_table(schema, table) for schema, table in tables_read(name)} - {name})


def in_dependency_order(names: Iterable[str]) -> list[str]:
    """Transforms `names` ordered so that each comes after the transforms among them it reads
    (the same order for the same names)."""
    chosen = set(names)
    sorter = graphlib.TopologicalSorter({n: [d for d in sql_deps(n) if d in chosen] for n in sorted(chosen)})
    return list(sorter.static_order())
