"""The boundary where data becomes a path (docs/threat-model.md, "Paths"): every file name that
the code in pipeline/ and models/ builds from a value goes through
pipeline.exports.file_names.safe_file_names, or is a value the code makes itself (listed in
CODE_MADE with the reason). The check reads the source (ast): each part joined onto a path
with `/`, and each f-string given to open(), Path(), joinpath(), with_name(), with_stem(),
glob() or rglob(), must be a constant, a safe name, or listed."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pipeline", "models")
SAFE_FUNCTION = "safe_file_names"
PATH_CALLS = {"open", "Path", "joinpath", "with_name", "with_stem", "glob", "rglob"}
PATH_WORDS = re.compile(r"(^|_)(folder|dir|root|out|path|scratch|db|home)$")
CONSTANT = re.compile(r"_?[A-Z][A-Z0-9_]*")

# Values in a path that are not data, per module: why each is safe to use as it is.
CODE_MADE = {
    ("pipeline/backtest/compare.py", "as_of"): "the backtest's as-of date, a date of the settings",
    ("pipeline/core/shipped.py", "name"): "one of the code's own folders (sql, config, mappings)",
    ("pipeline/defs/resources.py", "plan_id"): "the plan id the plan store numbers itself (P0001, P0002, ...)",
    ("pipeline/exports/files.py", "item.name"): "a file the export itself wrote into its scratch folder",
    ("pipeline/exports/files.py", "sub"): "a subfolder of the export (LETTERS, CSV, PARQUET, CHARTS)",
    ("pipeline/ingestion/map_inputs.py", "file"): "a file the source mapping names (configuration of the analyst)",
    ("pipeline/ingestion/map_inputs.py", "name"): "a contract table name (the mapping's tables are checked "
                                                  "against the contract when it loads)",
    ("pipeline/sample_data/__init__.py", "file_format"): "'csv' or 'parquet', checked when the generator starts",
    ("pipeline/sample_data/__init__.py", "name"): "a table name of the generator (TABLES)",
    ("models/artifacts.py", "model.version"): "the model version, a hash the code computes (m-<sha256>)",
    ("models/artifacts.py", "version"): "the model version, a hash the code computes (m-<sha256>)",
}


@dataclass
class Report:
    """What the check found in one module."""

    joins: int = 0
    unsafe: list[tuple[int, str]] = field(default_factory=list)
    listed: set[str] = field(default_factory=set)


def _function(func: ast.Name | ast.Attribute) -> str:
    """The name of a called function (`f(...)`, `obj.f(...)`)."""
    return func.id if isinstance(func, ast.Name) else func.attr


def _calls(node: ast.AST) -> set[str]:
    """The names of the functions called anywhere inside `node`."""
    return {_function(n.func) for n in ast.walk(node)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name | ast.Attribute)}


def safe_functions(trees: list[ast.Module]) -> set[str]:
    """SAFE_FUNCTION and every function whose return value is made from one of these."""
    safe, grown = {SAFE_FUNCTION}, True
    functions = [f for tree in trees for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)]
    while grown:
        before = len(safe)
        safe |= {f.name for f in functions for r in ast.walk(f)
                 if isinstance(r, ast.Return) and r.value is not None and _calls(r.value) & safe}
        grown = len(safe) > before
    return safe


def _constant(node: ast.AST) -> bool:
    """A literal, or a name in capitals (a module constant)."""
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return all(_constant(e) for e in node.elts)
    return isinstance(node, ast.Constant) or (
        isinstance(node, ast.Name | ast.Attribute) and bool(CONSTANT.fullmatch(ast.unparse(node).split(".")[-1])))


def _safe_locals(scope: ast.AST, safe: set[str]) -> set[str]:
    """Names bound in `scope` to a safe name, or looping over safe names or a constant collection."""
    names = set()
    for node in ast.walk(scope):
        if isinstance(node, ast.Assign) and _calls(node.value) & safe:
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        if isinstance(node, ast.For | ast.comprehension) and (_constant(node.iter) or _calls(node.iter) & safe):
            names |= {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
    return names


def _is_safe(node: ast.AST, safe: set[str], local: set[str]) -> bool:
    if _constant(node):
        return True
    if isinstance(node, ast.Name):
        return node.id in local
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name | ast.Attribute) and _function(node.func) in safe
    if isinstance(node, ast.Subscript):
        return _is_safe(node.value, safe, local)
    if isinstance(node, ast.JoinedStr):
        return all(_is_safe(v.value, safe, local) for v in node.values if isinstance(v, ast.FormattedValue))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _is_safe(node.left, safe, local) and _is_safe(node.right, safe, local)
    return False


def _text(node: ast.AST) -> bool:
    """A string literal or an f-string (nothing divides a number by text)."""
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def _path_like(node: ast.AST) -> bool:
    """Whether `node` is a path (not a number being divided)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return _path_like(node.left) or _text(node.right)
    if isinstance(node, ast.Call):
        return bool(_calls(node.func) & {"Path", "resolve", "artifact_dir", "for_plan"}) or bool(
            isinstance(node.func, ast.Name | ast.Attribute) and PATH_WORDS.search(ast.unparse(node.func)))
    return isinstance(node, ast.Name | ast.Attribute) and bool(PATH_WORDS.search(ast.unparse(node).split(".")[-1]))


