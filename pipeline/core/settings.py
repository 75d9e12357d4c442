"""Plan settings: one YAML file, validated on load.

Every number the plan depends on lives here (see config/plan.yaml for the documented
defaults). Money is in the data's currency, rates are fractions 0-1.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipeline.core.shipped import shipped_folder
from pipeline.core.yaml_model import load_yaml_model
from pipeline.ingestion.contract import DEAL_SOURCES, SEGMENT_NAME_PATTERN
from pipeline.ingestion.duplicates import DuplicateRows

SELF_SERVE = "self_serve"
QUOTA_FACTOR_RANGE = (0.60, 0.75)
DEFAULT_CONFIG = shipped_folder("config") / "plan.yaml"


def plan_year_end(start: dt.date) -> dt.date:
    """The day after the plan year that starts on `start` (the plan's as_of): start + 12 months, the
    day clipped to the month's length as DuckDB adds months (2024-02-29 -> 2025-02-28). The one
    definition of the quota period: letters, report, tracking and quota phasing all use it."""
    year, month = start.year + 1, start.month
    return dt.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


class SettingsError(ValueError):
    """The plan settings file is missing or breaks a rule."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SegmentSettings(_Strict):
    """One expansion segment: an ACV band [min_acv, max_acv), optionally narrowed by dimension values of
    the account (industry, region, any column listed in segment_dimensions), plus named accounts."""

    name: str = Field(pattern=SEGMENT_NAME_PATTERN, description="segment name: lower-case letters, digits, _")
    min_acv: float = Field(gt=0, description="lowest ACV of the band (inclusive)")
    max_acv: float | None = Field(
        default=None, gt=0,
        description="ACV where the band ends (exclusive); null = the next higher min_acv among the segments "
        "whose dimension values overlap this one's (no upper bound when there is none)",
    )
    book_min: int = Field(ge=0, description="fewest accounts for a full-capacity rep")
    book_max: int = Field(gt=0, description="most accounts for a full-capacity rep")
    quota_factor: Literal["auto"] | float = Field(
        description="quota = factor x territory EEV; 'auto': the factor inside 0.60-0.75 at which the predicted "
        "share of the segment's reps attaining reaches quota.target_attainment_share"
    )
    dimensions: dict[str, list[str]] = Field(
        default={},
        description="account column -> the values this segment takes (a column of segment_dimensions; an empty "
        "cell is the value 'unknown'); a column not given: every value",
    )
    accounts: list[str] = Field(
        default=[], description="named accounts (account_ids) in this segment whatever their ACV and dimensions"
    )
    target_eev_per_rep: float | None = Field(
        default=None, gt=0,
        description="territory EEV one full-capacity rep should carry; segment_headcount reports the reps "
        "the segment's EEV needs at it (null: not reported)",
    )

    @model_validator(mode="after")
    def _book_order(self) -> SegmentSettings:
        if self.book_min > self.book_max:
            raise ValueError(f"segment {self.name}: book_min {self.book_min} > book_max {self.book_max}")
        if not isinstance(self.quota_factor, str) and not 0 < self.quota_factor <= 1:
            raise ValueError(f"segment {self.name}: quota_factor must be 'auto' or a number in (0, 1]")
        if self.max_acv is not None and self.max_acv <= self.min_acv:
            raise ValueError(f"segment {self.name}: max_acv {self.max_acv:,.0f} <= min_acv {self.min_acv:,.0f}")
        empty = [column for column, values in self.dimensions.items() if not values]
        if empty:
            raise ValueError(f"segment {self.name}: dimensions {empty} list no value")
        return self

    @property
    def fixed_factor(self) -> float | None:
        """The factor the settings fix, None when it is 'auto' (chosen from the predicted attainment)."""
        return None if isinstance(self.quota_factor, str) else self.quota_factor

    def takes(self, column: str, value: str) -> bool:
        """Whether the segment takes accounts whose `column` holds `value` (a column it does not narrow: yes)."""
        return column not in self.dimensions or value in self.dimensions[column]

    def shares_values_with(self, other: SegmentSettings) -> bool:
        """Whether some account could match the dimension values of both segments."""
        return all(set(values) & set(other.dimensions[column])
                   for column, values in self.dimensions.items() if column in other.dimensions)


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
    cross_sell_percentile: float = Field(default=0.5, gt=0, lt=1, description="peer percentile of the product's ARR")
    cross_sell_scale_cap: float = Field(
        default=3.0, ge=1, description="cap on (account employees / median employees of the peers holding it)"
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
    allow_base_rate_plan: bool = Field(
        default=False,
        description="publish a plan whose model does not beat the base rate on the holdout (base rates "
        "used, reported); false: the blocking check beats_base_rate stops such a plan",
    )
    expected_amount: Literal["learned", "whitespace"] = Field(
        default="learned",
        description="the amount a won item books: 'learned' (a regressor on history's won deals, E[booked | win]) "
        "or 'whitespace' (the textbook EEV = whitespace x p_close)",
    )
    amount_min_won_deals: int = Field(
        default=30, ge=1,
        description="a kind with fewer won deals in the history gets the median won amount of its kind "
        "(of all kinds when it has none) instead of the learned amount",
    )
    amount_ceiling_kinds: list[Literal["seat", "cross_sell", "upgrade"]] = Field(
        default=["upgrade"], description="kinds whose whitespace is a true ceiling: expected amount <= whitespace"
    )
    ensemble_members: int = Field(
        default=2, ge=1,
        description="gradient-boosted models (close probability and amount) are the average of this many fits, "
        "each on its own seeded subsample of the rows (bagging: reruns move less; fit and score cost x members)",
    )
    ensemble_subsample: float = Field(
        default=0.8, gt=0, le=1, description="share of the training rows each ensemble member is fitted on"
    )
    eev_acv_flag_multiple: float = Field(
        default=1.0, gt=0, description="account_eev flags an account whose EEV exceeds this multiple of its ACV"
    )
    growth_min_days: int = Field(
        default=180, gt=0, le=365,
        description="the usage slope of a product (a growth feature) needs usage spanning at least this many "
        "days of the year before the snapshot",
    )
    deal_rate_min_days: int = Field(
        default=90, gt=0,
        description="the expansion deal rate (a feature) needs at least this many days of tenure covered by "
        "the deal history before the snapshot",
    )


BONUS_RATE_RANGE = (0.05, 0.10)


class CreditTier(_Strict):
    """One cell of the attribution matrix: deals of the source with amount >= min_amount (up to
    the next tier's min_amount, exclusive) credit rep_share to the expansion rep, csm_share to the CSM."""

    min_amount: float = Field(ge=0, description="lowest deal amount of the tier (inclusive)")
    rep_share: float = Field(ge=0, le=1, description="share of the deal amount credited to the expansion rep")
    csm_share: float = Field(ge=0, le=1, description="share of the deal amount credited to the CSM")

    @model_validator(mode="after")
    def _shares_sum(self) -> CreditTier:
        if self.rep_share + self.csm_share > 1 + 1e-9:
            raise ValueError(f"rep_share {self.rep_share} + csm_share {self.csm_share} > 1")
        return self


def _default_matrix() -> dict[str, list[CreditTier]]:
    return {
        "csm_sourced": [CreditTier(min_amount=0, rep_share=0.70, csm_share=0.30),
                        CreditTier(min_amount=25_000, rep_share=0.60, csm_share=0.40),
                        CreditTier(min_amount=100_000, rep_share=0.55, csm_share=0.45)],
        "ae_sourced": [CreditTier(min_amount=0, rep_share=0.80, csm_share=0.20)],
        "joint": [CreditTier(min_amount=0, rep_share=0.50, csm_share=0.50)],
        "csm_closed": [CreditTier(min_amount=0, rep_share=0.00, csm_share=1.00)],
        "add_on": [CreditTier(min_amount=0, rep_share=0.00, csm_share=0.00)],
    }


class TrackingSettings(_Strict):
    """In-year tracking against the current plan: credit splits, attainment, coverage, CSM bonus."""

    through: dt.date | None = Field(
        default=None, description="track up to this day (inclusive); null = the latest opportunity date"
    )
    schedule: str = Field(default="0 6 * * *", description="cron schedule of tracking_job")
    attribution: dict[str, list[CreditTier]] = Field(
        default_factory=_default_matrix, description="deal source -> size tiers -> rep and CSM shares"
    )
    missing_source: str = Field(default="joint", description="source rule applied to a deal without a source")
    commission_rate: dict[str, float] = Field(
        default={"high_velocity": 0.10, "mid_market": 0.10, "enterprise": 0.10},
        description="expansion rep commission per segment, fraction of the rep's credited ARR (one rate for "
        "each segment of the plan)",
    )
    csm_bonus_rate: float = Field(
        default=0.075, description="CSM soft bonus: this share of the rep's commission on a CSM-sourced deal"
    )
    phasing: Literal["flat", "seasonal"] = Field(default="flat", description="how the yearly quota spreads over months")
    phasing_history_years: int = Field(default=3, gt=0, description="seasonal phasing learns from this many years")
    coverage_next_quarters: int = Field(
        default=1, ge=0,
        description="coverage window: from the day after `through` to the end of its plan quarter plus this many "
        "quarters (clipped to the plan year)",
    )
    qualified_stages: list[str] | None = Field(
        default=None, min_length=1,
        description="CRM stages (opportunities.pipeline_stage) at or past qualification: only open deals in them "
        "count as pipeline; null = every open deal",
    )
    coverage_warning: float = Field(
        default=3.0, gt=0, description="window coverage at or above this is healthy; below it, a warning"
    )
    coverage_urgent: float = Field(
        default=2.0, gt=0, description="window coverage below this is urgent (unless the rep is ahead of pace)"
    )

    @model_validator(mode="after")
    def _matrix_valid(self) -> TrackingSettings:
        if sorted(self.attribution) != sorted(DEAL_SOURCES):
            raise ValueError(f"attribution must list exactly the sources {list(DEAL_SOURCES)}, "
                             f"got {sorted(self.attribution)}")
        for source, tiers in self.attribution.items():
            edges = [t.min_amount for t in tiers]
            if not edges or edges[0] != 0 or edges != sorted(set(edges)):
                raise ValueError(f"attribution.{source}: tiers must start at min_amount 0 and increase "
                                 f"strictly (contiguous, no gap or overlap), got {edges}")
        if self.missing_source not in DEAL_SOURCES:
            raise ValueError(f"missing_source must be one of {list(DEAL_SOURCES)}, got {self.missing_source!r}")
        if not all(0 <= r <= 1 for r in self.commission_rate.values()):
            raise ValueError("commission_rate: every rate must be 0-1")
        low, high = BONUS_RATE_RANGE
        if not low <= self.csm_bonus_rate <= high:
            raise ValueError(f"csm_bonus_rate {self.csm_bonus_rate} is outside {low:.2f}-{high:.2f}")
        if self.qualified_stages is not None and len(set(self.qualified_stages)) != len(self.qualified_stages):
            raise ValueError(f"qualified_stages lists a stage twice: {self.qualified_stages}")
        if self.coverage_urgent > self.coverage_warning:
            raise ValueError(f"coverage_urgent {self.coverage_urgent} > coverage_warning {self.coverage_warning}")
        return self

    def credit_rules(self) -> list[dict[str, object]]:
        """Rows of the attribution matrix table the SQL joins: [min_amount, max_amount) per tier."""
        rows: list[dict[str, object]] = []
        for source in DEAL_SOURCES:
            tiers = self.attribution[source]
            for tier, nxt in zip(tiers, [*tiers[1:], None], strict=True):
                if len(tiers) == 1:
                    size = "any amount"
                elif nxt:
                    size = f"{tier.min_amount:,.0f} <= amount < {nxt.min_amount:,.0f}"
                else:
                    size = f"amount >= {tier.min_amount:,.0f}"
                split = (f"rep {tier.rep_share:.0%} / CSM {tier.csm_share:.0%}"
                         if tier.rep_share or tier.csm_share else "no expansion credit")
                rows.append({
                    "source": source, "min_amount": tier.min_amount,
                    "max_amount": nxt.min_amount if nxt else None,
                    "rep_share": tier.rep_share, "csm_share": tier.csm_share,
                    "rule": f"{source}, {size}: {split}",
                })
        return rows

    def commission_table(self) -> list[dict[str, object]]:
        return [{"segment": s, "commission_rate": r} for s, r in sorted(self.commission_rate.items())]


class EvaluationSettings(_Strict):
    """How the close-probability model is explained and how the backtest judges a plan."""

    importance_rows: int = Field(
        default=2_000, gt=0, description="permutation importance: holdout rows drawn per shuffle"
    )
    importance_repeats: int = Field(default=3, gt=0, description="permutation importance: shuffles per feature")
    backtest_months: int = Field(
        default=12, gt=0, description="backtest: expansion ARR won in this many months after the plan date"
    )


class ExportSettings(_Strict):
    """What the exported workbook, quota letters and plan report show (not where they go:
    the folder is a resource, see pipeline/defs/resources.py)."""

    letter_items_per_account: int = Field(
        default=3, ge=1, description="main whitespace items (largest EEV first) listed per account in a quota letter"
    )
    report_largest_moves: int = Field(default=15, ge=1, description="largest territory moves shown in the report")
    currency_symbol: str = Field(default="$", max_length=3, description="shown before money in the workbook, letters, report")
    percent_format: str = Field(default="0.0%", description="Excel number format of rates and shares")
    max_column_width_px: int = Field(default=360, ge=50, description="widest an auto-fitted workbook column gets")
    excel_max_rows: int = Field(
        default=1_048_575, ge=1, le=1_048_575,
        description="a table longer than this goes to CSV/Parquet only (Excel's limit is 1,048,575 data rows); "
        "per-account tables also stop at workbook_account_rows",
    )
    chart_dpi: int = Field(default=100, ge=50, le=300, description="resolution of the report's charts")
    chart_named_reps: int = Field(
        default=60, ge=1, description="the per-rep charts (quota per rep, territory balance) name each rep under "
        "its bar up to this many reps; with more, the bars are drawn as one outline per segment, named by segment"
    )
    letter_top_accounts: int = Field(
        default=10, ge=1, description="accounts listed one by one in a quota letter (largest EEV first); the rest "
        "are summarised in one line, and gained, lost and joint-planning accounts are listed up to this many each"
    )
    letter_min_p_close: float = Field(
        default=0.01, ge=0, lt=1, description="whitespace items with a close probability below this (fraction 0-1) "
        "are not listed in quota letters (they would read as 0%); they still count in the EEV"
    )
    letter_pdfs: bool = Field(
        default=True, description="print each quota letter to PDF with headless Chromium (HTML only when false "
        "or when Chromium is missing, which the export's summary then says)"
    )
    letter_pdf_workers: int = Field(default=2, ge=1, description="Chromium processes printing letters at a time")
    letter_pdf_max_letters: int = Field(
        default=300, ge=0, description="a plan run prints the letters to PDF only when the plan has at most this "
        "many (Chromium prints about 10 letters a second on 2 cores); with more, the letters are HTML only, the "
        "export's summary says so, and `quota-plan export --letter-pdfs` prints every one of them"
    )
    report_rep_rows: int = Field(
        default=200, ge=1, description="rows of each per-rep table of the plan report (quotas, predicted attainment, "
        "tracking); with more reps, each table keeps the reps to look at first (largest balance deviation, lowest "
        "P(attain), most behind) up to this many and says where every rep is (workbook, csv/, letters/)"
    )
    summary_rep_lines: int = Field(
        default=50, ge=1, description="reps (and anchor accounts) listed one per line in the printed summaries of "
        "run, track and refresh; with more, each segment gets one line, the reps most behind (or drifted) are "
        "listed first up to this many and the rest counted (every row is in the DuckDB tables and the workbook)"
    )
    workbook_items_per_rep: int = Field(
        default=25, ge=1, description="whitespace items per rep (largest EEV first) on the workbook's Top items "
        "sheet; every item is in csv/ and parquet/whitespace_items"
    )
    workbook_account_rows: int = Field(
        default=50_000, ge=0, description="per-account tables (accounts, territories, moves, contributions, "
        "deals) with up to this many rows also get a workbook sheet; longer ones are CSV/Parquet only"
    )
    workbook_max_cells: int = Field(
        default=750_000, ge=0, description="cells (rows x columns) of the workbook's sheets other than Summary, "
        "Quotas and New adjustments: sheets are added in order while they fit, Top items keeps as many items per "
        "rep as fit, the others go to CSV/Parquet only (the workbook is written at about 100,000 cells a second)"
    )


class TerritorySettings(_Strict):
    """Territory balance, rebalancing, locked accounts, mid-year moves and the company target."""

    balance_tolerance: float = Field(
        default=0.05, gt=0, lt=1, description="each rep's territory EEV within +/- this share of its target"
    )
    report_band: float = Field(
        default=0.15, gt=0, lt=1, description="the summary reports the share of reps within +/- this of target"
    )
    locked_accounts: list[str] = Field(
        default=[], description="account_ids that stay with their owner (besides accounts.locked = true)"
    )
    anchor_share: float = Field(
        default=0.5, gt=0,
        description="an account whose EEV exceeds this share of one full-capacity rep's target EEV is an anchor: "
        "placed first, at most one per full-capacity rep where possible, the rest balanced around it",
    )
    milp_max_variables: int = Field(
        default=20_000, ge=0, description="segments with accounts x reps up to this are solved by the MILP"
    )
    milp_max_nodes: int = Field(default=500, gt=0, description="MILP branch-and-bound nodes per segment")
    milp_time_limit_seconds: float = Field(default=20, gt=0, description="MILP time limit per segment")
    effective_date: dt.date | None = Field(
        default=None, description="mid-year rebalance: moved accounts' quota split by time at this date"
    )
    plan_period_days: int = Field(default=365, gt=0, description="length of the quota period from as_of")
    company_target: float | None = Field(
        default=None, gt=0, description="company expansion target the quotas are compared with"
    )


class CapacitySettings(_Strict):
    """Capacity with ramp: a rep's capacity in each month of the plan year scaled by tenure (reps.start_date),
    leave and departure (reps.leave_start / leave_end, reps.end_date); see sql/plan/rep_capacity_months.sql."""

    ramp_schedule: list[float] = Field(
        default=[0.25, 0.5, 0.75, 1.0], min_length=1,
        description="share 0-1 of capacity in each ramp period of tenure (the first period, the second, ...); "
        "full capacity after the last; a rep without start_date is fully ramped",
    )
    ramp_period_months: int = Field(default=3, gt=0, description="months of tenure each ramp_schedule value covers")

    @model_validator(mode="after")
    def _ramp_range(self) -> CapacitySettings:
        if not all(0 <= share <= 1 for share in self.ramp_schedule):
            raise ValueError(f"capacity.ramp_schedule: every share must be 0-1, got {self.ramp_schedule}")
        return self


class QuotaSettings(_Strict):
    """What a quota should be: the share of reps expected to attain it, which an 'auto' quota factor reaches."""

    target_attainment_share: float = Field(
        default=0.65, gt=0, lt=1,
        description="predicted share of a segment's reps attaining their quota that an 'auto' quota_factor aims at "
        "(the highest factor inside 0.60-0.75 whose predicted share is at least this)",
    )


class ForecastSettings(_Strict):
    """The Monte Carlo of each rep's year: every item wins with its p_close and then books a gamma-distributed
    amount with mean = its expected amount and the coefficient of variation of its kind."""

    draws: int = Field(default=2_000, ge=100, description="simulated years (Monte Carlo draws), seeded by `seed`")
    amount_cv: Literal["learned"] | float = Field(
        default="learned",
        description="spread of a won item's amount around its expected amount (coefficient of variation): "
        "'learned' per kind from the won training items, or a number >= 0 (0 = the expected amount exactly)",
    )
    amount_cv_min_wins: int = Field(
        default=30, ge=2, description="a kind with fewer won training items than this uses amount_cv_fallback"
    )
    amount_cv_fallback: float = Field(
        default=1.0, ge=0,
        description="coefficient of variation of a kind with too few wins (1 = exponential amounts, the "
        "maximum-entropy law of a positive amount of known mean)",
    )

    @model_validator(mode="after")
    def _cv_range(self) -> ForecastSettings:
        if not isinstance(self.amount_cv, str) and self.amount_cv < 0:
            raise ValueError("forecast.amount_cv must be 'learned' or a number >= 0")
        return self


# operations settings that bound DuckDB's memory, spill folder and threads (not the plan's numbers)
DUCKDB_RESOURCE_SETTINGS = ("duckdb_memory_limit", "duckdb_temp_directory", "duckdb_threads")
# exports settings that decide how the files are drawn and the summaries printed, not what they say
EXPORT_FILE_SETTINGS = ("letter_pdfs", "letter_pdf_workers", "letter_pdf_max_letters", "chart_dpi", "chart_named_reps",
                        "summary_rep_lines", "report_rep_rows")


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
    max_retries: int = Field(default=2, ge=0, description="retries of a step after a transient (I/O) failure")
    retry_delay_seconds: float = Field(default=2.0, ge=0, description="wait before a retry (doubles each time)")
    lock_wait_seconds: float = Field(
        default=30.0, ge=0, description="how long a run waits for another run on the same DuckDB file"
    )
    duplicate_rows: DuplicateRows = Field(
        default="reject",
        description="exact duplicate rows of an input file (every column equal): reject stops the run naming "
        "them; set_aside loads one copy and puts the extra copies in rejected_rows, counted in data_quality",
    )

    duckdb_memory_limit: str = Field(
        default="3GB", pattern=r"^([0-9]+(\.[0-9]+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB))?$",
        description="DuckDB's memory limit for a run's queries (e.g. 3GB; empty: DuckDB's default, 80% of RAM); "
        "joins, sorts and aggregations beyond it spill to duckdb_temp_directory",
    )
    duckdb_temp_directory: str = Field(
        default="",
        description="folder DuckDB spills to beyond duckdb_memory_limit (empty: the DuckDB file's path + .tmp)",
    )
    duckdb_threads: int = Field(default=0, ge=0, description="DuckDB threads of a run (0: one per core)")

    @model_validator(mode="after")
    def _start_on_monday(self) -> OperationsSettings:
        if self.usage_start.weekday() != 0:
            raise ValueError(f"operations.usage_start must be a Monday, got {self.usage_start}")
        return self


class SparkSettings(_Strict):
    """Where Spark runs when `engine.name` is spark: a master URL and Spark options."""

    master: str = Field(default="local[2]", description="Spark master URL: local[N], spark://host:7077, yarn, ...")
    app_name: str = Field(default="quota-plan", description="application name shown in the Spark UI")
    usage_path: str | None = Field(
        default=None,
        description="where Spark reads the usage dataset (e.g. s3a://lake/usage/); default: the input folder's usage",
    )
    options: dict[str, str] = Field(
        default_factory=dict, description="Spark configuration (spark.executor.memory, ...) passed as given"
    )


class EngineSettings(_Strict):
    """Which engine runs the heavy set-based SQL (usage roll-up, point-in-time state, whitespace
    and features): DuckDB in the warehouse file, or an existing Spark cluster."""

    name: Literal["duckdb", "spark"] = Field(default="duckdb", description="duckdb (one machine) or spark")
    spark: SparkSettings = SparkSettings()


class ReviewSettings(_Strict):
    """When a written plan is held for review instead of being made current (plan_review)."""

    accept_degraded: bool = Field(
        default=False, description="true: a plan with review reasons is still made current (reasons reported)"
    )
    history_warning_band: tuple[float, float] = Field(
        default=(0.7, 1.5), description="total/segment quota over trailing 12-month bookings outside this: a warning"
    )
    history_review_band: tuple[float, float] = Field(
        default=(0.5, 2.0), description="quota over trailing 12-month bookings outside this: the plan needs review"
    )
    max_rep_share_of_segment: float = Field(
        default=0.5, gt=0, le=1, description="one rep holding more than this share of its segment's EEV: review"
    )
    max_share_reps_out_of_tolerance: float = Field(
        default=0.5, gt=0, le=1,
        description="more than this share of a segment's reps outside the balance tolerance: review",
    )
    sign_off: Literal["auto", "plan", "segment", "manager"] = Field(
        default="auto",
        description="who approves a plan in review (quota-plan approve): 'plan' one sign-off, 'segment' one per "
        "segment, 'manager' one per reps.manager_id of the plan's reps; 'auto': manager when the plan's reps "
        "carry a manager_id, else segment",
    )

    @model_validator(mode="after")
    def _bands_nested(self) -> ReviewSettings:
        (warn_low, warn_high), (low, high) = self.history_warning_band, self.history_review_band
        if not 0 <= low <= warn_low < warn_high <= high:
            raise ValueError(f"review bands must nest: 0 <= {low} <= {warn_low} < {warn_high} <= {high} "
                             "(history_review_band outside history_warning_band)")
        return self


def band_top(segment: SegmentSettings, segments: list[SegmentSettings]) -> float | None:
    """Where the segment's ACV band ends (exclusive): its max_acv, else the next higher min_acv among the
    segments whose dimension values overlap its own, else None (no upper bound)."""
    if segment.max_acv is not None:
        return segment.max_acv
    above = [s.min_acv for s in segments if s.min_acv > segment.min_acv and s.shares_values_with(segment)]
    return min(above, default=None)


def check_segments(segments: list[SegmentSettings], dimensions: list[str]) -> None:
    """Segment names unique; listed by increasing min_acv; dimensions among `dimensions`; no account in two
    segments (overlapping ACV bands whose dimension values overlap, or an account named twice)."""
    names = [s.name for s in segments]
    twice = sorted({n for n in names if names.count(n) > 1} | ({SELF_SERVE} & set(names)))
    if twice:
        raise ValueError(f"segment names must be unique and not {SELF_SERVE}: {twice}")
    edges = [s.min_acv for s in segments]
    if edges != sorted(edges):
        raise ValueError(f"segments must be listed by increasing min_acv, got {edges}")
    unknown = sorted({c for s in segments for c in s.dimensions} - set(dimensions))
    if unknown:
        raise ValueError(f"segments narrow by {unknown}, not listed in segment_dimensions {dimensions}")
    named = [a for s in segments for a in s.accounts]
    if len(set(named)) != len(named):
        raise ValueError(f"accounts named in two segments: {sorted({a for a in named if named.count(a) > 1})}")
    for i, first in enumerate(segments):
        for second in segments[i + 1:]:
            top_first, top_second = band_top(first, segments), band_top(second, segments)
            acv_overlap = (top_first is None or second.min_acv < top_first) and (
                top_second is None or first.min_acv < top_second)
            if acv_overlap and first.shares_values_with(second):
                shared = {c: sorted(set(v) & set(second.dimensions.get(c, v))) for c, v in first.dimensions.items()}
                shared |= {c: v for c, v in second.dimensions.items() if c not in first.dimensions}
                raise ValueError(
                    f"segments {first.name} and {second.name} overlap: ACV from "
                    f"{max(first.min_acv, second.min_acv):,.0f} takes both"
                    + (f" for {shared}" if shared else "")
                    + "; give them disjoint ACV bands (max_acv) or disjoint dimension values")


class ScenarioSettings(_Strict):
    """What a scenario (quota-plan scenarios) changes beyond the other settings: hypothetical reps."""

    extra_reps: dict[str, int] = Field(
        default_factory=dict,
        description="hypothetical full-capacity reps added to a segment (`--vary reps.SEGMENT=+N`); their rep_id "
        "is `NEW-<segment>-<n>`; empty in a real plan",
    )

    @model_validator(mode="after")
    def _positive(self) -> ScenarioSettings:
        if negative := {s: n for s, n in self.extra_reps.items() if n < 0}:
            raise ValueError(f"scenario.extra_reps must be >= 0 per segment, got {negative}")
        return self


class PlanSettings(_Strict):
    """The whole plan configuration."""

    as_of: dt.date = Field(description="plan date: ACV, whitespace and scores are measured as of this day")
    seed: int = Field(default=42, description="seed for every random choice (model, sampling)")
    segments: list[SegmentSettings] = Field(min_length=1)
    segment_dimensions: list[str] = Field(
        default=[], description="account columns (industry, region, or any extra column of accounts) that "
        "segments may narrow by (segments.dimensions)"
    )
    allow_factor_outside_range: bool = Field(
        default=False, description="allow a quota_factor outside 0.60-0.75 (reported in the summary)"
    )
    quota_rounding: float = Field(default=1000, gt=0, description="quotas are rounded to a multiple of this")
    blackout_days: int = Field(default=60, ge=0, description="no unsolicited outreach this many days before renewal")
    joint_planning_min_acv: float = Field(default=50_000, ge=0, description="ACV above which joint planning is flagged")
    whitespace: WhitespaceSettings = WhitespaceSettings()
    model: ModelSettings = ModelSettings()
    tracking: TrackingSettings = TrackingSettings()
    evaluation: EvaluationSettings = EvaluationSettings()
    exports: ExportSettings = ExportSettings()
    territory: TerritorySettings = TerritorySettings()
    quota: QuotaSettings = QuotaSettings()
    capacity: CapacitySettings = CapacitySettings()
    forecast: ForecastSettings = ForecastSettings()
    operations: OperationsSettings = OperationsSettings()
    engine: EngineSettings = EngineSettings()
    review: ReviewSettings = ReviewSettings()
    scenario: ScenarioSettings = ScenarioSettings()

    @model_validator(mode="after")
    def _segments_valid(self) -> PlanSettings:
        check_segments(self.segments, self.segment_dimensions)
        rates = set(self.tracking.commission_rate)
        names = [s.name for s in self.segments]
        if rates != set(names):
            raise ValueError(f"tracking.commission_rate needs one rate for each segment {names}: missing "
                             f"{sorted(set(names) - rates)}, not a segment {sorted(rates - set(names))}")
        if unknown := sorted(set(self.scenario.extra_reps) - set(names)):
            raise ValueError(f"scenario.extra_reps names {unknown}, not a segment of {names}")
        low, high = QUOTA_FACTOR_RANGE
        outside = [s.name for s in self.factors_outside_range()]
        if outside and not self.allow_factor_outside_range:
            raise ValueError(
                f"quota_factor of {outside} is outside {low:.2f}-{high:.2f}; "
                "set allow_factor_outside_range: true to override (it is then reported)"
            )
        period_end = self.as_of + dt.timedelta(days=self.territory.plan_period_days)
        effective = self.territory.effective_date
        if effective is not None and not self.as_of <= effective <= period_end:
            raise ValueError(f"territory.effective_date {effective} is outside the plan period "
                             f"{self.as_of} to {period_end}")
        return self

    def factors_outside_range(self) -> list[SegmentSettings]:
        """Segments whose fixed quota_factor lies outside 0.60-0.75 ('auto' never does)."""
        low, high = QUOTA_FACTOR_RANGE
        return [s for s in self.segments if s.fixed_factor is not None and not low <= s.fixed_factor <= high]

    def segment_table(self) -> list[dict[str, object]]:
        """Rows of the band table the SQL joins: [min_acv, max_acv) per segment, self_serve first
        (below the lowest band); quota_factor = the settings' factor, None for 'auto' (resolved in
        work.quota_factors); restricted = the band takes only the accounts work.segment_accounts
        lists for it (it narrows by dimension values); book_min, book_max, target_eev_per_rep as set."""
        rows: list[dict[str, object]] = [
            {"segment": SELF_SERVE, "min_acv": 0.0, "max_acv": min(s.min_acv for s in self.segments),
             "quota_factor": 0.0, "restricted": False, "book_min": None, "book_max": None, "target_eev_per_rep": None}
        ]
        for seg in self.segments:
            rows.append({"segment": seg.name, "min_acv": seg.min_acv, "max_acv": band_top(seg, self.segments),
                         "quota_factor": seg.fixed_factor, "restricted": bool(seg.dimensions),
                         "book_min": seg.book_min, "book_max": seg.book_max,
                         "target_eev_per_rep": seg.target_eev_per_rep})
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
            "max_training_rows": model.max_training_rows,
            "blackout_days": self.blackout_days,
            "eev_acv_flag_multiple": model.eev_acv_flag_multiple,
            "growth_min_days": model.growth_min_days,
            "deal_rate_min_days": model.deal_rate_min_days,
            "joint_planning_min_acv": self.joint_planning_min_acv,
            "quota_rounding": self.quota_rounding,
            "size_band_edges": ws.size_band_edges,
            "size_band_labels": self.size_band_labels(),
            "min_peer_group": ws.min_peer_group,
            "seat_percentile": ws.seat_percentile,
            "usage_pressure_threshold": ws.usage_pressure_threshold,
            "usage_pressure_headroom": ws.usage_pressure_headroom,
            "cross_sell_percentile": ws.cross_sell_percentile,
            "cross_sell_scale_cap": ws.cross_sell_scale_cap,
            "usage_window_days": ws.usage_window_days,
            "effective_date": self.territory.effective_date,
            "plan_period_days": self.territory.plan_period_days,
            "balance_tolerance": self.territory.balance_tolerance,
            "report_band": self.territory.report_band,
            "anchor_share": self.territory.anchor_share,
            "drift_alert_share": self.operations.drift_alert_share,
            "company_target": self.territory.company_target,
            "history_warning_band": list(self.review.history_warning_band),
            "history_review_band": list(self.review.history_review_band),
            "max_rep_share_of_segment": self.review.max_rep_share_of_segment,
            "max_share_reps_out_of_tolerance": self.review.max_share_reps_out_of_tolerance,
            "quota_factor_min": QUOTA_FACTOR_RANGE[0],
            "quota_factor_max": QUOTA_FACTOR_RANGE[1],
            "target_attainment_share": self.quota.target_attainment_share,
            "ramp_schedule": self.capacity.ramp_schedule,
            "ramp_period_months": self.capacity.ramp_period_months,
            "amount_cv": None if isinstance(self.forecast.amount_cv, str) else self.forecast.amount_cv,
            "amount_cv_min_wins": self.forecast.amount_cv_min_wins,
            "amount_cv_fallback": self.forecast.amount_cv_fallback,
        }

    def plan_period(self) -> tuple[dt.date, dt.date]:
        """First and last day of the plan year, the quota period (see plan_year_end)."""
        return self.as_of, plan_year_end(self.as_of) - dt.timedelta(days=1)

    def plan_identity(self) -> dict[str, object]:
        """The settings that decide what the plan is, as JSON values: all but `engine`, which
        only decides where the SQL runs (both engines give the same plan), DuckDB's resource
        limits (operations.duckdb_*), which only decide how fast, and how the export files are drawn
        (exports.letter_pdfs, letter_pdf_workers, letter_pdf_max_letters, chart_dpi, chart_named_reps:
        letters also as PDF, the charts' resolution and rep names), the printed summaries and the
        report's per-rep tables (exports.summary_rep_lines, report_rep_rows)."""
        return self.model_dump(mode="json", exclude={"engine": True, "operations": set(DUCKDB_RESOURCE_SETTINGS),
                                                     "exports": set(EXPORT_FILE_SETTINGS)})

    def settings_hash(self) -> str:
        payload = json.dumps(self.plan_identity(), sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()[:16]


def load_settings(
    path: str | Path | None = None,
    as_of: dt.date | None = None,
    through: dt.date | None = None,
    effective_date: dt.date | None = None,
) -> PlanSettings:
    """Read and validate the settings YAML; `as_of` overrides the file's plan date, `through`
    its tracking date (tracking.through), `effective_date` its rebalance date
    (territory.effective_date). Overrides are validated like the file."""
    overrides: dict[str, object] = {}
    if as_of is not None:
        overrides["as_of"] = as_of
    if through is not None:
        overrides["tracking"] = {"through": through}
    if effective_date is not None:
        overrides["territory"] = {"effective_date": effective_date}
    path = Path(path) if path else DEFAULT_CONFIG
    return load_yaml_model(path, PlanSettings, SettingsError, "plan settings", overrides)
