"""Backtest: plan as of a past date, then compare the plan's quotas with what was won afterwards.

The backtest runs `backtest_job` (every plan asset plus the backtest assets) as of the past
date into its own DuckDB file, so the model is trained only on snapshots whose labels closed
before that date and the user's real plan file is never touched. sql/backtest/backtest_results.sql
credits the expansion ARR won in the following `evaluation.backtest_months` to the rep who
owned each account in that plan and sets it next to three quota schemes of the same total
per segment (EEV-based, flat by capacity, proportional to ACV); sql/backtest/backtest_summary.sql
reports the share of reps attaining, the spread of attainment and the forecast error.

Known limits: reps and account attributes (industry, employees, renewal date) are read as
they are in the input files today; only dated facts (subscriptions, usage, opportunities)
are cut at the plan date.
"""

from __future__ import annotations

import calendar
import datetime as dt
from pathlib import Path

import duckdb

from pipeline.core.settings import PlanSettings
from pipeline.core.warehouse import artifact_dir

BACKTEST_JOB = "backtest_job"
BACKTEST_GROUP = "backtest"  # the backtest assets; plan_job leaves this group out
LATEST_DATA_SQL = """
SELECT greatest(
    (SELECT max(greatest(created_date, coalesce(close_date, created_date))) FROM raw.opportunities),
    (SELECT max(date) FROM raw.usage),
    (SELECT max(start_date) FROM raw.subscriptions))
"""


class BacktestError(ValueError):
    """The data cannot judge a plan as of this date."""


def actuals_end(settings: PlanSettings) -> dt.date:
    """The day after the last day whose wins the backtest counts (as_of + backtest_months, the
    day clamped to the month's length, as DuckDB's date + INTERVAL does)."""
    months = settings.as_of.month - 1 + settings.evaluation.backtest_months
    year, month = settings.as_of.year + months // 12, months % 12 + 1
    return dt.date(year, month, min(settings.as_of.day, calendar.monthrange(year, month)[1]))


def backtest_params(settings: PlanSettings, con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """Bound parameters of the backtest SQL; refuses a plan date without a full window of actuals."""
    row = con.execute(LATEST_DATA_SQL).fetchone()
    latest = row[0] if row else None
    end = actuals_end(settings)
    if latest is None or latest < end - dt.timedelta(days=1):
        raise BacktestError(
            f"a backtest as of {settings.as_of} needs {settings.evaluation.backtest_months} months of actuals, "
            f"until {end - dt.timedelta(days=1)}, but the input data ends on {latest}; choose an earlier --as-of"
        )
    return {"as_of": settings.as_of, "backtest_months": settings.evaluation.backtest_months}


def backtest_chart_path(db: str | Path, as_of: dt.date) -> Path:
    """Where the backtest chart of ``as_of`` is saved: artifacts/ beside the DuckDB file."""
    return artifact_dir(db) / f"backtest_{as_of}.png"


SUMMARY_SQL = """
SELECT scheme, segment, reps, share_attaining, predicted_share_attaining, attainment_cv, mape, forecast_to_actual,
       total_quota, total_actual
FROM main.backtest_summary ORDER BY scheme_order, segment = 'all' DESC, segment
"""


def _number(value: float | None, pattern: str) -> str:
    return "-" if value is None else format(value, pattern)


def backtest_report(con: duckdb.DuckDBPyConnection, chart: Path) -> str:
    """The comparison of the quota schemes as readable text."""
    rows = con.execute(SUMMARY_SQL).fetchall()
    header = (f"{'scheme':<17} {'segment':<14} {'reps':>4} {'attaining':>9} {'predicted':>9} {'CV':>6} {'MAPE':>6} "
              f"{'fcst/act':>8} {'total quota':>13} {'total actual':>13}")
    lines = [header]
    for scheme, segment, reps, share, predicted, cv, mape, ratio, quota, actual in rows:
        lines.append(
            f"{scheme:<17} {segment:<14} {reps:>4} {_number(share, '9.0%')} {_number(predicted, '9.0%')} "
            f"{_number(cv, '6.3f')} {_number(mape, '6.1%')} {_number(ratio, '8.2f')} {quota:>13,.0f} {actual:>13,.0f}"
        )
    lines += [
        "",
        "attaining: share of reps whose actual expansion ARR >= quota; predicted: the share the plan's",
        "Monte Carlo of the year predicted (mean P(attain) of the reps); CV: spread of attainment",
        "(stddev / mean, lower is fairer); MAPE: mean |forecast - actual| / actual per rep;",
        "fcst/act: total forecast / total actual. Tables main.backtest_results, main.backtest_summary.",
    ]
    lines.append(f"Chart: {chart}")
    return "\n".join(lines)
