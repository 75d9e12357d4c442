"""The plan as the tables people open, read from the versioned `plans.*` tables for one
plan_id (the current plan by default).

Each table is a `Table`: its SQL (the one source of its CSV and Parquet files, written by DuckDB
`COPY`, streamed) and, when it is small enough for a worksheet, its rows as a frame. Rep-level and
summary tables are always frames. Per-account tables (ACCOUNT_GRAIN: accounts, territories, moves,
contributions, deals, ...) are frames only up to `exports.workbook_account_rows` rows, and the
whitespace items never are (the workbook's Top items sheet holds the largest per rep instead), so
exports of a million accounts hold no per-account frame in memory.

Tables other helpers add to a plan version appear when the plan has them: any other
`plans.<table>` with a plan_id column and rows for this plan becomes a table of its own (e.g.
backtest_results, data_quality, the in-year tracking tables). Internal tables (INTERNAL: the
published-plan digests, the run log, the model's JSON description) are left out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import duckdb
import polars as pl

from pipeline.core.settings import SELF_SERVE, PlanSettings
from pipeline.core.warehouse import table_exists
from pipeline.exports.letter_data import letter_extras, with_products
from pipeline.plan.store import PLAN_VERSION_SQL
from pipeline.plan.territory.heuristic import KEPT_REASON

MOVES = "territory_moves"
ITEMS = "whitespace_items"
CORE = ("whitespace_items", "account_eev", "territories", "quotas", "model_metrics", "quota_phasing")
# pipeline_coverage's flags of the reps most behind, most behind first (the summary and the report list
# these reps first when not every rep fits, then by lowest coverage)
BEHIND_FLAGS = ("urgent", "warning")
INTERNAL = ("model_info", "plan_runs", "current_plan", "published_plans")
NOT_SHEETS = {*CORE, *INTERNAL, MOVES}
ACCOUNT_GRAIN = {"accounts", "territories", ITEMS, "blackout_calendar", MOVES, "quota_contributions",
                 "expansion_deals", "expansion_credits", "rejected_rows"}
SHEET_NAME_MAX = 31  # Excel's limit on worksheet names
METRIC_ORDER = ("roc_auc", "pr_auc", "brier", "log_loss", "ece", "base_rate", "rows", "positives")
CHOSEN_MODEL = "chosen"

# The one segment summary of a plan (the Summary sheet, the run summary, the plan_version
# metadata): per segment and a total row. Segments come from the accounts and the reps (a segment
# with reps but no accounts has null account figures); rep_accounts = accounts the reps own;
# factor = the segment's quota factor (null on the total row). Sums are exact (DECIMAL, as in the plan SQL:
# docs/method.md), so the sheet has the same bits in any row order.
SUMMARY_SQL = """
WITH accounts AS (
    SELECT segment, count(*) AS accounts, CAST(sum(CAST(acv AS DECIMAL(38, 6))) AS DOUBLE) AS acv,
           CAST(sum(CAST(whitespace AS DECIMAL(38, 6))) AS DOUBLE) AS whitespace,
           CAST(sum(CAST(eev AS DECIMAL(38, 6))) AS DOUBLE) AS eev,
           count(*) FILTER (WHERE joint_planning) AS joint_planning_accounts
    FROM plans.account_eev WHERE plan_id = $plan_id GROUP BY ROLLUP (segment)
),
reps AS (
    SELECT segment, count(*) AS reps, CAST(sum(CAST(capacity AS DECIMAL(38, 12))) AS DOUBLE) AS capacity,
           CAST(sum(CAST(territory_eev AS DECIMAL(38, 6))) AS DOUBLE) AS territory_eev,
           CAST(sum(CAST(quota AS DECIMAL(38, 6))) AS DOUBLE) AS quota,
           sum(accounts) AS rep_accounts,
           CASE WHEN segment IS NOT NULL THEN any_value(factor) END AS factor
    FROM plans.quotas WHERE plan_id = $plan_id GROUP BY ROLLUP (segment)
),
balance AS (  -- the plan's own balance figures (sql/plan/territory_balance.sql), as the summary shows
    SELECT segment, balance_cv FROM plans.territory_balance WHERE plan_id = $plan_id
)
SELECT coalesce(a.segment, r.segment, 'total') AS segment, a.accounts, a.acv, a.whitespace, a.eev,
       a.joint_planning_accounts, coalesce(r.reps, 0) AS reps, coalesce(r.capacity, 0) AS capacity,
       r.territory_eev, r.quota, r.quota / nullif(r.territory_eev, 0) AS quota_share_of_eev, b.balance_cv,
       r.rep_accounts, r.factor
