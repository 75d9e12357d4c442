"""Plan settings: defaults load, every rule gives a clear error."""

import datetime as dt

import pytest
import yaml

from pipeline.core.settings import DEFAULT_CONFIG, SettingsError, load_settings


def _write(tmp_path, mutate):
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    mutate(raw)
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_defaults_load_with_documented_values():
    settings = load_settings()
    assert [s.name for s in settings.segments] == ["high_velocity", "mid_market", "enterprise"]
    assert [s.quota_factor for s in settings.segments] == [0.675] * 3
    assert settings.blackout_days == 60 and settings.joint_planning_min_acv == 50_000
    assert settings.segment_table()[0] == {"segment": "self_serve", "min_acv": 0.0, "max_acv": 5000.0, "quota_factor": 0.0}


def test_as_of_override_and_stable_hash():
    a = load_settings(as_of=dt.date(2025, 6, 30))
    assert a.as_of == dt.date(2025, 6, 30)
    assert a.settings_hash() == load_settings(as_of=dt.date(2025, 6, 30)).settings_hash()
    assert a.settings_hash() != load_settings().settings_hash()


def test_factor_outside_range_refused_unless_allowed(tmp_path):
    def high(raw):
        raw["segments"][1]["quota_factor"] = 0.8

    with pytest.raises(SettingsError, match=r"quota_factor of \['mid_market'\] is outside 0.60-0.75"):
        load_settings(_write(tmp_path, high))

    def allowed(raw):
        high(raw)
        raw["allow_factor_outside_range"] = True

    settings = load_settings(_write(tmp_path, allowed))
    assert [s.name for s in settings.factors_outside_range()] == ["mid_market"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.update(unknown_key=1), "unknown_key: Extra inputs are not permitted"),
        (lambda r: r["segments"][0].update(book_min=200), "book_min 200 > book_max 100"),
        (lambda r: r["segments"].reverse(), "strictly increasing min_acv"),
        (lambda r: r["segments"].pop(), "segments must be exactly"),
        (lambda r: r.update(blackout_days=-1), "blackout_days: Input should be greater than or equal to 0"),
        (lambda r: r["model"].update(expected_amount="capture"), "expected_amount: Input should be 'learned' or"),
        (lambda r: r.pop("as_of"), "as_of: Field required"),
        (lambda r: r["territory"].update(effective_date=dt.date(2027, 3, 1)),
         "territory.effective_date 2027-03-01 is outside the plan period 2026-01-01 to 2027-01-01"),
        (lambda r: r["territory"].update(balance_tolerance=0), "balance_tolerance: Input should be greater than 0"),
    ],
)
def test_invalid_settings_give_clear_errors(tmp_path, mutate, message):
    with pytest.raises(SettingsError, match="invalid plan settings") as err:
        load_settings(_write(tmp_path, mutate))
    assert message in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(SettingsError, match="settings file not found"):
        load_settings(tmp_path / "nope.yaml")


def test_effective_date_override():
    settings = load_settings(DEFAULT_CONFIG, effective_date=dt.date(2026, 7, 1))
    assert settings.territory.effective_date == dt.date(2026, 7, 1)
    assert load_settings(DEFAULT_CONFIG).territory.effective_date is None
