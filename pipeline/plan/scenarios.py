"""Scenarios: named variants of the plan settings, planned side by side from one ingestion and one
trained model (`quota-plan scenarios`).

A scenario is a name and a few setting changes. `--vary KEY=V1,V2` lists values of one setting;
several `--vary` options make the grid of every combination; a YAML file names its scenarios
(`scenarios: {lean: {quota_factor: 0.65}, growth: {quota_factor: 0.70, reps.mid_market: +2}}`).
Only settings read from the reps onward can vary (quota factors, book sizes, balance, hypothetical
reps, ...): everything before them (ingestion, whitespace, the model, EEV and the segments' ACV
bands) is computed once and shared, so a variant that changed it would not be that variant.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import yaml

from pipeline.core.settings import PlanSettings, SettingsError

# shortcuts: every segment's quota_factor
ALL_FACTORS = ("quota_factor", "quota.factor")
REPS_PREFIX = "reps."
SEGMENT_FIELDS = ("quota_factor", "book_min", "book_max")
# setting sections and top-level settings read only from the reps onward (rep_plan and after)
PLAN_STAGE_SECTIONS = ("territory", "quota", "forecast", "review")
PLAN_STAGE_SETTINGS = ("quota_rounding", "allow_factor_outside_range")
NEW_REP_PREFIX = "NEW"


class ScenarioError(SettingsError):
    """A scenario that cannot be planned: an unknown or shared setting, a bad value, a bad file."""


@dataclass(frozen=True)
class Scenario:
    """One variant: its name and its changes (setting key, value) in the order given."""

    name: str
    changes: tuple[tuple[str, object], ...]

    def describe(self) -> str:
        return ", ".join(f"{key}={_text(value)}" for key, value in self.changes) or "the settings as they are"


def _text(value: object) -> str:
    return f"+{value}" if isinstance(value, int) and not isinstance(value, bool) and value > 0 else str(value)


def _value(text: str) -> object:
    """A value of the command line as YAML reads it (0.65 -> float, +2 -> int 2, auto -> str)."""
    return yaml.safe_load(text.strip())


def grid(varies: list[str]) -> list[Scenario]:
    """The scenarios of `--vary KEY=V1,V2,...` options: every combination, named by its changes."""
    axes: list[list[tuple[str, object]]] = []
    for vary in varies:
        key, sep, values = vary.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise ScenarioError(f"--vary {vary!r}: expected KEY=VALUE[,VALUE...], e.g. quota_factor=0.65,0.70")
        axes.append([(key.strip(), _value(v)) for v in values.split(",")])
    scenarios = [Scenario(" ".join(f"{k}={_text(v)}" for k, v in combo), tuple(combo))
                 for combo in itertools.product(*axes)]
    return _unique(scenarios)


def from_file(path: Path) -> list[Scenario]:
    """The named scenarios of a YAML file: `scenarios: {NAME: {KEY: VALUE, ...}, ...}`."""
    try:
        loaded = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"scenario file {path}: {exc}") from exc
    named = loaded.get("scenarios") if isinstance(loaded, dict) else None
    if not isinstance(named, dict) or not named:
        raise ScenarioError(f"scenario file {path}: expected `scenarios:` mapping each name to its changes")
    scenarios = []
    for name, changes in named.items():
        if not isinstance(changes, dict):
            raise ScenarioError(f"scenario file {path}: scenario {name!r} must map settings to values")
        scenarios.append(Scenario(str(name), tuple((str(k), v) for k, v in changes.items())))
    return _unique(scenarios)


def _unique(scenarios: list[Scenario]) -> list[Scenario]:
    names = [s.name for s in scenarios]
    if twice := sorted({n for n in names if names.count(n) > 1}):
        raise ScenarioError(f"scenario names must be unique: {', '.join(twice)} given twice")
    return scenarios


def _apply(settings: dict, key: str, value: object) -> None:
    """Change one setting of the settings' JSON form in place; refuse what scenarios cannot vary."""
    segments = {s["name"]: s for s in settings["segments"]}
    parts = key.split(".")
    if key in ALL_FACTORS:
        for segment in segments.values():
            segment["quota_factor"] = value
    elif key.startswith(REPS_PREFIX) and len(parts) == 2 and parts[1] in segments:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ScenarioError(f"{key}: expected +N, the hypothetical reps to add to {parts[1]}, got {value!r}")
        extra = settings["scenario"]["extra_reps"]
        extra[parts[1]] = extra.get(parts[1], 0) + value
    elif parts[0] == "segments" and len(parts) == 3 and parts[1] in segments and parts[2] in SEGMENT_FIELDS:
        segments[parts[1]][parts[2]] = value
    elif (parts[0] in PLAN_STAGE_SECTIONS and len(parts) == 2 and parts[1] in settings[parts[0]]) or (
            len(parts) == 1 and key in PLAN_STAGE_SETTINGS):
        section = settings[parts[0]] if len(parts) == 2 else settings
        section[parts[-1]] = value
    else:
        raise ScenarioError(
            f"{key!r} cannot vary in a scenario: scenarios share one ingestion, one model and one EEV, so they "
            f"vary only quota_factor, reps.SEGMENT=+N, segments.SEGMENT.{{{','.join(SEGMENT_FIELDS)}}}, "
            f"{', '.join(PLAN_STAGE_SETTINGS)} and {', '.join(s + '.*' for s in PLAN_STAGE_SECTIONS)} "
            "(plan anything else as its own run)")


def scenario_settings(base: PlanSettings, scenario: Scenario) -> PlanSettings:
    """The base settings with the scenario's changes, validated like a settings file."""
    settings = base.model_dump(mode="json")
    for key, value in scenario.changes:
        _apply(settings, key, value)
    try:
        return PlanSettings.model_validate(settings)
    except ValueError as exc:
        raise ScenarioError(f"scenario {scenario.name!r}: {exc}") from exc


def extra_reps(settings: PlanSettings) -> list[dict[str, object]]:
    """The hypothetical reps of scenario.extra_reps: NEW-<segment>-<n>, full capacity, no manager."""
    return [{"rep_id": f"{NEW_REP_PREFIX}-{segment}-{n}", "name": f"New rep {n} ({segment})", "segment": segment,
             "capacity": 1.0, "manager_id": None}
            for segment, count in sorted(settings.scenario.extra_reps.items()) for n in range(1, count + 1)]
