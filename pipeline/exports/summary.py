"""The run summary printed after a plan: segments, reps and quotas, the model, where things are.
Table cells from the data (ids, file names, example keys) are printed as plain text (`printable`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl

from pipeline.core.plain_text import printable
from pipeline.core.settings import PlanSettings
from pipeline.core.warehouse import table_exists
from pipeline.exports.sheets import BEHIND_FLAGS, segment_figures

BALANCE_SQL = """
SELECT segment, method, balance_cv, max_min_ratio, share_within_tolerance, share_within_report_band,
       largest_deviation, accounts_moved, eev_moved, accounts_placed
FROM main.territory_balance ORDER BY list_position($order, segment)
"""

# anchor accounts of the plan (pipeline/plan/territory/anchor.py) against one full-capacity rep's target (exact
# sums as in sql/plan/balance_diagnosis.sql: docs/method.md)
ANCHORS_SQL = """
SELECT t.segment, t.account_id, a.eev, a.eev / s.full_target AS times_target, t.rep_id, t.previous_rep_id, t.reason
FROM main.territories AS t
JOIN main.account_eev AS a USING (account_id)
JOIN (SELECT segment, CAST(sum(CAST(owned_eev AS DECIMAL(38, 6))) / sum(CAST(capacity AS DECIMAL(38, 12))) AS DOUBLE)
             AS full_target
      FROM main.quotas GROUP BY segment) AS s
  ON s.segment = t.segment
WHERE t.anchor
ORDER BY list_position($order, t.segment), a.eev DESC, t.account_id
"""

DIAGNOSIS_SQL = """
SELECT segment, cause, explanation, fix FROM main.balance_diagnosis ORDER BY list_position($order, segment), cause
"""

# the reps in segment order, or (`$behind_first`, when not every rep is listed) the most behind first:
# urgent, then warning, lowest coverage first
TRACKING_SQL = """
SELECT c.rep_id, c.segment, c.quota, c.ytd_quota, c.credited_ytd, a.attainment, c.window_quota,
       c.window_pipeline, c.coverage, c.flag, c.won_deals, c.lost_deals, c.opp_to_close_rate
FROM main.pipeline_coverage AS c
JOIN main.attainment AS a ON a.rep_id = c.rep_id AND a.period = 'year_to_date'
ORDER BY CASE WHEN $behind_first THEN list_position($behind_flags, c.flag) END NULLS LAST,
         CASE WHEN $behind_first THEN c.coverage END NULLS LAST,
         list_position($order, c.segment), c.rep_id
LIMIT $lines
"""

TRACKING_SEGMENTS_SQL = """
SELECT c.segment, count(*) AS reps, sum(c.quota), sum(c.ytd_quota), sum(c.credited_ytd),
       sum(c.credited_ytd) / nullif(sum(c.ytd_quota), 0), count(*) FILTER (WHERE c.flag = 'urgent'),
       count(*) FILTER (WHERE c.flag = 'warning')
