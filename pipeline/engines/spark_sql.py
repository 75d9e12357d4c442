"""The `sql/` transforms as Spark SQL: one source (DuckDB dialect), transpiled with SQLGlot.

`spark_sql(name, params)` inlines the transform's `$name` parameters as literals, parses it as
DuckDB SQL, rewrites the few constructs SQLGlot does not carry over by itself, and prints
Spark SQL. Warehouse tables become Spark views named `<schema>_<table>` (`raw.usage` ->
`raw_usage`, `work.holdings` -> `work_holdings`), registered by `pipeline.engines.spark_engine`.

Rewrites (each keeps DuckDB's meaning):
- `INTERVAL (n) MONTH|YEAR` with a computed n -> `make_ym_interval` (Spark takes literals only);
- `quantile_cont(x, p)` -> `percentile(x, p)` (both exact, linear interpolation);
- `format('{:,} ...', ...)` (fmt style) -> `format_string('%,d ...', ...)` (printf style);
- for the contract checks (`pipeline.ingestion.ingest`): `regexp_full_match` -> anchored `RLIKE`,
  `isfinite` -> not NaN and below infinity, a DuckDB temp table -> the Spark view of its name.
Everything else in the transforms is written portably (see the README, "Spark").
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

import sqlglot
from sqlglot import exp

from pipeline.core.sql_graph import PARAMETER
from pipeline.core.warehouse import SCHEMAS, sql_text

# the transforms that run on Spark with `engine.name: spark`, in dependency order: the usage
# roll-up, the point-in-time state and the whitespace/feature SQL (per-account results)
SPARK_TRANSFORMS = (
    "account_state", "holdings", "usage_features", "peer_benchmarks", "whitespace_items", "item_features",
)

# one fmt replacement field as the transforms use them: {}, {:,}, {:.2f}, {:,.0f}
FMT_FIELD = re.compile(r"\{(?::(,)?(?:\.(\d+)f)?)?\}")


class TranspileError(ValueError):
    """A transform uses a construct this module cannot carry over to Spark."""


def view_name(schema: str, table: str) -> str:
    """The Spark view standing for warehouse table `<schema>.<table>`."""
    return f"{schema}_{table}"


def spark_sql(name: str, params: Mapping[str, Any]) -> str:
    """Transform `sql/<name>.sql` as one Spark SQL statement with its parameters inlined."""
    return to_spark(inline_params(sql_text(name), params))


def to_spark(duckdb_sql: str) -> str:
    """One DuckDB statement (without parameters) as Spark SQL."""
    return sqlglot.parse_one(duckdb_sql, read="duckdb").transform(_to_spark).sql(dialect="spark", pretty=True)


def inline_params(sql: str, params: Mapping[str, Any] | None) -> str:
    """`$name` replaced by the value as a DuckDB literal (None for `params`: NULL, to parse only)."""
    def literal(match: re.Match[str]) -> str:
        if params is None:
            return "NULL"
        if match.group(1) not in params:
            raise KeyError(f"the transform needs parameter ${match.group(1)}")
        return sql_literal(params[match.group(1)])

    return PARAMETER.sub(literal, sql)


def sql_literal(value: Any) -> str:
    """A Python value as a SQL literal of the type DuckDB would bind it as."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"CAST({value!r} AS DOUBLE)"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(sql_literal(v) for v in value) + "]"
    raise TranspileError(f"no SQL literal for {value!r}")


