"""Read a YAML file into a pydantic model, with one readable message per problem.

YAML itself lets a key be given twice in one mapping (the last one silently wins): here that is an
error naming the key and both lines, since a settings or mapping file with `quota_rounding: 1000`
and, further down, `quota_rounding: 5000` is a mistake whichever value was meant.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)
_MERGE = "tag:yaml.org,2002:merge"  # `<<: *defaults`: keys merged in may be overridden


class DuplicateKeyError(yaml.YAMLError):
    """A mapping of the YAML file gives one key twice."""

    def __init__(self, key: object, first_line: int, second_line: int) -> None:
        super().__init__(f"key {key!r} is given twice, at lines {first_line} and {second_line}: keep one")


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_lines: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE:
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                if key in first_lines:
                    raise DuplicateKeyError(key, first_lines[key], line)
                first_lines[key] = line
            except TypeError:  # an unhashable key: the base class reports it
                break
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path, error: type[Exception]) -> dict[str, Any]:
    """The YAML file at `path` as a mapping (an empty file: {}); bad YAML, a key given twice or a top
    level that is not a mapping raise `error` naming the file."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # a SafeLoader
    except DuplicateKeyError as exc:
        raise error(f"{path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte offset {exc.start})") from exc
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise error(f"{path}: the top level must be a mapping of names to values (name: value lines), "
                    f"not a {_kind(raw)}")
    return raw


def load_yaml_model(
    path: Path,
    model: type[Model],
    error: type[Exception],
    what: str,
    overrides: Mapping[str, Any] | None = None,
) -> Model:
    """`model` validated from the YAML file at `path` (keys in `overrides` replaced, or merged
    into the file's section when the override is a mapping); a missing
    file, bad YAML or invalid content raises `error` naming the file and each problem's place."""
    if not path.is_file():
        raise error(f"{what} file not found: {path}")
    raw = read_yaml(path, error)
    for key, value in (overrides or {}).items():  # a mapping merges into the file's section
        section = raw.get(key) or {}
        if isinstance(value, Mapping) and not isinstance(section, Mapping):
            raise error(f"{path}: invalid {what}: {key}: must be a mapping of names to values, not a {_kind(section)}")
        raw[key] = {**section, **value} if isinstance(value, Mapping) else value
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}" for err in exc.errors()
        )
        raise error(f"{path}: invalid {what}: {problems}") from exc


def _kind(value: object) -> str:
    """A YAML value's kind in words: list, text, number, ..."""
    kinds = {list: "list", str: "text", bool: "true/false value", int: "number", float: "number"}
    return next((word for kind, word in kinds.items() if isinstance(value, kind)), type(value).__name__)