def _parts(node: ast.AST) -> list[ast.AST]:
    """The parts of a path join or path call that name a file."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and (_path_like(node.left) or _text(node.right)):
        return [node.right]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute) and (
            _function(node.func) in PATH_CALLS):
        return [a for a in node.args if isinstance(a, ast.JoinedStr)]
    return []


def check_module(tree: ast.Module, module: str, safe: set[str]) -> Report:
    """Every file-name part of a path built in `tree`: safe, listed in CODE_MADE, or unsafe."""
    report = Report()
    scopes = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)] or [tree]
    seen: set[int] = set()
    for scope in [*scopes, tree]:
        local = _safe_locals(scope, safe)
        for node in ast.walk(scope):
            for part in _parts(node):
                if id(part) in seen:
                    continue
                seen.add(id(part))
                report.joins += 1
                values = ([v.value for v in part.values if isinstance(v, ast.FormattedValue)]
                          if isinstance(part, ast.JoinedStr) else [part])
                for value in values:
                    text = ast.unparse(value)
                    if (module, text) in CODE_MADE:
                        report.listed.add(text)
                    elif not _is_safe(value, safe, local):
                        report.unsafe.append((value.lineno, text))
    return report


def _modules() -> dict[str, ast.Module]:
    return {str(p.relative_to(ROOT)): ast.parse(p.read_text(), str(p))
            for source in SOURCES for p in sorted((ROOT / source).rglob("*.py"))}


def test_every_path_built_from_a_value_goes_through_safe_file_names():
    modules = _modules()
    safe = safe_functions(list(modules.values()))
    assert {"letter_files", "chart_files", "workbook_name"} <= safe  # the exports' names come from it
    reports = {module: check_module(tree, module, safe) for module, tree in modules.items()}
    unsafe = {module: r.unsafe for module, r in reports.items() if r.unsafe}
    assert unsafe == {}, "a path built from a value: use safe_file_names or list why it is not data in CODE_MADE"
    listed = {(module, text) for module, r in reports.items() for text in r.listed}
    assert listed == set(CODE_MADE)  # no stale entry
    assert sum(r.joins for r in reports.values()) >= 30  # the check sees the joins there are
    assert reports["pipeline/exports/files.py"].joins >= 8


def _check(code: str) -> list[str]:
    tree = ast.parse(code)
    return [text for _, text in check_module(tree, "snippet.py", safe_functions([tree])).unsafe]


def test_the_check_finds_paths_built_from_data():
    # the code of issue 21's case 6, and the other ways of joining a value onto a path
    assert _check('def f(folder, rep_id, html):\n    (folder / LETTERS / f"{rep_id}.html").write_text(html)\n') == [
        "rep_id"]
    assert _check("def f(out, rep):\n    return out / rep['rep_id']\n") == ["rep['rep_id']"]
    assert _check('def f(row):\n    return open(f"exports/{row.name}.csv", "w")\n') == ["row.name"]
    assert _check('def f(d, key):\n    return d.glob(f"{key}*.png")\n') == ["key"]
    assert _check("def f(a, b):\n    return a / b\n") == []  # numbers, not a path
    # the same through safe_file_names, or a constant, passes
    assert _check('def f(folder, reps):\n    names = safe_file_names(reps)\n'
                  '    return [folder / LETTERS / f"{names[r]}.html" for r in reps]\n') == []
    assert _check('def f(folder):\n    return [folder / f"{t}.csv" for t in TABLES]\n') == []
