"""Segments of the plan's own (pipeline/core/settings.py, pipeline/staging/segments.py,
sql/staging/account_state.sql): four named segments with an industry dimension and a named strategic
account planned end to end on the sample, and the settings and data errors with their messages."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from pipeline.core import warehouse
from pipeline.core.settings import PlanSettings, SettingsError, load_settings
from pipeline.ingestion.ingest import InputContractError, ingest_inputs
from pipeline.runner import run_plan
from pipeline.staging.segments import SegmentCoverageError
from pipeline.staging.state import write_segment_bands
from tests.builders import TEST_CONFIG

INDUSTRIES = ["Education", "Financial Services", "Manufacturing", "Media", "Professional Services", "Retail",
              "Technology", "unknown"]
STRATEGIC = "A0000002"  # a small retail account, named for the enterprise segment
HEALTHCARE_REPS = {"R0007", "R0012"}  # one mid-market and one enterprise rep of the sample move to healthcare


def four_segments(industries: list[str] = INDUSTRIES) -> dict:
    """The default settings with a healthcare segment from 25,000 of ACV, split off mid-market and enterprise."""
    settings = yaml.safe_load(TEST_CONFIG.read_text())
    high_velocity, mid_market, enterprise = settings["segments"]
    settings["segment_dimensions"] = ["industry"]
    mid_market["dimensions"] = {"industry": industries}
    enterprise["dimensions"] = {"industry": industries}
    enterprise["accounts"] = [STRATEGIC]
    healthcare = {"name": "healthcare", "min_acv": 25000, "book_min": 10, "book_max": 40, "quota_factor": 0.70,
                  "dimensions": {"industry": ["Healthcare"]}}
    settings["segments"] = [high_velocity, mid_market, healthcare, enterprise]
    settings["tracking"]["commission_rate"]["healthcare"] = 0.12
    return settings


def write_settings(folder: Path, settings: dict) -> Path:
    path = folder / "plan.yaml"
    path.write_text(yaml.safe_dump(settings))
    return path


def expected_segment(acv: float, industry: str | None) -> str:
    """The rule the four-segment settings state, written out independently of the SQL."""
    if acv < 5000:
        return "self_serve"
    if acv < 25000:
        return "high_velocity"
    if industry == "Healthcare":
        return "healthcare"
    return "mid_market" if acv < 100000 else "enterprise"


def test_four_segments_with_an_industry_dimension_plan_end_to_end(sample_inputs: Path, tmp_path: Path):
    inputs = tmp_path / "input"
    shutil.copytree(sample_inputs, inputs)
    with (sample_inputs / "reps.csv").open() as handle:
        reps = list(csv.DictReader(handle))
    for rep in reps:
        if rep["rep_id"] in HEALTHCARE_REPS:
            rep["segment"] = "healthcare"
    with (inputs / "reps.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(reps[0]))
        writer.writeheader()
        writer.writerows(reps)
    db = tmp_path / "plan.duckdb"
    outcome = run_plan(inputs, write_settings(tmp_path, four_segments()), db, instance=dg.DagsterInstance.ephemeral())
    assert outcome.written
    with warehouse.connect(db, read_only=True) as con:
        accounts = con.execute("""SELECT e.account_id, e.acv, a.industry, e.segment FROM main.account_eev AS e
                                  JOIN raw.accounts AS a USING (account_id)""").fetchall()
        quotas = con.execute("SELECT rep_id, segment, factor, territory_eev, quota FROM main.quotas").fetchall()
        territories = con.execute("SELECT segment, count(*) FROM main.territories GROUP BY 1").fetchall()
    got = {a: s for a, _, _, s in accounts}
    expected = {a: expected_segment(acv, industry) for a, acv, industry, _ in accounts}
    expected[STRATEGIC] = "enterprise"
    assert got == expected
    assert sum(1 for s in got.values() if s == "healthcare") >= 10
    assert HEALTHCARE_REPS <= {r for r, s, *_ in quotas if s == "healthcare"}
    assert {s for _, s, *_ in quotas} == {"high_velocity", "mid_market", "healthcare", "enterprise"}
    for _, segment, factor, territory_eev, quota in quotas:
        assert factor == (0.70 if segment == "healthcare" else 0.675)
        assert quota == round(factor * territory_eev / 1000) * 1000
    assert dict(territories)["healthcare"] == sum(1 for s in got.values() if s == "healthcare")


def test_an_industry_no_segment_takes_stops_with_the_value_and_accounts(sample_inputs: Path, tmp_path: Path):
    settings = PlanSettings.model_validate(four_segments([i for i in INDUSTRIES if i != "Media"]))
    with duckdb.connect(str(tmp_path / "plan.duckdb")) as con:
        con.execute("CREATE SCHEMA work")
        ingest_inputs(con, sample_inputs, skip=("usage",))
        media = con.execute("SELECT count(*), min(account_id) FROM raw.accounts WHERE industry = 'Media'").fetchone()
        with pytest.raises(SegmentCoverageError) as error:
            write_segment_bands(con, settings)
    message = str(error.value)
    assert "no segment takes accounts with industry = 'Media' at ACV 25,000 and above" in message
    assert f"({media[0]} accounts hold these values, e.g. {media[1]}" in message


def test_the_default_segments_write_no_segment_accounts(sample_inputs: Path, tmp_path: Path):
    with duckdb.connect(str(tmp_path / "plan.duckdb")) as con:
        con.execute("CREATE SCHEMA work")
        ingest_inputs(con, sample_inputs, skip=("usage",))
        write_segment_bands(con, load_settings(TEST_CONFIG))
        assert con.execute("SELECT count(*) FROM work.segment_accounts").fetchone() == (0,)
        assert con.execute("SELECT bool_or(restricted) FROM work.segment_bands").fetchone() == (False,)


@pytest.mark.parametrize(("change", "message"), [
    (lambda s: s["segments"][2]["dimensions"].update(industry=["Healthcare", "Retail"]),
     "segments mid_market and healthcare overlap: ACV from 25,000 takes both for {'industry': ['Retail']}"),
    (lambda s: s["segments"][1].update(max_acv=30000) or s["segments"][1].pop("dimensions"),
     "segments mid_market and healthcare overlap: ACV from 25,000 takes both for {'industry': ['Healthcare']}"),
    (lambda s: s["segments"][1].update(accounts=[STRATEGIC]), "accounts named in two segments: ['A0000002']"),
    (lambda s: s.pop("segment_dimensions"), "segments narrow by ['industry'], not listed in segment_dimensions []"),
    (lambda s: s["segments"][2].update(name="mid_market"), "segment names must be unique and not self_serve"),
    (lambda s: s["tracking"]["commission_rate"].pop("healthcare"),
     "tracking.commission_rate needs one rate for each segment"),
    (lambda s: s["segments"][2].update(name="Health Care"), "String should match pattern"),
])
def test_settings_refuse_overlapping_or_ambiguous_segments(tmp_path: Path, change, message: str):
    settings = four_segments()
    change(settings)
    with pytest.raises(SettingsError, match=None) as error:
        load_settings(write_settings(tmp_path, settings))
    assert message in str(error.value)


def test_a_rep_in_a_segment_the_plan_does_not_have_breaks_the_contract(sample_inputs: Path, tmp_path: Path):
    with duckdb.connect(str(tmp_path / "plan.duckdb")) as con:
        ingest_inputs(con, sample_inputs, skip=("usage",), segments=("high_velocity", "mid_market", "enterprise",
                                                                      "healthcare"))
        with pytest.raises(InputContractError) as error:
            ingest_inputs(con, sample_inputs, skip=("usage",), segments=("high_velocity", "healthcare"))
    assert "reps.csv: column segment: rule 'one of high_velocity, healthcare'" in str(error.value)
