"""Config validation that ends in one line naming the key at fault."""

from __future__ import annotations

from pathlib import Path

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource

from deepcee.core.errors import DeepCeeError


def _registry(schema_dir: Path) -> Registry:
    resources = []
    for path in sorted(schema_dir.glob("*.schema.yaml")):
        contents = yaml.safe_load(path.read_text())
        resources.append((path.name, Resource.from_contents(contents)))
    return Registry().with_resources(resources)


def config_errors(config: dict, schema_path: str | Path) -> list[str]:
    """Every schema violation in ``config`` as a one-line message naming its key."""
    schema_path = Path(schema_path)
    schema = yaml.safe_load(schema_path.read_text())
    validator = Draft202012Validator(schema, registry=_registry(schema_path.parent))
    messages = []
    for error in sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path)):
        error = best_match([error])
        messages.append(_one_line(error))
    return messages


def _one_line(error) -> str:
    key = ".".join(str(part) for part in error.absolute_path) or "<top level>"
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        where = f"{key}." if error.absolute_path else ""
        return f"unknown config key '{where}{extra[0]}'" if extra else f"config key '{key}': {error.message}"
    if error.validator == "required":
        return f"config key '{key}': {error.message}"
    return f"config key '{key}': {error.message}"


def check_config(config: dict, schema_path: str | Path, config_name: str = "config") -> None:
    """Raise a one-line DeepCeeError for the first violation (all are listed in order)."""
    messages = config_errors(config, schema_path)
    if messages:
        more = f" (and {len(messages) - 1} more)" if len(messages) > 1 else ""
        raise DeepCeeError(f"{config_name}: {messages[0]}{more}")
