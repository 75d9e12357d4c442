"""The predicted attainment (pipeline/plan/forecast.py, sql/plan/{territory_shares, amount_spread, forecast_items,
quota_factors, attainment_forecast}.sql): the Monte Carlo of the year against answers computed by hand, the
factor search on hand-built draws, and a whole plan with an 'auto' quota factor."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import polars as pl
import pytest
import yaml
from scipy import stats

from pipeline.core import warehouse
from pipeline.core.settings import DEFAULT_CONFIG, PlanSettings, load_settings
from pipeline.exports.documents import render_report
from pipeline.exports.sheets import load_plan_tables
from pipeline.exports.summary import forecast_lines
from pipeline.plan.forecast import simulate_bookings, territories_from_arrays, write_booking_draws
from pipeline.runner import PlanOutcome, run_plan
from pipeline.staging.state import write_segment_bands
from tests.builders import TEST_CONFIG

SEED = 7
MANY_DRAWS = 20_000


def _settings(**changes: object) -> PlanSettings:
    """The default settings with some values changed (dotted paths), validated like a file."""
    raw = load_settings(DEFAULT_CONFIG).model_dump(mode="json")
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        node = raw
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[leaf] = value
    return PlanSettings.model_validate(raw)


def _within(observed: float, probability: float, draws: int, sigmas: float = 4.0) -> bool:
    """observed is a share of `draws` Bernoulli(probability) trials within `sigmas` standard errors."""
    return abs(observed - probability) <= sigmas * math.sqrt(probability * (1 - probability) / draws)


# --- the simulation itself ----------------------------------------------------------------------

def test_two_items_of_known_p_and_amount_give_the_hand_computed_distribution():
    # R1 holds item A (p 0.5, books 100) and item B (p 0.4, books 60), amounts exact (cv 0)
    territories = territories_from_arrays(["R1"], np.array([0.5, 0.4]), np.array([100.0, 60.0]), np.zeros(2),
                                          rep=np.array([0, 0]), item=np.array([0, 1]), share=np.ones(2))
    bookings = simulate_bookings(territories, MANY_DRAWS, SEED)[:, 0]
    assert territories.expected_bookings.tolist() == [0.5 * 100 + 0.4 * 60]  # = territory EEV 74
    by_hand = {0.0: 0.5 * 0.6, 60.0: 0.5 * 0.4, 100.0: 0.5 * 0.6, 160.0: 0.5 * 0.4}
    assert set(np.unique(bookings)) == set(by_hand)
    for amount, probability in by_hand.items():
        assert _within(float(np.mean(bookings == amount)), probability, MANY_DRAWS), amount
    # quota 0.675 x 74 = 49.95: attained unless neither item wins, P = 1 - 0.5 x 0.6 = 0.7
    assert _within(float(np.mean(bookings >= 0.675 * 74)), 0.7, MANY_DRAWS)
    # quota 70: only when A wins (0.5); quota 120: only when both win (0.2)
    assert _within(float(np.mean(bookings >= 70)), 0.5, MANY_DRAWS)
    assert _within(float(np.mean(bookings >= 120)), 0.2, MANY_DRAWS)


def test_a_won_amount_is_gamma_with_the_expected_mean_and_spread():
    territories = territories_from_arrays(["R1"], np.array([1.0]), np.array([1_000.0]), np.array([0.5]),
                                          rep=np.array([0]), item=np.array([0]), share=np.ones(1))
    bookings = simulate_bookings(territories, MANY_DRAWS, SEED)[:, 0]
    standard_error = 0.5 * 1_000 / math.sqrt(MANY_DRAWS)
    assert abs(bookings.mean() - 1_000) < 4 * standard_error
    assert bookings.std(ddof=1) / bookings.mean() == pytest.approx(0.5, abs=0.02)
    # cv 0.5: shape 1 / 0.25 = 4, scale 1000 / 4 = 250
    above = float(stats.gamma.sf(1_200, a=4, scale=250))
    assert _within(float(np.mean(bookings >= 1_200)), above, MANY_DRAWS)


def test_a_mid_year_split_credits_both_owners_with_their_share_of_the_same_outcomes():
    # account's two items, held 3/4 of the year by R1 (owner) and 1/4 by R2 (previous owner)
    territories = territories_from_arrays(
        ["R1", "R2"], np.array([0.3, 0.6]), np.array([500.0, 80.0]), np.array([1.2, 0.4]),
        rep=np.array([0, 0, 1, 1]), item=np.array([0, 1, 0, 1]), share=np.array([0.75, 0.75, 0.25, 0.25]))
    bookings = simulate_bookings(territories, 500, SEED)
    np.testing.assert_allclose(bookings[:, 1] * 3, bookings[:, 0], rtol=1e-12)
    assert (bookings[:, 0] > 0).any()


def test_the_same_seed_gives_the_same_draws_bit_for_bit_and_another_seed_others():
    territories = territories_from_arrays(
        ["R1", "R2"], np.array([0.2, 0.5, 0.9]), np.array([10.0, 20.0, 30.0]), np.array([1.0, 0.0, 0.3]),
        rep=np.array([0, 0, 1]), item=np.array([0, 1, 2]), share=np.ones(3))
    first = simulate_bookings(territories, 300, SEED)
    assert first.shape == (300, 2)
    assert np.array_equal(first, simulate_bookings(territories, 300, SEED))
    assert not np.array_equal(first, simulate_bookings(territories, 300, SEED + 1))


def test_the_draws_do_not_depend_on_how_many_threads_run_their_blocks(monkeypatch):
    # 130 draws = blocks of 50, 50 and 30, each from its own child of the seed; a third kind (cv 0.3)
    territories = territories_from_arrays(
        ["R1", "R2"], np.array([0.2, 0.5, 0.9, 0.4]), np.array([10.0, 20.0, 30.0, 5.0]),
        np.array([1.0, 0.0, 0.3, 1.0]), rep=np.array([0, 0, 1, 1]), item=np.array([0, 1, 2, 3]), share=np.ones(4))
    side_by_side = simulate_bookings(territories, 130, SEED)
    monkeypatch.setattr("models.threads.usable_cores", lambda: 1)
    one_by_one = simulate_bookings(territories, 130, SEED)
    assert side_by_side.shape == (130, 2)
    assert np.array_equal(side_by_side, one_by_one)
    assert len({tuple(row) for row in side_by_side}) > 100  # the blocks are not copies of each other


# --- the SQL chain on a hand-built territory ----------------------------------------------------

def _hand_built_plan(tmp_path: Path, settings: PlanSettings) -> duckdb.DuckDBPyConnection:
    """R1 (mid_market) holds A1: a seat item p 0.5 booking 100 and a cross-sell p 0.4 booking 120 x
    capture 0.5 = 60 (EEV 74); R2 holds A2: one item p 0.25 booking 200 (EEV 50). Then the real SQL
    and simulation from territory_shares to attainment_forecast."""
    con = duckdb.connect(str(tmp_path / "plan.duckdb"))
    con.execute("CREATE SCHEMA work")
    write_segment_bands(con, settings)
    con.execute("CREATE TABLE work.rep_plan AS SELECT * FROM (VALUES ('R1', 'Ann', 'mid_market', 1.0), "
                "('R2', 'Bo', 'mid_market', 1.0)) AS t(rep_id, name, segment, capacity)")
    con.execute("""CREATE TABLE work.territories AS SELECT *, false AS locked, false AS anchor FROM (VALUES
        ('A1', 'mid_market', 'R1', 'R1', false), ('A2', 'mid_market', 'R2', 'R2', false))
        AS t(account_id, segment, rep_id, previous_rep_id, moved)""")
    con.execute("CREATE TABLE work.territory_methods AS SELECT 'mid_market' AS segment, 'heuristic' AS method, "
                "0 AS book_min, 40 AS book_max")
    con.execute("""CREATE TABLE work.scored_whitespace AS SELECT * FROM (VALUES
        ('A1', 'P1', 'seat', 100.0, 0.5, 1.0), ('A1', 'P2', 'cross_sell', 120.0, 0.4, 0.5),
        ('A2', 'P1', 'seat', 200.0, 0.25, 1.0)) AS t(account_id, product_id, kind, whitespace, p_close, capture)""")
    con.execute("ALTER TABLE work.scored_whitespace ADD COLUMN expected_amount DOUBLE")
    con.execute("UPDATE work.scored_whitespace SET expected_amount = whitespace * capture")
    con.execute("CREATE TABLE work.account_eev AS SELECT account_id, sum(whitespace * p_close * capture) AS eev "
                "FROM work.scored_whitespace GROUP BY account_id")
    con.execute("CREATE TABLE work.item_features (role VARCHAR, kind VARCHAR, label INTEGER, won_amount DOUBLE, "
                "whitespace DOUBLE)")
    params = settings.sql_params()
    for table in ("territory_shares", "amount_spread", "forecast_items"):
        warehouse.build_table(con, table, params)
    write_booking_draws(con, settings.forecast.draws, settings.seed)
    for table in ("quota_factors", "quota_contributions", "quotas", "attainment_forecast"):
        warehouse.build_table(con, table, params)
    return con


def test_hand_built_territory_p_attain_is_the_hand_computed_one(tmp_path: Path):
    settings = _settings(**{"forecast.amount_cv": 0.0, "forecast.draws": MANY_DRAWS, "quota_rounding": 1.0})
    con = _hand_built_plan(tmp_path, settings)
    rows = {r[0]: r[1:] for r in con.execute(
        "SELECT rep_id, quota, expected_bookings, p_attain, p50_bookings, p50_attainment FROM work.attainment_forecast"
    ).fetchall()}
    # R1: quota round(0.675 x 74) = 50, missed only when neither item wins: 1 - 0.5 x 0.6 = 0.7
    # R2: quota round(0.675 x 50) = 34, attained when its one item wins: 0.25
    assert rows["R1"][0] == 50 and rows["R2"][0] == 34
    assert _within(rows["R1"][2], 0.7, MANY_DRAWS) and _within(rows["R2"][2], 0.25, MANY_DRAWS)
    assert rows["R1"][1] == pytest.approx(74, abs=4 * math.sqrt(0.25 * 100**2 + 0.24 * 60**2) / math.sqrt(MANY_DRAWS))
    assert rows["R2"][3] == 0 and rows["R2"][4] == 0  # R2 books nothing in most years
    assert con.execute("SELECT kind, amount_cv, basis FROM work.amount_spread").fetchall() == [
        ("cross_sell", 0.0, "setting"), ("seat", 0.0, "setting")]
    factors = con.execute("SELECT factor, method, attaining_share FROM work.quota_factors "
                          "WHERE segment = 'mid_market'").fetchone()
    assert factors[:2] == (0.675, "setting")
    assert _within(factors[2], (0.7 + 0.25) / 2, 2 * MANY_DRAWS)  # unrounded quotas: the same events


def test_hand_built_territory_with_an_unreachable_auto_target_takes_the_lowest_factor(tmp_path: Path):
    # at best 47.5% of rep-years book anything: a 65% target is out of reach of any factor
    settings = _settings(**{"forecast.amount_cv": 0.0, "quota_rounding": 1.0, "segments.1.quota_factor": "auto"})
    con = _hand_built_plan(tmp_path, settings)
    factor, method, target_factor, note = con.execute(
        "SELECT factor, method, target_factor, note FROM work.quota_factors WHERE segment = 'mid_market'").fetchone()
    assert (factor, method, target_factor) == (0.60, "auto", 0.0)
    assert note == "auto: target share not reached inside the range, lowest factor"
    # the quotas use it: round(0.60 x 74) = 44, round(0.60 x 50) = 30
    assert con.execute("SELECT rep_id, factor, quota FROM work.quotas ORDER BY rep_id").fetchall() == [
        ("R1", 0.60, 44.0), ("R2", 0.60, 30.0)]


# --- the factor search on hand-built draws --------------------------------------------------------

# two reps of territory EEV 100, ten simulated years each: bookings / EEV are these ratios
RATIOS = {"R1": [0.40, 0.50, 0.60, 0.62, 0.64, 0.66, 0.68, 0.70, 0.72, 0.74],
          "R2": [0.45, 0.55, 0.61, 0.63, 0.65, 0.67, 0.69, 0.71, 0.73, 0.90]}


def _factor_table(tmp_path: Path, target: float, mid_market: str | float) -> dict[str, dict]:
    """quota_factors on hand-built draws: mid_market and high_velocity (factor 0.7) hold the same two
    reps' years; enterprise ('auto') has no rep."""
    settings = _settings(**{"quota.target_attainment_share": target, "segments.1.quota_factor": mid_market,
                            "segments.0.quota_factor": 0.7, "segments.2.quota_factor": "auto"})
    con = duckdb.connect(str(tmp_path / f"factors_{target}_{mid_market}.duckdb"))
    con.execute("CREATE SCHEMA work")
    write_segment_bands(con, settings)
    reps = [(f"{segment[:2]}{rep}", segment) for segment in ("mid_market", "high_velocity") for rep in RATIOS]
    con.execute("CREATE TABLE work.rep_plan (rep_id VARCHAR, segment VARCHAR)")
    con.executemany("INSERT INTO work.rep_plan VALUES (?, ?)", reps)
    con.execute("CREATE TABLE work.territory_shares AS SELECT rep_id, 100.0 AS eev_share FROM work.rep_plan")
    con.execute("CREATE TABLE work.rep_booking_draws (rep_id VARCHAR, draw INTEGER, bookings DOUBLE)")
    con.executemany("INSERT INTO work.rep_booking_draws VALUES (?, ?, ?)",
                    [(rep_id, draw + 1, 100 * ratio) for rep_id, _ in reps
                     for draw, ratio in enumerate(RATIOS[rep_id[2:]])])
    warehouse.build_table(con, "quota_factors", settings.sql_params())
    return {r["segment"]: r for r in con.execute("SELECT * FROM work.quota_factors").pl().iter_rows(named=True)}


