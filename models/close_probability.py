"""Close-probability model: P(a whitespace item is closed-won within the plan horizon).

Trained on a point-in-time panel (one row per whitespace item per past snapshot date;
features from before the snapshot, label from what was won after it). No Dagster here.

Training, in order:

1. Panel preparation. Only the columns the model uses are kept. A panel larger than
   ``max_training_rows`` is sampled down first: the rows with the smallest seeded row hash
   are kept, so the sample does not depend on row order (the pipeline's item_features already
   holds a sample of that size, drawn in SQL). The rows are then sorted by all
   kept columns, so nothing downstream depends on the input order either.
2. Time-based holdout: the newest ``holdout_share`` of the distinct snapshot dates
   (rounded, at least one date on each side).
3. Fallback: with fewer than 2 snapshots, a single class, fewer positives than
   ``min_positive_rows``, or fewer than 2 rows of either class on either side of the split,
   the model is the base rate (per segment and kind, falling back to kind, then global;
   0.0 when the history has no win at all), fitted on the whole panel; ``fallback_reason``
   says why and the metrics carry ``fallback`` = 1.
4. Otherwise the candidates (``models.candidates``) are fitted on the earlier snapshots,
   scored on the holdout and the lowest holdout log loss wins (ties: simplest model).
5. Calibration: a chosen model other than the base rate is calibrated on its holdout
   scores (``models.calibration``; metric ``calibration_isotonic`` = 1 for isotonic,
   0 for sigmoid; absent when the base rate wins, as it is not calibrated).
6. Refit policy: the chosen model is refitted on ALL snapshots (earlier + holdout) with
   the same hyper-parameters and features, and the calibration map learned on the holdout is
   applied to the refitted model's scores. The map was learned on a model fitted on less data;
   we accept that small mismatch to use the newest snapshots, which matter most. A numeric
   feature without any value on the earlier snapshots is left out of every fit (of both
   models), as the refitted model would otherwise use what the calibrated one never saw (on a
   two-year history a year's usage slope exists on the holdout snapshots only: it lowered the
   backtest's total EEV by 12%).
7. Amount: the booked amount given a win (``models.booking_amount``), on the same split.

The rows are identified by their keys (snapshot_date, account_id, product_id, kind): the
sample, the canonical order and the ensemble members' subsamples are functions of the keys
only, so features that move in their last bits change none of them.

Metrics (``TrainedModel.metrics``: model_version, model, segment, metric, value):
every candidate on the holdout, overall (segment "all") and per segment; the chosen model
as calibrated (model "chosen", out-of-fold calibrated scores) overall and per segment; run
facts (model "chosen", segment "all"): fallback, calibration_isotonic, training_rows,
training_snapshots, holdout_snapshots; the amount model's rows (``models.booking_amount``).

Evaluation on the holdout, kept with the model (empty after a fallback, which has no
holdout): ``calibration`` holds the reliability-curve points of the chosen model before
and after calibration; ``importances`` the permutation importance of every feature (the
rise in holdout log loss when the feature's values are shuffled, see ``models.importance``)
for the chosen candidate as fitted on the earlier snapshots, so the rows it is measured on
were never seen in its training.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import sklearn

from models.booking_amount import AmountModel, train_amount_model
from models.calibration import Calibrator, calibration_method, cross_fitted
from models.candidates import BASE_RATE, BaseRateScorer, Scorer, candidate_factories
from models.ensemble import DEFAULT_ENSEMBLE, KEY_COLUMNS, EnsembleSettings
from models.features import FeatureSpec, categorical_text, require_columns
from models.importance import IMPORTANCE_SCHEMA, ImportanceSettings, permutation_importances
from models.metrics import binary_metrics, calibration_curve_points, log_loss
from models.threads import single_openmp_thread

__all__ = [
    "FeatureSpec",
    "ImportanceSettings",
    "TrainedModel",
    "calibration_curve_points",
    "train_close_model",
]

MIN_CLASS_ROWS_PER_SPLIT = 2
CHOSEN = "chosen"
ALL = "all"
METRIC_SCHEMA = {
    "model_version": pl.String,
    "model": pl.String,
    "segment": pl.String,
    "metric": pl.String,
    "value": pl.Float64,
}

CURVE_SCHEMA = {
    "forecast": pl.String,
    "bin": pl.Int64,
    "mean_predicted": pl.Float64,
    "observed_rate": pl.Float64,
    "rows": pl.Int64,
}
BEFORE_CALIBRATION = "before calibration"
AFTER_CALIBRATION = "after calibration"

MetricRow = tuple[str, str, str, float]  # model, segment, metric, value


@dataclass
class TrainedModel:
    """The chosen close-probability model with its calibration, metrics and amount model."""

    version: str
    chosen: str
    fallback_reason: str | None
    metrics: pl.DataFrame
    amount: AmountModel
    features: FeatureSpec
    scorer: Scorer = field(repr=False)
    calibrator: Calibrator | None = field(default=None, repr=False)
    calibration: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=CURVE_SCHEMA), repr=False)
    importances: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=IMPORTANCE_SCHEMA), repr=False)

    @single_openmp_thread
    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        """p_close in [0, 1] for every row of ``frame`` (the feature columns; the base rate
        model reads ``segment`` and ``kind``)."""
        if frame.height == 0:
            return np.empty(0)
        scores = self.scorer.score(frame)
        if self.calibrator is not None:
            scores = self.calibrator.apply(scores)
        return np.clip(scores, 0.0, 1.0)

    @single_openmp_thread
    def expected_amount(self, frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """E[booked | win] (annual money) and its basis for every row of ``frame``."""
        return self.amount.predict(frame)


@dataclass
class _Fit:
    """What a training path produced, before the version is known."""

    chosen: str
    scorer: Scorer
    calibrator: Calibrator | None
    rows: list[MetricRow]
    fallback_reason: str | None = None
    calibration: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=CURVE_SCHEMA))
    importances: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=IMPORTANCE_SCHEMA))


@single_openmp_thread
def train_close_model(
    panel: pl.DataFrame,
    spec: FeatureSpec,
    *,
    seed: int,
    holdout_share: float,
    min_positive_rows: int,
    data_fingerprint: str,
    settings: Mapping[str, object],
    max_training_rows: int,
    importance: ImportanceSettings = ImportanceSettings(),
    ensemble: EnsembleSettings = DEFAULT_ENSEMBLE,
    amount_min_won_deals: int = 30,
    amount_ceiling_kinds: tuple[str, ...] = ("upgrade",),
) -> TrainedModel:
    """Compare the candidates on a time-based holdout, calibrate and refit the winner; learn
    the amount a won item books."""
    if not 0 < holdout_share < 1:
        raise ValueError(f"holdout_share must be in (0, 1), got {holdout_share}")
    prepared = prepare_panel(panel, spec, seed=seed, max_rows=max_training_rows)
    dates = prepared["snapshot_date"].unique().sort().to_list()
    train_dates, holdout_dates = split_snapshots(dates, holdout_share)
    train = prepared.filter(pl.col("snapshot_date").is_in(train_dates))
    holdout = prepared.filter(pl.col("snapshot_date").is_in(holdout_dates))
    # a feature the earlier snapshots do not have at all (a yearly growth on a short history) is
    # left out of every fit: the calibration learned on the holdout must fit the refitted model
    spec = spec.observed_in(train)
    reason = fallback_reason(_labels(prepared), _labels(train), _labels(holdout), len(dates), min_positive_rows)
    if reason is None:
        fit = _compare_and_refit(prepared, train, holdout, spec, seed, importance, ensemble)
    else:
        fit = _fallback(prepared, reason)
    amount, amount_rows = train_amount_model(prepared, spec, holdout_dates, seed=seed,
                                             min_won_deals=amount_min_won_deals,
                                             ceiling_kinds=amount_ceiling_kinds, ensemble=ensemble)
    facts = _run_facts(prepared.height, len(dates), 0 if reason else len(holdout_dates), reason is not None)
    training = {"seed": seed, "holdout_share": holdout_share, "min_positive_rows": min_positive_rows,
                "max_training_rows": max_training_rows, "ensemble": vars(ensemble),
                "amount_min_won_deals": amount_min_won_deals, "amount_ceiling_kinds": list(amount_ceiling_kinds)}
    version = model_version(data_fingerprint, settings, training, spec, fit.chosen)
    return TrainedModel(
        version=version,
        chosen=fit.chosen,
        fallback_reason=fit.fallback_reason,
        metrics=_metrics_frame(version, fit.rows + facts + amount_rows),
        amount=amount,
        features=spec,
        scorer=fit.scorer,
        calibrator=fit.calibrator,
        calibration=fit.calibration,
        importances=fit.importances,
    )


def _run_facts(rows: int, snapshots: int, holdout_snapshots: int, fallback: bool) -> list[MetricRow]:
    """Facts of the training run as metric rows of the chosen model, segment "all"."""
    facts = {
        "fallback": float(fallback),
        "training_rows": float(rows),
        "training_snapshots": float(snapshots),
        "holdout_snapshots": float(holdout_snapshots),
    }
    return [(CHOSEN, ALL, metric, value) for metric, value in facts.items()]


def _panel_columns(spec: FeatureSpec) -> list[str]:
    """The panel columns training uses, each once, in a fixed order."""
    wanted = (*KEY_COLUMNS, "segment", *spec.columns, "label", "whitespace", "won_amount")
    return list(dict.fromkeys(wanted))


def prepare_panel(panel: pl.DataFrame, spec: FeatureSpec, *, seed: int, max_rows: int) -> pl.DataFrame:
    """The used columns, sampled down to ``max_rows`` by a seeded hash of the row keys, sorted
    by the keys (one row per key)."""
    columns = _panel_columns(spec)
    require_columns(panel, columns, "training panel")
    frame = panel.select(columns)
    labels = frame["label"]
    if labels.null_count() or not labels.is_in([0, 1]).all():
        raise ValueError("training panel: every label must be 0 or 1 (plan-date rows do not belong here)")
    if frame.height > max_rows:
        hashes = frame.select(KEY_COLUMNS).hash_rows(seed=seed).to_numpy()
        frame = frame[np.sort(np.argpartition(hashes, max_rows - 1)[:max_rows])]
    return frame.sort(list(KEY_COLUMNS), nulls_last=True)


def split_snapshots(dates: list[dt.date], holdout_share: float) -> tuple[list[dt.date], list[dt.date]]:
    """(earlier dates, newest dates): the newest share rounded, >= 1 date on each side."""
    if len(dates) < 2:
        return list(dates), []
    held = min(max(int(np.floor(holdout_share * len(dates) + 0.5)), 1), len(dates) - 1)
    return list(dates[:-held]), list(dates[-held:])


def fallback_reason(
    y_all: np.ndarray, y_train: np.ndarray, y_holdout: np.ndarray, snapshots: int, min_positive_rows: int
) -> str | None:
    """Why the history is too thin for a fitted model, or None when it is not."""
    positives = int(y_all.sum())
    if snapshots < 2:
        return f"Only {snapshots} snapshot date(s) in the history; a time-based holdout needs at least 2."
    if positives in (0, len(y_all)):
        outcome = "won" if positives else "lost"
        return f"Every one of the {len(y_all)} items in the history was {outcome}; a model needs both outcomes."
    if positives < min_positive_rows:
        return f"Only {positives} won items in the history, fewer than min_positive_rows = {min_positive_rows}."
    for side, y in (("earlier (training)", y_train), ("holdout", y_holdout)):
        won = int(y.sum())
        if min(won, len(y) - won) < MIN_CLASS_ROWS_PER_SPLIT:
            return (
                f"The {side} snapshots hold {won} won and {len(y) - won} lost items; "
                f"each side of the split needs at least {MIN_CLASS_ROWS_PER_SPLIT} of each."
            )
    return None


def _labels(frame: pl.DataFrame) -> np.ndarray:
    """The 0/1 labels as an int8 array."""
    return frame["label"].cast(pl.Int8).to_numpy()


def _fallback(panel: pl.DataFrame, reason: str) -> _Fit:
    """Base rates fitted on the whole panel, with in-sample counts as metrics."""
    y = _labels(panel)
    scorer = BaseRateScorer().fit(panel, y)
    counts = {"rows": float(len(y)), "positives": float(y.sum()), "base_rate": float(y.mean()) if len(y) else 0.0}
    rows = [(BASE_RATE, ALL, metric, value) for metric, value in counts.items()]
    return _Fit(BASE_RATE, scorer, None, rows, fallback_reason=reason)


def _compare_and_refit(panel: pl.DataFrame, train: pl.DataFrame, holdout: pl.DataFrame, spec: FeatureSpec,
                       seed: int, importance: ImportanceSettings, ensemble: EnsembleSettings) -> _Fit:
    """Fit every candidate on ``train``, choose on ``holdout``, calibrate, refit on ``panel``."""
    y_train, y_holdout = _labels(train), _labels(holdout)
    factories = candidate_factories(spec, seed, ensemble)
    fitted = {name: make().fit(train, y_train) for name, make in factories.items()}
    scores = {name: scorer.score(holdout) for name, scorer in fitted.items()}
    rows = [row for name, p in scores.items() for row in _segment_rows(name, holdout, y_holdout, p)]
    chosen = min(scores, key=lambda name: log_loss(y_holdout, scores[name]))
    calibrator, chosen_scores = None, scores[chosen]
    if chosen != BASE_RATE:
        method = calibration_method(y_holdout)
        calibrator = Calibrator.fit(scores[chosen], y_holdout, method)
        chosen_scores = cross_fitted(scores[chosen], y_holdout, method, seed)
        rows.append((CHOSEN, ALL, "calibration_isotonic", float(method == "isotonic")))
    rows += _segment_rows(CHOSEN, holdout, y_holdout, chosen_scores)
    curve = _curve(y_holdout, {BEFORE_CALIBRATION: scores[chosen], AFTER_CALIBRATION: chosen_scores})
    importances = permutation_importances(fitted[chosen], holdout, y_holdout, spec, importance, seed)
    scorer = factories[chosen]().fit(panel, _labels(panel))
    return _Fit(chosen, scorer, calibrator, rows, calibration=curve, importances=importances)


def _curve(y: np.ndarray, forecasts: dict[str, np.ndarray]) -> pl.DataFrame:
    """Reliability-curve points of each named forecast of the holdout labels ``y``."""
    frames = [
        calibration_curve_points(y, p).select(pl.lit(name).alias("forecast"), pl.all())
        for name, p in forecasts.items()
    ]
    return pl.concat(frames).cast(CURVE_SCHEMA)  # type: ignore[arg-type]


def _metric_rows(model: str, segment: str, y: np.ndarray, p: np.ndarray) -> list[MetricRow]:
    """One row per defined metric of forecast ``p`` against labels ``y``."""
    return [(model, segment, metric, value) for metric, value in binary_metrics(y, p).items()]


def _segment_rows(model: str, holdout: pl.DataFrame, y: np.ndarray, p: np.ndarray) -> list[MetricRow]:
    """Metrics of one model's holdout forecast, overall and per segment."""
    segments = holdout.select(categorical_text("segment")).to_series().to_numpy()
    rows = _metric_rows(model, ALL, y, p)
    for segment in sorted(set(segments)):
        mask = segments == segment
        rows += _metric_rows(model, segment, y[mask], p[mask])
    return rows


def library_versions() -> dict[str, str]:
    """Versions of the libraries a trained model's predictions depend on."""
    return {"scikit-learn": sklearn.__version__, "numpy": np.__version__, "polars": pl.__version__}


def model_version(
    data_fingerprint: str,
    settings: Mapping[str, object],
    training: Mapping[str, object],
    spec: FeatureSpec,
    chosen: str,
) -> str:
    """'m-' + 12 hex chars of the sha256 of everything that determines the model: the data,
    the plan settings, the training arguments, the features, the library versions (polars
    included: the sampling row hash is only stable within one polars version) and the winner."""
    identity = {
        "data_fingerprint": data_fingerprint,
        "settings": settings,
        "training": training,
        "features": {"numeric": list(spec.numeric), "categorical": list(spec.categorical)},
        "libraries": library_versions(),
        "chosen": chosen,
    }
    payload = json.dumps(identity, sort_keys=True, default=str).encode()
    return "m-" + hashlib.sha256(payload).hexdigest()[:12]


def _metrics_frame(version: str, rows: list[MetricRow]) -> pl.DataFrame:
    """The metric rows as the documented frame, tagged with the model version."""
    return pl.DataFrame([(version, *row) for row in rows], schema=METRIC_SCHEMA, orient="row")
