"""Source mappings: the Maven CRM sample planned end to end through its shipped mapping, set-aside
counts checked against the raw CSVs, and clear errors for a bad mapping."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipeline.core import warehouse
from pipeline.exports.summary import data_quality_lines
from pipeline.ingestion.ingest import InputContractError, ingest_inputs
from pipeline.ingestion.map_inputs import apply_mapping
from pipeline.ingestion.mapping import MappingError, SourceMapping, load_mapping
from pipeline.runner import PlanOutcome, run_plan
from tests.builders import settings_with
from tests.conftest import MAVEN_DIR, MAVEN_MAPPING

ROOT = Path(__file__).resolve().parents[2]


def test_maven_plan_names_why_it_needs_review(maven_plan: PlanOutcome):
    """The public Maven CRM export gives a plan nobody should send as it is (quotas a sliver of what
    was won, since every deal is a one-off hardware sale, and reps with accounts but no quota): the
    review lists each reason with its figures."""
    reasons = {reason for reason, severity in _query(maven_plan.db, "SELECT reason, severity FROM main.plan_review")
               if severity == "review"}
    assert {"quota_vs_bookings", "rep_zero_quota"} <= reasons
    assert _query(maven_plan.db, "SELECT status FROM main.plan_runs WHERE run_id = ?", [maven_plan.plan_id]) == [
        ("succeeded",)]


def _query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with warehouse.connect(db, read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def test_maven_sample_plans_end_to_end(maven_plan: PlanOutcome):
    db = maven_plan.db
    csv = duckdb.connect()
    accounts = csv.execute("SELECT count(*) FROM read_csv(?)", [str(MAVEN_DIR / "accounts.csv")]).fetchone()[0]
    agents = csv.execute("SELECT count(*) FROM read_csv(?)", [str(MAVEN_DIR / "sales_teams.csv")]).fetchone()[0]
    # every account gets a segment and an EEV; accounts of the expansion segments a rep of theirs
    assert _query(db, "SELECT count(*), count(segment) FROM main.account_eev") == [(accounts, accounts)]
    assert _query(db, """SELECT count(*) FROM main.account_eev a LEFT JOIN main.territories t USING (account_id)
        LEFT JOIN main.quotas q ON q.rep_id = t.rep_id
        WHERE a.segment <> 'self_serve' AND (q.segment IS DISTINCT FROM a.segment)""") == [(0,)]
    # whitespace exists and EEV = whitespace x p_close x capture; quotas for every agent
    assert _query(db, "SELECT count(*) > 0, bool_and(abs(eev - whitespace * p_close * capture) < 1e-6) "
                      "FROM main.whitespace_items") == [(True, True)]
    assert _query(db, "SELECT count(*), sum(quota) > 0 FROM main.quotas") == [(agents, True)]
    # ids made from agent names; the pipeline's GTXPro is the price list's GTX Pro
    assert _query(db, "SELECT rep_id FROM raw.reps WHERE name = 'Moses Frase'") == [("rep-moses-frase",)]
    assert _query(db, "SELECT count(*) FROM raw.opportunities WHERE product_id = 'GTXPro'") == [(0,)]
    assert _query(db, "SELECT count(*) FROM raw.accounts WHERE industry = 'technolgy'") == [(0,)]
    # no renewal dates: no blackout windows; no owners: nobody moves
    assert _query(db, "SELECT count(blackout_start) FROM main.account_eev") == [(0,)]
    assert _query(db, "SELECT count(*) FILTER (WHERE moved) FROM main.territories") == [(0,)]


def test_maven_set_aside_counts_match_the_csv(maven_plan: PlanOutcome):
    pipeline = str(MAVEN_DIR / "sales_pipeline.csv")
    csv = duckdb.connect()
    no_account, engaged_without_date, total, won = csv.execute(
        "SELECT count(*) FILTER (WHERE account IS NULL), "
        "count(*) FILTER (WHERE account IS NOT NULL AND engage_date IS NULL), count(*), "
        "count(*) FILTER (WHERE deal_stage = 'Won') FROM read_csv(?)",
        [pipeline],
    ).fetchone()
    report = dict(
        ((step, table, rule), rows)
        for step, table, rule, rows in _query(maven_plan.db, 'SELECT step, "table", rule, rows FROM main.data_quality')
    )
    assert report[("read", "opportunities", "")] == total
    assert report[("set aside", "opportunities", "account_id: not null")] == no_account
    assert report[("set aside", "opportunities", "created_date: not null")] == engaged_without_date
    assert report[("loaded", "opportunities", "")] == total - no_account - engaged_without_date
    assert report[("derived", "subscriptions", "")] == won
    # the rows set aside are kept, one per rule, never dropped silently
    assert _query(maven_plan.db, "SELECT rule, count(*) FROM main.rejected_rows GROUP BY rule ORDER BY rule") == [
        ("account_id: not null", no_account), ("created_date: not null", engaged_without_date)]
    with warehouse.connect(maven_plan.db, read_only=True) as con:
        lines = "\n".join(data_quality_lines(con))
    assert f"{no_account:,}" in lines and "DEGRADED: accounts: no renewal date" in lines
    assert "DEGRADED: usage: no usage table" in lines and "no current owner" in lines


def _mapping_with(change: dict) -> SourceMapping:
    raw = load_mapping(MAVEN_MAPPING).model_dump(exclude_defaults=True)
    raw["tables"]["opportunities"]["columns"].update(change)
    return SourceMapping.model_validate(raw)


def test_unmapped_run_reports_rows_read_and_loaded(sample_plan: PlanOutcome, sample_inputs: Path):
    report = _query(sample_plan.db, 'SELECT step, "table", file, rows FROM main.data_quality ORDER BY position')
    csv = duckdb.connect()
    for table in ("accounts", "subscriptions", "opportunities", "reps"):
        path = next(sample_inputs.glob(f"{table}.*"))
        rows = csv.execute("SELECT count(*) FROM read_csv(?)" if path.suffix == ".csv" else
                           "SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone()[0]
        assert ("read", table, path.name, rows) in report and ("loaded", table, f"raw.{table}", rows) in report
    assert _query(sample_plan.db, "SELECT count(*) FROM main.rejected_rows") == [(0,)]


def test_unknown_source_column_is_named(tmp_path: Path):
    mapping = _mapping_with({"account_id": {"column": "acount"}})
    with pytest.raises(InputContractError) as error:
        apply_mapping(MAVEN_DIR, mapping, tmp_path / "out")
    message = str(error.value)
    assert "sales_pipeline.csv: column acount: rule 'column present'" in message
    assert "tables.opportunities.columns.account_id" in message and "deal_stage" in message


def test_value_not_in_the_value_map_is_counted(tmp_path: Path):
    mapping = _mapping_with({"stage": {"column": "deal_stage", "values": {"Won": "won", "Lost": "lost"}}})
    with pytest.raises(InputContractError) as error:
        apply_mapping(MAVEN_DIR, mapping, tmp_path / "out")
    csv = duckdb.connect()
    open_deals = csv.execute(
        "SELECT count(*) FROM read_csv(?) WHERE deal_stage IN ('Engaging', 'Prospecting')",
        [str(MAVEN_DIR / "sales_pipeline.csv")],
    ).fetchone()[0]
    assert str(error.value) == (
        "sales_pipeline.csv: column deal_stage: rule 'value covered by the mapping's value map': "
        f"{open_deals} rows break it (e.g. 'Engaging', 'Prospecting')"
    )
    # a default covers the other values instead
    mapped = apply_mapping(MAVEN_DIR, _mapping_with({"stage": {"column": "deal_stage", "values": {
        "Won": "won", "Lost": "lost"}, "default": "open"}}), tmp_path / "out")
    assert duckdb.connect().execute("SELECT count(*) FROM read_parquet(?) WHERE stage = 'open'", [
        str(mapped.folder / "opportunities.parquet")]).fetchone()[0] > 0


def test_mapping_file_rules(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("source: x\ntables:\n  deals:\n    file: a.csv\n  accounts:\n    file: a.csv\n"
                   "    columns:\n      acount_id: id\n      account_name: {column: n, value: x}\n"
                   "    set_aside:\n      - {column: account_id, rule: unique}\n")
    with pytest.raises(MappingError) as error:
        load_mapping(bad)
    assert "tables.accounts.columns.account_name: Value error, give exactly one of column, value, id_from" in str(
        error.value)
    bad.write_text("source: x\ntables:\n  deals:\n    file: a.csv\n  accounts:\n    file: a.csv\n"
                   "    set_aside:\n      - {column: account_id, rule: unique}\n")
    with pytest.raises(MappingError) as error:
        load_mapping(bad)
    assert "tables.deals: not a contract table" in str(error.value)
    assert "tables.accounts.set_aside: rule 'unique' cannot be set aside" in str(error.value)
    bad.write_text("source: x\ntables:\n  accounts: {derive: won_deals}\n  subscriptions: {derive: won_deals}\n")
    with pytest.raises(MappingError) as error:
        load_mapping(bad)
    assert "tables.accounts: derive won_deals makes subscriptions only" in str(error.value)
    assert "tables.subscriptions: derive won_deals needs tables.opportunities" in str(error.value)
    with pytest.raises(MappingError, match="mapping file not found"):
        load_mapping(tmp_path / "missing.yaml")
    good = load_mapping(MAVEN_MAPPING)
    raw = good.model_dump(exclude_defaults=True)
    raw["tables"]["accounts"]["columns"]["acount_id"] = "account"
    with pytest.raises(ValueError, match="tables.accounts.columns.acount_id: not a column of accounts"):
        SourceMapping.model_validate(raw)
    raw["tables"]["accounts"]["columns"].pop("acount_id")
    raw["tables"]["accounts"]["keep"] = ["region"]
    with pytest.raises(ValueError, match="tables.accounts.keep: region is a contract column of accounts"):
        SourceMapping.model_validate(raw)
    raw["tables"]["accounts"]["keep"] = []
    raw["tables"]["accounts"]["set_aside"] = [{"column": "employees", "rule": ">= 0"}]
    with pytest.raises(ValueError, match="rule '>= 0' cannot be set aside"):
        SourceMapping.model_validate(raw)


SALESFORCE_DIR = ROOT / "tests" / "fixtures" / "salesforce"


def _small_export_config(folder: Path) -> Path:
    """TEST_CONFIG publishing a base-rate plan: a CRM fixture of a dozen accounts is too small for a model
    to beat the base rate reliably (the fixtures test the mapping, not the model)."""
    return settings_with(folder, "model", allow_base_rate_plan=True)


def test_salesforce_export_maps_and_plans(tmp_path: Path):
    db = tmp_path / "plan.duckdb"
    mapping = ROOT / "mappings" / "salesforce.yaml"
    run_plan(SALESFORCE_DIR, _small_export_config(tmp_path), db, instance=dg.DagsterInstance.ephemeral(),
             mapping=mapping)
    csv = duckdb.connect()
    lines, orphans, open_lines = csv.execute(
        "SELECT count(*), count(*) FILTER (WHERE o.AccountId IS NULL), "
        "count(*) FILTER (WHERE o.AccountId IS NOT NULL AND NOT o.IsClosed) "
        "FROM read_csv(?) AS li JOIN read_csv(?) AS o ON o.Id = li.OpportunityId",
        [str(SALESFORCE_DIR / "OpportunityLineItem.csv"), str(SALESFORCE_DIR / "Opportunity.csv")],
    ).fetchone()
    accounts = csv.execute("SELECT count(*) FROM read_csv(?)", [str(SALESFORCE_DIR / "Account.csv")]).fetchone()[0]
    # one contract opportunity per line item; the ones without an account set aside and kept
    assert _query(db, "SELECT count(*) FROM raw.opportunities") == [(lines - orphans,)]
    assert _query(db, "SELECT rule, count(*) FROM main.rejected_rows GROUP BY rule ORDER BY rule") == [
        ("account_id: not null", orphans), ("role: not null", 2)]
    # open deals lose Salesforce's expected CloseDate; every other stage name is open
    assert _query(db, "SELECT count(*), count(close_date) FROM raw.opportunities WHERE stage = 'open'") == [
        (open_lines, 0)]
    assert _query(db, "SELECT DISTINCT type FROM raw.opportunities ORDER BY 1") == [
        ("expansion",), ("new_logo",), ("renewal",)]
    # timestamps read as dates, prices from the standard price book, inactive users inactive
    assert _query(db, "SELECT customer_since FROM raw.accounts WHERE account_id = '001A00000000001'") == [
        (dt.date(2023, 2, 15),)]
    assert _query(db, "SELECT list_price FROM raw.products WHERE product_name = 'Analytics'") == [(2400.0,)]
    assert _query(db, "SELECT count(*) FILTER (WHERE NOT active) FROM raw.reps") == [(1,)]
    # roles from UserRole: the expansion AEs are expansion reps, the CSM a CSM, the sales director and the
    # user without a role are set aside (kept in rejected_rows)
    assert _query(db, "SELECT role, count(*) FROM raw.reps GROUP BY 1 ORDER BY 1") == [("csm", 1), ("expansion_rep", 3)]
    assert _query(db, "SELECT example_key FROM main.rejected_rows WHERE rule = 'role: not null' ORDER BY 1") == [
        ("005A00000000005",), ("005A00000000006",)]
    # the plan: every account placed with an active expansion rep; its owner kept as previous_rep_id when the
    # owner is an expansion rep (account 12's owner is the sales director: no owner)
    assert _query(db, """SELECT count(*), count(*) FILTER (WHERE t.previous_rep_id = a.OwnerId),
        count(*) FILTER (WHERE t.rep_id IN ('005A00000000003', '005A00000000004', '005A00000000005')) FROM main.territories t
        JOIN read_csv(?) a ON a.Id = t.account_id""", [str(SALESFORCE_DIR / "Account.csv")]) == [
        (accounts, accounts - 1, 0)]
    assert _query(db, "SELECT previous_rep_id FROM main.territories WHERE account_id = '001A00000000012'") == [(None,)]
    assert _query(db, "SELECT sum(eev) > 0 FROM main.account_eev") == [(True,)]
    # renewal dates given; no usage table, and account 12 without an expansion owner
    degraded = [r for r, in _query(db, "SELECT rule FROM main.data_quality WHERE step = 'degraded' ORDER BY position")]
    assert degraded[0] == "no usage table: the model uses no usage features"
    assert len(degraded) == 2 and degraded[1].startswith("no current owner")


def test_salesforce_line_items_keep_seats_and_renewal_dates(tmp_path: Path):
    """Product2.QuantityUnitOfMeasure makes Workspace a seat product and OpportunityLineItem.Quantity its
    seats: the plan has seat whitespace. Renewal dates: the latest activated Contract's EndDate, else the open
    renewal's CloseDate, else the last won renewal's; deal source from the LeadSource picklist."""
    db = tmp_path / "plan.duckdb"
    run_plan(SALESFORCE_DIR, _small_export_config(tmp_path), db, instance=dg.DagsterInstance.ephemeral(),
             mapping=ROOT / "mappings" / "salesforce.yaml")
    csv = duckdb.connect()
    seats = dict(csv.execute(
        "SELECT li.Id, li.Quantity FROM read_csv(?) AS li WHERE li.Product2Id = '01tA00000000001'",
        [str(SALESFORCE_DIR / "OpportunityLineItem.csv")]).fetchall())
    assert _query(db, "SELECT product_id, unit FROM raw.products ORDER BY 1") == [
        ("01tA00000000001", "seat"), ("01tA00000000002", "flat"), ("01tA00000000003", "flat")]
    held = dict(_query(db, "SELECT opportunity_id, quantity FROM raw.opportunities WHERE product_id = '01tA00000000001'"))
    assert held == seats and max(seats.values()) > 1
    assert _query(db, "SELECT sum(quantity) FROM raw.subscriptions WHERE product_id = '01tA00000000001'") == [
        (sum(q for o, q in seats.items() if o in set(_won_lines())),)]
    seat_items = _query(db, "SELECT count(*), sum(whitespace) > 0, sum(eev) > 0 FROM main.whitespace_items "
                            "WHERE kind = 'seat'")
    assert seat_items[0][0] > 0 and seat_items[0][1:] == (True, True)
    contracts = dict(csv.execute("SELECT AccountId, max(EndDate) FROM read_csv(?) WHERE Status = 'Activated' "
                                 "GROUP BY 1", [str(SALESFORCE_DIR / "Contract.csv")]).fetchall())
    renewals = dict(_query(db, "SELECT account_id, renewal_date FROM raw.accounts"))
    assert {a: renewals[a] for a in contracts} == contracts
    assert renewals["001A00000000011"] == dt.date(2026, 2, 20)  # its open renewal (no contract)
    assert renewals["001A00000000009"] == dt.date(2025, 6, 14)  # its last won renewal, rolled forward by the plan
    assert _query(db, "SELECT renewal_date FROM main.account_eev WHERE account_id = '001A00000000009'") == [
        (dt.date(2026, 6, 14),)]
    assert _query(db, "SELECT count(*) FROM main.account_eev WHERE blackout_start IS NULL") == [(0,)]
    assert _query(db, "SELECT rule, rows FROM main.data_quality WHERE step = 'derived' AND \"table\" = 'accounts' "
                      "ORDER BY position") == [("renewal_date from contracts", 8),
                                               ("renewal_date from renewal opportunities", 4)]
    assert _query(db, "SELECT source, count(*) FROM raw.opportunities WHERE type = 'expansion' GROUP BY 1 "
                      "ORDER BY 1 NULLS LAST") == [("ae_sourced", 6), ("csm_sourced", 6), ("joint", 5), (None, 5)]


def _won_lines() -> list[str]:
    """Line items of won opportunities with an account in the Salesforce fixture."""
    return [r[0] for r in duckdb.connect().execute(
        "SELECT li.Id FROM read_csv(?) AS li JOIN read_csv(?) AS o ON o.Id = li.OpportunityId "
        "WHERE o.StageName = 'Closed Won' AND o.AccountId IS NOT NULL",
        [str(SALESFORCE_DIR / "OpportunityLineItem.csv"), str(SALESFORCE_DIR / "Opportunity.csv")]).fetchall()]


def test_contract_errors_of_mapped_tables_name_the_source_file(tmp_path: Path):
    """Without its set-aside rules, the Maven mapping loads opportunities with no account: the
    contract check stops the run and names the source file the rows came from."""
    raw = load_mapping(MAVEN_MAPPING).model_dump(exclude_defaults=True)
    raw["tables"]["opportunities"].pop("set_aside")
    mapped = apply_mapping(MAVEN_DIR, SourceMapping.model_validate(raw), tmp_path / "staged")
    with warehouse.connect(tmp_path / "plan.duckdb") as con, pytest.raises(InputContractError) as error:
        ingest_inputs(con, mapped.folder, file_labels=mapped.file_labels)
    no_account = duckdb.connect().execute(
        "SELECT count(*) FROM read_csv(?) WHERE account IS NULL", [str(MAVEN_DIR / "sales_pipeline.csv")]
    ).fetchone()[0]
    expected = f"sales_pipeline.csv (mapped to opportunities): column account_id: rule 'not null': {no_account} rows"
    assert expected in str(error.value)


HUBSPOT_DIR = ROOT / "tests" / "fixtures" / "hubspot"


def test_hubspot_export_maps_and_plans_with_seat_whitespace(tmp_path: Path):
    """The HubSpot export (companies, deals, line items, products, owners): line items are the contract's
    opportunities with their deal, seats kept; owners matched by name; renewal dates from Renewal deals."""
    db = tmp_path / "plan.duckdb"
    outcome = run_plan(HUBSPOT_DIR, _small_export_config(tmp_path), db, instance=dg.DagsterInstance.ephemeral(),
                       mapping=ROOT / "mappings" / "hubspot.yaml")
    assert outcome.written
    csv = duckdb.connect()
    lines, orphans = csv.execute(
        "SELECT count(*), count(*) FILTER (WHERE d.\"Associated Company IDs (Primary)\" IS NULL) "
        "FROM read_csv(?) AS li JOIN read_csv(?) AS d ON d.\"Record ID\" = li.\"Associated Deal IDs (Primary)\"",
        [str(HUBSPOT_DIR / "line_items.csv"), str(HUBSPOT_DIR / "deals.csv")]).fetchone()
    companies = csv.execute("SELECT count(*) FROM read_csv(?)", [str(HUBSPOT_DIR / "companies.csv")]).fetchone()[0]
    assert _query(db, "SELECT count(*) FROM raw.opportunities") == [(lines - orphans,)]
    # seat products keep their seats: seat whitespace in the plan
    assert _query(db, "SELECT unit FROM raw.products WHERE product_name = 'Workspace'") == [("seat",)]
    assert _query(db, "SELECT max(quantity) > 1 FROM raw.subscriptions s JOIN raw.products p USING (product_id) "
                      "WHERE p.unit = 'seat'") == [(True,)]
    seat = _query(db, "SELECT count(*), sum(whitespace) > 0 FROM main.whitespace_items WHERE kind = 'seat'")
    assert seat[0][0] > 0 and seat[0][1]
    # owners by team: Expansion -> expansion reps (one archived), Customer Success -> CSM, the rest set aside
    assert _query(db, "SELECT rep_id, role, active FROM raw.reps ORDER BY rep_id") == [
        ("owner-ava-stone", "expansion_rep", True), ("owner-ben-ortiz", "expansion_rep", True),
        ("owner-cleo-park", "expansion_rep", False), ("owner-dana-reed", "csm", True)]
    assert _query(db, "SELECT example_key FROM main.rejected_rows WHERE rule = 'role: not null' ORDER BY 1") == [
        ("owner-eli-stern",), ("owner-fay-lum",)]
    # company owners by name are the territories' previous owners; the archived owner's company moves
    assert _query(db, "SELECT count(*), count(previous_rep_id), count(*) FILTER (WHERE rep_id = 'owner-cleo-park') "
                      "FROM main.territories") == [(companies, companies, 0)]
    # renewal dates: the open Renewal deal's close date, else the last won Renewal's (rolled forward a year)
    renewals = dict(_query(db, "SELECT account_id, renewal_date FROM raw.accounts"))
    assert renewals["9800000011"] == dt.date(2026, 2, 20) and renewals["9800000001"] == dt.date(2025, 6, 6)
    assert _query(db, "SELECT renewal_date FROM main.account_eev WHERE account_id = '9800000001'") == [
        (dt.date(2026, 6, 6),)]
    assert _query(db, "SELECT count(*) FROM main.account_eev WHERE blackout_start IS NULL") == [(0,)]
    # deal source from the Deal Source dropdown; open deals carry their expected close date
    assert _query(db, "SELECT count(source) > 0, count(*) FILTER (WHERE stage = 'open' AND expected_close_date IS NULL)"
                      " FROM raw.opportunities WHERE type = 'expansion'") == [(True, 0)]
    assert _query(db, "SELECT sum(quota) > 0 FROM main.quotas") == [(True,)]