FROM main.pipeline_coverage AS c
GROUP BY c.segment ORDER BY list_position($order, c.segment)
"""

FORECAST_SQL = """
SELECT segment, factor, note, attaining_share, p10_attaining_share, p90_attaining_share, attainment_cv, target_factor
FROM main.quota_factors ORDER BY list_position($order, segment)
"""

HEADCOUNT_SQL = """
SELECT segment, capacity, reps_needed_at_book_max, reps_allowed_at_book_min, reps_needed_at_target_eev, staffing
FROM main.segment_headcount ORDER BY list_position($order, segment)
"""

EXAMPLES_WIDTH = 48


def _money(value: float | None) -> str:
    return f"{value or 0:,.0f}"


def _table(headers: list[str], rows: list[list[str]], text_columns: frozenset[int] = frozenset({0})) -> list[str]:
    """Aligned columns: the `text_columns` (by position) to the left, numbers to the right."""
    rows = [[printable(c) for c in r] for r in rows]
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


def _last_day(end: dt.date | None) -> dt.date | None:
    """The last day of a [start, end) period, as letters and reports say it."""
    return end and end - dt.timedelta(days=1)


def tracking_summary(con: duckdb.DuckDBPyConnection, settings: PlanSettings) -> list[str]:
    """One line per expansion rep: year-to-date credits against phased quota, window coverage, flag.
    With more reps than exports.summary_rep_lines: one line per segment, then the reps most behind."""
    plan_id, start, end, through = con.execute(
        "SELECT plan_id, plan_start, plan_end, through FROM main.tracking_runs "
        "WHERE plan_id = (SELECT plan_id FROM plans.current_plan) ORDER BY created_at DESC LIMIT 1"
    ).fetchone()
    window = con.execute("SELECT any_value(window_start), any_value(window_end) FROM main.pipeline_coverage").fetchone()
    order = {"order": [row["segment"] for row in settings.segment_table()]}
    shown = settings.exports.summary_rep_lines
    reps = con.execute("SELECT count(*) FROM main.pipeline_coverage").fetchone()[0]
    rows = con.execute(TRACKING_SQL, {**order, "behind_first": reps > shown, "behind_flags": list(BEHIND_FLAGS),
                                      "lines": shown}).fetchall()
    track = settings.tracking
    lines = [
        f"In-year tracking of plan {plan_id} (plan year {start} to {_last_day(end)}) through {through}",
        (f"  coverage = qualified pipeline expected to close {window[0]} to {_last_day(window[1])} / the quota "
         f"phased over those days; warning < {track.coverage_warning:g}x, urgent < {track.coverage_urgent:g}x "
         "(never urgent when ahead of the year-to-date pace)"),
    ]
    if reps > shown:
        lines += _table(
            ["segment", "reps", "quota", "YTD quota", "credited YTD", "attainment", "urgent", "warning"],
            [[s, f"{n:,}", _money(q), _money(pq), _money(cr), _ratio(att), f"{u:,}", f"{w:,}"]
             for s, n, q, pq, cr, att, u, w in con.execute(TRACKING_SEGMENTS_SQL, order).fetchall()],
        )
        lines.append(f"  the {shown:,} of {reps:,} reps most behind (urgent, then warning, lowest coverage first; "
                     "every rep: main.pipeline_coverage, exports.summary_rep_lines)")
    lines += _table(
        ["rep", "segment", "quota", "YTD quota", "credited YTD", "attainment", "window quota", "window pipeline",
         "coverage", "flag", "won/lost", "win rate"],
        [[r, s, _money(q), _money(pq), _money(cr), _ratio(att), _money(wq), _money(pipe), _ratio(cov, "x"),
          flag, f"{won}/{lost}", _ratio(rate)]
         for r, s, q, pq, cr, att, wq, pipe, cov, flag, won, lost, rate in rows],
    )
    deals, no_source, no_rep, bonus = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE source_defaulted), count(*) FILTER (WHERE rep_id IS NULL), "
        "CAST(sum(CAST(csm_source_bonus AS DECIMAL(38, 6))) AS DOUBLE) FROM main.expansion_credits"  # exact sum
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


def anchor_lines(con: duckdb.DuckDBPyConnection, settings: PlanSettings, order: dict[str, list[str]]) -> list[str]:
    """One line per anchor account, then one per balance diagnosis (why reps are out of tolerance, the fix)."""
    if not table_exists(con, "main", "balance_diagnosis"):  # a plan version from before anchors
        return []
    anchors = con.execute(ANCHORS_SQL, order).fetchall()
    title = (f"Anchors (EEV above {settings.territory.anchor_share:.0%} of a full-capacity rep's target; placed "
             f"first, one per full-capacity rep where possible): {len(anchors):,}")
    lines = [title]
    shown = settings.exports.summary_rep_lines
    for segment, account, eev, times, rep, previous, reason in anchors[:shown]:
        how = "kept" if previous == rep else f"from {previous}: {reason}" if previous else reason
        lines.append(f"  {segment}  {account}  EEV {_money(eev)} = {times:.2f}x target  -> {rep} ({how})")
    lines += _more(len(anchors) - shown, "anchor accounts (main.territories where anchor)")
    for segment, cause, explanation, fix in con.execute(DIAGNOSIS_SQL, order).fetchall():
        lines.append(f"BALANCE {segment} ({cause}): {explanation}; fix: {fix}")
    return lines


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


def headcount_line(con: duckdb.DuckDBPyConnection, order: dict[str, list[str]]) -> list[str]:
    """One line: each segment's capacity against the full-capacity reps its book sizes need (main.segment_headcount)."""
    if not table_exists(con, "main", "segment_headcount"):
        return []
    parts = [
        f"{seg} has {capacity:.1f}, needs {needed}" + ("" if allowed is None else f"-{allowed}")
        + ("" if target is None else f", {target} at its target EEV") + f" ({staffing})"
        for seg, capacity, needed, allowed, target, staffing in con.execute(HEADCOUNT_SQL, order).fetchall()
    ]
    return ["Headcount in full-capacity reps (at book_max - at book_min): " + "; ".join(parts)]


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


HISTORY_SQL = """
SELECT coalesce(segment, 'all segments'), quota, trailing_bookings, quota_to_bookings, company_target, quota_to_target
FROM plans.quota_history WHERE plan_id = $plan_id AND level IN ('plan', 'segment')
ORDER BY level = 'segment', list_position($order, segment)
"""


