"""The scores of the plan's whitespace items, as plain functions (no Dagster): p_close (0-1) from the
close-probability model and expected_amount (E[booked | win], annual money) from the booking-amount
model, with the amount's basis. Grain: (account_id, product_id, kind) of the plan snapshot.

The items are read in batches straight from DuckDB's Arrow stream and scored batch by batch (every
prediction is row by row, so the batches give what one frame would), so the features of a million
accounts' items (45 columns) are never one frame in memory; only the scores are collected.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import polars as pl

from models.close_probability import TrainedModel

PLAN_ITEMS_SQL = "SELECT * FROM work.item_features WHERE role = 'plan' ORDER BY account_id, product_id, kind"
ITEM_BATCH_ROWS = 500_000  # items scored at a time: about 200 MB of features
TEXTBOOK = "textbook"  # the amount basis when model.expected_amount is 'textbook' (amount = whitespace)


def plan_item_batches(con: duckdb.DuckDBPyConnection, rows: int = ITEM_BATCH_ROWS) -> Iterator[pl.DataFrame]:
    """The plan snapshot's item_features in key order, `rows` at a time (one empty frame when none)."""
    reader = con.execute(PLAN_ITEMS_SQL).fetch_record_batch(rows)
    empty = True
    for batch in reader:
        empty = False
        yield pl.from_arrow(batch)
    if empty:
        yield pl.from_arrow(reader.schema.empty_table())


def score_items(model: TrainedModel, items: pl.DataFrame, expected_amount: str) -> pl.DataFrame:
    """(account_id, product_id, kind, p_close, expected_amount, amount_basis) of `items`; the amount is
    the model's (`expected_amount` 'learned') or the whitespace ('textbook')."""
    if expected_amount == "learned":
        amount, basis = model.expected_amount(items)
    else:
        amount, basis = items["whitespace"].to_numpy(), [TEXTBOOK] * items.height
    return items.select("account_id", "product_id", "kind").with_columns(
        p_close=pl.Series(model.predict(items), dtype=pl.Float64),
        expected_amount=pl.Series(amount, dtype=pl.Float64),
        amount_basis=pl.Series(list(basis), dtype=pl.String),
    )


def write_item_scores(con: duckdb.DuckDBPyConnection, model: TrainedModel, expected_amount: str,
                      batch_rows: int = ITEM_BATCH_ROWS) -> None:
    """Score every item of the plan snapshot and write work.item_scores."""
    scores = pl.concat([score_items(model, items, expected_amount)  # noqa: F841  (read by the SQL)
                        for items in plan_item_batches(con, batch_rows)])
    con.execute("CREATE OR REPLACE TABLE work.item_scores AS SELECT * FROM scores ORDER BY ALL")
