"""File names made from ids (pipeline.exports.file_names): hostile ids become distinct, plain
names inside the folder on a real file system; plain ids stay as they are; same ids, same
names in any process."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from pipeline.exports.file_names import HASH_CHARS, MARK, STEM_MAX, safe_file_names

HOSTILE = [
    "../../../x_escape", "../../../../../x_outside", "EMEA/R0001", "a/b", "a_b", "a\\b", "C:\\Windows\\x", "a:b",
    "", ".", "..", ".hidden", "-rf", "~root", "a~b", "CON", "con.txt", "LPT1", "nul", "x" * 300, "x" * 299 + "/",
    "Müller", "<script>alert(1)</script>", "R1", "r1", "tab\there", "nul\x00byte", "evil\x1b[31m\nINJECTED", "$\\foo$",
]
NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]*({MARK}[0-9a-f]{{{HASH_CHARS}}})?")


def test_plain_ids_are_kept_as_they_are():
    plain = ["R0001", "A-17", "rep.2", "x_y", "P0001", "m-0123abcd", "x" * STEM_MAX]
    assert safe_file_names(plain) == {value: value for value in plain}


def test_hostile_ids_get_distinct_plain_names_that_stay_in_the_folder(tmp_path: Path):
    names = safe_file_names(HOSTILE)
    assert list(names) == HOSTILE
    assert all(NAME.fullmatch(name) and len(name) <= STEM_MAX + len(MARK) + HASH_CHARS for name in names.values())
    assert len(set(names.values())) == len(HOSTILE)
    assert len({name.casefold() for name in names.values()}) == len(HOSTILE)  # one file each on macOS and Windows
    folder = tmp_path / "letters"
    folder.mkdir()
    for name in names.values():
        (folder / f"{name}.html").write_text(name)
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(["letters", *(f"{n}.html" for n in names.values())])
    # readable where the id allows, told apart by the hash where they would meet
    assert names["a_b"] == "a_b" and names["a/b"].startswith(f"a_b{MARK}")
    assert names["EMEA/R0001"].startswith(f"EMEA_R0001{MARK}")
    assert names["../../../x_escape"].startswith(f"x_escape{MARK}")
    assert names["CON"].startswith(f"CON{MARK}") and names[""].startswith(f"id{MARK}")


def test_ids_that_differ_only_in_case_get_the_hashed_form():
    assert safe_file_names(["R1"]) == {"R1": "R1"}
    both = safe_file_names(["R1", "r1", "R2"])
    assert both["R2"] == "R2"
    assert both["R1"].startswith(f"R1{MARK}") and both["r1"].startswith(f"r1{MARK}")


def test_names_are_the_same_in_any_order_and_any_process():
    names = safe_file_names(HOSTILE)
    assert safe_file_names(reversed(HOSTILE)) == names
    script = ("import json, sys; from pipeline.exports.file_names import safe_file_names; "
              "print(json.dumps(safe_file_names(json.loads(sys.stdin.read()))))")
    for seed in ("1", "2"):  # another process with another str hash seed: names do not use hash()
        done = subprocess.run([sys.executable, "-c", script], input=json.dumps(HOSTILE), capture_output=True,
                              text=True, env={"PYTHONHASHSEED": seed, "PYTHONPATH": str(Path.cwd())}, check=True)
        assert json.loads(done.stdout) == names
