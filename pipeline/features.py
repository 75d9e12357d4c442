"""The model's features: columns of work.item_features (see sql/item_features.sql)."""

from __future__ import annotations

from models.close_probability import FeatureSpec

USAGE_FEATURES = (
    "log_active_users_30d",
    "log_active_users_90d",
    "log_active_users_180d",
    "usage_trend",
    "usage_trend_90d",
    "seat_utilisation",
    "log_account_active_users",
)
ACCOUNT_FEATURES = (
    "log_whitespace",
    "log_list_price",
    "log_acv",
    "acv_growth",
    "products_held",
    "tenure_days",
    "days_to_renewal",
    "prior_expansion_wins",
    "prior_expansion_losses",
    "days_since_last_win",
    "log_open_pipeline",
)
CATEGORICAL_FEATURES = ("kind", "unit", "segment", "industry", "region", "size_band")


def feature_spec(has_usage: bool) -> FeatureSpec:
    """The features the model uses; without a usage table the usage columns are left out."""
    numeric = ACCOUNT_FEATURES + (USAGE_FEATURES if has_usage else ())
    return FeatureSpec(numeric=numeric, categorical=CATEGORICAL_FEATURES)
