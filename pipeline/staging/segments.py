"""Segments of the plan's own: which accounts a segment narrowed by dimension values (industry,
region, any account column of segment_dimensions) or by a list of named accounts takes, and the
check that every account at or above the lowest band has exactly one band to go to (named accounts
included: their band is replaced by the segment naming them).

An account's dimension value is its column's text, an empty cell being 'unknown'. Column names
come from the settings and are checked against raw.accounts' columns before they are used (as
DuckDB column expressions, never pasted into SQL text)."""

from __future__ import annotations

import duckdb
import polars as pl
from duckdb.sqltypes import VARCHAR

from pipeline.core.settings import PlanSettings, band_top

UNKNOWN = "unknown"  # the dimension value of an empty cell (as account_state's industry and region)
EXAMPLES = 3


class SegmentCoverageError(ValueError):
    """Accounts have values of a segment dimension that no segment takes at their ACV."""


def account_dimensions(con: duckdb.DuckDBPyConnection, settings: PlanSettings) -> pl.DataFrame:
    """One row per account: account_id and its value (text, 'unknown' when empty) of each dimension
    the segments narrow by."""
    used = sorted({c for s in settings.segments for c in s.dimensions})
    if not used:  # no segment narrows by a dimension: the accounts are not read
        return pl.DataFrame(schema={"account_id": pl.String})
    accounts = con.table("raw.accounts")
    missing = [c for c in used if c not in accounts.columns]
    if missing:
        raise SegmentCoverageError(f"segment_dimensions {missing} are not columns of accounts "
                                   f"(columns: {', '.join(accounts.columns)})")
    values = [
        duckdb.CoalesceOperator(
            duckdb.FunctionExpression("nullif", duckdb.FunctionExpression(
                "trim", duckdb.ColumnExpression(c).cast(VARCHAR)), duckdb.ConstantExpression("")),
            duckdb.ConstantExpression(UNKNOWN)).alias(c)
        for c in used
    ]
    return accounts.select(duckdb.ColumnExpression("account_id"), *values).pl()


def _members(dims: pl.DataFrame, settings: PlanSettings) -> pl.DataFrame:
    """account_id x segment: named accounts (named = true) and accounts a restricted segment takes."""
    frames = [pl.DataFrame({"account_id": s.accounts, "segment": s.name, "named": True},
                           schema={"account_id": pl.String, "segment": pl.String, "named": pl.Boolean})
              for s in settings.segments]
    for seg in settings.segments:
        if seg.dimensions:
            takes = pl.all_horizontal([pl.col(c).is_in(v) for c, v in seg.dimensions.items()])
            frames.append(dims.filter(takes).select("account_id", pl.lit(seg.name).alias("segment"),
                                                    pl.lit(False).alias("named")))
    return pl.concat(frames).sort("account_id", "segment")


def _uncovered(dims: pl.DataFrame, settings: PlanSettings) -> list[str]:
    """For every distinct combination of dimension values held by accounts (not per account), the ACV
    ranges at or above the lowest band that no segment takes, with the accounts holding it."""
    columns = [c for c in dims.columns if c != "account_id"]
    lowest = min(s.min_acv for s in settings.segments)
    if not columns:  # bands only: a gap between them is the settings' own
        combos = pl.DataFrame({"accounts": [None], "account_id": [[]]}, schema={"accounts": pl.Int64,
                                                                               "account_id": pl.List(pl.String)})
    else:
        combos = dims.group_by(columns).agg(pl.len().alias("accounts"), pl.col("account_id").sort().head(EXAMPLES))
        combos = combos.sort(columns)
    problems = []
    for combo in combos.to_dicts():  # a loop over distinct dimension-value combinations, not accounts
        bands = sorted((s.min_acv, band_top(s, settings.segments)) for s in settings.segments
                       if all(s.takes(c, combo[c]) for c in columns))
        reach, gaps = lowest, []
        for low, high in bands:
            if low > reach:
                gaps.append(f"{reach:,.0f} to {low:,.0f}")
            reach = float("inf") if high is None else max(reach, high)
        if reach != float("inf"):
            gaps.append(f"{reach:,.0f} and above")
        if gaps:
            if columns:
                where = " and ".join(f"{c} = {combo[c]!r}" for c in columns)
                held = f" ({combo['accounts']} accounts hold these values, e.g. {', '.join(combo['account_id'])})"
                problems.append(f"no segment takes accounts with {where} at ACV {', '.join(gaps)}{held}")
            else:
                problems.append(f"no segment takes accounts at ACV {', '.join(gaps)}")
    return problems


def write_segment_accounts(con: duckdb.DuckDBPyConnection, settings: PlanSettings) -> None:
    """work.segment_accounts (grain: account_id x segment; named = named in the settings' accounts list,
    else matched by the segment's dimension values); stops when some accounts have no segment to go to."""
    dims = account_dimensions(con, settings)
    problems = _uncovered(dims, settings)  # named accounts too: the band an account is in picks its row
    if problems:
        raise SegmentCoverageError("the segments leave accounts without a segment: " + "; ".join(problems)
                                   + ". Add the values to a segment's dimensions, or a segment for them")
    members = _members(dims, settings)  # noqa: F841  (read by the SQL below)
    con.execute("CREATE OR REPLACE TABLE work.segment_accounts AS SELECT * FROM members ORDER BY account_id, segment")