def _per_year(factor: float) -> tuple[np.ndarray, np.ndarray]:
    """Per simulated year: the share of the two reps attaining at `factor` and the CV of their attainment."""
    years = np.array([RATIOS["R1"], RATIOS["R2"]])  # reps x years
    return (years >= factor).mean(axis=0), years.std(axis=0) / years.mean(axis=0)


@pytest.mark.parametrize(("target", "factor", "target_factor", "note"), [
    # 20 rep-years: the ceil(0.65 x 20) = 13th largest ratio is 0.63, and 13 of 20 are >= 0.63
    (0.65, 0.63, 0.63, "auto: highest factor reaching the target share"),
    # the 19th largest is 0.45: below the range, so 0.60 (16 of 20 rep-years attain there)
    (0.95, 0.60, 0.45, "auto: target share not reached inside the range, lowest factor"),
    # the largest is 0.90: above the range, so 0.75 (1 of 20 attains there)
    (0.05, 0.75, 0.90, "auto: target share exceeded at the highest factor of the range"),
])
def test_auto_factor_is_the_highest_factor_in_range_reaching_the_target_share(
        tmp_path: Path, target: float, factor: float, target_factor: float, note: str):
    rows = _factor_table(tmp_path, target, "auto")
    mid = rows["mid_market"]
    assert (mid["method"], mid["note"], mid["reps"], mid["draws"]) == ("auto", note, 2, 10)
    assert mid["factor"] == pytest.approx(factor) and mid["target_factor"] == pytest.approx(target_factor)
    shares, cvs = _per_year(factor)
    all_ratios = np.array(RATIOS["R1"] + RATIOS["R2"])
    assert mid["attaining_share"] == pytest.approx(float((all_ratios >= factor - 1e-12).mean()))
    assert mid["attaining_share"] == pytest.approx(float(shares.mean()))
    assert [mid["p10_attaining_share"], mid["p90_attaining_share"]] == pytest.approx(np.quantile(shares, [0.1, 0.9]))
    assert mid["attainment_cv"] == pytest.approx(float(cvs.mean()), abs=1e-6)
    if target == 0.65:  # the next higher ratio (0.64) no longer reaches the target: 12 of 20
        assert float((all_ratios >= 0.64).mean()) < target <= mid["attaining_share"]
    # a fixed factor stays as set; the factor that would reach the target is still reported
    fixed = rows["high_velocity"]
    assert (fixed["factor"], fixed["method"], fixed["target_factor"]) == (0.7, "setting", mid["target_factor"])
    assert fixed["attaining_share"] == pytest.approx(float((all_ratios >= 0.7).mean()))  # 7 of 20
    # a segment without reps: nothing to simulate, the lowest factor of the range
    empty = rows["enterprise"]
    assert (empty["factor"], empty["reps"], empty["attaining_share"]) == (0.60, 0, None)
    assert empty["note"] == "auto: no rep with territory EEV to simulate, lowest factor of the range"


