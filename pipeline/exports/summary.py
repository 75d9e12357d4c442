"""The run summary printed after a plan: segments, reps and quotas, the model, where things are."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from pipeline.core.settings import PlanSettings
from pipeline.core.warehouse import table_exists
from pipeline.exports.sheets import segment_figures

BALANCE_SQL = """
SELECT segment, method, balance_cv, max_min_ratio, share_within_tolerance, share_within_report_band,
       largest_deviation, accounts_moved, eev_moved, accounts_placed
FROM main.territory_balance ORDER BY list_position($order, segment)
"""


TRACKING_SQL = """
SELECT c.rep_id, c.segment, c.quota, a.phased_quota, c.credited_ytd, a.attainment, c.remaining_quota,
       c.qualified_pipeline, c.coverage, c.flag, c.won_deals, c.lost_deals, c.opp_to_close_rate
FROM main.pipeline_coverage AS c
JOIN main.attainment AS a ON a.rep_id = c.rep_id AND a.period = 'year_to_date'
ORDER BY list_position($order, c.segment), c.rep_id
"""

FORECAST_SQL = """
SELECT segment, factor, note, attaining_share, p10_attaining_share, p90_attaining_share, attainment_cv, target_factor
FROM main.quota_factors ORDER BY list_position($order, segment)
"""

EXAMPLES_WIDTH = 48


def _money(value: float | None) -> str:
    return f"{value or 0:,.0f}"


def _table(headers: list[str], rows: list[list[str]], text_columns: frozenset[int] = frozenset({0})) -> list[str]:
    """Aligned columns: the `text_columns` (by position) to the left, numbers to the right."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i in text_columns else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(headers), *(line(r) for r in rows)]


