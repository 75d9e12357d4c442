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
    assert settings.segment_table()[0] == {"segment": "self_serve", "min_acv": 0.0, "max_acv": 5000.0, "quota_factor": 0.0,
                                           "restricted": False, "book_min": None, "book_max": None,
                                           "target_eev_per_rep": None}


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
        (lambda r: r["segments"].reverse(), "listed by increasing min_acv"),
        (lambda r: r["segments"].pop(), "tracking.commission_rate needs one rate for each segment"),
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


# ---------------------------------------------------------------- hostile settings files (issue 21, case 12)


def _lines_of_default() -> list[str]:
    return DEFAULT_CONFIG.read_text(encoding="utf-8").splitlines()


def _line_of(lines: list[str], start: str) -> int:
    """1-based number of the first line starting with `start`."""
    return next(i for i, line in enumerate(lines, start=1) if line.startswith(start))


def test_a_key_given_twice_names_the_file_the_key_and_both_lines(tmp_path):
    """YAML would keep the last value silently; the plan would then round quotas to 5,000."""
    lines = _lines_of_default()
    first = _line_of(lines, "quota_rounding:")
    lines.insert(first + 3, "quota_rounding: 5000")
    path = tmp_path / "plan.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SettingsError) as err:
        load_settings(path)
    assert str(err.value) == (f"{path}: key 'quota_rounding' is given twice, at lines {first} and {first + 4}: "
                              "keep one")


def test_a_nested_key_given_twice_is_an_error_too(tmp_path):
    lines = _lines_of_default()
    first = _line_of(lines, "  horizon_months:")
    lines.insert(first, "  horizon_months: 6")
    path = tmp_path / "plan.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=rf"key 'horizon_months' is given twice, at lines {first} and {first + 1}"):
        load_settings(path, as_of=dt.date(2025, 6, 30))


def test_a_merge_key_may_override_what_it_merges(tmp_path):
    """`<<: {...}` followed by one of the merged keys is YAML's way to override, not a repeat."""
    path = tmp_path / "plan.yaml"
    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    path.write_text(text.replace("operations:\n", "operations:\n  <<: {max_retries: 7}\n", 1),
                    encoding="utf-8")
    assert load_settings(path).operations.max_retries == 2  # the file's own key wins over the merged one


@pytest.mark.parametrize(("text", "kind"), [("- as_of: 2026-01-01\n- quota_rounding: 1000\n", "list"),
                                            ("just some text\n", "text")])
@pytest.mark.parametrize("as_of", [None, dt.date(2025, 6, 30)])
def test_a_top_level_that_is_not_a_mapping_is_a_settings_error(tmp_path, text, kind, as_of):
    """The --as-of override used to meet the list and raise an uncaught TypeError."""
    path = tmp_path / "plan.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as err:
        load_settings(path, as_of=as_of)
    assert str(err.value) == (f"{path}: the top level must be a mapping of names to values (name: value lines), "
                              f"not a {kind}")


def test_a_section_an_override_merges_into_must_be_a_mapping(tmp_path):
    path = _write(tmp_path, lambda r: r.update(territory=[1, 2]))
    with pytest.raises(SettingsError, match="territory: must be a mapping of names to values, not a list"):
        load_settings(path, effective_date=dt.date(2026, 7, 1))


def test_duplicate_rows_setting_defaults_to_reject_and_takes_set_aside(tmp_path):
    assert load_settings().operations.duplicate_rows == "reject"
    set_aside = _write(tmp_path, lambda r: r["operations"].update(duplicate_rows="set_aside"))
    assert load_settings(set_aside).operations.duplicate_rows == "set_aside"
    with pytest.raises(SettingsError, match="operations.duplicate_rows: Input should be 'reject' or 'set_aside'"):
        load_settings(_write(tmp_path, lambda r: r["operations"].update(duplicate_rows="sum")))


def test_how_export_files_are_drawn_is_not_part_of_the_plans_identity(tmp_path):
    """Letters also as PDF and the charts' resolution change files, not the plan: same settings hash;
    what the letters list (letter_min_p_close) is part of it."""
    base = yaml.safe_load(DEFAULT_CONFIG.read_text())

    def hash_with(**exports: object) -> str:
        path = tmp_path / f"plan_{len(list(tmp_path.iterdir()))}.yaml"
        path.write_text(yaml.safe_dump({**base, "exports": {**base["exports"], **exports}}))
        return load_settings(path).settings_hash()

    default = hash_with()
    assert hash_with(letter_pdfs=False, letter_pdf_workers=1, chart_dpi=50, chart_named_reps=5) == default
    assert hash_with(letter_min_p_close=0.05) != default
