"""The candidate close-probability models, each behind the same small ``Scorer`` interface.

- ``base_rate``: the won share per (segment, kind), shrunk towards the kind's rate, which is
  shrunk towards the global rate (``PRIOR_ROWS`` pseudo-rows each). An unseen (segment,
  kind) gets its kind's rate, an unseen kind the global rate, so a small cell never yields
  a rate of exactly 0 or 1 while the global rate is strictly between them.
- ``logistic_regression``: median imputation + standard scaling of numeric columns,
  one-hot categorical codes (unknown levels ignored), L2-regularised logistic regression.
- ``hist_gradient_boosting``: gradient-boosted trees with native categorical support and
  native missing-value handling; fixed number of iterations (no early stopping); an
  ``models.ensemble.Ensemble`` of seeded fits on subsamples with the same total trees.

Scoring runs in chunks of ``SCORE_CHUNK_ROWS`` rows: the dense intermediate matrices of a
chunk stay small, which makes scoring 1M rows about twice as fast as one big batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

import numpy as np
import polars as pl
from sklearn.base import ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from models.ensemble import DEFAULT_ENSEMBLE, Ensemble, EnsembleSettings
from models.features import FeatureEncoder, FeatureSpec, categorical_text, require_columns

PRIOR_ROWS = 20.0
SCORE_CHUNK_ROWS = 100_000
HGB_MAX_ITER = 100
HGB_LEARNING_RATE = 0.1
BASE_RATE = "base_rate"
LOGISTIC_REGRESSION = "logistic_regression"
HIST_GRADIENT_BOOSTING = "hist_gradient_boosting"
_KEY_SEPARATOR = "\x1f"


class Scorer(Protocol):
    """A probability model fitted on a panel frame and its 0/1 labels."""

    def fit(self, frame: pl.DataFrame, y: np.ndarray) -> Scorer:
        """Fit on ``frame`` (panel columns) and labels ``y``; return self."""
        ...

    def score(self, frame: pl.DataFrame) -> np.ndarray:
        """P(label = 1) for every row of ``frame``."""
        ...


def _cell_key() -> pl.Expr:
    """One text key per (segment, kind)."""
    return pl.concat_str([categorical_text("segment"), categorical_text("kind")], separator=_KEY_SEPARATOR)


def _shrunk_rate(prior: pl.Expr) -> pl.Expr:
    """(positives + PRIOR_ROWS x prior) / (rows + PRIOR_ROWS)."""
    return (pl.col("positives") + PRIOR_ROWS * prior) / (pl.col("rows") + PRIOR_ROWS)


@dataclass
class BaseRateScorer:
    """Won share per (segment, kind), with fallback to the kind's and then the global rate."""

    global_rate: float = 0.0
    kind_rates: dict[str, float] = field(default_factory=dict)
    cell_rates: dict[str, float] = field(default_factory=dict)

    def fit(self, frame: pl.DataFrame, y: np.ndarray) -> BaseRateScorer:
        """Count rows and positives per kind and per (segment, kind); 0.0 on an empty panel."""
        require_columns(frame, ("segment", "kind"), "training panel")
        labelled = frame.select(kind=categorical_text("kind"), cell=_cell_key()).with_columns(
            label=pl.Series(np.asarray(y, dtype=np.float64))
        )
        self.global_rate = float(np.mean(y)) if len(y) else 0.0
        kinds = _counts(labelled, "kind").with_columns(rate=_shrunk_rate(pl.lit(self.global_rate)))
        self.kind_rates = dict(zip(kinds["kind"], kinds["rate"], strict=True))
        cells = (
            _counts(labelled, "cell", "kind")
            .join(kinds.select("kind", kind_rate="rate"), on="kind")
            .with_columns(rate=_shrunk_rate(pl.col("kind_rate")))
        )
        self.cell_rates = dict(zip(cells["cell"], cells["rate"], strict=True))
        return self

    def score(self, frame: pl.DataFrame) -> np.ndarray:
        """Rate of each row's (segment, kind), else its kind's rate, else the global rate."""
        require_columns(frame, ("segment", "kind"), "scoring frame")
        rate = (
            lookup(_cell_key(), self.cell_rates)
            .fill_null(lookup(categorical_text("kind"), self.kind_rates))
            .fill_null(self.global_rate)
        )
        return frame.select(rate).to_series().to_numpy()


