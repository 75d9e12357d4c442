"""Weekly usage partitions (weeks start on Monday) and which weeks a refresh loads.

A run covering a range of weeks loads them in one step (single-run backfill policy). The
first week also holds any usage dated before it and the last week anything after it, so a
run over every week loads the whole usage file."""

from __future__ import annotations

import datetime as dt

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

USAGE_ASSET = dg.AssetKey("raw_usage")
MONDAY = 1  # day_offset of WeeklyPartitionsDefinition (0 = Sunday)


def usage_weeks(start: dt.date) -> dg.WeeklyPartitionsDefinition:
    return dg.WeeklyPartitionsDefinition(start_date=start.isoformat(), day_offset=MONDAY)


def week_range_tags(first: str, last: str) -> dict[str, str]:
    """Run tags that make one run load the weeks first..last (inclusive)."""
    return {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}


def new_weeks(instance: dg.DagsterInstance, weeks: dg.WeeklyPartitionsDefinition) -> tuple[str, str]:
    """The weeks a refresh loads: those after the newest loaded week, up to the last complete
    week; the last week again when none is new (it is replaced, so this is idempotent)."""
    keys = weeks.get_partition_keys()
    loaded = instance.get_materialized_partitions(USAGE_ASSET) & set(keys)
    if not loaded:
        return keys[0], keys[-1]
    newest = keys.index(max(loaded))
    return keys[min(newest + 1, len(keys) - 1)], keys[-1]


def week_bounds(
    weeks: dg.WeeklyPartitionsDefinition, first: str, last: str
) -> tuple[dt.date | None, dt.date | None]:
    """The usage dates [start, end) of weeks first..last; None where the range is open."""
    keys = weeks.get_partition_keys()
    start = None if first == keys[0] else dt.date.fromisoformat(first)
    end = None if last == keys[-1] else dt.date.fromisoformat(last) + dt.timedelta(days=7)
    return start, end
