"""Whitespace map on hand-built peer groups: the real SQL on a real DuckDB file, every expected
figure computed by hand below (percentiles are linear interpolation: position p x (n - 1))."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest

from pipeline.core import warehouse
from pipeline.core.settings import PlanSettings, load_settings
from tests.builders import REPS, write_inputs
from tests.staged import build_steps, build_whitespace

AS_OF = dt.date(2026, 1, 1)

PRODUCTS = [
    {"product_id": "WS1", "product_name": "Workspace Starter", "list_price": 100, "unit": "seat",
     "family": "Workspace", "tier_rank": 1},
    {"product_id": "WS2", "product_name": "Workspace Pro", "list_price": 250, "unit": "seat",
     "family": "Workspace", "tier_rank": 2},
    {"product_id": "SEC", "product_name": "Security", "list_price": 5000, "unit": "flat"},
    {"product_id": "SUP", "product_name": "Premium Support", "list_price": 2000, "unit": "flat"},
    {"product_id": "ARC", "product_name": "Archive", "list_price": 1000, "unit": "flat"},  # nobody holds it
]

# account: (industry, employees, {product: (quantity, arr)})
ACCOUNTS: dict[str, tuple[str, int | None, dict[str, tuple[int, float]]]] = {
    # software, 200-999 employees: six peers, a full peer group.
    # WS1 seats per employee 0.10, 0.20, 0.30, 0.40, 0.50, 0.24 -> p75 at position 3.75 of the
    # sorted 0.10 0.20 0.24 0.30 0.40 0.50 = 0.30 + 0.75 x 0.10 = 0.375
    "S1": ("software", 200, {"WS1": (20, 2000)}),
    "S2": ("software", 200, {"WS1": (40, 3200)}),                        # pays 80 per seat
    "S3": ("software", 400, {"WS1": (120, 12000), "SEC": (1, 4000)}),
    "S4": ("software", 400, {"WS1": (160, 16000), "SEC": (1, 5000)}),    # usage above its seats
    "S5": ("software", 500, {"WS1": (250, 25000), "SEC": (1, 6000)}),
    "S6": ("software", 900, {"WS1": (216, 21600)}),
    # retail: six accounts over four size bands, every group smaller than 5: falls back
    "R1": ("retail", 300, {"WS2": (60, 12000)}),                         # top tier only
    "R2": ("retail", None, {"WS1": (10, 1000)}),                         # employees missing
    "R3": ("retail", 0, {"WS1": (10, 0), "SUP": (1, 2000)}),             # zero employees, free seats
    "R4": ("retail", 300, {"WS1": (30, 3000), "WS2": (10, 2500), "SEC": (1, 6000)}),
    "R5": ("retail", 60, {"WS1": (5, 500), "SEC": (1, 3000)}),
    "R6": ("retail", 60, {"WS1": (5, 500), "SEC": (1, 4000)}),
}

USAGE = [  # recent active users: S4 170 on 160 seats, R2 12 on 10 seats (averages of two weeks)
    ("S4", "WS1", "2025-11-10", 160), ("S4", "WS1", "2025-12-08", 180),
    ("R2", "WS1", "2025-11-10", 12), ("R2", "WS1", "2025-12-08", 12),
]

# (account, product, kind) -> (whitespace, units, price_used, peer_level, peer_count, benchmark)
EXPECTED = {
    # seat: ceil(0.375 x employees) - seats, x price per seat paid
    ("S1", "WS1", "seat"): (55 * 100, 55, 100, "industry+size_band", 6, 0.375),
    ("S2", "WS1", "seat"): (35 * 80, 35, 80, "industry+size_band", 6, 0.375),
    ("S3", "WS1", "seat"): (30 * 100, 30, 100, "industry+size_band", 6, 0.375),
    # peers give 150 < 160 seats; usage 170 >= 0.9 x 160 -> ceil(170 x 1.2) = 204 seats
    ("S4", "WS1", "seat"): (44 * 100, 44, 100, "industry+size_band", 6, 0.375),
    ("S6", "WS1", "seat"): (122 * 100, 122, 100, "industry+size_band", 6, 0.375),  # ceil(337.5) = 338
    # R4's WS1: retail/200-999 and retail have 1 and 3 holders of known size; size band 200-999 has
    # 7 (S1-S6, R4): 0.10 0.10 0.20 0.24 0.30 0.40 0.50 -> position 4.5 -> 0.35 x 300 = 105 seats
    ("R4", "WS1", "seat"): (75 * 100, 75, 100, "size_band", 7, 0.35),
    # WS2 has 2 holders anywhere (R1 0.2, R4 1/30): 'all'; p75 = 1/30 + 0.75 x (0.2 - 1/30) -> 47.5
    ("R4", "WS2", "seat"): (38 * 250, 38, 250, "all", 2, 1 / 30 + 0.75 * (0.2 - 1 / 30)),
    # R5, R6 (retail 50-199): only 'all' has 5 holders of known size (9): position 6 -> 0.30 x 60 = 18
    ("R5", "WS1", "seat"): (13 * 100, 13, 100, "all", 9, 0.30),
    ("R6", "WS1", "seat"): (13 * 100, 13, 100, "all", 9, 0.30),
    # R2: employees missing, so only usage: 12 >= 9 -> ceil(14.4) = 15 seats
    ("R2", "WS1", "seat"): (5 * 100, 5, 100, "all", 9, 0.30),
    # cross-sell of Security in software (3 of 6 hold it): p50 ARR 5000, holders' median size 400
    ("S1", "SEC", "cross_sell"): (2500, 0.5, 5000, "industry+size_band", 6, 5000),
    ("S2", "SEC", "cross_sell"): (2500, 0.5, 5000, "industry+size_band", 6, 5000),
    ("S6", "SEC", "cross_sell"): (10000, 2.0, 5000, "industry+size_band", 6, 5000),  # 900/400 capped at 2
    # retail groups are all below 5 peers: industry (6 peers, 3 hold it); p50 4000, median size 60
    ("R1", "SEC", "cross_sell"): (8000, 2.0, 4000, "industry", 6, 4000),  # 300/60 = 5 capped at 2
    ("R2", "SEC", "cross_sell"): (4000, 1.0, 4000, "industry", 6, 4000),  # size unknown: not scaled
    ("R3", "SEC", "cross_sell"): (4000, 1.0, 4000, "industry", 6, 4000),  # zero employees: unknown
    # upgrade WS1 -> WS2: (250 - price paid per seat) x seats; R3's free seats priced at list 100
    ("S1", "WS2", "upgrade"): (20 * 150, 20, 150, None, None, 250),
    ("S2", "WS2", "upgrade"): (40 * 170, 40, 170, None, None, 250),
    ("S3", "WS2", "upgrade"): (120 * 150, 120, 150, None, None, 250),
    ("S4", "WS2", "upgrade"): (160 * 150, 160, 150, None, None, 250),
    ("S5", "WS2", "upgrade"): (250 * 150, 250, 150, None, None, 250),
    ("S6", "WS2", "upgrade"): (216 * 150, 216, 150, None, None, 250),
    ("R2", "WS2", "upgrade"): (10 * 150, 10, 150, None, None, 250),
    ("R3", "WS2", "upgrade"): (10 * 150, 10, 150, None, None, 250),
    ("R5", "WS2", "upgrade"): (5 * 150, 5, 150, None, None, 250),
    ("R6", "WS2", "upgrade"): (5 * 150, 5, 150, None, None, 250),
    # every candidate is an item, whitespace 0 included: seats at or above their potential
    ("S5", "WS1", "seat"): (0, 0, 100, "industry+size_band", 6, 0.375),  # ceil(187.5) = 188 < 250 licensed
    ("R1", "WS2", "seat"): (0, 0, 200, "all", 2, 1 / 30 + 0.75 * (0.2 - 1 / 30)),  # 48 < 60 licensed
    ("R3", "WS1", "seat"): (0, 0, 100, "all", 9, 0.30),  # zero employees, no usage pressure: no potential
}
# ... and products few or no peers hold: Premium Support (only R3 holds it: retail pays 2,000 at
# p50, its holder's size unknown so not scaled; no software peer holds it: list price 2,000) and
# Archive (nobody holds it: list price 1,000, unscaled)
for _account, (_industry, _, _held) in ACCOUNTS.items():
    _level = "industry" if _industry == "retail" else "industry+size_band"
    for _product, _price in (("SUP", 2000), ("ARC", 1000)):
        if _product not in _held:
            EXPECTED[(_account, _product, "cross_sell")] = (_price, 1.0, _price, _level, 6, _price)


def _tables(accounts: dict[str, tuple[str, int | None, dict[str, tuple[int, float]]]]) -> dict[str, list[dict]]:
    return {
        "accounts": [{"account_id": a, "account_name": f"Account {a}", "industry": industry,
                      "employees": "" if employees is None else employees, "customer_since": "2023-01-01",
                      "renewal_date": "2026-06-30"} for a, (industry, employees, _) in accounts.items()],
        "products": PRODUCTS,
        "subscriptions": [{"account_id": a, "product_id": p, "quantity": q, "arr": arr, "start_date": "2024-01-01"}
                          for a, (_, _, held) in accounts.items() for p, (q, arr) in held.items()],
        "usage": [{"account_id": a, "product_id": p, "date": d, "active_users": n, "events": 10 * n}
                  for a, p, d, n in USAGE],
        "opportunities": [],
        "reps": REPS,
    }


def _settings() -> PlanSettings:
    """Default settings, but a size-factor cap of 2 so that the cap binds in the data above."""
    settings = load_settings(as_of=AS_OF)
    return settings.model_copy(update={"whitespace": settings.whitespace.model_copy(
        update={"cross_sell_scale_cap": 2.0})})


def _build(folder: Path, tables: dict[str, list[dict]]) -> Path:
    return build_whitespace(write_inputs(folder / "input", tables), folder / "ws.duckdb", _settings())


def _query(db: Path, sql: str) -> list[tuple]:
    with warehouse.connect(db, read_only=True) as con:
        return con.execute(sql, [AS_OF]).fetchall()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("whitespace"), _tables(ACCOUNTS))


@pytest.fixture(scope="module")
def items(db: Path) -> dict[tuple[str, str, str], tuple]:
    rows = _query(db, """SELECT account_id, product_id, kind, whitespace, units, price_used, peer_level, peer_count,
        benchmark, percentile, peer_share, reason FROM work.whitespace_items WHERE snapshot_date = ?""")
    by_key = {row[:3]: row[3:] for row in rows}
    assert len(by_key) == len(rows)  # one row per account x product x kind
    return by_key


def test_items_match_the_hand_computed_percentiles_and_values(items):
    assert set(items) == set(EXPECTED)
    for key, (whitespace, units, price, level, count, benchmark) in EXPECTED.items():
        got = items[key]
        assert got[0] == pytest.approx(whitespace), key
        assert got[1:3] == pytest.approx((units, price)), key
        assert got[3:5] == (level, count), key
        assert got[5] == pytest.approx(benchmark), key
        assert got[0] == pytest.approx(got[1] * got[2]), key


def test_every_item_carries_its_explanation(items):
    percentiles = {"seat": 0.75, "cross_sell": 0.5, "upgrade": None}
    for (account, product, kind), got in items.items():
        assert got[0] >= 0
        assert got[6] == percentiles[kind]
        assert (got[7] is not None) == (kind == "cross_sell")
        assert "\n" not in got[8] and len(got[8]) < 250
    assert items[("S4", "WS1", "seat")][8] == (
        "44 more Workspace Starter seats at 100 paid per seat: 160 licensed; peers (industry+size_band, 6 holders) "
        "run 0.375 seats per employee at p75 x 400 employees = 150 seats; usage presses: 170.0 active users >= 90% "
        "of licence, x 1.2 = 204 seats")
    assert items[("S6", "SEC", "cross_sell")][8] == (
        "Security not held: 3 of 6 peers (industry+size_band) hold it and pay 5,000 at p50; "
        "x 2.00 for 900 employees vs their median 400 (cap 2.0)")
    assert items[("S6", "SEC", "cross_sell")][7] == pytest.approx(0.5)
    assert items[("R3", "WS2", "upgrade")][8] == (
        "upgrade 10 units of Workspace Starter to Workspace Pro: list 250 vs 100 paid per unit")
    assert items[("S5", "WS1", "seat")][8] == (
        "0 more Workspace Starter seats at 100 paid per seat: 250 licensed; peers (industry+size_band, 6 holders) "
        "run 0.375 seats per employee at p75 x 500 employees = 188 seats")
    assert items[("S1", "ARC", "cross_sell")][8] == (
        "Archive not held: none of 6 peers (industry+size_band) hold it; list price 1,000")


def test_unknown_size_gets_no_peer_potential_and_an_unscaled_cross_sell(items):
    assert "employees unknown, so no peer potential" in items[("R2", "WS1", "seat")][8]
    assert items[("R3", "WS1", "seat")][0] == 0  # zero employees and no usage pressure: no seat gap
    assert "employees unknown, so no peer potential" in items[("R3", "WS1", "seat")][8]
    for account in ("R2", "R3"):
        assert items[(account, "SEC", "cross_sell")][8].endswith("size unknown, so not scaled")


def test_top_tier_and_lower_tiers_of_a_held_family_are_not_offered(items):
    held_top_tier = {k for k in items if k[0] in ("R1", "R4") and k[2] in ("upgrade", "cross_sell")}
    # R1 holds WS2: no upgrade, no WS1 cross-sell; only the flat products it does not hold
    assert held_top_tier == {("R1", "SEC", "cross_sell"), ("R1", "SUP", "cross_sell"), ("R1", "ARC", "cross_sell"),
                             ("R4", "SUP", "cross_sell"), ("R4", "ARC", "cross_sell")}
    assert not [k for k in items if k[2] == "cross_sell" and k[1] in ("WS1", "WS2")]


def test_a_product_no_one_holds_is_offered_at_list_price_with_peer_share_0(db: Path, items):
    archive = {k: v for k, v in items.items() if k[1] == "ARC"}
    assert len(archive) == len(ACCOUNTS)  # nobody holds it: a candidate for every account
    assert {(v[0], v[7]) for v in archive.values()} == {(1000, 0.0)}
    assert _query(db, """SELECT DISTINCT cross_sell_holders, cross_sell_peer_share, peer_product_arr, seat_peer_level,
        seat_peer_count FROM work.peer_benchmarks WHERE product_id = 'ARC' AND snapshot_date = ?""") == [
        (0, 0.0, None, "all", 0)]


def test_an_account_holding_every_product_has_only_seat_items(tmp_path: Path):
    accounts = dict(ACCOUNTS)
    industry, employees, held = accounts["R4"]
    accounts["R4"] = (industry, employees, {**held, "SUP": (1, 2000), "ARC": (1, 1000)})
    db = _build(tmp_path, _tables(accounts))
    assert _query(db, """SELECT product_id, kind, whitespace FROM work.whitespace_items
        WHERE snapshot_date = ? AND account_id = 'R4' ORDER BY ALL""") == [
        ("WS1", "seat", pytest.approx(7500)), ("WS2", "seat", pytest.approx(9500))]


def test_two_held_tiers_of_equal_rank_make_one_upgrade_item(tmp_path: Path):
    """A family with two rank-1 products: both move to the same next tier, priced by the units held."""
    tables = _tables(ACCOUNTS)
    tables["products"] = [*PRODUCTS, {"product_id": "WSX", "product_name": "Workspace Basic", "list_price": 50,
                                      "unit": "seat", "family": "Workspace", "tier_rank": 1}]
    tables["subscriptions"].append({"account_id": "R5", "product_id": "WSX", "quantity": 15, "arr": 600,
                                    "start_date": "2024-01-01"})
    db = _build(tmp_path, tables)
    # 5 WS1 seats at 100 and 15 WSX seats at 40: 20 units at 55 paid on average -> (250 - 55) x 20
    assert _query(db, """SELECT units, price_used, whitespace, reason FROM work.whitespace_items
        WHERE snapshot_date = ? AND account_id = 'R5' AND kind = 'upgrade'""") == [
        (20, pytest.approx(195), pytest.approx(3900),
         "upgrade 20 units of Workspace Starter and 1 more tier(s) to Workspace Pro: list 250 vs 55 paid per unit")]


def test_shuffled_input_rows_give_identical_results(tmp_path: Path):
    """Every input file written in a shuffled row order: the same tables, value for value."""
    tables = _tables(ACCOUNTS)
    shuffled = {name: random.Random(name).sample(rows, len(rows)) for name, rows in tables.items()}
    results = []
    for name, data in (("ordered", tables), ("shuffled", shuffled)):
        db = _build(tmp_path / name, data)
        results.append([_query(db, f"SELECT * FROM work.{table} WHERE snapshot_date <= ? ORDER BY ALL")
                        for table in ("peer_benchmarks", "whitespace_items")])
    assert tables["subscriptions"] != shuffled["subscriptions"]
    assert results[0] == results[1]
    assert len(results[0][1]) > len(EXPECTED)  # the training snapshots are compared too


def test_every_plan_item_reads_with_a_reason_and_training_items_skip_it(db: Path):
    """Reasons are for the plan's readers: the training snapshots' items (only the model reads
    them) are not worded, which at 100,000 accounts was most of the step's time."""
    with warehouse.connect(db, read_only=True) as con:
        rows = con.execute("""SELECT s.role, count(*), count(w.reason) FROM work.whitespace_items AS w
            JOIN work.snapshot_dates AS s USING (snapshot_date) GROUP BY ALL ORDER BY ALL""").fetchall()
    (plan, plan_items, plan_reasons), (train, train_items, train_reasons) = rows
    assert (plan, train) == ("plan", "train")
    assert plan_items == plan_reasons > 0
    assert train_items > 0 and train_reasons == 0


