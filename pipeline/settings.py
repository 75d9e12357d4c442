"""Plan settings: one YAML file, validated on load.

Every number the plan depends on lives here (see config/plan.yaml for the documented
defaults). Money is in the data's currency, rates are fractions 0-1.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

SEGMENT_NAMES = ("high_velocity", "mid_market", "enterprise")
SELF_SERVE = "self_serve"
QUOTA_FACTOR_RANGE = (0.60, 0.75)
DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "config" / "plan.yaml"


class SettingsError(ValueError):
    """The plan settings file is missing or breaks a rule."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SegmentSettings(_Strict):
    """One ACV band. An account belongs to the band whose min_acv <= acv < next band's min_acv."""

    name: Literal["high_velocity", "mid_market", "enterprise"]
    min_acv: float = Field(gt=0, description="lowest ACV of the band (inclusive)")
    book_min: int = Field(ge=0, description="fewest accounts for a full-capacity rep")
    book_max: int = Field(gt=0, description="most accounts for a full-capacity rep")
    quota_factor: float = Field(gt=0, le=1, description="quota = factor x territory EEV")

    @model_validator(mode="after")
    def _book_order(self) -> SegmentSettings:
        if self.book_min > self.book_max:
            raise ValueError(f"segment {self.name}: book_min {self.book_min} > book_max {self.book_max}")
        return self


class WhitespaceSettings(_Strict):
    """How whitespace is measured against peers (accounts of the same industry and size band)."""

    size_band_edges: list[int] = Field(
        default=[50, 200, 1000, 5000], description="employee counts where a new size band starts"
    )
    min_peer_group: int = Field(default=5, ge=1, description="smallest peer group used before falling back")
    seat_percentile: float = Field(default=0.75, gt=0, lt=1, description="peer percentile of seats per employee")
    usage_pressure_threshold: float = Field(
        default=0.9, gt=0, description="active users / licensed seats at which usage raises the seat potential"
    )
    usage_pressure_headroom: float = Field(
        default=1.2, ge=1, description="under pressure, potential seats >= active users x this"
    )
    cross_sell_min_peer_share: float = Field(
        default=0.4, ge=0, le=1, description="share of peers holding a product before it is offered"
    )
    cross_sell_percentile: float = Field(default=0.5, gt=0, lt=1, description="peer percentile of the product's ARR")
    cross_sell_scale_cap: float = Field(
        default=3.0, ge=1, description="cap on (account employees / peers' median employees)"
    )
    usage_window_days: int = Field(default=90, gt=0, description="recent window for active users")

    @model_validator(mode="after")
    def _edges_sorted(self) -> WhitespaceSettings:
        if self.size_band_edges != sorted(set(self.size_band_edges)):
            raise ValueError("whitespace.size_band_edges must be strictly increasing")
        return self


class ModelSettings(_Strict):
    """Close-probability model: point-in-time training on snapshots before the plan date."""

    horizon_months: int = Field(default=12, gt=0, description="label: won within this many months after a snapshot")
    snapshot_every_months: int = Field(default=3, gt=0, description="spacing of training snapshots")
    max_snapshots: int = Field(default=8, gt=0, description="most training snapshots, newest first")
    max_training_accounts: int = Field(
        default=50_000, gt=0, description="training snapshots use a seeded sample of at most this many accounts"
    )
    max_training_rows: int = Field(default=200_000, gt=0, description="panel sampled down to this many rows")
    holdout_share: float = Field(default=0.25, gt=0, lt=1, description="newest share of snapshots held out")
    min_positive_rows: int = Field(default=20, ge=1, description="fewer positives: fall back to base rates")
    capture: Literal["learned"] | float = Field(
        default="learned", description="share of whitespace a won deal books; 'learned' per kind, or a number 0-1"
    )

    @model_validator(mode="after")
    def _capture_range(self) -> ModelSettings:
        if not isinstance(self.capture, str) and not 0 < self.capture <= 1:
            raise ValueError("model.capture must be 'learned' or a number in (0, 1]")
        return self


class OperationsSettings(_Strict):
    """Scheduled refreshes and safe operation: schedule, sensor, usage partitions, retries, locking."""

    refresh_cron: str = Field(default="0 6 * * 1", description="cron of the weekly refresh job")
    timezone: str = Field(default="UTC", description="time zone of the refresh schedule")
    sensor_interval_seconds: int = Field(default=60, ge=10, description="how often the input-folder sensor looks")
    usage_start: dt.date = Field(
        default=dt.date(2022, 1, 3), description="first day of the first weekly usage partition (a Monday)"
    )
    drift_alert_share: float = Field(
        default=0.10, gt=0, description="a rep's territory EEV drift above this share of the plan is flagged"
    )
    balance_tolerance: float = Field(
        default=0.25, gt=0, description="largest allowed |rep EEV per capacity / segment mean - 1|"
    )
    max_retries: int = Field(default=2, ge=0, description="retries of a step after a transient (I/O) failure")
    retry_delay_seconds: float = Field(default=2.0, ge=0, description="wait before a retry (doubles each time)")
    lock_wait_seconds: float = Field(
        default=30.0, ge=0, description="how long a run waits for another run on the same DuckDB file"
    )

    @model_validator(mode="after")
    def _start_on_monday(self) -> OperationsSettings:
        if self.usage_start.weekday() != 0:
            raise ValueError(f"operations.usage_start must be a Monday, got {self.usage_start}")
        return self


