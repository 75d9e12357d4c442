"""Calibration of the chosen model's probabilities, learned on the holdout snapshots.

Method: isotonic regression when the holdout has at least ``ISOTONIC_MIN_ROWS`` rows and
``ISOTONIC_MIN_POSITIVES`` positives (enough for a monotone step function), otherwise
sigmoid (Platt) scaling: an unpenalised logistic regression on the logit of the score.
Both are fitted directly on the holdout scores (no CalibratedClassifierCV ensemble), so
scoring costs one model plus a cheap 1-D map. Calibrated probabilities are bounded to
[``PROBABILITY_FLOOR``, 1 - ``PROBABILITY_FLOOR``]: isotonic regression returns exactly 0
(or 1) for a lowest (highest) block of scores that holds a single class, and a finite
sample never justifies certainty (an item at p = 0 would contribute no EEV at all).

Honest holdout metrics: the calibrator kept is fitted on the whole holdout, but the
calibrated metrics are computed out of fold (two stratified halves, each scored by a map
fitted on the other half); calibrating and scoring the same rows would flatter the ECE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

ISOTONIC_MIN_ROWS = 1_000
ISOTONIC_MIN_POSITIVES = 50
LOGIT_CLIP = 1e-6
PROBABILITY_FLOOR = 1e-3
CROSS_FIT_FOLDS = 2

Method = Literal["isotonic", "sigmoid"]


def calibration_method(y_holdout: np.ndarray) -> Method:
    """Isotonic for a large enough holdout, else sigmoid."""
    large = len(y_holdout) >= ISOTONIC_MIN_ROWS and int(np.sum(y_holdout)) >= ISOTONIC_MIN_POSITIVES
    return "isotonic" if large else "sigmoid"


def _logit(p: np.ndarray) -> np.ndarray:
    """Log-odds of p, clipped away from 0 and 1, as a one-column matrix."""
    q = np.clip(p, LOGIT_CLIP, 1 - LOGIT_CLIP)
    return np.log(q / (1 - q)).reshape(-1, 1)


@dataclass(frozen=True)
class Calibrator:
    """A monotone map from raw model scores to calibrated probabilities."""

    method: Method
    mapping: IsotonicRegression | LogisticRegression

    @classmethod
    def fit(cls, scores: np.ndarray, y: np.ndarray, method: Method) -> Calibrator:
        """Fit the map on (score, label) pairs; y must contain both classes."""
        if method == "isotonic":
            mapping = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, y)
        else:
            mapping = LogisticRegression(C=np.inf).fit(_logit(scores), y)
        return cls(method, mapping)

    def apply(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated probabilities, bounded away from 0 and 1 by PROBABILITY_FLOOR."""
        if isinstance(self.mapping, IsotonicRegression):
            calibrated = self.mapping.predict(scores)
        else:
            calibrated = self.mapping.predict_proba(_logit(scores))[:, 1]
        return np.clip(calibrated, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)


def cross_fitted(scores: np.ndarray, y: np.ndarray, method: Method, seed: int) -> np.ndarray:
    """Out-of-fold calibrated scores (each class must occur at least CROSS_FIT_FOLDS times)."""
    calibrated = np.empty(len(scores), dtype=np.float64)
    folds = StratifiedKFold(n_splits=CROSS_FIT_FOLDS, shuffle=True, random_state=seed)
    for fit_rows, score_rows in folds.split(scores.reshape(-1, 1), y):
        calibrator = Calibrator.fit(scores[fit_rows], y[fit_rows], method)
        calibrated[score_rows] = calibrator.apply(scores[score_rows])
    return calibrated
