"""Permutation feature importance of a fitted candidate on the holdout snapshots.

Importance of a feature = how much the holdout log loss rises when that feature's values are
shuffled across rows (mean over ``repeats`` shuffles; ``importance_std`` is their spread).
Near 0: the model does not rely on the feature; negative: noise. Measured with
``sklearn.inspection.permutation_importance`` on the encoded feature matrix of at most
``rows`` holdout rows (one seeded sample), so the cost is bounded on any panel size. A
categorical column is shuffled as a whole (its one-hot columns move together). The
base-rate model reads no feature column, so it has no importances. For an ensemble
(``models.ensemble``) the importances are those of its first member, one representative fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from sklearn.inspection import permutation_importance

from models.candidates import Scorer, SklearnScorer
from models.ensemble import Ensemble
from models.features import FeatureSpec
from models.metrics import log_loss

IMPORTANCE_SCHEMA = {"feature": pl.String, "importance": pl.Float64, "importance_std": pl.Float64}


def _negative_log_loss(estimator: object, x: np.ndarray, y: np.ndarray) -> float:
    """Higher is better, as permutation_importance expects; defined for a one-class draw too."""
    return -log_loss(y, estimator.predict_proba(x)[:, 1])  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ImportanceSettings:
    """How much work permutation importance may take."""

    rows: int = 2_000
    repeats: int = 3


def permutation_importances(
    scorer: Scorer, holdout: pl.DataFrame, y: np.ndarray, spec: FeatureSpec, settings: ImportanceSettings, seed: int
) -> pl.DataFrame:
    """Rise in holdout log loss per shuffled feature, largest first (ties by name)."""
    if isinstance(scorer, Ensemble) and scorer.members:
        scorer = scorer.members[0]
    if not isinstance(scorer, SklearnScorer) or scorer.encoder is None or holdout.height == 0:
        return pl.DataFrame(schema=IMPORTANCE_SCHEMA)
    # One seeded sample serves the baseline and every shuffle (permutation_importance's own
    # max_samples scores the shuffles on sub-samples but the baseline on all rows, which adds
    # the sub-sample's difference in difficulty to every feature's importance).
    rows = np.sort(np.random.default_rng(seed).permutation(holdout.height)[: settings.rows])
    result = permutation_importance(
        scorer.estimator,
        scorer.encoder.transform(holdout[rows]),
        np.asarray(y)[rows],
        scoring=_negative_log_loss,
        n_repeats=settings.repeats,
        random_state=seed,
    )
    frame = pl.DataFrame(
        {
            "feature": list(spec.columns),
            "importance": result.importances_mean.astype(np.float64),
            "importance_std": result.importances_std.astype(np.float64),
        },
        schema=IMPORTANCE_SCHEMA,
    )
    return frame.sort(["importance", "feature"], descending=[True, False])
