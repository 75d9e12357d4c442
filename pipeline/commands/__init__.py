"""The verbs of `quota-plan`, one module each: `add_parser(verbs)` and `run(args)`, which returns
the verb's exit status (pipeline/commands/exit_status.py; None: done) or raises.

To add a verb, write a module here and list it in VERBS (the order of `--help`)."""

from pipeline.commands import (
    adjust,
    approve,
    backtest,
    diff,
    export,
    plans,
    publish,
    recall,
    refresh,
    review,
    run,
    sample,
    scenarios,
    track,
    validate,
)

VERBS = (sample, validate, run, scenarios, refresh, backtest, track, export, plans, diff, review, approve, publish,
         recall, adjust)