def test_settings_accept_auto_and_refuse_a_factor_out_of_bounds():
    settings = _settings(**{"segments.2.quota_factor": "auto"})
    assert settings.segments[2].fixed_factor is None
    assert settings.segment_table()[3]["quota_factor"] is None
    assert settings.factors_outside_range() == []
    with pytest.raises(ValueError, match=r"quota_factor must be 'auto' or a number in \(0, 1\]"):
        _settings(**{"segments.2.quota_factor": 1.5})
    with pytest.raises(ValueError, match="target_attainment_share"):
        _settings(**{"quota.target_attainment_share": 1.0})
    with pytest.raises(ValueError, match=r"forecast.amount_cv must be 'learned' or a number >= 0"):
        _settings(**{"forecast.amount_cv": -0.1})


# --- on the sample plan -----------------------------------------------------------------------------

def _frame(db: Path, sql: str) -> pl.DataFrame:
    with warehouse.connect(db, read_only=True) as con:
        return con.execute(sql).pl()


def test_attainment_forecast_is_read_off_the_plan_draws(sample_plan: PlanOutcome):
    db = sample_plan.db
    settings = load_settings(DEFAULT_CONFIG)
    draws = _frame(db, "SELECT rep_id, bookings FROM work.rep_booking_draws")
    forecast = _frame(db, "SELECT * FROM main.attainment_forecast ORDER BY rep_id")
    quotas = _frame(db, "SELECT rep_id, quota, territory_eev FROM main.quotas ORDER BY rep_id")
    assert forecast["rep_id"].to_list() == quotas["rep_id"].to_list()
    assert set(forecast["draws"]) == {settings.forecast.draws}
    by_rep = draws.join(quotas, on="rep_id").group_by("rep_id").agg(
        p_attain=(pl.col("bookings") >= pl.col("quota")).mean(),
        mean=pl.col("bookings").mean(), sd=pl.col("bookings").std(), p90=pl.col("bookings").quantile(0.9, "linear"),
    ).sort("rep_id")
    positive = forecast["quota"] > 0
    assert forecast.filter(positive)["p_attain"].to_list() == pytest.approx(
        by_rep.filter(positive)["p_attain"].to_list())
    assert forecast["p90_bookings"].to_list() == pytest.approx(by_rep["p90"].to_list())
    assert (forecast["p90_attainment"] * forecast["quota"]).to_list() == pytest.approx(by_rep["p90"].to_list())
    # the simulation's mean is the territory EEV, up to Monte Carlo error
    error = (by_rep["mean"] - quotas["territory_eev"]).abs() / (by_rep["sd"] / math.sqrt(settings.forecast.draws))
    assert error.max() < 4.5
    # the published factor table: every segment, the settings' factor, the same predicted share as the reps'
    factors = _frame(db, "SELECT * FROM main.quota_factors")
    assert factors["segment"].to_list() == ["high_velocity", "mid_market", "enterprise"]
    assert set(factors["method"]) == {"setting"} and set(factors["factor"]) == {0.675}
    assert factors["target_share"].to_list() == [settings.quota.target_attainment_share] * 3
    with warehouse.connect(db, read_only=True) as con:
        lines = forecast_lines(con, settings)
    assert lines[0].startswith("Predicted attainment (2,000 simulated years; target: 65% of reps attaining")
    for row, line in zip(factors.iter_rows(named=True), lines[2:], strict=True):
        assert line.split()[:3] == [row["segment"], "0.675", f"{row['attaining_share']:.0%}"]


