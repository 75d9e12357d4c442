"""`quota-plan plans`: the plan versions in a DuckDB file, with their lineage."""

from __future__ import annotations

import argparse

from pipeline.commands.common import add_db_option, one_line, require_db
from pipeline.commands.exit_status import ExitStatus


def add_parser(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser("plans", help="list the plan versions in a DuckDB file",
                              description="List plan versions (and failed runs) with their lineage; "
                              "* marks the current plan, [published] the published one; an adjusted plan "
                              "names the plan it was adjusted from.")
    add_db_option(parser)


def run(args: argparse.Namespace) -> ExitStatus:
    from pipeline.core import warehouse  # noqa: PLC0415
    from pipeline.plan import store as plan_store  # noqa: PLC0415

    require_db(args.db)
    with warehouse.connect(args.db, read_only=True) as con:
        columns = {r[0] for r in con.execute("DESCRIBE plans.plan_runs").fetchall()}
        # an adjusted plan (quota-plan adjust) names its parent and note; files written before it have no such column
        adjusted = ("'adjusted from ' || parent_plan_id || ': ' || note" if "parent_plan_id" in columns
                    else "NULL")
        rows = con.execute(
            "SELECT run_id, status, as_of, created_at, model_version, data_fingerprint, settings_hash, "
            f"coalesce(message, {adjusted}, '') FROM plans.plan_runs ORDER BY created_at"
        ).fetchall()
        current = plan_store.current_plan_id(con)
        published = plan_store.published_plan_id(con)
    print("run_id  status     as_of       created_at           model            data             settings")
    for run_id, status, as_of, created, model, data, settings, message in rows:
        marker = "*" if run_id == current else " "
        message = f"[published] {message}" if run_id == published else one_line(message)
        day = as_of.isoformat() if as_of else ""  # a date's format spec is strftime's: '<11' would print itself
        print(f"{marker}{run_id:<7} {status:<10} {day:<11} {created:%Y-%m-%d %H:%M:%S}  "
              f"{model or '':<16} {data or '':<16} {settings or ''} {message}".rstrip())
    return ExitStatus.OK
