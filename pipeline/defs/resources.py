"""Resources and the executor. DuckDB allows one writing process per file, so runs execute
their steps in-process, one at a time."""

import dagster as dg

from pipeline.resources import resources_from_env


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=resources_from_env(), executor=dg.in_process_executor)
