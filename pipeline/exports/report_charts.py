"""The plan report's charts as PNG bytes (matplotlib, Agg canvas, no global pyplot state).

Each function takes the export's frames and returns one PNG, or None when the plan has
nothing to draw. PNGs carry no timestamp (metadata Software is dropped), so the same plan
gives the same bytes. Labels from the data (rep and account ids, a table's text column) are
drawn as plain text (`_labels`, PLAIN): matplotlib would otherwise read `$...$` in an id as
mathtext and fail on it (docs/threat-model.md, "Chart labels").
"""

from __future__ import annotations

import io
from collections.abc import Callable

import polars as pl
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from pipeline.core.plain_text import printable

WIDE = (8.0, 3.6)
PALETTE = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860")
Draw = Callable[[Axes], None]
PLAIN = {"parse_math": False}  # tick labels from the data: text, never mathtext


def _labels(values: pl.Series) -> list[str]:
    """Tick labels from the data: one plain line each."""
    return [printable(v) for v in values.cast(pl.String).fill_null("").to_list()]


def _save(figure: Figure, dpi: int) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def _png(draw: Draw, dpi: int, size: tuple[float, float] = WIDE) -> bytes:
    figure = Figure(figsize=size, layout="constrained")
    draw(figure.subplots())
    return _save(figure, dpi)


def _money_axis(ax: Axes, axis: str = "y") -> None:
    formatter = FuncFormatter(lambda v, _pos: f"{v / 1000:,.0f}K" if abs(v) >= 1000 or v == 0 else f"{v:,.0f}")
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(formatter)
    ax.grid(axis=axis, alpha=0.3)


def eev_and_quota_by_segment(summary: pl.DataFrame, dpi: int) -> bytes | None:
    """Grouped bars: account EEV, territory EEV and quota per expansion segment."""
    rows = summary.filter(pl.col("territory_eev").is_not_null() & (pl.col("segment") != "total"))
    if rows.height == 0:
        return None

    def draw(ax: Axes) -> None:
        series = (("territory EEV", "territory_eev"), ("quota", "quota"))
        width = 0.8 / len(series)
        for i, (label, column) in enumerate(series):
            positions = [x + (i - (len(series) - 1) / 2) * width for x in range(rows.height)]
            ax.bar(positions, rows[column].to_list(), width, label=label, color=PALETTE[i])
        ax.set_xticks(range(rows.height), rows["segment"].to_list())
        ax.set_title("EEV and quota by segment")
        ax.legend(frameon=False)
        _money_axis(ax)

    return _png(draw, dpi)


def _segment_colors(segments: list[str]) -> dict[str, str]:
    return {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(dict.fromkeys(segments))}


def _rep_bars(quotas: pl.DataFrame, column: str, title: str, dpi: int, named_reps: int,
              band: float | None = None) -> bytes | None:
    """One bar per rep (grouped by segment, the plan's order), coloured by segment; with `band`,
    the column is a share (percent axis) and dashed lines mark +/- band. Up to `named_reps` reps each
    bar is named; above, each segment's bars are one filled outline (the same picture: a bar is
    narrower than a pixel there) labelled by segment, which matplotlib draws and lays out in a
    fraction of the time of a thousand named bars."""
    if quotas.height == 0:
        return None
    colors = _segment_colors(quotas["segment"].to_list())

    def draw(ax: Axes) -> None:
        if quotas.height <= named_reps:
            ax.bar(range(quotas.height), quotas[column].to_list(), color=[colors[s] for s in quotas["segment"]])
            for segment, color in colors.items():
                ax.bar([0], [0], color=color, label=segment)
            ax.set_xticks(range(quotas.height), _labels(quotas["name"] if "name" in quotas.columns
                                                        else quotas["rep_id"]), rotation=90, fontsize=7, **PLAIN)
        else:
            _segment_outlines(ax, quotas, column, colors)
        ax.set_title(title)
        ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        if band is None:
            _money_axis(ax)
            return
        for level in (-band, band):
            ax.axhline(level, color="black", linestyle="dashed", linewidth=1)
        ax.axhline(0, color="black", linewidth=0.5)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.grid(axis="y", alpha=0.3)

    return _png(draw, dpi)


def _segment_outlines(ax: Axes, quotas: pl.DataFrame, column: str, colors: dict[str, str]) -> None:
    """The bars of each segment's run of reps as one filled step outline, the segment named under it."""
    runs = (quotas.with_row_index("position").group_by(pl.col("segment").rle_id().alias("run"), maintain_order=True)
            .agg(pl.col("segment").first(), pl.col("position").first().alias("start"), pl.col(column)))
    named: set[str] = set()
    for segment, start, values in runs.select("segment", "start", column).iter_rows():
        edges = [start - 0.5 + i for i in range(len(values) + 1)]
        ax.stairs(values, edges, baseline=0, fill=True, color=colors[segment],
                  label=None if segment in named else segment)
        named.add(segment)
    middles = (runs["start"] + runs[column].list.len() / 2 - 0.5).to_list()
    ax.set_xticks(middles, _labels(runs["segment"]), fontsize=8, **PLAIN)
    ax.set_xlim(-0.5, quotas.height - 0.5)
    ax.set_xlabel(f"{quotas.height:,} reps, one bar each (too many to name: see the quotas table)")