def test_the_workbook_and_the_report_show_the_predicted_attainment(sample_plan: PlanOutcome):
    with warehouse.connect(sample_plan.db, read_only=True) as con:
        tables = load_plan_tables(con)
    assert tables.sheets["quota_factors"].title == "Quota factors"
    assert tables.sheets["attainment_forecast"].title == "Attainment forecast"
    assert tables.frame("attainment_forecast").height == tables.frame("quotas").height
    html = render_report(tables, [], [], [], [])
    section = html[html.index('<h2 id="predicted-attainment">'):]
    section = section[:section.index("<h2", 4)]
    assert "simulated 2,000 times" in section and "65%" in section
    for row in tables.frame("quota_factors").iter_rows(named=True):
        assert row["segment"] in section and f"{row['attaining_share']:.1%}" in section


def test_amount_spread_is_learned_per_kind_from_the_won_training_items(sample_plan: PlanOutcome, tmp_path: Path):
    wins = _frame(sample_plan.db, """SELECT kind, won_amount / whitespace AS ratio FROM work.item_features
        WHERE role = 'train' AND label = 1 AND won_amount > 0 AND whitespace > 0""")
    learned = {k: (n, cv) for k, n, cv in wins.group_by("kind").agg(
        n=pl.len(), cv=pl.col("ratio").std() / pl.col("ratio").mean()).iter_rows()}
    spread = _frame(sample_plan.db, "SELECT kind, won_items, amount_cv, basis FROM main.amount_spread")
    assert sorted(spread["kind"]) == sorted(learned)
    for kind, won_items, amount_cv, basis in spread.iter_rows():
        assert (won_items, basis) == (learned[kind][0], "learned")
        assert amount_cv == pytest.approx(learned[kind][1])
    # too few wins for the settings: the fallback
    copy = tmp_path / "copy.duckdb"
    shutil.copy(sample_plan.db, copy)
    params = {**load_settings(DEFAULT_CONFIG).sql_params(), "amount_cv_min_wins": 10**9}
    with warehouse.connect(copy) as con:
        warehouse.build_table(con, "amount_spread", params)
        assert set(con.execute("SELECT amount_cv, basis FROM work.amount_spread").fetchall()) == {(1.0, "fallback")}