FROM accounts AS a
FULL JOIN reps AS r ON r.segment IS NOT DISTINCT FROM a.segment
LEFT JOIN balance AS b ON b.segment = coalesce(a.segment, r.segment)
ORDER BY a.segment IS NULL AND r.segment IS NULL, list_position($order, coalesce(a.segment, r.segment))
"""
SUMMARY_ONLY = ("rep_accounts", "factor")  # columns of SUMMARY_SQL the run summary shows, the sheet does not

QUOTAS_SQL = """
SELECT q.rep_id, q.name, q.segment, q.capacity, q.accounts, q.territory_eev,
       q.territory_eev / nullif(q.capacity, 0) AS eev_per_capacity,
       q.balance_deviation,  -- the one definition, sql/plan/quotas.sql
       q.factor, q.quota_unrounded, q.quota
FROM plans.quotas AS q
WHERE q.plan_id = $plan_id
ORDER BY list_position($order, q.segment), q.rep_id
"""

TERRITORIES_SQL = """
SELECT t.account_id, a.account_name, t.segment, t.rep_id, q.name AS rep_name, t.previous_rep_id, t.moved,
       a.acv, a.eev, t.anchor,
       -- the plan's own move reason (pipeline.plan.territory.heuristic.REASONS, = the Moves sheet's); null for a
       -- moved account of a plan version that recorded no reasons
       coalesce(t.reason, CASE WHEN NOT t.moved THEN $kept_reason END) AS reason
FROM plans.territories AS t
JOIN plans.account_eev AS a USING (plan_id, account_id)
LEFT JOIN plans.quotas AS q USING (plan_id, rep_id)
WHERE t.plan_id = $plan_id
ORDER BY t.account_id
"""

ACCOUNTS_SQL = """
SELECT a.* EXCLUDE (plan_id), t.rep_id
FROM plans.account_eev AS a
LEFT JOIN plans.territories AS t USING (plan_id, account_id)
WHERE a.plan_id = $plan_id
ORDER BY a.account_id
"""

ITEMS_SQL = """
SELECT w.account_id, a.account_name, w.product_id, {product_name} AS product_name, w.* EXCLUDE (plan_id, account_id,
       product_id), t.rep_id
FROM plans.whitespace_items AS w
JOIN plans.account_eev AS a USING (plan_id, account_id)
LEFT JOIN plans.territories AS t USING (plan_id, account_id)
{products_join}
WHERE w.plan_id = $plan_id
ORDER BY w.account_id, w.product_id, w.kind
"""

# The largest items of each rep's book (the workbook's Top items sheet): rank by EEV per rep.
TOP_ITEMS_SQL = """
SELECT t.rep_id, q.name AS rep_name, w.account_id, a.account_name, w.product_id, {product_name} AS product_name,
       w.kind, w.whitespace, w.p_close, w.expected_amount, w.eev, w.reason
FROM plans.whitespace_items AS w
JOIN plans.territories AS t USING (plan_id, account_id)
JOIN plans.account_eev AS a USING (plan_id, account_id)
JOIN plans.quotas AS q USING (plan_id, rep_id)
{products_join}
WHERE w.plan_id = $plan_id
QUALIFY row_number() OVER (PARTITION BY t.rep_id ORDER BY w.eev DESC, w.account_id, w.product_id, w.kind)
        <= $items_per_rep