def data_quality_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The data-quality report of the current plan, then what the plan does without."""
    report = con.execute(
        "SELECT step, \"table\", file, rule, rows, examples FROM main.data_quality ORDER BY position"
    ).fetchall()
    shown = [r for r in report if r[0] != "degraded"]
    lines = ["Data quality (rows read, set aside by rule, derived, loaded)"]
    lines += _table(
        ["step", "table", "file", "rule", "rows", "examples"],
        [[step, table, file, rule, f"{rows:,}", _shorten(examples)]
         for step, table, file, rule, rows, examples in shown],
        text_columns=frozenset({0, 1, 2, 3, 5}),
    )
    lines += [f"DEGRADED: {table}: {rule} ({rows:,} accounts)" for step, table, _, rule, rows, _ in report
              if step == "degraded"]
    return lines


def _shorten(text: str, width: int = EXAMPLES_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _ratio(value: float | None, suffix: str = "") -> str:
    return "-" if value is None else f"{value:.2f}{suffix}"


def tracking_summary(con: duckdb.DuckDBPyConnection, settings: PlanSettings) -> list[str]:
    """One line per expansion rep: year-to-date credits against phased quota, coverage, flag."""
    plan_id, start, end, through = con.execute(
        "SELECT plan_id, plan_start, plan_end, through FROM main.tracking_runs ORDER BY created_at DESC LIMIT 1"
    ).fetchone()
    order = {"order": [row["segment"] for row in settings.segment_table()]}
    rows = con.execute(TRACKING_SQL, order).fetchall()
    track = settings.tracking
    lines = [f"In-year tracking of plan {plan_id} ({start} to {end}) through {through}: "
             f"coverage warning < {track.coverage_warning:g}x, urgent < {track.coverage_urgent:g}x"]
    lines += _table(
        ["rep", "segment", "quota", "YTD quota", "credited YTD", "attainment", "remaining", "pipeline",
         "coverage", "flag", "won/lost", "win rate"],
        [[r, s, _money(q), _money(pq), _money(cr), _ratio(att), _money(rem), _money(pipe), _ratio(cov, "x"),
          flag, f"{won}/{lost}", _ratio(rate)]
         for r, s, q, pq, cr, att, rem, pipe, cov, flag, won, lost, rate in rows],
    )
    deals, no_source, no_rep, bonus = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE source_defaulted), count(*) FILTER (WHERE rep_id IS NULL), "
        "sum(csm_source_bonus) FROM main.expansion_credits"
    ).fetchone()
    lines.append(f"  {deals:,} closed-won expansion deals credited; CSM source bonus {_money(bonus)} "
                 f"(main.csm_source_bonus)")
    if no_source:
        lines.append(f"  NOTE: {no_source:,} won deals have no source: credited by the "
                     f"'{track.missing_source}' rule (tracking.missing_source)")
    if no_rep:
        lines.append(f"  NOTE: {no_rep:,} won deals have no deal owner and no territory rep: credited to no rep")
    return lines


def _balance_title(settings: PlanSettings) -> str:
    territory = settings.territory
    title = (f"Territory balance (EEV per unit of capacity; tolerance +/-{territory.balance_tolerance:.0%}; "
             "moved = accounts taken from their current owner)")
    if territory.effective_date:
        title += f"; mid-year rebalance effective {territory.effective_date}"
    return title


def forecast_lines(con: duckdb.DuckDBPyConnection, settings: PlanSettings) -> list[str]:
    """Per segment: the quota factor, how it was chosen, and the share of reps the Monte Carlo of the
    year predicts to attain (with its P10-P90 over simulated years) and the predicted spread."""
    if not table_exists(con, "main", "quota_factors"):
        return []
    order = {"order": [row["segment"] for row in settings.segment_table()]}
    rows = con.execute(FORECAST_SQL, order).fetchall()
    target = settings.quota.target_attainment_share
    title = (f"Predicted attainment ({settings.forecast.draws:,} simulated years; target: {target:.0%} of reps "
             "attaining; main.quota_factors, main.attainment_forecast)")
    lines = [title]
    lines += _table(
        ["segment", "factor", "reps attaining", "P10-P90", "attainment CV", f"factor for {target:.0%}", "how chosen"],
        [[s, f"{f:.3f}", _share(share), f"{_share(low)}-{_share(high)}", _ratio(cv),
          "-" if tf is None else f"{tf:.3f}", note]
         for s, f, note, share, low, high, cv, tf in rows],
        text_columns=frozenset({0, 6}),
    )
    return lines


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def company_target_line(settings: PlanSettings, total_quota: float) -> list[str]:
    """Sum of quotas against the company target (when the settings give one)."""
    target = settings.territory.company_target
    if target is None:
        return []
    gap = total_quota / target - 1
    word = "over-assigned" if gap >= 0 else "under-assigned"
    return [f"Company target {_money(target)}: quotas sum to {_money(total_quota)}, {word} by {abs(gap):.1%}"]


def plan_summary(con: duckdb.DuckDBPyConnection, settings: PlanSettings, db: Path) -> str:
    """A short, readable summary of the current plan."""
    run = con.execute(
        "SELECT run_id, as_of, model_version, data_fingerprint, settings_hash FROM main.plan_runs "
        "WHERE run_id = (SELECT plan_id FROM plans.current_plan)"
    ).fetchone()
    lines = [f"Plan {run[0]} as of {run[1]}  (model {run[2]}, data {run[3]}, settings {run[4]})", ""]
    lines.append("Accounts by segment")
    order = {"order": [row["segment"] for row in settings.segment_table()]}
    figures = segment_figures(con, run[0], settings).filter(pl.col("segment") != "total")
    segments = figures.filter(pl.col("accounts").is_not_null())
    lines += _table(
        ["segment", "accounts", "ACV", "whitespace", "EEV", "joint planning"],
        [[s, f"{n:,}", _money(acv), _money(ws), _money(eev), f"{jp:,}"] for s, n, acv, ws, eev, jp in segments.select(
            "segment", "accounts", "acv", "whitespace", "eev", "joint_planning_accounts").rows()],
    )
    lines += ["", "Reps and quotas by segment"]
    quotas = figures.filter(pl.col("reps") > 0).select(
        "segment", "reps", "capacity", "rep_accounts", "territory_eev", "quota", "factor").rows()
    lines += _table(
        ["segment", "reps", "capacity", "accounts", "territory EEV", "factor", "quota"],
        [[s, f"{r}", f"{c:.1f}", f"{a:,}", _money(eev), f"{f:.3f}", _money(q)] for s, r, c, a, eev, q, f in quotas],
    )
    lines += company_target_line(settings, sum(row[5] or 0 for row in quotas))
    lines += ["", *forecast_lines(con, settings)]
    lines += ["", _balance_title(settings)]
    lines += _table(
        ["segment", "method", "CV", "max/min", "in tol.", f"in +/-{settings.territory.report_band:.0%}",
         "largest dev.", "moved", "EEV moved", "new placed"],
        [[s, m, f"{cv:.3f}", "-" if ratio is None else f"{ratio:.2f}", f"{tol:.0%}", f"{band:.0%}",
          f"{dev:.1%}", f"{moved:,}", _money(eev), f"{placed:,}"]
         for s, m, cv, ratio, tol, band, dev, moved, eev, placed in con.execute(BALANCE_SQL, order).fetchall()],
    )
    for seg in settings.factors_outside_range():
        lines.append(f"NOTE: quota_factor {seg.quota_factor} of {seg.name} is outside 0.60-0.75 (allowed by settings)")
    chosen, fallback, uses_usage = con.execute(
        "SELECT chosen, fallback_reason, uses_usage FROM main.model_info"
    ).fetchone()
    lines += ["", f"Close-probability model: {chosen}" + ("" if uses_usage else " (no usage table: no usage features)")]
    if fallback:
        lines.append(f"WARNING: {fallback}")
    elif chosen == "base_rate":
        lines.append("WARNING: no model beat the base rate on the holdout; p_close are base rates "
                     "(published because model.allow_base_rate_plan is true)")
    metrics = dict(con.execute(
        "SELECT metric, value FROM main.model_metrics WHERE model = 'chosen' AND segment = 'all'"
    ).fetchall())
    if metrics:
        shown = ", ".join(f"{m} {metrics[m]:.3f}" for m in ("roc_auc", "brier", "log_loss", "ece") if m in metrics)
        lines.append(f"  holdout: {shown}")
    lines += ["", *data_quality_lines(con)]
    moved = con.execute("SELECT count(*) FILTER (WHERE moved), count(*) FROM main.territories").fetchone()
    lines.append(f"Territories: {moved[1]:,} accounts assigned, {moved[0]:,} change owner")
    if table_exists(con, "main", "tracking_runs"):
        lines += ["", *tracking_summary(con, settings)]
    lines += [
        "",
        f"Outputs: DuckDB file {db.resolve()}",
        "  tables main.whitespace_items, main.account_eev, main.territories, main.territory_moves, "
        "main.territory_balance, main.quotas, main.quota_contributions, main.model_metrics, main.data_quality, "
        "main.rejected_rows, main.quota_factors, main.attainment_forecast, main.amount_spread, "
        "main.plan_runs (versions in schema plans); tracking: main.expansion_credits, "
        "main.csm_source_bonus, main.attainment, main.pipeline_coverage, main.tracking_runs",
    ]
    return "\n".join(lines)


def drift_summary(con: duckdb.DuckDBPyConnection) -> str:
    """Each rep's territory EEV after a refresh against the plan it is compared with."""
    rows = con.execute(
        "SELECT plan_id, rep_id, segment, plan_territory_eev, current_territory_eev, drift, drift_share, flagged "
        "FROM work.eev_drift ORDER BY flagged DESC, abs(drift) DESC, rep_id"
    ).fetchall()
    plan = rows[0][0] if rows else "(none)"
    flagged = sum(1 for r in rows if r[7])
    table = _table(
        ["rep", "segment", "plan EEV", "EEV now", "drift", "drift %", "flag"],
        [[r[1], r[2], _money(r[3]), _money(r[4]), _money(r[5]),
          "" if r[6] is None else f"{r[6]:+.1%}", "!" if r[7] else ""] for r in rows],
    )
    return "\n".join([f"Territory EEV drift against plan {plan}: {flagged} of {len(rows)} reps flagged", *table])
