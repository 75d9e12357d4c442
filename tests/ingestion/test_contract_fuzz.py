"""Fuzz test of the input contract: seeded corruptions of tests/fixtures/valid (tests/fuzz_inputs.py)
each end in a clean contract error with the previous plan kept, or in an accepted plan whose rows add
up (tests/fuzz_judge.py), through `run_plan` and through the command line.

The valid plan is made once per module; each case runs on a copy of its DuckDB file. The sample here
is bounded (one case of every kind, and two through the CLI: about a minute on one core);
`benchmarks/fuzz_contract.py --cases N --seed S` runs many more. A failing case names its kind and
seed: `corrupt(VALID, kind, seed, folder)` writes the same folder again.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.core import warehouse
from tests.fuzz_inputs import KINDS, VALID, Case, corrupt, fuzz_cases
from tests.fuzz_judge import (
    ACCEPTED,
    CLEAN_ERROR,
    Baseline,
    count_problems,
    kept_problems,
    make_baseline,
    message_problems,
    run_case,
)

# case i of the suite: kind i, seed SUITE_SEED + i. An accepted plan costs ~5 CPU seconds, a contract error ~1:
# of the 18 runs of 17 consecutive seeds in docs/benchmarks.md' 306 cases this one has the fewest accepted plans
# (3), so the 17 kinds fit in about a minute on one core.
SUITE_SEED = 239
CLI_SEED = 1_000
CLI_KINDS = ("date_in_other_format", "empty_file")  # the contract refuses every case of these: the CLI's error path
DETERMINISM_SEEDS = range(5)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Baseline:
    return make_baseline(VALID, tmp_path_factory.mktemp("fuzz_baseline"))


def _bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("kind", KINDS)
def test_a_corruption_is_a_pure_function_of_folder_and_seed_and_changes_one_file(kind: str, tmp_path: Path):
    valid = _bytes(VALID)
    for seed in DETERMINISM_SEEDS:
        first = corrupt(VALID, kind, seed, tmp_path / f"{seed}a")
        second = corrupt(VALID, kind, seed, tmp_path / f"{seed}b")
        assert first == second
        assert _bytes(tmp_path / f"{seed}a") == _bytes(tmp_path / f"{seed}b")
        changed = [name for name, data in _bytes(tmp_path / f"{seed}a").items() if data != valid[name]]
        assert changed == [first.file], first


@pytest.mark.parametrize(("kind", "seed"), fuzz_cases(len(KINDS), SUITE_SEED), ids=lambda value: str(value))
def test_a_corrupted_input_ends_in_a_clean_error_or_an_accepted_plan(
        kind: str, seed: int, baseline: Baseline, tmp_path: Path):
    case = corrupt(VALID, kind, seed, tmp_path / "input")
    verdict = run_case(tmp_path / "input", case, baseline, tmp_path)
    assert verdict.outcome in (CLEAN_ERROR, ACCEPTED), str(verdict)


@pytest.mark.parametrize(("kind", "seed"), fuzz_cases(len(CLI_KINDS), CLI_SEED, CLI_KINDS), ids=lambda value: str(value))
def test_the_command_line_ends_a_corrupted_input_the_same_way(
        kind: str, seed: int, baseline: Baseline, tmp_path: Path):
    case = corrupt(VALID, kind, seed, tmp_path / "input")
    verdict = run_case(tmp_path / "input", case, baseline, tmp_path, via="cli")
    assert verdict.outcome in (CLEAN_ERROR, ACCEPTED), str(verdict)


def test_the_judge_knows_a_clean_contract_message_from_a_traceback():
    case = Case("missing_key", 0, "reps.csv", "row 1, column rep_id = ''")
    clean = ("step raw_inputs failed: reps.csv: column rep_id: rule 'not null': 1 row breaks it (e.g. Ana Reyes)\n"
             "accounts.csv: column owner_id: rule 'exists in reps.rep_id with role expansion_rep': 1 row breaks it")
    assert message_problems(clean, case) == []
    traceback = 'step raw_inputs failed: Traceback (most recent call last):\n  File "x.py", line 1, in <module>'
    assert len(message_problems(traceback, case)) == 3  # a line not a rule, no file named, traceback text
    assert message_problems("step territories failed: segment enterprise: no rep", case)[0].startswith(
        "not stopped by the contract check")
    long = clean.replace("Ana Reyes", "x" * 5_000)
    assert message_problems(long, case) == [f"a message line of {len(long.splitlines()[0]):,} characters"]


def test_the_judge_sees_a_changed_previous_plan_and_rows_that_do_not_add_up(baseline: Baseline, tmp_path: Path):
    db = tmp_path / "plan.duckdb"
    shutil.copy(baseline.db, db)
    assert kept_problems(db, baseline) == []
    # the baseline is the valid folder's accepted plan: its rows add up, but it is not a new plan
    assert count_problems(VALID, db, baseline) == ["the run succeeded but no new plan became current"]
    grown = tmp_path / "grown"
    shutil.copytree(VALID, grown)
    with (grown / "reps.csv").open("a") as reps:
        reps.write("R7,Extra Rep,expansion_rep,enterprise,1\n")
    assert "reps.csv: 6 rows in the file, 5 loaded + 0 set aside" in count_problems(grown, db, baseline)
    with warehouse.connect(db) as con:
        con.execute("UPDATE plans.quotas SET quota = quota + 1 WHERE plan_id = ?", [baseline.plan_id])
    assert kept_problems(db, baseline) == [f"the rows of the previous plan {baseline.plan_id} changed",
                                           "main.quotas changed"]
