"""Whitespace: peer benchmarks, the whitespace items with their explanations, and the model's
feature table (one SQL for training snapshots and the plan date, so no train/serve skew)."""

from pipeline.sql_assets import sql_asset

peer_benchmarks = sql_asset(
    "peer_benchmarks", deps=["account_state", "holdings", "raw_products"], group="whitespace"
)
whitespace_items = sql_asset(
    "whitespace_items",
    deps=["peer_benchmarks", "holdings", "usage_features", "account_state", "raw_products"],
    group="whitespace",
)
item_features = sql_asset(
    "item_features",
    deps=["whitespace_items", "account_state", "usage_features", "holdings", "raw_opportunities"],
    group="whitespace",
)
