"""The config schema: the defaults validate; a bad key, type or range stops with one line."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import yaml

from deepcee.core.config import check_config, config_errors
from deepcee.core.errors import DeepCeeError


@pytest.fixture(scope="module")
def schema(repo):
    return repo / "schemas" / "config.schema.yaml"


@pytest.fixture
def default_config(repo):
    return yaml.safe_load((repo / "config.yaml").read_text())


def _merged(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@pytest.mark.parametrize("profile", [None, "configs/paper.yaml", "configs/ci.yaml"])
def test_shipped_configs_validate(repo, schema, default_config, profile):
    config = default_config
    if profile:
        config = _merged(default_config, yaml.safe_load((repo / profile).read_text()))
    assert config_errors(config, schema) == []


def test_unknown_key_is_named(schema, default_config):
    default_config["catalogue"]["cuts"]["z_maxx"] = 0.3
    with pytest.raises(DeepCeeError, match=r"^config.yaml: unknown config key 'catalogue.cuts.z_maxx'$"):
        check_config(default_config, schema, "config.yaml")


def test_wrong_type_is_named(schema, default_config):
    default_config["catalogue"]["match_radius_arcmin"] = "three"
    with pytest.raises(DeepCeeError, match=r"config key 'catalogue.match_radius_arcmin': 'three' is not of type 'number'"):
        check_config(default_config, schema)


def test_out_of_range_is_named(schema, default_config):
    default_config["catalogue"]["cuts"]["dec_min"] = 120
    with pytest.raises(DeepCeeError, match=r"config key 'catalogue.cuts.dec_min': 120 is greater than the maximum of 90"):
        check_config(default_config, schema)


def test_bad_enum_is_named(schema, default_config):
    default_config["catalogue"]["source"] = "ned"
    message = config_errors(default_config, schema)[0]
    assert message.startswith("config key 'catalogue.source'") and "\n" not in message


def test_snakemake_stops_with_one_line(repo, tmp_path):
    """Through Snakemake itself: the run stops before any job, the error is one line."""
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--config", "seed=-3", "--directory", str(repo)],
        cwd=repo, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("ERROR:")]
    assert errors == ["ERROR: config.yaml: config key 'seed': -3 is less than the minimum of 0"]


SECTIONS = ("catalogue", "images", "train", "evaluate", "paper")


def test_snakemake_validate_fills_every_schema_default(repo, schema):
    """As the Snakefile does it: a config naming only the required keys ends up with the whole tree."""
    from snakemake.utils import validate

    from deepcee.core.config import schema_defaults

    cfg = {"seed": 1, "catalogue": {"source": "bundled", "match_radius_arcmin": 3.0,
                                    "cuts": {"z_min": 0.1, "z_max": 0.2, "min_members": 20, "dec_min": 0.0,
                                             "abell_only": True}}}
    validate(cfg, str(schema))
    for section in SECTIONS:
        validate(cfg[section], str(repo / "schemas" / f"{section}.schema.yaml"))
    for section in ("images", "train", "evaluate", "paper"):
        assert cfg[section] == schema_defaults(section), section
    assert cfg["train"]["optimiser"]["momentum"] == 0.9 and cfg["train"]["detector"]["roi_maxpool"] == 2
    assert cfg["images"]["mock"]["member_concentration"] == 5.0  # the one value, as config.yaml states it
    assert cfg["catalogue"]["vizier"]["retries"] == 4


def test_with_defaults_names_the_key_at_fault():
    from deepcee.core.config import with_defaults

    assert with_defaults("train", {"steps": 7})["steps"] == 7
    with pytest.raises(DeepCeeError, match=r"unknown config key 'train.optimiser.momentun'"):
        with_defaults("train", {"optimiser": {"momentun": 0.9}})
    with pytest.raises(DeepCeeError, match=r"config key 'images.stretch.output_size'"):
        with_defaults("images", {"stretch": {"output_size": 3}})


def test_no_defaults_dicts_in_the_library(repo):
    """Defaults live in schemas/ only: no *_DEFAULTS / DEFAULT_* tables in src/."""
    import re

    offenders = [f"{path.relative_to(repo)}:{n}" for path in (repo / "src").rglob("*.py")
                 for n, line in enumerate(path.read_text().splitlines(), 1)
                 if re.match(r"^[A-Z_]*DEFAULT[A-Z_]*\s*(:[^=]*)?=", line)
                 # metrics.DEFAULT_THRESHOLDS is the keyword default of metrics.sweep/evaluate, not a config copy
                 and not line.startswith("DEFAULT_THRESHOLDS")]
    assert offenders == [], offenders
