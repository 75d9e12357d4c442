"""Read a YAML file into a pydantic model, with one readable message per problem."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


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
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from exc
    for key, value in (overrides or {}).items():  # a mapping merges into the file's section
        raw[key] = {**(raw.get(key) or {}), **value} if isinstance(value, Mapping) else value
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}" for err in exc.errors()
        )
        raise error(f"{path}: invalid {what}: {problems}") from exc
