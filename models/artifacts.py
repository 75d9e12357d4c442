"""The versioned model artifact beside the DuckDB file (``<db folder>/artifacts/``).

For model version ``m-xxxxxxxxxxxx`` the folder holds:
- ``m-xxxxxxxxxxxx.pkl``: the fitted model (``models.close_probability.TrainedModel``);
- ``m-xxxxxxxxxxxx.json``: its sidecar: version, chosen candidate, fallback reason,
  calibration method, features (and whether usage was available), the amount model,
  data fingerprint, library versions, every metric and the permutation importances;
- ``m-xxxxxxxxxxxx_calibration.png`` and ``m-xxxxxxxxxxxx_importance.png``: the charts.
The version id is a hash of the data fingerprint, the settings, the training arguments,
the features and the library versions, so an existing file of that name is the same model.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from pathlib import Path

from models.charts import calibration_chart, importance_chart
from models.close_probability import TrainedModel, library_versions


@dataclass(frozen=True)
class ModelArtifacts:
    """Paths of one saved model version."""

    model: Path
    sidecar: Path
    calibration_chart: Path
    importance_chart: Path


def sidecar(model: TrainedModel, uses_usage: bool, data_fingerprint: str) -> dict[str, object]:
    """What the JSON sidecar says about a trained model."""
    return {
        "model_version": model.version,
        "chosen": model.chosen,
        "fallback_reason": model.fallback_reason,
        "calibration": model.calibrator.method if model.calibrator else None,
        "features": {"numeric": list(model.features.numeric), "categorical": list(model.features.categorical)},
        "uses_usage": uses_usage,
        "amount": model.amount.summary(),
        "data_fingerprint": data_fingerprint,
        "libraries": library_versions(),
        "metrics": model.metrics.drop("model_version").to_dicts(),
        "importances": model.importances.to_dicts(),
    }


def save_model(model: TrainedModel, folder: Path, uses_usage: bool, data_fingerprint: str) -> ModelArtifacts:
    """Write the model, its sidecar and its charts into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / model.version
    paths = ModelArtifacts(
        model=stem.with_suffix(".pkl"),
        sidecar=stem.with_suffix(".json"),
        calibration_chart=folder / f"{model.version}_calibration.png",
        importance_chart=folder / f"{model.version}_importance.png",
    )
    paths.model.write_bytes(pickle.dumps(model))
    paths.sidecar.write_text(json.dumps(sidecar(model, uses_usage, data_fingerprint), indent=2, sort_keys=True))
    calibration_chart(model.calibration, paths.calibration_chart,
                      f"Calibration of {model.chosen} on the holdout snapshots ({model.version})")
    importance_chart(model.importances, paths.importance_chart,
                     f"Permutation importance of {model.chosen} on the holdout ({model.version})")
    return paths


def load_model(folder: Path, version: str) -> TrainedModel:
    """The pickled model of ``version`` in ``folder``."""
    return pickle.loads((folder / f"{version}.pkl").read_bytes())
