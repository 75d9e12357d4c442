"""Quota letters and the plan report as HTML (jinja2 templates in pipeline/exports/templates/,
autoescaped). Both are single files that work offline: charts are embedded PNGs."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jinja2
import polars as pl

from pipeline.exports.columns import COUNT, DECIMAL, MONEY, PERCENT, SCORE, column_kind, header
from pipeline.exports.file_names import safe_file_names
from pipeline.exports.sheets import BEHIND_FLAGS, PlanTables

LETTERS = "letters"
HTML = ".html"


@dataclass(frozen=True)
class Chart:
    """One chart of the report, with an optional table under it."""

    key: str
    title: str
    caption: str
    png: bytes
    table: HtmlTable | None = None
    section: str = "plan"  # the report section it belongs to: plan, or backtest

    @property
    def base64(self) -> str:
        return base64.b64encode(self.png).decode()


@dataclass(frozen=True)
class HtmlTable:
    """Formatted cells (text, link or None) ready for the `table` macro."""

    columns: list[str]
    numeric: list[bool]
    rows: list[list[tuple[str, str | None]]] = field(default_factory=list)


Formatter = Callable[[float | None], str]


def _money(symbol: str) -> Formatter:
    def money(value: float | None) -> str:
        return "" if value is None else f"{'-' if value < 0 else ''}{symbol}{abs(value):,.0f}"

    return money


def _pct(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}%}"


def _environment(currency_symbol: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pipeline.exports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        auto_reload=False,  # the templates are package files: no stat per letter and included template
    )
    env.filters["money"] = _money(currency_symbol)
    env.filters["pct"] = _pct
    return env


def _cell(value: Any, kind: str, money: Formatter) -> str:
    if value is None:
        return ""
    if kind == MONEY:
        return money(value)
    if kind == PERCENT:
        return _pct(value)
    if kind == COUNT:
        return f"{value:,.0f}"
    if kind == DECIMAL:
        return f"{value:,.2f}"
    if kind == SCORE:
        return f"{value:.3f}"
    return str(value)


def html_table(frame: pl.DataFrame, currency_symbol: str, links: dict[str, list[str | None]] | None = None) -> HtmlTable:
    """A frame as formatted cells under human headers; `links` maps a column to the href of each of its rows."""
    kinds = [column_kind(name, dtype) for name, dtype in frame.schema.items()]
    money = _money(currency_symbol)
    links = links or {}
    rows = [
        [(_cell(v, k, money), links[c][i] if c in links else None)
         for v, k, c in zip(row, kinds, frame.columns, strict=True)]
        for i, row in enumerate(frame.iter_rows())
    ]
    return HtmlTable(columns=[header(c) for c in frame.columns],
                     numeric=[k in (MONEY, PERCENT, COUNT, DECIMAL, SCORE) for k in kinds], rows=rows)


def _context(tables: PlanTables) -> dict[str, Any]:
    """What every document shows about the plan and its method."""
    settings = tables.settings
    period_start, period_end = settings.plan_period()
    return {
        "plan": {"plan_id": tables.plan_id, "created_at": tables.created_at, **{k: tables.run[k] for k in
                 ("as_of", "model_version", "data_fingerprint", "settings_hash")}},
        "model": {"chosen": tables.model.get("chosen", ""), "fallback_reason": tables.model.get("fallback_reason")},
        "period_start": period_start,
        "period_end": period_end,
        "rounding": settings.quota_rounding,
        "blackout_days": settings.blackout_days,
        "joint_planning_min_acv": settings.joint_planning_min_acv,
        "horizon_months": settings.model.horizon_months,
        "anchor_share": settings.territory.anchor_share,
    }


SOURCE_WORDS = {  # the deal sources (pipeline.ingestion.contract.DEAL_SOURCES) as a rep reads them
    "ae_sourced": "Deals you source", "csm_sourced": "Deals the CSM sources",
    "joint": "Deals you and the CSM source together", "csm_closed": "Deals the CSM closes alone",
    "add_on": "Add-ons bought without a sales motion",
}


def credit_sentences(tables: PlanTables) -> list[str]:
    """The deal-source matrix (tracking.attribution) in words, one sentence per source."""
    money = _money(tables.settings.exports.currency_symbol)
    tracking = tables.settings.tracking
    sentences = []
    for source, rules in pl.DataFrame(tracking.credit_rules()).group_by("source", maintain_order=True):
        parts = []
        for rule in rules.iter_rows(named=True):
            split = (f"you {rule['rep_share']:.0%}, the CSM {rule['csm_share']:.0%}"
                     if rule["rep_share"] or rule["csm_share"] else "no expansion credit")
            if rules.height == 1:
                parts.append(split)
            elif rule["max_amount"] is None:
                parts.append(f"{money(rule['min_amount'])} and more: {split}")
            else:
                parts.append(f"{money(rule['min_amount'])} to {money(rule['max_amount'])}: {split}")
        sentences.append(f"{SOURCE_WORDS.get(source[0], source[0])}: {'; '.join(parts)}.")
    missing = SOURCE_WORDS.get(tracking.missing_source, tracking.missing_source)
    sentences.append(f"A deal without a source counts as: {missing[0].lower()}{missing[1:]}.")
    return sentences


def _groups(frame: pl.DataFrame | None, key: str) -> dict[str, list[dict[str, Any]]]:
    """The rows of `frame` as dicts per value of `key`, in their order (one group_by: at 15,894 reps a
    partition per rep took 10 s)."""
    if frame is None or frame.height == 0:
        return {}
    grouped = (frame.select(pl.col(key), _row=pl.struct(pl.all()))
               .group_by(key, maintain_order=True).agg(pl.col("_row")))
    return dict(zip(grouped[key].to_list(), grouped["_row"].to_list(), strict=True))


def letter_books(tables: PlanTables) -> dict[str, dict[str, Any]]:
    """Per rep with a quota: the listed accounts (each with its main items), the rest of the book in
    one row, accounts gained and lost, joint-planning accounts (pipeline.exports.letter_data)."""
    by_account = _groups(tables.frame("letter_items"), "account_id")
    accounts = _groups(tables.frame("letter_accounts"), "rep_id")
    rest = {r["rep_id"]: r for r in tables.frame("letter_rest").iter_rows(named=True)}
    moves = _groups(tables.frame("letter_moves"), "rep_id")
    joint = _groups(tables.frame("letter_joint"), "rep_id")
    books = {}
    for rep in _reps_with_quota(tables)["rep_id"]:
        listed = [{**a, "items": by_account.get(a["account_id"], [])} for a in accounts.get(rep, [])]
        rep_moves = moves.get(rep, [])
        books[rep] = {
            "accounts": listed, "rest": rest.get(rep),
            "gained": [m for m in rep_moves if m["direction"] == "gained"],
            "lost": [m for m in rep_moves if m["direction"] == "lost"],
            "joint": joint.get(rep, []),
        }
    return books


def quarter_weights(tables: PlanTables) -> list[dict[str, Any]]:
    """The plan year's quarters (start, end) and the share of a quota each carries (quota_phasing's
    monthly weights summed)."""
    phasing = tables.frame("quota_phasing")
    if phasing is None or phasing.height == 0:
        return []
    return (phasing.group_by("quarter", maintain_order=True)
            .agg(start=pl.col("month_start").min(), end=pl.col("month_end").max(), weight=pl.col("weight").sum())
            .to_dicts())


def quarters(weights: list[dict[str, Any]], quota: float) -> list[dict[str, Any]]:
    """A quota phased by quarter: each quarter of `weights` with its amount."""
    return [{**q, "amount": q["weight"] * quota} for q in weights]


def _reps_with_quota(tables: PlanTables) -> pl.DataFrame:
    """The reps who get a letter: those with a quota (a letter saying "your quota is 0" is never sent;
    the plan review names those reps instead)."""
    return tables.frame("quotas").filter(pl.col("quota") > 0)


def letter_files(tables: PlanTables) -> dict[str, str]:
    """The file of each rep's quota letter in letters/: rep_id -> file name (safe_file_names)."""
    return {rep: f"{name}{HTML}" for rep, name in safe_file_names(_reps_with_quota(tables)["rep_id"]).items()}