def review_section(con: duckdb.DuckDBPyConnection, plan_id: str, settings: PlanSettings) -> list[str]:
    """Quota against the trailing 12 months' bookings per segment, then every reason the plan
    needs review and every warning (plans.plan_review), one line each with its figures."""
    if not table_exists(con, "plans", "quota_history"):
        return []
    order = {"order": [row["segment"] for row in settings.segment_table()]}
    rows = con.execute(HISTORY_SQL, {"plan_id": plan_id, **order}).fetchall()
    lines = ["Quota against the expansion ARR won on the same accounts in the 12 months before the plan date"]
    lines += _table(["segment", "quota", "won 12m before", "quota / won"],
                    [[s, _money(q), _money(b), "-" if r is None else f"{r:.0%}"] for s, q, b, r, _, _ in rows])
    target = rows[0][4] if rows else None
    if target:
        lines.append(f"  company target {_money(target)}: quota is {rows[0][5]:.0%} of it")
    findings = con.execute(
        "SELECT severity, message FROM plans.plan_review WHERE plan_id = ? "
        "ORDER BY severity, segment NULLS FIRST, reason", [plan_id]).fetchall()
    lines += [f"{'NEEDS REVIEW' if severity == 'review' else 'WARNING'}: {message}" for severity, message in findings]
    return lines


def review_hold_summary(con: duckdb.DuckDBPyConnection, plan_id: str, settings: PlanSettings) -> str:
    """What the run prints when its plan is held for review: why, and the plan's quotas."""
    current = con.execute("SELECT any_value(plan_id) FROM plans.current_plan").fetchone()[0]
    lines = [f"Plan {plan_id} was written but NOT made current: it needs review "
             f"({'plan ' + current + ' stays current' if current else 'there is no current plan'}).",
             f"Look at it with `quota-plan export --plan {plan_id}`; send it only after fixing the causes, or "
             f'with `quota-plan publish {plan_id} --acknowledge "why"`; review.accept_degraded: true makes such '
             "plans current.", ""]
    figures = segment_figures(con, plan_id, settings).filter((pl.col("segment") != "total") & (pl.col("reps") > 0))
    lines.append("Reps and quotas by segment")
    lines += _table(["segment", "reps", "accounts", "territory EEV", "quota"],
                    [[s, f"{r:,}", f"{a:,}", _money(eev), _money(q)] for s, r, a, eev, q in figures.select(
                        "segment", "reps", "rep_accounts", "territory_eev", "quota").rows()])
    return "\n".join([*lines, "", *review_section(con, plan_id, settings)])


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
        [[s, f"{r:,}", f"{c:,.1f}", f"{a:,}", _money(eev), f"{f:.3f}", _money(q)] for s, r, c, a, eev, q, f in quotas],
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
    lines += anchor_lines(con, settings, order)
    lines += headcount_line(con, order)
    for seg in settings.factors_outside_range():
        lines.append(f"NOTE: quota_factor {seg.quota_factor} of {seg.name} is outside 0.60-0.75 (allowed by settings)")
    if review := review_section(con, run[0], settings):
        lines += ["", *review]
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
    if table_exists(con, "main", "tracking_runs") and con.execute(
            "SELECT count(*) FROM main.tracking_runs WHERE plan_id = ?", [run[0]]).fetchone()[0]:
        lines += ["", *tracking_summary(con, settings)]
    lines += [
        "",
        f"Outputs: DuckDB file {db.resolve()}",
        ("  tables main.whitespace_items, main.account_eev, main.territories, main.territory_moves, "
         "main.territory_balance, main.balance_diagnosis, main.quotas, main.quota_contributions, main.model_metrics, "
         "main.data_quality, main.rejected_rows, main.quota_factors, main.attainment_forecast, main.amount_spread, "
         "main.quota_history, main.plan_review, main.plan_runs (versions in schema plans); tracking: "
         "main.expansion_credits, main.csm_source_bonus, main.attainment, main.pipeline_coverage, main.tracking_runs"),
    ]
    return "\n".join(lines)


def _more(hidden: int, what: str) -> list[str]:
    """The line that counts the rows a capped list leaves out (none when it leaves none out)."""
    return [f"  ... and {hidden:,} more {what}"] if hidden > 0 else []


def drift_summary(con: duckdb.DuckDBPyConnection, settings: PlanSettings) -> str:
    """Each rep's territory EEV after a refresh against the plan it is compared with, flagged and
    largest drift first, up to exports.summary_rep_lines reps."""
    plan, reps, flagged = con.execute(
        "SELECT coalesce(any_value(plan_id), '(none)'), count(*), count(*) FILTER (WHERE flagged) FROM work.eev_drift"
    ).fetchone()
    shown = settings.exports.summary_rep_lines
    rows = con.execute(
        "SELECT rep_id, segment, plan_territory_eev, current_territory_eev, drift, drift_share, flagged "
        "FROM work.eev_drift ORDER BY flagged DESC, abs(drift) DESC, rep_id LIMIT ?", [shown]
    ).fetchall()
    table = _table(
        ["rep", "segment", "plan EEV", "EEV now", "drift", "drift %", "flag"],
        [[r[0], r[1], _money(r[2]), _money(r[3]), _money(r[4]),
          "" if r[5] is None else f"{r[5]:+.1%}", "!" if r[6] else ""] for r in rows],
    )
    return "\n".join([f"Territory EEV drift against plan {plan}: {flagged:,} of {reps:,} reps flagged", *table,
                      *_more(reps - shown, "reps (work.eev_drift)")])
