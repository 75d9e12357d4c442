"""Weekly usage partitions (weeks start on Monday) and which weeks a refresh loads.

A run covering a range of weeks loads them in one step (single-run backfill policy). The
first week also holds any usage dated before it and the last week anything after it, so a
run over every week loads the whole usage file."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from pipeline.core import warehouse
from pipeline.core.warehouse import WarehouseBusyError
from pipeline.ingestion.ingest import file_usage_fingerprints, stored_usage_fingerprints

if TYPE_CHECKING:
    from pipeline.defs.resources import PlanInputs

USAGE_ASSET = dg.AssetKey("raw_usage")
# the run tags by which Dagster runs one step over a range of partitions (a single-run backfill)
PARTITION_RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
MONDAY = 1  # day_offset of WeeklyPartitionsDefinition (0 = Sunday)


def usage_weeks(start: dt.date) -> dg.WeeklyPartitionsDefinition:
    return dg.WeeklyPartitionsDefinition(start_date=start.isoformat(), day_offset=MONDAY)


def week_range_tags(weeks: dg.WeeklyPartitionsDefinition, first: str, last: str) -> dict[str, str]:
    """Run tags that make one run load the weeks first..last (inclusive); none for every week: a
    run without a partition loads the whole usage file, recorded as one materialization (a run
    over a range of N partitions writes 4N event records to the Dagster home, one disk sync
    each: about a minute for the 256 default weeks)."""
    keys = weeks.get_partition_keys()
    if (first, last) == (keys[0], keys[-1]):
        return {}
    start, end = PARTITION_RANGE_TAGS
    return {start: first, end: last}


def new_weeks(instance: dg.DagsterInstance, weeks: dg.WeeklyPartitionsDefinition) -> tuple[str, str]:
    """The weeks a refresh loads: those after the newest loaded week, up to the last complete
    week; the last week again when none is new (it is replaced, so this is idempotent)."""
    keys = weeks.get_partition_keys()
    loaded = (instance.get_materialized_partitions(USAGE_ASSET) | {_last_week_of_whole_load(instance)}) & set(keys)
    if not loaded:
        return keys[0], keys[-1]
    newest = keys.index(max(loaded))
    return keys[min(newest + 1, len(keys) - 1)], keys[-1]


def _last_week_of_whole_load(instance: dg.DagsterInstance) -> str | None:
    """The last week of the latest whole-file usage load (a run without a partition), from its
    materialization's `weeks` metadata ("first .. last"); None when there was none."""
    event = instance.get_latest_materialization_event(USAGE_ASSET)
    materialization = event.asset_materialization if event else None
    if materialization is None or materialization.partition is not None:
        return None
    weeks = materialization.metadata.get("weeks")
    return str(weeks.value).split(" .. ")[-1] if weeks is not None else None


def changed_weeks(weeks: dg.WeeklyPartitionsDefinition, input_dir: str | Path, db: str | Path) -> tuple[str, str]:
    """The weeks a refresh loads when the warehouse's loaded weeks are compared with the usage
    file: from the earliest week whose rows differ (added, restated or removed; see
    ingest.file_usage_fingerprints) to the last week; the last week again when none differs;
    every week when none is loaded (the file is then not scanned). Raises WarehouseBusyError while a run writes the warehouse."""
    keys = weeks.get_partition_keys()
    if not Path(input_dir).is_dir():  # the run reports the missing folder
        return keys[-1], keys[-1]
    loaded: set = set()
    if Path(db).exists():
        with warehouse.connect(db, read_only=True) as con:
            loaded = stored_usage_fingerprints(con)
    if not loaded:  # no week loaded yet, or usage kept in place (Spark): every week, no scan
        return keys[0], keys[-1]
    in_file = file_usage_fingerprints(input_dir)
    differing = {week for week, _, _ in in_file ^ loaded}
    if not differing:
        return keys[-1], keys[-1]
    earliest = min(differing).isoformat()
    return min(max(earliest, keys[0]), keys[-1]), keys[-1]


def refresh_weeks(
    instance: dg.DagsterInstance, weeks: dg.WeeklyPartitionsDefinition, plan_inputs: PlanInputs, db: str | Path
) -> tuple[str, str]:
    """The weeks a scheduled or sensor-started refresh loads: the changed weeks of the usage
    file, else (a source mapping, whose usage exists only after the run maps it, or the
    warehouse busy with another run) the weeks after the newest loaded one."""
    if not plan_inputs.mapping:
        with contextlib.suppress(WarehouseBusyError):
            return changed_weeks(weeks, plan_inputs.path, db)
    return new_weeks(instance, weeks)


def week_bounds(
    weeks: dg.WeeklyPartitionsDefinition, first: str, last: str
) -> tuple[dt.date | None, dt.date | None]:
    """The usage dates [start, end) of weeks first..last; None where the range is open."""
    keys = weeks.get_partition_keys()
    start = None if first == keys[0] else dt.date.fromisoformat(first)
    end = None if last == keys[-1] else dt.date.fromisoformat(last) + dt.timedelta(days=7)
    return start, end