def _training_sample(db: Path, settings: PlanSettings) -> tuple[set[tuple], int]:
    """item_features built on `db` with `settings`: the training items it keeps and its plan-item count."""
    with warehouse.connect(db) as con:
        build_steps(con, settings, ["item_features"])
        rows = con.execute("""SELECT s.role, f.snapshot_date, f.account_id, f.product_id, f.kind
            FROM work.item_features AS f JOIN work.snapshot_dates AS s USING (snapshot_date)""").fetchall()
    return {row[1:] for row in rows if row[0] == "train"}, sum(row[0] == "plan" for row in rows)


def test_item_features_keeps_a_seeded_sample_of_max_training_rows_training_items(db: Path, tmp_path: Path):
    """The model's panel is sampled in SQL: exactly max_training_rows training items (a sample of
    the keys, the same on every rebuild), every plan item, and another seed another sample."""
    copy = tmp_path / "features.duckdb"
    copy.write_bytes(db.read_bytes())
    settings = _settings()
    everything, plan_items = _training_sample(copy, settings)
    assert plan_items == len(_query(db, "SELECT 1 FROM work.whitespace_items WHERE snapshot_date = ?"))
    limit = len(everything) // 3
    model = settings.model.model_copy(update={"max_training_rows": limit})
    sample, plan_kept = _training_sample(copy, settings.model_copy(update={"model": model}))
    assert len(sample) == limit and sample < everything and plan_kept == plan_items
    assert _training_sample(copy, settings.model_copy(update={"model": model}))[0] == sample
    reseeded = settings.model_copy(update={"model": model, "seed": settings.seed + 1})
    assert _training_sample(copy, reseeded)[0] != sample