def render_letters(tables: PlanTables) -> dict[str, str]:
    """One quota letter per active expansion rep of the plan with a quota: rep_id -> HTML."""
    env = _environment(tables.settings.exports.currency_symbol)
    template = env.get_template("quota_letter.html")
    context = {**_context(tables), "credit_rules": credit_sentences(tables),
               "top_accounts": tables.settings.exports.letter_top_accounts,
               "min_p_close": tables.settings.exports.letter_min_p_close}
    books, weights = letter_books(tables), quarter_weights(tables)
    return {
        rep["rep_id"]: template.render(**context, rep=rep, book=books[rep["rep_id"]],
                                       quarters=quarters(weights, rep["quota"]))
        for rep in _reps_with_quota(tables).iter_rows(named=True)
    }


QUOTA_COLUMNS = ("name", "segment", "capacity", "accounts", "territory_eev", "balance_deviation", "factor", "quota")
HISTORY_COLUMNS = ("segment", "quota", "trailing_bookings", "quota_to_bookings")
FORECAST_COLUMNS = ("name", "segment", "quota", "trailing_bookings", "quota_to_bookings", "expected_bookings",
                    "p10_attainment", "p50_attainment", "p90_attainment", "p_attain")
TRACKING_COLUMNS = ("name", "segment", "quota", "ytd_quota", "credited_ytd", "ytd_attainment", "window_pipeline",
                    "coverage", "flag")


# per-rep table of the report -> the reps to look at first when not all fit (exports.report_rep_rows), and
# where every rep is
REP_TABLE_ORDER: dict[str, tuple[pl.Expr, str]] = {
    "quotas": (pl.col("balance_deviation").abs().neg(), "largest balance deviation first; every rep: the workbook's "
               "Quotas sheet, csv/quotas.csv and letters/"),
    "forecast": (pl.col("p_attain"), "lowest predicted P(attain) first; every rep: csv/attainment_forecast.csv"),
    "tracking": (pl.struct(pl.col("flag").replace_strict(BEHIND_FLAGS, list(range(len(BEHIND_FLAGS))),
                                                         default=len(BEHIND_FLAGS), return_dtype=pl.Int8),
                           pl.col("coverage")),
                 "urgent, then warning, lowest coverage first; every rep: csv/pipeline_coverage.csv"),
}


