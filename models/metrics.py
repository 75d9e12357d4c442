"""Evaluation metrics of probability forecasts for the close-probability model.

Every metric is computed only where it is defined: ROC AUC and PR AUC need both classes
and are left out otherwise (never reported as NaN). Log loss clips probabilities to
[1e-15, 1 - 1e-15] so that a forecast of exactly 0 or 1 costs a large finite amount.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from sklearn.metrics import average_precision_score, roc_auc_score

EPS = 1e-15
CALIBRATION_BINS = 10


def log_loss(y_true: np.ndarray, p: np.ndarray) -> float:
    """Mean negative log-likelihood of the labels under the forecasts."""
    q = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(y_true * np.log(q) + (1 - y_true) * np.log1p(-q)))


def brier_score(y_true: np.ndarray, p: np.ndarray) -> float:
    """Mean squared difference between forecast and outcome."""
    return float(np.mean((p - y_true) ** 2))


def _bin_index(p: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width bin of each forecast on [0, 1]; p = 1 falls in the last bin."""
    return np.minimum((np.clip(p, 0.0, 1.0) * bins).astype(np.int64), bins - 1)


def calibration_curve_points(y_true: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS) -> pl.DataFrame:
    """Reliability-curve points: per non-empty equal-width bin, mean forecast vs observed rate."""
    y = np.asarray(y_true, dtype=np.float64)
    q = np.asarray(p, dtype=np.float64)
    index = _bin_index(q, bins)
    rows = np.bincount(index, minlength=bins)
    predicted = np.bincount(index, weights=q, minlength=bins)
    observed = np.bincount(index, weights=y, minlength=bins)
    used = rows > 0
    return pl.DataFrame(
        {
            "bin": np.flatnonzero(used).astype(np.int64),
            "mean_predicted": predicted[used] / rows[used],
            "observed_rate": observed[used] / rows[used],
            "rows": rows[used].astype(np.int64),
        }
    )


def expected_calibration_error(y_true: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Row-weighted mean |mean forecast - observed rate| over equal-width bins."""
    points = calibration_curve_points(y_true, p, bins)
    gap = (points["mean_predicted"] - points["observed_rate"]).abs()
    return float((gap * points["rows"]).sum() / max(len(y_true), 1))


def binary_metrics(y_true: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """The model-comparison metrics of one forecast; AUCs only when both classes occur."""
    y = np.asarray(y_true, dtype=np.float64)
    q = np.asarray(p, dtype=np.float64)
    positives = float(y.sum())
    metrics = {"rows": float(len(y)), "positives": positives}
    if len(y) == 0:
        return metrics
    metrics |= {
        "base_rate": positives / len(y),
        "brier": brier_score(y, q),
        "log_loss": log_loss(y, q),
        "ece": expected_calibration_error(y, q),
    }
    if 0 < positives < len(y):
        metrics |= {"roc_auc": float(roc_auc_score(y, q)), "pr_auc": float(average_precision_score(y, q))}
    return metrics
