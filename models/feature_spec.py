"""The model's features: columns of work.item_features (see sql/item_features.sql)."""

from __future__ import annotations

import polars as pl

from models.close_probability import FeatureSpec

USAGE_FEATURES = (
    "log_active_users_30d",
    "log_active_users_90d",
    "log_active_users_180d",
    "usage_trend",
    "usage_trend_90d",
    "seat_utilisation",
    "log_account_active_users",
    "account_utilisation",
    "account_usage_growth",
    "account_usage_slope",
    "account_engagement",
)
ACCOUNT_FEATURES = (
    "log_whitespace",
    "log_units",
    "log_price_used",
    "log_benchmark",
    "peer_share",
    "log_units_held",
    "log_potential_units",
    "log_employees",
    "log_list_price",
    "log_acv",
    "acv_growth",
    "products_held",
    "tenure_days",
    "days_to_renewal",
    "prior_expansion_wins",
    "prior_expansion_losses",
    "days_since_last_win",
    "expansion_deal_rate",
    "expansion_win_rate",
    "log_open_pipeline",
)
CATEGORICAL_FEATURES = ("kind", "unit", "segment", "industry", "region", "size_band")


def feature_spec(has_usage: bool, panel: pl.DataFrame | None = None) -> FeatureSpec:
    """The features the model uses; without a usage table the usage columns are left out, and
    numeric columns with no value at all in the training `panel` (e.g. days_to_renewal when the
    source has no renewal dates) are left out too."""
    numeric = ACCOUNT_FEATURES + (USAGE_FEATURES if has_usage else ())
    if panel is not None and panel.height:
        numeric = tuple(c for c in numeric if panel[c].null_count() < panel.height)
    return FeatureSpec(numeric=numeric, categorical=CATEGORICAL_FEATURES)
