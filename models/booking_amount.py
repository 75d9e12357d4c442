"""Amount model: E[booked amount | the item is won], learned from history's won items.

An item's expected booking is P(win) x E[booked | win]; this module is the second factor.
Training rows are the won items of the point-in-time panel (label 1): the target is
``won_amount``, what the expansion deals on that account and product booked within the
horizon after the snapshot (annual money), the features those of the close-probability
model (the same point-in-time columns plus the whitespace figures: units, price used, the
peers' benchmark and share, licensed seats, seat potential, employees).

- Regressor: gradient-boosted trees with a gamma loss (amounts are positive and skewed; the
  gamma loss fits the conditional mean on the log link), as an ``models.ensemble.Ensemble``.
- Baseline: the median won amount per kind (``amount_median``).
- Time-based holdout: the same newest snapshots as the close-probability model. The
  regressor is fitted on the won items of the earlier snapshots and kept when its mean
  gamma deviance on the holdout's won items is below the baseline's; then refitted on all
  won items.
- Level calibration: booked amounts drift over time faster than the features explain (on the
  sample the regressor fitted on the earlier snapshots forecasts 84-88% of what the newest
  snapshots' won items booked). Like the close probability's calibration map, the level is
  learned on the holdout and applied to the refitted model: per kind, sum booked / sum
  predicted on the holdout's won items of that kind (all kinds' when the kind has fewer than
  ``min_won_deals`` of them), bounded to ``LEVEL_RANGE``; metric ``level_<kind>``. Metrics: model ``amount_median`` / ``amount_regressor`` / ``amount_chosen``,
  segment ``all``, metrics ``gamma_deviance``, ``mae``, ``forecast_to_actual`` (sum of
  predictions / sum booked) and ``rows``.
- Fallback per kind: a kind with fewer than ``min_won_deals`` won items in the panel gets
  its kind's median won amount (the median over all kinds when it has none); with no won
  item at all the amount is the item's whitespace (the textbook figure).
- Ceiling: for ``ceiling_kinds`` (where the whitespace is a true ceiling, e.g. an upgrade
  books at most the price difference for the seats held) the amount is at most the
  item's whitespace.

``predict`` returns the amounts and, per row, the basis: ``learned``, ``median``,
``whitespace`` (no history) or ``ceiling`` (a learned or median amount capped).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import polars as pl
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import mean_gamma_deviance

from models.candidates import HGB_LEARNING_RATE, HGB_MAX_ITER, SklearnScorer, lookup
from models.ensemble import Ensemble, EnsembleSettings
from models.features import FeatureEncoder, FeatureSpec, categorical_text

MEDIAN = "amount_median"
REGRESSOR = "amount_regressor"
CHOSEN = "amount_chosen"
LEARNED, MEDIAN_BASIS, WHITESPACE_BASIS, CEILING_BASIS = "learned", "median", "whitespace", "ceiling"
LEVEL_RANGE = (0.5, 2.0)

MetricRow = tuple[str, str, str, float]  # model, segment, metric, value


def gamma_regressor(encoder: FeatureEncoder, *, seed: int) -> HistGradientBoostingRegressor:
    """Boosted trees with a gamma loss."""
    return HistGradientBoostingRegressor(
        loss="gamma",
        max_iter=HGB_MAX_ITER,
        learning_rate=HGB_LEARNING_RATE,
        early_stopping=False,
        categorical_features=encoder.categorical_indices or None,
        random_state=seed,
    )


def _member(spec: FeatureSpec, seed: int) -> SklearnScorer:
    """One unfitted member of the amount ensemble."""
    return SklearnScorer(spec, partial(gamma_regressor, seed=seed), regression=True)


@dataclass
class AmountModel:
    """E[booked | win] per item: the regressor for the kinds it learned, medians otherwise."""

    method: str  # "regressor" or "median" (what the holdout chose)
    medians: dict[str, float]  # per kind; "" = over all kinds
    won_deals: dict[str, int]
    learned_kinds: tuple[str, ...]
    ceiling_kinds: tuple[str, ...]
    regressor: Ensemble | None = field(default=None, repr=False)
    levels: dict[str, float] = field(default_factory=dict)  # per learned kind: holdout level calibration

    def predict(self, frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(expected amount when won, basis) for every row of ``frame`` (feature columns,
        ``kind`` and ``whitespace``)."""
        if frame.height == 0:
            return np.empty(0), np.empty(0, dtype=object)
        kind = frame.select(categorical_text("kind")).to_series().to_numpy()
        whitespace = frame["whitespace"].cast(pl.Float64).fill_null(0.0).to_numpy()
        overall = self.medians.get("")
        if overall is None:
            amount, basis = whitespace.copy(), np.full(frame.height, WHITESPACE_BASIS, dtype=object)
        else:
            amount = _by_kind(frame, self.medians, overall)
            basis = np.full(frame.height, MEDIAN_BASIS, dtype=object)
        learned = np.isin(kind, self.learned_kinds) if self.regressor is not None else np.zeros(frame.height, bool)
        if learned.any():
            level = _by_kind(frame, self.levels, 1.0)[learned]
            amount[learned] = self.regressor.score(frame.filter(pl.Series(learned))) * level
            basis[learned] = LEARNED
        capped = np.isin(kind, self.ceiling_kinds) & (amount > whitespace) & (basis != WHITESPACE_BASIS)
        amount[capped], basis[capped] = whitespace[capped], CEILING_BASIS
        return amount, basis

    def summary(self) -> dict[str, object]:
        """What the sidecar and model_info say about the amount model."""
        return {"method": self.method, "won_deals": self.won_deals, "learned_kinds": list(self.learned_kinds),
                "levels": self.levels,
                "medians": {k or "all": v for k, v in self.medians.items()}, "ceiling_kinds": list(self.ceiling_kinds)}


