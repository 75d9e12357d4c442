"""The run summary printed after a plan: segments, reps and quotas, the model, where things are."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.settings import PlanSettings

SEGMENT_SQL = """
SELECT a.segment, count(*) AS accounts, sum(a.acv) AS acv, sum(a.whitespace) AS whitespace, sum(a.eev) AS eev,
       count(*) FILTER (WHERE a.joint_planning) AS joint_planning
FROM main.account_eev AS a GROUP BY a.segment
ORDER BY list_position($order, a.segment)
"""

QUOTA_SQL = """
SELECT segment, count(*) AS reps, sum(capacity) AS capacity, sum(accounts) AS accounts,
       sum(territory_eev) AS territory_eev, sum(quota) AS quota, any_value(factor) AS factor,
       coalesce(stddev_pop(territory_eev / capacity) / nullif(avg(territory_eev / capacity), 0), 0) AS balance_cv
FROM main.quotas GROUP BY segment ORDER BY list_position($order, segment)
"""


def _money(value: float | None) -> str:
    return f"{value or 0:,.0f}"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(headers, widths, strict=True)))
    body = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))) for r in rows]
    return [line, *body]


def plan_summary(con: duckdb.DuckDBPyConnection, settings: PlanSettings, db: Path) -> str:
    """A short, readable summary of the current plan."""
    run = con.execute(
        "SELECT run_id, as_of, model_version, data_fingerprint, settings_hash FROM main.plan_runs "
        "WHERE run_id = (SELECT plan_id FROM plans.current_plan)"
    ).fetchone()
    lines = [f"Plan {run[0]} as of {run[1]}  (model {run[2]}, data {run[3]}, settings {run[4]})", ""]
    lines.append("Accounts by segment")
    order = {"order": [row["segment"] for row in settings.segment_table()]}
    segments = con.execute(SEGMENT_SQL, order).fetchall()
    lines += _table(
        ["segment", "accounts", "ACV", "whitespace", "EEV", "joint planning"],
        [[s, f"{n:,}", _money(acv), _money(ws), _money(eev), f"{jp:,}"] for s, n, acv, ws, eev, jp in segments],
    )
    lines += ["", "Reps and quotas by segment"]
    quotas = con.execute(QUOTA_SQL, order).fetchall()
    lines += _table(
        ["segment", "reps", "capacity", "accounts", "territory EEV", "factor", "quota", "EEV/capacity CV"],
        [[s, f"{r}", f"{c:.1f}", f"{a:,}", _money(eev), f"{f:.3f}", _money(q), f"{cv:.3f}"]
         for s, r, c, a, eev, q, f, cv in quotas],
    )
    for seg in settings.factors_outside_range():
        lines.append(f"NOTE: quota_factor {seg.quota_factor} of {seg.name} is outside 0.60-0.75 (allowed by settings)")
    chosen, fallback, uses_usage = con.execute(
        "SELECT chosen, fallback_reason, uses_usage FROM main.model_info"
    ).fetchone()
    lines += ["", f"Close-probability model: {chosen}" + ("" if uses_usage else " (no usage table: no usage features)")]
    if fallback:
        lines.append(f"WARNING: {fallback}")
    metrics = dict(con.execute(
        "SELECT metric, value FROM main.model_metrics WHERE model = 'chosen' AND segment = 'all'"
    ).fetchall())
    if metrics:
        shown = ", ".join(f"{m} {metrics[m]:.3f}" for m in ("roc_auc", "brier", "log_loss", "ece") if m in metrics)
        lines.append(f"  holdout: {shown}")
    moved = con.execute("SELECT count(*) FILTER (WHERE moved), count(*) FROM main.territories").fetchone()
    lines += [
        f"Territories: {moved[1]:,} accounts assigned, {moved[0]:,} change owner",
        "",
        f"Outputs: DuckDB file {db.resolve()}",
        "  tables main.whitespace_items, main.account_eev, main.territories, main.quotas, "
        "main.model_metrics, main.plan_runs (versions in schema plans)",
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
