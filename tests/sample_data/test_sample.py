"""The synthetic sample data set: deterministic, follows the input contract, behaves like a
SaaS company in the directions the plan relies on."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from pipeline.ingestion.ingest import ingest_inputs
from pipeline.sample_data import TABLES, generate_sample

AS_OF = dt.date(2026, 1, 1)
DATA_END = dt.date(2026, 5, 1)  # as_of + 4 in-year months
ACCOUNTS = 1000


def _connect(folder: Path, file_format: str = "csv") -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with one view per table file of the folder."""
    con = duckdb.connect()
    for name in TABLES:
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM '{folder / f'{name}.{file_format}'}'")
    return con


@pytest.fixture(scope="module")
def csv_sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("sample_csv")
    return out, generate_sample(out, accounts=ACCOUNTS, seed=7)


@pytest.fixture(scope="module")
def con(csv_sample: tuple[Path, dict[str, int]]) -> duckdb.DuckDBPyConnection:
    return _connect(csv_sample[0])


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_seed_gives_identical_files_and_another_seed_differs(tmp_path: Path) -> None:
    generate_sample(tmp_path / "a", accounts=200, seed=3)
    generate_sample(tmp_path / "b", accounts=200, seed=3)
    generate_sample(tmp_path / "c", accounts=200, seed=4)
    first = _files(tmp_path / "a")
    assert sorted(first) == sorted(f"{name}.csv" for name in TABLES)
    assert first == _files(tmp_path / "b")
    other = _files(tmp_path / "c")
    assert first["accounts.csv"] != other["accounts.csv"]
    assert first["subscriptions.csv"] != other["subscriptions.csv"]


def test_returns_rows_per_table_and_reports_progress(tmp_path: Path) -> None:
    lines: list[str] = []
    rows = generate_sample(tmp_path, accounts=100, seed=1, progress=lines.append)
    assert list(rows) == list(TABLES)
    assert rows["accounts"] == 100 and rows["products"] == 10
    con = _connect(tmp_path)
    for name, count in rows.items():
        assert con.sql(f"SELECT count(*) FROM {name}").fetchone()[0] == count, name
    assert "accounts: 100 rows" in lines and len(lines) == len(TABLES)


def test_without_usage_the_other_tables_are_unchanged(tmp_path: Path, csv_sample: tuple[Path, dict[str, int]]) -> None:
    (tmp_path / "usage.csv").write_text("stale\n")
    rows = generate_sample(tmp_path, accounts=ACCOUNTS, seed=7, usage=False)
    assert "usage" not in rows and not (tmp_path / "usage.csv").exists()
    with_usage = _files(csv_sample[0])
    for name, content in _files(tmp_path).items():
        assert content == with_usage[name], name


@pytest.fixture(scope="module")
def truth_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("with_truth")
    generate_sample(out / "input", accounts=ACCOUNTS, seed=7, truth=out / "truth", truth_replicas=20)
    return out


def test_truth_is_written_beside_the_inputs_and_leaves_them_unchanged(
        truth_sample: Path, csv_sample: tuple[Path, dict[str, int]]) -> None:
    assert _files(truth_sample / "input") == _files(csv_sample[0])  # the inputs do not depend on the truth
    assert sorted(p.name for p in (truth_sample / "truth").iterdir()) == ["truth.csv", "truth.json"]
    info = json.loads((truth_sample / "truth" / "truth.json").read_text())
    assert info["as_of"] == str(AS_OF) and info["horizon_months"] == 12 and info["replicas"] == 20
    truth = pl.read_csv(truth_sample / "truth" / "truth.csv")
    assert truth.columns == ["account_id", "product_id", "p_win", "expected_booking", "realised_booking"]
    assert truth.height == info["rows"] and truth.select("account_id", "product_id").is_unique().all()
    assert truth["p_win"].is_between(0, 1).all() and (truth["p_win"] * 20).round(9).eq((truth["p_win"] * 20).round()).all()
    assert (truth["expected_booking"] >= 0).all() and (truth["realised_booking"] >= 0).all()
    assert ((truth["p_win"] > 0) == (truth["expected_booking"] > 0)).all()


