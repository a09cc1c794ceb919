"""Config validation that ends in one line naming the key at fault."""

from __future__ import annotations

import copy
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


#: The schemas/ folder of this checkout (the library is used from the repository, src/ layout).
SCHEMA_DIR = Path(__file__).resolve().parents[3] / "schemas"


def _filling_validator(schema_path: Path):
    """A validator that, like ``snakemake.utils.validate(..., set_default=True)``, sets each
    property's ``default`` where the key is absent, then descends into it (nested defaults fill
    because every object in the schemas has ``default: {}``)."""
    from jsonschema import validators

    schema = yaml.safe_load(schema_path.read_text())
    base = Draft202012Validator
    validate_properties = base.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    filling = validators.extend(base, {"properties": set_defaults})
    return filling(schema, registry=_registry(schema_path.parent))


def with_defaults(section: str, cfg: dict | None = None) -> dict:
    """``cfg`` (one section of the config: ``train``, ``images``...) with every default that
    schemas/<section>.schema.yaml declares filled in, checked against that schema.

    The one place library callers outside Snakemake (tests, benchmarks, ``load_model``) get
    defaults from; inside the workflow, Snakemake's ``validate`` has already filled them and this
    only checks. A violation is one DeepCeeError line naming ``section.key``.
    """
    schema_path = SCHEMA_DIR / f"{section}.schema.yaml"
    if not schema_path.is_file():
        raise DeepCeeError(f"no schema for config section '{section}' ({schema_path})")
    out = copy.deepcopy(cfg) if cfg is not None else {}
    errors = sorted(_filling_validator(schema_path).iter_errors(out), key=lambda e: list(e.absolute_path))
    if errors:
        error = best_match([errors[0]])
        error.path.appendleft(section)  # name keys from the top of the config: train.optimiser.lr
        raise DeepCeeError(_one_line(error))
    return out


def schema_defaults(section: str) -> dict:
    """Every default of schemas/<section>.schema.yaml, the whole tree (a fresh copy)."""
    return with_defaults(section, {})
