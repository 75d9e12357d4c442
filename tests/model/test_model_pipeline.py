"""The close-probability model inside the pipeline: point-in-time features (no leakage), the
versioned artifact, the blocking check against the base rate, and the backtest."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest

from pipeline.backtest.compare import BacktestError, backtest_params, backtest_report
from pipeline.core import warehouse
from pipeline.core.settings import DEFAULT_CONFIG, load_settings
from pipeline.runner import PlanOutcome, PlanRunError, run_backtest, run_definitions, run_plan
from tests.builders import (
    LETTERS_TEST_CONFIG,
    PRODUCTS,
    REPS,
    TEST_CONFIG,
    account_with_acv,
    subscription,
    write_inputs,
)

BACKTEST_AS_OF = dt.date(2025, 1, 1)
CHECK = dg.AssetCheckKey(dg.AssetKey("close_probability_model"), "beats_base_rate")


def _query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with warehouse.connect(db, read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _frame(db: Path, sql: str) -> pl.DataFrame:
    with warehouse.connect(db, read_only=True) as con:
        return con.sql(sql).pl()


# --- leakage -------------------------------------------------------------------------------

def _build_item_features(input_dir: Path, db: Path) -> None:
    """Materialize item_features and everything upstream of it (a real Dagster run)."""
    settings = load_settings(TEST_CONFIG)
    loaded = run_definitions(input_dir, settings, db)
    selection = dg.AssetSelection.assets("item_features").upstream().required_multi_asset_neighbors()
    keys = selection.resolve(loaded.resolve_asset_graph())
    result = loaded.resolve_job_def("plan_job").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), asset_selection=list(keys))  # no partition: every week
    assert result.success


def _append_csv(path: Path, rows: list[dict]) -> None:
    with path.open(newline="") as handle:
        columns = next(csv.reader(handle))
    with path.open("a", newline="") as handle:
        csv.DictWriter(handle, fieldnames=columns, lineterminator="\n").writerows(rows)


def test_data_dated_after_a_snapshot_leaves_its_features_and_labels_unchanged(sample_inputs: Path, tmp_path: Path):
    before_db = tmp_path / "before.duckdb"
    _build_item_features(sample_inputs, before_db)
    snapshots = [r[0] for r in _query(before_db, "SELECT snapshot_date FROM work.snapshot_dates "
                                                 "WHERE role = 'train' ORDER BY 1")]
    cut = snapshots[-2]  # the next-to-newest training snapshot
    account, product = _query(before_db, """SELECT account_id, product_id FROM work.item_features
        WHERE snapshot_date = ? AND kind = 'seat' ORDER BY ALL LIMIT 1""", [cut])[0]
    late_close = cut + dt.timedelta(days=400)  # after cut's 12-month label window, before the plan date
    appended = tmp_path / "appended"
    shutil.copytree(sample_inputs, appended)
    _append_csv(appended / "usage.csv", [  # dated on the snapshot day and after it
        {"account_id": account, "product_id": product, "date": cut + dt.timedelta(days=d),
         "active_users": 9_999, "events": 99_999} for d in (0, 7, 30)])
    _append_csv(appended / "opportunities.csv", [
        {"opportunity_id": "LATE-WON", "account_id": account, "product_id": product, "type": "expansion",
         "created_date": cut, "close_date": late_close, "stage": "won", "amount": 123_456,
         "source": "ae_sourced", "owner_id": "", "csm_id": ""},
        {"opportunity_id": "LATE-OPEN", "account_id": account, "product_id": product, "type": "expansion",
         "created_date": cut, "close_date": "", "stage": "open", "amount": 77_777,
         "source": "ae_sourced", "owner_id": "", "csm_id": ""},
    ])
    after_db = tmp_path / "after.duckdb"
    _build_item_features(appended, after_db)

    sql = "SELECT * EXCLUDE (role) FROM work.item_features ORDER BY snapshot_date, account_id, product_id, kind"
    before, after = _frame(before_db, sql), _frame(after_db, sql)
    up_to_cut = pl.col("snapshot_date") <= cut
    assert before.filter(up_to_cut).height > 0
    assert before.filter(up_to_cut).equals(after.filter(up_to_cut))  # features and labels, every column
    # the appended rows were read: the newest training snapshot (after the cut) sees them
    item = (pl.col("snapshot_date") == snapshots[-1]) & (pl.col("account_id") == account) & (
        pl.col("product_id") == product) & (pl.col("kind") == "seat")
    old, new = before.filter(item).row(0, named=True), after.filter(item).row(0, named=True)
    assert new["log_active_users_90d"] > old["log_active_users_90d"]
    assert new["log_open_pipeline"] > old["log_open_pipeline"]
    assert new["label"] == 1 and new["won_amount"] >= old["won_amount"] + 123_456


# --- the model on the sample, its artifact and its Dagster metadata ------------------------

def test_model_beats_base_rate_by_a_clear_margin_and_is_calibrated(sample_plan: PlanOutcome):
    # The sample's expansions are driven by usage and fit, so a fitted model must do clearly
    # better than the rate per segment and kind. Measured on this sample (seed 11, 800
    # accounts, 3,493 holdout items, 15% won): chosen log loss 0.282 vs 0.361 for the base
    # rate (22% lower), ROC AUC 0.884 vs 0.773, ECE 0.009. Thresholds: a log loss at least 10%
    # below the base rate's and ROC AUC > 0.80 leave room for noise yet fail the base rate
    # itself (AUC 0.77); ECE < 0.02 (predicted win rates within 2 points of the observed ones
    # on average, next to a 15% base rate) fails the uncalibrated booster (0.024) and the
    # base rate (0.021), so it tests the calibration step.
    db = sample_plan.db
    metrics = {(m, s, k): v for m, s, k, v in _query(db, "SELECT model, segment, metric, value FROM main.model_metrics")}
    base_loss = metrics[("base_rate", "all", "log_loss")]
    assert metrics[("chosen", "all", "log_loss")] < 0.90 * base_loss
    assert metrics[("chosen", "all", "roc_auc")] > 0.80
    assert metrics[("chosen", "all", "ece")] < 0.02
    assert metrics[("chosen", "all", "fallback")] == 0.0
    for model in ("base_rate", "logistic_regression", "hist_gradient_boosting", "chosen"):
        for segment in ("all", "high_velocity", "mid_market", "enterprise"):
            for metric in ("roc_auc", "pr_auc", "brier", "log_loss", "ece", "base_rate", "rows", "positives"):
                value = metrics[(model, segment, metric)]
                assert np.isfinite(value), (model, segment, metric)
    assert metrics[("chosen", "all", "rows")] == sum(
        metrics[("chosen", s, "rows")] for s in ("self_serve", "high_velocity", "mid_market", "enterprise")
        if ("chosen", s, "rows") in metrics)


def test_versioned_artifact_sidecar_and_charts_beside_the_duckdb_file(sample_plan: PlanOutcome):
    db = sample_plan.db
    version, chosen, calibration, uses_usage, features = _query(
        db, "SELECT model_version, chosen, calibration, uses_usage, features FROM main.model_info")[0]
    assert _query(db, "SELECT model_version FROM main.plan_runs") == [(version,)]
    folder = db.parent / "artifacts"
    sidecar = json.loads((folder / f"{version}.json").read_text())
    assert sidecar["model_version"] == version and sidecar["chosen"] == chosen
    assert sidecar["calibration"] == calibration in ("isotonic", "sigmoid")
    assert sidecar["uses_usage"] is uses_usage is True
    assert sidecar["features"] == json.loads(features)
    assert "log_active_users_30d" in sidecar["features"]["numeric"]
    assert set(sidecar["libraries"]) == {"scikit-learn", "numpy", "polars"}
    logged = {(m["model"], m["segment"], m["metric"]): m["value"] for m in sidecar["metrics"]}
    stored = {(m, s, k): v for m, s, k, v in _query(db, "SELECT model, segment, metric, value FROM main.model_metrics")}
    assert logged == stored
    importances = _frame(db, "SELECT feature, importance FROM main.feature_importances")
    assert set(importances["feature"]) == set(sidecar["features"]["numeric"] + sidecar["features"]["categorical"])
    assert importances["importance"].max() > 0  # shuffling something the model uses costs log loss
    for chart in (f"{version}_calibration.png", f"{version}_importance.png"):
        assert (folder / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_item_eev_is_p_close_times_expected_amount_explained_in_its_reason(sample_plan: PlanOutcome):
    db = sample_plan.db
    items = _frame(db, "SELECT * FROM main.whitespace_items")
    assert items.height > 0 and items["expected_amount"].null_count() == 0
    assert (items["eev"] == items["p_close"] * items["expected_amount"]).all()  # exactly, item by item
    with_whitespace = items.filter(pl.col("whitespace") > 0)
    assert (with_whitespace["capture"] * with_whitespace["whitespace"] - with_whitespace["expected_amount"]).abs().max() < 1e-6
    assert set(items["amount_basis"]) <= {"learned", "median", "ceiling"}
    assert "learned" in set(items["amount_basis"])
    # upgrades (the ceiling kind): never more than their whitespace
    upgrades = items.filter(pl.col("kind") == "upgrade")
    assert (upgrades["expected_amount"] <= upgrades["whitespace"] + 1e-9).all()
    accounts = _frame(db, "SELECT account_id, eev FROM main.account_eev")
    # the account's EEV is the exact sum of its items' EEV in millionths (docs/method.md)
    per_account = items.group_by("account_id").agg(pl.col("eev").round(6).sum().alias("items"))
    joined = accounts.join(per_account, on="account_id", how="left").fill_null(0)
    assert (joined["eev"] - joined["items"]).abs().max() < 1e-8
    top = items.filter(pl.col("amount_basis") == "learned").sort("eev", descending=True).row(0, named=True)
    assert top["reason"].endswith(
        f". EEV {round(top['eev']):,} = {100 * top['p_close']:.1f}% close probability x "
        f"{round(top['expected_amount']):,} booked if won (learned from won {top['kind']} deals of accounts "
        "like this one)")


def test_every_candidate_is_scored_and_eev_over_acv_is_reported_and_flagged(sample_plan: PlanOutcome):
    db = sample_plan.db
    kinds = dict(_query(db, "SELECT kind, count(*) FROM main.whitespace_items GROUP BY kind"))
    assert set(kinds) == {"seat", "cross_sell", "upgrade"}
    # every seat product held is an item (a seat at or above its potential with whitespace 0)
    assert _query(db, """SELECT count(*) FROM work.holdings h JOIN work.snapshot_dates s USING (snapshot_date)
        WHERE s.role = 'plan' AND h.unit = 'seat' AND h.price_per_unit > 0 AND NOT EXISTS (SELECT 1 FROM
        main.whitespace_items w WHERE w.account_id = h.account_id AND w.product_id = h.product_id
        AND w.kind = 'seat')""") == [(0,)]
    assert _query(db, "SELECT count(*) FROM main.whitespace_items WHERE whitespace = 0")[0][0] > 0
    flagged = _query(db, """SELECT count(*) FILTER (WHERE eev_exceeds_acv), count(*) FILTER (WHERE eev > acv)
        FROM main.account_eev""")[0]
    assert flagged[0] == flagged[1]  # default multiple 1.0


def _last_bits(frame: pl.DataFrame, columns: tuple[str, ...]) -> pl.DataFrame:
    """Each numeric value moved by -4..+4 units in its last place, as a deterministic function of
    the value (what another ln or another summation order does to a feature)."""
    ulp = np.finfo(np.float64).eps
    return frame.with_columns([(pl.col(c) * (1 + ulp * ((pl.col(c).hash(3) % 9).cast(pl.Float64) - 4))).alias(c)
                               for c in columns])


def _account_eev(model, items: pl.DataFrame) -> pl.DataFrame:
    amount, _ = model.expected_amount(items)
    return (items.select("account_id").with_columns(eev=pl.Series(model.predict(items) * amount))
            .group_by("account_id").agg(pl.col("eev").sum()).sort("account_id"))


def test_features_changed_in_their_last_bits_move_total_eev_under_2_and_any_account_under_10_percent(
        sample_plan: PlanOutcome):
    # Before the features were rounded for the models, such a change re-binned a few thousand
    # rows of seat_utilisation and moved single accounts' EEV by up to 100-190% (measured here).
    from models.close_probability import ImportanceSettings, train_close_model
    from models.ensemble import EnsembleSettings
    from models.feature_spec import feature_spec

    settings = load_settings(DEFAULT_CONFIG)  # the default's ensemble, not the mechanics plans' single fit
    panel = _frame(sample_plan.db, "SELECT * FROM work.item_features WHERE role = 'train'")
    items = _frame(sample_plan.db, "SELECT * FROM work.item_features WHERE role = 'plan' ORDER BY ALL")
    spec = feature_spec(True, panel)

    def fit(training: pl.DataFrame):
        return train_close_model(
            training, spec, seed=settings.seed, holdout_share=settings.model.holdout_share,
            min_positive_rows=settings.model.min_positive_rows, data_fingerprint="stability", settings={},
            max_training_rows=settings.model.max_training_rows, importance=ImportanceSettings(100, 1),
            ensemble=EnsembleSettings(settings.model.ensemble_members, settings.model.ensemble_subsample))

    before = _account_eev(fit(panel), items)
    after = _account_eev(fit(_last_bits(panel, spec.numeric)), _last_bits(items, spec.numeric))
    assert _last_bits(panel, spec.numeric)["seat_utilisation"].to_list() != panel["seat_utilisation"].to_list()
    assert abs(after["eev"].sum() / before["eev"].sum() - 1) < 0.02
    moved = ((after["eev"] - before["eev"]).abs() / before["eev"]).filter(before["eev"] > 0)
    assert moved.max() < 0.10


# --- the blocking check ---------------------------------------------------------------------

def _reversed_history(folder: Path) -> Path:
    """20 identical accounts (100 WS1 seats at 200 each: an upgrade item to WS2 at 250) whose
    expansion outcomes reverse on the newest snapshots.

    Group A won an upgrade (WS2) in every 12-month window after the six older training
    snapshots (2023-04-01 .. 2024-07-01) and nothing after; group B won only in 2025-08, inside
    the windows of the two holdout snapshots (2024-10-01, 2025-01-01). A model learns "past
    wins mean more wins" and is confidently wrong on the holdout: the base rate wins.
    """
    groups = {"A": ["2023-06-15", "2023-09-01", "2024-09-15"], "B": ["2025-08-15"]}
    accounts, subscriptions, opportunities = [], [], []
    for group, closes in groups.items():
        for n in range(10):
            account_id = f"{group}{n:02d}"
            accounts.append(account_with_acv(account_id, 20_000) | {"customer_since": "2021-06-01"})
            subscriptions.append(subscription(account_id, 20_000, quantity=100) | {"start_date": "2022-01-01"})
            for close in closes:
                closed = dt.date.fromisoformat(close)
                opportunities.append({
                    "opportunity_id": f"O-{account_id}-{close}", "account_id": account_id, "product_id": "WS2",
                    "type": "expansion", "created_date": closed - dt.timedelta(days=30), "close_date": closed,
                    "stage": "won", "amount": 1_500, "source": "ae_sourced", "owner_id": "R1"})
    return write_inputs(folder, {"accounts": accounts, "products": PRODUCTS, "subscriptions": subscriptions,
                                 "opportunities": opportunities, "reps": REPS})


def test_model_not_better_than_base_rate_blocks_the_plan(tmp_path: Path):
    instance = dg.DagsterInstance.ephemeral()
    db = tmp_path / "plan.duckdb"
    with pytest.raises(PlanRunError) as err:
        run_plan(_reversed_history(tmp_path / "in"), TEST_CONFIG, db, instance=instance)
    assert "blocking check failed" in str(err.value) and "not better than the base rate" in str(err.value)
    chosen, fallback = _query(db, "SELECT chosen, fallback_reason FROM work.model_info")[0]
    assert (chosen, fallback) == ("base_rate", None)  # a real comparison, not a deliberate fallback
    evaluation = instance.get_latest_asset_check_evaluation_record(CHECK).event.asset_check_evaluation
    assert not evaluation.passed
    for downstream in ("item_scores", "quotas", "plan_version"):
        assert instance.get_latest_materialization_event(dg.AssetKey(downstream)) is None, downstream
    assert _query(db, "SELECT count(*) FROM plans.current_plan") == [(0,)]
    assert _query(db, "SELECT status FROM plans.plan_runs") == [("failed",)]


def test_deliberate_fallback_passes_the_check_with_a_warning(tmp_path: Path):
    instance = dg.DagsterInstance.ephemeral()
    one_class = tmp_path / "in"
    _reversed_history(one_class)
    write_inputs(one_class, {"opportunities": []})  # no win at all: a single outcome class
    outcome = run_plan(one_class, TEST_CONFIG, tmp_path / "plan.duckdb", instance=instance)
    reason = _query(outcome.db, "SELECT fallback_reason FROM main.model_info")[0][0]
    assert "needs both outcomes" in reason
    assert _query(outcome.db, """SELECT value FROM main.model_metrics
        WHERE model = 'chosen' AND segment = 'all' AND metric = 'fallback'""") == [(1.0,)]
    assert _query(outcome.db, """SELECT count(*), count(p_close) FILTER (WHERE p_close BETWEEN 0 AND 1)
        FROM main.whitespace_items""")[0] == (60, 60)  # per account: WS1 seats, the WS2 upgrade, Security; scored
    evaluation = instance.get_latest_asset_check_evaluation_record(CHECK).event.asset_check_evaluation
    assert evaluation.passed
    assert reason in evaluation.metadata["warning"].value


# --- backtest -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def backtest(sample_inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> PlanOutcome:
    db = Path(tmp_path_factory.mktemp("backtest")) / "backtest.duckdb"
    return run_backtest(sample_inputs, TEST_CONFIG, db, BACKTEST_AS_OF, instance=dg.DagsterInstance.ephemeral())


def test_backtest_plans_in_the_past_with_a_model_trained_before_it(backtest: PlanOutcome):
    db = backtest.db
    assert _query(db, "SELECT as_of FROM main.plan_runs") == [(BACKTEST_AS_OF,)]
    latest_label_end = _query(db, """SELECT max(snapshot_date + INTERVAL 12 MONTH) FROM work.snapshot_dates
        WHERE role = 'train'""")[0][0]
    assert latest_label_end.date() <= BACKTEST_AS_OF  # every training label closed before the plan date


def test_backtest_credits_actual_wins_to_the_plan_owner_and_compares_schemes(backtest: PlanOutcome,
                                                                              sample_inputs: Path):
    db = backtest.db
    results = _frame(db, "SELECT * FROM main.backtest_results")
    territories = _frame(db, "SELECT account_id, rep_id FROM main.territories")
    wins = pl.read_csv(sample_inputs / "opportunities.csv", try_parse_dates=True).filter(
        (pl.col("type") == "expansion") & (pl.col("stage") == "won")
        & (pl.col("close_date") >= BACKTEST_AS_OF) & (pl.col("close_date") < dt.date(2026, 1, 1)))
    actual = dict(wins.join(territories, on="account_id").group_by("rep_id").agg(pl.col("amount").sum()).iter_rows())
    quotas = _frame(db, "SELECT rep_id, segment, territory_eev, quota_unrounded FROM main.quotas")
    assert sorted(results["scheme"].unique()) == ["acv_proportional", "eev", "flat"]
    for scheme in ("eev", "flat", "acv_proportional"):
        rows = results.filter(pl.col("scheme") == scheme).sort("rep_id")
        assert rows["rep_id"].to_list() == sorted(quotas["rep_id"])
        assert rows["actual"].to_list() == pytest.approx([actual.get(r, 0.0) for r in rows["rep_id"]])
        per_segment = rows.group_by("segment").agg(pl.col("quota").sum()).sort("segment")
        expected = quotas.group_by("segment").agg(pl.col("quota_unrounded").sum()).sort("segment")
        assert per_segment["quota"].to_list() == pytest.approx(expected["quota_unrounded"].to_list())
    eev = results.filter(pl.col("scheme") == "eev").sort("rep_id")
    assert eev["forecast"].to_list() == pytest.approx(quotas.sort("rep_id")["territory_eev"].to_list())

    summary = _frame(db, "SELECT * FROM main.backtest_summary WHERE segment = 'all'")
    for (scheme,), reps in results.filter(pl.col("quota") > 0).group_by("scheme"):
        row = summary.filter(pl.col("scheme") == scheme).row(0, named=True)
        attainment = reps["actual"] / reps["quota"]
        assert row["share_attaining"] == pytest.approx(float((attainment >= 1).mean()))
        assert row["attainment_cv"] == pytest.approx(float(attainment.std(ddof=0) / attainment.mean()))
        won = reps.filter(pl.col("actual") > 0)
        assert row["mape"] == pytest.approx(float(((won["forecast"] - won["actual"]).abs() / won["actual"]).mean()))
    chart = db.parent / "artifacts" / f"backtest_{BACKTEST_AS_OF}.png"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with warehouse.connect(db, read_only=True) as con:
        report = backtest_report(con, chart).splitlines()
    eev_all = next(line.split() for line in report if line.startswith("eev ") and " all " in line)
    eev = summary.filter(pl.col("scheme") == "eev").row(0, named=True)
    assert eev_all[2:4] == [str(eev["reps"]), f"{eev['share_attaining']:.0%}"]
    assert report[-1] == f"Chart: {chart}"


def test_backtest_refuses_a_date_without_a_full_year_of_actuals(backtest: PlanOutcome):
    late = load_settings(TEST_CONFIG, as_of=dt.date(2025, 6, 1))
    with warehouse.connect(backtest.db, read_only=True) as con:
        backtest_params(load_settings(TEST_CONFIG, as_of=BACKTEST_AS_OF), con)  # full year: accepted
        with pytest.raises(BacktestError, match=r"as of 2025-06-01 needs 12 months of actuals, until 2026-05-31"):
            backtest_params(late, con)


def test_propensity_features_recomputed_from_the_raw_tables(sample_plan: PlanOutcome):
    """The growth, engagement and deal-rate features of the plan date, recomputed here from
    raw.usage and raw.opportunities with numpy and Polars instead of SQL."""
    settings = load_settings(LETTERS_TEST_CONFIG)
    db, as_of, min_days = sample_plan.db, settings.as_of, settings.model.deal_rate_min_days
    year_ago = as_of.replace(year=as_of.year - 1)
    usage = _frame(db, f"SELECT account_id, product_id, date, active_users, events FROM raw.usage "
                       f"WHERE date < DATE '{as_of}' AND product_id IS NOT NULL")
    features = _frame(db, "SELECT * FROM work.usage_features WHERE snapshot_date = (SELECT max(snapshot_date) "
                          "FROM work.snapshot_dates) AND product_id IS NOT NULL")
    year = usage.filter(pl.col("date") >= year_ago)
    checked = 0
    for (account, product), rows in year.group_by(["account_id", "product_id"]):
        row = features.filter((pl.col("account_id") == account) & (pl.col("product_id") == product))
        if row.is_empty() or row["usage_slope_1y"][0] is None:
            continue
        days = np.array([(as_of - d).days for d in rows["date"]], dtype=float)
        slope = -365.25 * np.polyfit(days, np.floor(np.log1p(rows["active_users"].to_numpy()) * 1e9) / 1e9, 1)[0]
        assert row["usage_slope_1y"][0] == pytest.approx(slope, rel=1e-9, abs=1e-9)
        checked += 1
    assert checked > 100
    items = _frame(db, "SELECT DISTINCT account_id, account_usage_growth, account_usage_slope, account_engagement, "
                       "expansion_deal_rate, expansion_win_rate, tenure_days, prior_expansion_wins AS wins, "
                       "prior_expansion_losses AS losses FROM work.item_features WHERE role = 'plan'")
    assert items.height == items["account_id"].n_unique()  # account features: one value per account
    both = features.filter(pl.col("active_users_90d").is_not_null() & pl.col("active_users_90d_year_ago").is_not_null())
    growth = both.group_by("account_id").agg(
        growth=((1 + pl.col("active_users_90d").sum()) / (1 + pl.col("active_users_90d_year_ago").sum())).log())
    growth = growth.with_columns(expected=pl.col("growth") - pl.col("growth").median()).join(items, on="account_id")
    assert growth.height > items.height / 2  # set against the median account:
    assert np.allclose(growth["account_usage_growth"], growth["expected"], atol=2e-9)
    growing = items.filter(pl.col("account_usage_growth") > 0.05)["account_usage_slope"].drop_nulls()
    shrinking = items.filter(pl.col("account_usage_growth") < -0.05)["account_usage_slope"].drop_nulls()
    assert growing.median() > shrinking.median()  # the two growth measures agree
    first_close = _query(db, "SELECT min(close_date) FROM raw.opportunities WHERE type = 'expansion' "
                             "AND stage IN ('won', 'lost') AND close_date < $1", [as_of])[0][0]
    covered = pl.min_horizontal(pl.col("tenure_days"), pl.lit((as_of - first_close).days))
    expected = items.filter(covered >= min_days).select(
        "expansion_deal_rate", rate=(pl.col("wins") + pl.col("losses")) * 365.25 / covered)
    assert np.allclose(expected["expansion_deal_rate"], expected["rate"], rtol=1e-8)
    short = items.filter(covered < min_days)
    assert short["expansion_deal_rate"].null_count() == short.height
    won = items.filter(pl.col("wins") + pl.col("losses") > 0)
    assert np.allclose(won["expansion_win_rate"], won["wins"] / (won["wins"] + won["losses"]), rtol=1e-8)