def _counts(labelled: pl.DataFrame, key: str, *carry: str) -> pl.DataFrame:
    """Rows and positives per ``key`` (keeping the ``carry`` columns, constant per key)."""
    return labelled.group_by(key, *carry).agg(rows=pl.len(), positives=pl.col("label").sum())


def lookup(key: pl.Expr, table: dict[str, float], default: float | None = None) -> pl.Expr:
    """``table[key]`` as Float64, ``default`` (null unless given) when the key is not in the table."""
    return key.replace_strict(list(table), list(table.values()), default=default, return_dtype=pl.Float64)


@dataclass
class SklearnScorer:
    """A scikit-learn classifier (or, with ``regression``, regressor) on the encoded feature
    matrix of a FeatureSpec."""

    spec: FeatureSpec
    make_estimator: Callable[[FeatureEncoder], ClassifierMixin]
    regression: bool = False
    encoder: FeatureEncoder | None = field(default=None, repr=False)
    estimator: ClassifierMixin | None = field(default=None, repr=False)

    def fit(self, frame: pl.DataFrame, y: np.ndarray) -> SklearnScorer:
        """Learn the categorical levels, then fit a fresh estimator."""
        self.encoder = FeatureEncoder.fit(frame, self.spec)
        self.estimator = self.make_estimator(self.encoder)
        self.estimator.fit(self.encoder.transform(frame), y)
        return self

    def score(self, frame: pl.DataFrame) -> np.ndarray:
        """Positive-class probability (regression: the prediction), computed chunk by chunk."""
        if self.encoder is None or self.estimator is None:
            raise RuntimeError("score() called before fit()")
        estimator = self.estimator
        predict = estimator.predict if self.regression else (lambda x: estimator.predict_proba(x)[:, 1])
        chunks = [
            predict(self.encoder.transform(frame.slice(start, SCORE_CHUNK_ROWS)))
            for start in range(0, frame.height, SCORE_CHUNK_ROWS)
        ]
        return np.concatenate(chunks) if chunks else np.empty(0)


def logistic_regression(encoder: FeatureEncoder) -> Pipeline:
    """Imputed + scaled numeric and one-hot categorical codes into a logistic regression."""
    # strategy=np.median: the same statistic as "median", without its slow masked-array path.
    numeric = Pipeline([("impute", SimpleImputer(strategy=np.median)), ("scale", StandardScaler())])
    one_hot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    columns = ColumnTransformer(
        [
            (name, step, indices)
            for name, step, indices in (
                ("numeric", numeric, encoder.numeric_indices),
                ("categorical", one_hot, encoder.categorical_indices),
            )
            if indices
        ],
        sparse_threshold=0.0,
    )
    return Pipeline([("columns", columns), ("classifier", LogisticRegression(C=1.0, max_iter=1000))])


def hist_gradient_boosting(encoder: FeatureEncoder, *, seed: int) -> HistGradientBoostingClassifier:
    """Boosted trees on the encoded matrix; categorical codes used as native categories."""
    return HistGradientBoostingClassifier(
        max_iter=HGB_MAX_ITER,
        learning_rate=HGB_LEARNING_RATE,
        early_stopping=False,
        categorical_features=encoder.categorical_indices or None,
        random_state=seed,
    )


def boosted_member(spec: FeatureSpec, seed: int) -> SklearnScorer:
    """One unfitted member of the boosted ensemble."""
    return SklearnScorer(spec, partial(hist_gradient_boosting, seed=seed))


def candidate_factories(spec: FeatureSpec, seed: int,
                        ensemble: EnsembleSettings = DEFAULT_ENSEMBLE) -> dict[str, Callable[[], Scorer]]:
    """Unfitted candidates by name, simplest first (ties in the comparison go to the first)."""
    return {
        BASE_RATE: BaseRateScorer,
        LOGISTIC_REGRESSION: partial(SklearnScorer, spec, logistic_regression),
        HIST_GRADIENT_BOOSTING: partial(Ensemble, partial(boosted_member, spec), ensemble, seed),
    }