def test_backtest_sets_the_predicted_share_attaining_beside_the_realised_one(sample_plan: PlanOutcome,
                                                                              tmp_path: Path):
    copy = tmp_path / "copy.duckdb"
    shutil.copy(sample_plan.db, copy)
    settings = load_settings(DEFAULT_CONFIG)
    with warehouse.connect(copy) as con:
        params = {"as_of": settings.as_of, "backtest_months": 12}
        warehouse.build_table(con, "backtest_results", params, schema="main")
        warehouse.build_table(con, "backtest_summary", params, schema="main")
        results = con.execute("SELECT * FROM main.backtest_results").pl()
        summary = con.execute("SELECT * FROM main.backtest_summary").pl()
        draws = con.execute("SELECT rep_id, bookings FROM work.rep_booking_draws").pl()
        factors = dict(con.execute("SELECT segment, attaining_share FROM work.quota_factors").fetchall())
    expected = (results.join(draws, on="rep_id").group_by("scheme", "rep_id")
                .agg(p=(pl.col("bookings") >= pl.col("quota")).mean()))
    check = results.join(expected, on=["scheme", "rep_id"]).filter(pl.col("quota") > 0)
    assert check["p_attain"].to_list() == pytest.approx(check["p"].to_list())
    for row in summary.iter_rows(named=True):
        reps = check.filter(pl.col("scheme") == row["scheme"])
        if row["segment"] != "all":
            reps = reps.filter(pl.col("segment") == row["segment"])
        assert row["predicted_share_attaining"] == pytest.approx(reps["p_attain"].mean())
        if row["scheme"] == "eev" and row["segment"] != "all":  # the plan's own quotas: quota_factors' prediction
            assert row["predicted_share_attaining"] == pytest.approx(factors[row["segment"]], abs=1e-3)


