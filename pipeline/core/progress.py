"""What a run prints on stderr: progress lines, and Dagster's own logs only when asked.

Every step reports what it finished with `log_step` (a Dagster log record carrying the step,
its detail and its seconds). `run_config` gives a run its loggers: the `progress` logger prints
one line `[ i/N] step  seconds  detail` per finished step; Dagster's console logger prints its
records (INFO and up, stack traces of failures included) only with `verbose`, and is otherwise
set to CRITICAL, a level Dagster never logs at, so a failed run prints nothing but the one
message its command gives. The counter lives in the logger, which Dagster creates for each run,
so nothing is kept between runs."""

from __future__ import annotations

import logging
import sys

import dagster as dg

STEP_RECORD = "quota_plan_step"  # attribute of the log records that report a finished step


def log_step(context: dg.AssetExecutionContext | dg.OpExecutionContext, label: str, detail: str,
             seconds: float) -> None:
    """One step finished: a log line for the Dagster UI, and a progress line on the CLI."""
    context.log.info(f"{label}: {detail} in {seconds:.2f}s",
                     extra={STEP_RECORD: {"label": label, "detail": detail, "seconds": seconds}})


class _StepLines(logging.Handler):
    def __init__(self, total: int) -> None:
        super().__init__()
        self.total, self.done = total, 0

    def emit(self, record: logging.LogRecord) -> None:
        step = getattr(record, STEP_RECORD, None)
        if step is None:
            return
        self.done += 1
        total = max(self.total, self.done)
        width = len(str(total))
        print(f"  [{self.done:>{width}}/{total}] {step['label']:<24} {step['seconds']:7.2f}s  {step['detail']}",
              file=sys.stderr, flush=True)


@dg.logger(config_schema={"total": dg.Field(int, default_value=0)},
           description="one line per finished step on stderr: [ i/N] step  seconds  detail")
def progress_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = logging.Logger("quota_plan.progress", level=logging.INFO)
    logger.addHandler(_StepLines(init_context.logger_config["total"]))
    return logger


SILENT, VERBOSE = "CRITICAL", "INFO"  # Dagster's console logger: silent, or its own logs


def run_config(total: int, show_progress: bool, verbose: bool) -> dict:
    """Run config of the loggers of a run of `total` steps."""
    loggers: dict[str, dict] = {"console": {"config": {"log_level": VERBOSE if verbose else SILENT}}}
    if show_progress:
        loggers["progress"] = {"config": {"total": total}}
    return {"loggers": loggers}