def _by_kind(frame: pl.DataFrame, table: dict[str, float], default: float) -> np.ndarray:
    """``table[kind]`` (``default`` for a kind not in it) for every row of ``frame``, as float64."""
    return frame.select(lookup(categorical_text("kind"), table, default)).to_series().to_numpy(writable=True)


def _won(panel: pl.DataFrame) -> pl.DataFrame:
    """The won items with a positive booked amount."""
    return panel.filter((pl.col("label") == 1) & (pl.col("won_amount") > 0))


def _medians(won: pl.DataFrame) -> dict[str, float]:
    """Median won amount per kind and ("") over all kinds; empty without wins."""
    if won.is_empty():
        return {}
    by_kind = won.group_by(kind=categorical_text("kind")).agg(pl.col("won_amount").median())
    return {**dict(zip(by_kind["kind"], by_kind["won_amount"], strict=True)), "": float(won["won_amount"].median())}


def _baseline(won: pl.DataFrame, medians: dict[str, float]) -> np.ndarray:
    """The per-kind median prediction of each won row."""
    kind = won.select(categorical_text("kind")).to_series().to_list()
    return np.array([medians.get(k, medians[""]) for k in kind], dtype=np.float64)


def _rows(model: str, y: np.ndarray, p: np.ndarray) -> list[MetricRow]:
    """Holdout metrics of one amount forecast."""
    values = {"gamma_deviance": float(mean_gamma_deviance(y, p)), "mae": float(np.mean(np.abs(y - p))),
              "forecast_to_actual": float(p.sum() / y.sum()), "rows": float(len(y))}
    return [(model, "all", metric, value) for metric, value in values.items()]


def train_amount_model(
    panel: pl.DataFrame,
    spec: FeatureSpec,
    holdout_dates: Sequence[dt.date],
    *,
    seed: int,
    min_won_deals: int,
    ceiling_kinds: Sequence[str],
    ensemble: EnsembleSettings,
) -> tuple[AmountModel, list[MetricRow]]:
    """Fit the amount model on the won items of ``panel``; return it and its metric rows."""
    won = _won(panel)
    medians = _medians(won)
    counts = won.group_by(kind=categorical_text("kind")).len()
    won_deals = {k: int(n) for k, n in sorted(zip(counts["kind"], counts["len"], strict=True))}
    learned = tuple(k for k, n in won_deals.items() if n >= min_won_deals)
    rows: list[MetricRow] = [("amount_chosen", "all", f"won_deals_{k}", float(n)) for k, n in won_deals.items()]
    make = partial(Ensemble, partial(_member, spec), ensemble, seed)
    is_holdout = pl.col("snapshot_date").is_in(list(holdout_dates))
    train, holdout = won.filter(~is_holdout), won.filter(is_holdout)
    method, levels = "median", {}
    if learned and train.height >= min_won_deals and holdout.height >= min_won_deals:
        y = holdout["won_amount"].to_numpy()
        baseline = _baseline(holdout, _medians(train))
        regressor = make().fit(train, train["won_amount"].to_numpy()).score(holdout)
        rows += _rows(MEDIAN, y, baseline) + _rows(REGRESSOR, y, regressor)
        method = "regressor" if mean_gamma_deviance(y, regressor) < mean_gamma_deviance(y, baseline) else "median"
        levels = _levels(holdout, y, regressor, learned, min_won_deals)
        rows += _rows(CHOSEN, y, regressor if method == "regressor" else baseline)
        rows += [(CHOSEN, "all", f"level_{k}", v) for k, v in levels.items()]
    if method == "median":
        learned, levels = (), {}
    fitted = make().fit(won, won["won_amount"].to_numpy()) if learned else None
    rows.append((CHOSEN, "all", "regressor_chosen", float(method == "regressor")))
    model = AmountModel(method, medians, won_deals, learned, tuple(ceiling_kinds), fitted, levels)
    return model, rows


def _levels(holdout: pl.DataFrame, y: np.ndarray, predicted: np.ndarray, kinds: tuple[str, ...],
            min_won_deals: int) -> dict[str, float]:
    """Per kind: booked / predicted on the holdout's won items (all kinds' ratio for a kind with
    fewer than min_won_deals of them), bounded to LEVEL_RANGE."""
    kind = holdout.select(categorical_text("kind")).to_series().to_numpy()
    overall = y.sum() / predicted.sum()
    levels = {}
    for k in kinds:
        rows = kind == k
        ratio = y[rows].sum() / predicted[rows].sum() if rows.sum() >= min_won_deals else overall
        levels[k] = float(np.clip(ratio, *LEVEL_RANGE))
    return levels