ORDER BY list_position($order, q.segment), t.rep_id, w.eev DESC, w.account_id, w.product_id, w.kind
"""

# The products of the input (raw.products; see pipeline.exports.letter_data.PRODUCT_NAME).
PRODUCTS_SQL = """
SELECT product_id, product_name, family, tier_rank, unit, list_price FROM raw.products ORDER BY product_id
"""
PHASING_SQL = """
SELECT month_index, (month_index - 1) // 3 + 1 AS quarter, month_start, CAST(month_end - INTERVAL 1 DAY AS DATE) AS month_end,
       weight, basis
FROM plans.quota_phasing WHERE plan_id = $plan_id ORDER BY month_index
"""

BLACKOUT_SQL = """
SELECT a.blackout_start, a.blackout_end, a.renewal_date, t.rep_id, a.account_id, a.account_name, a.segment,
       a.acv, a.eev, a.joint_planning
FROM plans.account_eev AS a
JOIN plans.territories AS t USING (plan_id, account_id)
WHERE a.plan_id = $plan_id AND a.blackout_start <= $period_end AND a.blackout_end >= $period_start
ORDER BY a.blackout_start, a.account_id
"""

METRICS_SQL = "SELECT model, segment, metric, value FROM plans.model_metrics WHERE plan_id = $plan_id"
RUN_SQL = f"SELECT * FROM plans.plan_runs WHERE run_id = $plan_id AND {PLAN_VERSION_SQL}"
INFO_SQL = "SELECT * EXCLUDE (plan_id) FROM plans.model_info WHERE plan_id = $plan_id"
PLAN_TABLES_SQL = """
SELECT table_name FROM information_schema.columns
WHERE table_schema = 'plans' AND column_name = 'plan_id' ORDER BY table_name
"""


class ExportError(ValueError):
    """The plan to export does not exist (the message lists the plans there are)."""


@dataclass(frozen=True)
class Sheet:
    """One table of the export: `key` (the stem of its CSV/Parquet files), worksheet title, the SQL
    its files are written from (None: written from `frame`), its row count, and its rows when it is
    small enough for the workbook (None: CSV/Parquet only)."""

    key: str
    title: str
    frame: pl.DataFrame | None
    sql: str | None = None
    rows: int = 0


@dataclass(frozen=True)
class PlanTables:
    """Everything the exports show about one plan version (rep-level and bounded data in memory;
    per-account tables as SQL, see the module docstring)."""

    plan_id: str
    run: dict[str, Any]
    model: dict[str, Any]
    settings: PlanSettings
    sheets: dict[str, Sheet]
    params: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, pl.DataFrame] = field(default_factory=dict)

    @property
    def created_at(self) -> dt.datetime:
        """When the plan was created (to the second): the only time the exports carry."""
        return self.run["created_at"].replace(microsecond=0)

    def frame(self, key: str) -> pl.DataFrame | None:
        """The rows of a table in memory (a sheet's, else one of the bounded extras), None when absent."""
        sheet = self.sheets.get(key)
        if sheet is not None and sheet.frame is not None:
            return sheet.frame
        return self.extras.get(key)


def resolve_plan_id(con: duckdb.DuckDBPyConnection, plan_id: str | None) -> str:
    """The requested plan, or the current one; ExportError naming the plans there are."""
    if not table_exists(con, "plans", "plan_runs"):
        raise ExportError("the DuckDB file has no plan yet: run `quota-plan run` first")
    plans = [r[0] for r in con.execute(
        f"SELECT run_id FROM plans.plan_runs WHERE {PLAN_VERSION_SQL} ORDER BY run_id").fetchall()]
    if plan_id is None:
        row = con.execute("SELECT plan_id FROM plans.current_plan").fetchone()
        plan_id = row[0] if row else None
    if plan_id not in plans:
        raise ExportError(f"no plan {plan_id!r} in the DuckDB file; plans: {', '.join(plans) or 'none'}")
    return plan_id


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> pl.DataFrame:
    used = {k: v for k, v in params.items() if f"${k}" in sql}
    return con.execute(sql, used).pl()


def _model_sheet(metrics: pl.DataFrame, segment_order: list[str]) -> pl.DataFrame:
    """Model metrics one row per model x segment, metrics as columns (chosen model first)."""
    if metrics.height == 0:
        return pl.DataFrame({"model": [], "segment": []}, schema={"model": pl.String, "segment": pl.String})
    wide = metrics.pivot(on="metric", index=["model", "segment"], values="value", aggregate_function="first")
    present = [m for m in METRIC_ORDER if m in wide.columns]
    rest = sorted(set(wide.columns) - {"model", "segment", *present})
    order = ["all", *segment_order]
    return wide.select("model", "segment", *present, *rest).sort(
        pl.col("model") != CHOSEN_MODEL, "model",
        pl.col("segment").replace_strict(order, list(range(len(order))), default=len(order), return_dtype=pl.Int64),
        "segment",
    )


def _whole_table_sql(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    """All rows of a table (of this plan, for a `plans` table); nested columns (lists, structs,
    maps) as text, which CSV and Excel can hold. Names come from the catalog, not from input."""
    columns = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = ? "
        "AND table_name = ? AND column_name <> 'plan_id' ORDER BY ordinal_position", [schema, table]).fetchall()
    nested = ("[]", "STRUCT", "MAP", "UNION")
    select = ", ".join(
        f"CAST({_quoted(name)} AS VARCHAR) AS {_quoted(name)}" if any(n in dtype for n in nested) else _quoted(name)
        for name, dtype in columns
    )
    where = "WHERE plan_id = $plan_id" if schema == "plans" else ""
    return f"SELECT {select} FROM {_quoted(schema)}.{_quoted(table)} {where} ORDER BY ALL"


def _quoted(identifier: str) -> str:
    """A quoted SQL identifier (a name from the catalog), any `"` in it doubled."""
    return '"' + identifier.replace('"', '""') + '"'


def _sheet_title(table: str) -> str:
    return table.replace("_", " ").capitalize()[:SHEET_NAME_MAX]


def _params(plan_id: str, settings: PlanSettings) -> dict[str, Any]:
    period_start, period_end = settings.plan_period()
    return {"plan_id": plan_id, "order": [s["segment"] for s in settings.segment_table()],
            "period_start": period_start, "period_end": period_end, "kept_reason": KEPT_REASON}


def segment_figures(con: duckdb.DuckDBPyConnection, plan_id: str, settings: PlanSettings) -> pl.DataFrame:
    """Every figure of SUMMARY_SQL per segment of a plan, and a total row."""
    return _frame(con, SUMMARY_SQL, _params(plan_id, settings))


def segment_summary(con: duckdb.DuckDBPyConnection, plan_id: str, settings: PlanSettings) -> pl.DataFrame:
    """Accounts, EEV, reps, quota and balance CV per segment of a plan, and a total row (the
    Summary sheet)."""
    return segment_figures(con, plan_id, settings).drop(SUMMARY_ONLY)


def summary_figures(summary: pl.DataFrame) -> dict[str, float]:
    """Key figures of a segment summary: total EEV and quota, balance CV per segment and the
    worst (largest) one."""
    total = summary.filter(pl.col("segment") == "total").row(0, named=True)
    balance = {f"balance_cv_{r['segment']}": float(r["balance_cv"])
               for r in summary.filter(pl.col("balance_cv").is_not_null()).iter_rows(named=True)}
    return {"total_eev": float(total["territory_eev"] or 0), "total_quota": float(total["quota"] or 0),
            "balance_cv": max(balance.values(), default=0.0), **balance}


def _table(con: duckdb.DuckDBPyConnection, key: str, title: str, sql: str, params: dict[str, Any],
           in_workbook: bool = True) -> Sheet:
    """A table from its SQL: per-account tables (ACCOUNT_GRAIN) are read into memory only when they fit
    the workbook (exports.workbook_account_rows), the others always."""
    used = {k: v for k, v in params.items() if f"${k}" in sql}
    if key not in ACCOUNT_GRAIN:
        frame = con.execute(sql, used).pl()
        return Sheet(key, title, frame, sql, frame.height)
    rows = con.execute(f"SELECT count(*) FROM ({sql})", used).fetchone()[0]
    small = in_workbook and rows <= params["workbook_account_rows"]
    return Sheet(key, title, con.execute(sql, used).pl() if small else None, sql, rows)


def _has_rows(con: duckdb.DuckDBPyConnection, table: str, plan_id: str) -> bool:
    sql = f"SELECT EXISTS (SELECT 1 FROM plans.{_quoted(table)} WHERE plan_id = ?)"
    return bool(con.execute(sql, [plan_id]).fetchone()[0])


def load_plan_tables(con: duckdb.DuckDBPyConnection, plan_id: str | None = None) -> PlanTables:
    """Read one plan version (current by default) as the export's tables, in workbook order."""
    plan_id = resolve_plan_id(con, plan_id)
    run = _frame(con, RUN_SQL, {"plan_id": plan_id}).row(0, named=True)
    settings = PlanSettings.model_validate_json(run["settings_json"])
    cfg = settings.exports
    params = {**_params(plan_id, settings), "items_per_rep": cfg.workbook_items_per_rep,
              "workbook_account_rows": min(cfg.workbook_account_rows, cfg.excel_max_rows)}
    order = [s for s in params["order"] if s != SELF_SERVE]
    available = {r[0] for r in con.execute(PLAN_TABLES_SQL).fetchall()}
    products = table_exists(con, "raw", "products")
    specs: list[tuple[str, str, str]] = [
        ("quotas", "Quotas", QUOTAS_SQL),
        ("quota_phasing", "Phasing", PHASING_SQL),
        ("top_items", "Top items", with_products(TOP_ITEMS_SQL, products)),
        ("accounts", "Accounts", ACCOUNTS_SQL),
        ("territories", "Territories", TERRITORIES_SQL),
        (ITEMS, "Whitespace items", with_products(ITEMS_SQL, products)),
        ("blackout_calendar", "Blackout calendar", BLACKOUT_SQL),
    ]
    summary = segment_summary(con, plan_id, settings)
    sheets = {"summary": Sheet("summary", "Summary", summary, None, summary.height)}
    sheets |= {key: _table(con, key, title, sql, params, in_workbook=key != ITEMS) for key, title, sql in specs}
    model = _model_sheet(_frame(con, METRICS_SQL, params), order)
    sheets["model_metrics"] = Sheet("model_metrics", "Model", model, None, model.height)
    more = [("products", "Products", PRODUCTS_SQL)] if products else []
    if MOVES in available:
        more.append((MOVES, "Moves", _whole_table_sql(con, "plans", MOVES)))
    more += [(t, _sheet_title(t), _whole_table_sql(con, "plans", t)) for t in sorted(available - NOT_SHEETS)
             if _has_rows(con, t, plan_id)]
    sheets |= {key: _table(con, key, title, sql, params) for key, title, sql in more}
    info = _frame(con, INFO_SQL, params)
    tables = PlanTables(plan_id=plan_id, run=run, model=info.row(0, named=True) if info.height else {},
                        settings=settings, sheets=sheets, params=params)
    return dataclasses.replace(tables, extras=letter_extras(con, tables, products, MOVES in sheets))
