"""Whitespace: peer benchmarks, the whitespace items with their explanations, and the model's
feature table (one SQL for training snapshots and the plan date, so no train/serve skew)."""

from pipeline.defs.sql_asset import sql_asset

peer_benchmarks = sql_asset("peer_benchmarks", group="whitespace")
whitespace_items = sql_asset("whitespace_items", group="whitespace")
item_features = sql_asset("item_features", group="whitespace")