def test_truth_realised_bookings_contain_the_in_year_wins_and_match_the_expected_ones(truth_sample: Path) -> None:
    truth = pl.read_csv(truth_sample / "truth" / "truth.csv")
    con = _connect(truth_sample / "input")
    in_year = con.sql(f"""SELECT account_id, product_id, sum(amount) AS won FROM opportunities
        WHERE type = 'expansion' AND stage = 'won' AND close_date >= DATE '{AS_OF}' GROUP BY ALL""").pl()
    customers = con.sql(f"""SELECT DISTINCT account_id FROM subscriptions WHERE start_date <= DATE '{AS_OF}'
        AND (end_date IS NULL OR end_date > DATE '{AS_OF}')""").pl()
    won = in_year.join(customers, on="account_id").join(truth, on=["account_id", "product_id"], how="left")
    assert won["realised_booking"].null_count() == 0  # every in-year win of a customer is in the truth
    assert (won["realised_booking"] >= won["won"] - 0.01).all()  # ... plus the rest of the 12 months
    assert truth["realised_booking"].sum() > 2 * won["won"].sum()  # 4 of 12 months are in the inputs
    # the truth is the process's own expectation: one realisation lands near it in total, and
    # the items that were booked had a clearly higher true win probability
    assert truth["realised_booking"].sum() == pytest.approx(truth["expected_booking"].sum(), rel=0.25)
    booked = truth.filter(pl.col("realised_booking") > 0)["p_win"].mean()
    assert booked > 2 * truth.filter(pl.col("realised_booking") == 0)["p_win"].mean()


def test_truth_inside_the_input_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="beside the input folder"):
        generate_sample(tmp_path / "input", accounts=50, seed=1, truth=tmp_path / "input" / "truth")
    assert not (tmp_path / "input").exists()