def rep_rows_shown(name: str, frame: pl.DataFrame, rows: int) -> tuple[pl.DataFrame, str | None]:
    """A per-rep table of the report, whole when it has at most `rows` reps; else the `rows` reps to look
    at first (REP_TABLE_ORDER, ties in the table's order) and the note that says so."""
    if frame.height <= rows:
        return frame, None
    key, how = REP_TABLE_ORDER[name]
    shown = frame.with_row_index("_position").sort(key, "_position", nulls_last=True).head(rows).drop("_position")
    return shown, f"{rows:,} of {frame.height:,} reps shown ({how})."


def _report_tables(tables: PlanTables) -> tuple[dict[str, HtmlTable | None], dict[str, str | None]]:
    """The report's tables (names instead of ids, a few columns each, formatted by meaning) and the
    notes of the per-rep tables that show only some reps."""
    symbol = tables.settings.exports.currency_symbol
    rows = tables.settings.exports.report_rep_rows
    notes: dict[str, str | None] = dict.fromkeys(REP_TABLE_ORDER)

    def per_rep(name: str, frame: pl.DataFrame) -> pl.DataFrame:
        shown, notes[name] = rep_rows_shown(name, frame, rows)
        return shown

    quotas = per_rep("quotas", tables.frame("quotas"))
    files = letter_files(tables)
    letters = [f"{LETTERS}/{files[rep]}" if rep in files else None for rep in quotas["rep_id"]]
    factors = tables.frame("quota_factors")  # None in a plan made before the attainment forecast
    history = tables.frame("quota_history")
    forecast = tables.frame("attainment_forecast")
    coverage = tables.frame("pipeline_coverage")
    out: dict[str, HtmlTable | None] = {
        "summary": html_table(tables.frame("summary"), symbol),
        "quota_factors": None if factors is None else html_table(
            factors.select("segment", "factor", "note", "attaining_share", "p10_attaining_share",
                           "p90_attaining_share", "attainment_cv", "target_factor"), symbol),
        "quotas": html_table(quotas.select(QUOTA_COLUMNS), symbol, {"name": letters}),
        "history": None, "forecast": None, "tracking": None,
    }
    if history is not None:
        out["history"] = html_table(history.filter(pl.col("level") != "rep").with_columns(
            segment=pl.col("segment").fill_null("all segments")).select(HISTORY_COLUMNS), symbol)
    if forecast is not None:
        by_rep = (history.filter(pl.col("level") == "rep").select(rep_id="key", trailing_bookings="trailing_bookings",
                                                                  quota_to_bookings="quota_to_bookings")
                  if history is not None else pl.DataFrame(schema={"rep_id": pl.String, "trailing_bookings": pl.Float64,
                                                                   "quota_to_bookings": pl.Float64}))
        out["forecast"] = html_table(per_rep("forecast", forecast.join(by_rep, on="rep_id", how="left",
                                                                        maintain_order="left"))
                                     .select(FORECAST_COLUMNS), symbol)
    if coverage is not None:
        out["tracking"] = html_table(per_rep("tracking", coverage).with_columns(
            ytd_attainment=pl.col("credited_ytd") / pl.when(pl.col("ytd_quota") > 0).then(pl.col("ytd_quota")))
            .select(TRACKING_COLUMNS), symbol)
    return out, notes


def render_report(
    tables: PlanTables,
    figures: list[tuple[str, str]],
    charts: list[Chart],
    notes: list[str],
    files: list[tuple[str, str, str]],
) -> str:
    """The plan report: key figures, segments, history and predicted attainment, charts, tracking,
    backtest, review findings, reps (linked to their letters), files, method."""
    env = _environment(tables.settings.exports.currency_symbol)
    review = tables.frame("plan_review")
    report_tables, rep_notes = _report_tables(tables)
    return env.get_template("plan_report.html").render(
        **_context(tables),
        figures=[{"label": label, "value": value} for label, value in figures],
        charts=[c for c in charts if c.section == "plan"],
        backtest=[c for c in charts if c.section == "backtest"],
        notes=notes,
        forecast={"draws": tables.settings.forecast.draws,
                  "target_share": tables.settings.quota.target_attainment_share},
        tables=report_tables,
        rep_notes=rep_notes,
        review=[] if review is None else review.select("severity", "message").to_dicts(),
        files=[{"href": href, "name": name, "what": what} for href, name, what in files],
    )


def render_scenario_comparison(comparison: pl.DataFrame, batch_id: str, chart: str, currency_symbol: str) -> str:
    """The scenario comparison page: the chart (file name `chart` beside the page) and the table."""
    env = _environment(currency_symbol)
    return env.get_template("scenario_comparison.html").render(
        batch_id=batch_id, chart=chart, comparison=html_table(comparison, currency_symbol))
