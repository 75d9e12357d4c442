"""What a column of an exported table means, from its name and type: how it is formatted
(workbook number format, letter and report text) and the header people read.

Kinds: `money` (an amount in the plan's one currency, whole units), `percent` (a rate or share
stored as a fraction 0-1, shown as a percent), `count` (a whole number of things), `decimal`
(a plain number such as capacity or a ratio like coverage), `score` (a model metric such as
ROC AUC or log loss, three decimals), `date`, `text`. Explicit names win
over name endings, and percent endings are checked before money endings (`quota_share_of_eev`
is a share, not money).
"""

from __future__ import annotations

import polars as pl

MONEY, PERCENT, COUNT, DECIMAL, SCORE, DATE, TEXT = "money", "percent", "count", "decimal", "score", "date", "text"

PERCENT_COLUMNS = {"p_close", "capture", "factor", "percentile", "balance_deviation", "quota_share_of_eev",
                   "balance_cv", "share", "attainment", "p_attain", "weight", "target_factor", "rep_share",
                   "csm_share", "commission_rate", "csm_bonus_rate", "quota_to_bookings", "quota_to_target",
                   "learned_cv", "amount_cv", "largest_deviation", "ece", "base_rate"}
PERCENT_SUFFIXES = ("_share", "_rate", "_pct", "_cv", "_attainment", "_deviation", "_factor", "_of_eev")
PERCENT_PREFIXES = ("share_",)
MONEY_COLUMNS = {"acv", "arr", "whitespace", "eev", "quota", "quota_unrounded", "price_used", "eev_per_capacity",
                 "amount", "contribution", "contribution_unrounded", "credited_ytd", "open_pipeline",
                 "qualified_pipeline", "eev_moved", "rep_commission", "csm_source_bonus", "expected_amount",
                 "list_price", "benchmark_amount", "remaining_quota", "credited_arr", "company_target",
                 "trailing_bookings", "csm_credit", "rep_credit", "min_amount", "max_amount"}
MONEY_SUFFIXES = ("_acv", "_arr", "_eev", "_amount", "_quota", "_credit", "_contribution", "_whitespace",
                  "_bookings", "_pipeline", "_commission", "_bonus")
DECIMAL_COLUMNS = {"capacity", "max_min_ratio", "coverage", "units", "benchmark", "times_target"}
SCORE_COLUMNS = {"roc_auc", "pr_auc", "brier", "log_loss", "importance", "importance_std"}
COUNT_COLUMNS = {"rows", "positives", "draws", "reps", "accounts"}  # whole numbers even when stored as doubles

# Words written differently from their snake_case spelling in headers.
WORDS = {"eev": "EEV", "acv": "ACV", "arr": "ARR", "csm": "CSM", "id": "ID", "ytd": "YTD", "cv": "CV",
         "p10": "P10", "p50": "P50", "p90": "P90", "roc": "ROC", "auc": "AUC", "pr": "PR", "ece": "ECE"}
HEADERS = {"p_close": "Close probability", "capture": "Capture", "eev": "EEV", "acv": "ACV",
           "quota_unrounded": "Quota before rounding", "quota_share_of_eev": "Quota / EEV",
           "balance_deviation": "Deviation from target", "eev_per_capacity": "EEV per unit of capacity",
           "previous_rep_id": "Previous rep ID", "p_attain": "P(attain)", "roc_auc": "ROC AUC",
           "expected_amount": "Expected amount", "joint_planning": "Joint planning",
           "rep_name": "Rep", "account_name": "Account", "product_name": "Product", "csm_name": "CSM",
           "from_rep_id": "From rep ID", "to_rep_id": "To rep ID", "month_index": "Month"}


def column_kind(name: str, dtype: pl.DataType) -> str:
    """How a column is shown (one of the kinds above), by its name for numbers."""
    if dtype in (pl.Date, pl.Datetime) or isinstance(dtype, pl.Datetime):
        return DATE
    if not dtype.is_numeric():
        return TEXT
    if name in PERCENT_COLUMNS:
        return PERCENT
    if name in MONEY_COLUMNS:
        return MONEY
    if name in DECIMAL_COLUMNS:
        return DECIMAL
    if name in SCORE_COLUMNS:
        return SCORE
    if name in COUNT_COLUMNS:
        return COUNT
    if (name.endswith(PERCENT_SUFFIXES) or name.startswith(PERCENT_PREFIXES)) and dtype.is_float():
        return PERCENT  # a share is a fraction: an integer column named like one is a count
    if name.endswith(MONEY_SUFFIXES):
        return MONEY
    return COUNT if dtype.is_integer() else DECIMAL


def header(name: str) -> str:
    """The header people read for a column: `territory_eev` -> `Territory EEV`."""
    if name in HEADERS:
        return HEADERS[name]
    words = [WORDS.get(word, word) for word in name.split("_")]
    first = words[0] if words[0] in WORDS.values() else words[0].capitalize()
    return " ".join([first, *words[1:]])
