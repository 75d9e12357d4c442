"""Quota letters and the plan report as HTML (jinja2 templates in pipeline/exports/templates/,
autoescaped). Both are single files that work offline: charts are embedded PNGs."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jinja2
import polars as pl

from pipeline.exports.file_names import safe_file_names
from pipeline.exports.sheets import PlanTables, column_kind

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
    )
    env.filters["money"] = _money(currency_symbol)
    env.filters["pct"] = _pct
    return env


def _cell(value: Any, kind: str, money: Formatter) -> str:
    if value is None:
        return ""
    if kind == "money":
        return money(value)
    if kind == "percent":
        return _pct(value)
    if isinstance(value, float):
        return f"{value:,.3f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def html_table(frame: pl.DataFrame, currency_symbol: str, links: dict[str, dict[Any, str]] | None = None) -> HtmlTable:
    """A frame as formatted cells; `links` maps a column to the href of each of its values."""
    kinds = [column_kind(name, dtype) for name, dtype in frame.schema.items()]
    money = _money(currency_symbol)
    links = links or {}
    rows = [
        [(_cell(v, k, money), links[c].get(v) if c in links else None)
         for v, k, c in zip(row, kinds, frame.columns, strict=True)]
        for row in frame.iter_rows()
    ]
    return HtmlTable(columns=frame.columns, numeric=[k != "other" for k in kinds], rows=rows)


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


def letter_accounts(tables: PlanTables) -> dict[str, list[dict[str, Any]]]:
    """Per rep: the accounts with EEV share, quota contribution, anchor flag and main whitespace items."""
    quotas = tables.frame("quotas")
    accounts = tables.frame("accounts")
    items_per_account = tables.settings.exports.letter_items_per_account
    items = (tables.frame("whitespace_items").filter(pl.col("rep_id").is_not_null())
             .sort(["account_id", "eev", "product_id", "kind"], descending=[False, True, False, False])
             .group_by("account_id", maintain_order=True).head(items_per_account))
    anchors = tables.frame("territories").select("account_id", "anchor")
    books = (
        accounts.join(quotas.select("rep_id", "territory_eev", "factor"), on="rep_id", how="inner")
        .join(anchors, on="account_id", how="left")
        .with_columns(share=pl.col("eev") / pl.when(pl.col("territory_eev") > 0).then(pl.col("territory_eev")),
                      contribution=pl.col("factor") * pl.col("eev"))
        .join(items.group_by("account_id", maintain_order=True).agg(items=pl.struct(
            "kind", "product_id", "whitespace", "p_close", "capture", "eev", "reason")), on="account_id", how="left")
        .with_columns(pl.col("items").fill_null([]))
        .sort(["rep_id", "eev", "account_id"], descending=[False, True, False])
    )
    return {rep: frame.to_dicts() for (rep,), frame in books.group_by("rep_id", maintain_order=True)}


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
    context = _context(tables)
    books = letter_accounts(tables)
    blackouts = {rep: frame.to_dicts() for (rep,), frame in
                 tables.frame("blackout_calendar").group_by("rep_id", maintain_order=True)}
    return {
        rep["rep_id"]: template.render(**context, rep=rep, accounts=books.get(rep["rep_id"], []),
                                       blackouts=blackouts.get(rep["rep_id"], []))
        for rep in _reps_with_quota(tables).iter_rows(named=True)
    }


def render_report(
    tables: PlanTables,
    figures: list[tuple[str, str]],
    charts: list[Chart],
    notes: list[str],
    files: list[tuple[str, str, str]],
) -> str:
    """The plan report: key figures, charts (embedded), segment and rep tables, file list."""
    symbol = tables.settings.exports.currency_symbol
    env = _environment(symbol)
    quotas = tables.frame("quotas")
    factors = tables.frame("quota_factors")  # None in a plan made before the attainment forecast
    return env.get_template("plan_report.html").render(
        **_context(tables),
        figures=[{"label": label, "value": value} for label, value in figures],
        charts=charts,
        notes=notes,
        forecast={"draws": tables.settings.forecast.draws,
                  "target_share": tables.settings.quota.target_attainment_share},
        tables={"summary": html_table(tables.frame("summary"), symbol),
                "quota_factors": None if factors is None else html_table(factors, symbol),
                "quotas": html_table(quotas, symbol, {"rep_id": {rep: f"{LETTERS}/{name}" for rep, name
                                                                 in letter_files(tables).items()}})},
        files=[{"href": href, "name": name, "what": what} for href, name, what in files],
    )