def quota_by_rep(quotas: pl.DataFrame, dpi: int, named_reps: int) -> bytes | None:
    """Quota of every rep: the distribution of quotas across the team."""
    return _rep_bars(quotas, "quota", "Quota per rep", dpi, named_reps)


def territory_balance(quotas: pl.DataFrame, tolerance: float, dpi: int, named_reps: int) -> bytes | None:
    """Each rep's balance_deviation (the quotas table's: territory EEV against the rep's
    capacity-proportional target), with the balance tolerance dashed."""
    return _rep_bars(quotas.filter(pl.col("balance_deviation").is_not_null()), "balance_deviation",
                     f"Territory balance: deviation from target (dashed: +/-{tolerance:.0%} tolerance)", dpi,
                     named_reps, band=tolerance)


def model_comparison(model: pl.DataFrame, dpi: int) -> bytes | None:
    """Holdout ROC AUC, Brier score, log loss and ECE of every candidate model (segment 'all'): one
    panel per metric, each on its own axis (the metrics have different scales and directions)."""
    metrics = [m for m in ("roc_auc", "brier", "log_loss", "ece") if m in model.columns]
    rows = model.filter(pl.col("segment") == "all")
    if rows.height == 0 or not metrics:
        return None
    better = {"roc_auc": "higher is better"}
    figure = Figure(figsize=(2.6 * len(metrics), 3.0), layout="constrained")
    for ax, metric in zip(figure.subplots(1, len(metrics), squeeze=False)[0], metrics, strict=True):
        ax.bar(range(rows.height), rows[metric].fill_null(0).to_list(),
               color=[PALETTE[i % len(PALETTE)] for i in range(rows.height)])
        ax.set_xticks(range(rows.height), _labels(rows["model"]), rotation=45, fontsize=7, ha="right", **PLAIN)
        ax.set_title(f"{metric} ({better.get(metric, 'lower is better')})", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    figure.suptitle("Close-probability models on the holdout")
    return _save(figure, dpi)


def calibration_curve(points: pl.DataFrame, dpi: int) -> bytes | None:
    """Observed win rate against mean predicted p_close per bin (diagonal = perfect)."""
    if points.height == 0 or not {"mean_predicted", "observed_rate"} <= set(points.columns):
        return None

    def draw(ax: Axes) -> None:
        ax.plot([0, 1], [0, 1], linestyle="dashed", color="grey", linewidth=1, label="perfect calibration")
        ax.plot(points["mean_predicted"].to_list(), points["observed_rate"].to_list(), marker="o", color=PALETTE[0],
                label="chosen model")
        ax.set_xlabel("predicted p_close")
        ax.set_ylabel("observed win rate")
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_title("Calibration on the holdout")
        ax.legend(frameon=False)
        ax.grid(alpha=0.3)

    return _png(draw, dpi, (5.0, 4.0))


def comparison(table: pl.DataFrame, title: str, dpi: int) -> bytes | None:
    """Small multiples: one panel per numeric column, one bar per row labelled by the first text
    column (for comparison tables such as a backtest's methods)."""
    labels = next((c for c, t in table.schema.items() if t == pl.String), None)
    numeric = [c for c, t in table.schema.items() if t.is_numeric()]
    if labels is None or not numeric or table.height == 0:
        return None
    figure = Figure(figsize=(3.0 * len(numeric), 3.2), layout="constrained")
    for ax, column in zip(figure.subplots(1, len(numeric), squeeze=False)[0], numeric, strict=True):
        ax.bar(range(table.height), table[column].fill_null(0).to_list(), color=PALETTE[0])
        ax.set_xticks(range(table.height), _labels(table[labels]), rotation=45, fontsize=7, **PLAIN)
        ax.set_title(column, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    figure.suptitle(title)
    return _save(figure, dpi)


def largest_moves(top: pl.DataFrame, value: str, dpi: int) -> bytes | None:
    """Horizontal bars: the given moves (largest first) by `value`, largest on top."""
    if top.height == 0:
        return None

    def draw(ax: Axes) -> None:
        ax.barh(range(top.height), top[value].to_list()[::-1], color=PALETTE[1])
        names = top["account_name"] if "account_name" in top.columns else top["account_id"]
        ax.set_yticks(range(top.height), _labels(names.reverse()), **PLAIN)
        ax.set_title("Largest territory moves by EEV")
        _money_axis(ax, "x")

    return _png(draw, dpi, (8.0, max(2.5, 0.3 * top.height)))
