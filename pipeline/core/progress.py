"""Progress lines on stderr while a plan runs from the command line.

Every step reports what it finished with `log_step` (a Dagster log record carrying the step,
its detail and its seconds). The runner adds the `progress` logger to a CLI run's loggers; it
prints one line `[ i/N] step  seconds  detail` per finished step. The counter lives in the
logger, which Dagster creates for each run, so nothing is kept between runs."""

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


def run_config(total: int) -> dict:
    """Run config that turns the progress lines on for a run of `total` steps."""
    return {"loggers": {"progress": {"config": {"total": total}}}}