class PlanSettings(_Strict):
    """The whole plan configuration."""

    as_of: dt.date = Field(description="plan date: ACV, whitespace and scores are measured as of this day")
    seed: int = Field(default=42, description="seed for every random choice (model, sampling)")
    segments: list[SegmentSettings]
    allow_factor_outside_range: bool = Field(
        default=False, description="allow a quota_factor outside 0.60-0.75 (reported in the summary)"
    )
    quota_rounding: float = Field(default=1000, gt=0, description="quotas are rounded to a multiple of this")
    blackout_days: int = Field(default=60, ge=0, description="no unsolicited outreach this many days before renewal")
    joint_planning_min_acv: float = Field(default=50_000, ge=0, description="ACV above which joint planning is flagged")
    whitespace: WhitespaceSettings = WhitespaceSettings()
    model: ModelSettings = ModelSettings()
    operations: OperationsSettings = OperationsSettings()

    @model_validator(mode="after")
    def _segments_valid(self) -> PlanSettings:
        names = [s.name for s in self.segments]
        if sorted(names) != sorted(SEGMENT_NAMES):
            raise ValueError(f"segments must be exactly {list(SEGMENT_NAMES)} once each, got {names}")
        edges = [s.min_acv for s in self.segments]
        if edges != sorted(edges) or len(set(edges)) != len(edges):
            raise ValueError(f"segments must be listed by strictly increasing min_acv, got {edges}")
        low, high = QUOTA_FACTOR_RANGE
        outside = [s.name for s in self.segments if not low <= s.quota_factor <= high]
        if outside and not self.allow_factor_outside_range:
            raise ValueError(
                f"quota_factor of {outside} is outside {low:.2f}-{high:.2f}; "
                "set allow_factor_outside_range: true to override (it is then reported)"
            )
        return self

    def factors_outside_range(self) -> list[SegmentSettings]:
        low, high = QUOTA_FACTOR_RANGE
        return [s for s in self.segments if not low <= s.quota_factor <= high]

    def segment_table(self) -> list[dict[str, object]]:
        """Rows of the band table the SQL joins: [min_acv, max_acv) per segment, self_serve first."""
        rows: list[dict[str, object]] = [
            {"segment": SELF_SERVE, "min_acv": 0.0, "max_acv": self.segments[0].min_acv, "quota_factor": 0.0}
        ]
        for seg, nxt in zip(self.segments, [*self.segments[1:], None], strict=True):
            rows.append(
                {
                    "segment": seg.name,
                    "min_acv": seg.min_acv,
                    "max_acv": nxt.min_acv if nxt else None,
                    "quota_factor": seg.quota_factor,
                }
            )
        return rows

    def size_band_labels(self) -> list[str]:
        """Readable employee size bands, e.g. ['<50', '50-199', ..., '5000+']."""
        edges = self.whitespace.size_band_edges
        inner = [f"{lo}-{hi - 1}" for lo, hi in zip(edges, edges[1:], strict=False)]
        return [f"<{edges[0]}", *inner, f"{edges[-1]}+"]

    def sql_params(self) -> dict[str, object]:
        """Every value the SQL transforms bind as `$name` (each file takes what it uses)."""
        ws, model = self.whitespace, self.model
        return {
            "as_of": self.as_of,
            "seed": self.seed,
            "horizon_months": model.horizon_months,
            "snapshot_every_months": model.snapshot_every_months,
            "max_snapshots": model.max_snapshots,
            "blackout_days": self.blackout_days,
            "joint_planning_min_acv": self.joint_planning_min_acv,
            "quota_rounding": self.quota_rounding,
            "size_band_edges": ws.size_band_edges,
            "size_band_labels": self.size_band_labels(),
            "min_peer_group": ws.min_peer_group,
            "seat_percentile": ws.seat_percentile,
            "usage_pressure_threshold": ws.usage_pressure_threshold,
            "usage_pressure_headroom": ws.usage_pressure_headroom,
            "cross_sell_min_peer_share": ws.cross_sell_min_peer_share,
            "cross_sell_percentile": ws.cross_sell_percentile,
            "cross_sell_scale_cap": ws.cross_sell_scale_cap,
            "usage_window_days": ws.usage_window_days,
            "drift_alert_share": self.operations.drift_alert_share,
            "balance_tolerance": self.operations.balance_tolerance,
        }

    def settings_hash(self) -> str:
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()[:16]


def load_settings(path: str | Path | None = None, as_of: dt.date | None = None) -> PlanSettings:
    """Read and validate the settings YAML; `as_of` overrides the file's plan date."""
    path = Path(path) if path else DEFAULT_CONFIG
    if not path.is_file():
        raise SettingsError(f"settings file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: not valid YAML: {exc}") from exc
    if as_of is not None:
        raw["as_of"] = as_of
    try:
        return PlanSettings.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}" for err in exc.errors()
        )
        raise SettingsError(f"{path}: invalid plan settings: {problems}") from exc