@pytest.mark.parametrize("kwargs", [{"accounts": 0}, {"history_years": 0}, {"file_format": "xlsx"}])
def test_rejects_bad_arguments(tmp_path: Path, kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        generate_sample(tmp_path, **kwargs)  # type: ignore[arg-type]


# Every query counts the rows that break one rule of the input contract.
CONTRACT_VIOLATIONS = {
    "account_id unique, not null": """
        SELECT count(*) - count(DISTINCT account_id) + count(*) FILTER (account_id IS NULL) FROM accounts""",
    "employees >= 0": "SELECT count(*) FROM accounts WHERE employees < 0",
    "accounts.csm_id is a csm": """
        SELECT count(*) FROM accounts a WHERE csm_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM reps r WHERE r.rep_id = a.csm_id AND r.role = 'csm')""",
    "accounts.owner_id is an expansion rep": """
        SELECT count(*) FROM accounts a WHERE owner_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM reps r WHERE r.rep_id = a.owner_id AND r.role = 'expansion_rep')""",
    "product_id unique, not null": """
        SELECT count(*) - count(DISTINCT product_id) + count(*) FILTER (product_id IS NULL) FROM products""",
    "list_price > 0, unit enum": """
        SELECT count(*) FROM products WHERE NOT (list_price > 0) OR unit NOT IN ('seat', 'flat')""",
    "family and tier_rank together": "SELECT count(*) FROM products WHERE (family IS NULL) <> (tier_rank IS NULL)",
    "subscriptions.account_id exists": """
        SELECT count(*) FROM subscriptions WHERE account_id NOT IN (SELECT account_id FROM accounts)""",
    "subscriptions.product_id exists": """
        SELECT count(*) FROM subscriptions
        WHERE product_id IS NULL OR product_id NOT IN (SELECT product_id FROM products)""",
    "quantity > 0, flat quantity 1": """
        SELECT count(*) FROM subscriptions s JOIN products p USING (product_id)
        WHERE NOT (quantity > 0) OR (p.unit = 'flat' AND quantity <> 1)""",
    "arr >= 0": "SELECT count(*) FROM subscriptions WHERE arr IS NULL OR arr < 0",
    "start_date not null, end_date > start_date": """
        SELECT count(*) FROM subscriptions WHERE start_date IS NULL OR end_date <= start_date""",
    "one line per account, product, start": """
        SELECT count(*) - count(DISTINCT (account_id, product_id, start_date)) FROM subscriptions""",
    "lines of a product do not overlap": """
        SELECT count(*) FROM (
            SELECT start_date, lag(start_date) OVER w AS previous_start, lag(end_date) OVER w AS previous_end
            FROM subscriptions WINDOW w AS (PARTITION BY account_id, product_id ORDER BY start_date))
        WHERE previous_start IS NOT NULL AND (previous_end IS NULL OR start_date < previous_end)""",
    "usage.account_id exists": "SELECT count(*) FROM usage WHERE account_id NOT IN (SELECT account_id FROM accounts)",
    "usage.product_id is a seat product": """
        SELECT count(*) FROM usage
        WHERE product_id IS NULL OR product_id NOT IN (SELECT product_id FROM products WHERE unit = 'seat')""",
    "usage date not null, counts >= 0": """
        SELECT count(*) FROM usage WHERE date IS NULL OR active_users IS NULL OR events IS NULL
        OR active_users < 0 OR events < 0""",
    "usage one row per account, product, week (Monday)": """
        SELECT count(*) - count(DISTINCT (account_id, product_id, date)) + count(*) FILTER (isodow(date) <> 1)
        FROM usage""",
    "usage only while the product is held": """
        SELECT count(*) FROM usage u WHERE NOT EXISTS (
            SELECT 1 FROM subscriptions s WHERE s.account_id = u.account_id AND s.product_id = u.product_id
            AND s.start_date <= u.date AND (s.end_date IS NULL OR s.end_date > u.date))""",
    "opportunity_id unique, not null": """
        SELECT count(*) - count(DISTINCT opportunity_id) + count(*) FILTER (opportunity_id IS NULL)
        FROM opportunities""",
    "opportunities.account_id exists": """
        SELECT count(*) FROM opportunities WHERE account_id NOT IN (SELECT account_id FROM accounts)""",
    "opportunities.product_id exists": """
        SELECT count(*) FROM opportunities
        WHERE product_id IS NOT NULL AND product_id NOT IN (SELECT product_id FROM products)""",
    "type, stage, source enums": """
        SELECT count(*) FROM opportunities WHERE type NOT IN ('expansion', 'renewal', 'new_logo')
        OR stage NOT IN ('open', 'won', 'lost')
        OR source NOT IN ('csm_sourced', 'ae_sourced', 'joint', 'csm_closed', 'add_on')""",
    "close_date null iff open, >= created_date": """
        SELECT count(*) FROM opportunities
        WHERE created_date IS NULL OR (stage = 'open') <> (close_date IS NULL) OR close_date < created_date""",
    "amount >= 0": "SELECT count(*) FROM opportunities WHERE amount IS NULL OR amount < 0",
    "opportunities.owner_id is an expansion rep": """
        SELECT count(*) FROM opportunities o WHERE owner_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM reps r WHERE r.rep_id = o.owner_id AND r.role = 'expansion_rep')""",
    "opportunities.csm_id is a csm": """
        SELECT count(*) FROM opportunities o WHERE csm_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM reps r WHERE r.rep_id = o.csm_id AND r.role = 'csm')""",
    "rep_id unique, role and segment enums": """
        SELECT count(*) - count(DISTINCT rep_id) + count(*) FILTER (
            role NOT IN ('expansion_rep', 'csm') OR segment NOT IN ('high_velocity', 'mid_market', 'enterprise'))
        FROM reps""",
    "capacity in (0, 1], active set": """
        SELECT count(*) FROM reps WHERE NOT (capacity > 0 AND capacity <= 1) OR active IS NULL""",
    "csms have no segment": "SELECT count(*) FROM reps WHERE role = 'csm' AND segment IS NOT NULL",
    "nothing after the data end": f"""
        SELECT (SELECT count(*) FROM subscriptions
                WHERE start_date >= DATE '{DATA_END}' OR end_date > DATE '{DATA_END}')
        + (SELECT count(*) FROM usage WHERE date >= DATE '{DATA_END}')
        + (SELECT count(*) FROM opportunities
           WHERE created_date >= DATE '{DATA_END}' OR close_date >= DATE '{DATA_END}')""",
}


@pytest.mark.parametrize("rule", list(CONTRACT_VIOLATIONS))
def test_follows_the_input_contract(con: duckdb.DuckDBPyConnection, rule: str) -> None:
    assert con.sql(CONTRACT_VIOLATIONS[rule]).fetchone()[0] == 0


def test_csv_dates_are_iso_and_types_read_back(csv_sample: tuple[Path, dict[str, int]]) -> None:
    folder = csv_sample[0]
    iso = r"^\d{4}-\d{2}-\d{2}$"
    for name, columns in {"accounts": ["customer_since", "renewal_date"], "subscriptions": ["start_date", "end_date"],
                          "opportunities": ["created_date", "close_date"], "usage": ["date"]}.items():
        raw = pl.read_csv(folder / f"{name}.csv", infer_schema=False, columns=columns)
        for column in columns:
            values = raw[column].drop_nulls()
            assert values.len() > 0 and values.str.contains(iso).all(), (name, column)
    accounts = pl.read_csv(folder / "accounts.csv", try_parse_dates=True)
    assert accounts.schema["employees"] == pl.Int64 and accounts.schema["customer_since"] == pl.Date
    assert accounts["account_id"].str.contains(r"^A\d{7}$").all()
    reps = pl.read_csv(folder / "reps.csv")
    assert reps.schema["active"] == pl.Boolean and reps["rep_id"].str.contains(r"^[RC]\d{4}$").all()


def test_parquet_has_the_same_rows_as_csv(tmp_path: Path, csv_sample: tuple[Path, dict[str, int]]) -> None:
    rows = generate_sample(tmp_path, accounts=ACCOUNTS, seed=7, file_format="parquet")
    assert rows == csv_sample[1]
    csv, parquet = _connect(csv_sample[0]), _connect(tmp_path, "parquet")
    for name in TABLES:
        from_csv = csv.sql(f"SELECT * FROM {name}").pl()
        from_parquet = parquet.sql(f"SELECT * FROM {name}").pl()
        assert from_parquet.equals(from_csv), name
    assert parquet.sql("SELECT typeof(start_date) FROM subscriptions LIMIT 1").fetchone()[0] == "DATE"


ACV_AT_AS_OF = f"""
    SELECT a.account_id, coalesce(sum(s.arr), 0) AS acv
    FROM accounts a LEFT JOIN subscriptions s ON s.account_id = a.account_id
        AND s.start_date <= DATE '{AS_OF}' AND (s.end_date IS NULL OR s.end_date > DATE '{AS_OF}')
    GROUP BY a.account_id"""


def test_segment_mix_by_acv_at_as_of(con: duckdb.DuckDBPyConnection) -> None:
    shares = dict(con.sql(f"""
        SELECT CASE WHEN acv < 5000 THEN 'self_serve' WHEN acv < 25000 THEN 'high_velocity'
                    WHEN acv < 100000 THEN 'mid_market' ELSE 'enterprise' END AS segment,
               count(*) / {ACCOUNTS}
        FROM ({ACV_AT_AS_OF}) GROUP BY ALL""").fetchall())
    assert 0.25 <= shares["self_serve"] <= 0.48
    assert 0.28 <= shares["high_velocity"] <= 0.47
    assert 0.12 <= shares["mid_market"] <= 0.26
    assert 0.03 <= shares["enterprise"] <= 0.10


def test_owners_follow_segments(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.sql(f"""
        SELECT CASE WHEN acv < 5000 THEN NULL WHEN acv < 25000 THEN 'high_velocity'
                    WHEN acv < 100000 THEN 'mid_market' ELSE 'enterprise' END AS band,
               r.segment, count(*) AS n
        FROM ({ACV_AT_AS_OF}) JOIN accounts a USING (account_id) LEFT JOIN reps r ON r.rep_id = a.owner_id
        GROUP BY ALL""").fetchall()
    assert all(segment is None for band, segment, _ in rows if band is None), "self-serve accounts have no owner"
    assert all(segment in (band, None) for band, segment, _ in rows), "owners come from the account's segment"
    assigned = sum(n for band, _, n in rows if band)
    unowned = sum(n for band, segment, n in rows if band and segment is None)
    assert 0.01 <= unowned / assigned <= 0.10


def test_team_is_sized_to_the_books(con: duckdb.DuckDBPyConnection) -> None:
    reps = con.sql("SELECT * FROM reps WHERE role = 'expansion_rep'").pl()
    assert reps.filter(pl.col("segment").is_null()).height >= 1
    assert reps.filter(~pl.col("active")).height >= 1
    assert (reps["capacity"] == 0.5).any()
    inactive_books = con.sql("""SELECT count(*) FROM accounts a JOIN reps r ON r.rep_id = a.owner_id
                                WHERE NOT r.active""").fetchone()[0]
    assert inactive_books > 0
    counts = dict(con.sql(f"""SELECT CASE WHEN acv < 25000 THEN 'high_velocity' WHEN acv < 100000 THEN 'mid_market'
                                          ELSE 'enterprise' END, count(*)
                              FROM ({ACV_AT_AS_OF}) WHERE acv >= 5000 GROUP BY ALL""").fetchall())
    for segment, book_max in {"high_velocity": 100, "mid_market": 40, "enterprise": 20}.items():
        capacity = reps.filter((pl.col("segment") == segment) & pl.col("active"))["capacity"].sum()
        assert abs(capacity - max(1.0, counts[segment] / (0.75 * book_max))) <= 1.0, segment
    csms = con.sql("SELECT count(*) FROM reps WHERE role = 'csm'").fetchone()[0]
    covered = con.sql("SELECT count(*) FROM accounts WHERE csm_id IS NOT NULL").fetchone()[0]
    assert csms == -(-covered // 40)


def test_amounts_are_the_arr_added_or_renewed(con: duckdb.DuckDBPyConnection) -> None:
    renewals_off = con.sql("""
        SELECT count(*) FROM opportunities o
        WHERE type = 'renewal' AND stage = 'won' AND abs(amount - (
            SELECT coalesce(sum(arr), 0) FROM subscriptions s WHERE s.account_id = o.account_id
              AND s.start_date <= o.close_date AND (s.end_date IS NULL OR s.end_date > o.close_date))) > 0.01""")
    assert renewals_off.fetchone()[0] == 0
    expansions_off = con.sql("""
        WITH won AS (SELECT * FROM opportunities WHERE type = 'expansion' AND stage = 'won'),
        gained AS (SELECT w.opportunity_id, w.amount, s.arr FROM won w JOIN subscriptions s
                   ON s.account_id = w.account_id AND s.product_id = w.product_id AND s.start_date = w.close_date),
        ended AS (SELECT w.opportunity_id, sum(s.arr) AS arr FROM won w
                  JOIN products bought ON bought.product_id = w.product_id
                  JOIN subscriptions s ON s.account_id = w.account_id AND s.end_date = w.close_date
                  JOIN products held ON held.product_id = s.product_id
                  WHERE held.product_id = bought.product_id OR held.family = bought.family
                  GROUP BY ALL)
        SELECT (SELECT count(*) FROM won)
               - count(*) FILTER (abs(gained.arr - coalesce(ended.arr, 0) - gained.amount) <= 0.01)
        FROM gained LEFT JOIN ended USING (opportunity_id)""")
    assert expansions_off.fetchone()[0] == 0


def test_expansions_win_more_often_with_high_utilisation(con: duckdb.DuckDBPyConnection) -> None:
    """Seat deals on a product held: utilisation = active users over the 12 weeks before the
    deal was created / seats then."""
    win_rate = dict(con.sql("""
        WITH deals AS (
            SELECT o.opportunity_id, o.stage = 'won' AS won, o.account_id, o.product_id, o.created_date, s.quantity
            FROM opportunities o JOIN subscriptions s ON s.account_id = o.account_id AND s.product_id = o.product_id
                AND s.start_date <= o.created_date AND (s.end_date IS NULL OR s.end_date > o.created_date)
            WHERE o.type = 'expansion' AND o.stage IN ('won', 'lost')),
        utilisation AS (
            SELECT d.opportunity_id, any_value(d.won) AS won, avg(u.active_users) / any_value(d.quantity) AS utilisation
            FROM deals d JOIN usage u ON u.account_id = d.account_id AND u.product_id = d.product_id
                AND u.date < d.created_date AND u.date >= d.created_date - INTERVAL 84 DAY
            GROUP BY d.opportunity_id)
        SELECT tercile, avg(won::INTEGER)
        FROM (SELECT *, ntile(3) OVER (ORDER BY utilisation) AS tercile FROM utilisation)
        GROUP BY tercile""").fetchall())
    assert win_rate[3] > win_rate[1] + 0.1
    overall = con.sql("""SELECT avg((stage = 'won')::INTEGER) FROM opportunities
                         WHERE type = 'expansion' AND stage <> 'open'""").fetchone()[0]
    assert 0.4 <= overall <= 0.65


def test_in_year_period_has_won_deals_and_open_pipeline(con: duckdb.DuckDBPyConnection) -> None:
    won_in_year = con.sql(f"""SELECT count(*) FROM opportunities WHERE type = 'expansion' AND stage = 'won'
                              AND close_date >= DATE '{AS_OF}'""").fetchone()[0]
    assert won_in_year > 0
    share_with_open = con.sql("""
        SELECT avg((EXISTS (SELECT 1 FROM opportunities o WHERE o.account_id = a.account_id
                            AND o.type = 'expansion' AND o.stage = 'open'))::INTEGER)
        FROM accounts a WHERE owner_id IS NOT NULL""").fetchone()[0]
    assert 0.12 <= share_with_open <= 0.30
    history = con.sql("""SELECT min(start_date), count(*) FILTER (end_date IS NULL) FROM subscriptions""").fetchone()
    assert history[0] < DATA_END.replace(year=DATA_END.year - 3) and history[1] > 0


def test_history_has_every_kind_of_change(con: duckdb.DuckDBPyConnection) -> None:
    """Won expansions: seats (the product's line ends that day), upgrades (a lower tier of the
    family ends), cross-sells (nothing of the line ends); and losses: churned accounts (lost
    renewals) and product drops (a line ends with no successor while the account stays)."""
    kinds = dict(con.sql("""
        WITH lines AS (SELECT s.*, coalesce(p.family, p.product_id) AS line
                       FROM subscriptions s JOIN products p USING (product_id)),
        won AS (SELECT o.*, coalesce(p.family, p.product_id) AS line
                FROM opportunities o JOIN products p USING (product_id)
                WHERE o.type = 'expansion' AND o.stage = 'won')
        SELECT CASE WHEN e.product_id IS NULL THEN 'cross_sell' WHEN e.product_id = w.product_id THEN 'seats'
                    ELSE 'upgrade' END, count(*)
        FROM won w LEFT JOIN lines e ON e.account_id = w.account_id AND e.end_date = w.close_date AND e.line = w.line
        GROUP BY ALL""").fetchall())
    assert min(kinds.get(kind, 0) for kind in ("seats", "upgrade", "cross_sell")) > 0, kinds
    churned = con.sql("SELECT count(*) FROM opportunities WHERE type = 'renewal' AND stage = 'lost'").fetchone()[0]
    assert 0 < churned < ACCOUNTS * 0.15
    dropped = con.sql("""
        WITH lines AS (SELECT s.*, coalesce(p.family, p.product_id) AS line
                       FROM subscriptions s JOIN products p USING (product_id))
        SELECT count(*) FROM lines s WHERE s.end_date IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM lines n
                          WHERE n.account_id = s.account_id AND n.line = s.line AND n.start_date = s.end_date)
          AND EXISTS (SELECT 1 FROM lines k WHERE k.account_id = s.account_id AND k.start_date <= s.end_date
                      AND (k.end_date IS NULL OR k.end_date > s.end_date))""").fetchone()[0]
    assert dropped > 0


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_the_pipeline_ingestion_accepts_the_sample(tmp_path: Path, file_format: str) -> None:
    rows = generate_sample(tmp_path, accounts=300, seed=11, file_format=file_format)
    result = ingest_inputs(duckdb.connect(), tmp_path)
    assert result.tables == rows and result.has_usage


def test_the_generator_books_match_the_settings_it_is_planned_with() -> None:
    from pipeline.core.settings import load_settings
    from pipeline.sample_data.catalog import SEGMENTS

    settings = load_settings()
    assert [(s[0], s[1], s[2]) for s in SEGMENTS] == [(s.name, s.min_acv, s.book_max) for s in settings.segments]


@pytest.mark.parametrize("accounts", [40, 300, 1_000, 2_900, 12_000])
def test_every_segment_has_the_capacity_its_accounts_need_at_every_size(accounts: int) -> None:
    """Active capacity x book_max covers every account of each segment (the default limits), so the
    tool's own sample can be planned with the default settings at any size."""
    from pipeline.sample_data.catalog import SEGMENTS
    from pipeline.sample_data.team import build_team

    rng = np.random.default_rng(accounts)
    acv = rng.lognormal(9.6, 1.1, accounts)  # a wide ACV mix: every segment, some self-serve
    team = build_team(rng, acv)
    reps = team.reps.filter((pl.col("role") == "expansion_rep") & pl.col("active") & pl.col("segment").is_not_null())
    bands = [s[1] for s in SEGMENTS]
    for index, (name, _, book_max) in enumerate(SEGMENTS):
        in_segment = int(np.sum(np.searchsorted(bands, acv, side="right") - 1 == index))
        capacity = reps.filter(pl.col("segment") == name)["capacity"].sum()
        assert capacity * book_max >= in_segment, (name, in_segment, capacity)


def test_a_300_account_sample_is_planned_with_the_default_settings(tmp_path: Path) -> None:
    """Issue case: `quota-plan sample --accounts 300` could not be planned (107 high-velocity
    accounts for one rep with a book of 100)."""
    import dagster as dg

    from pipeline.core.settings import DEFAULT_CONFIG
    from pipeline.runner import run_plan

    generate_sample(tmp_path / "in", accounts=300, seed=42)
    outcome = run_plan(tmp_path / "in", DEFAULT_CONFIG, tmp_path / "plan.duckdb",
                       instance=dg.DagsterInstance.ephemeral())
    assert outcome.plan_id == "P0001"
