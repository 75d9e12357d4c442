"""PNG charts of the model and the backtest (matplotlib, Agg backend: no display needed).

Each function writes one file and returns its path; the figures carry their own titles and
axis labels in the users' terms, so a chart read alone says what it shows.
"""

from __future__ import annotations

import base64
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import polars as pl  # noqa: E402

FIGURE_SIZE = (7.0, 4.5)
DPI = 110
TOP_FEATURES = 15
PNG_METADATA = {"Software": None}  # no library version in the file: same chart, same bytes


def _save(figure: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=DPI, metadata=PNG_METADATA)
    plt.close(figure)
    return path


def calibration_chart(curve: pl.DataFrame, path: Path, title: str) -> Path:
    """Reliability curve: mean predicted p_close vs observed won share per bin, per forecast."""
    figure, axis = plt.subplots(figsize=FIGURE_SIZE)
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    for (forecast,), points in curve.sort("bin").group_by("forecast", maintain_order=True):
        axis.plot(points["mean_predicted"], points["observed_rate"], marker="o", label=str(forecast))
    if curve.is_empty():
        axis.text(0.5, 0.5, "no holdout: the plan fell back to base rates", ha="center", va="center")
    axis.set(xlim=(0, 1), ylim=(0, 1), xlabel="predicted close probability (bin mean)",
             ylabel="share of items won", title=title)
    axis.legend(loc="upper left")
    return _save(figure, path)


def importance_chart(importances: pl.DataFrame, path: Path, title: str) -> Path:
    """Horizontal bars of the largest permutation importances (rise in holdout log loss)."""
    top = importances.head(TOP_FEATURES).reverse()
    figure, axis = plt.subplots(figsize=FIGURE_SIZE)
    axis.barh(top["feature"].to_list(), top["importance"].to_list(), xerr=top["importance_std"].to_list())
    if importances.is_empty():
        axis.text(0.5, 0.5, "no importances: the base-rate model reads no feature", ha="center", va="center",
                  transform=axis.transAxes)
    axis.set(xlabel="rise in holdout log loss when the feature is shuffled", title=title)
    return _save(figure, path)


def backtest_chart(reps: pl.DataFrame, path: Path, title: str) -> Path:
    """Attainment of every rep under each quota scheme (one column of dots per scheme)."""
    figure, axis = plt.subplots(figsize=FIGURE_SIZE)
    schemes = reps["scheme"].unique(maintain_order=True).to_list()
    for position, scheme in enumerate(schemes):
        values = reps.filter(pl.col("scheme") == scheme)["attainment"].drop_nulls().to_list()
        axis.scatter([position] * len(values), values, alpha=0.6, label=scheme)
        axis.boxplot([values], positions=[position], widths=0.4, showfliers=False)
    axis.axhline(1.0, linestyle="--", color="grey")
    axis.set_xticks(range(len(schemes)), schemes)
    axis.set(ylabel="attainment (actual expansion ARR / quota)", title=title)
    return _save(figure, path)


def markdown_image(path: Path, caption: str) -> str:
    """Markdown that shows a PNG inline (as a data URI), for Dagster metadata."""
    data = base64.b64encode(path.read_bytes()).decode()
    return f"![{caption}](data:image/png;base64,{data})"