def _to_spark(node: exp.Expression) -> exp.Expression:
    """One node rewritten for Spark (a replaced node's reused children are rewritten here too:
    `transform` does not descend into a replacement)."""
    if isinstance(node, exp.Table) and node.db in SCHEMAS:
        renamed = exp.to_table(view_name(node.db, node.name))
        if node.alias:
            renamed.set("alias", node.args["alias"])
        return renamed
    if isinstance(node, exp.Table) and node.catalog == "temp":
        return exp.to_table(node.name)  # a DuckDB temp table: the Spark temp view of its name
    if isinstance(node, exp.RegexpFullMatch):
        pattern = node.expression
        if not (isinstance(pattern, exp.Literal) and pattern.is_string):
            raise TranspileError("regexp_full_match needs a constant pattern to run on Spark")
        return exp.RegexpLike(this=_rewritten([node.this])[0], expression=exp.Literal.string(f"^(?:{pattern.this})$"))
    if isinstance(node, exp.Anonymous) and node.name.lower() == "isfinite":
        value = _rewritten(node.expressions)[0]
        infinity = exp.cast(exp.Literal.string("Infinity"), exp.DataType.build("DOUBLE"))
        return exp.and_(exp.not_(exp.Anonymous(this="isnan", expressions=[value])),
                        exp.LT(this=exp.Abs(this=value.copy()), expression=infinity))
    if isinstance(node, exp.Interval) and not (isinstance(node.this, exp.Literal) and node.this.is_string):
        return _year_month_interval(node)
    if isinstance(node, (exp.Quantile, exp.PercentileCont)):
        return exp.Anonymous(this="percentile", expressions=_rewritten([node.this, node.expression]))
    if isinstance(node, exp.Format) or (isinstance(node, exp.Anonymous) and node.name.lower() == "format"):
        return _printf(node)
    return node


def _rewritten(nodes: list[exp.Expression]) -> list[exp.Expression]:
    return [n.transform(_to_spark) for n in nodes]


def _year_month_interval(node: exp.Interval) -> exp.Expression:
    unit = node.unit.name.upper() if node.unit else ""
    amount = _rewritten([node.this.unnest() if isinstance(node.this, exp.Paren) else node.this])[0]
    zero = exp.Literal.number(0)
    if unit in ("MONTH", "MONTHS"):
        return exp.Anonymous(this="make_ym_interval", expressions=[zero, amount])
    if unit in ("YEAR", "YEARS"):
        return exp.Anonymous(this="make_ym_interval", expressions=[amount, zero])
    raise TranspileError(f"no Spark form for INTERVAL ... {unit or '(no unit)'} with a computed amount")


def _printf(node: exp.Expression) -> exp.Expression:
    """DuckDB `format(fmt, args...)` (fmt syntax) as Spark `format_string(printf, args...)`."""
    args = [node.this, *node.expressions] if isinstance(node, exp.Format) else list(node.expressions)
    template, values = _constant_text(args[0]), _rewritten(args[1:])
    if template is None:
        raise TranspileError("format() needs a constant format string to run on Spark")
    stripped = FMT_FIELD.sub("", template)
    if "{" in stripped or "}" in stripped:
        raise TranspileError(f"format string {template!r} has a field Spark cannot take")
    pieces, last = [], 0
    for i, field in enumerate(FMT_FIELD.finditer(template)):
        pieces.append(template[last:field.start()].replace("%", "%%"))
        grouping, decimals = field.group(1) or "", field.group(2)
        if decimals is not None:
            pieces.append(f"%{grouping}.{decimals}f")
            # Java's %f takes a double, not Spark's Decimal
            values[i] = exp.cast(values[i], exp.DataType.build("DOUBLE"))
        else:
            pieces.append(f"%{grouping}d" if grouping else "%s")
        last = field.end()
    pieces.append(template[last:].replace("%", "%%"))
    return exp.Anonymous(this="format_string", expressions=[exp.Literal.string("".join(pieces)), *values])


def _constant_text(node: exp.Expression) -> str | None:
    """The text of a string literal or of a `||` chain of string literals (else None)."""
    if isinstance(node, exp.Literal) and node.is_string:
        return node.this
    if isinstance(node, exp.DPipe):
        left, right = _constant_text(node.this), _constant_text(node.expression)
        return None if left is None or right is None else left + right
    if isinstance(node, exp.Paren):
        return _constant_text(node.this)
    return None