# --- a whole plan with an 'auto' factor -----------------------------------------------------------

@pytest.fixture(scope="module")
def auto_plan(sample_inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> PlanOutcome:
    folder = Path(tmp_path_factory.mktemp("auto"))
    raw = yaml.safe_load(TEST_CONFIG.read_text())
    raw["segments"][1]["quota_factor"] = "auto"
    config = folder / "plan.yaml"
    config.write_text(yaml.safe_dump(raw))
    return run_plan(sample_inputs, config, folder / "plan.duckdb", instance=dg.DagsterInstance.ephemeral())


def test_a_whole_plan_with_an_auto_factor_sets_quotas_with_it(auto_plan: PlanOutcome):
    db = auto_plan.db
    target = load_settings(DEFAULT_CONFIG).quota.target_attainment_share
    factors = {r["segment"]: r for r in _frame(db, "SELECT * FROM main.quota_factors").iter_rows(named=True)}
    mid = factors["mid_market"]
    assert mid["method"] == "auto" and factors["enterprise"]["method"] == "setting"
    assert mid["factor"] == pytest.approx(min(max(mid["target_factor"], 0.60), 0.75))
    if 0.60 <= mid["target_factor"] <= 0.75:
        assert mid["attaining_share"] >= target
    # the factor search needs no new simulation: the same draws give the share at that factor
    ratios = _frame(db, """SELECT d.bookings / q.territory_eev AS ratio FROM work.rep_booking_draws AS d
        JOIN main.quotas AS q USING (rep_id) WHERE q.segment = 'mid_market' AND q.territory_eev > 0""")["ratio"]
    assert mid["attaining_share"] == pytest.approx(float((ratios >= mid["factor"]).mean()), abs=1e-3)
    quotas = _frame(db, "SELECT segment, factor, territory_eev, quota_unrounded, quota FROM main.quotas")
    for row in quotas.iter_rows(named=True):
        assert row["factor"] == factors[row["segment"]]["factor"]
        assert row["quota_unrounded"] == pytest.approx(row["factor"] * row["territory_eev"])
        assert abs(row["quota"] - row["quota_unrounded"]) <= 500 + 1e-6
    # the run published a plan: the blocking check quota_is_factor_times_territory_eev passed with it
    assert _frame(db, "SELECT status FROM main.plan_runs")["status"].to_list() == ["succeeded"]


def test_territories_without_any_item_book_nothing_in_every_draw():
    territories = territories_from_arrays(["R1", "R2"], np.empty(0), np.empty(0), np.empty(0),
                                          rep=np.empty(0, int), item=np.empty(0, int), share=np.empty(0))
    bookings = simulate_bookings(territories, 120, SEED)
    assert bookings.shape == (120, 2) and not bookings.any()
